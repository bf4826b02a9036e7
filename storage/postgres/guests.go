package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lobbyhq/lobby/storage"
)

const guestColumns = `id, username, password, first_name, last_name, email, phone, company,
	person_visited, reason, sponsor_id, guest_type, status, valid_from, valid_until,
	expiry_notified_at, created_at, updated_at, sessions_valid_after, first_sign_in_at, language`

// guestListColumns are guestColumns without the password: lists never need
// it, so they neither read nor open it.
const guestListColumns = `id, username, NULL::bytea, first_name, last_name, email, phone, company,
	person_visited, reason, sponsor_id, guest_type, status, valid_from, valid_until,
	expiry_notified_at, created_at, updated_at, sessions_valid_after, first_sign_in_at, language`

func (s *Store) scanGuest(r rowScanner) (*storage.Guest, error) {
	var (
		g                                                        storage.Guest
		sealed                                                   []byte
		sponsor                                                  pgtype.UUID
		status                                                   string
		from, until, notified, created, updated, sessions, first pgtype.Timestamptz
	)
	if err := r.Scan(&g.ID, &g.Username, &sealed, &g.FirstName, &g.LastName, &g.Email, &g.Phone, &g.Company,
		&g.PersonVisited, &g.Reason, &sponsor, &g.GuestType, &status, &from, &until,
		&notified, &created, &updated, &sessions, &first, &g.Language); err != nil {
		return nil, err
	}
	pw, err := s.sealer.OpenString(sealed, storage.GuestPasswordAD(g.ID))
	if err != nil {
		return nil, err
	}
	g.Password = pw
	g.SponsorID = uuidOut(sponsor)
	g.Status = storage.GuestStatus(status)
	g.ValidFrom, g.ValidUntil, g.ExpiryNotifiedAt = tsOut(from), tsOut(until), tsOut(notified)
	g.CreatedAt, g.UpdatedAt = tsOut(created), tsOut(updated)
	g.SessionsValidAfter = tsOut(sessions)
	g.FirstSignInAt = tsOut(first)
	return &g, nil
}

// CreateGuest inserts g, filling ID, CreatedAt and UpdatedAt when zero; the
// email is stored as storage.FoldKey folds it, and the username is unique
// so folded. A taken username or email is ErrConflict, and
// the transaction stays usable.
func (s *Store) CreateGuest(ctx context.Context, g *storage.Guest) error {
	if !g.Status.Valid() {
		return fmt.Errorf("postgres: create guest: status %q is not one of pending, active, suspended, expired, denied", g.Status)
	}
	stored := *g
	if stored.ID == uuid.Nil {
		stored.ID = uuid.New()
	}
	if stored.CreatedAt.IsZero() {
		stored.CreatedAt = s.clock()
	}
	if stored.UpdatedAt.IsZero() {
		stored.UpdatedAt = stored.CreatedAt
	}
	stored.Email = storage.FoldKey(stored.Email)
	stored.ValidFrom, stored.ValidUntil = trunc(stored.ValidFrom), trunc(stored.ValidUntil)
	stored.ExpiryNotifiedAt, stored.SessionsValidAfter = trunc(stored.ExpiryNotifiedAt), trunc(stored.SessionsValidAfter)
	stored.FirstSignInAt = trunc(stored.FirstSignInAt)
	stored.CreatedAt, stored.UpdatedAt = storage.Truncate(stored.CreatedAt), storage.Truncate(stored.UpdatedAt)

	tag, err := s.db.Exec(ctx, `INSERT INTO guests (`+guestColumns+`, username_key, search_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
		ON CONFLICT DO NOTHING`,
		stored.ID, stored.Username, s.sealer.SealString(stored.Password, storage.GuestPasswordAD(stored.ID)), stored.FirstName,
		stored.LastName, stored.Email, stored.Phone, stored.Company, stored.PersonVisited, stored.Reason,
		uuidIn(stored.SponsorID), stored.GuestType, string(stored.Status), tsIn(stored.ValidFrom),
		tsIn(stored.ValidUntil), tsIn(stored.ExpiryNotifiedAt), stored.CreatedAt, stored.UpdatedAt,
		tsIn(stored.SessionsValidAfter), tsIn(stored.FirstSignInAt), stored.Language, storage.FoldKey(stored.Username), storage.SearchKey(&stored))
	if err != nil {
		return wrap("create guest", err)
	}
	if tag.RowsAffected() == 0 {
		return s.guestConflict(ctx, &stored)
	}
	*g = stored
	return nil
}

