package storage

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Cursor is a keyset position in a list ordered by (created_at, id) descending.
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// EncodeCursor makes the opaque string a page hands back as Next.
func EncodeCursor(c Cursor) string {
	raw := strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + c.ID.String()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor reads a cursor made by EncodeCursor.
func DecodeCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("storage: bad page cursor: %w", err)
	}
	ts, id, ok := strings.Cut(string(raw), ".")
	if !ok {
		return Cursor{}, fmt.Errorf("storage: bad page cursor")
	}
	us, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Cursor{}, fmt.Errorf("storage: bad page cursor: %w", err)
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return Cursor{}, fmt.Errorf("storage: bad page cursor: %w", err)
	}
	return Cursor{CreatedAt: time.UnixMicro(us).UTC(), ID: u}, nil
}

// PageLimit clamps a requested page size: default 50, at most 500.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 500:
		return 500
	}
	return n
}

// Truncate rounds t to the microsecond both databases keep, in UTC.
func Truncate(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// ExpiryCursor is a keyset position in a list ordered by (valid_until, id)
// ascending (SortExpiry); a zero ValidUntil is a guest without an end, after
// every other.
type ExpiryCursor struct {
	ValidUntil time.Time
	ID         uuid.UUID
}

// expiryCursorTag starts an ExpiryCursor, so that a cursor of one order is
// refused by the other.
const expiryCursorTag = "e"

// EncodeExpiryCursor makes the opaque string a SortExpiry page hands back
// as Next.
func EncodeExpiryCursor(c ExpiryCursor) string {
	until := "-"
	if !c.ValidUntil.IsZero() {
		until = strconv.FormatInt(c.ValidUntil.UnixMicro(), 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(expiryCursorTag + until + "." + c.ID.String()))
}

// DecodeExpiryCursor reads a cursor made by EncodeExpiryCursor.
func DecodeExpiryCursor(s string) (ExpiryCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return ExpiryCursor{}, fmt.Errorf("storage: bad page cursor: %w", err)
	}
	rest, ok := strings.CutPrefix(string(raw), expiryCursorTag)
	if !ok {
		return ExpiryCursor{}, fmt.Errorf("storage: bad page cursor: not one of a list by expiry")
	}
	ts, id, ok := strings.Cut(rest, ".")
	if !ok {
		return ExpiryCursor{}, fmt.Errorf("storage: bad page cursor")
	}
	var c ExpiryCursor
	if ts != "-" {
		us, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return ExpiryCursor{}, fmt.Errorf("storage: bad page cursor: %w", err)
		}
		c.ValidUntil = time.UnixMicro(us).UTC()
	}
	if c.ID, err = uuid.Parse(id); err != nil {
		return ExpiryCursor{}, fmt.Errorf("storage: bad page cursor: %w", err)
	}
	return c, nil
}
