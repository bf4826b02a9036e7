package guest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

func knownGuest() NewGuest {
	return NewGuest{FirstName: "Eve", LastName: "Example", Email: "Eve@Example.org", Company: "Fabrikam", PersonVisited: "Olga", Reason: "Workshop"}
}

// TestCreate: a sponsor registers a known guest, who is theirs, active
// and emailed their credentials (the sponsor as Reply-To).
func TestCreate(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		res, err := b.svc.Create(ctx, b.owner, knownGuest())
		if err != nil {
			t.Fatal(err)
		}
		g := b.get(t, res.Guest.ID)
		now := storage.Truncate(b.clock.Now())
		if g.Status != storage.GuestActive || g.SponsorID != b.owner.Staff.ID || g.Email != "eve@example.org" || g.Username != "eve@example.org" ||
			g.GuestType != "daily" || !g.ValidFrom.Equal(now) || !g.ValidUntil.Equal(now.Add(24*time.Hour)) || g.Password == "" {
			t.Errorf("created = %+v", g)
		}
		m := b.mailOf(t, res.Mail)
		if m.Kind != KindCredentials || m.Recipient != "eve@example.org" || !strings.Contains(m.Text, g.Password) || m.ReplyTo != b.owner.Staff.Email {
			t.Errorf("mail = %+v", m)
		}
		if au := b.auditFor(t, g.ID.String()); len(au) != 1 || au[0].Action != "guest.create" || au[0].Actor != "staff:olga" {
			t.Errorf("audit = %+v", au)
		}
		// The owner may now act on the guest; another sponsor may not.
		if _, err := b.svc.Resend(ctx, b.other, g.ID); !errors.Is(err, ErrForbidden) {
			t.Errorf("another sponsor resends: %v, want ErrForbidden", err)
		}

		dup := knownGuest()
		dup.Email = "EVE@example.org"
		if _, err := b.svc.Create(ctx, b.owner, dup); !errors.Is(err, ErrInvalid) || FieldErrors(err)[0].Field != "email" {
			t.Errorf("same address again: err = %v, want ErrInvalid on email", err)
		}

		bad := NewGuest{FirstName: "Eve2", LastName: "", Email: "not an address", Company: "=cmd", GuestType: "daily", Validity: 8 * 24 * time.Hour}
		_, err = b.svc.Create(ctx, b.owner, bad)
		var fields []string
		for _, fe := range FieldErrors(err) {
			fields = append(fields, fe.Field)
		}
		if !errors.Is(err, ErrInvalid) || strings.Join(fields, ",") != "validity,first_name,last_name,email,company" {
			t.Errorf("bad guest: err = %v, fields %v", err, fields)
		}

		limited := Actor{Staff: b.owner.Staff, Group: &storage.SponsorGroup{Name: "front desk", GuestTypes: []string{"daily"}, Permissions: []storage.Permission{storage.PermCreate}}}
		c := knownGuest()
		c.Email, c.GuestType = "carl@example.org", "contractor"
		if _, err := b.svc.Create(ctx, limited, c); !errors.Is(err, ErrForbidden) {
			t.Errorf("a type the group may not use: err = %v, want ErrForbidden", err)
		}
		if _, err := b.svc.Create(ctx, b.noPerms, c); !errors.Is(err, ErrForbidden) {
			t.Errorf("without PermCreate: err = %v, want ErrForbidden", err)
		}
		c.GuestType = "nope"
		if _, err := b.svc.Create(ctx, b.admin, c); !errors.Is(err, ErrInvalid) {
			t.Errorf("unknown type: err = %v, want ErrInvalid", err)
		}
		c.GuestType, c.ValidFrom = "contractor", b.clock.Now().Add(24*time.Hour)
		res, err = b.svc.Create(ctx, b.admin, c)
		if err != nil {
			t.Fatal(err)
		}
		if from := storage.Truncate(c.ValidFrom); !res.Guest.ValidFrom.Equal(from) || !res.Guest.ValidUntil.Equal(from.Add(30*24*time.Hour)) {
			t.Errorf("contractor valid %v–%v", res.Guest.ValidFrom, res.Guest.ValidUntil)
		}
		if b.mailCount(t) != 2 {
			t.Errorf("%d emails queued, want 2 (one per guest created)", b.mailCount(t))
		}
	})
}

// TestCreateBatch: random accounts with the prefix, their passwords in
// memory, no email, one audit entry; one transaction.
func TestCreateBatch(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		gs, err := b.svc.CreateBatch(ctx, b.owner, Batch{Count: 25, Prefix: "Expo", Validity: 2 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, g := range gs {
			stored := b.get(t, g.ID)
			if !strings.HasPrefix(g.Username, "expo-") || len(g.Username) != len("expo-")+6 || seen[g.Username] ||
				stored.Password != g.Password || len(g.Password) != DefaultPasswordLength || stored.Email != "" ||
				stored.SponsorID != b.owner.Staff.ID || stored.ValidUntil.Sub(stored.ValidFrom) != 48*time.Hour {
				t.Errorf("batch guest = %+v", stored)
			}
			seen[g.Username] = true
		}
		if len(gs) != 25 || b.mailCount(t) != 0 {
			t.Errorf("%d guests, %d emails; want 25 and none", len(gs), b.mailCount(t))
		}
		if au := b.auditFor(t, "expo"); len(au) != 1 || au[0].Action != "guest.batch" || !strings.Contains(au[0].Detail, "25 accounts") {
			t.Errorf("audit = %+v, want one entry with the count", au)
		}
		for name, bt := range map[string]Batch{
			"none":       {Count: 0},
			"too many":   {Count: MaxBatch + 1},
			"bad prefix": {Count: 1, Prefix: "a b"},
			"too long":   {Count: 1, Validity: 8 * 24 * time.Hour},
		} {
			if _, err := b.svc.CreateBatch(ctx, b.owner, bt); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: err = %v, want ErrInvalid", name, err)
			}
		}
		if _, err := b.svc.CreateBatch(ctx, b.noPerms, Batch{Count: 1}); !errors.Is(err, ErrForbidden) {
			t.Errorf("without PermBatch: err = %v, want ErrForbidden", err)
		}
		page, err := b.store.ListGuests(ctx, storage.GuestFilter{Limit: 500})
		if err != nil || len(page.Guests) != 25 {
			t.Errorf("stored guests = %d, %v; want the 25 of the batch only", len(page.Guests), err)
		}
	})
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	_, err := New(Config{BaseURL: "wifi.example.com", Policy: Policy{PasswordLength: 4, UsernamePolicy: "nick"}})
	for _, want := range []string{"Store is required", "BaseURL", "UsernamePolicy", "PasswordLength"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New: err = %v, want it to name %s", err, want)
		}
	}
}
