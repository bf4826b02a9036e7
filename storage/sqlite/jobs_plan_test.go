package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// planCase is one statement the lifecycle jobs run and the index it must
// search.
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
			cs = append(cs, planCase{job.String() + " delete", p, []any{micros(f.Before), storage.MaxPurgeBatch}, d.index})
		}
	}
	return append(cs, planCase{"purge mail", purgeMailSQL, []any{micros(now), storage.MaxPurgeBatch}, "outbox_purge_idx"})
}

// checkPlan fails t unless c's plan searches c.index, scans no table or
// whole index, and sorts nothing in a temporary B-tree.
func checkPlan(t testing.TB, s *Store, c planCase) {
	t.Helper()
	rows, err := s.w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+c.sql, c.args...)
	if err != nil {
		t.Fatalf("%s: EXPLAIN QUERY PLAN: %v", c.name, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(plan, "\n")
	uses := false
	for _, d := range plan {
		if strings.HasPrefix(d, "SEARCH ") && (strings.Contains(d, "USING INDEX "+c.index+" ") || strings.Contains(d, "USING COVERING INDEX "+c.index+" ")) {
			uses = true
		}
		if strings.HasPrefix(d, "SCAN guests") || strings.HasPrefix(d, "SCAN outbox") || strings.Contains(d, "TEMP B-TREE") {
			t.Errorf("%s: the plan has %q:\n%s", c.name, d, all)
		}
	}
	if !uses {
		t.Errorf("%s: the plan does not search %s:\n%s", c.name, c.index, all)
	}
}

// TestJobPlansUseTheirIndexes: every statement of the lifecycle jobs
// searches its index in key order (no table scan, no sorting), both on a
// database without statistics and after ANALYZE has seen a realistic
// spread of guests and mail.
func TestJobPlansUseTheirIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Now().UTC()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "lobby.db"), storage.Options{Sealer: storetest.NewSealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := seedJobs(ctx, s, now, 5000, 5000); err != nil {
		t.Fatal(err)
	}
	for _, stats := range []string{"no statistics", "after ANALYZE"} {
		if stats == "after ANALYZE" {
			if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range jobPlanCases(t, now) {
			c.name = stats + ": " + c.name
			checkPlan(t, s, c)
		}
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
			t.Errorf("seeded data: %s at now: %v, %v; want nothing due", job, page, err)
		}
	}
}
