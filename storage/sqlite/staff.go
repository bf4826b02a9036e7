package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lobbyhq/lobby/storage"
)

// PutGuestType inserts t or replaces the guest type of the same name.
func (s *Store) PutGuestType(ctx context.Context, t storage.GuestType) error {
	if t.Name == "" {
		return errors.New("sqlite: put guest type: the name is empty")
	}
	_, err := s.writer().ExecContext(ctx, `INSERT INTO guest_types
		(name, description, default_duration_ns, max_duration_ns, require_approval, expiry_notice_ns) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description,
			default_duration_ns = excluded.default_duration_ns, max_duration_ns = excluded.max_duration_ns,
			require_approval = excluded.require_approval, expiry_notice_ns = excluded.expiry_notice_ns`,
		t.Name, t.Description, int64(t.DefaultDuration), int64(t.MaxDuration), boolInt(t.RequireApproval), int64(t.ExpiryNotice))
	if err != nil {
		return fmt.Errorf("sqlite: put guest type: %w", err)
	}
	return nil
}

const guestTypeCols = "name, description, default_duration_ns, max_duration_ns, require_approval, expiry_notice_ns"

func scanGuestType(sc scanner) (storage.GuestType, error) {
	var (
		t               storage.GuestType
		def, mx, notice int64
		approval        int
	)
	err := sc.Scan(&t.Name, &t.Description, &def, &mx, &approval, &notice)
	t.DefaultDuration, t.MaxDuration, t.RequireApproval = time.Duration(def), time.Duration(mx), approval != 0
	t.ExpiryNotice = time.Duration(notice)
	return t, err
}

// GetGuestType returns the guest type called name, or ErrNotFound.
func (s *Store) GetGuestType(ctx context.Context, name string) (*storage.GuestType, error) {
	t, err := scanGuestType(s.reader().QueryRowContext(ctx, "SELECT "+guestTypeCols+" FROM guest_types WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get guest type %q: %w", name, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get guest type: %w", err)
	}
	return &t, nil
}

// ListGuestTypes returns all guest types by name.
func (s *Store) ListGuestTypes(ctx context.Context) ([]storage.GuestType, error) {
	rows, err := s.reader().QueryContext(ctx, "SELECT "+guestTypeCols+" FROM guest_types ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list guest types: %w", err)
	}
	defer rows.Close()
	ts := []storage.GuestType{}
	for rows.Next() {
		t, err := scanGuestType(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list guest types: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list guest types: %w", err)
	}
	return ts, nil
}

// DeleteGuestType deletes the guest type called name, or returns ErrNotFound.
func (s *Store) DeleteGuestType(ctx context.Context, name string) error {
	res, err := s.writer().ExecContext(ctx, "DELETE FROM guest_types WHERE name = ?", name)
	if err != nil {
		return fmt.Errorf("sqlite: delete guest type: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: delete guest type %q: %w", name, storage.ErrNotFound)
	}
	return nil
}

const staffCols = "id, username, email, display_name, role, password_hash, password_changed_at, disabled, created_at"

func scanStaff(sc scanner) (*storage.Staff, error) {
	var (
		st               storage.Staff
		role             string
		disabled         int
		changed, created sql.NullInt64
	)
	if err := sc.Scan(&st.ID, &st.Username, &st.Email, &st.DisplayName, &role, &st.PasswordHash, &changed, &disabled, &created); err != nil {
		return nil, err
	}
	st.Role, st.Disabled = storage.Role(role), disabled != 0
	st.PasswordChangedAt, st.CreatedAt = fromMicros(changed), fromMicros(created)
	return &st, nil
}

// CreateStaff inserts st, filling ID and CreatedAt when zero; the password
// is as new as the user (PasswordChangedAt is CreatedAt). A taken username
// is ErrConflict. On error st is left as it was.
func (s *Store) CreateStaff(ctx context.Context, st *storage.Staff) error {
	if st.Role != storage.RoleSponsor && st.Role != storage.RoleAdmin {
		return fmt.Errorf("sqlite: create staff: role %q is not sponsor or admin", st.Role)
	}
	id := st.ID
	if id == uuid.Nil {
		id = uuid.New()
	}
	created := truncOrZero(st.CreatedAt)
	if created.IsZero() {
		created = s.now()
	}
	changed := created
	_, err := s.writer().ExecContext(ctx, "INSERT INTO staff ("+staffCols+", username_key) VALUES ("+placeholders(10)+")",
		id.String(), st.Username, st.Email, st.DisplayName, string(st.Role), st.PasswordHash, nullMicros(changed),
		boolInt(st.Disabled), micros(created), storage.FoldKey(st.Username))
	if err != nil {
		if _, ok := uniqueViolation(err); ok {
			return fmt.Errorf("sqlite: create staff: the username is taken: %w", storage.ErrConflict)
		}
		return fmt.Errorf("sqlite: create staff: %w", err)
	}
	st.ID, st.CreatedAt, st.PasswordChangedAt = id, created, changed
	return nil
}

func (s *Store) getStaff(ctx context.Context, what, where string, arg any) (*storage.Staff, error) {
	st, err := scanStaff(s.reader().QueryRowContext(ctx, "SELECT "+staffCols+" FROM staff WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get staff: no staff user with that %s: %w", what, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get staff: %w", err)
	}
	return st, nil
}

// GetStaff returns the staff user with id, or ErrNotFound.
func (s *Store) GetStaff(ctx context.Context, id uuid.UUID) (*storage.Staff, error) {
	return s.getStaff(ctx, "id", "id = ?", id.String())
}

// GetStaffByUsername finds a staff user by username, compared as
// storage.FoldKey folds it.
func (s *Store) GetStaffByUsername(ctx context.Context, username string) (*storage.Staff, error) {
	return s.getStaff(ctx, "username", "username_key = ?", storage.FoldKey(username))
}

// ListStaff returns all staff users by username.
func (s *Store) ListStaff(ctx context.Context) ([]*storage.Staff, error) {
	rows, err := s.reader().QueryContext(ctx, "SELECT "+staffCols+" FROM staff ORDER BY username_key, id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list staff: %w", err)
	}
	defer rows.Close()
	list := []*storage.Staff{}
	for rows.Next() {
		st, err := scanStaff(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list staff: %w", err)
		}
		list = append(list, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list staff: %w", err)
	}
	return list, nil
}

// SetStaffPassword stores a new password hash and stamps PasswordChangedAt.
func (s *Store) SetStaffPassword(ctx context.Context, id uuid.UUID, hash string) error {
	return s.updateStaff(ctx, "set staff password", "password_hash = ?, password_changed_at = ?", hash, micros(s.now()), id.String())
}

// SetStaffDisabled disables or enables a staff user.
func (s *Store) SetStaffDisabled(ctx context.Context, id uuid.UUID, disabled bool) error {
	return s.updateStaff(ctx, "set staff disabled", "disabled = ?", boolInt(disabled), id.String())
}

func (s *Store) updateStaff(ctx context.Context, op, set string, args ...any) error {
	res, err := s.writer().ExecContext(ctx, "UPDATE staff SET "+set+" WHERE id = ?", args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: %s: no staff user with that id: %w", op, storage.ErrNotFound)
	}
	return nil
}
