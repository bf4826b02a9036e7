package storetest

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// Jobs1MEnv gates BenchmarkJobs1M: seeding a million guests and a million
// messages takes minutes, so the benchmark runs only with LOBBY_BENCH_1M=1.
const Jobs1MEnv = "LOBBY_BENCH_1M"

// JobsBenchBackend is what the lifecycle job benchmark needs from a backend.
type JobsBenchBackend struct {
	Name string
	// Seeded opens a store on a fresh database holding guests and mail
	// messages spread as the backends' seedJobs spreads them: nothing due at
	// now for any job (PurgeAfter 90 days, a 24-hour notice), a few per cent
	// of each job's rows due two days later. Statistics are current.
	Seeded func(b *testing.B, now time.Time, guests, mail int) storage.Store
	// OldSchema puts the database's indexes back as they were before
	// migration 005, for the baseline.
	OldSchema func(b *testing.B, s storage.Store)
	// OldPurgeMail runs PurgeMail's statement from before migration 005
	// (one DELETE of everything due) and returns how many rows it deleted.
	OldPurgeMail func(b *testing.B, s storage.Store, olderThan time.Time) int
	// Plans, if set, returns the plans of the job statements for the log.
	Plans func(b *testing.B, s storage.Store, now time.Time) string
}

// latencies collects durations and reports percentiles.
type latencies []time.Duration

func (l latencies) pct(p int) time.Duration { return percentile(l, p) }

