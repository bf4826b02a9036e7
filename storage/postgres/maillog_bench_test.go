package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// BenchmarkMailLog1M: the mail log's first page at a million messages
// (LOBBY_BENCH_1M=1 and LOBBY_TEST_DATABASE_URL; see
// storetest.BenchMailLog1M).
func BenchmarkMailLog1M(b *testing.B) {
	storetest.BenchMailLog1M(b, storetest.MailLogBenchBackend{
		Name: "postgres",
		Seeded: func(b *testing.B, now time.Time, n int) storage.Store {
			url, schema := pgtest.Schema(b)
			s, err := Open(b.Context(), url, Options{Options: storage.Options{Sealer: storetest.NewSealer(b)}, Schema: schema, MaxConns: 4})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			if err := seedJobs(b.Context(), s, now, 0, n); err != nil {
				b.Fatal(err)
			}
			return s
		},
		ScanSearch: func(b *testing.B, st storage.Store, q string, limit int) int {
			s := st.(*Store)
			p := strings.ToLower(q)
			rows, err := s.pool.Query(b.Context(), `SELECT `+mailListColumns+` FROM outbox
				WHERE (strpos(lower(recipient), $1) > 0 OR strpos(lower(subject), $1) > 0)
				ORDER BY created_at DESC, id DESC LIMIT $2`, p, limit)
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
		Plans: func(b *testing.B, st storage.Store, now time.Time) string {
			s := st.(*Store)
			var out []string
			for _, c := range storetest.MailLogPlanCases(b, now, listMailSQL, "outbox_search_trgm_idx") {
				out = append(out, "  "+c.Name+":\n"+queryPlan(b, s.pool, c.Name, "EXPLAIN ANALYZE "+c.SQL, c.Args...))
			}
			return strings.Join(out, "\n")
		},
	})
}
