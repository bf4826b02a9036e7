package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// BenchmarkJobs1M: the lifecycle jobs at a million guests and a million
// messages (LOBBY_BENCH_1M=1; see storetest.BenchJobs1M).
func BenchmarkJobs1M(b *testing.B) {
	storetest.BenchJobs1M(b, storetest.JobsBenchBackend{
		Name: "sqlite",
		Seeded: func(b *testing.B, now time.Time, guests, mail int) storage.Store {
			path := filepath.Join(b.TempDir(), "lobby.db")
			opts := storage.Options{Sealer: storetest.NewSealer(b)}
			s, err := Open(b.Context(), path, opts)
			if err != nil {
				b.Fatal(err)
			}
			if err := seedJobs(b.Context(), s, now, guests, mail); err != nil {
				b.Fatal(err)
			}
			// Reopen, as after a restart: Open refreshes the statistics.
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			if s, err = Open(b.Context(), path, opts); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			if err := s.Optimize(b.Context()); err != nil {
				b.Fatal(err)
			}
			return s
		},
		OldSchema: func(b *testing.B, st storage.Store) {
			s := st.(*Store)
			if _, err := s.w.ExecContext(b.Context(), `DROP INDEX guests_status_valid_until_id_idx;
				DROP INDEX guests_expiry_notice_idx; DROP INDEX guests_denied_idx; DROP INDEX outbox_purge_idx;
				CREATE INDEX guests_status_valid_until_idx ON guests (status, valid_until); ANALYZE`); err != nil {
				b.Fatal(err)
			}
		},
		OldPurgeMail: func(b *testing.B, st storage.Store, olderThan time.Time) int {
			res, err := st.(*Store).w.ExecContext(b.Context(), "DELETE FROM outbox WHERE status IN ('sent', 'dead') AND updated_at < ?", micros(olderThan))
			if err != nil {
				b.Fatal(err)
			}
			n, _ := res.RowsAffected()
			return int(n)
		},
		Plans: func(b *testing.B, st storage.Store, now time.Time) string {
			s := st.(*Store)
			var out []string
			for _, c := range storetest.JobPlanCases(b, now, jobStatements) {
				for _, detail := range queryPlan(b, s.r, c.SQL, c.Args...) {
					out = append(out, c.Name+": "+detail)
				}
			}
			return strings.Join(out, "\n")
		},
	})
}
