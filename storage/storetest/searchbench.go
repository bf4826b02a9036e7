package storetest

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// SearchBenchEnv names the environment variable that turns the 1M-guest
// search benchmark on (LOBBY_BENCH_1M=1): loading a million guests takes
// minutes, so `go test -bench .` skips it otherwise.
const SearchBenchEnv = "LOBBY_BENCH_1M"

// SearchBenchGuests is how many guests the search benchmark loads; the env
// variable LOBBY_BENCH_GUESTS sets another number (for a quicker try).
const SearchBenchGuests = 1_000_000

// SearchBackend is what BenchSearch needs from a backend.
type SearchBackend struct {
	// Open makes a fresh, migrated database and opens a Store on it.
	Open func(b *testing.B) storage.Store
	// Load writes n guests, guest(0) to guest(n-1), straight into the
	// store's database in bulk (COPY, one transaction), each with what
	// CreateGuest would store (folded keys, search key; the password may
	// stay empty), and then refreshes the planner's statistics.
	Load func(b *testing.B, s storage.Store, n int, guest func(i int) *storage.Guest)
	// Scan is the baseline: the first page (limit rows, newest first) of
	// guests whose username, email, names, company or phone contain q,
	// case-insensitively, by a plain LIKE over the table as ListGuests did
	// before the search index. It returns how many rows it found.
	Scan func(b *testing.B, s storage.Store, q string, limit int) int
	// Previous, if set, is the search as the store ran it before the
	// current strategy, for a ratio on the same data: the first page,
	// newest first, of q; it returns how many rows it found.
	Previous func(b *testing.B, s storage.Store, q string, limit int) int
	// DropIndex drops the index of guests with this name, so that the
	// sponsor lists run again as they did before the indexes of
	// 009_sponsor_list (ListIndexes), on the same data.
	DropIndex func(b *testing.B, s storage.Store, name string)
}

// ListIndexes are the indexes that 009_sponsor_list adds on both backends
// for the sponsor pages' lists.
var ListIndexes = []string{"guests_sponsor_expiry_idx", "guests_sponsor_status_idx", "guests_sponsor_status_expiry_idx",
	"guests_status_created_idx", "guests_status_expiry_idx"}

// Word lists for realistic guests: 150 × 400 names, 300 companies.
var (
	benchFirst = strings.Fields(`James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara
		Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret
		Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian
		Dorothy George Melissa Timothy Deborah Ronald Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob
		Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott Nicole
		Brandon Helen Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel Patrick Carolyn
		Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia Nathan Joyce
		Henry Virginia Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina Ethan Joan Walter Evelyn Noah Judith
		Jeremy Megan Christian Andrea Keith Cheryl Roger Hannah Terry Jacqueline Gerald Martha Harold Gloria Sean Teresa
		Austin Ann Carl Sara Arthur Madison Lawrence Frances Dylan Kathryn Jesse Janice Jordan Jean Bryan Abigail Émile
		Zoë Søren Jürgen Łukasz Ñandú Åsa Chloé`)
	benchLast = benchSurnames()
	benchOrg  = benchCompanies()
)

func benchSurnames() []string {
	roots := strings.Fields(`Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
		Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez
		Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera
		Campbell Mitchell Carter Roberts Müller Schäfer Østergaard Dvořák Kowalczyk Łęcki Öztürk Ødegård Hopper Turing
		Lovelace Ritchie Knuth Dijkstra Liskov Hamilton Johnson Lamport Thompson Pike Kernighan Cerf Berners Torvalds`)
	suffixes := []string{"", "son", "ton", "ley", "field", "wood"}
	var out []string
	for _, s := range suffixes {
		for _, r := range roots {
			out = append(out, r+s)
		}
	}
	return out[:400]
}

func benchCompanies() []string {
	a := strings.Fields(`Acme Initech Globex Umbrella Hooli Stark Wayne Wonka Cyberdyne Soylent Tyrell Aperture Oscorp
		Vandelay Dunder Monarch Gringotts Nakatomi Pied Massive Prestige Sterling Virtucom Zorg Buy Kwik Blue Gekko
		Duff Krusty`)
	b := strings.Fields(`Industries Systems Labs Logistics Partners Consulting Holdings Foods Energy Media`)
	var out []string
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+" "+y)
		}
	}
	return out
}

var benchDomains = []string{"gmail.example", "outlook.example", "yahoo.example", "proton.example", "corp.example"}

