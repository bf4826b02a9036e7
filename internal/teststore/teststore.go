// Package teststore opens a fresh store on either backend for the tests of
// any package: SQLite in a temporary directory, Postgres in a schema of its
// own on the database named by LOBBY_TEST_DATABASE_URL (see pgtest). It
// imports package testing, so only tests import it.
package teststore

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

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
