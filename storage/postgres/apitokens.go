package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lobbyhq/lobby/storage"
)

const apiTokenColumns = "t.id, t.staff_id, t.name, t.hint, t.created_at, t.expires_at, t.last_used_at"

// lookupAPITokenSQL reads a token by its hash, with its staff user: a scan
// of api_tokens_hash_key, then of staff's primary key.
var lookupAPITokenSQL = `SELECT ` + apiTokenColumns + `, ` + qualify("s.", staffColumns) + `
	FROM api_tokens t JOIN staff s ON s.id = t.staff_id WHERE t.hash = $1`

func apiTokenDest(t *storage.APIToken, created, expires, used *pgtype.Timestamptz) []any {
	return []any{&t.ID, &t.StaffID, &t.Name, &t.Hint, created, expires, used}
}

// CreateAPIToken inserts t, filling ID and CreatedAt when zero.
func (s *Store) CreateAPIToken(ctx context.Context, t *storage.APIToken) error {
	if len(t.Hash) == 0 {
		return errors.New("postgres: create API token: the hash is empty")
	}
	stored := *t
	if stored.ID == uuid.Nil {
		stored.ID = uuid.New()
	}
	if stored.CreatedAt.IsZero() {
		stored.CreatedAt = s.clock()
	}
	stored.CreatedAt = storage.Truncate(stored.CreatedAt)
	if !stored.ExpiresAt.IsZero() {
		stored.ExpiresAt = storage.Truncate(stored.ExpiresAt)
	}
	stored.LastUsedAt = time.Time{}
	// INSERT … SELECT: a missing staff user inserts nothing (ErrNotFound)
	// instead of a foreign key error, which would end a transaction.
	tag, err := s.db.Exec(ctx, `INSERT INTO api_tokens (id, staff_id, name, hash, hint, created_at, expires_at)
		SELECT $1, id, $3, $4, $5, $6, $7 FROM staff WHERE id = $2 ON CONFLICT DO NOTHING`,
		stored.ID, stored.StaffID, stored.Name, stored.Hash, stored.Hint, stored.CreatedAt, tsIn(stored.ExpiresAt))
	if err != nil {
		return wrap("create API token", err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.GetStaff(ctx, stored.StaffID); err != nil {
			return fmt.Errorf("postgres: create API token: %w", err)
		}
		return fmt.Errorf("postgres: create API token: the token or its id exists already: %w", storage.ErrConflict)
	}
	*t = stored
	return nil
}

// LookupAPIToken returns the token with hash and its staff user, in one
// read by the unique index on the hash.
func (s *Store) LookupAPIToken(ctx context.Context, hash []byte) (*storage.APIToken, *storage.Staff, error) {
	var (
		t                      storage.APIToken
		created, expires, used pgtype.Timestamptz
		st                     *storage.Staff
	)
	row := s.db.QueryRow(ctx, lookupAPITokenSQL, hash)
	st, err := scanStaff(scanFunc(func(dest ...any) error {
		return row.Scan(append(apiTokenDest(&t, &created, &expires, &used), dest...)...)
	}))
	if err != nil {
		return nil, nil, wrap("look up API token", err)
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = tsOut(created), tsOut(expires), tsOut(used)
	t.Hash = append([]byte(nil), hash...)
	return &t, st, nil
}

// scanFunc makes a function a rowScanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// qualify prefixes each of the comma-separated columns cols with p.
func qualify(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// ListAPITokens lists staffID's tokens (uuid.Nil: everyone's), newest first.
func (s *Store) ListAPITokens(ctx context.Context, staffID uuid.UUID) ([]storage.APIToken, error) {
	q, args := `SELECT `+apiTokenColumns+` FROM api_tokens t ORDER BY t.created_at DESC, t.id`, []any(nil)
	if staffID != uuid.Nil {
		q, args = `SELECT `+apiTokenColumns+` FROM api_tokens t WHERE t.staff_id = $1 ORDER BY t.created_at DESC, t.id`, []any{staffID}
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list API tokens", err)
	}
	defer rows.Close()
	out := []storage.APIToken{}
	for rows.Next() {
		var (
			t                      storage.APIToken
			created, expires, used pgtype.Timestamptz
		)
		if err := rows.Scan(apiTokenDest(&t, &created, &expires, &used)...); err != nil {
			return nil, wrap("list API tokens", err)
		}
		t.CreatedAt, t.ExpiresAt, t.LastUsedAt = tsOut(created), tsOut(expires), tsOut(used)
		out = append(out, t)
	}
	return out, wrap("list API tokens", rows.Err())
}

// DeleteAPIToken deletes the token with id, or returns ErrNotFound.
func (s *Store) DeleteAPIToken(ctx context.Context, id uuid.UUID) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM api_tokens WHERE id = $1`, id)
	if err != nil {
		return wrap("delete API token", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete API token: %w", storage.ErrNotFound)
	}
	return nil
}

// TouchAPIToken moves the token's LastUsedAt forward to at.
func (s *Store) TouchAPIToken(ctx context.Context, id uuid.UUID, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)`,
		id, storage.Truncate(at))
	return wrap("touch API token", err)
}
