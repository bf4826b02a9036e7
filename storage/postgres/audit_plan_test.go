package postgres

import (
	"fmt"
	"math"
	"testing"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// TestAuditForPlan: a guest's history scans audit_subject_id_idx in key
// order (no sequential scan, no sort), in its custom and generic plans.
// As in TestJobPlansUseTheirIndexes the table is small, so the planner is
// told to avoid what it must never need.
func TestAuditForPlan(t *testing.T) {
	t.Parallel()
	db := newInternalDB(t)
	s := db.open(t)
	ctx := t.Context()
	for i := range 2000 {
		if err := s.Audit(ctx, storage.AuditEntry{Actor: "system", Action: "x", Subject: fmt.Sprintf("guest-%d", i%200)}); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []storetest.PlanCase{
		{Name: "first page", SQL: auditForSQL, Args: []any{"guest-7", int64(math.MaxInt64), 50}, Index: "audit_subject_id_idx"},
		{Name: "next page", SQL: auditForSQL, Args: []any{"guest-7", int64(1000), 50}, Index: "audit_subject_id_idx"},
	} {
		checkPlan(t, c, explain(t, tx, c, false))
	}
}
