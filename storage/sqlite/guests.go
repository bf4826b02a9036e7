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

const guestCols = `id, username, password, first_name, last_name, email, phone, company, person_visited, reason,
	sponsor_id, guest_type, status, valid_from, valid_until, expiry_notified_at, created_at, updated_at,
	sessions_valid_after, first_sign_in_at, language`

// guestListCols are guestCols without the password: lists never need it, so
// they neither read nor open it.
const guestListCols = `id, username, NULL, first_name, last_name, email, phone, company, person_visited, reason,
	sponsor_id, guest_type, status, valid_from, valid_until, expiry_notified_at, created_at, updated_at,
	sessions_valid_after, first_sign_in_at, language`

// scanGuest reads one row of guestCols and opens the password.
func (s *Store) scanGuest(sc scanner) (*storage.Guest, error) {
	// One allocation for the guest and every scan target (each would
	// escape to the heap on its own through Scan's arguments).
	v := new(struct {
		g                                                       storage.Guest
		sealed                                                  []byte
		sponsor                                                 uuid.NullUUID
		status                                                  string
		from, until, notified, created, update, sessions, first sql.NullInt64
	})
	g := &v.g
	if err := sc.Scan(&g.ID, &g.Username, &v.sealed, &g.FirstName, &g.LastName, &g.Email, &g.Phone, &g.Company,
		&g.PersonVisited, &g.Reason, &v.sponsor, &g.GuestType, &v.status, &v.from, &v.until, &v.notified, &v.created, &v.update,
		&v.sessions, &v.first, &g.Language); err != nil {
		return nil, err
	}
	if len(v.sealed) > 0 { // guestListCols read none: no associated data to build
		pw, err := s.sealer.OpenString(v.sealed, storage.GuestPasswordAD(g.ID))
		if err != nil {
			return nil, err
		}
		g.Password = pw
	}
	g.SponsorID = v.sponsor.UUID
	g.Status = storage.GuestStatus(v.status)
	g.ValidFrom, g.ValidUntil = fromMicros(v.from), fromMicros(v.until)
	g.ExpiryNotifiedAt = fromMicros(v.notified)
	g.CreatedAt, g.UpdatedAt = fromMicros(v.created), fromMicros(v.update)
	g.SessionsValidAfter = fromMicros(v.sessions)
	g.FirstSignInAt = fromMicros(v.first)
	return g, nil
}