// benchGuestAt is guest i of the benchmark's population: names, companies
// and email domains cycle through the word lists at different strides, and
// creation times spread over a year, newest last.
func benchGuestAt(i int, base time.Time) *storage.Guest {
	first := benchFirst[(i*7)%len(benchFirst)]
	last := benchLast[(i*13+i/len(benchFirst))%len(benchLast)]
	org := benchOrg[(i*31)%len(benchOrg)]
	domain := benchDomains[i%len(benchDomains)]
	if i%3 == 0 {
		domain = strings.ToLower(strings.Fields(org)[0]) + ".example"
	}
	local := fmt.Sprintf("%s.%s%d", strings.ToLower(first), strings.ToLower(last), i)
	created := base.Add(time.Duration(i) * 31 * time.Second)
	return &storage.Guest{
		ID: uuid.New(), Username: local, FirstName: first, LastName: last, Email: local + "@" + domain,
		Phone: fmt.Sprintf("+44 20 %04d %04d", (i/10000)%10000, i%10000), Company: org, GuestType: "daily",
		SponsorID: benchSponsorOf(i), Status: benchStatusOf(i), ValidFrom: created,
		ValidUntil: created.Add(time.Duration(1+i%30) * 24 * time.Hour), CreatedAt: created, UpdatedAt: created,
	}
}

// benchSponsors is how many sponsors own the benchmark's guests.
const benchSponsors = 200

// benchSponsor is sponsor k of the benchmark (0 ≤ k < benchSponsors);
// sponsor 0 is the busy one.
func benchSponsor(k int) uuid.UUID {
	var id uuid.UUID
	id[0], id[1], id[15] = 0x5b, byte(k>>8), byte(k)
	return id
}

// benchSponsorOf is who sponsors guest i: one guest in twenty registered
// alone, one in twenty belongs to the busy sponsor (50,000 of a million),
// the rest spread over the other 199 sponsors (about 4,500 each).
func benchSponsorOf(i int) uuid.UUID {
	switch i % 20 {
	case 0:
		return uuid.Nil
	case 1:
		return benchSponsor(0)
	}
	return benchSponsor(1 + (i/20*7+i%20)%(benchSponsors-1))
}

// benchStatusOf is guest i's status: one in a hundred pending, one
// suspended, one denied, about a third active and the rest expired.
func benchStatusOf(i int) storage.GuestStatus {
	switch r := (i/20*37 + i%20*11) % 100; {
	case r == 0:
		return storage.GuestPending
	case r == 1:
		return storage.GuestSuspended
	case r == 2:
		return storage.GuestDenied
	case r < 35:
		return storage.GuestActive
	}
	return storage.GuestExpired
}

// searchCase is one realistic query of the benchmark.
type searchCase struct {
	kind, q string
}

// searchCases are the benchmark's queries: surnames, email fragments,
// companies, whole email addresses and queries nothing matches, several of
// each, taken from guests the population has.
func searchCases(n int, base time.Time) []searchCase {
	var cs []searchCase
	for k := range 8 {
		g := benchGuestAt((k*104729+7)%n, base)
		cs = append(cs,
			searchCase{"surname", benchLast[(k*53)%len(benchLast)]},
			searchCase{"email fragment", emailFragment(g.Email)},
			searchCase{"company", benchOrg[(k*37)%len(benchOrg)]},
			searchCase{"exact email", g.Email},
			searchCase{"no match", fmt.Sprintf("zqx%dvw", k)},
		)
	}
	return cs
}

