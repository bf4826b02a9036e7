package sqlite

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// TestLookupAPITokenPlan: a request's token check is one search of
// api_tokens_hash_key and one of the staff table's key, no scan, before
// and after ANALYZE has seen many tokens.
func TestLookupAPITokenPlan(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openT(t, filepath.Join(t.TempDir(), "lobby.db"), storage.Options{Sealer: storetest.NewSealer(t)})
	c := storetest.PlanCase{Name: "look up", SQL: lookupAPITokenSQL, Args: []any{storage.HashAPIToken("lobby_x")}, Index: "api_tokens_hash_key"}
	check := func() {
		t.Helper()
		checkPlan(t, s, c)
		for _, d := range queryPlan(t, s.w, c.SQL, c.Args...) {
			if strings.HasPrefix(d, "SCAN ") {
				t.Errorf("the plan scans a table: %q", d)
			}
		}
	}
	check()
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
	if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	check()
}