// guestConflict names what an insert that did nothing collided with (a
// unique value, so ErrConflict). Failing to find out (a cancelled context,
// a lost connection) is that failure, not ErrConflict.
func (s *Store) guestConflict(ctx context.Context, g *storage.Guest) error {
	var byID, byName *bool // NULL when the colliding row is gone already
	err := s.db.QueryRow(ctx, `SELECT bool_or(id = $1), bool_or(username_key = $2) FROM guests
		WHERE id = $1 OR username_key = $2 OR (email = $3 AND email <> '')`,
		g.ID, storage.FoldKey(g.Username), g.Email).Scan(&byID, &byName)
	switch {
	case err != nil:
		return wrap("create guest: find the taken value", err)
	case byID == nil:
		return fmt.Errorf("postgres: create guest: the username or email address is taken: %w", storage.ErrConflict)
	case *byID:
		return fmt.Errorf("postgres: create guest: id already taken: %w", storage.ErrConflict)
	case *byName:
		return fmt.Errorf("postgres: create guest: the username is taken: %w", storage.ErrConflict)
	}
	return fmt.Errorf("postgres: create guest: the email address is taken: %w", storage.ErrConflict)
}

func trunc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return storage.Truncate(t)
}

// GetGuest returns the guest with id, or ErrNotFound.
func (s *Store) GetGuest(ctx context.Context, id uuid.UUID) (*storage.Guest, error) {
	g, err := s.scanGuest(s.db.QueryRow(ctx, `SELECT `+guestColumns+` FROM guests WHERE id = $1`, id))
	return g, wrap("get guest", err)
}

// GetGuestByUsername finds a guest by username, compared as storage.FoldKey
// folds it.
func (s *Store) GetGuestByUsername(ctx context.Context, username string) (*storage.Guest, error) {
	g, err := s.scanGuest(s.db.QueryRow(ctx, `SELECT `+guestColumns+` FROM guests WHERE username_key = $1`,
		storage.FoldKey(username)))
	return g, wrap("get guest by username", err)
}

// GetGuestByEmail finds a guest by email, compared as storage.FoldKey folds
// it.
func (s *Store) GetGuestByEmail(ctx context.Context, email string) (*storage.Guest, error) {
	g, err := s.scanGuest(s.db.QueryRow(ctx, `SELECT `+guestColumns+` FROM guests WHERE email = $1 AND email <> ''`,
		storage.FoldKey(email)))
	return g, wrap("get guest by email", err)
}

// ListGuests returns one page of guests matching f in f.Sort's order,
// without their passwords.
func (s *Store) ListGuests(ctx context.Context, f storage.GuestFilter) (*storage.GuestPage, error) {
	return storage.ListGuestsPage(f, func(recent bool) (*storage.GuestPage, int, func(*storage.Guest) string, error) {
		return s.listGuests(ctx, f, recent)
	})
}

// listGuests runs guestListQuery(f, recent) and returns its rows (up to
// one more than the page holds), the page size and the cursor maker.
func (s *Store) listGuests(ctx context.Context, f storage.GuestFilter, recent bool) (*storage.GuestPage, int, func(*storage.Guest) string, error) {
	sql, args, limit, next, err := guestListQuery(f, recent)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("postgres: list guests: %w", err)
	}
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, nil, wrap("list guests", err)
	}
	defer rows.Close()
	page := &storage.GuestPage{Guests: []*storage.Guest{}}
	for rows.Next() {
		g, err := s.scanGuest(rows)
		if err != nil {
			return nil, 0, nil, wrap("list guests", err)
		}
		page.Guests = append(page.Guests, g)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, nil, wrap("list guests", err)
	}
	return page, limit, next, nil
}

