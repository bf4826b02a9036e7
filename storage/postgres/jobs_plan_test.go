package postgres

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lobbyhq/lobby/storage"
)

// planCase is one statement the lifecycle jobs run and the index it must
// scan.
type planCase struct {
	name  string
	sql   string
	args  []any
	index string
}

// jobPlanCases are every job statement, with arguments as a run at now
// passes them: ListGuestsDue's first and a later page, PurgeGuests,
// PurgeMail's batch.
func jobPlanCases(t testing.TB, now time.Time) []planCase {
	t.Helper()
	var cs []planCase
	for _, job := range storage.GuestJobs {
		q, err := dueSQL(job)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := dueSpecOf(job)
		f := storage.DueFilter{Job: job, Before: now.Add(-90 * 24 * time.Hour)}
		switch job {
		case storage.DueExpiryNotice:
			f = storage.DueFilter{Job: job, After: now, Before: now.Add(24 * time.Hour), Notice: 24 * time.Hour}
		case storage.DueExpireActive, storage.DueExpireSuspended:
			f.Before = now
		}
		cs = append(cs, planCase{job.String() + " first page", q, dueArgs(f, 201), d.index})
		f.Cursor = storage.DueCursor{Key: f.Before.Add(-time.Hour), ID: uuid.New()}
		cs = append(cs, planCase{job.String() + " next page", q, dueArgs(f, 201), d.index})
		if job.Purge() {
			p, err := purgeSQL(job)
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, planCase{job.String() + " delete", p, []any{storage.Truncate(f.Before), storage.MaxPurgeBatch}, d.index})
		}
	}
	return append(cs, planCase{"purge mail", purgeMailSQL, []any{storage.Truncate(now), storage.MaxPurgeBatch}, "outbox_purge_idx"})
}

// explain returns the plan of c in tx: the custom plan for c's arguments,
// or with generic the plan Postgres caches for any arguments (as it may
// after a prepared statement's fifth run).
func explain(t testing.TB, tx pgx.Tx, c planCase, generic bool) string {
	t.Helper()
	ctx := t.Context()
	q := "EXPLAIN " + c.sql
	if generic {
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "PREPARE job_plan AS "+c.sql); err != nil {
			t.Fatalf("%s: PREPARE: %v", c.name, err)
		}
		defer func() {
			if _, err := tx.Exec(ctx, "DEALLOCATE job_plan"); err != nil {
				t.Fatal(err)
			}
		}()
		// EXECUTE takes no parameters of the protocol: literals.
		ps := make([]string, len(c.args))
		for i, a := range c.args {
			switch a := a.(type) {
			case time.Time:
				ps[i] = "'" + a.Format(time.RFC3339Nano) + "'"
			case uuid.UUID:
				ps[i] = "'" + a.String() + "'"
			case int:
				ps[i] = strconv.Itoa(a)
			case int64:
				ps[i] = strconv.FormatInt(a, 10)
			default:
				t.Fatalf("%s: no literal for %T", c.name, a)
			}
		}
		rows, err := tx.Query(ctx, "EXPLAIN EXECUTE job_plan("+strings.Join(ps, ", ")+")", pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("%s: EXPLAIN EXECUTE: %v", c.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: EXPLAIN EXECUTE: %v", c.name, err)
		}
		return strings.Join(lines, "\n")
	}
	rows, err := tx.Query(ctx, q, c.args...)
	if err != nil {
		t.Fatalf("%s: %s: %v", c.name, q, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: EXPLAIN: %v", c.name, err)
	}
	return strings.Join(lines, "\n")
}

// checkPlan fails t unless plan scans c.index and has no sequential scan,
// bitmap scan (which loses the order) or sort. Expiry notices must scan
// their index alone (Index Only Scan): that checks the validity against the
// notice without reading the rows.
func checkPlan(t testing.TB, c planCase, plan string) {
	t.Helper()
	ok := strings.Contains(plan, " using "+c.index+" on ")
	if c.index == "guests_expiry_notice_idx" {
		ok = strings.Contains(plan, "Index Only Scan using "+c.index+" on ")
	}
	if !ok {
		t.Errorf("%s: the plan does not scan %s:\n%s", c.name, c.index, plan)
	}
	for _, bad := range []string{"Seq Scan", "Bitmap", "Sort"} {
		if strings.Contains(plan, bad) {
			t.Errorf("%s: the plan has a %s:\n%s", c.name, bad, plan)
		}
	}
}

// TestJobPlansUseTheirIndexes: every statement of the lifecycle jobs scans
// its index in key order (no sequential scan, no sort), in its custom plan
// and in the generic plan a prepared statement may switch to. The table is
// small, so the planner is told to avoid what it may still pick at this
// size but must never need (sequential and bitmap scans, sorts): if the
// index cannot serve a statement, the plan keeps them and the test fails.
// At a million rows BenchmarkJobs1M shows the plans the planner picks
// unaided.
func TestJobPlansUseTheirIndexes(t *testing.T) {
	t.Parallel()
	db := newInternalDB(t)
	s := db.open(t)
	ctx := t.Context()
	now := time.Now().UTC()
	if err := seedJobs(ctx, s, now, 5000, 5000); err != nil {
		t.Fatal(err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off"); err != nil {
		t.Fatal(err)
	}
	for _, c := range jobPlanCases(t, now) {
		checkPlan(t, c, explain(t, tx, c, false))
		g := c
		g.name += " (generic plan)"
		checkPlan(t, g, explain(t, tx, c, true))
	}
	// And the statements do what their plans say: nothing is due at now.
	for _, job := range storage.GuestJobs {
		f := storage.DueFilter{Job: job, Before: now.Add(-90 * 24 * time.Hour)}
		switch job {
		case storage.DueExpiryNotice:
			f = storage.DueFilter{Job: job, After: now, Before: now.Add(24 * time.Hour), Notice: 24 * time.Hour}
		case storage.DueExpireActive, storage.DueExpireSuspended:
			f.Before = now
		}
		if page, err := s.ListGuestsDue(ctx, f); err != nil || len(page.Guests) != 0 {
			t.Errorf("seeded data: %s at now: %d guests, %v; want nothing due", job, len(page.Guests), err)
		}
	}
}
