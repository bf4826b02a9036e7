package lobby

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// Readiness of the store for writes. /readyz reports the store unable to
// write when the last write probe failed, or when the mail dispatcher or the
// portal saw a write fail for lack of space or an I/O error in the last
// writeFailureHold: a full disk lets some writes through (SQLite reuses the
// space of its write-ahead log) while others fail, so one write that works
// does not prove the next one will.
const (
	// writeProbeEvery bounds how often /readyz writes to the store: a probe
	// result is reused for this long, so polling /readyz stays cheap.
	writeProbeEvery = 10 * time.Second
	// writeFailureHold is how long a write failure seen by the dispatcher
	// or the portal keeps /readyz red.
	writeFailureHold = time.Minute
	// writeProbeKey is the setting /readyz rewrites to prove the store
	// takes writes (one row, updated in place).
	writeProbeKey = "lobby.write_probe"
)

// writeHealth remembers the store's recent write failures and probes.
type writeHealth struct {
	now func() time.Time

	mu        sync.Mutex
	failure   error // the last write failure seen (nil: none)
	failureAt time.Time
	probeMu   sync.Mutex // one probe at a time
	probeErr  error
	probeAt   time.Time
}

// observe records the outcome of a store write: a failure that says the
// store cannot write (see isWriteFailure) is remembered; other errors (a
// conflict, a missing row, a busy database, a cancelled request) are not
// about the store's health.
func (h *writeHealth) observe(err error) {
	if err == nil || !isWriteFailure(err) {
		return
	}
	h.mu.Lock()
	h.failure, h.failureAt = err, h.now()
	h.mu.Unlock()
}

// check returns why the store cannot write, or nil. It probes the store
// with a write at most every writeProbeEvery.
func (h *writeHealth) check(ctx context.Context, st storage.Store) error {
	now := h.now()
	h.mu.Lock()
	failure, at := h.failure, h.failureAt
	h.mu.Unlock()
	if failure != nil && now.Sub(at) < writeFailureHold {
		return fmt.Errorf("a write failed %s ago: %w", now.Sub(at).Round(time.Second), failure)
	}

	h.probeMu.Lock()
	defer h.probeMu.Unlock()
	if h.probeAt.IsZero() || now.Sub(h.probeAt) >= writeProbeEvery {
		err := probeWrite(ctx, st, now)
		if err != nil && !isWriteFailure(err) {
			// A busy or slow database is not one that cannot write; the
			// ping tells whether it answers at all. Try again next time.
			return nil
		}
		h.probeErr, h.probeAt = err, now
	}
	return h.probeErr
}

// probeWrite proves that the store takes a write: it updates one setting
// in place (a committed write, so it must reach the write-ahead log). A
// conflict means another node wrote it meanwhile, which proves as much.
func probeWrite(ctx context.Context, st storage.Store, now time.Time) error {
	var version int64
	switch s, err := st.GetSetting(ctx, writeProbeKey); {
	case err == nil:
		version = s.Version
	case !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("read the write probe: %w", err)
	}
	// The value changes on every probe, so the row is really rewritten.
	value, _ := json.Marshal(map[string]string{"checked_at": now.UTC().Format(time.RFC3339Nano), "nonce": uuid.NewString()})
	err := st.PutSetting(ctx, &storage.Setting{Key: writeProbeKey, Version: version, Value: value, UpdatedBy: "readyz"})
	if err != nil && !errors.Is(err, storage.ErrConflict) {
		return fmt.Errorf("write probe: %w", err)
	}
	return nil
}

// writeFailureSigns are the texts of the errors that say a database cannot
// write: SQLite's SQLITE_FULL, SQLITE_IOERR and SQLITE_READONLY, and
// PostgreSQL's disk_full (53100), read_only_sql_transaction (25006) and its
// messages for a full disk.
var writeFailureSigns = []string{
	"database or disk is full",
	"disk i/o error",
	"readonly database",
	"no space left on device",
	"could not extend file",
	"could not write to file",
	"sqlstate 53100",
	"sqlstate 25006",
}

// isWriteFailure reports whether err says the store cannot write (rather
// than a conflict, a missing row, a busy database or a cancelled request).
func isWriteFailure(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	text := strings.ToLower(err.Error())
	for _, s := range writeFailureSigns {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

// observedStore is the Store the dispatcher and the portal write through:
// it tells h about the outcome of every write.
type observedStore struct {
	storage.Store
	h *writeHealth
}

func (s observedStore) seen(err error) error { s.h.observe(err); return err }

func (s observedStore) WithTx(ctx context.Context, fn func(tx storage.Store) error) error {
	return s.seen(s.Store.WithTx(ctx, fn))
}

func (s observedStore) EnqueueMail(ctx context.Context, m *storage.OutboxMessage) error {
	return s.seen(s.Store.EnqueueMail(ctx, m))
}

func (s observedStore) LeaseMail(ctx context.Context, owner string, n int, lease time.Duration) ([]*storage.OutboxMessage, error) {
	ms, err := s.Store.LeaseMail(ctx, owner, n, lease)
	return ms, s.seen(err)
}

func (s observedStore) LeaseMailByID(ctx context.Context, id uuid.UUID, owner string, lease time.Duration) (*storage.OutboxMessage, error) {
	m, err := s.Store.LeaseMailByID(ctx, id, owner, lease)
	return m, s.seen(err)
}

func (s observedStore) MarkMailSent(ctx context.Context, id uuid.UUID, token storage.LeaseToken) error {
	return s.seen(s.Store.MarkMailSent(ctx, id, token))
}

func (s observedStore) MarkMailDeferred(ctx context.Context, id uuid.UUID, token storage.LeaseToken, next time.Time, lastErr, diagnosis string) error {
	return s.seen(s.Store.MarkMailDeferred(ctx, id, token, next, lastErr, diagnosis))
}

func (s observedStore) MarkMailDead(ctx context.Context, id uuid.UUID, token storage.LeaseToken, lastErr, diagnosis string) error {
	return s.seen(s.Store.MarkMailDead(ctx, id, token, lastErr, diagnosis))
}

func (s observedStore) PostponeMail(ctx context.Context, id uuid.UUID, token storage.LeaseToken, next time.Time, lastErr, diagnosis string) error {
	return s.seen(s.Store.PostponeMail(ctx, id, token, next, lastErr, diagnosis))
}

func (s observedStore) ReleaseMail(ctx context.Context, id uuid.UUID, token storage.LeaseToken) error {
	return s.seen(s.Store.ReleaseMail(ctx, id, token))
}

func (s observedStore) RaiseAlarm(ctx context.Context, a storage.Alarm) error {
	return s.seen(s.Store.RaiseAlarm(ctx, a))
}

func (s observedStore) CreateGuest(ctx context.Context, g *storage.Guest) error {
	return s.seen(s.Store.CreateGuest(ctx, g))
}

func (s observedStore) UpdateGuest(ctx context.Context, id uuid.UUID, u storage.GuestUpdate) (*storage.Guest, error) {
	g, err := s.Store.UpdateGuest(ctx, id, u)
	return g, s.seen(err)
}
