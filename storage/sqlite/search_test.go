package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// BenchmarkSearch1M: guest search at a million guests against the plain
// LIKE scan (LOBBY_BENCH_1M=1; make bench-1m).
func BenchmarkSearch1M(b *testing.B) {
	storetest.BenchSearch(b, storetest.SearchBackend{
		Open: func(b *testing.B) storage.Store {
			s, err := Open(b.Context(), filepath.Join(b.TempDir(), "lobby.db"), storage.Options{Sealer: storetest.NewSealer(b)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
		Load: func(b *testing.B, st storage.Store, n int, guest func(int) *storage.Guest) {
			s := st.(*Store)
			ctx := b.Context()
			tx, err := s.w.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Rollback()
			ins, err := tx.PrepareContext(ctx, `INSERT INTO guests (`+guestCols+`, username_key, search_key) VALUES (`+placeholders(23)+`)`)
			if err != nil {
				b.Fatal(err)
			}
			if err := bulkSearchKeys(ctx, tx, "guests_search_insert", func() error {
				return loadGuests(ctx, ins, n, guest)
			}); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
				b.Fatal(err)
			}
		},
		DropIndex: func(b *testing.B, st storage.Store, name string) {
			if _, err := st.(*Store).w.ExecContext(b.Context(), `DROP INDEX "`+name+`"`); err != nil {
				b.Fatalf("drop index %s: %v", name, err)
			}
		},
		Scan: func(b *testing.B, st storage.Store, q string, limit int) int {
			s := st.(*Store)
			p := "%" + storage.EscapeLike(q) + "%"
			var ors []string
			var args []any
			for _, col := range []string{"username_key", "email", "first_name || ' ' || last_name", "company", "phone"} {
				ors = append(ors, col+` LIKE ? ESCAPE '\'`)
				args = append(args, p)
			}
			rows, err := s.r.QueryContext(b.Context(), `SELECT `+guestListCols+` FROM guests WHERE `+strings.Join(ors, " OR ")+
				` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit+1)...)
			if err != nil {
				b.Fatal(err)
			}
			return countRows(b, rows)
		},
	})
}

// loadGuests inserts guest(0) to guest(n-1) with ins, as CreateGuest
// stores them (without a password).
func loadGuests(ctx context.Context, ins *sql.Stmt, n int, guest func(int) *storage.Guest) error {
	for i := range n {
		g := guest(i)
		g.Email = storage.FoldKey(g.Email)
		if _, err := ins.ExecContext(ctx, g.ID.String(), g.Username, nil, g.FirstName, g.LastName, g.Email,
			g.Phone, g.Company, g.PersonVisited, g.Reason, nullUUID(g.SponsorID), g.GuestType, string(g.Status),
			nullMicros(g.ValidFrom), nullMicros(g.ValidUntil), nullMicros(g.ExpiryNotifiedAt), micros(g.CreatedAt),
			micros(g.UpdatedAt), nil, nil, "", storage.FoldKey(g.Username), storage.SearchKey(g)); err != nil {
			return fmt.Errorf("insert guest %d: %w", i, err)
		}
	}
	return nil
}

func countRows(b *testing.B, rows *sql.Rows) int {
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

// TestSearchUsesIndexes: the plans of guest searches start from the
// full-text index and look guests up by rowid (or, for a whole address,
// use the unique email and username indexes), and a list by expiry walks
// its index, on a table with fresh statistics.
func TestSearchUsesIndexes(t *testing.T) {
	t.Parallel()
	s := openT(t, filepath.Join(t.TempDir(), "lobby.db"), storage.Options{Sealer: storetest.NewSealer(t)})
	ctx := t.Context()
	base := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO guests (`+guestCols+`, username_key, search_key) VALUES (`+placeholders(23)+`)`)
	if err != nil {
		t.Fatal(err)
	}
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
	sponsors := make([]uuid.UUID, 21) // the last one uuid.Nil
	for k := range 20 {
		sponsors[k] = uuid.New()
	}
	sponsor := sponsors[0]
	const n = 5000
	if err := bulkSearchKeys(ctx, tx, "guests_search_insert", func() error {
		return loadGuests(ctx, ins, n, func(i int) *storage.Guest {
			return &storage.Guest{ID: uuid.New(), Username: fmt.Sprintf("guest%04d", i), Email: fmt.Sprintf("guest%04d@example.com", i),
				LastName: fmt.Sprintf("Surname%d", i%37), Company: fmt.Sprintf("Company %d", i%11), Status: statuses[(i*37)%len(statuses)],
				SponsorID: sponsors[(i/7+i)%len(sponsors)], ValidUntil: base.Add(time.Duration(i) * time.Hour),
				CreatedAt: base.Add(time.Duration(i) * time.Second)}
		})
	}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}

	const fts, byRowid = "VIRTUAL TABLE INDEX", "SEARCH guests USING INTEGER PRIMARY KEY (rowid=?)"
	active := []storage.GuestStatus{storage.GuestActive}
	pending := []storage.GuestStatus{storage.GuestPending}
	two := []storage.GuestStatus{storage.GuestPending, storage.GuestExpired}
	const recentCase = "first guests" // cases of the walk of the first guests in list order
	newest := storage.EncodeCursor(storage.Cursor{CreatedAt: base.Add(n / 2 * time.Second), ID: uuid.New()})
	expiry := storage.EncodeExpiryCursor(storage.ExpiryCursor{ValidUntil: base.Add(n / 2 * time.Hour), ID: uuid.New()})
	type listCase struct {
		name string
		f    storage.GuestFilter
		want []string // what the plan must say
	}
	// The sponsor pages' lists, and the first guests a search looks
	// through among them, walk an index in list order. Several statuses
	// are a walk each, whose page's worth of rowids at most the list then
	// sorts: one sort, of those.
	idx := func(name string) string { return "INDEX " + name + " (" } // a covering index or not
	var lists []listCase
	for _, c := range []listCase{
		{"sponsor", storage.GuestFilter{SponsorID: sponsor}, []string{idx("guests_sponsor_idx")}},
		{"sponsor by expiry", storage.GuestFilter{SponsorID: sponsor, Sort: storage.SortExpiry}, []string{idx("guests_sponsor_expiry_idx")}},
		{"sponsor and status", storage.GuestFilter{SponsorID: sponsor, Status: pending}, []string{idx("guests_sponsor_status_idx")}},
		{"sponsor and status by expiry", storage.GuestFilter{SponsorID: sponsor, Status: pending, Sort: storage.SortExpiry},
			[]string{idx("guests_sponsor_status_expiry_idx")}},
		{"sponsor and two statuses", storage.GuestFilter{SponsorID: sponsor, Status: two}, []string{idx("guests_sponsor_status_idx")}},
		{"status", storage.GuestFilter{Status: pending}, []string{idx("guests_status_created_idx")}},
		{"status by expiry", storage.GuestFilter{Status: pending, Sort: storage.SortExpiry}, []string{idx("guests_status_expiry_idx")}},
		{"two statuses", storage.GuestFilter{Status: two}, []string{idx("guests_status_created_idx")}},
		{"two statuses by expiry", storage.GuestFilter{Status: two, Sort: storage.SortExpiry}, []string{idx("guests_status_expiry_idx")}},
		{recentCase + " of a sponsor", storage.GuestFilter{SponsorID: sponsor, Query: "surname3"}, []string{idx("guests_sponsor_idx")}},
		{recentCase + " of a sponsor by expiry", storage.GuestFilter{SponsorID: sponsor, Query: "surname3", Sort: storage.SortExpiry},
			[]string{idx("guests_sponsor_expiry_idx")}},
		{recentCase + " of a sponsor and status", storage.GuestFilter{SponsorID: sponsor, Status: pending, Query: "surname3"},
			[]string{idx("guests_sponsor_status_idx")}},
		{recentCase + " of a status", storage.GuestFilter{Status: pending, Query: "surname3"}, []string{idx("guests_status_created_idx")}},
		{recentCase + " of a status by expiry", storage.GuestFilter{Status: pending, Query: "surname3", Sort: storage.SortExpiry},
			[]string{idx("guests_status_expiry_idx")}},
		{recentCase + " of two statuses", storage.GuestFilter{Status: two, Query: "surname3"}, []string{idx("guests_status_created_idx")}},
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
		{"substring", storage.GuestFilter{Query: "surname3"}, []string{fts, byRowid}},
		{"substring, status and sponsor", storage.GuestFilter{Query: "surname3", Status: active, SponsorID: uuid.New()}, []string{fts, byRowid}},
		{"start of a field", storage.GuestFilter{Query: "Co"}, []string{fts, byRowid}},
		{"next page", storage.GuestFilter{Query: "surname3", After: storage.EncodeCursor(storage.Cursor{CreatedAt: base, ID: uuid.New()})},
			[]string{fts, byRowid}},
		{"whole address", storage.GuestFilter{Query: "guest0007@example.com"}, []string{"guests_email_key", "guests_username_key"}},
		{"by expiry", storage.GuestFilter{Sort: storage.SortExpiry}, []string{"guests_expiry_order_idx"}},
		{"by expiry, next page", storage.GuestFilter{Sort: storage.SortExpiry,
			After: storage.EncodeExpiryCursor(storage.ExpiryCursor{ValidUntil: base, ID: uuid.New()})}, []string{"guests_expiry_order_idx"}},
		{recentCase + " in list order", storage.GuestFilter{Query: "surname3"}, []string{"guests_created_at_id_idx"}},
		{recentCase + " in list order, by expiry", storage.GuestFilter{Query: "surname3", Sort: storage.SortExpiry},
			[]string{"guests_expiry_order_idx"}},
	}, lists...) {
		query, args, _, _, err := guestListQuery(tc.f, strings.HasPrefix(tc.name, recentCase))
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(queryPlan(t, s.r, query, args...), "\n")
		for _, w := range tc.want {
			if !strings.Contains(plan, w) {
				t.Errorf("%s: the plan does not say %q:\n%s", tc.name, w, plan)
			}
		}
		if strings.Contains(plan, "SCAN guests\n") || strings.HasSuffix(plan, "SCAN guests") {
			t.Errorf("%s: the plan scans guests:\n%s", tc.name, plan)
		}
		// A later page starts its walk at the cursor, not at the list's
		// start: the index's range says where.
		if tc.f.After != "" && (tc.f.Query == "" || strings.HasPrefix(tc.name, recentCase)) &&
			!strings.Contains(plan, "<?)") && !strings.Contains(plan, ">?)") {
			t.Errorf("%s: the plan walks from the start of the list, not from the cursor:\n%s", tc.name, plan)
		}
		// A list without a search sorts nothing, but the page's worth of
		// rowids of each status when it has several (one sort); the first
		// guests of a search sort their matches (one sort), and those of
		// several statuses also the rowids of each (two).
		sorts, want := strings.Count(plan, "USE TEMP B-TREE"), 0
		if strings.HasPrefix(tc.name, recentCase) {
			want++
		}
		if len(tc.f.Status) > 1 {
			want++
		}
		if (tc.f.Query == "" || strings.HasPrefix(tc.name, recentCase)) && sorts > want {
			t.Errorf("%s: the plan sorts %d times, want %d at most: a sort of the guests it selects instead of a walk of an index in order:\n%s",
				tc.name, sorts, want, plan)
		}
	}
}

// queryPlan is EXPLAIN QUERY PLAN of query on db, one step a line.
func queryPlan(t testing.TB, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", query, err)
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
	return plan
}
