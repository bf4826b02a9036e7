package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lobbyhq/lobby/storage"
)

const staffColumns = `id, username, email, display_name, role, password_hash, password_changed_at, disabled, created_at,
	sponsor_group, failed_logins, locked_until, last_login_at, sessions_valid_after`

// staffInsertColumns are the columns CreateStaff writes.
const staffInsertColumns = `id, username, email, display_name, role, password_hash, password_changed_at, disabled, created_at, sponsor_group`

func scanStaff(r rowScanner) (*storage.Staff, error) {
	var (
		st               storage.Staff
		role             string
		changed, created pgtype.Timestamptz
		locked, last     pgtype.Timestamptz
		validAfter       pgtype.Timestamptz
	)
	if err := r.Scan(&st.ID, &st.Username, &st.Email, &st.DisplayName, &role, &st.PasswordHash, &changed,
		&st.Disabled, &created, &st.Group, &st.FailedLogins, &locked, &last, &validAfter); err != nil {
		return nil, err
	}
	st.Role = storage.Role(role)
	st.PasswordChangedAt, st.CreatedAt = tsOut(changed), tsOut(created)
	st.LockedUntil, st.LastLoginAt, st.SessionsValidAfter = tsOut(locked), tsOut(last), tsOut(validAfter)
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
	stored.Group = groupKey(stored.Group)
	stored.FailedLogins, stored.LockedUntil, stored.LastLoginAt, stored.SessionsValidAfter = 0, time.Time{}, time.Time{}, time.Time{}
	tag, err := s.db.Exec(ctx, `INSERT INTO staff (`+staffInsertColumns+`, username_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
		stored.ID, stored.Username, stored.Email, stored.DisplayName, string(stored.Role), stored.PasswordHash,
		stored.PasswordChangedAt, stored.Disabled, stored.CreatedAt, stored.Group, storage.FoldKey(stored.Username))
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

// DeleteStaff deletes the staff user with id.
func (s *Store) DeleteStaff(ctx context.Context, id uuid.UUID) error {
	return s.updateStaff(ctx, "delete staff", `DELETE FROM staff WHERE id = $1`, id)
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

// groupKey is how a staff user's group is stored: the default group as "".
func groupKey(g string) string {
	if g == storage.DefaultSponsorGroup {
		return ""
	}
	return g
}

// SetStaffGroup puts the staff user with id in group; a missing user or
// group is ErrNotFound. The group row is locked (FOR SHARE) for the
// statement, so that a concurrent DeleteSponsorGroup waits for it.
func (s *Store) SetStaffGroup(ctx context.Context, id uuid.UUID, group string) error {
	g := groupKey(group)
	return s.updateStaff(ctx, "set staff group", `UPDATE staff SET sponsor_group = $2 WHERE id = $1
		AND ($2 = '' OR EXISTS (SELECT 1 FROM sponsor_groups WHERE name = $2 FOR SHARE))`, id, g)
}

// RecordStaffLoginFailure counts a failed sign-in and returns the count.
func (s *Store) RecordStaffLoginFailure(ctx context.Context, id uuid.UUID, now time.Time) (int, error) {
	_ = now // the count needs no time; kept for symmetry with RecordStaffLogin
	var n int
	err := s.db.QueryRow(ctx, `UPDATE staff SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins`, id).Scan(&n)
	return n, wrap("record staff login failure", err)
}

// SetStaffLockedUntil moves the user's lock to until, never earlier.
func (s *Store) SetStaffLockedUntil(ctx context.Context, id uuid.UUID, until time.Time) error {
	return s.updateStaff(ctx, "set staff locked until",
		`UPDATE staff SET locked_until = greatest(locked_until, $2) WHERE id = $1`, id, storage.Truncate(until))
}

// RecordStaffLogin records a good sign-in: failures forgotten, lock lifted.
func (s *Store) RecordStaffLogin(ctx context.Context, id uuid.UUID, now time.Time) error {
	return s.updateStaff(ctx, "record staff login",
		`UPDATE staff SET failed_logins = 0, locked_until = NULL, last_login_at = $2 WHERE id = $1`, id, storage.Truncate(now))
}

// EndStaffSessions moves SessionsValidAfter to at, never back.
func (s *Store) EndStaffSessions(ctx context.Context, id uuid.UUID, at time.Time) error {
	return s.updateStaff(ctx, "end staff sessions",
		`UPDATE staff SET sessions_valid_after = greatest(sessions_valid_after, $2) WHERE id = $1`, id, storage.Truncate(at))
}

const groupColumns = `name, description, guest_types, manage_all, permissions, updated_at`

func scanGroup(r rowScanner) (storage.SponsorGroup, error) {
	var (
		g       storage.SponsorGroup
		perms   []string
		updated pgtype.Timestamptz
	)
	if err := r.Scan(&g.Name, &g.Description, &g.GuestTypes, &g.ManageAll, &perms, &updated); err != nil {
		return g, err
	}
	g.UpdatedAt = tsOut(updated)
	if g.GuestTypes == nil {
		g.GuestTypes = []string{}
	}
	g.Permissions = make([]storage.Permission, 0, len(perms))
	for _, p := range perms {
		g.Permissions = append(g.Permissions, storage.Permission(p))
	}
	return g, nil
}

// PutSponsorGroup inserts g or replaces the group of its name.
func (s *Store) PutSponsorGroup(ctx context.Context, g storage.SponsorGroup) error {
	if g.Name == "" {
		return errors.New("postgres: put sponsor group: the name is empty")
	}
	perms, err := storage.CheckPermissions(g.Permissions)
	if err != nil {
		return fmt.Errorf("postgres: put sponsor group %q: %w", g.Name, err)
	}
	ps := make([]string, len(perms))
	for i, p := range perms {
		ps[i] = string(p)
	}
	types := g.GuestTypes
	if types == nil {
		types = []string{}
	}
	_, err = s.db.Exec(ctx, `INSERT INTO sponsor_groups (`+groupColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, guest_types = EXCLUDED.guest_types,
			manage_all = EXCLUDED.manage_all, permissions = EXCLUDED.permissions, updated_at = EXCLUDED.updated_at`,
		g.Name, g.Description, types, g.ManageAll, ps, s.clock())
	return wrap("put sponsor group "+g.Name, err)
}

// GetSponsorGroup returns the group called name ("" is the default).
func (s *Store) GetSponsorGroup(ctx context.Context, name string) (*storage.SponsorGroup, error) {
	if name == "" {
		name = storage.DefaultSponsorGroup
	}
	g, err := scanGroup(s.db.QueryRow(ctx, `SELECT `+groupColumns+` FROM sponsor_groups WHERE name = $1`, name))
	if err != nil {
		return nil, wrap("get sponsor group "+name, err)
	}
	return &g, nil
}

// ListSponsorGroups returns every group by name.
func (s *Store) ListSponsorGroups(ctx context.Context) ([]storage.SponsorGroup, error) {
	rows, err := s.db.Query(ctx, `SELECT `+groupColumns+` FROM sponsor_groups ORDER BY name`)
	if err != nil {
		return nil, wrap("list sponsor groups", err)
	}
	defer rows.Close()
	list := []storage.SponsorGroup{}
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, wrap("list sponsor groups", err)
		}
		list = append(list, g)
	}
	return list, wrap("list sponsor groups", rows.Err())
}

// DeleteSponsorGroup deletes the group called name unless it is the
// default or in use (ErrConflict).
func (s *Store) DeleteSponsorGroup(ctx context.Context, name string) error {
	if name == "" || name == storage.DefaultSponsorGroup {
		return fmt.Errorf("postgres: delete sponsor group: the default group cannot be deleted: %w", storage.ErrConflict)
	}
	tag, err := s.db.Exec(ctx, `DELETE FROM sponsor_groups WHERE name = $1
		AND NOT EXISTS (SELECT 1 FROM staff WHERE sponsor_group = $1)`, name)
	if err != nil {
		return wrap("delete sponsor group "+name, err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	if _, err := s.GetSponsorGroup(ctx, name); err != nil {
		return err
	}
	return fmt.Errorf("postgres: delete sponsor group %q: staff users are in it; move them first: %w", name, storage.ErrConflict)
}
