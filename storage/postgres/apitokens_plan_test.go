package postgres

import (
	"fmt"
	"testing"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// TestLookupAPITokenPlan: a request's token check scans
// api_tokens_hash_key (and staff's key), never a whole table, in its
// custom and generic plans. As in TestJobPlansUseTheirIndexes the tables
// are small, so the planner is told to avoid what it must never need.
func TestLookupAPITokenPlan(t *testing.T) {
	t.Parallel()
	db := newInternalDB(t)
	s := db.open(t)
	ctx := t.Context()
	for i := range 20 {
		st := &storage.Staff{Username: fmt.Sprintf("s%d", i), Role: storage.RoleSponsor}
		if err := s.CreateStaff(ctx, st); err != nil {
			t.Fatal(err)
		}
		for j := range 50 {
			if err := s.CreateAPIToken(ctx, &storage.APIToken{StaffID: st.ID, Hash: storage.HashAPIToken(fmt.Sprintf("lobby_%d_%d", i, j))}); err != nil {
				t.Fatal(err)
			}
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
	c := storetest.PlanCase{Name: "look up", SQL: lookupAPITokenSQL, Args: []any{storage.HashAPIToken("lobby_3_7")}, Index: "api_tokens_hash_key"}
	checkPlan(t, c, explain(t, tx, c, false))
}