// BenchSearch measures the first page of a guest search at a million
// guests, by query kind, as p50 and p99 over repeated rounds of every query,
// against the plain LIKE scan measured in the same run. It needs
// LOBBY_BENCH_1M=1.
func BenchSearch(b *testing.B, be SearchBackend) {
	if os.Getenv(SearchBenchEnv) != "1" {
		b.Skipf("%s is not 1: the 1M-guest search benchmark is off (make bench-1m)", SearchBenchEnv)
	}
	n := SearchBenchGuests
	if v := os.Getenv("LOBBY_BENCH_GUESTS"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil || n < 1000 {
			b.Fatalf("LOBBY_BENCH_GUESTS=%q: want a number of at least 1000", v)
		}
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := be.Open(b)
	start := time.Now()
	be.Load(b, s, n, func(i int) *storage.Guest { return benchGuestAt(i, base) })
	b.Logf("loaded %d guests in %s", n, time.Since(start).Round(time.Second))
	cases := searchCases(n, base)
	ctx := b.Context()

	const rounds, scanRounds, limit = 20, 2, 50
	indexed := map[string][]time.Duration{}
	scanned := map[string][]time.Duration{}
	previous := map[string][]time.Duration{}
	var all, allScan []time.Duration
	found := map[string]int{}
	for b.Loop() {
		for range rounds {
			for _, c := range cases {
				t0 := time.Now()
				page, err := s.ListGuests(ctx, storage.GuestFilter{Query: c.q, Limit: limit})
				d := time.Since(t0)
				if err != nil {
					b.Fatalf("ListGuests(%q): %v", c.q, err)
				}
				indexed[c.kind] = append(indexed[c.kind], d)
				all = append(all, d)
				found[c.kind] += len(page.Guests)
				if c.kind == "no match" && len(page.Guests) > 0 {
					b.Fatalf("ListGuests(%q) found %d guests, want none", c.q, len(page.Guests))
				}
				if c.kind != "no match" && len(page.Guests) == 0 {
					b.Fatalf("ListGuests(%q) (%s) found nobody", c.q, c.kind)
				}
			}
		}
		for range scanRounds {
			for _, c := range cases {
				t0 := time.Now()
				be.Scan(b, s, c.q, limit)
				d := time.Since(t0)
				scanned[c.kind] = append(scanned[c.kind], d)
				allScan = append(allScan, d)
			}
		}
		for range rounds {
			for _, c := range cases {
				if be.Previous == nil {
					break
				}
				t0 := time.Now()
				got := be.Previous(b, s, c.q, limit)
				previous[c.kind] = append(previous[c.kind], time.Since(t0))
				if (got == 0) != (c.kind == "no match") {
					b.Fatalf("the previous search found %d guests for %q (%s)", got, c.q, c.kind)
				}
			}
		}
	}
	kinds := []string{"surname", "email fragment", "company", "exact email", "no match"}
	b.Logf("%-15s %10s %10s %12s %12s %8s", "query", "p50", "p99", "LIKE p50", "LIKE p99", "x")
	for _, k := range kinds {
		p50, p99 := percentile(indexed[k], 50), percentile(indexed[k], 99)
		s50, s99 := percentile(scanned[k], 50), percentile(scanned[k], 99)
		b.Logf("%-15s %10s %10s %12s %12s %8.0f", k, p50, p99, s50, s99, float64(s50)/float64(p50))
	}
	p50, p99 := percentile(all, 50), percentile(all, 99)
	s50 := percentile(allScan, 50)
	b.Logf("%-15s %10s %10s %12s %12s %8.0f", "all", p50, p99, s50, percentile(allScan, 99), float64(s50)/float64(p50))
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(s50.Microseconds())/1000, "like-p50-ms")
	b.ReportMetric(float64(s50)/float64(p50), "x-faster-p50")
	if be.Previous != nil {
		b.Logf("%-15s %10s %10s %12s %12s %8s", "query", "p50", "p99", "before p50", "before p99", "x p99")
		for _, k := range kinds {
			p50, p99 := percentile(indexed[k], 50), percentile(indexed[k], 99)
			q50, q99 := percentile(previous[k], 50), percentile(previous[k], 99)
			b.Logf("%-15s %10s %10s %12s %12s %8.1f", k, p50, p99, q50, q99, float64(q99)/float64(p99))
		}
	}
	for _, k := range kinds {
		if p99 := percentile(indexed[k], 99); p99 >= 100*time.Millisecond {
			b.Errorf("search p99 (%s) %s at %d guests, want < 100ms", k, p99, n)
		}
	}
	benchLists(b, be, s, n, base)
}

// listCase is one guest list of the sponsor pages.
type listCase struct {
	name string
	f    storage.GuestFilter
}