// guestListQuery is the SELECT of ListGuests for f, its arguments, the page
// size and the function that makes the next page's cursor. With recent, a
// search looks only through the first recentWalkFor(f) guests of the list, in
// list order, instead of the trigram index (see storage.ListGuestsPage).
func guestListQuery(f storage.GuestFilter, recent bool) (sql string, args []any, limit int, next func(*storage.Guest) string, err error) {
	var where []string
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.SponsorID != uuid.Nil {
		where = append(where, "sponsor_id = "+arg(f.SponsorID))
	}
	if !f.ValidUntilBefore.IsZero() {
		where = append(where, "valid_until < "+arg(storage.Truncate(f.ValidUntilBefore)))
	}
	if f.ExpiryNotNotified {
		where = append(where, "expiry_notified_at IS NULL")
	}
	if f.PersonVisited != "" {
		where = append(where, "lower(person_visited) = "+arg(strings.ToLower(strings.TrimSpace(f.PersonVisited))))
	}
	order, next, err := listOrder(f, arg)
	if err != nil {
		return "", nil, 0, nil, err
	}
	if order.after != "" {
		where = append(where, order.after)
	}
	limit = storage.PageLimit(f.Limit)
	sql = searchQuery(storage.ParseSearch(f.Query), recent, recentWalkFor(f), f.Status, where, order.by, limit, arg)
	if f.Query != "" {
		// Planned with the query's own pattern, not a generic plan.
		args = append([]any{pgx.QueryExecModeExec}, args...)
	}
	return sql, args, limit, next, nil
}

