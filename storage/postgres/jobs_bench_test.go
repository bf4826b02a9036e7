package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// BenchmarkJobs1M: the lifecycle jobs at a million guests and a million
// messages (LOBBY_BENCH_1M=1 and LOBBY_TEST_DATABASE_URL; see
// storetest.BenchJobs1M).
func BenchmarkJobs1M(b *testing.B) {
	storetest.BenchJobs1M(b, storetest.JobsBenchBackend{
		Name: "postgres",
		Seeded: func(b *testing.B, now time.Time, guests, mail int) storage.Store {
			url, schema := pgtest.Schema(b)
			s, err := Open(b.Context(), url, Options{Options: storage.Options{Sealer: storetest.NewSealer(b)}, Schema: schema, MaxConns: 4})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			if err := seedJobs(b.Context(), s, now, guests, mail); err != nil {
				b.Fatal(err)
			}
			return s
		},
		OldSchema: func(b *testing.B, st storage.Store) {
			s := st.(*Store)
			if _, err := s.pool.Exec(b.Context(), `DROP INDEX guests_status_valid_until_id_idx;
				DROP INDEX guests_expiry_notice_idx; DROP INDEX guests_denied_idx; DROP INDEX outbox_purge_idx;
				CREATE INDEX guests_status_valid_until_idx ON guests (status, valid_until); ANALYZE guests, outbox`); err != nil {
				b.Fatal(err)
			}
		},
		OldPurgeMail: func(b *testing.B, st storage.Store, olderThan time.Time) int {
			tag, err := st.(*Store).pool.Exec(b.Context(), `DELETE FROM outbox WHERE status IN ('sent', 'dead') AND updated_at < $1`,
				storage.Truncate(olderThan))
			if err != nil {
				b.Fatal(err)
			}
			return int(tag.RowsAffected())
		},
		Plans: func(b *testing.B, st storage.Store, now time.Time) string {
			s := st.(*Store)
			tx, err := s.pool.Begin(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Rollback(b.Context()) //nolint:errcheck // read only
			var out []string
			for _, c := range storetest.JobPlanCases(b, now, jobStatements) {
				out = append(out, c.Name+":\n"+explain(b, tx, c, false))
			}
			return strings.Join(out, "\n")
		},
	})
}
