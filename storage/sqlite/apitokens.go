package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

const apiTokenCols = "t.id, t.staff_id, t.name, t.hint, t.created_at, t.expires_at, t.last_used_at"

// lookupAPITokenSQL reads a token by its hash, with its staff user: a
// search of api_tokens_hash_key, then of staff's primary key.
var lookupAPITokenSQL = "SELECT " + apiTokenCols + ", " + prefixCols("s.", staffCols) +
	" FROM api_tokens t JOIN staff s ON s.id = t.staff_id WHERE t.hash = ?"

func scanAPIToken(sc scanner, extra ...any) (*storage.APIToken, error) {
	var (
		t             storage.APIToken
		created       int64
		expires, used sql.NullInt64
	)
	dest := append([]any{&t.ID, &t.StaffID, &t.Name, &t.Hint, &created, &expires, &used}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	t.CreatedAt = time.UnixMicro(created).UTC()
	t.ExpiresAt, t.LastUsedAt = fromMicros(expires), fromMicros(used)
	return &t, nil
}

// CreateAPIToken inserts t, filling ID and CreatedAt when zero.
func (s *Store) CreateAPIToken(ctx context.Context, t *storage.APIToken) error {
	if len(t.Hash) == 0 {
		return errors.New("sqlite: create API token: the hash is empty")
	}
	stored := *t
	if stored.ID == uuid.Nil {
		stored.ID = uuid.New()
	}
	stored.CreatedAt = truncOrZero(stored.CreatedAt)
	if stored.CreatedAt.IsZero() {
		stored.CreatedAt = s.now()
	}
	stored.ExpiresAt, stored.LastUsedAt = truncOrZero(stored.ExpiresAt), time.Time{}
	_, err := s.writer().ExecContext(ctx, "INSERT INTO api_tokens (id, staff_id, name, hash, hint, created_at, expires_at) VALUES ("+placeholders(7)+")",
		stored.ID.String(), stored.StaffID.String(), stored.Name, stored.Hash, stored.Hint, micros(stored.CreatedAt), nullMicros(stored.ExpiresAt))
	if err != nil {
		if _, ok := uniqueViolation(err); ok {
			return fmt.Errorf("sqlite: create API token: the token exists already: %w", storage.ErrConflict)
		}
		if strings.Contains(err.Error(), "FOREIGN KEY") {
			return fmt.Errorf("sqlite: create API token: no staff user with that id: %w", storage.ErrNotFound)
		}
		return fmt.Errorf("sqlite: create API token: %w", err)
	}
	*t = stored
	return nil
}

// LookupAPIToken returns the token with hash and its staff user, in one
// read by the unique index on the hash.
func (s *Store) LookupAPIToken(ctx context.Context, hash []byte) (*storage.APIToken, *storage.Staff, error) {
	row := s.reader().QueryRowContext(ctx, lookupAPITokenSQL, hash)
	var st *storage.Staff
	t, err := scanAPIToken(scanFunc(func(dest ...any) error {
		var err error
		st, err = scanStaff(scanFunc(func(sdest ...any) error { return row.Scan(append(dest, sdest...)...) }))
		return err
	}))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("sqlite: look up API token: %w", storage.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: look up API token: %w", err)
	}
	t.Hash = append([]byte(nil), hash...)
	return t, st, nil
}

// scanFunc makes a function a scanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// prefixCols qualifies each of the comma-separated columns cols with p.
func prefixCols(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// ListAPITokens lists staffID's tokens (uuid.Nil: everyone's), newest first.
func (s *Store) ListAPITokens(ctx context.Context, staffID uuid.UUID) ([]storage.APIToken, error) {
	q, args := "SELECT "+apiTokenCols+" FROM api_tokens t ORDER BY t.created_at DESC, t.id", []any(nil)
	if staffID != uuid.Nil {
		q, args = "SELECT "+apiTokenCols+" FROM api_tokens t WHERE t.staff_id = ? ORDER BY t.created_at DESC, t.id", []any{staffID.String()}
	}
	rows, err := s.reader().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list API tokens: %w", err)
	}
	defer rows.Close()
	out := []storage.APIToken{}
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list API tokens: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list API tokens: %w", err)
	}
	return out, nil
}

// DeleteAPIToken deletes the token with id, or returns ErrNotFound.
func (s *Store) DeleteAPIToken(ctx context.Context, id uuid.UUID) error {
	res, err := s.writer().ExecContext(ctx, "DELETE FROM api_tokens WHERE id = ?", id.String())
	if err != nil {
		return fmt.Errorf("sqlite: delete API token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: delete API token: no token with that id: %w", storage.ErrNotFound)
	}
	return nil
}

// TouchAPIToken moves the token's LastUsedAt forward to at.
func (s *Store) TouchAPIToken(ctx context.Context, id uuid.UUID, at time.Time) error {
	_, err := s.writer().ExecContext(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
		micros(at), id.String(), micros(at))
	if err != nil {
		return fmt.Errorf("sqlite: touch API token: %w", err)
	}
	return nil
}
