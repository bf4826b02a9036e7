package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/storetest"
)

func openT(t *testing.T, path string, opts storage.Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestOpenInParallel opens one new file from several stores at once, as
// processes starting together would: all succeed and migrate exactly once.
func TestOpenInParallel(t *testing.T) {
	t.Parallel()
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		path := filepath.Join(t.TempDir(), "lobby.db")
		opts := storage.Options{Sealer: storetest.NewSealer(t)}
		const n = 6
		stores := make([]*Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = Open(t.Context(), path, opts) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: Open %d: %v", round, i, err)
			}
			t.Cleanup(func() { stores[i].Close() })
		}
		for i, s := range stores {
			if v, err := s.SchemaVersion(t.Context()); err != nil || v != len(ms) {
				t.Fatalf("round %d: store %d: SchemaVersion = %d, %v; want %d", round, i, v, err, len(ms))
			}
		}
		if err := stores[0].Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
		var applied, checks int
		if err := stores[1].r.QueryRowContext(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&applied); err != nil || applied != len(ms) {
			t.Fatalf("round %d: schema_migrations has %d rows, %v; want %d", round, applied, err, len(ms))
		}
		if err := stores[1].r.QueryRowContext(t.Context(), "SELECT count(*) FROM meta WHERE key = 'key_check'").Scan(&checks); err != nil || checks != 1 {
			t.Fatalf("round %d: %d key checks, %v; want 1", round, checks, err)
		}
	}
}

// TestOpenInParallelWithDifferentKeys: when processes with different keys
// create the database at once, the first key wins and the others are told
// their key is wrong.
func TestOpenInParallelWithDifferentKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lobby.db")
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		opts := storage.Options{Sealer: storetest.NewSealer(t)}
		wg.Go(func() {
			s, err := Open(t.Context(), path, opts)
			if err == nil {
				t.Cleanup(func() { s.Close() })
			}
			errs[i] = err
		})
	}
	wg.Wait()
	opened := 0
	for i, err := range errs {
		switch {
		case err == nil:
			opened++
		case !errors.Is(err, storage.ErrWrongKey):
			t.Errorf("Open %d: %v, want nil or ErrWrongKey", i, err)
		}
	}
	if opened != 1 {
		t.Fatalf("%d of %d opens with different keys succeeded, want 1", opened, n)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lobby.db")
	opts := storage.Options{Sealer: storetest.NewSealer(t)}
	s := openT(t, path, opts)
	if _, err := s.w.ExecContext(t.Context(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), path, opts)
	if err == nil || !strings.Contains(err.Error(), "newer Lobby") {
		t.Fatalf("Open of a database from a newer Lobby: err = %v, want one asking for a newer Lobby", err)
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	good := storage.Options{Sealer: storetest.NewSealer(t)}
	dir := t.TempDir()
	for _, c := range []struct {
		name, path string
		opts       storage.Options
		want       string
	}{
		{"no sealer", filepath.Join(dir, "a.db"), storage.Options{}, "Sealer is required"},
		{"empty path", "", good, "not a usable database path"},
		{"memory", ":memory:", good, "not a usable database path"},
		{"query in path", filepath.Join(dir, "a.db?mode=ro"), good, "not a usable database path"},
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "a.db"), good, "check that its directory exists"},
	} {
		s, err := Open(t.Context(), c.path, c.opts)
		if err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", c.name, err, c.want)
		}
	}
}

// TestConnectionSettings checks the pragmas of the writer and the readers.
func TestConnectionSettings(t *testing.T) {
	t.Parallel()
	s := openT(t, filepath.Join(t.TempDir(), "lobby.db"), storage.Options{Sealer: storetest.NewSealer(t)})
	ctx := t.Context()
	for _, c := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "1"}, // NORMAL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
	} {
		var got string
		if err := s.w.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil || got != c.want {
			t.Errorf("writer: PRAGMA %s = %q, %v; want %q", c.pragma, got, err, c.want)
		}
	}
	if s.w.Stats().MaxOpenConnections != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", s.w.Stats().MaxOpenConnections)
	}
	var qo string
	if err := s.r.QueryRowContext(ctx, "PRAGMA query_only").Scan(&qo); err != nil || qo != "1" {
		t.Errorf("reader: PRAGMA query_only = %q, %v; want 1", qo, err)
	}
	if _, err := s.r.ExecContext(ctx, "DELETE FROM audit"); err == nil {
		t.Error("a write through the read pool succeeded")
	}
}

