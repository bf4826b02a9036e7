package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

// TestOpenCreatesPrivateFiles checks that a new database, and the -wal and
// -shm files beside it, can be read by their owner only, although the
// directory exists already and the umask would allow more.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	key, err := storage.ParseKey(strings.Repeat("cd", 32))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := storage.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lobby.db")
	s, err := Open(context.Background(), path, storage.Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A write, so that the WAL and its index exist.
	if err := s.PutGuestType(context.Background(), storage.GuestType{Name: "filemode"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(name), err)
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(name), m)
		}
	}
}
