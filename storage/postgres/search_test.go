package postgres_test

import (
	"context"
	"testing"

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
				"status", "valid_from", "valid_until", "created_at", "updated_at", "username_key", "search_key"}
			i := 0
			_, err = conn.CopyFrom(ctx, pgx.Identifier{"guests"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
				if i == n {
					return nil, nil
				}
				g := guest(i)
				i++
				g.Email = storage.FoldKey(g.Email)
				return []any{g.ID, g.Username, g.FirstName, g.LastName, g.Email, g.Phone, g.Company, g.GuestType,
					string(g.Status), g.ValidFrom, g.ValidUntil, g.CreatedAt, g.UpdatedAt, storage.FoldKey(g.Username),
					storage.SearchKey(g)}, nil
			}))
			if err != nil {
				b.Fatalf("copy guests: %v", err)
			}
			exec("SET maintenance_work_mem = '256MB'")
			exec(def)
			exec("ANALYZE guests")
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
