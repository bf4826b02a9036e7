package lobby

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres"
	"github.com/lobbyhq/lobby/storage/sqlite"
)

// OpenStore opens Lobby's database and applies pending migrations.
// databaseURL is a postgres:// or postgresql:// URL for Postgres; anything
// else is the path of the embedded SQLite file, whose parent directory is
// created (mode 0700) when missing. key is the 32-byte secret key that seals
// secret columns; a database sealed with another key is refused with
// storage.ErrWrongKey. The caller closes the store.
func OpenStore(ctx context.Context, databaseURL string, key []byte) (storage.Store, error) {
	databaseURL = strings.TrimSpace(databaseURL)
	if databaseURL == "" {
		return nil, errors.New("lobby: open store: no database given; pass a postgres:// URL or the path of a SQLite file such as data/lobby.db")
	}
	sealer, err := storage.NewSealer(key)
	if err != nil {
		return nil, fmt.Errorf("lobby: open store: %w", err)
	}
	opts := storage.Options{Sealer: sealer}
	if isPostgresURL(databaseURL) {
		st, err := postgres.Open(ctx, databaseURL, postgres.Options{Options: opts})
		if err != nil {
			return nil, fmt.Errorf("lobby: open store: %w", err)
		}
		return st, nil
	}
	if dir := filepath.Dir(databaseURL); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("lobby: open store: create the database directory (check its permissions): %w", err)
		}
	}
	st, err := sqlite.Open(ctx, databaseURL, opts)
	if err != nil {
		return nil, fmt.Errorf("lobby: open store: %w", err)
	}
	return st, nil
}

// isPostgresURL reports whether s names a Postgres database rather than a
// SQLite file.
func isPostgresURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}
