package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// internalDB is a fresh schema for tests inside the package; each open is
// another Store (another node) on it.
type internalDB struct {
	url  string
	opts Options
}

func newInternalDB(t *testing.T) *internalDB {
	t.Helper()
	url, schema := pgtest.Schema(t)
	return &internalDB{url: url, opts: Options{Options: storage.Options{Sealer: storetest.NewSealer(t)}, Schema: schema, MaxConns: 4}}
}

func (db *internalDB) open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), db.url, db.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openInternal opens a Store on a fresh schema.
func openInternal(t *testing.T) *Store { return newInternalDB(t).open(t) }

// TestGuestConflictOnlyForTakenValues: when the insert was refused, finding
// out what it collided with may fail in its own right (a cancelled
// request); that failure is reported as itself, not as a taken username.
func TestGuestConflictOnlyForTakenValues(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	g := &storage.Guest{Username: "ann", Email: "ann@example.com", Status: storage.GuestActive}
	if err := s.CreateGuest(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.guestConflict(ctx, &storage.Guest{Username: "ann", Email: "other@example.com"})
	if errors.Is(err, storage.ErrConflict) || !errors.Is(err, context.Canceled) {
		t.Fatalf("guestConflict with a cancelled context: err = %v; want context.Canceled, not ErrConflict", err)
	}
	for name, other := range map[string]*storage.Guest{
		"username": {Username: "ANN", Email: "x@example.com"},
		"email":    {Username: "bob", Email: "ann@example.com"},
		"id":       {ID: g.ID, Username: "carol"},
	} {
		if err := s.guestConflict(t.Context(), other); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("guestConflict, %s taken: err = %v, want ErrConflict", name, err)
		}
	}
}
