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
//
// The sponsor pages' lists (a sponsor's guests, of a status, all guests of
// a status, of two, first and later pages, both orders) and the first
// guests a search looks through among them walk an index in list order:
// no sequential scan, no bitmap scan, no sort of what they select.
func TestSearchUsesIndexes(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	ctx := t.Context()
	base := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	// As CreateGuest stores them, by COPY to keep the test quick.
	const n = 5000
	// As at a million guests: most expired or active, 2% pending, 1%
	// suspended or denied; one sponsor in twenty, some with none.
	statuses := make([]storage.GuestStatus, 100)
	for k := range statuses {
		switch {
		case k < 2:
			statuses[k] = storage.GuestPending
		case k == 2:
			statuses[k] = storage.GuestSuspended
		case k == 3:
			statuses[k] = storage.GuestDenied
		case k < 40:
			statuses[k] = storage.GuestActive
		default:
			statuses[k] = storage.GuestExpired
		}
	}
	sponsors := make([]any, 21) // the last one nil
	for k := range 20 {
		sponsors[k] = uuid.New()
	}
	sponsor := sponsors[0].(uuid.UUID)
	i := 0
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"guests"}, []string{"id", "username", "username_key", "email", "first_name",
		"last_name", "company", "sponsor_id", "status", "valid_until", "created_at", "updated_at", "search_key"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			g := &storage.Guest{ID: uuid.New(), Username: fmt.Sprintf("guest%04d", i), Email: fmt.Sprintf("guest%04d@example.com", i),
				FirstName: string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + "name", LastName: rareWord(i),
				Company: fmt.Sprintf("Company %d", i%11), Status: statuses[(i*37)%len(statuses)],
				ValidUntil: base.Add(time.Duration(i) * time.Hour), CreatedAt: base.Add(time.Duration(i) * time.Second)}
			i++
			return []any{g.ID, g.Username, storage.FoldKey(g.Username), g.Email, g.FirstName, g.LastName, g.Company,
				sponsors[(i/7+i)%len(sponsors)], string(g.Status), g.ValidUntil, g.CreatedAt, g.CreatedAt, storage.SearchKey(g)}, nil
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
	pending := []storage.GuestStatus{storage.GuestPending}
	two := []storage.GuestStatus{storage.GuestPending, storage.GuestExpired}
	const recentCase = "first guests" // cases of the walk of the first guests in list order
	newest := storage.EncodeCursor(storage.Cursor{CreatedAt: base.Add(n / 2 * time.Second), ID: uuid.New()})
	expiry := storage.EncodeExpiryCursor(storage.ExpiryCursor{ValidUntil: base.Add(n / 2 * time.Hour), ID: uuid.New()})
	type listCase struct {
		name string
		f    storage.GuestFilter
		want []string // index names the plan must use
	}
	var lists []listCase
	for _, c := range []listCase{
		{"sponsor", storage.GuestFilter{SponsorID: sponsor}, []string{"guests_sponsor_idx"}},
		{"sponsor by expiry", storage.GuestFilter{SponsorID: sponsor, Sort: storage.SortExpiry}, []string{"guests_sponsor_expiry_idx"}},
		{"sponsor and status", storage.GuestFilter{SponsorID: sponsor, Status: pending}, []string{"guests_sponsor_status_idx"}},
		{"sponsor and status by expiry", storage.GuestFilter{SponsorID: sponsor, Status: pending, Sort: storage.SortExpiry},
			[]string{"guests_sponsor_status_expiry_idx"}},
		{"sponsor and two statuses", storage.GuestFilter{SponsorID: sponsor, Status: two}, []string{"guests_sponsor_status_idx"}},
		{"status", storage.GuestFilter{Status: pending}, []string{"guests_status_created_idx"}},
		{"status by expiry", storage.GuestFilter{Status: pending, Sort: storage.SortExpiry}, []string{"guests_status_expiry_idx"}},
		{"two statuses", storage.GuestFilter{Status: two}, []string{"guests_status_created_idx"}},
		{"two statuses by expiry", storage.GuestFilter{Status: two, Sort: storage.SortExpiry}, []string{"guests_status_expiry_idx"}},
		{recentCase + " of a sponsor", storage.GuestFilter{SponsorID: sponsor, Query: "surname3"}, []string{"guests_sponsor_idx"}},
		{recentCase + " of a sponsor by expiry", storage.GuestFilter{SponsorID: sponsor, Query: "surname3", Sort: storage.SortExpiry},
			[]string{"guests_sponsor_expiry_idx"}},
		{recentCase + " of a sponsor and status", storage.GuestFilter{SponsorID: sponsor, Status: pending, Query: "surname3"},
			[]string{"guests_sponsor_status_idx"}},
		{recentCase + " of a status", storage.GuestFilter{Status: pending, Query: "surname3"}, []string{"guests_status_created_idx"}},
		{recentCase + " of a status by expiry", storage.GuestFilter{Status: pending, Query: "surname3", Sort: storage.SortExpiry},
			[]string{"guests_status_expiry_idx"}},
		{recentCase + " of two statuses", storage.GuestFilter{Status: two, Query: "surname3"}, []string{"guests_status_created_idx"}},
	} {
		lists = append(lists, c)
		c.name += ", next page"
		c.f.After = newest
		if c.f.Sort == storage.SortExpiry {
			c.f.After = expiry
		}
		lists = append(lists, c)
	}
	for _, tc := range append([]listCase{
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
	}, lists...) {
		sql, args, _, _, err := guestListQuery(tc.f, strings.HasPrefix(tc.name, recentCase))
		if err != nil {
			t.Fatal(err)
		}
		// A list, and the first guests of a search, walk an index in list
		// order; with sorts priced out too, a plan that still sorts the
		// guests it selects (or takes them by a bitmap scan, which loses
		// the order) has no index to walk. Only a search through the
		// trigram index sorts: its hits, a few.
		inOrder := tc.f.Query == "" || strings.HasPrefix(tc.name, recentCase)
		if inOrder {
			if _, err := conn.Exec(ctx, "SET enable_sort = off"); err != nil {
				t.Fatal(err)
			}
		}
		plan := queryPlan(t, conn, tc.name, "EXPLAIN "+sql, args...)
		if _, err := conn.Exec(ctx, "RESET enable_sort"); err != nil {
			t.Fatal(err)
		}
		for _, idx := range tc.want {
			if !strings.Contains(plan, idx) {
				t.Errorf("%s: the plan does not use %s:\n%s", tc.name, idx, plan)
			}
		}
		if strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s: the plan scans guests:\n%s", tc.name, plan)
		}
		if inOrder && (sortsGuests(plan) || strings.Contains(plan, "Bitmap")) {
			t.Errorf("%s: the plan sorts the guests it selects instead of walking an index in order:\n%s", tc.name, plan)
		}
	}
}

// sortsGuests reports whether plan (EXPLAIN's text) sorts rows as it scans
// them from guests: every guest a list selects. A sort of a page's rows
// from a walk in order (a subquery of at most so many) is not one.
func sortsGuests(plan string) bool {
	lines := strings.Split(plan, "\n")
	for i, l := range lines[:max(0, len(lines)-1)] {
		next := lines[i+1]
		if strings.Contains(l, "Sort") && !strings.Contains(l, "Sort Key") && !strings.Contains(l, "Merge Append") {
			for _, n := range lines[i+1:] {
				if strings.Contains(n, "->") {
					next = n
					break
				}
			}
			if strings.Contains(next, " on guests") && !strings.Contains(next, "Subquery Scan") {
				return true
			}
		}
	}
	return false
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
