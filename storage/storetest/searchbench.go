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
}

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
	st := storage.GuestActive
	switch i % 10 {
	case 7:
		st = storage.GuestExpired
	case 8:
		st = storage.GuestPending
	case 9:
		st = storage.GuestSuspended
	}
	id := uuid.New()
	return &storage.Guest{
		ID: id, Username: local, FirstName: first, LastName: last, Email: local + "@" + domain,
		Phone: fmt.Sprintf("+44 20 %04d %04d", (i/10000)%10000, i%10000), Company: org, GuestType: "daily",
		Status: st, ValidFrom: created, ValidUntil: created.Add(time.Duration(1+i%30) * 24 * time.Hour),
		CreatedAt: created, UpdatedAt: created,
	}
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
	if p99 >= 100*time.Millisecond {
		b.Errorf("search p99 %s at %d guests, want < 100ms", p99, n)
	}
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