// listCases are the lists the sponsor pages ask for, newest first and by
// expiry, each as a first page and as a page halfway down the list (by a
// cursor): a sponsor's guests (the busy sponsor's 50,000 and another's
// 4,500), of each status, with a query; every guest of a status (pending
// is the approval view), of two; a query within a status.
func listCases(n int, base time.Time) []listCase {
	busy, other := benchSponsor(0), benchSponsor(17)
	// A company that some of the busy sponsor's pending guests come from,
	// and a surname of theirs.
	var busyCompany string
	for i := 1; i < n; i += 20 {
		if benchSponsorOf(i) == busy && benchStatusOf(i) == storage.GuestPending {
			busyCompany = benchGuestAt(i, base).Company
			break
		}
	}
	busySurname := benchGuestAt(4021, base).LastName
	statuses := []storage.GuestStatus{storage.GuestPending, storage.GuestActive, storage.GuestExpired,
		storage.GuestSuspended, storage.GuestDenied}
	var cs []listCase
	for _, sort := range []storage.GuestSort{storage.SortNewest, storage.SortExpiry} {
		sortName := map[storage.GuestSort]string{storage.SortNewest: "newest", storage.SortExpiry: "expiry"}[sort]
		mid := base.Add(time.Duration(n/2) * 31 * time.Second)
		for _, deep := range []bool{false, true} {
			var after, pageName string
			switch {
			case !deep:
				pageName = "first"
			case sort == storage.SortNewest:
				pageName, after = "deep", storage.EncodeCursor(storage.Cursor{CreatedAt: mid})
			default:
				pageName, after = "deep", storage.EncodeExpiryCursor(storage.ExpiryCursor{ValidUntil: mid.Add(15 * 24 * time.Hour)})
			}
			add := func(name string, f storage.GuestFilter) {
				f.Sort, f.After, f.Limit = sort, after, 50
				cs = append(cs, listCase{fmt.Sprintf("%s, %s, %s", name, sortName, pageName), f})
			}
			add("sponsor 50k", storage.GuestFilter{SponsorID: busy})
			add("sponsor 4.5k", storage.GuestFilter{SponsorID: other})
			for _, st := range statuses {
				add("sponsor 50k "+string(st), storage.GuestFilter{SponsorID: busy, Status: []storage.GuestStatus{st}})
			}
			add("sponsor 50k company", storage.GuestFilter{SponsorID: busy, Query: busyCompany})
			add("sponsor 50k active surname", storage.GuestFilter{SponsorID: busy, Query: busySurname,
				Status: []storage.GuestStatus{storage.GuestActive}})
			add("sponsor 50k pending company", storage.GuestFilter{SponsorID: busy, Query: busyCompany,
				Status: []storage.GuestStatus{storage.GuestPending}})
			for _, st := range statuses {
				add("all "+string(st), storage.GuestFilter{Status: []storage.GuestStatus{st}})
			}
			add("all pending+suspended", storage.GuestFilter{Status: []storage.GuestStatus{storage.GuestPending, storage.GuestSuspended}})
			add("pending company", storage.GuestFilter{Query: benchOrg[0], Status: []storage.GuestStatus{storage.GuestPending}})
			add("active surname", storage.GuestFilter{Query: benchLast[5], Status: []storage.GuestStatus{storage.GuestActive}})
		}
	}
	return cs
}

// benchLists measures the sponsor pages' lists (listCases) in s, which
// holds the benchmark's n guests, as p50 and p99 over repeated rounds, and
// then again without the indexes of 009_sponsor_list, as before it, on the
// same data: the two must find the same guests.
func benchLists(b *testing.B, be SearchBackend, s storage.Store, n int, base time.Time) {
	const rounds, prevRounds = 10, 3
	cases := listCases(n, base)
	ctx := b.Context()
	run := func(rounds int) (map[string][]time.Duration, map[string][]uuid.UUID) {
		took := map[string][]time.Duration{}
		found := map[string][]uuid.UUID{}
		for range rounds {
			for _, c := range cases {
				t0 := time.Now()
				page, err := s.ListGuests(ctx, c.f)
				d := time.Since(t0)
				if err != nil {
					b.Fatalf("ListGuests(%s): %v", c.name, err)
				}
				took[c.name] = append(took[c.name], d)
				if _, ok := found[c.name]; !ok {
					ids := make([]uuid.UUID, 0, len(page.Guests))
					for _, g := range page.Guests {
						ids = append(ids, g.ID)
					}
					found[c.name] = ids
				}
			}
		}
		return took, found
	}
	took, found := run(rounds)
	for _, c := range cases {
		if c.f.After == "" && len(found[c.name]) == 0 {
			b.Errorf("%s: empty page", c.name)
		}
	}
	for _, idx := range ListIndexes {
		be.DropIndex(b, s, idx)
	}
	prev, prevFound := run(prevRounds)
	b.Logf("%-48s %10s %10s %12s %12s %8s", "list", "p50", "p99", "before p50", "before max", "x")
	var all []time.Duration
	for _, c := range cases {
		if !slices.Equal(found[c.name], prevFound[c.name]) {
			b.Errorf("%s: the page differs from the one found before 009_sponsor_list", c.name)
		}
		p50, p99 := percentile(took[c.name], 50), percentile(took[c.name], 99)
		q50, q99 := percentile(prev[c.name], 50), percentile(prev[c.name], 100)
		b.Logf("%-48s %10s %10s %12s %12s %8.0f", c.name, p50, p99, q50, q99, float64(q50)/float64(p50))
		all = append(all, took[c.name]...)
		if p99 >= 100*time.Millisecond {
			b.Errorf("list %s: p99 %s at %d guests, want < 100ms", c.name, p99, n)
		}
	}
	b.Logf("%-48s %10s %10s", "all lists", percentile(all, 50), percentile(all, 99))
	b.ReportMetric(float64(percentile(all, 99).Microseconds())/1000, "list-p99-ms")
}

// percentile is the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s) + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// emailFragment is the first nine characters of the address's local part,
// what a sponsor half remembers.
func emailFragment(email string) string {
	local, _, _ := strings.Cut(email, "@")
	r := []rune(local)
	return string(r[:min(9, len(r))])
}
