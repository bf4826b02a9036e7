package postgres

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lobbyhq/lobby/storage"
)

// TestSearchUsesIndexes: the plans of selective guest searches use the
// trigram index (or, for a whole address, the unique email and username
// indexes), and a list by expiry walks its index, on a small table with
// fresh statistics and sequential scans priced out of this session, so
// that the planner shows what it would do with a large one. (A query that many guests match may rightly
// walk the newest-first index instead, stopping at the page's end.)
func TestSearchUsesIndexes(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	ctx := t.Context()
	base := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	// As CreateGuest stores them, by COPY to keep the test quick.
	const n = 5000
	statuses := []storage.GuestStatus{storage.GuestActive, storage.GuestActive, storage.GuestPending, storage.GuestExpired}
	i := 0
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"guests"}, []string{"id", "username", "username_key", "email", "first_name",
		"last_name", "company", "status", "valid_until", "created_at", "updated_at", "search_key"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			g := &storage.Guest{ID: uuid.New(), Username: fmt.Sprintf("guest%04d", i), Email: fmt.Sprintf("guest%04d@example.com", i),
				FirstName: string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + "name", LastName: rareWord(i),
				Company: fmt.Sprintf("Company %d", i%11), Status: statuses[i%len(statuses)],
				ValidUntil: base.Add(time.Duration(i) * time.Hour), CreatedAt: base.Add(time.Duration(i) * time.Second)}
			i++
			return []any{g.ID, g.Username, storage.FoldKey(g.Username), g.Email, g.FirstName, g.LastName, g.Company,
				string(g.Status), g.ValidUntil, g.CreatedAt, g.CreatedAt, storage.SearchKey(g)}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, q := range []string{"ANALYZE guests", "SET enable_seqscan = off"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	defer conn.Exec(ctx, "RESET ALL") //nolint:errcheck // the pool is the test's own

	active := []storage.GuestStatus{storage.GuestActive}
	const recentCase = "first guests" // cases of the walk of the first guests in list order
	for _, tc := range []struct {
		name string
		f    storage.GuestFilter
		want []string // index names the plan must use
	}{
		{"substring", storage.GuestFilter{Query: rareWord(1234)[1:]}, []string{"guests_search_key_trgm_idx"}},
		{"substring and status", storage.GuestFilter{Query: rareWord(1234)[1:], Status: active}, []string{"guests_search_key_trgm_idx"}},
		{"start of a field", storage.GuestFilter{Query: "Bk"}, []string{"guests_search_key_trgm_idx"}},
		{"next page", storage.GuestFilter{Query: rareWord(1234)[1:], After: storage.EncodeCursor(storage.Cursor{CreatedAt: base.Add(n / 2 * time.Second), ID: uuid.New()})},
			[]string{"guests_search_key_trgm_idx"}},
		{"whole address", storage.GuestFilter{Query: "guest0007@example.com"}, []string{"guests_email_key", "guests_username_key"}},
		{"by expiry", storage.GuestFilter{Sort: storage.SortExpiry}, []string{"guests_expiry_order_idx"}},
		{"by expiry, next page", storage.GuestFilter{Sort: storage.SortExpiry,
			After: storage.EncodeExpiryCursor(storage.ExpiryCursor{ValidUntil: base, ID: uuid.New()})}, []string{"guests_expiry_order_idx"}},
		{recentCase + " in list order", storage.GuestFilter{Query: "surname3"}, []string{"guests_created_at_id_idx"}},
		{recentCase + " in list order, by expiry", storage.GuestFilter{Query: "surname3", Sort: storage.SortExpiry},
			[]string{"guests_expiry_order_idx"}},
	} {
		sql, args, _, _, err := guestListQuery(tc.f, strings.HasPrefix(tc.name, recentCase))
		if err != nil {
			t.Fatal(err)
		}
		plan := queryPlan(t, conn, tc.name, "EXPLAIN "+sql, args...)
		for _, idx := range tc.want {
			if !strings.Contains(plan, idx) {
				t.Errorf("%s: the plan does not use %s:\n%s", tc.name, idx, plan)
			}
		}
		if strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s: the plan scans guests:\n%s", tc.name, plan)
		}
	}
}

// rareWord is a made-up surname for guest i, six letters spread so that its
// trigrams are rare (as a real surname's are among a million guests).
func rareWord(i int) string {
	x := uint32(i)*2654435761 + 12345
	w := make([]byte, 6)
	for k := range w {
		w[k] = byte('a' + x%26)
		x /= 26
	}
	return strings.ToUpper(string(w[:1])) + string(w[1:])
}
