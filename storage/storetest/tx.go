package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

func testTxCommit(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	g := bb.guest("tx-guest", "tx@example.com")
	m := mail("tx@example.com", "Your credentials")
	err := s.WithTx(ctx, func(tx storage.Store) error {
		if err := tx.CreateGuest(ctx, g); err != nil {
			return err
		}
		if err := tx.EnqueueMail(ctx, m); err != nil {
			return err
		}
		// The transaction reads its own writes...
		if _, err := tx.GetGuest(ctx, g.ID); err != nil {
			t.Errorf("GetGuest inside the transaction: %v", err)
		}
		if _, err := tx.GetMail(ctx, m.ID); err != nil {
			t.Errorf("GetMail inside the transaction: %v", err)
		}
		// ...which nobody else sees before the commit.
		if _, err := s.GetGuest(ctx, g.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetGuest outside the transaction before commit: err = %v, want ErrNotFound", err)
		}
		// A nested WithTx joins the transaction.
		return tx.WithTx(ctx, func(inner storage.Store) error {
			return inner.Audit(ctx, storage.AuditEntry{Actor: "system", Action: "guest.create", Subject: g.ID.String()})
		})
	})
	if err != nil {
		t.Fatalf("WithTx: %v", err)
	}
	other := bb.openStore(t)
	for name, st := range map[string]storage.Store{"the same store": s, "another store": other} {
		if _, err := st.GetGuest(ctx, g.ID); err != nil {
			t.Errorf("%s: GetGuest after commit: %v", name, err)
		}
		if got, err := st.GetMail(ctx, m.ID); err != nil || got.Status != storage.MailQueued {
			t.Errorf("%s: GetMail after commit: %v, %v", name, got, err)
		}
		if list, err := st.ListAudit(ctx, 0, 10); err != nil || len(list) != 1 {
			t.Errorf("%s: ListAudit after commit: %d entries, %v; want 1", name, len(list), err)
		}
	}
}

func testTxRollback(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	errBoom := errors.New("boom")
	kept := bb.createGuest(t, bb.guest("kept", "kept@example.com"))

	t.Run("an error from fn", func(t *testing.T) {
		g := bb.guest("rolled-back", "rb@example.com")
		m := mail("rb@example.com", "Your credentials")
		err := s.WithTx(ctx, func(tx storage.Store) error {
			if err := tx.CreateGuest(ctx, g); err != nil {
				return err
			}
			if err := tx.EnqueueMail(ctx, m); err != nil {
				return err
			}
			return tx.WithTx(ctx, func(inner storage.Store) error {
				if err := inner.Audit(ctx, storage.AuditEntry{Actor: "system", Action: "x"}); err != nil {
					return err
				}
				return errBoom
			})
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("WithTx: err = %v, want fn's error", err)
		}
		if _, err := s.GetGuest(ctx, g.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetGuest after rollback: err = %v, want ErrNotFound", err)
		}
		if _, err := s.GetMail(ctx, m.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetMail after rollback: err = %v, want ErrNotFound", err)
		}
		if list, err := s.ListAudit(ctx, 0, 10); err != nil || len(list) != 0 {
			t.Errorf("ListAudit after rollback: %d entries, %v; want none", len(list), err)
		}
	})

	t.Run("a conflict inside", func(t *testing.T) {
		g := bb.guest("first-in-tx", "first@example.com")
		err := s.WithTx(ctx, func(tx storage.Store) error {
			if err := tx.CreateGuest(ctx, g); err != nil {
				return err
			}
			if err := tx.EnqueueMail(ctx, mail("first@example.com", "Hello")); err != nil {
				return err
			}
			return tx.CreateGuest(ctx, bb.guest("KEPT", "other@example.com"))
		})
		if !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("WithTx: err = %v, want ErrConflict", err)
		}
		if _, err := s.GetGuestByUsername(ctx, "first-in-tx"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the guest created before the conflict: err = %v, want ErrNotFound", err)
		}
		if counts, err := s.CountMail(ctx); err != nil || counts[storage.MailQueued] != 0 {
			t.Errorf("CountMail after rollback = %v, %v; want nothing queued", counts, err)
		}
	})

	if _, err := s.GetGuest(ctx, kept.ID); err != nil {
		t.Fatalf("a guest committed before: %v", err)
	}
	// The store still works after rollbacks.
	bb.createGuest(t, bb.guest("after", "after@example.com"))
}

// testTxBoundStore: Close and the leader locks are refused, alike, on the
// Store of a transaction, which stays usable, as does the Store after.
func testTxBoundStore(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	g := bb.guest("in-tx", "in-tx@example.com")
	err := s.WithTx(ctx, func(tx storage.Store) error {
		if err := tx.Close(); !errors.Is(err, storage.ErrInTx) {
			t.Errorf("Close of a transaction's Store: err = %v, want ErrInTx", err)
		}
		if _, err := tx.TryLeader(ctx, "jobs", "me", time.Minute); !errors.Is(err, storage.ErrInTx) {
			t.Errorf("TryLeader in a transaction: err = %v, want ErrInTx", err)
		}
		if err := tx.ReleaseLeader(ctx, "jobs", "me"); !errors.Is(err, storage.ErrInTx) {
			t.Errorf("ReleaseLeader in a transaction: err = %v, want ErrInTx", err)
		}
		return tx.CreateGuest(ctx, g)
	})
	if err != nil {
		t.Fatalf("WithTx: %v", err)
	}
	if _, err := s.GetGuest(ctx, g.ID); err != nil {
		t.Fatalf("the guest created in the transaction: %v", err)
	}
	if ok, err := s.TryLeader(ctx, "jobs", "me", time.Minute); err != nil || !ok {
		t.Fatalf("TryLeader on the Store after: %v, %v; want the lock", ok, err)
	}
}
