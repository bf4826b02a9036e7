package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

// checkUnavailable fails t unless err says the database is unavailable,
// both ways a caller may ask.
func checkUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	if !errors.Is(err, storage.ErrUnavailable) || !storage.IsUnavailable(err) {
		t.Errorf("%s: %v: Is ErrUnavailable %v, IsUnavailable %v; want both", what, err,
			errors.Is(err, storage.ErrUnavailable), storage.IsUnavailable(err))
	}
}

// TestUnavailableRefused: a database whose address refuses connections
// (stopped, restarting) is unavailable to every kind of call.
func TestUnavailableRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connecting is refused
	pool, err := pgxpool.New(t.Context(), "postgres://lobby@"+addr+"/lobby?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := &Store{db: guard(pool), pool: pool, sealer: storetest.NewSealer(t), now: time.Now, state: newState(pool)}

	checkUnavailable(t, "Ping", s.Ping(t.Context()))
	_, err = s.GetGuest(t.Context(), uuid.New())
	checkUnavailable(t, "GetGuest", err)
	_, err = s.ListGuestTypes(t.Context())
	checkUnavailable(t, "ListGuestTypes", err)
	checkUnavailable(t, "WithTx", s.WithTx(t.Context(), func(storage.Store) error { return nil }))
}

// TestUnavailableClosedPool: once the pool is closed, reads, writes and
// transactions report the database unavailable, not a fault.
func TestUnavailableClosedPool(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	g := &storage.Guest{Username: "ann", Email: "ann@example.com", Status: storage.GuestActive}
	if err := s.CreateGuest(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	s.pool.Close()
	_, err := s.GetGuest(t.Context(), g.ID)
	checkUnavailable(t, "GetGuest", err)
	_, err = s.GetGuestByEmail(t.Context(), g.Email)
	checkUnavailable(t, "GetGuestByEmail", err)
	err = s.CreateGuest(t.Context(), &storage.Guest{Username: "bob", Email: "bob@example.com", Status: storage.GuestActive})
	checkUnavailable(t, "CreateGuest", err)
	checkUnavailable(t, "WithTx", s.WithTx(t.Context(), func(storage.Store) error { return nil }))
}

// TestUnavailableTerminated: a connection the server ends (as a restart
// does, SQLSTATE 57P01) fails the call in flight as unavailable; and a
// missing row is still ErrNotFound, not unavailable.
func TestUnavailableTerminated(t *testing.T) {
	t.Parallel()
	db := newInternalDB(t)
	s := db.open(t)
	if _, err := s.GetGuest(t.Context(), uuid.New()); !errors.Is(err, storage.ErrNotFound) || storage.IsUnavailable(err) {
		t.Fatalf("GetGuest of a missing guest: %v; want ErrNotFound only", err)
	}
	admin, err := pgx.Connect(t.Context(), db.url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	err = s.WithTx(t.Context(), func(tx storage.Store) error {
		var pid int
		if err := tx.(*Store).db.QueryRow(t.Context(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			return fmt.Errorf("pid: %w", err)
		}
		if _, err := admin.Exec(t.Context(), "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatalf("terminate: %v", err)
		}
		_, err := tx.GetGuest(t.Context(), uuid.New())
		return err
	})
	checkUnavailable(t, "GetGuest on a terminated connection", err)
}
