package storage

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// JobStore serves the guest lifecycle jobs. Each selection is one fixed
// statement with an index of its own (migration 005), walked by keyset on
// (key, id), so a page costs what it returns whatever the size of the
// table, and a run with nothing due costs almost nothing.
type JobStore interface {
	// ListGuestsDue returns one page of the guests that f.Job selects,
	// ordered by the job's key and id: their ids and keys, read from the
	// job's index alone (the job reads each guest in the transaction that
	// acts on it). Every condition of the job is in the query: nothing
	// comes back only to be skipped.
	ListGuestsDue(ctx context.Context, f DueFilter) (*DuePage, error)
	// PurgeGuests deletes up to limit guests that job (DuePurgeExpired or
	// DuePurgeDenied) selects with key < before, oldest key first, in one
	// statement that checks the conditions on each row as it deletes it (a
	// guest renewed meanwhile stays). It returns the deleted guests, in no
	// particular order, without their passwords. limit <= 0 or above MaxPurgeBatch is MaxPurgeBatch.
	PurgeGuests(ctx context.Context, job GuestJob, before time.Time, limit int) ([]*Guest, error)
	// Optimize keeps the query planner's statistics current: SQLite runs
	// PRAGMA optimize (which analyzes the tables whose statistics are
	// stale, with a bounded sample); on Postgres, autovacuum does that and
	// Optimize does nothing. Call it after a run that changed many rows, and
	// every few hours. On the Store of a transaction it returns ErrInTx.
	Optimize(ctx context.Context) error
}

// MaxPurgeBatch is the most rows one statement of PurgeGuests or PurgeMail
// deletes: a short hold on SQLite's single writer.
const MaxPurgeBatch = 1000

// GuestJob names one selection of guests that a lifecycle job works on.
type GuestJob int

// The jobs' selections. The key is valid_until except for DuePurgeDenied
// (updated_at, the time of the denial).
const (
	// DueExpiryNotice: active guests not yet sent their expiry notice,
	// with After < valid_until < Before (the job's now and now+notice), whose
	// validity is longer than Notice (valid_from < valid_until - Notice, or
	// no valid_from): a guest whose whole validity lies within the notice
	// period learnt the end from their credentials email.
	DueExpiryNotice GuestJob = iota + 1
	// DueExpireActive: active guests with valid_until < Before.
	DueExpireActive
	// DueExpireSuspended: suspended guests with valid_until < Before.
	DueExpireSuspended
	// DuePurgeExpired: expired guests with valid_until < Before.
	DuePurgeExpired
	// DuePurgeDenied: denied guests last changed (denied) before Before.
	DuePurgeDenied
)

// GuestJobs lists every GuestJob, for tests that go through all of them.
var GuestJobs = []GuestJob{DueExpiryNotice, DueExpireActive, DueExpireSuspended, DuePurgeExpired, DuePurgeDenied}

// String names the job.
func (j GuestJob) String() string {
	switch j {
	case DueExpiryNotice:
		return "expiry-notice"
	case DueExpireActive:
		return "expire-active"
	case DueExpireSuspended:
		return "expire-suspended"
	case DuePurgeExpired:
		return "purge-expired"
	case DuePurgeDenied:
		return "purge-denied"
	}
	return "unknown job"
}

// Valid reports whether j is one of the jobs.
func (j GuestJob) Valid() bool { return j >= DueExpiryNotice && j <= DuePurgeDenied }

// Purge reports whether j is a selection PurgeGuests takes.
func (j GuestJob) Purge() bool { return j == DuePurgeExpired || j == DuePurgeDenied }

// DueFilter selects one page of guests for a job (ListGuestsDue).
type DueFilter struct {
	Job GuestJob
	// Before bounds the job's key from above: key < Before. Required.
	Before time.Time
	// After bounds it from below, key > After (DueExpiryNotice only: the
	// job's now, so that guests already past their end are left to the
	// expire job). Zero: no bound.
	After time.Time
	// Notice is DueExpiryNotice's notice period: only guests whose
	// validity is longer than it.
	Notice time.Duration
	// Cursor continues after the previous page's Next; zero starts at the
	// beginning.
	Cursor DueCursor
	// Limit is the page size: default 50, at most 500 (PageLimit).
	Limit int
}

// DueCursor is a keyset position in a job's order: after (Key, ID).
type DueCursor struct {
	Key time.Time
	ID  uuid.UUID
}

// IsZero reports whether c is the start.
func (c DueCursor) IsZero() bool { return c.Key.IsZero() && c.ID == uuid.Nil }

// DuePage is one page of a job's guests. Next is zero on the last page.
type DuePage struct {
	Guests []DueGuest
	Next   DueCursor
}

// DueGuest is a guest a job selected: its id and its key in the job's
// order (DueKey).
type DueGuest struct {
	ID  uuid.UUID
	Key time.Time
}

// DueKey is g's key in job's order: ValidUntil, or UpdatedAt for
// DuePurgeDenied.
func DueKey(job GuestJob, g *Guest) time.Time {
	if job == DuePurgeDenied {
		return g.UpdatedAt
	}
	return g.ValidUntil
}

// MinCursorTime is the key both backends take as "before every row" for a
// first page: earlier than any time a guest may hold.
var MinCursorTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// maxID is the largest UUID: (t, maxID) is after every row with key t.
var maxID = uuid.UUID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// DueStart is where f's page starts, exclusive: its cursor, or the start of
// the job's range (after every row with key f.After) if that is later. Both
// backends bound the key from below by this one row comparison alone, so the
// index walk starts at the page and not at the range's start.
func DueStart(f DueFilter) DueCursor {
	c := f.Cursor
	if c.IsZero() {
		c = DueCursor{Key: MinCursorTime}
	}
	if !f.After.IsZero() {
		lo := DueCursor{Key: Truncate(f.After), ID: maxID}
		if c.Key.Before(lo.Key) || c.Key.Equal(lo.Key) {
			c = lo
		}
	}
	c.Key = Truncate(c.Key)
	return c
}

// PurgeLimit is PurgeGuests' limit as the backends apply it: limit <= 0 or
// above MaxPurgeBatch is MaxPurgeBatch.
func PurgeLimit(limit int) int {
	if limit <= 0 || limit > MaxPurgeBatch {
		return MaxPurgeBatch
	}
	return limit
}

// CutDuePage ends page, read with one row more than limit, at limit guests
// and, when that extra row came, sets Next to the last guest's position.
func CutDuePage(page *DuePage, limit int) {
	if len(page.Guests) > limit {
		page.Guests = page.Guests[:limit]
		last := page.Guests[limit-1]
		page.Next = DueCursor{Key: last.Key, ID: last.ID}
	}
}

// PurgeBatches runs batch, which deletes up to MaxPurgeBatch rows and
// returns how many it deleted, until a batch deletes fewer, and returns the
// total deleted (before the error, if one stops it).
func PurgeBatches(batch func() (int, error)) (int, error) {
	total := 0
	for {
		n, err := batch()
		if err != nil {
			return total, err
		}
		total += n
		if n < MaxPurgeBatch {
			return total, nil
		}
	}
}
