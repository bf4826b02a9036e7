package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lobbyhq/lobby/storage"
)

// GetGuestPublic returns the guest with id without reading its password
// (guestListColumns), or ErrNotFound.
func (s *Store) GetGuestPublic(ctx context.Context, id uuid.UUID) (*storage.Guest, error) {
	g, err := s.scanGuest(s.db.QueryRow(ctx, `SELECT `+guestListColumns+` FROM guests WHERE id = $1`, id))
	return g, wrap("get guest", err)
}

// GetGuestStamp returns the fields of the guest with id that a request gate
// decides on, or ErrNotFound.
func (s *Store) GetGuestStamp(ctx context.Context, id uuid.UUID) (storage.GuestStamp, error) {
	var (
		status                         string
		from, until, sessions, updated pgtype.Timestamptz
	)
	err := s.db.QueryRow(ctx, `SELECT status, valid_from, valid_until, sessions_valid_after, updated_at
		FROM guests WHERE id = $1`, id).Scan(&status, &from, &until, &sessions, &updated)
	if err != nil {
		return storage.GuestStamp{}, wrap("get guest stamp", err)
	}
	return storage.GuestStamp{
		Status:             storage.GuestStatus(status),
		ValidFrom:          tsOut(from),
		ValidUntil:         tsOut(until),
		SessionsValidAfter: tsOut(sessions),
		UpdatedAt:          tsOut(updated),
	}, nil
}
