// Package teststore opens a fresh store on either backend for the tests of
// any package: SQLite in a temporary directory, Postgres in a schema of its
// own on the database named by LOBBY_TEST_DATABASE_URL (see pgtest). It
// imports package testing, so only tests import it.
package teststore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres"
	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
	"github.com/lobbyhq/lobby/storage/sqlite"
)

// Backends are the stores the tests run on: SQLite always, Postgres when
// LOBBY_TEST_DATABASE_URL is set (the Postgres tests skip without it).
var Backends = []string{"sqlite", "postgres"}

// Open opens a fresh store of backend ("sqlite" or "postgres") that seals
// secrets with a fixed test key and takes its time from now. The store is
// closed when the test ends.
func Open(t testing.TB, backend string, now func() time.Time) storage.Store {
	t.Helper()
	key, err := storage.ParseKey(strings.Repeat("cd", 32))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := storage.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	opts := storage.Options{Sealer: sealer, Now: now}
	var st storage.Store
	switch backend {
	case "sqlite":
		st, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "lobby.db"), opts)
	case "postgres":
		dbURL, schema := pgtest.Schema(t)
		st, err = postgres.Open(t.Context(), dbURL, postgres.Options{Options: opts, Schema: schema, MaxConns: 4})
	default:
		t.Fatalf("teststore: unknown backend %q: use one of %v", backend, Backends)
	}
	if err != nil {
		t.Fatalf("open %s store: %v", backend, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// Mail runs a one-worker mail dispatcher on st that sends through sender
// from lobby@example.com, until the test ends. Its poller waits an hour:
// a Future's hand-over sends the mail, not the poller.
func Mail(t testing.TB, st storage.Store, sender notify.Sender) *notify.Dispatcher {
	t.Helper()
	d, err := notify.NewDispatcher(notify.DispatcherConfig{
		Store:        st,
		Settings:     func(context.Context) (notify.Settings, error) { return notify.Settings{From: "lobby@example.com"}, nil },
		Sender:       sender,
		Workers:      1,
		PollInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}
