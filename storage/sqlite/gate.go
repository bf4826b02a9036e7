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

// stampStatuses are the statuses GetGuestStamp's query numbers from 1, so
// that it reads integers only (a TEXT column would cost a string per read).
var stampStatuses = [...]storage.GuestStatus{storage.GuestPending, storage.GuestActive,
	storage.GuestSuspended, storage.GuestExpired, storage.GuestDenied}

// guestStampSQL names its columns with one letter each: the driver makes a
// string of every column's name for every query, and a one-byte string
// costs no allocation.
const guestStampSQL = `SELECT CASE status WHEN 'pending' THEN 1 WHEN 'active' THEN 2 WHEN 'suspended' THEN 3
	WHEN 'expired' THEN 4 WHEN 'denied' THEN 5 ELSE 0 END AS s, valid_from AS f, valid_until AS u,
	sessions_valid_after AS a, updated_at AS t
	FROM guests WHERE id = ?`

// GetGuestStamp returns the fields of the guest with id that a request gate
// decides on, or ErrNotFound: integers only, through a prepared statement on
// the read pool, detached from ctx's cancellation as GetGuestPublic is.
func (s *Store) GetGuestStamp(ctx context.Context, id uuid.UUID) (storage.GuestStamp, error) {
	var v struct {
		status                         int
		from, until, sessions, updated sql.NullInt64
	}
	err := s.reader().QueryRowContext(detach(ctx), guestStampSQL, id.String()).
		Scan(&v.status, &v.from, &v.until, &v.sessions, &v.updated)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.GuestStamp{}, fmt.Errorf("sqlite: get guest stamp: no guest with that id: %w", storage.ErrNotFound)
	}
	if err != nil {
		return storage.GuestStamp{}, fmt.Errorf("sqlite: get guest stamp: %w", err)
	}
	if v.status < 1 || v.status > len(stampStatuses) {
		return storage.GuestStamp{}, errors.New("sqlite: get guest stamp: the guest's status is not one the gate knows; check the database's guests table")
	}
	return storage.GuestStamp{
		Status:             stampStatuses[v.status-1],
		ValidFrom:          fromMicros(v.from),
		ValidUntil:         fromMicros(v.until),
		SessionsValidAfter: fromMicros(v.sessions),
		UpdatedAt:          fromMicros(v.updated),
	}, nil
}
