package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// TestTxStatementsPreparedOnce: a statement first run in a transaction is
// prepared on the writer once that transaction commits, so the next
// transactions use it instead of parsing it again.
func TestTxStatementsPreparedOnce(t *testing.T) {
	t.Parallel()
	key := make([]byte, storage.KeySize)
	sealer, err := storage.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "lobby.db"), storage.Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	create := func(name string) (fresh []string) {
		t.Helper()
		now := time.Now()
		err := s.WithTx(ctx, func(tx storage.Store) error {
			err := tx.CreateGuest(ctx, &storage.Guest{Username: name, Email: name + "@example.org", Status: storage.GuestActive,
				ValidFrom: now, ValidUntil: now.Add(time.Hour)})
			txs := tx.(*Store)
			txs.txq.mu.Lock()
			fresh = append(fresh, txs.txq.fresh...)
			txs.txq.mu.Unlock()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	inserts := func(qs []string) int {
		n := 0
		for _, q := range qs {
			if strings.HasPrefix(q, "INSERT INTO guests") {
				n++
			}
		}
		return n
	}
	if n := inserts(create("first")); n != 1 {
		t.Fatalf("the first transaction prepared the guest insert %d times for itself, want 1", n)
	}
	s.ws.mu.Lock()
	var cached []string
	for q := range s.ws.m {
		cached = append(cached, q)
	}
	s.ws.mu.Unlock()
	if inserts(cached) != 1 {
		t.Fatal("the guest insert was not prepared on the writer after the first transaction")
	}
	if n := inserts(create("second")); n != 0 {
		t.Fatalf("the second transaction prepared the guest insert again (%d times)", n)
	}
}