// TestTimesAreMicroseconds checks the storage format: INTEGER unix
// microseconds, NULL for an unset time.
func TestTimesAreMicroseconds(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 1, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
	s := openT(t, filepath.Join(t.TempDir(), "lobby.db"), storage.Options{Sealer: storetest.NewSealer(t), Now: func() time.Time { return at }})
	g := &storage.Guest{Username: "u", Status: storage.GuestActive, ValidUntil: at.Add(time.Hour)}
	if err := s.CreateGuest(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	var (
		created, until         int64
		typ                    string
		notifiedNull, fromNull bool
	)
	err := s.r.QueryRowContext(t.Context(), `SELECT created_at, typeof(created_at), valid_until,
		expiry_notified_at IS NULL, valid_from IS NULL FROM guests`).Scan(&created, &typ, &until, &notifiedNull, &fromNull)
	if err != nil {
		t.Fatal(err)
	}
	if typ != "integer" || created != at.UnixMicro() || until != at.Add(time.Hour).UnixMicro() || !notifiedNull || !fromNull {
		t.Fatalf("stored created_at %d (%s), valid_until %d, unset times NULL: %v %v; want %d, %d, true true",
			created, typ, until, notifiedNull, fromNull, at.UnixMicro(), at.Add(time.Hour).UnixMicro())
	}
	got, err := s.GetGuest(t.Context(), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt != storage.Truncate(at) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt = %v, want %v in UTC", got.CreatedAt, storage.Truncate(at))
	}
}

// TestLeaseUsesIndexes keeps the poller's query off a full table scan: the
// outbox keeps every sent message.
func TestLeaseUsesIndexes(t *testing.T) {
	t.Parallel()
	s := openT(t, filepath.Join(t.TempDir(), "lobby.db"), storage.Options{Sealer: storetest.NewSealer(t)})
	plan := queryPlan(t, s.r, "SELECT id FROM outbox WHERE "+leasable+
		" ORDER BY next_attempt_at, created_at, id LIMIT 10", 0, 0)
	joined := strings.Join(plan, "\n")
	if strings.Contains(joined, "SCAN outbox") {
		t.Fatalf("the lease query scans the whole outbox:\n%s", joined)
	}
	t.Logf("plan:\n%s", joined)
}

// oldDatabase makes a database file at schema version 2 (before
// 003_fold_keys) holding staff and guests as the older Lobby wrote them.
func oldDatabase(t *testing.T, staff []string, guests [][2]string) string {
	t.Helper()
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lobby.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(t.Context(), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT")
	for _, m := range ms[:2] {
		exec(m.SQL)
		exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)", m.Version, m.Name)
	}
	for _, name := range staff {
		exec("INSERT INTO staff (id, username, role, created_at) VALUES (?, ?, 'sponsor', 0)", uuid.NewString(), name)
	}
	for _, g := range guests {
		exec("INSERT INTO guests (id, username, email, status, created_at, updated_at) VALUES (?, ?, ?, 'active', 0, 0)",
			uuid.NewString(), g[0], strings.ToLower(g[1]))
	}
	return path
}

// TestFoldKeysMigration: names that SQLite's lower() left apart are folded
// by the upgrade, and two that fold to one stop it, both named, with the
// database left as it was.
func TestFoldKeysMigration(t *testing.T) {
	t.Parallel()
	opts := storage.Options{Sealer: storetest.NewSealer(t)}
	s := openT(t, oldDatabase(t, []string{"Émile", "ada"}, [][2]string{{"Zoë", "Ñandú@Example.com"}, {"bob", ""}, {"carol", ""}}), opts)
	ctx := t.Context()
	if got, err := s.GetStaffByUsername(ctx, "ÉMILE"); err != nil || got.Username != "Émile" {
		t.Fatalf("GetStaffByUsername(ÉMILE) after the upgrade = %v, %v; want Émile", got, err)
	}
	if err := s.CreateStaff(ctx, &storage.Staff{Username: "émile", Role: storage.RoleSponsor}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("CreateStaff(émile) beside Émile after the upgrade: err = %v, want ErrConflict", err)
	}
	if got, err := s.GetGuestByUsername(ctx, "ZOË"); err != nil || got.Username != "Zoë" {
		t.Fatalf("GetGuestByUsername(ZOË) after the upgrade = %v, %v; want Zoë", got, err)
	}
	if got, err := s.GetGuestByEmail(ctx, "ÑANDÚ@EXAMPLE.COM"); err != nil || got.Username != "Zoë" {
		t.Fatalf("GetGuestByEmail after the upgrade = %v, %v; want Zoë", got, err)
	}
	storetest.CheckSearchAfterUpgrade(t, s)
	storetest.CheckStaffAfterUpgrade(t, s)

	clash := oldDatabase(t, []string{"Émile", "émile"}, nil)
	_, err := Open(ctx, clash, opts)
	if err == nil || !strings.Contains(err.Error(), `"Émile"`) || !strings.Contains(err.Error(), `"émile"`) ||
		!strings.Contains(err.Error(), "staff.username") {
		t.Fatalf("Open of a database with Émile and émile: err = %v; want both named", err)
	}
	db, err := sql.Open("sqlite", clash)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil || v != 2 {
		t.Fatalf("after the failed upgrade: schema version %d, %v; want 2, unchanged", v, err)
	}
}
