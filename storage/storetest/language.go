package storetest

import (
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

// testGuestLanguage: a guest's language is stored with it, read back by
// every look-up (lists too: the expiry job mails from them), changed by an
// update, and "" for a guest created without one.
func testGuestLanguage(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()

	de := bb.guest("lena", "lena@example.de")
	de.Language = "de"
	bb.createGuest(t, de)
	plain := bb.createGuest(t, bb.guest("ada", "ada@example.com"))

	reads := map[string]func() (*storage.Guest, error){
		"GetGuest":           func() (*storage.Guest, error) { return s.GetGuest(ctx, de.ID) },
		"GetGuestPublic":     func() (*storage.Guest, error) { return s.GetGuestPublic(ctx, de.ID) },
		"GetGuestByUsername": func() (*storage.Guest, error) { return s.GetGuestByUsername(ctx, "lena") },
		"GetGuestByEmail":    func() (*storage.Guest, error) { return s.GetGuestByEmail(ctx, "lena@example.de") },
		"ListGuests": func() (*storage.Guest, error) {
			page, err := s.ListGuests(ctx, storage.GuestFilter{Query: "lena"})
			if err != nil || len(page.Guests) != 1 {
				t.Fatalf("ListGuests: %v, %v; want lena", page, err)
			}
			return page.Guests[0], nil
		},
	}
	for name, read := range reads {
		g, err := read()
		if err != nil || g.Language != "de" {
			t.Fatalf("%s: language %q, %v; want de", name, g.Language, err)
		}
	}
	if g, err := s.GetGuest(ctx, plain.ID); err != nil || g.Language != "" {
		t.Fatalf("a guest created without a language reads %q, %v; want \"\"", g.Language, err)
	}

	fr := "fr"
	g, err := s.UpdateGuest(ctx, de.ID, storage.GuestUpdate{Language: &fr})
	if err != nil || g.Language != "fr" {
		t.Fatalf("UpdateGuest to fr returned %q, %v", g.Language, err)
	}
	if g, err = s.GetGuest(ctx, de.ID); err != nil || g.Language != "fr" {
		t.Fatalf("after the update: %q, %v; want fr", g.Language, err)
	}
	// An update that does not name the language keeps it.
	until := g.ValidUntil.Add(1e9)
	if g, err = s.UpdateGuest(ctx, de.ID, storage.GuestUpdate{ValidUntil: &until}); err != nil || g.Language != "fr" {
		t.Fatalf("an update of ValidUntil left language %q, %v; want fr", g.Language, err)
	}
}
