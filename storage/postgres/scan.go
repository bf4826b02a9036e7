package postgres

import (
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lobbyhq/lobby/storage"
)

// rowScanner is a pgx.Row or pgx.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// tsIn is a time as stored: NULL when zero, else microseconds in UTC.
func tsIn(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return storage.Truncate(t)
}

// tsOut is a stored time as returned: zero when NULL, else UTC.
func tsOut(v pgtype.Timestamptz) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return storage.Truncate(v.Time)
}

// uuidIn is a UUID as stored: NULL for uuid.Nil.
func uuidIn(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id
}

// uuidOut is a stored UUID as returned: uuid.Nil when NULL.
func uuidOut(v pgtype.UUID) uuid.UUID {
	if !v.Valid {
		return uuid.Nil
	}
	return v.Bytes
}

// textIn is a string as stored: NULL when empty.
func textIn(s string) any {
	if s == "" {
		return nil
	}
	return s
}
