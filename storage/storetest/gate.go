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
}
