package guest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// TestSees: who sees a guest, as the sponsor pages show guests.
func TestSees(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", nil)
	g := b.guest(t, storage.GuestPending) // the owner's, naming vera as the person visited
	active := *g
	active.Status = storage.GuestActive
	for _, tc := range []struct {
		name  string
		a     Actor
		guest *storage.Guest
		want  bool
	}{
		{"system", System(), g, true},
		{"admin", b.admin, g, true},
		{"sponsor", b.owner, g, true},
		{"another sponsor", b.other, g, false},
		{"a group that manages all", b.manager, g, true},
		{"the person visited, pending", b.visited, g, true},
		{"the person visited, active", b.visited, &active, false},
		{"the person visited without approve", Actor{Staff: b.visited.Staff, Group: &storage.SponsorGroup{Name: "x"}}, g, false},
		{"disabled sponsor", b.disabled, g, false},
		{"an approval link", LinkApprover("boss@corp.example"), g, false},
	} {
		if got := Sees(tc.a, tc.guest); got != tc.want {
			t.Errorf("%s: Sees = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestAPITokenRules: staff make their own tokens (the system anyone's),
// named, expiring in the future; a disabled user gets none; only the
// owner, an admin or the system revokes one; a token works as its user
// with their group, until revoked, expired or the user is disabled.
func TestAPITokenRules(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx, now := t.Context(), b.clock.Now()
		for _, a := range []Actor{b.owner, b.other, b.admin} {
			st := a.Staff
			st.PasswordHash = "$2a$04$unused"
			if err := b.store.CreateStaff(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
		owner := b.owner.Staff
		for _, tc := range []struct {
			name    string
			a       Actor
			tokName string
			expires time.Time
			want    error
			field   string
		}{
			{"someone else's", b.other, "x", time.Time{}, ErrForbidden, ""},
			{"an admin for someone else", b.admin, "x", time.Time{}, ErrForbidden, ""},
			{"disabled", b.disabled, "x", time.Time{}, ErrForbidden, ""},
			{"an approval link", LinkApprover("boss@corp.example"), "x", time.Time{}, ErrForbidden, ""},
			{"no name", b.owner, " ", time.Time{}, ErrInvalid, "name"},
			{"a name too long", b.owner, strings.Repeat("n", MaxAPITokenName+1), time.Time{}, ErrInvalid, "name"},
			{"expired already", b.owner, "x", now, ErrInvalid, "expires"},
		} {
			_, _, err := NewAPIToken(ctx, b.store, tc.a, owner, tc.tokName, tc.expires, now)
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
			if fe := FieldErrors(err); tc.field != "" && (len(fe) != 1 || fe[0].Field != tc.field) {
				t.Errorf("%s: field errors %+v, want %s", tc.name, fe, tc.field)
			}
		}
		if list, _ := b.store.ListAPITokens(ctx, owner.ID); len(list) != 0 {
			t.Fatalf("refused tokens were made: %+v", list)
		}
		tok, rec, err := NewAPIToken(ctx, b.store, b.owner, owner, "kiosk", now.Add(time.Hour), now)
		if err != nil {
			t.Fatal(err)
		}
		sysTok, sysRec, err := NewAPIToken(ctx, b.store, System(), owner, "cron", time.Time{}, now)
		if err != nil {
			t.Fatal(err)
		}
		a, got, err := b.svc.APITokenActor(ctx, tok)
		if err != nil || a.Staff.ID != owner.ID || a.Group == nil || a.Group.Name != storage.DefaultSponsorGroup || got.ID != rec.ID || a.Via != "via API" {
			t.Fatalf("APITokenActor = %+v, %+v, %v", a, got, err)
		}
		if err := RevokeAPIToken(ctx, b.store, b.other, rec.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("another sponsor revoked the token: %v", err)
		}
		if _, _, err := b.svc.APITokenActor(ctx, strings.TrimSuffix(tok, tok[len(tok)-1:])+"x"); !errors.Is(err, ErrBadToken) {
			t.Errorf("an altered token: %v", err)
		}
		b.clock.Advance(time.Hour)
		if _, _, err := b.svc.APITokenActor(ctx, tok); !errors.Is(err, ErrBadToken) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("an expired token: %v", err)
		}
		if err := b.store.SetStaffDisabled(ctx, owner.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.svc.APITokenActor(ctx, sysTok); !errors.Is(err, ErrBadToken) || !strings.Contains(err.Error(), "disabled") {
			t.Errorf("a disabled user's token: %v", err)
		}
		if err := RevokeAPIToken(ctx, b.store, b.admin, sysRec.ID); err != nil {
			t.Errorf("an admin revokes: %v", err)
		}
		if err := RevokeAPIToken(ctx, b.store, b.owner, rec.ID); err != nil {
			t.Errorf("the owner revokes: %v", err)
		}
		if list, _ := b.store.ListAPITokens(ctx, owner.ID); len(list) != 0 {
			t.Errorf("tokens left after revoking: %+v", list)
		}
	})
}
