package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	Time:      func(t time.Time) any { return micros(t) },
}

// checkPlan fails t unless c's plan searches c.Index, scans no table or
// whole index, and sorts nothing in a temporary B-tree.
func checkPlan(t testing.TB, s *Store, c storetest.PlanCase) {
	t.Helper()
	plan := queryPlan(t, s.w, c.SQL, c.Args...)
	all := strings.Join(plan, "\n")
	uses := false
	for _, d := range plan {
		if strings.HasPrefix(d, "SEARCH ") && (strings.Contains(d, "USING INDEX "+c.Index+" ") || strings.Contains(d, "USING COVERING INDEX "+c.Index+" ")) {
			uses = true
		}
		if strings.HasPrefix(d, "SCAN guests") || strings.HasPrefix(d, "SCAN outbox") || strings.Contains(d, "TEMP B-TREE") {
			t.Errorf("%s: the plan has %q:\n%s", c.Name, d, all)
		}
	}
	if !uses {
		t.Errorf("%s: the plan does not search %s:\n%s", c.Name, c.Index, all)
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
	s := openT(t, filepath.Join(t.TempDir(), "lobby.db"), storage.Options{Sealer: storetest.NewSealer(t)})
	if err := seedJobs(ctx, s, now, 5000, 5000); err != nil {
		t.Fatal(err)
	}
	for _, stats := range []string{"no statistics", "after ANALYZE"} {
		if stats == "after ANALYZE" {
			if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range storetest.JobPlanCases(t, now, jobStatements) {
			c.Name = stats + ": " + c.Name
			checkPlan(t, s, c)
		}
	}
	// And the statements do what their plans say: nothing is due at now.
	storetest.CheckNothingDue(t, s, now)
}
