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
			ins, err := tx.PrepareContext(ctx, `INSERT INTO guests (`+guestCols+`, username_key, search_key) VALUES (`+placeholders(21)+`)`)
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
			micros(g.UpdatedAt), nil, storage.FoldKey(g.Username), storage.SearchKey(g)); err != nil {
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
	ins, err := tx.PrepareContext(ctx, `INSERT INTO guests (`+guestCols+`, username_key, search_key) VALUES (`+placeholders(21)+`)`)
	if err != nil {
		t.Fatal(err)
	}
	if err := bulkSearchKeys(ctx, tx, "guests_search_insert", func() error {
		return loadGuests(ctx, ins, 2000, func(i int) *storage.Guest {
			return &storage.Guest{ID: uuid.New(), Username: fmt.Sprintf("guest%04d", i), Email: fmt.Sprintf("guest%04d@example.com", i),
				LastName: fmt.Sprintf("Surname%d", i%37), Company: fmt.Sprintf("Company %d", i%11), Status: storage.GuestActive,
				ValidUntil: base.Add(time.Duration(i) * time.Hour), CreatedAt: base.Add(time.Duration(i) * time.Second)}
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
	const recentCase = "first guests" // cases of the walk of the first guests in list order
	for _, tc := range []struct {
		name string
		f    storage.GuestFilter
		want []string // what the plan must say
	}{
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
	} {
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
		if tc.f.Sort == storage.SortExpiry && tc.f.Query == "" && strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: the plan sorts instead of walking the index:\n%s", tc.name, plan)
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
