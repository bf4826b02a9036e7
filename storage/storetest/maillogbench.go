package storetest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// MailLogBenchMessages is how many messages BenchMailLog1M loads; the env
// variable LOBBY_BENCH_MAIL sets another number (for a quicker try).
const MailLogBenchMessages = 1_000_000

// MailLogBenchBackend is what BenchMailLog1M needs from a backend.
type MailLogBenchBackend struct {
	Name string
	// Seeded opens a store on a fresh database holding n messages as the
	// backends' seedJobs spreads them (96 % sent, 2 % dead, 2 % queued,
	// created in the last 88 days, recipient g<i>@example.com), with
	// current statistics.
	Seeded func(b *testing.B, now time.Time, n int) storage.Store
	// ScanSearch is the baseline of the search: the first page of messages
	// whose recipient or subject contains q, by the statement ListMail ran
	// before migration 010 (a substring test on every row, newest first).
	// It returns how many rows it found.
	ScanSearch func(b *testing.B, s storage.Store, q string, limit int) int
	// Plans, if set, returns the plans of the measured lists for the log.
	Plans func(b *testing.B, s storage.Store, now time.Time) string
}

// BenchMailLog1M measures the mail log's first page at a million messages
// (LOBBY_BENCH_1M=1): a recipient search (one message's address, a
// different one each time) and a status filter (dead letters), as p50/p99,
// against two baselines in the same run: the newest page with no filter
// (the cheapest list there is) and the search as it ran before migration
// 010 (a scan).
func BenchMailLog1M(b *testing.B, be MailLogBenchBackend) {
	if os.Getenv(SearchBenchEnv) != "1" {
		b.Skipf("set %s=1 to run the million-message mail log benchmark (seeding takes minutes)", SearchBenchEnv)
	}
	n := MailLogBenchMessages
	if v := os.Getenv("LOBBY_BENCH_MAIL"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10_000 {
			b.Fatalf("LOBBY_BENCH_MAIL=%q: want a number of messages, at least 10000", v)
		}
	}
	ctx := b.Context()
	now := storage.Truncate(time.Now())
	var s storage.Store
	seeded := timed(b, func() error { s = be.Seeded(b, now, n); return nil })
	fmt.Printf("%s: seeded %d messages in %s\n", be.Name, n, seeded.Round(time.Second))
	if be.Plans != nil {
		fmt.Printf("%s: plans at %d messages:\n%s\n", be.Name, n, be.Plans(b, s, now))
	}
	const limit, rounds, scanRounds = 50, 200, 20
	rng := rand.New(rand.NewPCG(1, 2))
	recipient := func() string { return "g" + strconv.Itoa(1+rng.IntN(n)) + "@example" }
	list := func(f storage.MailFilter, want func(int) bool) func() error {
		return func() error {
			f.Limit = limit
			ms, err := s.ListMail(ctx, f)
			if err == nil && !want(len(ms)) {
				err = fmt.Errorf("ListMail(%+v): %d messages", f, len(ms))
			}
			return err
		}
	}
	full := func(got int) bool { return got == limit }
	var newest, dead, search, scan latencies
	for range rounds {
		newest = append(newest, timed(b, list(storage.MailFilter{}, full)))
		dead = append(dead, timed(b, list(storage.MailFilter{Status: []storage.MailStatus{storage.MailDead}}, full)))
		q := recipient()
		// g12@example also matches g120@example.com...: one or more.
		search = append(search, timed(b, list(storage.MailFilter{Query: q}, func(got int) bool { return got >= 1 })))
	}
	for range scanRounds {
		q := recipient()
		scan = append(scan, timed(b, func() error {
			if got := be.ScanSearch(b, s, q, limit); got < 1 {
				return fmt.Errorf("scan search %q: nothing found", q)
			}
			return nil
		}))
	}
	ratio := func(a, base latencies, p int) float64 { return float64(a.pct(p)) / float64(base.pct(p)) }
	fmt.Printf("%s: mail log first page (%d rows) at %d messages\n", be.Name, limit, n)
	fmt.Printf("  newest, no filter (baseline) %s\n", newest)
	fmt.Printf("  status dead                  %s  (p50 %.2fx, p99 %.2fx the newest page)\n", dead, ratio(dead, newest, 50), ratio(dead, newest, 99))
	fmt.Printf("  recipient search             %s  (p50 %.2fx, p99 %.2fx the newest page)\n", search, ratio(search, newest, 50), ratio(search, newest, 99))
	fmt.Printf("  search by scan, before 010   %s  (the index search is %.0fx faster at p50)\n", scan, ratio(scan, search, 50))
	for _, c := range []struct {
		name string
		l    latencies
	}{{"status dead", dead}, {"recipient search", search}} {
		if p99 := c.l.pct(99); p99 >= 100*time.Millisecond {
			b.Errorf("%s: first page p99 %.1f ms, want < 100 ms", c.name, ms(p99))
		}
	}
	b.ReportMetric(ms(search.pct(99)), "search-p99-ms")
	b.ReportMetric(ms(dead.pct(99)), "dead-p99-ms")
}
