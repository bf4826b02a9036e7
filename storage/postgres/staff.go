package postgres

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lobbyhq/lobby/storage"
)

const staffColumns = `id, username, email, display_name, role, password_hash, password_changed_at, disabled, created_at`

func scanStaff(r rowScanner) (*storage.Staff, error) {
	var (
		st               storage.Staff
		role             string
		changed, created pgtype.Timestamptz
	)
	if err := r.Scan(&st.ID, &st.Username, &st.Email, &st.DisplayName, &role, &st.PasswordHash, &changed,
		&st.Disabled, &created); err != nil {
		return nil, err
	}
	st.Role = storage.Role(role)
	st.PasswordChangedAt, st.CreatedAt = tsOut(changed), tsOut(created)
	return &st, nil
}

// CreateStaff inserts st, filling ID and CreatedAt when zero; the password
// is as new as the user (PasswordChangedAt is CreatedAt). A taken username
// is ErrConflict, and the transaction stays usable. On error st is left as
// it was.
func (s *Store) CreateStaff(ctx context.Context, st *storage.Staff) error {
	if st.Role != storage.RoleSponsor && st.Role != storage.RoleAdmin {
		return fmt.Errorf("postgres: create staff: unknown role %q", st.Role)
	}
	stored := *st
	if stored.ID == uuid.Nil {
		stored.ID = uuid.New()
	}
	if stored.CreatedAt.IsZero() {
		stored.CreatedAt = s.clock()
	}
	stored.CreatedAt = storage.Truncate(stored.CreatedAt)
	stored.PasswordChangedAt = stored.CreatedAt
	tag, err := s.db.Exec(ctx, `INSERT INTO staff (`+staffColumns+`, username_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		stored.ID, stored.Username, stored.Email, stored.DisplayName, string(stored.Role), stored.PasswordHash,
		stored.PasswordChangedAt, stored.Disabled, stored.CreatedAt, storage.FoldKey(stored.Username))
	if err != nil {
		return wrap("create staff", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: create staff: username or id already taken: %w", storage.ErrConflict)
	}
	*st = stored
	return nil
}

// GetStaff returns the staff user with id, or ErrNotFound.
func (s *Store) GetStaff(ctx context.Context, id uuid.UUID) (*storage.Staff, error) {
	st, err := scanStaff(s.db.QueryRow(ctx, `SELECT `+staffColumns+` FROM staff WHERE id = $1`, id))
	return st, wrap("get staff", err)
}

// GetStaffByUsername finds a staff user by username, compared as
// storage.FoldKey folds it.
func (s *Store) GetStaffByUsername(ctx context.Context, username string) (*storage.Staff, error) {
	st, err := scanStaff(s.db.QueryRow(ctx, `SELECT `+staffColumns+` FROM staff WHERE username_key = $1`,
		storage.FoldKey(username)))
	return st, wrap("get staff by username", err)
}

// ListStaff returns all staff users by username.
func (s *Store) ListStaff(ctx context.Context) ([]*storage.Staff, error) {
	rows, err := s.db.Query(ctx, `SELECT `+staffColumns+` FROM staff ORDER BY username_key, id`)
	if err != nil {
		return nil, wrap("list staff", err)
	}
	defer rows.Close()
	list := []*storage.Staff{}
	for rows.Next() {
		st, err := scanStaff(rows)
		if err != nil {
			return nil, wrap("list staff", err)
		}
		list = append(list, st)
	}
	return list, wrap("list staff", rows.Err())
}

// SetStaffPassword stores a new password hash and stamps its change time.
func (s *Store) SetStaffPassword(ctx context.Context, id uuid.UUID, hash string) error {
	return s.updateStaff(ctx, "set staff password", `UPDATE staff SET password_hash = $2, password_changed_at = $3 WHERE id = $1`,
		id, hash, s.clock())
}

// SetStaffDisabled disables or enables a staff user.
func (s *Store) SetStaffDisabled(ctx context.Context, id uuid.UUID, disabled bool) error {
	return s.updateStaff(ctx, "set staff disabled", `UPDATE staff SET disabled = $2 WHERE id = $1`, id, disabled)
}

func (s *Store) updateStaff(ctx context.Context, op, sql string, args ...any) error {
	tag, err := s.db.Exec(ctx, sql, args...)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, storage.ErrNotFound)
	}
	return nil
}
