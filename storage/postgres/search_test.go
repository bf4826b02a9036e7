package postgres_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres"
	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// BenchmarkSearch1M: guest search at a million guests against the plain
// LIKE scan (LOBBY_BENCH_1M=1; make bench-1m).
func BenchmarkSearch1M(b *testing.B) {
	var url string
	storetest.BenchSearch(b, storetest.SearchBackend{
		Open: func(b *testing.B) storage.Store {
			u, schema := pgtest.Schema(b)
			url = u
			s, err := postgres.Open(b.Context(), u, postgres.Options{Options: storage.Options{Sealer: storetest.NewSealer(b)}, Schema: schema})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
		Load: func(b *testing.B, _ storage.Store, n int, guest func(int) *storage.Guest) {
			ctx := b.Context()
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(context.Background())
			exec := func(q string) {
				if _, err := conn.Exec(ctx, q); err != nil {
					b.Fatalf("%s: %v", q, err)
				}
			}
			// The trigram index is built once after the copy, as a
			// migration of existing guests builds it.
			var def string
			if err := conn.QueryRow(ctx, "SELECT pg_get_indexdef('guests_search_key_trgm_idx'::regclass)").Scan(&def); err != nil {
				b.Fatal(err)
			}
			exec("DROP INDEX guests_search_key_trgm_idx")
			cols := []string{"id", "username", "first_name", "last_name", "email", "phone", "company", "guest_type",
				"sponsor_id", "status", "valid_from", "valid_until", "created_at", "updated_at", "username_key", "search_key"}
			i := 0
			_, err = conn.CopyFrom(ctx, pgx.Identifier{"guests"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
				if i == n {
					return nil, nil
				}
				g := guest(i)
				i++
				g.Email = storage.FoldKey(g.Email)
				sponsor := &g.SponsorID
				if g.SponsorID == uuid.Nil {
					sponsor = nil
				}
				return []any{g.ID, g.Username, g.FirstName, g.LastName, g.Email, g.Phone, g.Company, g.GuestType,
					sponsor, string(g.Status), g.ValidFrom, g.ValidUntil, g.CreatedAt, g.UpdatedAt, storage.FoldKey(g.Username),
					storage.SearchKey(g)}, nil
			}))
			if err != nil {
				b.Fatalf("copy guests: %v", err)
			}
			exec("SET maintenance_work_mem = '256MB'")
			exec(def)
			exec("ANALYZE guests")
		},
		// Before: a walk of the newest 5,000 guests, and the trigram
		// index when the page did not fill there.
		Previous: func(b *testing.B, s storage.Store, q string, limit int) int {
			sr := storage.ParseSearch(q)
			if sr.Kind == storage.SearchEmail { // unchanged
				page, err := s.ListGuests(b.Context(), storage.GuestFilter{Query: q, Limit: limit})
				if err != nil {
					b.Fatal(err)
				}
				return len(page.Guests)
			}
			count := func(sql string) int {
				rows, err := s.(*postgres.Store).Pool().Query(b.Context(), sql, pgx.QueryExecModeExec,
					"%"+storage.EscapeLike(sr.Text)+"%", limit+1)
				if err != nil {
					b.Fatal(err)
				}
				found := 0
				for rows.Next() {
					found++
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				return found
			}
			if found := count(`SELECT * FROM (SELECT * FROM guests ORDER BY created_at DESC, id DESC LIMIT 5000) AS guests
				WHERE search_key LIKE $1 ORDER BY created_at DESC, id DESC LIMIT $2`); found > limit {
				return limit
			}
			return min(limit, count(`WITH hits AS MATERIALIZED (SELECT * FROM guests WHERE search_key LIKE $1)
				SELECT * FROM hits AS guests ORDER BY created_at DESC, id DESC LIMIT $2`))
		},
		DropIndex: func(b *testing.B, s storage.Store, name string) {
			if _, err := s.(*postgres.Store).Pool().Exec(b.Context(), "DROP INDEX "+pgx.Identifier{name}.Sanitize()); err != nil {
				b.Fatalf("drop index %s: %v", name, err)
			}
		},
		Scan: func(b *testing.B, s storage.Store, q string, limit int) int {
			ctx := b.Context()
			p := "%" + storage.EscapeLike(q) + "%"
			rows, err := s.(*postgres.Store).Pool().Query(ctx, `SELECT id, username, first_name, last_name, email, phone, company, status,
				valid_until, created_at FROM guests
				WHERE username_key ILIKE $1 OR email ILIKE $1 OR (first_name || ' ' || last_name) ILIKE $1
					OR company ILIKE $1 OR phone ILIKE $1
				ORDER BY created_at DESC, id DESC LIMIT $2`, p, limit+1)
			if err != nil {
				b.Fatal(err)
			}
			defer rows.Close()
			found := 0
			for rows.Next() {
				found++
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			return found
		},
	})
}
