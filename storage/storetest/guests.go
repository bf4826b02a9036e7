package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lobbyhq/lobby/storage"
)

func testGuestCRUD(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	sp := bb.sponsor(t, "sam")

	g := bb.guest("Ada.L", "Ada.Lovelace@Example.COM")
	g.SponsorID = sp.ID
	g.ExpiryNotifiedAt = bb.clock.now().Add(time.Hour)
	g.SessionsValidAfter = bb.clock.Now().Add(-time.Minute) // nanoseconds: kept to the microsecond
	want := *g
	want.SessionsValidAfter = storage.Truncate(g.SessionsValidAfter)
	bb.createGuest(t, g)
	if g.ID == uuid.Nil {
		t.Fatal("CreateGuest did not fill ID")
	}
	now := bb.clock.now()
	if !g.CreatedAt.Equal(now) || !g.UpdatedAt.Equal(now) {
		t.Fatalf("CreatedAt, UpdatedAt = %v, %v; want the clock's %v", g.CreatedAt, g.UpdatedAt, now)
	}
	if !g.SessionsValidAfter.Equal(want.SessionsValidAfter) {
		t.Fatalf("CreateGuest left SessionsValidAfter %v, want it as stored: %v", g.SessionsValidAfter, want.SessionsValidAfter)
	}
	want.ID, want.CreatedAt, want.UpdatedAt = g.ID, now, now
	want.Email = "ada.lovelace@example.com" // stored lower-case

	lookups := map[string]func() (*storage.Guest, error){
		"GetGuest":                   func() (*storage.Guest, error) { return s.GetGuest(ctx, g.ID) },
		"GetGuestByUsername exact":   func() (*storage.Guest, error) { return s.GetGuestByUsername(ctx, "Ada.L") },
		"GetGuestByUsername lower":   func() (*storage.Guest, error) { return s.GetGuestByUsername(ctx, "ada.l") },
		"GetGuestByUsername upper":   func() (*storage.Guest, error) { return s.GetGuestByUsername(ctx, "ADA.L") },
		"GetGuestByEmail lower":      func() (*storage.Guest, error) { return s.GetGuestByEmail(ctx, "ada.lovelace@example.com") },
		"GetGuestByEmail mixed case": func() (*storage.Guest, error) { return s.GetGuestByEmail(ctx, "ADA.LOVELACE@example.Com") },
	}
	for name, get := range lookups {
		got, err := get()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d := diff(want, got); d != "" {
			t.Errorf("%s: %s", name, d)
		}
		if got.Password != want.Password {
			t.Errorf("%s: the password did not round-trip", name)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("%s: CreatedAt is in %v, want UTC", name, got.CreatedAt.Location())
		}
	}

	for name, get := range map[string]func() (*storage.Guest, error){
		"GetGuest":           func() (*storage.Guest, error) { return s.GetGuest(ctx, uuid.New()) },
		"GetGuestByUsername": func() (*storage.Guest, error) { return s.GetGuestByUsername(ctx, "nobody") },
		"GetGuestByEmail":    func() (*storage.Guest, error) { return s.GetGuestByEmail(ctx, "nobody@example.com") },
		"GetGuestByEmail of an empty email": func() (*storage.Guest, error) {
			return s.GetGuestByEmail(ctx, "")
		},
	} {
		if _, err := get(); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s of a missing guest: err = %v, want ErrNotFound", name, err)
		}
	}

	// A caller-chosen ID and creation time are kept; optional fields stay empty.
	id := uuid.New()
	created := bb.clock.now().Add(-48 * time.Hour)
	g2 := &storage.Guest{ID: id, Username: "minimal", Status: storage.GuestPending, CreatedAt: created}
	bb.createGuest(t, g2)
	got, err := s.GetGuest(ctx, id)
	if err != nil {
		t.Fatalf("GetGuest(minimal): %v", err)
	}
	wantMin := storage.Guest{ID: id, Username: "minimal", Status: storage.GuestPending, CreatedAt: created, UpdatedAt: got.UpdatedAt}
	if d := diff(wantMin, got); d != "" {
		t.Errorf("minimal guest: %s", d)
	}
	if got.UpdatedAt.IsZero() {
		t.Error("minimal guest: UpdatedAt not filled")
	}

	bad := bb.guest("bad-status", "bad@example.com")
	bad.Status = "unknown"
	if err := s.CreateGuest(ctx, bad); err == nil {
		t.Error("CreateGuest with status \"unknown\" succeeded")
	}
}

