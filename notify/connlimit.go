package notify

import (
	"context"
	"slices"
	"sync"
	"time"
)

// connLimitGrowEvery is how long the connection limit of a [Transport]
// stays where a "too many connections" refusal put it before it grows by
// one again (and again after as long, up to PoolSize): a limit set by
// another sender on the same mailbox may go away, and a probe costs one
// refused connection.
const connLimitGrowEvery = time.Minute

// tooManyTries bounds the tries of one Send that the server refuses for
// too many connections; each lowers the limit, and a retry waits for a
// free slot under it. After the last the message is deferred.
const tooManyTries = 4

// connLimiter bounds the sends in flight, and so the connections open, by
// a limit that starts at the pool size, drops when the server refuses a
// connection for too many, and grows back one at a time. Waiting senders
// are served first come, first served. It is safe for concurrent use.
type connLimiter struct {
	mu      sync.Mutex
	max     int
	limit   int
	inUse   int
	waiters []chan struct{}
	changed time.Time // when the limit last dropped or grew
}

func newConnLimiter(n int) *connLimiter { return &connLimiter{max: n, limit: n} }

// acquire takes a slot, waiting until one is free under the limit or ctx
// ends.
func (l *connLimiter) acquire(ctx context.Context) error {
	l.mu.Lock()
	if l.inUse < l.limit && len(l.waiters) == 0 {
		l.inUse++
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	l.waiters = append(l.waiters, ch)
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		if i := slices.Index(l.waiters, ch); i >= 0 {
			l.waiters = slices.Delete(l.waiters, i, i+1)
			l.mu.Unlock()
			return ctx.Err()
		}
		l.mu.Unlock()
		l.release() // granted meanwhile: give it back
		return ctx.Err()
	}
}

// release gives a slot back.
func (l *connLimiter) release() {
	l.mu.Lock()
	l.inUse--
	l.grantLocked()
	l.mu.Unlock()
}

func (l *connLimiter) grantLocked() {
	for l.inUse < l.limit && len(l.waiters) > 0 {
		ch := l.waiters[0]
		l.waiters = slices.Delete(l.waiters, 0, 1)
		l.inUse++
		close(ch)
	}
}

// lower takes the limit below what the server refused: at most open, the
// connections still open after the refused one was closed, and at least
// one less than before; never below 1. It returns the new limit.
func (l *connLimiter) lower(open int, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit = max(1, min(l.limit-1, open))
	l.changed = now
	return l.limit
}

// grow raises the limit by one when it is below the pool size and has not
// changed for connLimitGrowEvery. It returns the new limit and whether it
// grew.
func (l *connLimiter) grow(now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit >= l.max || now.Sub(l.changed) < connLimitGrowEvery {
		return l.limit, false
	}
	l.limit++
	l.changed = now
	l.grantLocked()
	return l.limit, true
}

// current is the limit now.
func (l *connLimiter) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}