// UpdateGuest applies u and returns the guest as stored afterwards:
// ErrNotFound if there is no such guest, ErrConflict (and no change) if it
// no longer meets u.IfStatus or u.IfUpdatedAt. The preconditions are part of
// the UPDATE, which Postgres re-checks on the row's newest version, so they
// hold under READ COMMITTED too.
func (s *Store) UpdateGuest(ctx context.Context, id uuid.UUID, u storage.GuestUpdate) (*storage.Guest, error) {
	var (
		set   []string
		where = []string{"id = $1"}
		args  = []any{id}
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, st := range []*storage.GuestStatus{u.Status, u.IfStatus} {
		if st != nil && !st.Valid() {
			return nil, fmt.Errorf("postgres: update guest: unknown status %q", *st)
		}
	}
	if u.Status != nil {
		set = append(set, "status = "+arg(string(*u.Status)))
	}
	if u.ValidFrom != nil {
		set = append(set, "valid_from = "+arg(tsIn(*u.ValidFrom)))
	}
	if u.ValidUntil != nil {
		set = append(set, "valid_until = "+arg(tsIn(*u.ValidUntil)))
	}
	if u.ExpiryNotifiedAt != nil {
		set = append(set, "expiry_notified_at = "+arg(tsIn(*u.ExpiryNotifiedAt)))
	}
	if u.Password != nil {
		set = append(set, "password = "+arg(s.sealer.SealString(*u.Password, storage.GuestPasswordAD(id))))
	}
	if u.SponsorID != nil {
		set = append(set, "sponsor_id = "+arg(uuidIn(*u.SponsorID)))
	}
	if u.FirstSignInAt != nil && !u.FirstSignInAt.IsZero() {
		set = append(set, "first_sign_in_at = coalesce(first_sign_in_at, "+arg(storage.Truncate(*u.FirstSignInAt))+")")
	}
	if u.Language != nil {
		set = append(set, "language = "+arg(*u.Language))
	}
	if u.SessionsValidAfter != nil && !u.SessionsValidAfter.IsZero() {
		// Forward only; greatest() passes over the NULL of a guest without one.
		set = append(set, "sessions_valid_after = greatest(sessions_valid_after, "+arg(storage.Truncate(*u.SessionsValidAfter))+")")
	}
	// Strictly later than before, so that IfUpdatedAt sees every change.
	set = append(set, "updated_at = greatest("+arg(s.clock())+", updated_at + interval '1 microsecond')")
	if u.IfStatus != nil {
		where = append(where, "status = "+arg(string(*u.IfStatus)))
	}
	if u.IfUpdatedAt != nil {
		where = append(where, "updated_at = "+arg(storage.Truncate(*u.IfUpdatedAt)))
	}
	g, err := s.scanGuest(s.db.QueryRow(ctx, `UPDATE guests SET `+strings.Join(set, ", ")+
		` WHERE `+strings.Join(where, " AND ")+` RETURNING `+guestColumns, args...))
	if errors.Is(err, pgx.ErrNoRows) && (u.IfStatus != nil || u.IfUpdatedAt != nil) {
		var exists bool
		if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM guests WHERE id = $1)`, id).Scan(&exists); err != nil {
			return nil, wrap("update guest", err)
		}
		if exists {
			return nil, fmt.Errorf("postgres: update guest %s: the guest changed meanwhile (not the status or update time read): %w",
				id, storage.ErrConflict)
		}
	}
	return g, wrap("update guest", err)
}

// DeleteGuest deletes the guest with id, or returns ErrNotFound.
func (s *Store) DeleteGuest(ctx context.Context, id uuid.UUID) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM guests WHERE id = $1`, id)
	if err != nil {
		return wrap("delete guest", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete guest: %w", storage.ErrNotFound)
	}
	return nil
}

// PutGuestType inserts or replaces the guest type named t.Name.
func (s *Store) PutGuestType(ctx context.Context, t storage.GuestType) error {
	if t.Name == "" {
		return errors.New("postgres: put guest type: name is empty")
	}
	_, err := s.db.Exec(ctx, `INSERT INTO guest_types (name, description, default_duration_ns, max_duration_ns, require_approval,
			expiry_notice_ns, from_first_sign_in)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description,
			default_duration_ns = EXCLUDED.default_duration_ns, max_duration_ns = EXCLUDED.max_duration_ns,
			require_approval = EXCLUDED.require_approval, expiry_notice_ns = EXCLUDED.expiry_notice_ns,
			from_first_sign_in = EXCLUDED.from_first_sign_in`,
		t.Name, t.Description, int64(t.DefaultDuration), int64(t.MaxDuration), t.RequireApproval, int64(t.ExpiryNotice), t.FromFirstSignIn)
	return wrap("put guest type", err)
}

const guestTypeColumns = `name, description, default_duration_ns, max_duration_ns, require_approval, expiry_notice_ns, from_first_sign_in`

func scanGuestType(r rowScanner) (storage.GuestType, error) {
	var (
		t               storage.GuestType
		def, mx, notice int64
	)
	err := r.Scan(&t.Name, &t.Description, &def, &mx, &t.RequireApproval, &notice, &t.FromFirstSignIn)
	t.DefaultDuration, t.MaxDuration, t.ExpiryNotice = time.Duration(def), time.Duration(mx), time.Duration(notice)
	return t, err
}

// GetGuestType returns the guest type called name, or ErrNotFound.
func (s *Store) GetGuestType(ctx context.Context, name string) (*storage.GuestType, error) {
	t, err := scanGuestType(s.db.QueryRow(ctx, `SELECT `+guestTypeColumns+` FROM guest_types WHERE name = $1`, name))
	if err != nil {
		return nil, wrap("get guest type", err)
	}
	return &t, nil
}

// ListGuestTypes returns all guest types by name.
func (s *Store) ListGuestTypes(ctx context.Context) ([]storage.GuestType, error) {
	rows, err := s.db.Query(ctx, `SELECT `+guestTypeColumns+` FROM guest_types ORDER BY name`)
	if err != nil {
		return nil, wrap("list guest types", err)
	}
	defer rows.Close()
	types := []storage.GuestType{}
	for rows.Next() {
		t, err := scanGuestType(rows)
		if err != nil {
			return nil, wrap("list guest types", err)
		}
		types = append(types, t)
	}
	return types, wrap("list guest types", rows.Err())
}

// CountGuestsOfType counts the guests (of any status) whose type is name.
func (s *Store) CountGuestsOfType(ctx context.Context, name string) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM guests WHERE guest_type = $1`, name).Scan(&n); err != nil {
		return 0, wrap("count guests of type", err)
	}
	return n, nil
}

// DeleteGuestType deletes the guest type called name, or returns ErrNotFound.
func (s *Store) DeleteGuestType(ctx context.Context, name string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM guest_types WHERE name = $1`, name)
	if err != nil {
		return wrap("delete guest type", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete guest type: %w", storage.ErrNotFound)
	}
	return nil
}