func testGuestUnique(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	bb.createGuest(t, bb.guest("bob", "bob@example.com"))

	for name, g := range map[string]*storage.Guest{
		"same username, other case": bb.guest("BOB", "other@example.com"),
		"same email, other case":    bb.guest("carol", "Bob@Example.com"),
	} {
		if err := s.CreateGuest(ctx, g); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("%s: err = %v, want ErrConflict", name, err)
		}
	}
	// Guests without an email address do not conflict with each other.
	bb.createGuest(t, bb.guest("no-email-1", ""))
	bb.createGuest(t, bb.guest("no-email-2", ""))

	page, err := s.ListGuests(ctx, storage.GuestFilter{})
	if err != nil {
		t.Fatalf("ListGuests: %v", err)
	}
	var names []string
	for _, g := range page.Guests {
		names = append(names, g.Username)
	}
	slices.Sort(names)
	if want := []string{"bob", "no-email-1", "no-email-2"}; !slices.Equal(names, want) {
		t.Fatalf("guests after the conflicts = %v, want %v", names, want)
	}
}

// testFoldedNames: usernames and email addresses compare by Unicode case,
// composed or decomposed, on both backends (SQLite's lower() folds ASCII
// only), and the name is kept as typed.
func testFoldedNames(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()

	emile := &storage.Staff{Username: "Émile", Role: storage.RoleSponsor}
	if err := s.CreateStaff(ctx, emile); err != nil {
		t.Fatalf("CreateStaff(Émile): %v", err)
	}
	for _, name := range []string{"émile", "ÉMILE", "E\u0301mile", " Émile "} {
		if err := s.CreateStaff(ctx, &storage.Staff{Username: name, Role: storage.RoleAdmin}); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("CreateStaff(%q) beside Émile: err = %v, want ErrConflict", name, err)
		}
		got, err := s.GetStaffByUsername(ctx, name)
		if err != nil || got.ID != emile.ID || got.Username != "Émile" {
			t.Errorf("GetStaffByUsername(%q) = %+v, %v; want Émile as typed", name, got, err)
		}
	}
	if list, err := s.ListStaff(ctx); err != nil || len(list) != 1 {
		t.Errorf("ListStaff = %d users, %v; want Émile alone", len(list), err)
	}

	zoe := bb.createGuest(t, bb.guest("Zoë", "Ñandú.Zoë@Example.COM"))
	if zoe.Email != "ñandú.zoë@example.com" {
		t.Errorf("CreateGuest stored the email as %q, want it folded: ñandú.zoë@example.com", zoe.Email)
	}
	for name, g := range map[string]*storage.Guest{
		"username in capitals":     bb.guest("ZOË", "other@example.com"),
		"username decomposed":      bb.guest("Zoe\u0308", "other2@example.com"),
		"email in capitals":        bb.guest("someone", "ÑANDÚ.ZOË@example.com"),
		"email decomposed, spaced": bb.guest("someone-else", " N\u0303andu\u0301.zoe\u0308@example.com "),
	} {
		if err := s.CreateGuest(ctx, g); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("CreateGuest, %s: err = %v, want ErrConflict", name, err)
		}
	}
	for _, name := range []string{"zoë", "ZOË", "Zoe\u0308"} {
		if got, err := s.GetGuestByUsername(ctx, name); err != nil || got.ID != zoe.ID || got.Username != "Zoë" {
			t.Errorf("GetGuestByUsername(%q) = %v, %v; want Zoë as typed", name, got, err)
		}
	}
	for _, email := range []string{"ÑANDÚ.ZOË@EXAMPLE.COM", "N\u0303andu\u0301.zoe\u0308@example.com"} {
		if got, err := s.GetGuestByEmail(ctx, email); err != nil || got.ID != zoe.ID {
			t.Errorf("GetGuestByEmail(%q) = %v, %v; want Zoë", email, got, err)
		}
	}
	for _, q := range []string{"ZOË", "ÑANDÚ"} {
		page, err := s.ListGuests(ctx, storage.GuestFilter{Query: q})
		if err != nil || len(page.Guests) != 1 || page.Guests[0].ID != zoe.ID {
			t.Errorf("ListGuests(Query %q) = %v, %v; want Zoë", q, page, err)
		}
	}
}

