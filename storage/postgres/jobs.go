package postgres

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lobbyhq/lobby/storage"
)

// dueSpec is how one job selects guests: the conditions (each job's
// partial index predicate or leading status repeated word for word, so that
// the planner can prove the index applies) and the key it walks.
type dueSpec struct {
	where string // conditions besides the key's bounds
	key   string // valid_until or updated_at
	index string // the index that serves it (migration 005), for the plan tests
}

func dueSpecOf(job storage.GuestJob) (dueSpec, error) {
	switch job {
	case storage.DueExpiryNotice:
		// $5: the notice period in microseconds.
		return dueSpec{`status = 'active' AND expiry_notified_at IS NULL
			AND (valid_from IS NULL OR valid_from < valid_until - $5::bigint * interval '1 microsecond')`,
			"valid_until", "guests_expiry_notice_idx"}, nil
	case storage.DueExpireActive:
		return dueSpec{`status = 'active'`, "valid_until", "guests_status_valid_until_id_idx"}, nil
	case storage.DueExpireSuspended:
		return dueSpec{`status = 'suspended'`, "valid_until", "guests_status_valid_until_id_idx"}, nil
	case storage.DuePurgeExpired:
		return dueSpec{`status = 'expired'`, "valid_until", "guests_status_valid_until_id_idx"}, nil
	case storage.DuePurgeDenied:
		return dueSpec{`status = 'denied'`, "updated_at", "guests_denied_idx"}, nil
	}
	return dueSpec{}, fmt.Errorf("postgres: unknown guest job %d", job)
}

// dueSQL is ListGuestsDue's statement for job: $1 Before, ($2, $3) the
// cursor (exclusive), $4 the row limit, and $5 the notice (expiry notices
// only). The key is bounded from below by the row comparison alone, which
// the index scan starts from. It reads ids and keys only, which every job's
// index holds (with valid_from for the notice check), so a page is an
// index-only scan that reads no row (on the pages autovacuum has marked
// all-visible).
func dueSQL(job storage.GuestJob) (string, error) {
	d, err := dueSpecOf(job)
	if err != nil {
		return "", err
	}
	if job == storage.DueExpiryNotice {
		// In two steps: the page's ids from an index-only scan of the
		// partial index, which the planner picks for this shape (for the
		// one-step query it walks (status, valid_until, id) through the
		// rows of every active guest ending soon, told or not), then their
		// keys by primary key; ListGuestsDue puts them in key order.
		return `SELECT id, valid_until FROM guests WHERE id = ANY(ARRAY(
			SELECT id FROM guests WHERE ` + d.where + ` AND valid_until < $1 AND (valid_until, id) > ($2, $3)
			ORDER BY valid_until, id LIMIT $4))`, nil
	}
	return `SELECT id, ` + d.key + ` FROM guests
		WHERE ` + d.where + ` AND ` + d.key + ` < $1 AND (` + d.key + `, id) > ($2, $3)
		ORDER BY ` + d.key + `, id LIMIT $4`, nil
}

// dueArgs are dueSQL's arguments for f, asking for limit rows.
func dueArgs(f storage.DueFilter, limit int) []any {
	c := storage.DueStart(f)
	args := []any{storage.Truncate(f.Before), c.Key, c.ID, limit}
	if f.Job == storage.DueExpiryNotice {
		args = append(args, f.Notice.Microseconds())
	}
	return args
}

