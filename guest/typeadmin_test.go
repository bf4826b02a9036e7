package guest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

func TestCheckGuestType(t *testing.T) {
	t.Parallel()
	good := storage.GuestType{Name: " Contractor ", DefaultDuration: 30 * 24 * time.Hour}
	gt, err := CheckGuestType(good)
	if err != nil || gt.Name != "contractor" || gt.MaxDuration != gt.DefaultDuration {
		t.Fatalf("CheckGuestType(good) = %+v, %v; want the name lower-cased and the maximum the validity", gt, err)
	}
	tests := []struct {
		name  string
		mod   func(*storage.GuestType)
		field string
		want  string
	}{
		{"no name", func(g *storage.GuestType) { g.Name = "" }, "name", "Enter a name"},
		{"name with a space", func(g *storage.GuestType) { g.Name = "day pass" }, "name", "lower-case letters, digits"},
		{"long name", func(g *storage.GuestType) { g.Name = strings.Repeat("a", MaxGuestTypeName+1) }, "name", "40 characters"},
		{"description on two lines", func(g *storage.GuestType) { g.Description = "a\nb" }, "description", "one line"},
		{"no validity", func(g *storage.GuestType) { g.DefaultDuration = 0 }, "validity", "how long guests of this type may stay"},
		{"seconds", func(g *storage.GuestType) { g.DefaultDuration = time.Second }, "validity", "at least a minute"},
		{"ten years", func(g *storage.GuestType) { g.DefaultDuration = 10 * MaxGuestValidity / 5 }, "validity", "at most 5 years"},
		{"maximum below validity", func(g *storage.GuestType) { g.MaxDuration = 24 * time.Hour }, "max_validity", "must be at least the validity (30 days)"},
		{"notice as long as validity", func(g *storage.GuestType) { g.ExpiryNotice = 30 * 24 * time.Hour }, "expiry_notice", "shorter than the validity"},
	}
	for _, tt := range tests {
		g := good
		tt.mod(&g)
		_, err := CheckGuestType(g)
		fe := FieldErrors(err)
		if len(fe) != 1 || fe[0].Field != tt.field || !strings.Contains(fe[0].Message, tt.want) {
			t.Errorf("%s: %v, want one problem with %s saying %q", tt.name, err, tt.field, tt.want)
		}
	}
	if _, err := CheckGuestType(storage.GuestType{ExpiryNotice: -1}); len(FieldErrors(err)) != 2 {
		t.Errorf("no name and no validity: %v, want both", err)
	}
}

