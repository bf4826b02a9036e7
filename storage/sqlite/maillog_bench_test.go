package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// BenchmarkMailLog1M: the mail log's first page at a million messages
// (LOBBY_BENCH_1M=1; see storetest.BenchMailLog1M).
func BenchmarkMailLog1M(b *testing.B) {
	storetest.BenchMailLog1M(b, storetest.MailLogBenchBackend{
		Name: "sqlite",
		Seeded: func(b *testing.B, now time.Time, n int) storage.Store {
			path := filepath.Join(b.TempDir(), "lobby.db")
			opts := storage.Options{Sealer: storetest.NewSealer(b)}
			s, err := Open(b.Context(), path, opts)
			if err != nil {
				b.Fatal(err)
			}
			if err := seedJobs(b.Context(), s, now, 0, n); err != nil {
				b.Fatal(err)
			}
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
		ScanSearch: func(b *testing.B, st storage.Store, q string, limit int) int {
			s := st.(*Store)
			rows, err := s.r.QueryContext(b.Context(), `SELECT `+mailListCols+` FROM outbox
				WHERE (instr(lower(recipient), lower(?)) > 0 OR instr(lower(subject), lower(?)) > 0)
				ORDER BY created_at DESC, id DESC LIMIT ?`, q, q, limit)
			if err != nil {
				b.Fatal(err)
			}
			return countRows(b, rows)
		},
		Plans: func(b *testing.B, st storage.Store, now time.Time) string {
			s := st.(*Store)
			var out []string
			for _, c := range storetest.MailLogPlanCases(b, now, listMailSQL, "mail_search") {
				out = append(out, "  "+c.Name+": "+strings.Join(queryPlan(b, s.w, c.SQL, c.Args...), "; "))
			}
			return strings.Join(out, "\n")
		},
	})
}