// guestConflict turns a unique violation on guests into ErrConflict.
// SQLite names the column of a plain unique index ("guests.username_key").
func guestConflict(op string, err error) error {
	switch {
	case violates(err, "guests.username_key"):
		return fmt.Errorf("sqlite: %s: the username is taken: %w", op, storage.ErrConflict)
	case violates(err, "guests.email"):
		return fmt.Errorf("sqlite: %s: the email address is taken: %w", op, storage.ErrConflict)
	case violates(err, ""):
		return fmt.Errorf("sqlite: %s: %w", op, storage.ErrConflict)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

func badStatus(op string, st storage.GuestStatus) error {
	return fmt.Errorf("sqlite: %s: status %q is not one of pending, active, suspended, expired, denied", op, st)
}

// CreateGuest inserts g, filling ID, CreatedAt and UpdatedAt when zero. The
// email is stored as storage.FoldKey folds it, and the username is unique so
// folded. A taken username or email is ErrConflict.
func (s *Store) CreateGuest(ctx context.Context, g *storage.Guest) error {
	if !g.Status.Valid() {
		return badStatus("create guest", g.Status)
	}
	id := g.ID
	if id == uuid.Nil {
		id = uuid.New()
	}
	now := s.now()
	created, updated := storage.Truncate(g.CreatedAt), storage.Truncate(g.UpdatedAt)
	if g.CreatedAt.IsZero() {
		created = now
	}
	if g.UpdatedAt.IsZero() {
		updated = created
	}
	email := storage.FoldKey(g.Email)
	_, err := s.writer().ExecContext(ctx, `INSERT INTO guests (`+guestCols+`, username_key, search_key) VALUES (`+placeholders(23)+`)`,
		id.String(), g.Username, s.sealer.SealString(g.Password, storage.GuestPasswordAD(id)), g.FirstName, g.LastName, email,
		g.Phone, g.Company, g.PersonVisited, g.Reason, nullUUID(g.SponsorID), g.GuestType, string(g.Status),
		nullMicros(g.ValidFrom), nullMicros(g.ValidUntil), nullMicros(g.ExpiryNotifiedAt), micros(created), micros(updated),
		nullMicros(g.SessionsValidAfter), nullMicros(g.FirstSignInAt), g.Language, storage.FoldKey(g.Username), storage.SearchKey(g))
	if err != nil {
		return guestConflict("create guest", err)
	}
	g.ID, g.Email, g.CreatedAt, g.UpdatedAt = id, email, created, updated
	g.ValidFrom, g.ValidUntil = truncOrZero(g.ValidFrom), truncOrZero(g.ValidUntil)
	g.ExpiryNotifiedAt, g.SessionsValidAfter = truncOrZero(g.ExpiryNotifiedAt), truncOrZero(g.SessionsValidAfter)
	g.FirstSignInAt = truncOrZero(g.FirstSignInAt)
	return nil
}

// truncOrZero is storage.Truncate that keeps the zero time zero.
func truncOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return storage.Truncate(t)
}

func (s *Store) getGuest(ctx context.Context, what, where string, arg any) (*storage.Guest, error) {
	g, err := s.scanGuest(s.reader().QueryRowContext(detach(ctx), `SELECT `+guestCols+` FROM guests WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get guest: no guest with that %s: %w", what, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get guest: %w", err)
	}
	return g, nil
}

// GetGuest returns the guest with id, or ErrNotFound.
func (s *Store) GetGuest(ctx context.Context, id uuid.UUID) (*storage.Guest, error) {
	return s.getGuest(ctx, "id", "id = ?", id.String())
}

// GetGuestByUsername finds a guest by username, compared as storage.FoldKey
// folds it.
func (s *Store) GetGuestByUsername(ctx context.Context, username string) (*storage.Guest, error) {
	return s.getGuest(ctx, "username", "username_key = ?", storage.FoldKey(username))
}

// GetGuestByEmail finds a guest by email address, compared as
// storage.FoldKey folds it.
func (s *Store) GetGuestByEmail(ctx context.Context, email string) (*storage.Guest, error) {
	return s.getGuest(ctx, "email", "email = ? AND email <> ''", storage.FoldKey(email))
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
	query, args, limit, next, err := guestListQuery(f, recent)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("sqlite: list guests: %w", err)
	}
	rows, err := s.reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("sqlite: list guests: %w", err)
	}
	defer rows.Close()
	page := &storage.GuestPage{Guests: []*storage.Guest{}}
	for rows.Next() {
		g, err := s.scanGuest(rows)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("sqlite: list guests: %w", err)
		}
		page.Guests = append(page.Guests, g)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, nil, fmt.Errorf("sqlite: list guests: %w", err)
	}
	return page, limit, next, nil
}

// guestListQuery is the SELECT of ListGuests for f, its arguments, the page
// size and the function that makes the next page's cursor. With recent, a
// search looks only through the first recentWalkFor(f) guests of the list, in
// list order, instead of the full-text index (see storage.ListGuestsPage).
func guestListQuery(f storage.GuestFilter, recent bool) (query string, args []any, limit int, next func(*storage.Guest) string, err error) {
	var where []string
	if f.SponsorID != uuid.Nil {
		where = append(where, "guests.sponsor_id = ?")
		args = append(args, f.SponsorID.String())
	}
	if !f.ValidUntilBefore.IsZero() {
		where = append(where, "guests.valid_until < ?")
		args = append(args, micros(f.ValidUntilBefore))
	}
	if f.ExpiryNotNotified {
		where = append(where, "guests.expiry_notified_at IS NULL")
	}
	if f.PersonVisited != "" {
		where = append(where, "lower(guests.person_visited) = ?")
		args = append(args, strings.ToLower(strings.TrimSpace(f.PersonVisited)))
	}
	by, after, a, next, err := listOrder(f)
	if err != nil {
		return "", nil, 0, nil, err
	}
	if after != "" {
		where = append(where, after)
		args = append(args, a...)
	}
	limit = storage.PageLimit(f.Limit)
	query, args = listQuery(storage.ParseSearch(f.Query), recent, recentWalkFor(f), f.Status, where, args, by, limit)
	return query, args, limit, next, nil
}

// UpdateGuest applies u and returns the guest as stored afterwards:
// ErrNotFound if there is no such guest, ErrConflict (and no change) if it
// no longer meets u.IfStatus or u.IfUpdatedAt.
func (s *Store) UpdateGuest(ctx context.Context, id uuid.UUID, u storage.GuestUpdate) (*storage.Guest, error) {
	for _, st := range []*storage.GuestStatus{u.Status, u.IfStatus} {
		if st != nil && !st.Valid() {
			return nil, badStatus("update guest", *st)
		}
	}
	// Strictly later than before, so that IfUpdatedAt sees every change.
	set := []string{"updated_at = max(?, updated_at + 1)"}
	args := []any{micros(s.now())}
	if u.Status != nil {
		set = append(set, "status = ?")
		args = append(args, string(*u.Status))
	}
	if u.ValidFrom != nil {
		set = append(set, "valid_from = ?")
		args = append(args, nullMicros(*u.ValidFrom))
	}
	if u.ValidUntil != nil {
		set = append(set, "valid_until = ?")
		args = append(args, nullMicros(*u.ValidUntil))
	}
	if u.ExpiryNotifiedAt != nil {
		set = append(set, "expiry_notified_at = ?")
		args = append(args, nullMicros(*u.ExpiryNotifiedAt))
	}
	if u.Password != nil {
		set = append(set, "password = ?")
		args = append(args, s.sealer.SealString(*u.Password, storage.GuestPasswordAD(id)))
	}
	if u.SponsorID != nil {
		set = append(set, "sponsor_id = ?")
		args = append(args, nullUUID(*u.SponsorID))
	}
	if u.FirstSignInAt != nil && !u.FirstSignInAt.IsZero() {
		set = append(set, "first_sign_in_at = coalesce(first_sign_in_at, ?)")
		args = append(args, micros(*u.FirstSignInAt))
	}
	if u.Language != nil {
		set = append(set, "language = ?")
		args = append(args, *u.Language)
	}
	if u.SessionsValidAfter != nil && !u.SessionsValidAfter.IsZero() {
		// Forward only. SQLite's max() of a NULL is NULL, hence coalesce.
		set = append(set, "sessions_valid_after = max(coalesce(sessions_valid_after, ?), ?)")
		args = append(args, micros(*u.SessionsValidAfter), micros(*u.SessionsValidAfter))
	}
	where := "id = ?"
	args = append(args, id.String())
	if u.IfStatus != nil {
		where += " AND status = ?"
		args = append(args, string(*u.IfStatus))
	}
	if u.IfUpdatedAt != nil {
		where += " AND updated_at = ?"
		args = append(args, micros(*u.IfUpdatedAt))
	}
	w := s.writer()
	g, err := s.scanGuest(w.QueryRowContext(ctx,
		`UPDATE guests SET `+strings.Join(set, ", ")+` WHERE `+where+` RETURNING `+guestCols, args...))
	if errors.Is(err, sql.ErrNoRows) {
		var one int
		switch err := w.QueryRowContext(ctx, "SELECT 1 FROM guests WHERE id = ?", id.String()).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("sqlite: update guest: no guest with that id: %w", storage.ErrNotFound)
		case err != nil:
			return nil, fmt.Errorf("sqlite: update guest: %w", err)
		}
		return nil, fmt.Errorf("sqlite: update guest %s: the guest changed meanwhile (not the status or update time read): %w",
			id, storage.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: update guest: %w", err)
	}
	return g, nil
}

// DeleteGuest deletes the guest with id, or returns ErrNotFound.
func (s *Store) DeleteGuest(ctx context.Context, id uuid.UUID) error {
	res, err := s.writer().ExecContext(ctx, "DELETE FROM guests WHERE id = ?", id.String())
	if err != nil {
		return fmt.Errorf("sqlite: delete guest: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: delete guest: no guest with that id: %w", storage.ErrNotFound)
	}
	return nil
}