// TestGuestTypeManagement: admins create, update and delete guest types;
// the default type and a type with guests cannot be deleted; the list
// counts guests and names the groups; every change is audited.
func TestGuestTypeManagement(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		visitor := storage.GuestType{Name: "visitor", Description: "Day visitors", DefaultDuration: 8 * time.Hour, MaxDuration: 3 * 24 * time.Hour,
			ExpiryNotice: time.Hour, FromFirstSignIn: true, RequireApproval: true}
		if _, err := b.svc.CreateGuestType(ctx, b.owner, visitor); !errors.Is(err, ErrForbidden) {
			t.Errorf("a sponsor created a guest type: %v", err)
		}
		got, err := b.svc.CreateGuestType(ctx, b.admin, visitor)
		if err != nil || got != visitor {
			t.Fatalf("CreateGuestType = %+v, %v", got, err)
		}
		if stored, err := b.store.GetGuestType(ctx, "visitor"); err != nil || *stored != visitor {
			t.Errorf("stored = %+v, %v", stored, err)
		}
		if _, err := b.svc.CreateGuestType(ctx, b.admin, visitor); len(FieldErrors(err)) != 1 || !strings.Contains(err.Error(), "already a guest type called visitor") {
			t.Errorf("creating it again: %v", err)
		}
		if _, err := b.svc.UpdateGuestType(ctx, b.admin, storage.GuestType{Name: "nope", DefaultDuration: time.Hour}); !errors.Is(err, ErrNotFound) {
			t.Errorf("updating a missing type: %v", err)
		}
		visitor.DefaultDuration = 12 * time.Hour
		if got, err := b.svc.UpdateGuestType(ctx, b.admin, visitor); err != nil || got.DefaultDuration != 12*time.Hour {
			t.Errorf("UpdateGuestType = %+v, %v", got, err)
		}

		// The default type's change applies to the next registration.
		daily, err := b.svc.DefaultGuestType(ctx)
		if err != nil {
			t.Fatal(err)
		}
		changed := *daily
		changed.DefaultDuration = 2 * time.Hour
		if _, err := b.svc.UpdateGuestType(ctx, b.admin, changed); err != nil {
			t.Fatal(err)
		}
		if daily, err := b.svc.DefaultGuestType(ctx); err != nil || daily.DefaultDuration != 2*time.Hour {
			t.Errorf("default type after the change = %+v, %v", daily, err)
		}

		b.guest(t, storage.GuestExpired) // of type daily
		g := b.guest(t, storage.GuestActive)
		if _, err := b.store.UpdateGuest(ctx, g.ID, storage.GuestUpdate{}); err != nil {
			t.Fatal(err)
		}
		list, err := b.svc.GuestTypeDetails(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]GuestTypeInfo{}
		for _, info := range list {
			byName[info.Name] = info
		}
		if d := byName["daily"]; !d.Default || d.Guests != 2 || !slices.Equal(d.Groups, []string{storage.DefaultSponsorGroup}) {
			t.Errorf("daily = %+v", d)
		}
		if v := byName["visitor"]; v.Default || v.Guests != 0 || !v.FromFirstSignIn {
			t.Errorf("visitor = %+v", v)
		}

		if err := b.svc.DeleteGuestType(ctx, b.admin, "daily"); len(FieldErrors(err)) != 1 || !strings.Contains(err.Error(), "self-registered guests get") {
			t.Errorf("deleting the default type: %v", err)
		}
		if err := b.store.CreateGuest(ctx, &storage.Guest{ID: uuid.New(), Username: "c1", GuestType: "contractor", Status: storage.GuestExpired}); err != nil {
			t.Fatal(err)
		}
		if err := b.svc.DeleteGuestType(ctx, b.admin, "contractor"); len(FieldErrors(err)) != 1 || !strings.Contains(err.Error(), "1 guest is of type contractor") {
			t.Errorf("deleting a type with a guest: %v", err)
		}
		if err := b.svc.DeleteGuestType(ctx, b.admin, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleting a missing type: %v", err)
		}
		if err := b.svc.DeleteGuestType(ctx, b.admin, "visitor"); err != nil {
			t.Fatalf("DeleteGuestType: %v", err)
		}
		if _, err := b.store.GetGuestType(ctx, "visitor"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("visitor still there: %v", err)
		}
		var actions []string
		for _, e := range b.auditFor(t, "guest_type:visitor") {
			actions = append(actions, e.Action)
		}
		if want := []string{"guest_type.delete", "guest_type.update", "guest_type.create"}; !slices.Equal(actions, want) {
			t.Errorf("audit = %v, want %v", actions, want)
		}
	})
}

