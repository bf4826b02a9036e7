package postgres

import (
	"context"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// GetGuestPublic returns the guest with id without reading its password
// (guestListColumns), or ErrNotFound.
func (s *Store) GetGuestPublic(ctx context.Context, id uuid.UUID) (*storage.Guest, error) {
	g, err := s.scanGuest(s.db.QueryRow(ctx, `SELECT `+guestListColumns+` FROM guests WHERE id = $1`, id))
	return g, wrap("get guest", err)
}
