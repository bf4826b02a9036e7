package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// BenchmarkSearch1M: guest search at a million guests against the plain
// LIKE scan (LOBBY_BENCH_1M=1; make bench-1m).
func BenchmarkSearch1M(b *testing.B) {
	storetest.BenchSearch(b, storetest.SearchBackend{
		Open: func(b *testing.B) storage.Store {
			s, err := Open(b.Context(), filepath.Join(b.TempDir(), "lobby.db"), storage.Options{Sealer: benchSealer(b)})
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
			p := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%"
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

func benchSealer(b *testing.B) *storage.Sealer {
	k, err := storage.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	key, err := storage.ParseKey(k)
	if err != nil {
		b.Fatal(err)
	}
	s, err := storage.NewSealer(key)
	if err != nil {
		b.Fatal(err)
	}
	return s
}
