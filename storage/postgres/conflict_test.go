package postgres_test

import (
	"errors"
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

// TestConflictKeepsTxUsable: a taken username or idempotency key inside a
// transaction is reported without aborting the transaction.
func TestConflictKeepsTxUsable(t *testing.T) {
	t.Parallel()
	s := setup(t).open(t)
	ctx := t.Context()
	first := &storage.Guest{Username: "Ann", Email: "Ann@Example.com", Status: storage.GuestActive, Password: "pw"}
	if err := s.CreateGuest(ctx, first); err != nil {
		t.Fatal(err)
	}
	m := &storage.OutboxMessage{IdempotencyKey: "k1", Kind: "x", Payload: []byte("p")}
	if err := s.EnqueueMail(ctx, m); err != nil {
		t.Fatal(err)
	}
	err := s.WithTx(ctx, func(tx storage.Store) error {
		err := tx.CreateGuest(ctx, &storage.Guest{Username: "ANN", Email: "other@example.com", Status: storage.GuestActive})
		if !errors.Is(err, storage.ErrConflict) {
			t.Errorf("username taken: err = %v, want ErrConflict", err)
		}
		err = tx.CreateGuest(ctx, &storage.Guest{Username: "bob", Email: "ann@EXAMPLE.com", Status: storage.GuestActive})
		if !errors.Is(err, storage.ErrConflict) {
			t.Errorf("email taken: err = %v, want ErrConflict", err)
		}
		dup := &storage.OutboxMessage{IdempotencyKey: "k1", Kind: "x", Payload: []byte("p")}
		if err := tx.EnqueueMail(ctx, dup); !errors.Is(err, storage.ErrDuplicate) || dup.ID != m.ID {
			t.Errorf("duplicate key: err = %v, id = %s; want ErrDuplicate and %s", err, dup.ID, m.ID)
		}
		return tx.CreateGuest(ctx, &storage.Guest{Username: "bob", Email: "bob@example.com", Status: storage.GuestActive})
	})
	if err != nil {
		t.Fatalf("WithTx after conflicts: %v", err)
	}
	if _, err := s.GetGuestByUsername(ctx, "BOB"); err != nil {
		t.Fatalf("guest created after conflicts: %v", err)
	}
}

// TestGuestPreconditionInTx: under READ COMMITTED a transaction's read does
// not hold: another node changes the guest between the read and the write.
// The write's precondition catches it, and the transaction goes on.
func TestGuestPreconditionInTx(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s1, s2 := b.open(t), b.open(t)
	ctx := t.Context()
	g := &storage.Guest{Username: "pending", Status: storage.GuestPending}
	if err := s1.CreateGuest(ctx, g); err != nil {
		t.Fatal(err)
	}
	active, denied := storage.GuestActive, storage.GuestDenied
	err := s1.WithTx(ctx, func(tx storage.Store) error {
		read, err := tx.GetGuest(ctx, g.ID)
		if err != nil {
			return err
		}
		// Another node approves meanwhile (a row lock would make this wait).
		if _, err := s2.UpdateGuest(ctx, g.ID, storage.GuestUpdate{Status: &active, IfStatus: &read.Status}); err != nil {
			t.Errorf("approve on the other node: %v", err)
		}
		_, err = tx.UpdateGuest(ctx, g.ID, storage.GuestUpdate{Status: &denied, IfStatus: &read.Status})
		if !errors.Is(err, storage.ErrConflict) {
			t.Errorf("deny in the transaction after the approval: err = %v, want ErrConflict", err)
		}
		return tx.Audit(ctx, storage.AuditEntry{Action: "still usable"})
	})
	if err != nil {
		t.Fatalf("WithTx: %v", err)
	}
	if got, err := s1.GetGuest(ctx, g.ID); err != nil || got.Status != storage.GuestActive {
		t.Fatalf("after the race: %v, %v; want active", got, err)
	}
}
