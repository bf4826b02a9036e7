package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// search lists the usernames of the guests a search found, in order.
func (bb *bundle) search(t *testing.T, f storage.GuestFilter) []string {
	t.Helper()
	page, err := bb.store.ListGuests(t.Context(), f)
	if err != nil {
		t.Fatalf("ListGuests(%+v): %v", f, err)
	}
	var names []string
	for _, g := range page.Guests {
		names = append(names, g.Username)
	}
	return names
}

// testGuestSearch: a query finds guests by part of the username, email,
// names, company or phone, with Unicode case folding and either form of an
// accent, starts of fields for one or two characters, whole addresses
// exactly, and never across two fields.
func testGuestSearch(t *testing.T, b Backend) {
	bb := setup(t, b)
	mk := func(username, email, first, last, company, phone string) {
		g := bb.guest(username, email)
		g.FirstName, g.LastName, g.Company, g.Phone = first, last, company, phone
		bb.clock.Advance(time.Second) // newest first is well defined
		bb.createGuest(t, g)
	}
	mk("ghopper", "grace.hopper@navy.example", "Grace", "Hopper", "Acme Logistics", "+44 20 7946 0001")
	mk("emile", "emile@lyon.example", "Émile", "Łęcki", "Ørsted Énergie", "+33 4 72 00 00 02")
	mk("jmuller", "jurgen@berlin.example", "Jürgen", "Müller", "Hooli", "+49 30 1234 5678")
	mk("ann", "ann@x.example", "Ann", "Lee", "Globex", "+1 555 0100")
	mk("joann", "joann@x.example", "Jo", "Ann", "Initech", "+1 555 0199")

	tests := []struct {
		name, q string
		want    []string // newest first
	}{
		{"part of a first name", "grac", []string{"ghopper"}},
		{"part of a last name", "oppe", []string{"ghopper"}},
		{"full name", "grace hop", []string{"ghopper"}},
		{"part of an email", "hopper@navy", []string{"ghopper"}},
		{"part of a company", "logist", []string{"ghopper"}},
		{"part of a username", "muller", []string{"jmuller"}},
		{"part of a phone number", "7946 0001", []string{"ghopper"}},
		{"ASCII capitals", "HOPPER", []string{"ghopper"}},
		{"accented first name in capitals", "ÉMILE", []string{"emile"}},
		{"non-ASCII last name in capitals", "ŁĘCKI", []string{"emile"}},
		{"non-ASCII company in capitals", "ØRSTED ÉNER", []string{"emile"}},
		{"decomposed accent", "Mu\u0308ller", []string{"jmuller"}},
		{"composed query, stored name as typed", "jürg", []string{"jmuller"}},
		{"one character: start of a field", "g", []string{"ann", "ghopper"}}, // Grace, Globex
		{"two characters: start of a field", "ho", []string{"jmuller", "ghopper"}},
		{"two characters inside a field only", "pp", nil},
		{"whole email address: exactly that one", "ANN@x.example", []string{"ann"}},
		{"part of an address: every guest with it", "ann@x", []string{"joann", "ann"}},
		{"not across two fields", "hopperacme", nil},
		{"not across the full name and the last name", "hopper hopper", nil},
		{"nobody", "zzqx", nil},
		{"spaces only", "   ", []string{"joann", "ann", "jmuller", "emile", "ghopper"}},
	}
	for _, tc := range tests {
		if got := bb.search(t, storage.GuestFilter{Query: tc.q}); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Query %q found %v, want %v", tc.name, tc.q, got, tc.want)
		}
	}
}

