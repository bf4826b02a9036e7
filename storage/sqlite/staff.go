package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
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
		(name, description, default_duration_ns, max_duration_ns, require_approval, expiry_notice_ns, from_first_sign_in)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description,
			default_duration_ns = excluded.default_duration_ns, max_duration_ns = excluded.max_duration_ns,
			require_approval = excluded.require_approval, expiry_notice_ns = excluded.expiry_notice_ns,
			from_first_sign_in = excluded.from_first_sign_in`,
		t.Name, t.Description, int64(t.DefaultDuration), int64(t.MaxDuration), boolInt(t.RequireApproval), int64(t.ExpiryNotice),
		boolInt(t.FromFirstSignIn))
	if err != nil {
		return fmt.Errorf("sqlite: put guest type: %w", err)
	}
	return nil
}

const guestTypeCols = "name, description, default_duration_ns, max_duration_ns, require_approval, expiry_notice_ns, from_first_sign_in"

func scanGuestType(sc scanner) (storage.GuestType, error) {
	var (
		t               storage.GuestType
		def, mx, notice int64
		approval, first int
	)
	err := sc.Scan(&t.Name, &t.Description, &def, &mx, &approval, &notice, &first)
	t.DefaultDuration, t.MaxDuration, t.RequireApproval = time.Duration(def), time.Duration(mx), approval != 0
	t.FromFirstSignIn = first != 0
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

// CountGuestsOfType counts the guests (of any status) whose type is name.
func (s *Store) CountGuestsOfType(ctx context.Context, name string) (int, error) {
	var n int
	if err := s.reader().QueryRowContext(ctx, "SELECT count(*) FROM guests WHERE guest_type = ?", name).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count guests of type %q: %w", name, err)
	}
	return n, nil
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

const staffCols = "id, username, email, display_name, role, password_hash, password_changed_at, disabled, created_at, " +
	"sponsor_group, failed_logins, locked_until, last_login_at, sessions_valid_after"

func scanStaff(sc scanner) (*storage.Staff, error) {
	var (
		st               storage.Staff
		role             string
		disabled         int
		changed, created sql.NullInt64
		locked, last     sql.NullInt64
		validAfter       sql.NullInt64
	)
	if err := sc.Scan(&st.ID, &st.Username, &st.Email, &st.DisplayName, &role, &st.PasswordHash, &changed, &disabled, &created,
		&st.Group, &st.FailedLogins, &locked, &last, &validAfter); err != nil {
		return nil, err
	}
	st.Role, st.Disabled = storage.Role(role), disabled != 0
	st.PasswordChangedAt, st.CreatedAt = fromMicros(changed), fromMicros(created)
	st.LockedUntil, st.LastLoginAt, st.SessionsValidAfter = fromMicros(locked), fromMicros(last), fromMicros(validAfter)
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
	_, err := s.writer().ExecContext(ctx, "INSERT INTO staff (id, username, email, display_name, role, password_hash, "+
		"password_changed_at, disabled, created_at, sponsor_group, username_key) VALUES ("+placeholders(11)+")",
		id.String(), st.Username, st.Email, st.DisplayName, string(st.Role), st.PasswordHash, nullMicros(changed),
		boolInt(st.Disabled), micros(created), groupKey(st.Group), storage.FoldKey(st.Username))
	if err != nil {
		if _, ok := uniqueViolation(err); ok {
			return fmt.Errorf("sqlite: create staff: the username is taken: %w", storage.ErrConflict)
		}
		return fmt.Errorf("sqlite: create staff: %w", err)
	}
	st.ID, st.CreatedAt, st.PasswordChangedAt, st.Group = id, created, changed, groupKey(st.Group)
	st.FailedLogins, st.LockedUntil, st.LastLoginAt, st.SessionsValidAfter = 0, time.Time{}, time.Time{}, time.Time{}
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

// groupKey is how a staff user's group is stored: the default group as "".
func groupKey(g string) string {
	if g == storage.DefaultSponsorGroup {
		return ""
	}
	return g
}

// SetStaffGroup puts the staff user with id in group; a missing group is
// ErrNotFound.
func (s *Store) SetStaffGroup(ctx context.Context, id uuid.UUID, group string) error {
	g := groupKey(group)
	if g != "" {
		if _, err := s.GetSponsorGroup(ctx, g); err != nil {
			return fmt.Errorf("sqlite: set staff group: %w", err)
		}
	}
	// The check and the update are one statement: a group deleted between
	// them leaves the user alone.
	res, err := s.writer().ExecContext(ctx, `UPDATE staff SET sponsor_group = ? WHERE id = ?
		AND (? = '' OR EXISTS (SELECT 1 FROM sponsor_groups WHERE name = ?))`, g, id.String(), g, g)
	if err != nil {
		return fmt.Errorf("sqlite: set staff group: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: set staff group: no staff user with that id, or no group %q: %w", group, storage.ErrNotFound)
	}
	return nil
}

// RecordStaffLoginFailure counts a failed sign-in and returns the count.
func (s *Store) RecordStaffLoginFailure(ctx context.Context, id uuid.UUID, now time.Time) (int, error) {
	_ = now // the count needs no time; kept for symmetry with RecordStaffLogin
	var n int
	err := s.writer().QueryRowContext(ctx, "UPDATE staff SET failed_logins = failed_logins + 1 WHERE id = ? RETURNING failed_logins",
		id.String()).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlite: record staff login failure: no staff user with that id: %w", storage.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: record staff login failure: %w", err)
	}
	return n, nil
}

// SetStaffLockedUntil moves the user's lock to until, never earlier.
func (s *Store) SetStaffLockedUntil(ctx context.Context, id uuid.UUID, until time.Time) error {
	return s.updateStaff(ctx, "set staff locked until", "locked_until = max(coalesce(locked_until, 0), ?)",
		micros(storage.Truncate(until)), id.String())
}

// RecordStaffLogin records a good sign-in: failures forgotten, lock lifted.
func (s *Store) RecordStaffLogin(ctx context.Context, id uuid.UUID, now time.Time) error {
	return s.updateStaff(ctx, "record staff login", "failed_logins = 0, locked_until = NULL, last_login_at = ?",
		micros(storage.Truncate(now)), id.String())
}

// EndStaffSessions moves SessionsValidAfter to at, never back.
func (s *Store) EndStaffSessions(ctx context.Context, id uuid.UUID, at time.Time) error {
	return s.updateStaff(ctx, "end staff sessions", "sessions_valid_after = max(coalesce(sessions_valid_after, 0), ?)",
		micros(storage.Truncate(at)), id.String())
}

const groupCols = "name, description, guest_types, manage_all, permissions, updated_at"

func scanGroup(sc scanner) (storage.SponsorGroup, error) {
	var (
		g            storage.SponsorGroup
		types, perms string
		all          int
		updated      sql.NullInt64
	)
	if err := sc.Scan(&g.Name, &g.Description, &types, &all, &perms, &updated); err != nil {
		return g, err
	}
	g.ManageAll, g.UpdatedAt = all != 0, fromMicros(updated)
	if err := json.Unmarshal([]byte(types), &g.GuestTypes); err != nil {
		return g, fmt.Errorf("guest types of group %q: %w", g.Name, err)
	}
	if err := json.Unmarshal([]byte(perms), &g.Permissions); err != nil {
		return g, fmt.Errorf("permissions of group %q: %w", g.Name, err)
	}
	if g.GuestTypes == nil {
		g.GuestTypes = []string{}
	}
	if g.Permissions == nil {
		g.Permissions = []storage.Permission{}
	}
	return g, nil
}

// PutSponsorGroup inserts g or replaces the group of its name.
func (s *Store) PutSponsorGroup(ctx context.Context, g storage.SponsorGroup) error {
	if g.Name == "" {
		return errors.New("sqlite: put sponsor group: the name is empty")
	}
	perms, err := storage.CheckPermissions(g.Permissions)
	if err != nil {
		return fmt.Errorf("sqlite: put sponsor group %q: %w", g.Name, err)
	}
	types := g.GuestTypes
	if types == nil {
		types = []string{}
	}
	tj, _ := json.Marshal(types) // strings cannot fail
	pj, _ := json.Marshal(perms)
	_, err = s.writer().ExecContext(ctx, "INSERT INTO sponsor_groups ("+groupCols+") VALUES (?, ?, ?, ?, ?, ?)"+
		` ON CONFLICT (name) DO UPDATE SET description = excluded.description, guest_types = excluded.guest_types,
			manage_all = excluded.manage_all, permissions = excluded.permissions, updated_at = excluded.updated_at`,
		g.Name, g.Description, string(tj), boolInt(g.ManageAll), string(pj), micros(s.now()))
	if err != nil {
		return fmt.Errorf("sqlite: put sponsor group %q: %w", g.Name, err)
	}
	return nil
}

// GetSponsorGroup returns the group called name ("" is the default).
func (s *Store) GetSponsorGroup(ctx context.Context, name string) (*storage.SponsorGroup, error) {
	if name == "" {
		name = storage.DefaultSponsorGroup
	}
	g, err := scanGroup(s.reader().QueryRowContext(ctx, "SELECT "+groupCols+" FROM sponsor_groups WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get sponsor group %q: %w", name, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get sponsor group: %w", err)
	}
	return &g, nil
}

// ListSponsorGroups returns every group by name.
func (s *Store) ListSponsorGroups(ctx context.Context) ([]storage.SponsorGroup, error) {
	rows, err := s.reader().QueryContext(ctx, "SELECT "+groupCols+" FROM sponsor_groups ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sponsor groups: %w", err)
	}
	defer rows.Close()
	list := []storage.SponsorGroup{}
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list sponsor groups: %w", err)
		}
		list = append(list, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list sponsor groups: %w", err)
	}
	return list, nil
}

// DeleteSponsorGroup deletes the group called name unless it is the
// default or in use (ErrConflict).
func (s *Store) DeleteSponsorGroup(ctx context.Context, name string) error {
	if name == "" || name == storage.DefaultSponsorGroup {
		return fmt.Errorf("sqlite: delete sponsor group: the default group cannot be deleted: %w", storage.ErrConflict)
	}
	res, err := s.writer().ExecContext(ctx, `DELETE FROM sponsor_groups WHERE name = ?
		AND NOT EXISTS (SELECT 1 FROM staff WHERE sponsor_group = ?)`, name, name)
	if err != nil {
		return fmt.Errorf("sqlite: delete sponsor group %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	if _, err := s.GetSponsorGroup(ctx, name); err != nil {
		return fmt.Errorf("sqlite: delete sponsor group: %w", err)
	}
	return fmt.Errorf("sqlite: delete sponsor group %q: staff users are in it; move them first: %w", name, storage.ErrConflict)
}
