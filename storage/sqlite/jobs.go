package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// dueSpec is how one job selects guests: the conditions (each job's
// partial index predicate or leading status, repeated term for term: SQLite
// uses a partial index only when the query's WHERE clause contains its
// predicate's terms), the key it walks and the index it walks it in.
//
// The statements name their index (INDEXED BY): without statistics, or
// with statistics from a small table, SQLite's planner prefers the wider
// (status, ...) indexes and sorts, which at a million guests reads every row
// of a status on every page. Naming the index makes that plan impossible; a
// statement whose index cannot serve it fails to prepare, and the plan test
// runs each one.
type dueSpec struct {
	where string // conditions besides the key's bounds
	key   string // valid_until or updated_at
	index string // the index that serves it (migration 005)
}

func dueSpecOf(job storage.GuestJob) (dueSpec, error) {
	switch job {
	case storage.DueExpiryNotice:
		// The last argument: the notice period in microseconds.
		return dueSpec{`status = 'active' AND expiry_notified_at IS NULL`, "valid_until", "guests_expiry_notice_idx"}, nil
	case storage.DueExpireActive:
		return dueSpec{`status = 'active'`, "valid_until", "guests_status_valid_until_id_idx"}, nil
	case storage.DueExpireSuspended:
		return dueSpec{`status = 'suspended'`, "valid_until", "guests_status_valid_until_id_idx"}, nil
	case storage.DuePurgeExpired:
		return dueSpec{`status = 'expired'`, "valid_until", "guests_status_valid_until_id_idx"}, nil
	case storage.DuePurgeDenied:
		return dueSpec{`status = 'denied'`, "updated_at", "guests_denied_idx"}, nil
	}
	return dueSpec{}, fmt.Errorf("sqlite: unknown guest job %d", job)
}

// dueSQL is ListGuestsDue's statement for job, with numbered parameters as
// on Postgres: ?1 Before, (?2, ?3) the cursor (exclusive), ?4 the row limit,
// and ?5 the notice in microseconds (expiry notices only; valid_from is in
// that index). The key is bounded from below by the row value comparison
// alone, which the index search starts from. It reads ids and keys only,
// which every job's index holds: a page reads no row of the table.
func dueSQL(job storage.GuestJob) (string, error) {
	d, err := dueSpecOf(job)
	if err != nil {
		return "", err
	}
	where := d.where + ` AND ` + d.key + ` < ?1 AND (` + d.key + `, id) > (?2, ?3)`
	if job == storage.DueExpiryNotice {
		where += ` AND (valid_from IS NULL OR valid_from < valid_until - ?5)`
	}
	return `SELECT id, ` + d.key + ` FROM guests INDEXED BY ` + d.index + ` WHERE ` + where + `
		ORDER BY ` + d.key + `, id LIMIT ?4`, nil
}

// dueArgs are dueSQL's arguments for f, asking for limit rows.
func dueArgs(f storage.DueFilter, limit int) []any {
	c := storage.DueStart(f)
	args := []any{micros(f.Before), micros(c.Key), c.ID.String(), limit}
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
		return nil, fmt.Errorf("sqlite: list guests due: %w", err)
	}
	if f.Before.IsZero() {
		return nil, fmt.Errorf("sqlite: list guests due (%s): DueFilter.Before is required", f.Job)
	}
	limit := storage.PageLimit(f.Limit)
	rows, err := s.reader().QueryContext(ctx, q, dueArgs(f, limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list guests due: %w", err)
	}
	defer rows.Close()
	page := &storage.DuePage{Guests: []storage.DueGuest{}}
	for rows.Next() {
		var (
			g   storage.DueGuest
			key sql.NullInt64
		)
		if err := rows.Scan(&g.ID, &key); err != nil {
			return nil, fmt.Errorf("sqlite: list guests due: %w", err)
		}
		g.Key = fromMicros(key)
		page.Guests = append(page.Guests, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list guests due: %w", err)
	}
	storage.CutDuePage(page, limit)
	return page, nil
}

func (s *Store) collectGuests(rows *sql.Rows) ([]*storage.Guest, error) {
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

// purgeSQL is PurgeGuests' statement for job: ?1 Before, ?2 the limit. The
// subquery walks the job's index; the one writer makes the statement atomic.
func purgeSQL(job storage.GuestJob) (string, error) {
	if !job.Purge() {
		return "", fmt.Errorf("sqlite: %s is not a purge job", job)
	}
	d, err := dueSpecOf(job)
	if err != nil {
		return "", err
	}
	return `DELETE FROM guests WHERE id IN (
			SELECT id FROM guests INDEXED BY ` + d.index + ` WHERE ` + d.where + ` AND ` + d.key + ` < ?1 ORDER BY ` + d.key + `, id LIMIT ?2)
		RETURNING ` + guestListCols, nil
}

// PurgeGuests deletes up to limit guests that job selects with key < before,
// and returns them without their passwords.
func (s *Store) PurgeGuests(ctx context.Context, job storage.GuestJob, before time.Time, limit int) ([]*storage.Guest, error) {
	q, err := purgeSQL(job)
	if err != nil {
		return nil, fmt.Errorf("sqlite: purge guests: %w", err)
	}
	limit = storage.PurgeLimit(limit)
	rows, err := s.writer().QueryContext(ctx, q, micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: purge guests: %w", err)
	}
	gs, err := s.collectGuests(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: purge guests: %w", err)
	}
	return gs, nil
}

// purgeMailSQL deletes one batch of purgeable mail (?1 olderThan, ?2 the
// batch size), found through outbox_purge_idx.
const purgeMailSQL = `DELETE FROM outbox WHERE id IN (
	SELECT id FROM outbox INDEXED BY outbox_purge_idx WHERE status IN ('sent', 'dead') AND updated_at < ?1
	ORDER BY updated_at, id LIMIT ?2)`

// PurgeMail deletes the sent and dead messages last updated before
// olderThan and returns how many it deleted. Outside a transaction each
// batch of storage.MaxPurgeBatch is a statement of its own, so other
// writers get their turn in between.
func (s *Store) PurgeMail(ctx context.Context, olderThan time.Time) (int, error) {
	total, err := storage.PurgeBatches(func() (int, error) {
		res, err := s.writer().ExecContext(ctx, purgeMailSQL, micros(olderThan), storage.MaxPurgeBatch)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		return int(n), err
	})
	if err != nil {
		return total, fmt.Errorf("sqlite: purge mail: %w", err)
	}
	return total, nil
}

// Optimize runs PRAGMA optimize on the writer connection: it analyzes the
// tables whose statistics are missing or stale (since SQLite 3.46 with a
// bounded sample, so it is quick on a large file) for the query planner.
func (s *Store) Optimize(ctx context.Context) error {
	if s.tx != nil {
		return fmt.Errorf("sqlite: optimize: %w", storage.ErrInTx)
	}
	if _, err := s.w.ExecContext(ctx, "PRAGMA optimize"); err != nil {
		return fmt.Errorf("sqlite: optimize: %w", err)
	}
	return nil
}
