package sqlite

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// TestAuditForPlan: a guest's history searches audit_subject_id_idx in
// key order (no scan of the audit table, no sorting), before and after
// ANALYZE has seen many subjects.
func TestAuditForPlan(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openT(t, filepath.Join(t.TempDir(), "lobby.db"), storage.Options{Sealer: storetest.NewSealer(t)})
	cases := []storetest.PlanCase{
		{Name: "first page", SQL: auditForSQL, Args: []any{"guest-7", int64(math.MaxInt64), 50}, Index: "audit_subject_id_idx"},
		{Name: "next page", SQL: auditForSQL, Args: []any{"guest-7", int64(1000), 50}, Index: "audit_subject_id_idx"},
	}
	for _, c := range cases {
		checkPlan(t, s, c)
	}
	for i := range 2000 {
		if err := s.Audit(ctx, storage.AuditEntry{Actor: "system", Action: "x", Subject: fmt.Sprintf("guest-%d", i%200)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		checkPlan(t, s, c)
	}
}