func testGuestListFilters(t *testing.T, b Backend) {
	bb := setup(t, b)
	ctx := t.Context()
	spA, spB := bb.sponsor(t, "sponsor-a"), bb.sponsor(t, "sponsor-b")
	now := bb.clock.now()

	mk := func(username, email, first, last, company, phone string, st storage.GuestStatus, sponsor uuid.UUID, until time.Duration, notified bool) *storage.Guest {
		g := bb.guest(username, email)
		g.FirstName, g.LastName, g.Company, g.Phone = first, last, company, phone
		g.Status, g.SponsorID, g.ValidUntil = st, sponsor, now.Add(until)
		if notified {
			g.ExpiryNotifiedAt = now
		}
		bb.clock.Advance(time.Second) // distinct creation times: newest first is well defined
		return bb.createGuest(t, g)
	}
	g1 := mk("ghopper", "grace@navy.example", "Grace", "Hopper", "Acme", "+44 20 7946 0001", storage.GuestActive, spA.ID, time.Hour, false)
	g2 := mk("alan", "alan@bletchley.example", "Alan", "Turing", "Initech", "+44 20 7946 0002", storage.GuestPending, spB.ID, 48*time.Hour, true)
	g3 := mk("kj", "katherine@nasa.example", "Katherine", "Johnson", "Globex", "+1 757 555 0003", storage.GuestExpired, uuid.Nil, -time.Hour, true)
	g4 := mk("dritchie", "dennis@bell.example", "Dennis", "Ritchie", "Umbrella", "+1 908 555 0004", storage.GuestSuspended, spA.ID, 2*time.Hour, false)

	tests := []struct {
		name string
		f    storage.GuestFilter
		want []*storage.Guest // newest first
	}{
		{"no filter", storage.GuestFilter{}, []*storage.Guest{g4, g3, g2, g1}},
		{"one status", storage.GuestFilter{Status: []storage.GuestStatus{storage.GuestActive}}, []*storage.Guest{g1}},
		{"two statuses", storage.GuestFilter{Status: []storage.GuestStatus{storage.GuestActive, storage.GuestSuspended}}, []*storage.Guest{g4, g1}},
		{"status nobody has", storage.GuestFilter{Status: []storage.GuestStatus{storage.GuestDenied}}, nil},
		{"sponsor", storage.GuestFilter{SponsorID: spA.ID}, []*storage.Guest{g4, g1}},
		{"valid until before", storage.GuestFilter{ValidUntilBefore: now.Add(3 * time.Hour)}, []*storage.Guest{g4, g3, g1}},
		{"expiry not notified", storage.GuestFilter{ExpiryNotNotified: true}, []*storage.Guest{g4, g1}},
		{"query username", storage.GuestFilter{Query: "GHOP"}, []*storage.Guest{g1}},
		{"query email", storage.GuestFilter{Query: "Bletchley.EXAMPLE"}, []*storage.Guest{g2}},
		{"query first name", storage.GuestFilter{Query: "katherine"}, []*storage.Guest{g3}},
		{"query last name", storage.GuestFilter{Query: "RITCH"}, []*storage.Guest{g4}},
		{"query company", storage.GuestFilter{Query: "initech"}, []*storage.Guest{g2}},
		{"query phone", storage.GuestFilter{Query: "555 0003"}, []*storage.Guest{g3}},
		{"query matching several", storage.GuestFilter{Query: "+44 20"}, []*storage.Guest{g2, g1}},
		{"query with a LIKE wildcard is literal", storage.GuestFilter{Query: "%"}, nil},
		{"query with an underscore is literal", storage.GuestFilter{Query: "g_opper"}, nil},
		{"query nobody matches", storage.GuestFilter{Query: "zzz"}, nil},
		{"combined", storage.GuestFilter{
			Status:           []storage.GuestStatus{storage.GuestActive, storage.GuestSuspended},
			SponsorID:        spA.ID,
			ValidUntilBefore: now.Add(90 * time.Minute),
		}, []*storage.Guest{g1}},
	}
	for _, tc := range tests {
		page, err := bb.store.ListGuests(ctx, tc.f)
		if err != nil {
			t.Errorf("%s: ListGuests: %v", tc.name, err)
			continue
		}
		if got, want := guestIDs(page.Guests), guestIDs(tc.want); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, want)
		}
		if page.Next != "" {
			t.Errorf("%s: Next = %q on the only page", tc.name, page.Next)
		}
	}
}

func testGuestPagination(t *testing.T, b Backend) {
	bb := setup(t, b)
	ctx := t.Context()
	base := bb.clock.now()
	// 11 guests on 3 creation times: ties that only the ID can order.
	var all []*storage.Guest
	for i := range 11 {
		g := bb.guest("page-"+string(rune('a'+i)), "")
		g.CreatedAt = base.Add(time.Duration(i/4) * time.Minute)
		if i%2 == 0 {
			g.Status = storage.GuestPending
		}
		all = append(all, bb.createGuest(t, g))
	}
	newestFirst := func(gs []*storage.Guest) []uuid.UUID {
		gs = slices.Clone(gs)
		slices.SortFunc(gs, func(a, b *storage.Guest) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(b.ID.String(), a.ID.String())
		})
		return guestIDs(gs)
	}
	walk := func(f storage.GuestFilter) (ids []uuid.UUID, pages int) {
		for {
			page, err := bb.store.ListGuests(ctx, f)
			if err != nil {
				t.Fatalf("ListGuests(page %d): %v", pages+1, err)
			}
			pages++
			if len(page.Guests) > f.Limit {
				t.Fatalf("page %d has %d guests, limit %d", pages, len(page.Guests), f.Limit)
			}
			ids = append(ids, guestIDs(page.Guests)...)
			if page.Next == "" {
				return ids, pages
			}
			if pages > 20 {
				t.Fatal("pagination does not end")
			}
			f.After = page.Next
		}
	}

	ids, pages := walk(storage.GuestFilter{Limit: 3})
	if want := newestFirst(all); !slices.Equal(ids, want) {
		t.Fatalf("paged through %v, want %v", ids, want)
	}
	if pages != 4 {
		t.Fatalf("%d pages of 3 for 11 guests, want 4", pages)
	}

	var pending []*storage.Guest
	for _, g := range all {
		if g.Status == storage.GuestPending {
			pending = append(pending, g)
		}
	}
	ids, pages = walk(storage.GuestFilter{Limit: 2, Status: []storage.GuestStatus{storage.GuestPending}})
	if want := newestFirst(pending); !slices.Equal(ids, want) || pages != 3 {
		t.Fatalf("pending guests paged through %v in %d pages, want %v in 3", ids, pages, want)
	}

	// An exact fit leaves no empty last page behind.
	ids, pages = walk(storage.GuestFilter{Limit: 11})
	if len(ids) != 11 || pages != 1 {
		t.Fatalf("limit 11 of 11: %d guests in %d pages, want 11 in 1", len(ids), pages)
	}

	if _, err := bb.store.ListGuests(ctx, storage.GuestFilter{After: "not-a-cursor!"}); err == nil {
		t.Fatal("ListGuests with a malformed cursor succeeded")
	}
}

