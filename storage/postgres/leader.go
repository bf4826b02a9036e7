package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// The lock key: the leader class and a hash of the schema and the name, so
// that stores in different schemas of one database elect separately.
const (
	leaderLockSQL   = `SELECT pg_try_advisory_lock($1, hashtext(coalesce(current_schema(), '') || '/' || $2))`
	leaderUnlockSQL = `SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '') || '/' || $2))`
)

// TryLeader takes or renews the named lock for owner and reports whether
// owner holds it. The lock is a session advisory lock on a dedicated
// connection: it dies with the session (a crashed node), so ttl is unused.
// Renewing checks that the connection is still alive.
func (s *Store) TryLeader(ctx context.Context, name, owner string, _ time.Duration) (bool, error) {
	if s.inTx {
		return false, fmt.Errorf("postgres: try leader %s: %w", name, storage.ErrInTx)
	}
	st := s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return false, errors.New("postgres: try leader: the store is closed")
	}
	if l := st.leaders[name]; l != nil {
		if l.owner != owner {
			return false, nil
		}
		if err := l.conn.Ping(ctx); err == nil {
			return true, nil
		}
		// The session is gone and the lock with it; try for a new one.
		delete(st.leaders, name)
		l.discard(ctx)
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("postgres: try leader %s: %w", name, err)
		}
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: try leader %s: %w", name, err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, leaderLockSQL, leaderLockClass, name).Scan(&ok); err != nil {
		conn.Release()
		return false, fmt.Errorf("postgres: try leader %s: %w", name, err)
	}
	if !ok {
		conn.Release()
		return false, nil
	}
	st.leaders[name] = &leader{name: name, owner: owner, conn: conn}
	return true, nil
}

// ReleaseLeader gives the named lock up if owner holds it.
func (s *Store) ReleaseLeader(ctx context.Context, name, owner string) error {
	if s.inTx {
		return fmt.Errorf("postgres: release leader %s: %w", name, storage.ErrInTx)
	}
	st := s.state
	st.mu.Lock()
	l := st.leaders[name]
	if l == nil || l.owner != owner {
		st.mu.Unlock()
		return nil
	}
	delete(st.leaders, name)
	st.mu.Unlock()
	l.release(ctx)
	return nil
}

// release unlocks and hands the connection back to the pool; if unlocking
// fails, the connection is closed, which ends the lock with the session.
func (l *leader) release(ctx context.Context) {
	var unlocked bool
	if err := l.conn.QueryRow(ctx, leaderUnlockSQL, leaderLockClass, l.name).Scan(&unlocked); err != nil || !unlocked {
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
