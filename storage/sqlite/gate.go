package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// GetGuestPublic returns the guest with id without reading its password
// (guestListCols), or ErrNotFound. It goes through a prepared statement on
// the read pool, so a request gate costs one indexed lookup, and detached
// from ctx's cancellation (see detach).
func (s *Store) GetGuestPublic(ctx context.Context, id uuid.UUID) (*storage.Guest, error) {
	g, err := s.scanGuest(s.reader().QueryRowContext(detach(ctx), `SELECT `+guestListCols+` FROM guests WHERE id = ?`, id.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get guest: no guest with that id: %w", storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get guest: %w", err)
	}
	return g, nil
}