// ListGuestsDue returns one page of the guests f.Job selects, in the job's
// key order, without their passwords.
func (s *Store) ListGuestsDue(ctx context.Context, f storage.DueFilter) (*storage.DuePage, error) {
	q, err := dueSQL(f.Job)
	if err != nil {
		return nil, fmt.Errorf("postgres: list guests due: %w", err)
	}
	if f.Before.IsZero() {
		return nil, fmt.Errorf("postgres: list guests due (%s): DueFilter.Before is required", f.Job)
	}
	limit := storage.PageLimit(f.Limit)
	rows, err := s.db.Query(ctx, q, dueArgs(f, limit+1)...)
	if err != nil {
		return nil, wrap("list guests due", err)
	}
	defer rows.Close()
	page := &storage.DuePage{Guests: []storage.DueGuest{}}
	for rows.Next() {
		var g storage.DueGuest
		if err := rows.Scan(&g.ID, &g.Key); err != nil {
			return nil, wrap("list guests due", err)
		}
		g.Key = storage.Truncate(g.Key)
		page.Guests = append(page.Guests, g)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list guests due", err)
	}
	slices.SortFunc(page.Guests, func(a, b storage.DueGuest) int { // expiry notices come unordered
		if c := a.Key.Compare(b.Key); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	storage.CutDuePage(page, limit)
	return page, nil
}

func (s *Store) collectGuests(rows pgx.Rows) ([]*storage.Guest, error) {
	defer rows.Close()
	gs := []*storage.Guest{}
	for rows.Next() {
		g, err := s.scanGuest(rows)
		if err != nil {
			return nil, err
		}
		gs = append(gs, g)
	}
	return gs, rows.Err()
}

// purgeSQL is PurgeGuests' statement for job: $1 Before, $2 the limit. The
// ids come first from the job's index (ARRAY keeps the planner from
// joining against the whole table); the DELETE checks the conditions again
// on each row's newest version, so a guest renewed meanwhile stays.
func purgeSQL(job storage.GuestJob) (string, error) {
	if !job.Purge() {
		return "", fmt.Errorf("postgres: %s is not a purge job", job)
	}
	d, err := dueSpecOf(job)
	if err != nil {
		return "", err
	}
	cond := d.where + ` AND ` + d.key + ` < $1`
	return `DELETE FROM guests WHERE id = ANY(ARRAY(
			SELECT id FROM guests WHERE ` + cond + ` ORDER BY ` + d.key + `, id LIMIT $2))
		AND ` + cond + ` RETURNING ` + guestListColumns, nil
}

// PurgeGuests deletes up to limit guests that job selects with key < before,
// and returns them without their passwords.
func (s *Store) PurgeGuests(ctx context.Context, job storage.GuestJob, before time.Time, limit int) ([]*storage.Guest, error) {
	q, err := purgeSQL(job)
	if err != nil {
		return nil, fmt.Errorf("postgres: purge guests: %w", err)
	}
	limit = storage.PurgeLimit(limit)
	rows, err := s.db.Query(ctx, q, storage.Truncate(before), limit)
	if err != nil {
		return nil, wrap("purge guests", err)
	}
	gs, err := s.collectGuests(rows)
	return gs, wrap("purge guests", err)
}

// purgeMailSQL deletes one batch of purgeable mail ($1 olderThan, $2 the
// batch size), found through outbox_purge_idx.
const purgeMailSQL = `DELETE FROM outbox WHERE id = ANY(ARRAY(
		SELECT id FROM outbox WHERE status IN ('sent', 'dead') AND updated_at < $1
		ORDER BY updated_at, id LIMIT $2))
	AND status IN ('sent', 'dead') AND updated_at < $1`

// PurgeMail deletes the sent and dead messages last updated before
// olderThan, storage.MaxPurgeBatch at a time, and returns how many it
// deleted.
func (s *Store) PurgeMail(ctx context.Context, olderThan time.Time) (int, error) {
	total, err := storage.PurgeBatches(func() (int, error) {
		tag, err := s.db.Exec(ctx, purgeMailSQL, storage.Truncate(olderThan), storage.MaxPurgeBatch)
		return int(tag.RowsAffected()), err
	})
	return total, wrap("purge mail", err)
}

// Optimize does nothing on Postgres: autovacuum keeps the statistics
// current. On the Store of a transaction it returns ErrInTx.
func (s *Store) Optimize(context.Context) error {
	if s.inTx {
		return fmt.Errorf("postgres: optimize: %w", storage.ErrInTx)
	}
	return nil
}
