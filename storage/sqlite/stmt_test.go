package sqlite

import (
	"context"
	"errors"
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

// TestTxStopsWhenContextEnds: a transaction's statements run detached from
// the context's cancellation, but once it is done the next statement fails
// with its error and nothing of the transaction stays.
func TestTxStopsWhenContextEnds(t *testing.T) {
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
	ctx, cancel := context.WithCancel(t.Context())
	now := time.Now()
	guest := func(name string) *storage.Guest {
		return &storage.Guest{Username: name, Email: name + "@example.org", Status: storage.GuestActive,
			ValidFrom: now, ValidUntil: now.Add(time.Hour)}
	}
	err = s.WithTx(ctx, func(tx storage.Store) error {
		if err := tx.CreateGuest(ctx, guest("first")); err != nil {
			return err
		}
		cancel()
		return tx.CreateGuest(ctx, guest("second"))
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WithTx after the context ended: %v, want context.Canceled", err)
	}
	if _, err := s.GetGuestByUsername(t.Context(), "first"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the first guest of the rolled-back transaction: %v, want ErrNotFound", err)
	}
}
