package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres"
	"github.com/lobbyhq/lobby/storage/storetest"
)

func TestOpenMigratesConcurrently(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"existing schema", "schema created at open"} {
		t.Run(name, func(t *testing.T) {
			opts := b.opts
			if name == "schema created at open" {
				opts.Schema = b.schema + "_new"
				t.Cleanup(func() { dropSchema(t, b.url, opts.Schema) })
			}
			const n = 4
			stores := make([]*postgres.Store, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), b.url, opts) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("Open %d: %v", i, err)
				}
				t.Cleanup(func() { stores[i].Close() })
			}
			for i, s := range stores {
				v, err := s.SchemaVersion(t.Context())
				if err != nil || v != len(ms) {
					t.Fatalf("store %d: SchemaVersion = %d, %v; want %d", i, v, err, len(ms))
				}
			}
			if err := stores[0].Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
			var applied int
			if err := stores[0].Pool().QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&applied); err != nil || applied != len(ms) {
				t.Fatalf("schema_migrations rows = %d, %v; want %d", applied, err, len(ms))
			}
		})
	}
}

func dropSchema(t *testing.T, url, schema string) {
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Error(err)
	}
}

// TestSchemaAndHostPool: with Options.Schema the pool sees that schema
// only; New works on a host's pool and leaves it open.
func TestSchemaAndHostPool(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.open(t)
	var path string
	if err := s.Pool().QueryRow(t.Context(), "SHOW search_path").Scan(&path); err != nil {
		t.Fatal(err)
	}
	want := pgx.Identifier{b.schema}.Sanitize()
	if path != want {
		t.Fatalf("search_path = %q, want %q", path, want)
	}
	// A table in public is out of reach of an unqualified name.
	probe := pgx.Identifier{"public", b.schema + "_probe"}.Sanitize()
	if _, err := s.Pool().Exec(t.Context(), "CREATE TABLE "+probe+" ()"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Pool().Exec(context.Background(), "DROP TABLE "+probe) })
	if _, err := s.Pool().Exec(t.Context(), "SELECT FROM "+b.schema+"_probe"); err == nil {
		t.Fatal("an unqualified query reached a table in public")
	}
	var n int
	if err := s.Pool().QueryRow(t.Context(), "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'guests'", b.schema).Scan(&n); err != nil || n != 1 {
		t.Fatalf("guests in %s: %d, %v", b.schema, n, err)
	}

	// The URL TestSchema returns selects the schema by itself.
	bare := b.opts
	bare.Schema = ""
	byURL, err := postgres.Open(t.Context(), b.url, bare)
	if err != nil {
		t.Fatal(err)
	}
	defer byURL.Close()
	if v, err := byURL.SchemaVersion(t.Context()); err != nil || v < 1 {
		t.Fatalf("store on the test URL alone: SchemaVersion = %d, %v; want the schema migrated", v, err)
	}

	hosted, err := postgres.New(t.Context(), s.Pool(), b.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := hosted.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("the host's pool was closed by New's store: %v", err)
	}
	if _, err := postgres.Open(t.Context(), "postgres://%zz", b.opts); err == nil {
		t.Fatal("Open with a bad URL succeeded")
	}
	_, err = postgres.Open(t.Context(), "postgres://postgres:hunter2@127.0.0.1:1/test?sslmode=disable&connect_timeout=5", b.opts)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the database") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Open of a closed port: err = %v; want a hint, without the password", err)
	}
}

// oldSchema migrates b's schema to version 2 (before 003_fold_keys) by hand
// and fills it with staff and guests as the older Lobby wrote them.
func oldSchema(t *testing.T, b *testBundle, staff []string, guests [][2]string) {
	t.Helper()
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), b.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(t.Context(), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)")
	for _, m := range ms[:2] {
		exec(m.SQL)
		exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())", m.Version, m.Name)
	}
	for _, name := range staff {
		exec("INSERT INTO staff (id, username, role, created_at) VALUES (gen_random_uuid(), $1, 'sponsor', now())", name)
	}
	for _, g := range guests {
		exec(`INSERT INTO guests (id, username, email, status, created_at, updated_at)
			VALUES (gen_random_uuid(), $1, $2, 'active', now(), now())`, g[0], strings.ToLower(g[1]))
	}
}

// TestFoldKeysMigration: names that lower() left apart (a decomposed
// accent) are folded by the upgrade, and two that fold to one stop it, both
// named, with the schema left as it was.
func TestFoldKeysMigration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	oldSchema(t, b, []string{"E\u0301mile", "ada"}, [][2]string{{"Zoe\u0308", "N\u0303andu\u0301@Example.com"}, {"bob", ""}, {"carol", ""}})
	s := b.open(t)
	ctx := t.Context()
	if got, err := s.GetStaffByUsername(ctx, "ÉMILE"); err != nil || got.Username != "E\u0301mile" {
		t.Fatalf("GetStaffByUsername(ÉMILE) after the upgrade = %v, %v; want the decomposed Émile as typed", got, err)
	}
	if err := s.CreateStaff(ctx, &storage.Staff{Username: "émile", Role: storage.RoleSponsor}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("CreateStaff(émile) beside the decomposed Émile after the upgrade: err = %v, want ErrConflict", err)
	}
	if got, err := s.GetGuestByUsername(ctx, "ZOË"); err != nil {
		t.Fatalf("GetGuestByUsername(ZOË) after the upgrade = %v, %v", got, err)
	}
	if got, err := s.GetGuestByEmail(ctx, "ÑANDÚ@EXAMPLE.COM"); err != nil || got.Email != "ñandú@example.com" {
		t.Fatalf("GetGuestByEmail after the upgrade = %v, %v; want the email stored folded", got, err)
	}
	storetest.CheckSearchAfterUpgrade(t, s)
	storetest.CheckStaffAfterUpgrade(t, s)

	c := setup(t)
	oldSchema(t, c, []string{"E\u0301mile", "émile"}, nil)
	_, err := postgres.Open(ctx, c.url, c.opts)
	if err == nil || !strings.Contains(err.Error(), `"émile"`) || !strings.Contains(err.Error(), "staff.username") {
		t.Fatalf("Open of a schema with a decomposed and a composed émile: err = %v; want both named", err)
	}
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v int
	if err := conn.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil || v != 2 {
		t.Fatalf("after the failed upgrade: schema version %d, %v; want 2, unchanged", v, err)
	}
}
