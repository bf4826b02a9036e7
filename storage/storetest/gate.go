package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// testGuestPublic checks GetGuestPublic: every field but the password, in
// and out of a transaction, and the sealed password neither returned nor
// opened (a password that does not open does not break it).
func testGuestPublic(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	sp := bb.sponsor(t, "sue")
	g := bb.guest("gate", "Gate@Example.org")
	g.SponsorID = sp.ID
	g.ExpiryNotifiedAt = bb.clock.now().Add(time.Hour)
	g.SessionsValidAfter = bb.clock.now().Add(-time.Minute)
	bb.createGuest(t, g)
	other := bb.createGuest(t, bb.guest("other", "other@example.org"))

	want := *g
	want.Password = ""
	check := func(what string, st storage.Store) {
		t.Helper()
		got, err := st.GetGuestPublic(ctx, g.ID)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got.Password != "" {
			t.Errorf("%s: returned a password", what)
		}
		if d := diff(&want, got); d != "" {
			t.Errorf("%s: %s", what, d)
		}
		stamp, err := st.GetGuestStamp(ctx, g.ID)
		if err != nil {
			t.Fatalf("%s: GetGuestStamp: %v", what, err)
		}
		if wantStamp := stampOf(got); stamp != wantStamp {
			t.Errorf("%s: GetGuestStamp = %+v, want %+v (GetGuestPublic's)", what, stamp, wantStamp)
		}
	}
	check("GetGuestPublic", s)
	if err := s.WithTx(ctx, func(tx storage.Store) error {
		check("GetGuestPublic in a transaction", tx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Another guest's sealed password does not open here: GetGuest fails,
	// GetGuestPublic does not even read it.
	b.Raw(t, s, "UPDATE guests SET password = (SELECT password FROM guests WHERE id = '"+other.ID.String()+
		"') WHERE id = '"+g.ID.String()+"'")
	if _, err := s.GetGuest(ctx, g.ID); !errors.Is(err, storage.ErrUnreadable) {
		t.Fatalf("GetGuest with another guest's sealed password: err = %v, want ErrUnreadable", err)
	}
	check("GetGuestPublic with an unreadable password", s)

	if _, err := s.GetGuestPublic(ctx, uuid.New()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetGuestPublic of a missing guest: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetGuestStamp(ctx, uuid.New()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetGuestStamp of a missing guest: err = %v, want ErrNotFound", err)
	}
}

// testGuestStamp checks GetGuestStamp against GetGuestPublic through every
// status, an update of each field it carries and one of none of them (which
// moves UpdatedAt all the same), and a guest without validity times.
func testGuestStamp(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	g := bb.createGuest(t, bb.guest("stamp", "stamp@example.org"))
	check := func(what string) storage.GuestStamp {
		t.Helper()
		pub, err := s.GetGuestPublic(ctx, g.ID)
		if err != nil {
			t.Fatalf("%s: GetGuestPublic: %v", what, err)
		}
		stamp, err := s.GetGuestStamp(ctx, g.ID)
		if err != nil {
			t.Fatalf("%s: GetGuestStamp: %v", what, err)
		}
		if want := stampOf(pub); stamp != want {
			t.Errorf("%s: GetGuestStamp = %+v, want %+v", what, stamp, want)
		}
		return stamp
	}
	last := check("created")
	now := bb.clock.now()
	for _, u := range []struct {
		what string
		u    storage.GuestUpdate
	}{
		{"suspended", storage.GuestUpdate{Status: ptrTo(storage.GuestSuspended)}},
		{"expired", storage.GuestUpdate{Status: ptrTo(storage.GuestExpired)}},
		{"denied", storage.GuestUpdate{Status: ptrTo(storage.GuestDenied)}},
		{"pending", storage.GuestUpdate{Status: ptrTo(storage.GuestPending)}},
		{"active", storage.GuestUpdate{Status: ptrTo(storage.GuestActive)}},
		{"valid from", storage.GuestUpdate{ValidFrom: ptrTo(now.Add(time.Minute))}},
		{"valid until", storage.GuestUpdate{ValidUntil: ptrTo(now.Add(48 * time.Hour))}},
		{"sessions end", storage.GuestUpdate{SessionsValidAfter: ptrTo(now.Add(time.Second))}},
		{"expiry notice, none of the stamp's fields", storage.GuestUpdate{ExpiryNotifiedAt: ptrTo(now)}},
	} {
		if _, err := s.UpdateGuest(ctx, g.ID, u.u); err != nil {
			t.Fatalf("%s: UpdateGuest: %v", u.what, err)
		}
		stamp := check(u.what)
		if !stamp.UpdatedAt.After(last.UpdatedAt) {
			t.Errorf("%s: UpdatedAt %v, not after %v: a gate would keep the guest from before", u.what, stamp.UpdatedAt, last.UpdatedAt)
		}
		last = stamp
	}
}

func stampOf(g *storage.Guest) storage.GuestStamp {
	return storage.GuestStamp{Status: g.Status, ValidFrom: g.ValidFrom, ValidUntil: g.ValidUntil,
		SessionsValidAfter: g.SessionsValidAfter, UpdatedAt: g.UpdatedAt}
}

func ptrTo[T any](v T) *T { return &v }