func (l latencies) String() string {
	return fmt.Sprintf("n=%-5d p50=%8.2fms p99=%8.2fms max=%8.2fms", len(l), ms(l.pct(50)), ms(l.pct(99)), ms(l.pct(100)))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// timed runs fn and returns how long it took.
func timed(b *testing.B, fn func() error) time.Duration {
	b.Helper()
	start := time.Now()
	if err := fn(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchJobs1M measures the lifecycle jobs at a million guests and a million
// messages: each job page and each purge batch, and a whole cycle with
// nothing due, as p50/p99; then, on the same data with the indexes from
// before migration 005, the queries the jobs ran before (ListGuests by
// creation time, skipping in Go, one DELETE for mail), for the ratios.
func BenchJobs1M(b *testing.B, be JobsBenchBackend) {
	if os.Getenv(Jobs1MEnv) != "1" {
		b.Skipf("set %s=1 to run the million-guest job benchmark (seeding takes minutes)", Jobs1MEnv)
	}
	const (
		guests     = 1_000_000
		messages   = 1_000_000
		purgeAfter = 90 * 24 * time.Hour
		notice     = 24 * time.Hour
		page       = 200 // the job runner's page
	)
	ctx := b.Context()
	now := storage.Truncate(time.Now())
	var seeded time.Duration
	var s storage.Store
	seeded = timed(b, func() error { s = be.Seeded(b, now, guests, messages); return nil })
	// Printed, not logged: the testing package cuts a benchmark's log to
	// ten lines.
	fmt.Printf("%s: seeded %d guests and %d messages in %s\n", be.Name, guests, messages, seeded.Round(time.Second))
	if be.Plans != nil {
		fmt.Printf("%s: plans at 1M:\n%s\n", be.Name, be.Plans(b, s, now))
	}

	// A cycle with nothing due: the statements RunOnce makes, in order.
	type step struct {
		name string
		run  func(at time.Time) error
	}
	list := func(f storage.DueFilter) func(time.Time) error {
		return func(time.Time) error {
			f.Limit = page
			p, err := s.ListGuestsDue(ctx, f)
			if err == nil && len(p.Guests) > 0 {
				err = fmt.Errorf("%s: %d guests due in the idle cycle", f.Job, len(p.Guests))
			}
			return err
		}
	}
	purge := func(job storage.GuestJob) func(time.Time) error {
		return func(time.Time) error {
			return s.WithTx(ctx, func(tx storage.Store) error {
				gs, err := tx.PurgeGuests(ctx, job, now.Add(-purgeAfter), storage.MaxPurgeBatch)
				if err == nil && len(gs) > 0 {
					err = fmt.Errorf("%s: %d guests purged in the idle cycle", job, len(gs))
				}
				return err
			})
		}
	}
	steps := []step{
		{"expiry-notice", list(storage.DueFilter{Job: storage.DueExpiryNotice, After: now, Before: now.Add(notice), Notice: notice})},
		{"expire-active", list(storage.DueFilter{Job: storage.DueExpireActive, Before: now})},
		{"expire-suspended", list(storage.DueFilter{Job: storage.DueExpireSuspended, Before: now})},
		{"purge-expired", purge(storage.DuePurgeExpired)},
		{"purge-denied", purge(storage.DuePurgeDenied)},
		{"purge-mail", func(time.Time) error {
			n, err := s.PurgeMail(ctx, now.Add(-purgeAfter))
			if err == nil && n > 0 {
				err = fmt.Errorf("purge mail: %d messages in the idle cycle", n)
			}
			return err
		}},
	}
	var idle latencies
	perStep := map[string]latencies{}
	for range 50 {
		var total time.Duration
		for _, st := range steps {
			d := timed(b, func() error { return st.run(now) })
			perStep[st.name] = append(perStep[st.name], d)
			total += d
		}
		idle = append(idle, total)
	}
	var out strings.Builder
	fmt.Fprintf(&out, "%s at 1M guests, 1M messages\n", be.Name)
	fmt.Fprintf(&out, "  idle cycle (nothing due)           %s\n", idle)
	for _, st := range steps {
		fmt.Fprintf(&out, "    %-32s %s\n", st.name, perStep[st.name])
	}

	// Job pages with work to do: two days on, walked to the end.
	later := now.Add(48 * time.Hour)
	walks := []storage.DueFilter{
		{Job: storage.DueExpiryNotice, After: later, Before: later.Add(notice), Notice: notice},
		{Job: storage.DueExpireActive, Before: later},
		{Job: storage.DueExpireSuspended, Before: later},
		{Job: storage.DuePurgeExpired, Before: later.Add(-purgeAfter)},
		{Job: storage.DuePurgeDenied, Before: later.Add(-purgeAfter)},
	}
	var allPages latencies
	due := map[storage.GuestJob][]storage.DueGuest{}
	for _, f := range walks {
		f.Limit = page
		var l latencies
		for {
			var p *storage.DuePage
			l = append(l, timed(b, func() (err error) { p, err = s.ListGuestsDue(ctx, f); return err }))
			due[f.Job] = append(due[f.Job], p.Guests...)
			if p.Next.IsZero() {
				break
			}
			f.Cursor = p.Next
		}
		allPages = append(allPages, l...)
		fmt.Fprintf(&out, "  page of %d, %-22s %s (%d guests due)\n", page, f.Job.String()+":", l, len(due[f.Job]))
	}
	fmt.Fprintf(&out, "  every job page                     %s\n", allPages)

	// Purges two days on: batches of MaxPurgeBatch, with an audit entry per
	// guest as the job runner writes them.
	for _, job := range []storage.GuestJob{storage.DuePurgeExpired, storage.DuePurgeDenied} {
		var stmt, batch latencies
		total := 0
		for {
			var gone []*storage.Guest
			d := timed(b, func() error {
				return s.WithTx(ctx, func(tx storage.Store) error {
					var err error
					start := time.Now()
					if gone, err = tx.PurgeGuests(ctx, job, later.Add(-purgeAfter), storage.MaxPurgeBatch); err != nil {
						return err
					}
					stmt = append(stmt, time.Since(start))
					for _, g := range gone {
						if err := tx.Audit(ctx, storage.AuditEntry{Actor: "system", Action: "guest.purge", Subject: g.ID.String(), Detail: "bench"}); err != nil {
							return err
						}
					}
					return nil
				})
			})
			batch = append(batch, d)
			total += len(gone)
			if len(gone) < storage.MaxPurgeBatch {
				break
			}
		}
		fmt.Fprintf(&out, "  %-16s DELETE of <=%d      %s (%d guests)\n", job.String()+":", storage.MaxPurgeBatch, stmt, total)
		fmt.Fprintf(&out, "  %-16s batch with audit     %s\n", job.String()+":", batch)
	}
	// Mail: each PurgeMail call below finds about 950 messages (one batch).
	var mailBatches latencies
	mailTotal := 0
	for i := range 20 {
		var n int
		mailBatches = append(mailBatches, timed(b, func() (err error) {
			n, err = s.PurgeMail(ctx, now.Add(-88*24*time.Hour+time.Duration(i+1)*2*time.Hour))
			return err
		}))
		mailTotal += n
	}
	fmt.Fprintf(&out, "  purge-mail: one batch              %s (%d messages)\n", mailBatches, mailTotal)
	b.ReportMetric(ms(idle.pct(50)), "idle-p50-ms")
	b.ReportMetric(ms(idle.pct(99)), "idle-p99-ms")
	b.ReportMetric(ms(allPages.pct(99)), "page-p99-ms")

	// The baseline: the same data with the indexes from before migration
	// 005, and the queries the jobs ran then.
	if be.OldSchema == nil {
		fmt.Print(out.String())
		return
	}
	be.OldSchema(b, s)
	oldWalk := func(f storage.GuestFilter, budget time.Duration) (l latencies, n int, done bool) {
		f.Limit = page
		start := time.Now()
		for time.Since(start) < budget {
			var p *storage.GuestPage
			l = append(l, timed(b, func() (err error) { p, err = s.ListGuests(ctx, f); return err }))
			n += len(p.Guests)
			if p.Next == "" || len(p.Guests) == 0 {
				return l, n, true
			}
			f.After = p.Next
		}
		return l, n, false
	}
	// The idle cycle as it was: each list walked to its end, each guest
	// checked in Go, one DELETE for mail. Once, under a time budget.
	var oldIdle time.Duration
	var oldIdlePages latencies
	complete := true
	for _, f := range []storage.GuestFilter{
		{Status: []storage.GuestStatus{storage.GuestActive}, ValidUntilBefore: now.Add(notice), ExpiryNotNotified: true},
		{Status: []storage.GuestStatus{storage.GuestActive, storage.GuestSuspended}, ValidUntilBefore: now},
		{Status: []storage.GuestStatus{storage.GuestExpired}, ValidUntilBefore: now.Add(-purgeAfter)},
		{Status: []storage.GuestStatus{storage.GuestDenied}},
	} {
		start := time.Now()
		l, _, done := oldWalk(f, 2*time.Minute)
		oldIdle += time.Since(start)
		oldIdlePages = append(oldIdlePages, l...)
		complete = complete && done
	}
	oldIdle += timed(b, func() error { be.OldPurgeMail(b, s, now.Add(-purgeAfter)); return nil })
	cut := ""
	if !complete {
		cut = " (a list stopped after its 2-minute budget: more than this)"
	}
	fmt.Fprintf(&out, "  BEFORE (indexes and queries before migration 005, same data):\n")
	fmt.Fprintf(&out, "  idle cycle, once                   %.0fms%s\n", ms(oldIdle), cut)
	fmt.Fprintf(&out, "    its pages                        %s\n", oldIdlePages)
	// Pages of the old lists with work to do, sampled evenly through each
	// list (first and last included) from cursors made from the guests the
	// new walk found.
	var oldPages latencies
	for _, w := range []struct {
		job storage.GuestJob
		f   storage.GuestFilter
	}{
		{storage.DueExpiryNotice, storage.GuestFilter{Status: []storage.GuestStatus{storage.GuestActive}, ValidUntilBefore: later.Add(notice), ExpiryNotNotified: true}},
		{storage.DueExpireActive, storage.GuestFilter{Status: []storage.GuestStatus{storage.GuestActive, storage.GuestSuspended}, ValidUntilBefore: later}},
	} {
		// The old list also holds the guests the job then skipped in Go:
		// the cursors come from the rows the old filter selects.
		cursors := oldCursors(b, s, w.f, page)
		var l latencies
		for _, c := range sample(cursors, 10) {
			f := w.f
			f.Limit, f.After = page, c
			l = append(l, timed(b, func() error { _, err := s.ListGuests(ctx, f); return err }))
		}
		oldPages = append(oldPages, l...)
		fmt.Fprintf(&out, "  old page of %d, %-18s %s (%d pages in the list)\n", page, w.job.String()+":", l, len(cursors))
	}
	fmt.Fprintf(&out, "  RATIOS (before / after, same run): idle cycle p50 %.0fx; job page p99 %.0fx; job page p50 %.0fx\n",
		float64(oldIdle)/float64(idle.pct(50)), float64(oldPages.pct(99))/float64(allPages.pct(99)),
		float64(oldPages.pct(50))/float64(allPages.pct(50)))
	b.ReportMetric(float64(oldIdle)/float64(idle.pct(50)), "idle-x-faster")
	fmt.Print(out.String())
}

// oldCursors walks the old list f to its end with ListGuests' own pages of
// size page and returns each page's starting cursor ("" for the first).
// The walk itself is not timed: it only finds where the pages start.
func oldCursors(b *testing.B, s storage.Store, f storage.GuestFilter, page int) []string {
	b.Helper()
	// Pages of 500 to find the positions faster; a cursor every page rows.
	f.Limit = 500
	var rows []storage.Cursor
	for {
		p, err := s.ListGuests(b.Context(), f)
		if err != nil {
			b.Fatal(err)
		}
		for _, g := range p.Guests {
			rows = append(rows, storage.Cursor{CreatedAt: g.CreatedAt, ID: g.ID})
		}
		if p.Next == "" || len(p.Guests) == 0 {
			break
		}
		f.After = p.Next
	}
	cursors := []string{""}
	for i := page; i < len(rows); i += page {
		cursors = append(cursors, storage.EncodeCursor(rows[i-1]))
	}
	return cursors
}

// sample picks up to n of cs evenly, the first and the last among them.
func sample(cs []string, n int) []string {
	if len(cs) <= n {
		return cs
	}
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, cs[i*(len(cs)-1)/(n-1)])
	}
	return out
}