// TestSetGuestTypeGroups: which sponsor groups may use a type is kept in
// the groups' lists; the helper edits them, and an empty list (every
// type) becomes every other type when the group is left out.
func TestSetGuestTypeGroups(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		reception := storage.SponsorGroup{Name: "reception", GuestTypes: []string{"daily"}, Permissions: storage.AllPermissions}
		if err := b.store.PutSponsorGroup(ctx, reception); err != nil {
			t.Fatal(err)
		}
		if err := b.svc.SetGuestTypeGroups(ctx, b.owner, "contractor", nil); !errors.Is(err, ErrForbidden) {
			t.Errorf("a sponsor set the groups: %v", err)
		}
		if err := b.svc.SetGuestTypeGroups(ctx, b.admin, "contractor", []string{"reception", "nobody"}); len(FieldErrors(err)) != 1 {
			t.Errorf("an unknown group: %v", err)
		}
		if err := b.svc.SetGuestTypeGroups(ctx, b.admin, "contractor", []string{"reception"}); err != nil {
			t.Fatal(err)
		}
		groups := func() map[string][]string {
			all, err := b.store.ListSponsorGroups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string][]string{}
			for _, g := range all {
				m[g.Name] = g.GuestTypes
			}
			return m
		}
		g := groups()
		if !slices.Equal(g["reception"], []string{"daily", "contractor"}) || !slices.Equal(g[storage.DefaultSponsorGroup], []string{"daily"}) {
			t.Errorf("groups = %v; want reception to get contractor and default every type but contractor", g)
		}
		list, _ := b.svc.GuestTypeDetails(ctx)
		for _, info := range list {
			if info.Name == "contractor" && !slices.Equal(info.Groups, []string{"reception"}) {
				t.Errorf("contractor groups = %v", info.Groups)
			}
		}
		// Leaving reception with no type is refused, and changes nothing.
		if err := b.svc.SetGuestTypeGroups(ctx, b.admin, "daily", []string{storage.DefaultSponsorGroup}); err != nil {
			t.Fatal(err)
		}
		if err := b.svc.SetGuestTypeGroups(ctx, b.admin, "contractor", nil); len(FieldErrors(err)) != 1 ||
			!strings.Contains(err.Error(), "reception would be left with no guest type") {
			t.Errorf("leaving a group with no type: %v", err)
		}
		if g := groups(); !slices.Equal(g["reception"], []string{"contractor"}) {
			t.Errorf("after the refusal reception = %v", g["reception"])
		}
	})
}

// TestValidityFromFirstSignIn: a guest of a type that counts from the
// first sign-in may first sign in within the type's maximum; that sign-in
// starts the validity, and later ones change nothing. Other types only
// record the first sign-in.
func TestValidityFromFirstSignIn(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(c *Config) { c.Policy.DefaultGuestType = "pass" }, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		pass := storage.GuestType{Name: "pass", DefaultDuration: 8 * time.Hour, MaxDuration: 7 * 24 * time.Hour, FromFirstSignIn: true}
		if _, err := b.svc.CreateGuestType(ctx, b.admin, pass); err != nil {
			t.Fatal(err)
		}
		res, err := b.svc.Register(ctx, b.selfReg(t, "eve@example.org", false))
		if err != nil {
			t.Fatal(err)
		}
		g := res.Guest
		created := storage.Truncate(b.clock.Now())
		if !g.ValidUntil.Equal(created.Add(7*24*time.Hour)) || !g.FirstSignInAt.IsZero() {
			t.Fatalf("new guest: valid until %s, first sign-in %s; want a week to sign in first", g.ValidUntil, g.FirstSignInAt)
		}
		b.clock.Advance(50 * time.Hour)
		g = b.get(t, g.ID)
		signed, err := b.svc.SignedIn(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		now := storage.Truncate(b.clock.Now())
		if !signed.FirstSignInAt.Equal(now) || !signed.ValidFrom.Equal(now) || !signed.ValidUntil.Equal(now.Add(8*time.Hour)) {
			t.Errorf("after the first sign-in: first %s, valid %s to %s; want %s for 8 hours", signed.FirstSignInAt, signed.ValidFrom, signed.ValidUntil, now)
		}
		b.clock.Advance(time.Hour)
		again, err := b.svc.SignedIn(ctx, b.get(t, g.ID))
		if err != nil || !again.ValidUntil.Equal(signed.ValidUntil) || !again.FirstSignInAt.Equal(now) {
			t.Errorf("a later sign-in changed the guest: %+v, %v", again, err)
		}
		if e := b.auditFor(t, g.ID.String()); len(e) == 0 || e[0].Action != "guest.validity_start" {
			t.Errorf("audit = %+v", e)
		}

		// A stale copy (another device signed in meanwhile) keeps the first.
		other := b.guest(t, storage.GuestActive) // type daily: not from first sign-in
		stale := *other
		if _, err := b.svc.SignedIn(ctx, other); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(time.Minute)
		cur, err := b.svc.SignedIn(ctx, &stale)
		if err != nil || !cur.FirstSignInAt.Equal(storage.Truncate(b.clock.Now().Add(-time.Minute))) || !cur.ValidUntil.Equal(other.ValidUntil) {
			t.Errorf("daily guest: %+v, %v; want only the first sign-in recorded", cur, err)
		}
	})
}
