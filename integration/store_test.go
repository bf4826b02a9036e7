//go:build integration

package integration

import (
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/storage"
)

// openStore opens Lobby's SQLite store in a temporary directory with a
// fresh random key, which it returns for Config.SecretKey. The store is
// closed when the test ends.
func openStore(t *testing.T) (storage.Store, []byte) {
	t.Helper()
	key := make([]byte, storage.KeySize)
	rand.Read(key)
	st, err := lobby.OpenStore(t.Context(), filepath.Join(t.TempDir(), "lobby.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return st, key
}
