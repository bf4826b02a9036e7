package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// TestMailLogPlansUseTheirIndexes: every mail log list scans its index in
// (created_at, id) order with no sequential scan and no sort, except a
// search, which takes its matches from the trigram index (a bitmap scan)
// and sorts them. The table is small, so the planner is told to avoid what
// it may pick at this size but must never need; BenchmarkMailLog1M shows
// the plans at a million messages.
func TestMailLogPlansUseTheirIndexes(t *testing.T) {
	t.Parallel()
	db := newInternalDB(t)
	s := db.open(t)
	ctx := t.Context()
	now := time.Now().UTC()
	if err := seedJobs(ctx, s, now, 0, 5000); err != nil {
		t.Fatal(err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	for _, c := range storetest.MailLogPlanCases(t, now, listMailSQL, "outbox_search_trgm_idx") {
		search := c.Index == "outbox_search_trgm_idx"
		set := "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off"
		switch {
		case search:
			set = "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = on; SET LOCAL enable_sort = on"
		case c.SortsFew:
			set = "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = on"
		}
		if _, err := tx.Exec(ctx, set); err != nil {
			t.Fatal(err)
		}
		plan := queryPlan(t, tx, c.Name, "EXPLAIN "+c.SQL, c.Args...)
		if !strings.Contains(plan, " using "+c.Index+" on ") && !strings.Contains(plan, " on "+c.Index+" ") {
			t.Errorf("%s: the plan does not use %s:\n%s", c.Name, c.Index, plan)
		}
		bad := []string{"Seq Scan", "Bitmap", "Sort"}
		switch {
		case search:
			bad = []string{"Seq Scan"}
		case c.SortsFew:
			bad = []string{"Seq Scan", "Bitmap"}
		}
		for _, b := range bad {
			if strings.Contains(plan, b) {
				t.Errorf("%s: the plan has a %s:\n%s", c.Name, b, plan)
			}
		}
	}
	ms, err := s.ListMail(ctx, storage.MailFilter{Query: storetest.MailLogSearchQuery})
	if err != nil || len(ms) != 1 || ms[0].Recipient != "g4242@example.com" {
		t.Fatalf("search %q: %d messages, %v; want g4242@example.com", storetest.MailLogSearchQuery, len(ms), err)
	}
}
