package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// TestMailLogPlansUseTheirIndexes: every mail log list walks its index in
// (created_at, id) order with no table scan and no sort, except a search,
// which asks the mail_search trigram table and sorts its few matches; both
// without statistics and after ANALYZE.
func TestMailLogPlansUseTheirIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Now().UTC()
	s := openT(t, filepath.Join(t.TempDir(), "lobby.db"), storage.Options{Sealer: storetest.NewSealer(t)})
	if err := seedJobs(ctx, s, now, 0, 5000); err != nil {
		t.Fatal(err)
	}
	for _, stats := range []string{"no statistics", "after ANALYZE"} {
		if stats == "after ANALYZE" {
			if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range storetest.MailLogPlanCases(t, now, listMailSQL, "mail_search") {
			plan := queryPlan(t, s.w, c.SQL, c.Args...)
			all := strings.Join(plan, "\n")
			search := c.Index == "mail_search"
			uses := false
			for _, d := range plan {
				if search && strings.HasPrefix(d, "SCAN mail_search VIRTUAL TABLE") ||
					strings.Contains(d, "INDEX "+c.Index+" ") || strings.HasSuffix(d, "INDEX "+c.Index) {
					uses = true
				}
				if d == "SCAN outbox" || strings.Contains(d, "TEMP B-TREE") && !search && !c.SortsFew {
					t.Errorf("%s: %s: the plan has %q:\n%s", stats, c.Name, d, all)
				}
			}
			if !uses {
				t.Errorf("%s: %s: the plan does not use %s:\n%s", stats, c.Name, c.Index, all)
			}
		}
	}
	// The search finds the one message it names.
	ms, err := s.ListMail(ctx, storage.MailFilter{Query: storetest.MailLogSearchQuery})
	if err != nil || len(ms) != 1 || ms[0].Recipient != "g4242@example.com" {
		t.Fatalf("search %q: %d messages, %v; want g4242@example.com", storetest.MailLogSearchQuery, len(ms), err)
	}
}