// testGuestSearchFilters: a query combines with status and sponsor, and a
// guest that changes or goes away leaves the results.
func testGuestSearchFilters(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	spA, spB := bb.sponsor(t, "sponsor-a"), bb.sponsor(t, "sponsor-b")
	mk := func(username string, st storage.GuestStatus, sponsor uuid.UUID) *storage.Guest {
		g := bb.guest(username, username+"@example.com")
		g.Company, g.Status, g.SponsorID = "Vandelay Industries", st, sponsor
		bb.clock.Advance(time.Second)
		return bb.createGuest(t, g)
	}
	a := mk("art", storage.GuestActive, spA.ID)
	bea := bb.guest("bea", "bea@example.com")
	bea.Company, bea.Status, bea.SponsorID, bea.PersonVisited = "Vandelay Industries", storage.GuestPending, spA.ID, "Host@Corp.example"
	bb.clock.Advance(time.Second)
	bb.createGuest(t, bea)
	c := mk("cy", storage.GuestActive, spB.ID)
	mk("dot", storage.GuestDenied, spB.ID)
	other := bb.guest("eve", "eve@example.com")
	other.Company = "Kramerica"
	bb.createGuest(t, other)

	active := []storage.GuestStatus{storage.GuestActive}
	for _, tc := range []struct {
		name string
		f    storage.GuestFilter
		want []string
	}{
		{"query", storage.GuestFilter{Query: "vandelay"}, []string{"dot", "cy", "bea", "art"}},
		{"query and status", storage.GuestFilter{Query: "vandelay", Status: active}, []string{"cy", "art"}},
		{"query and sponsor", storage.GuestFilter{Query: "vandelay", SponsorID: spA.ID}, []string{"bea", "art"}},
		{"query, status and sponsor", storage.GuestFilter{Query: "VANDELAY", Status: active, SponsorID: spB.ID}, []string{"cy"}},
		{"short query and status", storage.GuestFilter{Query: "va", Status: active}, []string{"cy", "art"}},
		{"email and status", storage.GuestFilter{Query: "cy@example.com", Status: active}, []string{"cy"}},
		{"email and another status", storage.GuestFilter{Query: "cy@example.com", Status: []storage.GuestStatus{storage.GuestDenied}}, nil},
		{"person visited", storage.GuestFilter{PersonVisited: "host@corp.EXAMPLE"}, []string{"bea"}},
		{"person visited and status", storage.GuestFilter{PersonVisited: "host@corp.example", Status: []storage.GuestStatus{storage.GuestPending}}, []string{"bea"}},
		{"person visited, another status", storage.GuestFilter{PersonVisited: "host@corp.example", Status: active}, nil},
		{"another person visited", storage.GuestFilter{PersonVisited: "host@corp.example.org"}, nil},
	} {
		if got := bb.search(t, tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: found %v, want %v", tc.name, got, tc.want)
		}
	}

	// An update of other fields keeps the guest findable; a new status
	// takes it out of a search by the old one.
	suspended := storage.GuestSuspended
	if _, err := s.UpdateGuest(ctx, c.ID, storage.GuestUpdate{Status: &suspended}); err != nil {
		t.Fatalf("UpdateGuest: %v", err)
	}
	if got := bb.search(t, storage.GuestFilter{Query: "vandelay", Status: active}); !slices.Equal(got, []string{"art"}) {
		t.Errorf("after suspending cy, active guests at Vandelay are %v, want [art]", got)
	}
	if got := bb.search(t, storage.GuestFilter{Query: "vandelay", Status: []storage.GuestStatus{suspended}}); !slices.Equal(got, []string{"cy"}) {
		t.Errorf("after suspending cy, suspended guests at Vandelay are %v, want [cy]", got)
	}

	// A deleted guest is found no more, by any kind of query; a new guest
	// with the same name is.
	if err := s.DeleteGuest(ctx, a.ID); err != nil {
		t.Fatalf("DeleteGuest: %v", err)
	}
	for _, q := range []string{"vandelay", "art@example.com", "ar"} {
		if got := bb.search(t, storage.GuestFilter{Query: q}); slices.Contains(got, "art") {
			t.Errorf("after deleting art, Query %q still finds it: %v", q, got)
		}
	}
	again := mk("art", storage.GuestActive, spA.ID)
	if got := bb.search(t, storage.GuestFilter{Query: "art@exam"}); !slices.Equal(got, []string{"art"}) {
		t.Errorf("the new art: Query art@exam found %v, want [art]", got)
	}
	if got := bb.search(t, storage.GuestFilter{Query: "art@example.com"}); !slices.Equal(got, []string{again.Username}) {
		t.Errorf("the new art: Query art@example.com found %v, want [art]", got)
	}
}

