package lobby

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
)

func newKey(t testing.TB) []byte {
	k := make([]byte, storage.KeySize)
	rand.Read(k)
	return k
}

// TestOpenStoreSQLite: a file path opens SQLite, creating the missing
// directories private to the user; another key is refused.
func TestOpenStoreSQLite(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "lobby")
	path := filepath.Join(dir, "lobby.db")
	key := newKey(t)
	st, err := OpenStore(t.Context(), path, key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Backend() != "sqlite" {
		t.Errorf("Backend() = %q, want sqlite", st.Backend())
	}
	if err := st.Ping(t.Context()); err != nil {
		t.Error(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o700 {
			t.Errorf("%s has mode %v, want 0700", d, perm)
		}
	}

	_, err = OpenStore(t.Context(), path, newKey(t))
	if !errors.Is(err, storage.ErrWrongKey) {
		t.Fatalf("open with another key: %v, want storage.ErrWrongKey", err)
	}
}

// TestOpenStoreChoosesBackend: postgres:// and postgresql:// URLs go to
// Postgres (here an address where nothing listens), anything else to SQLite.
func TestOpenStoreChoosesBackend(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"postgres://lobby@127.0.0.1:1/lobby?connect_timeout=5",
		"PostgreSQL://lobby@127.0.0.1:1/lobby?connect_timeout=5",
	} {
		_, err := OpenStore(t.Context(), url, newKey(t))
		if err == nil || !strings.Contains(err.Error(), "postgres") {
			t.Errorf("OpenStore(%q): %v, want an error from the postgres backend", url, err)
		}
		if err != nil && strings.Contains(err.Error(), "sqlite") {
			t.Errorf("OpenStore(%q) went to SQLite: %v", url, err)
		}
	}
	if _, err := OpenStore(t.Context(), "  ", newKey(t)); err == nil || !strings.Contains(err.Error(), "no database given") {
		t.Errorf("OpenStore(blank): %v, want a no-database error", err)
	}
	if _, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "x.db"), []byte("short")); err == nil {
		t.Error("OpenStore accepted a short key")
	}
}

// TestOpenStorePostgres opens a real Postgres database by URL.
func TestOpenStorePostgres(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.Schema(t)
	st, err := OpenStore(t.Context(), url, newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Backend() != "postgres" {
		t.Errorf("Backend() = %q, want postgres", st.Backend())
	}
	if err := st.Ping(t.Context()); err != nil {
		t.Error(err)
	}
}
