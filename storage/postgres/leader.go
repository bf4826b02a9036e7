package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lobbyhq/lobby/storage"
)

// leader is a session advisory lock this store holds, on a connection kept
// out of the pool for as long as the lock is held.
type leader struct {
	name  string
	owner string
	conn  *pgxpool.Conn
}

// leaderSlot serialises the calls for one lock name, and keeps the lock
// when this store holds it. Calls for other names, and Close, do not wait
// for it: the store's mutex guards only the map of slots, never I/O.
type leaderSlot struct {
	sem  chan struct{} // one token: whoever holds it may act on the name
	held *leader       // guarded by sem
}

func (sl *leaderSlot) lock(ctx context.Context) error {
	select {
	case sl.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (sl *leaderSlot) unlock() { <-sl.sem }

func newState(pool *pgxpool.Pool) *state {
	closing, stop := context.WithCancel(context.Background())
	return &state{slots: map[string]*leaderSlot{}, closing: closing, stop: stop, acquire: pool.Acquire}
}

var errClosed = errors.New("the store is closed")

// slot returns the slot of name, or errClosed.
func (st *state) slot(name string) (*leaderSlot, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, errClosed
	}
	sl := st.slots[name]
	if sl == nil {
		sl = &leaderSlot{sem: make(chan struct{}, 1)}
		st.slots[name] = sl
	}
	return sl, nil
}

func (st *state) isClosed() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.closed
}

// enter takes the slot of name for one call, with a context that Close
// cancels; leave gives it back.
func (st *state) enter(ctx context.Context, name string) (sl *leaderSlot, cctx context.Context, leave func(), err error) {
	sl, err = st.slot(name)
	if err != nil {
		return nil, nil, nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(st.closing, cancel)
	if err := sl.lock(cctx); err != nil {
		stop()
		cancel()
		if st.isClosed() {
			return nil, nil, nil, errClosed
		}
		return nil, nil, nil, err
	}
	leave = func() {
		// Close may have passed this slot by while the call held it:
		// then the call gives up what it holds.
		if sl.held != nil && st.isClosed() {
			rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
			sl.held.release(rctx)
			rcancel()
			sl.held = nil
		}
		sl.unlock()
		stop()
		cancel()
	}
	if st.isClosed() {
		leave()
		return nil, nil, nil, errClosed
	}
	return sl, cctx, leave, nil
}

// The lock key: the leader class and a hash of the schema and the name, so
// that stores in different schemas of one database elect separately.
const (
	leaderLockSQL   = `SELECT pg_try_advisory_lock($1, hashtext(coalesce(current_schema(), '') || '/' || $2))`
	leaderUnlockSQL = `SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '') || '/' || $2))`
)

// The leader session's TCP keepalives: the server probes an idle leader
// connection after 30 s and drops it after 3 unanswered probes 10 s apart,
// so a leader whose host vanished (powered off, cut off) loses the lock in
// about a minute instead of the system default of some two hours. They end
// a dead session only: a live but idle leader answers the probes at the TCP
// level and keeps its lock however long it waits between renewals, which is
// why idle_session_timeout (which ends idle sessions, alive or not) is not
// used. RESET when the connection goes back to the pool.
const (
	leaderKeepaliveSQL = `SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3`
	leaderResetSQL     = `RESET tcp_keepalives_idle; RESET tcp_keepalives_interval; RESET tcp_keepalives_count`
)

// TryLeader takes or renews the named lock for owner and reports whether
// owner holds it. The lock is a session advisory lock on a dedicated
// connection with short TCP keepalives: it dies with the session (a crashed
// or vanished node), so ttl is unused. Renewing checks that the connection
// is still alive. Calls for different names do not wait for each other, and
// Close cancels calls in flight.
func (s *Store) TryLeader(ctx context.Context, name, owner string, _ time.Duration) (bool, error) {
	if s.inTx {
		return false, fmt.Errorf("postgres: try leader %s: %w", name, storage.ErrInTx)
	}
	st := s.state
	sl, ctx, leave, err := st.enter(ctx, name)
	if err != nil {
		return false, fmt.Errorf("postgres: try leader %s: %w", name, err)
	}
	defer leave()
	if l := sl.held; l != nil {
		if l.owner != owner {
			return false, nil
		}
		if err := l.conn.Ping(ctx); err == nil {
			return true, nil
		}
		// The session is gone and the lock with it; try for a new one.
		sl.held = nil
		l.discard(context.WithoutCancel(ctx))
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("postgres: try leader %s: %w", name, err)
		}
	}
	conn, err := st.acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: try leader %s: %w", name, err)
	}
	// Keepalives are worth having, not worth failing for: a server that
	// refuses the values (no TCP_KEEPIDLE on its system) still locks.
	var pgErr *pgconn.PgError
	if _, err := conn.Exec(ctx, leaderKeepaliveSQL); err != nil && !errors.As(err, &pgErr) {
		conn.Release()
		return false, fmt.Errorf("postgres: try leader %s: keepalives: %w", name, err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, leaderLockSQL, leaderLockClass, name).Scan(&ok); err != nil {
		conn.Release()
		return false, fmt.Errorf("postgres: try leader %s: %w", name, err)
	}
	l := &leader{name: name, owner: owner, conn: conn}
	if !ok {
		l.reset(ctx)
		return false, nil
	}
	sl.held = l
	return true, nil
}

// ReleaseLeader gives the named lock up if owner holds it.
func (s *Store) ReleaseLeader(ctx context.Context, name, owner string) error {
	if s.inTx {
		return fmt.Errorf("postgres: release leader %s: %w", name, storage.ErrInTx)
	}
	sl, ctx, leave, err := s.state.enter(ctx, name)
	if errors.Is(err, errClosed) {
		return nil // Close released it
	}
	if err != nil {
		return fmt.Errorf("postgres: release leader %s: %w", name, err)
	}
	defer leave()
	if l := sl.held; l != nil && l.owner == owner {
		sl.held = nil
		l.release(ctx)
	}
	return nil
}

// release unlocks and hands the connection back to the pool; if that
// fails, the connection is closed, which ends the lock with the session.
func (l *leader) release(ctx context.Context) {
	var unlocked bool
	if err := l.conn.QueryRow(ctx, leaderUnlockSQL, leaderLockClass, l.name).Scan(&unlocked); err != nil || !unlocked {
		l.discard(ctx)
		return
	}
	l.reset(ctx)
}

// reset undoes the session settings of a leader connection and hands it
// back to the pool, or closes it if that fails.
func (l *leader) reset(ctx context.Context) {
	if _, err := l.conn.Exec(ctx, leaderResetSQL); err != nil {
		l.discard(ctx)
		return
	}
	l.conn.Release()
}

// discard closes the connection instead of returning it to the pool.
func (l *leader) discard(ctx context.Context) {
	c := l.conn.Hijack()
	_ = c.Close(ctx)
}