// testGuestSearchPagination: the pages of a search, newest first and by
// expiry, hold every match once, in order, and nothing else; so do those
// of a sponsor's guests and of one status or several, with a query or
// without.
func testGuestSearchPagination(t *testing.T, b Backend) {
	bb := setup(t, b)
	base := bb.clock.now()
	var (
		matches, all []*storage.Guest
		sponsor      = uuid.New()
		statuses     = []storage.GuestStatus{storage.GuestActive, storage.GuestPending, storage.GuestExpired,
			storage.GuestActive, storage.GuestSuspended, storage.GuestDenied, storage.GuestExpired}
	)
	for i := range 23 {
		g := bb.guest("p"+string(rune('a'+i)), "")
		g.Status = statuses[i%len(statuses)]
		if i%3 != 0 {
			g.SponsorID = sponsor
		}
		// Ties on creation and on expiry that only the ID orders, and
		// three guests without an end (two of them matches).
		g.CreatedAt = base.Add(time.Duration(i/3) * time.Minute)
		g.ValidUntil = base.Add(time.Duration((i*7)%5) * time.Hour)
		if i%10 == 4 {
			g.ValidUntil = time.Time{}
		}
		if i%2 == 0 {
			g.LastName = "Needleman"
			g = bb.createGuest(t, g)
			matches = append(matches, g)
		} else {
			g.LastName = "Haystack"
			g = bb.createGuest(t, g)
		}
		all = append(all, g)
	}
	walk := func(f storage.GuestFilter) []uuid.UUID {
		var ids []uuid.UUID
		for pages := 1; ; pages++ {
			page, err := bb.store.ListGuests(t.Context(), f)
			if err != nil {
				t.Fatalf("ListGuests(page %d): %v", pages, err)
			}
			if len(page.Guests) > f.Limit {
				t.Fatalf("page %d has %d guests, limit %d", pages, len(page.Guests), f.Limit)
			}
			ids = append(ids, guestIDs(page.Guests)...)
			if page.Next == "" {
				return ids
			}
			if pages > 30 {
				t.Fatal("pagination does not end")
			}
			f.After = page.Next
		}
	}
	newest := slices.Clone(matches)
	slices.SortFunc(newest, func(a, b *storage.Guest) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID.String(), a.ID.String())
	})
	expiry := slices.Clone(matches)
	endOf := func(g *storage.Guest) time.Time {
		if g.ValidUntil.IsZero() {
			return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		return g.ValidUntil
	}
	slices.SortFunc(expiry, func(a, b *storage.Guest) int {
		if c := endOf(a).Compare(endOf(b)); c != 0 {
			return c
		}
		return strings.Compare(a.ID.String(), b.ID.String())
	})
	for _, q := range []string{"needle", "ne"} {
		if got, want := walk(storage.GuestFilter{Query: q, Limit: 4}), guestIDs(newest); !slices.Equal(got, want) {
			t.Errorf("Query %q newest first, pages of 4: %v, want %v", q, got, want)
		}
		for _, limit := range []int{3, 1} { // pages of 1: a cursor at a guest without an end
			if got, want := walk(storage.GuestFilter{Query: q, Sort: storage.SortExpiry, Limit: limit}), guestIDs(expiry); !slices.Equal(got, want) {
				t.Errorf("Query %q by expiry, pages of %d: %v, want %v", q, limit, got, want)
			}
		}
	}

	// A sponsor's guests, of a status or several (a repeat changes
	// nothing), and every guest of some statuses, with a query and without.
	pick := func(gs []*storage.Guest, f storage.GuestFilter) []*storage.Guest {
		var out []*storage.Guest
		for _, g := range gs {
			if (f.SponsorID == uuid.Nil || g.SponsorID == f.SponsorID) && (len(f.Status) == 0 || slices.Contains(f.Status, g.Status)) {
				out = append(out, g)
			}
		}
		return out
	}
	sortBy := func(gs []*storage.Guest, sort storage.GuestSort) []*storage.Guest {
		out := slices.Clone(gs)
		slices.SortFunc(out, func(a, b *storage.Guest) int {
			if sort == storage.SortExpiry {
				if c := endOf(a).Compare(endOf(b)); c != 0 {
					return c
				}
				return strings.Compare(a.ID.String(), b.ID.String())
			}
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(b.ID.String(), a.ID.String())
		})
		return out
	}
	for _, f := range []storage.GuestFilter{
		{SponsorID: sponsor},
		{SponsorID: sponsor, Status: []storage.GuestStatus{storage.GuestExpired}},
		{SponsorID: sponsor, Status: []storage.GuestStatus{storage.GuestPending, storage.GuestExpired, storage.GuestPending}},
		{Status: []storage.GuestStatus{storage.GuestActive}},
		{Status: []storage.GuestStatus{storage.GuestDenied, storage.GuestActive, storage.GuestSuspended}},
	} {
		for _, q := range []string{"", "needle", "ne"} {
			pool := all
			if q != "" {
				pool = matches
			}
			for _, sort := range []storage.GuestSort{storage.SortNewest, storage.SortExpiry} {
				f.Query, f.Sort, f.Limit = q, sort, 2
				want := guestIDs(sortBy(pick(pool, f), sort))
				if got := walk(f); len(want) == 0 || !slices.Equal(got, want) {
					t.Errorf("%+v, pages of 2: %v, want %v", f, got, want)
				}
			}
		}
	}

	// Without a query too, and a cursor of one order is refused by the other.
	page, err := bb.store.ListGuests(t.Context(), storage.GuestFilter{Sort: storage.SortExpiry, Limit: 5})
	if err != nil || page.Next == "" {
		t.Fatalf("ListGuests by expiry: %v, %v; want a page and more", page, err)
	}
	for _, limit := range []int{5, 1} {
		got := walk(storage.GuestFilter{Sort: storage.SortExpiry, Limit: limit})
		once := map[uuid.UUID]bool{}
		for _, id := range got {
			once[id] = true
		}
		if len(got) != 23 || len(once) != 23 {
			t.Errorf("every guest by expiry, pages of %d: %d guests, want 23 once each", limit, len(got))
		}
	}
	if _, err := bb.store.ListGuests(t.Context(), storage.GuestFilter{After: page.Next}); err == nil {
		t.Error("a cursor of the expiry order was taken by the newest-first order")
	}
	newestPage, err := bb.store.ListGuests(t.Context(), storage.GuestFilter{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bb.store.ListGuests(t.Context(), storage.GuestFilter{Sort: storage.SortExpiry, After: newestPage.Next}); err == nil {
		t.Error("a newest-first cursor was taken by the expiry order")
	}
}

// CheckSearchAfterUpgrade checks, on a store just migrated from a schema
// before 006_guest_search that held the guests Zoë, bob and carol, that
// search finds the guests from before the upgrade (each field folded, Zoë
// perhaps decomposed as typed), and that guests created
// and deleted afterwards come and go from the results.
func CheckSearchAfterUpgrade(t *testing.T, s storage.Store) {
	t.Helper()
	ctx := t.Context()
	find := func(q string) []string {
		t.Helper()
		page, err := s.ListGuests(ctx, storage.GuestFilter{Query: q})
		if err != nil {
			t.Fatalf("ListGuests(Query %q) after the upgrade: %v", q, err)
		}
		var names []string
		for _, g := range page.Guests {
			names = append(names, storage.FoldKey(g.Username))
		}
		slices.Sort(names)
		return names
	}
	for q, want := range map[string][]string{"ZOË": {"zoë"}, "ñandú": {"zoë"}, "car": {"carol"}, "b": {"bob"}} {
		if got := find(q); !slices.Equal(got, want) {
			t.Errorf("Query %q after the upgrade found %v, want %v", q, got, want)
		}
	}
	dave := &storage.Guest{Username: "dave", Email: "dave@example.com", Status: storage.GuestActive, Company: "Carrier"}
	if err := s.CreateGuest(ctx, dave); err != nil {
		t.Fatalf("CreateGuest after the upgrade: %v", err)
	}
	if got := find("car"); !slices.Equal(got, []string{"carol", "dave"}) {
		t.Errorf("Query car after creating dave (of Carrier) found %v, want [carol dave]", got)
	}
	zoe, err := s.GetGuestByUsername(ctx, "zoë")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGuest(ctx, zoe.ID); err != nil {
		t.Fatalf("DeleteGuest after the upgrade: %v", err)
	}
	if got := find("zoë"); len(got) != 0 {
		t.Errorf("Query zoë after deleting Zoë found %v", got)
	}
}
