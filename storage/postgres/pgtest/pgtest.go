package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DatabaseEnv names the environment variable with the database URL that
// tests use.
const DatabaseEnv = "LOBBY_TEST_DATABASE_URL"

// Schema gives a test its own empty schema on the database named by
// LOBBY_TEST_DATABASE_URL, dropped (with everything in it) when the test
// ends. It returns the database URL with search_path set to that schema
// only, and the schema name, to pass as postgres.Options.Schema.
//
// Without the variable the test is skipped, except under CI=true, where a
// missing database is a failure rather than a silent pass.
func Schema(t testing.TB) (dbURL, schema string) {
	t.Helper()
	base := os.Getenv(DatabaseEnv)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; CI must run the Postgres tests (e.g. %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)",
				DatabaseEnv, DatabaseEnv)
		}
		t.Skipf("%s is not set; skipping Postgres tests", DatabaseEnv)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: schema: %v", err)
	}
	schema = "lobby_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sharedExtensions(ctx, base); err != nil {
		t.Fatalf("pgtest: schema: %v", err)
	}
	if err := exec(ctx, base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("pgtest: schema: create %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, base, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("pgtest: schema: drop %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema), schema
}

// sharedExtensions creates the extensions that Lobby's migrations use in
// the public schema, once per database. An extension is one per database,
// created in the first schema on the search_path: left to the first test's
// migration, it would live in that test's schema and be dropped with it,
// with the indexes that other tests' schemas built on it. An advisory lock
// keeps test processes running at once from creating it twice.
func sharedExtensions(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('lobby pgtest extensions'))"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
		return err
	})
}

// exec runs one statement on a connection of its own.
func exec(ctx context.Context, dbURL, sql string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// withSearchPath sets search_path in a postgres:// URL, or appends it to a
// key=value DSN.
func withSearchPath(dbURL, schema string) string {
	if u, err := url.Parse(dbURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dbURL) + " search_path=" + schema
}