func testGuestUpdate(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	spA, spB := bb.sponsor(t, "sponsor-a"), bb.sponsor(t, "sponsor-b")
	g := bb.guest("upd", "upd@example.com")
	g.SponsorID = spA.ID
	bb.createGuest(t, g)
	want := *g

	// check applies u, expects the guest to become want, and reads it back.
	check := func(name string, u storage.GuestUpdate) {
		t.Helper()
		bb.clock.Advance(time.Minute)
		want.UpdatedAt = bb.clock.now()
		got, err := s.UpdateGuest(ctx, g.ID, u)
		if err != nil {
			t.Fatalf("%s: UpdateGuest: %v", name, err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("%s: UpdateGuest returned: %s", name, d)
		}
		got, err = s.GetGuest(ctx, g.ID)
		if err != nil {
			t.Fatalf("%s: GetGuest: %v", name, err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("%s: GetGuest after: %s", name, d)
		}
	}
	ptr := func(tm time.Time) *time.Time { return &tm }

	suspended := storage.GuestSuspended
	want.Status = suspended
	check("status", storage.GuestUpdate{Status: &suspended})

	from, until := g.ValidFrom.Add(time.Hour), g.ValidUntil.Add(72*time.Hour)
	want.ValidFrom, want.ValidUntil = from, until
	check("validity", storage.GuestUpdate{ValidFrom: &from, ValidUntil: &until})

	notified := bb.clock.now()
	want.ExpiryNotifiedAt = notified
	check("expiry notified", storage.GuestUpdate{ExpiryNotifiedAt: &notified})
	page, err := s.ListGuests(ctx, storage.GuestFilter{ExpiryNotNotified: true})
	if err != nil || len(page.Guests) != 0 {
		t.Fatalf("ExpiryNotNotified after notifying: %v, %v; want none", page, err)
	}
	want.ExpiryNotifiedAt = time.Time{}
	check("expiry notified cleared", storage.GuestUpdate{ExpiryNotifiedAt: ptr(time.Time{})})
	page, err = s.ListGuests(ctx, storage.GuestFilter{ExpiryNotNotified: true})
	if err != nil || len(page.Guests) != 1 {
		t.Fatalf("ExpiryNotNotified after clearing: %v, %v; want the guest", page, err)
	}

	pw := "new-password"
	want.Password = pw
	check("password", storage.GuestUpdate{Password: &pw})

	want.SponsorID = spB.ID
	check("sponsor", storage.GuestUpdate{SponsorID: &spB.ID})
	nobody := uuid.Nil
	want.SponsorID = uuid.Nil
	check("sponsor cleared", storage.GuestUpdate{SponsorID: &nobody})

	ended := bb.clock.now().Add(30 * time.Second)
	want.SessionsValidAfter = ended
	check("sessions valid after", storage.GuestUpdate{SessionsValidAfter: &ended})
	pw2 := "password-after-a-change"
	ended = ended.Add(time.Minute)
	want.Password, want.SessionsValidAfter = pw2, ended
	check("password and sessions valid after", storage.GuestUpdate{Password: &pw2, SessionsValidAfter: &ended})

	check("nothing", storage.GuestUpdate{})

	active := storage.GuestActive
	when := g.ValidUntil.Add(time.Hour)
	want.Status, want.ValidUntil = active, when
	check("several fields", storage.GuestUpdate{Status: &active, ValidUntil: &when})

	bad := storage.GuestStatus("unknown")
	if _, err := s.UpdateGuest(ctx, g.ID, storage.GuestUpdate{Status: &bad}); err == nil {
		t.Error("UpdateGuest to status \"unknown\" succeeded")
	}
	if got, err := s.GetGuest(ctx, g.ID); err != nil || got.Status != active {
		t.Errorf("after a rejected update: %v, %v; want the guest unchanged", got, err)
	}
	if _, err := s.UpdateGuest(ctx, uuid.New(), storage.GuestUpdate{Status: &active}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UpdateGuest of a missing guest: err = %v, want ErrNotFound", err)
	}
}

// testGuestUpdatePreconditions: a read-then-write through two stores (two
// nodes): the write with the preconditions of what was read fails with
// ErrConflict when the other store changed the guest in between, and
// changes nothing.
func testGuestUpdatePreconditions(t *testing.T, b Backend) {
	bb := setup(t, b)
	ctx := t.Context()
	s1, s2 := bb.store, bb.openStore(t)
	status := func(st storage.GuestStatus) *storage.GuestStatus { return &st }
	conflict := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, storage.ErrConflict) || !strings.Contains(err.Error(), "changed meanwhile") {
			t.Fatalf("%s: err = %v, want ErrConflict saying the guest changed meanwhile", what, err)
		}
	}

	// Approve and deny race for a pending guest: one wins.
	pending := bb.guest("pending", "pending@example.com")
	pending.Status = storage.GuestPending
	bb.createGuest(t, pending)
	byApprover, err := s1.GetGuest(ctx, pending.ID)
	if err != nil {
		t.Fatal(err)
	}
	byDenier, err := s2.GetGuest(ctx, pending.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.UpdateGuest(ctx, pending.ID, storage.GuestUpdate{Status: status(storage.GuestActive), IfStatus: &byApprover.Status}); err != nil {
		t.Fatalf("approve: %v", err)
	}
	_, err = s2.UpdateGuest(ctx, pending.ID, storage.GuestUpdate{Status: status(storage.GuestDenied), IfStatus: &byDenier.Status})
	conflict("deny after the approval", err)
	if got, err := s1.GetGuest(ctx, pending.ID); err != nil || got.Status != storage.GuestActive {
		t.Fatalf("after the race: %v, %v; want the guest active", got, err)
	}

	// The expiry job reads an active guest whose access ended; a sponsor
	// extends it meanwhile (status unchanged, same clock tick): the job's
	// update must not expire the extended guest.
	g := bb.guest("extended", "extended@example.com")
	g.ValidUntil = bb.clock.now().Add(-time.Minute)
	bb.createGuest(t, g)
	read, err := s1.GetGuest(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	until := bb.clock.now().Add(24 * time.Hour)
	if _, err := s2.UpdateGuest(ctx, g.ID, storage.GuestUpdate{ValidUntil: &until}); err != nil {
		t.Fatalf("extend: %v", err)
	}
	_, err = s1.UpdateGuest(ctx, g.ID, storage.GuestUpdate{Status: status(storage.GuestExpired),
		IfStatus: &read.Status, IfUpdatedAt: &read.UpdatedAt})
	conflict("expire after an extension", err)
	got, err := s1.GetGuest(ctx, g.ID)
	if err != nil || got.Status != storage.GuestActive || !got.ValidUntil.Equal(until) {
		t.Fatalf("after the race: %+v, %v; want the guest active until %v", got, err, until)
	}
	if !got.UpdatedAt.After(read.UpdatedAt) {
		t.Fatalf("UpdatedAt %v did not move past %v although the clock stood still", got.UpdatedAt, read.UpdatedAt)
	}

	// Preconditions that hold: the update applies.
	updated, err := s1.UpdateGuest(ctx, g.ID, storage.GuestUpdate{Status: status(storage.GuestSuspended),
		IfStatus: &got.Status, IfUpdatedAt: &got.UpdatedAt})
	if err != nil || updated.Status != storage.GuestSuspended {
		t.Fatalf("UpdateGuest with preconditions that hold = %v, %v; want the guest suspended", updated, err)
	}
	// The status alone can hold while the update time does not.
	_, err = s1.UpdateGuest(ctx, g.ID, storage.GuestUpdate{Status: status(storage.GuestActive),
		IfStatus: &updated.Status, IfUpdatedAt: &got.UpdatedAt})
	conflict("a stale update time", err)

	_, err = s1.UpdateGuest(ctx, uuid.New(), storage.GuestUpdate{Status: status(storage.GuestActive), IfStatus: status(storage.GuestPending)})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("UpdateGuest of a missing guest with a precondition: err = %v, want ErrNotFound", err)
	}
	if _, err := s1.UpdateGuest(ctx, g.ID, storage.GuestUpdate{IfStatus: status("unknown")}); err == nil || errors.Is(err, storage.ErrConflict) {
		t.Fatalf("UpdateGuest with IfStatus \"unknown\": err = %v, want a refusal", err)
	}
}

// testSessionsValidAfter: the time that ends a guest's sessions is NULL
// (zero) until set, kept to the microsecond, and only ever moves forward,
// also when a second store (a node whose clock lags) sets an earlier one.
func testSessionsValidAfter(t *testing.T, b Backend) {
	bb := setup(t, b)
	ctx := t.Context()
	s1, s2 := bb.store, bb.openStore(t)
	g := bb.createGuest(t, bb.guest("sessions", "sessions@example.com"))
	other := bb.createGuest(t, bb.guest("bystander", "bystander@example.com"))

	// stored reads the guest back through both stores, by ID and in a list,
	// and checks it has want.
	stored := func(what string, want time.Time) *storage.Guest {
		t.Helper()
		var last *storage.Guest
		for i, s := range []storage.Store{s1, s2} {
			got, err := s.GetGuest(ctx, g.ID)
			if err != nil {
				t.Fatalf("%s: store %d: GetGuest: %v", what, i+1, err)
			}
			if !got.SessionsValidAfter.Equal(want) || got.SessionsValidAfter.IsZero() != want.IsZero() {
				t.Fatalf("%s: store %d: SessionsValidAfter = %v, want %v", what, i+1, got.SessionsValidAfter, want)
			}
			page, err := s.ListGuests(ctx, storage.GuestFilter{Query: "sessions@"})
			if err != nil || len(page.Guests) != 1 || !page.Guests[0].SessionsValidAfter.Equal(want) {
				t.Fatalf("%s: store %d: ListGuests = %v, %v; want the guest with SessionsValidAfter %v", what, i+1, page, err, want)
			}
			last = got
		}
		return last
	}
	update := func(what string, s storage.Store, at time.Time) *storage.Guest {
		t.Helper()
		got, err := s.UpdateGuest(ctx, g.ID, storage.GuestUpdate{SessionsValidAfter: &at})
		if err != nil {
			t.Fatalf("%s: UpdateGuest: %v", what, err)
		}
		return got
	}

	// The zero value: NULL in the database, the zero time in Go.
	stored("new guest", time.Time{})
	if rows := b.Raw(t, s1, "SELECT sessions_valid_after FROM guests WHERE username = 'sessions'"); len(rows) != 1 || rows[0] != nil {
		t.Fatalf("sessions_valid_after of a new guest = %q, want NULL", rows)
	}
	update("the zero time on a guest without one", s1, time.Time{})
	stored("after the zero time", time.Time{})

	// Set with nanoseconds: kept to the microsecond, returned as stored.
	at := bb.clock.Now().Add(time.Second) // 09:00:01.123456789
	want := storage.Truncate(at)
	if got := update("first set", s1, at); !got.SessionsValidAfter.Equal(want) {
		t.Fatalf("first set: UpdateGuest returned %v, want %v", got.SessionsValidAfter, want)
	}
	read := stored("first set", want)
	if got := read.SessionsValidAfter; got.Location() != time.UTC || got.Nanosecond()%1000 != 0 {
		t.Fatalf("SessionsValidAfter %v is not UTC microseconds", got)
	}

	// Never back: an earlier time (from the other store, as from a node
	// whose clock lags), a later nanosecond of the same microsecond, the
	// zero time. The update still counts as one (UpdatedAt moves).
	for _, tc := range []struct {
		what string
		s    storage.Store
		at   time.Time
	}{
		{"a microsecond earlier, from the other store", s2, want.Add(-time.Microsecond)},
		{"an hour earlier", s1, want.Add(-time.Hour)},
		{"the same microsecond, later nanoseconds", s2, want.Add(999 * time.Nanosecond)},
		{"the zero time", s1, time.Time{}},
	} {
		bb.clock.Advance(time.Millisecond)
		got := update(tc.what, tc.s, tc.at)
		if !got.SessionsValidAfter.Equal(want) {
			t.Fatalf("%s: UpdateGuest returned SessionsValidAfter %v, want it unchanged: %v", tc.what, got.SessionsValidAfter, want)
		}
		if !got.UpdatedAt.After(read.UpdatedAt) {
			t.Fatalf("%s: UpdatedAt %v did not move past %v", tc.what, got.UpdatedAt, read.UpdatedAt)
		}
		read = stored(tc.what, want)
	}

	// Forward by one microsecond, from either store.
	want = want.Add(time.Microsecond)
	update("a microsecond later", s2, want)
	stored("a microsecond later", want)
	want = want.Add(time.Hour)
	update("an hour later", s1, want)
	read = stored("an hour later", want)

	// Nothing else changed, of this guest or another.
	if read.Status != storage.GuestActive || read.Password != g.Password || !read.ValidUntil.Equal(g.ValidUntil) {
		t.Fatalf("the guest's other fields changed: status %s, valid until %v", read.Status, read.ValidUntil)
	}
	got, err := s1.GetGuest(ctx, other.ID)
	if err != nil {
		t.Fatalf("the other guest: %v", err)
	}
	if !got.SessionsValidAfter.IsZero() || !got.UpdatedAt.Equal(other.UpdatedAt) {
		t.Fatalf("the other guest: SessionsValidAfter %v, UpdatedAt %v; want them untouched (zero, %v)",
			got.SessionsValidAfter, got.UpdatedAt, other.UpdatedAt)
	}
}

func testGuestDelete(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	g := bb.createGuest(t, bb.guest("gone", "gone@example.com"))
	keep := bb.createGuest(t, bb.guest("kept", "kept@example.com"))
	if err := s.DeleteGuest(ctx, g.ID); err != nil {
		t.Fatalf("DeleteGuest: %v", err)
	}
	if _, err := s.GetGuest(ctx, g.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetGuest after delete: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteGuest(ctx, g.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteGuest again: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetGuest(ctx, keep.ID); err != nil {
		t.Fatalf("the other guest: %v", err)
	}
	// The username and email are free again.
	bb.createGuest(t, bb.guest("gone", "gone@example.com"))
}

func testGuestTypes(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	daily := storage.GuestType{Name: "daily", Description: "One day", DefaultDuration: 24 * time.Hour, MaxDuration: 72 * time.Hour}
	contractor := storage.GuestType{Name: "contractor", Description: "Contractors", DefaultDuration: 7 * 24 * time.Hour,
		MaxDuration: 90 * 24 * time.Hour, RequireApproval: true, ExpiryNotice: 48 * time.Hour}
	for _, gt := range []storage.GuestType{daily, contractor} {
		if err := s.PutGuestType(ctx, gt); err != nil {
			t.Fatalf("PutGuestType(%s): %v", gt.Name, err)
		}
	}
	got, err := s.GetGuestType(ctx, "contractor")
	if err != nil {
		t.Fatalf("GetGuestType: %v", err)
	}
	if d := diff(contractor, got); d != "" {
		t.Fatalf("GetGuestType: %s", d)
	}

	daily.Description, daily.MaxDuration, daily.RequireApproval, daily.ExpiryNotice = "A day", 48*time.Hour, true, -1
	daily.FromFirstSignIn = true
	if err := s.PutGuestType(ctx, daily); err != nil {
		t.Fatalf("PutGuestType(daily again): %v", err)
	}
	list, err := s.ListGuestTypes(ctx)
	if err != nil {
		t.Fatalf("ListGuestTypes: %v", err)
	}
	slices.SortFunc(list, func(a, b storage.GuestType) int { return strings.Compare(a.Name, b.Name) })
	if len(list) != 2 || diff(contractor, list[0]) != "" || diff(daily, list[1]) != "" {
		t.Fatalf("ListGuestTypes = %+v, want contractor and the replaced daily", list)
	}

	if err := s.DeleteGuestType(ctx, "daily"); err != nil {
		t.Fatalf("DeleteGuestType: %v", err)
	}
	if _, err := s.GetGuestType(ctx, "daily"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetGuestType after delete: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteGuestType(ctx, "daily"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteGuestType again: err = %v, want ErrNotFound", err)
	}
	if list, err := s.ListGuestTypes(ctx); err != nil || len(list) != 1 {
		t.Fatalf("ListGuestTypes after delete = %+v, %v; want contractor only", list, err)
	}

	// Counting a type's guests, of any status; FirstSignInAt is set once.
	now := storage.Truncate(bb.clock.Now())
	var first *storage.Guest
	for i, st := range []storage.GuestStatus{storage.GuestActive, storage.GuestExpired, storage.GuestPending} {
		g := &storage.Guest{Username: fmt.Sprintf("contractor-%d", i), Email: fmt.Sprintf("c%d@example.org", i), GuestType: "contractor",
			Status: st, ValidFrom: now, ValidUntil: now.Add(time.Hour)}
		if err := s.CreateGuest(ctx, g); err != nil {
			t.Fatalf("CreateGuest: %v", err)
		}
		if first == nil {
			first = g
		}
	}
	if err := s.CreateGuest(ctx, &storage.Guest{Username: "other", GuestType: "visitor", Status: storage.GuestActive}); err != nil {
		t.Fatalf("CreateGuest: %v", err)
	}
	for name, want := range map[string]int{"contractor": 3, "visitor": 1, "daily": 0} {
		if n, err := s.CountGuestsOfType(ctx, name); err != nil || n != want {
			t.Errorf("CountGuestsOfType(%s) = %d, %v; want %d", name, n, err, want)
		}
	}
	if !first.FirstSignInAt.IsZero() {
		t.Fatalf("a new guest has FirstSignInAt %s", first.FirstSignInAt)
	}
	at := now.Add(time.Minute)
	g, err := s.UpdateGuest(ctx, first.ID, storage.GuestUpdate{FirstSignInAt: &at})
	if err != nil || !g.FirstSignInAt.Equal(at) {
		t.Fatalf("UpdateGuest(FirstSignInAt) = %v, %v; want %s", g, err, at)
	}
	later := at.Add(time.Hour)
	if g, err = s.UpdateGuest(ctx, first.ID, storage.GuestUpdate{FirstSignInAt: &later}); err != nil || !g.FirstSignInAt.Equal(at) {
		t.Fatalf("a second FirstSignInAt = %v, %v; want the first, %s, kept", g.FirstSignInAt, err, at)
	}
	if g, err := s.GetGuest(ctx, first.ID); err != nil || !g.FirstSignInAt.Equal(at) {
		t.Fatalf("GetGuest: FirstSignInAt %v, %v", g.FirstSignInAt, err)
	}
	if g, err := s.GetGuestPublic(ctx, first.ID); err != nil || !g.FirstSignInAt.Equal(at) {
		t.Fatalf("GetGuestPublic: FirstSignInAt %v, %v", g.FirstSignInAt, err)
	}
}

func testStaff(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	admin := &storage.Staff{Username: "Root", Email: "root@corp.example", DisplayName: "The Admin",
		Role: storage.RoleAdmin, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA"}
	want := *admin
	if err := s.CreateStaff(ctx, admin); err != nil {
		t.Fatalf("CreateStaff: %v", err)
	}
	if admin.ID == uuid.Nil || !admin.CreatedAt.Equal(bb.clock.now()) || !admin.PasswordChangedAt.Equal(bb.clock.now()) {
		t.Fatalf("CreateStaff filled ID %v, CreatedAt %v, PasswordChangedAt %v; want an ID and the clock's %v for both",
			admin.ID, admin.CreatedAt, admin.PasswordChangedAt, bb.clock.now())
	}
	want.ID, want.CreatedAt, want.PasswordChangedAt = admin.ID, admin.CreatedAt, admin.CreatedAt
	for name, get := range map[string]func() (*storage.Staff, error){
		"GetStaff":                 func() (*storage.Staff, error) { return s.GetStaff(ctx, admin.ID) },
		"GetStaffByUsername lower": func() (*storage.Staff, error) { return s.GetStaffByUsername(ctx, "root") },
		"GetStaffByUsername upper": func() (*storage.Staff, error) { return s.GetStaffByUsername(ctx, "ROOT") },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("%s: %s", name, d)
		}
	}
	// The password is as new as the user: a caller's PasswordChangedAt is
	// not taken, a caller's CreatedAt is.
	created := bb.clock.now().Add(-24 * time.Hour)
	imported := &storage.Staff{Username: "imported", Role: storage.RoleSponsor, CreatedAt: created,
		PasswordChangedAt: created.Add(-time.Hour)}
	if err := s.CreateStaff(ctx, imported); err != nil {
		t.Fatalf("CreateStaff(imported): %v", err)
	}
	if got, err := s.GetStaff(ctx, imported.ID); err != nil || !got.CreatedAt.Equal(created) || !got.PasswordChangedAt.Equal(created) ||
		!imported.PasswordChangedAt.Equal(created) {
		t.Fatalf("a staff user created at %v: stored %+v, %v, returned PasswordChangedAt %v; want the password changed at creation",
			created, got, err, imported.PasswordChangedAt)
	}
	if err := s.CreateStaff(ctx, &storage.Staff{Username: "rOOt", Role: storage.RoleSponsor}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("CreateStaff with a taken username: err = %v, want ErrConflict", err)
	}
	sp := bb.sponsor(t, "sally")
	list, err := s.ListStaff(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("ListStaff = %d users, %v; want 3", len(list), err)
	}

	bb.clock.Advance(time.Hour)
	if err := s.SetStaffPassword(ctx, sp.ID, "$2a$10$newhashnewhashnewhash"); err != nil {
		t.Fatalf("SetStaffPassword: %v", err)
	}
	got, err := s.GetStaff(ctx, sp.ID)
	if err != nil || got.PasswordHash != "$2a$10$newhashnewhashnewhash" || !got.PasswordChangedAt.Equal(bb.clock.now()) {
		t.Fatalf("after SetStaffPassword: changed at %v, %v; want the new hash changed at %v", got.PasswordChangedAt, err, bb.clock.now())
	}
	if err := s.SetStaffDisabled(ctx, sp.ID, true); err != nil {
		t.Fatalf("SetStaffDisabled: %v", err)
	}
	if got, err := s.GetStaff(ctx, sp.ID); err != nil || !got.Disabled {
		t.Fatalf("after SetStaffDisabled(true): %+v, %v", got, err)
	}
	if err := s.SetStaffDisabled(ctx, sp.ID, false); err != nil {
		t.Fatalf("SetStaffDisabled: %v", err)
	}
	if got, err := s.GetStaff(ctx, sp.ID); err != nil || got.Disabled {
		t.Fatalf("after SetStaffDisabled(false): %+v, %v", got, err)
	}
	if got, err := s.GetStaff(ctx, admin.ID); err != nil || got.Disabled || got.PasswordHash != want.PasswordHash {
		t.Fatalf("the other staff user changed: %+v, %v", got, err)
	}

	missing := uuid.New()
	for name, err := range map[string]error{
		"GetStaff":           func() error { _, err := s.GetStaff(ctx, missing); return err }(),
		"GetStaffByUsername": func() error { _, err := s.GetStaffByUsername(ctx, "nobody"); return err }(),
		"SetStaffPassword":   s.SetStaffPassword(ctx, missing, "x"),
		"SetStaffDisabled":   s.SetStaffDisabled(ctx, missing, true),
	} {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s of a missing user: err = %v, want ErrNotFound", name, err)
		}
	}
}
