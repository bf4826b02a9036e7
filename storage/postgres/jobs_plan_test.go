package postgres

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// jobStatements are the lifecycle job statements, for
// storetest.JobPlanCases.
var jobStatements = storetest.JobStatements{
	Due: dueSQL,
	DueIndex: func(job storage.GuestJob) string {
		d, _ := dueSpecOf(job)
		return d.index
	},
	DueArgs:   dueArgs,
	Purge:     purgeSQL,
	PurgeMail: purgeMailSQL,
	Time:      func(t time.Time) any { return storage.Truncate(t) },
}

// explain returns the plan of c in tx: the custom plan for c's arguments,
// or with generic the plan Postgres caches for any arguments (as it may
// after a prepared statement's fifth run).
func explain(t testing.TB, tx pgx.Tx, c storetest.PlanCase, generic bool) string {
	t.Helper()
	ctx := t.Context()
	q := "EXPLAIN " + c.SQL
	if generic {
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "PREPARE job_plan AS "+c.SQL); err != nil {
			t.Fatalf("%s: PREPARE: %v", c.Name, err)
		}
		defer func() {
			if _, err := tx.Exec(ctx, "DEALLOCATE job_plan"); err != nil {
				t.Fatal(err)
			}
		}()
		// EXECUTE takes no parameters of the protocol: literals.
		ps := make([]string, len(c.Args))
		for i, a := range c.Args {
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
				t.Fatalf("%s: no literal for %T", c.Name, a)
			}
		}
		return queryPlan(t, tx, c.Name, "EXPLAIN EXECUTE job_plan("+strings.Join(ps, ", ")+")", pgx.QueryExecModeSimpleProtocol)
	}
	return queryPlan(t, tx, c.Name, q, c.Args...)
}

// queryPlan runs the EXPLAIN statement q on db and returns its plan, one
// step a line; name says which case failed.
func queryPlan(t testing.TB, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, name, q string, args ...any) string {
	t.Helper()
	rows, err := db.Query(t.Context(), q, args...)
	if err != nil {
		t.Fatalf("%s: %s: %v", name, q, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %s: %v", name, q, err)
	}
	return strings.Join(lines, "\n")
}

// checkPlan fails t unless plan scans c.Index and has no sequential scan,
// bitmap scan (which loses the order) or sort. Expiry notices must scan
// their index alone (Index Only Scan): that checks the validity against the
// notice without reading the rows.
func checkPlan(t testing.TB, c storetest.PlanCase, plan string) {
	t.Helper()
	// An index scan or an index-only scan: which of the two depends on the
	// visibility map, which VACUUM cannot set while another test's
	// transaction is open; BenchmarkJobs1M shows the index-only scan.
	if !strings.Contains(plan, " using "+c.Index+" on ") {
		t.Errorf("%s: the plan does not scan %s:\n%s", c.Name, c.Index, plan)
	}
	for _, bad := range []string{"Seq Scan", "Bitmap", "Sort"} {
		if strings.Contains(plan, bad) {
			t.Errorf("%s: the plan has a %s:\n%s", c.Name, bad, plan)
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
	for _, c := range storetest.JobPlanCases(t, now, jobStatements) {
		checkPlan(t, c, explain(t, tx, c, false))
		g := c
		g.Name += " (generic plan)"
		checkPlan(t, g, explain(t, tx, c, true))
	}
	// And the statements do what their plans say: nothing is due at now.
	storetest.CheckNothingDue(t, s, now)
}
