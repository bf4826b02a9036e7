package notify

import (
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/google/uuid"
)

// registry holds the unresolved Futures of a Dispatcher, by message ID, and
// says how each is followed: by the worker that sends its message (it takes
// the Future before it records the outcome), by the follower reading the
// message's status (watched: another worker or node holds it), or as a
// message Track could not queue (backlog: the poller leases it when it is due,
// and looks for it among the settled ones when it has time). A Future that
// was completed and tracked again is a new Future: every operation that acts
// on a Future it was given first checks that it is still the message's
// current one.
type registry struct {
	log *slog.Logger

	mu      sync.Mutex
	closed  bool                  // Shutdown began: Futures made now complete as pending at once
	futures map[uuid.UUID]*Future // unresolved futures by message ID
	// watched are futures whose message another worker or node holds: the
	// follower checks the message's status until it shows an outcome.
	watched map[uuid.UUID]*Future
	// backlog are futures of messages Track could not queue (the queue was
	// full). The poller leases them when they are due; the follower looks
	// for those that are not (settled already, or held elsewhere).
	backlog map[uuid.UUID]*Future
}

func newRegistry(log *slog.Logger) *registry {
	return &registry{
		log:     log,
		futures: make(map[uuid.UUID]*Future),
		watched: make(map[uuid.UUID]*Future),
		backlog: make(map[uuid.UUID]*Future),
	}
}

// add returns the Future of id, making it if there is none (isNew). After
// close, it returns a Future completed as pending and isNew false.
func (g *registry) add(id uuid.UUID, start time.Time) (f *Future, isNew bool) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		f = newFuture(id, start, g.log)
		f.complete(Result{Status: StatusPending})
		return f, false
	}
	f, ok := g.futures[id]
	if !ok {
		f = newFuture(id, start, g.log)
		g.futures[id] = f
	}
	g.mu.Unlock()
	return f, !ok
}

// current returns the Future of id, or nil.
func (g *registry) current(id uuid.UUID) *Future {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.futures[id]
}

// toBacklog puts f in the backlog if it is still id's Future.
func (g *registry) toBacklog(id uuid.UUID, f *Future) {
	g.mu.Lock()
	if g.futures[id] == f {
		g.backlog[id] = f
	}
	g.mu.Unlock()
}

// take removes and returns the Future of id (nil if none). A worker takes
// it before it records an outcome; a Track in between finds the message
// still leased or already settled, and watch completes its new Future.
func (g *registry) take(id uuid.UUID) *Future {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.futures[id]
	delete(g.futures, id)
	delete(g.watched, id)
	delete(g.backlog, id)
	return f
}

// resolve completes the Future of id, if there is one.
func (g *registry) resolve(id uuid.UUID, r Result) {
	if f := g.take(id); f != nil {
		f.complete(r)
	}
}

// follow has the follower follow the status of id for f, a future taken
// before an outcome that turned out not to be this process's to record.
// If the message was tracked again meanwhile, f completes with the new
// future.
func (g *registry) follow(id uuid.UUID, f *Future) {
	if f == nil {
		return
	}
	g.mu.Lock()
	cur, closed := g.futures[id], g.closed
	if cur == nil && !closed {
		g.futures[id] = f
		g.watched[id] = f
	}
	g.mu.Unlock()
	switch {
	case closed:
		f.complete(Result{Status: StatusPending})
	case cur != nil:
		go func() {
			<-cur.Done()
			f.complete(cur.result)
		}()
	}
}

// watchOrComplete completes f with r when done, or has the follower watch it
// otherwise; it does nothing when f is no longer id's Future.
func (g *registry) watchOrComplete(id uuid.UUID, f *Future, r Result, done bool) {
	g.mu.Lock()
	if g.futures[id] != f {
		g.mu.Unlock()
		return
	}
	if done {
		delete(g.futures, id)
		delete(g.watched, id)
		delete(g.backlog, id)
		g.mu.Unlock()
		f.complete(r)
		return
	}
	g.watched[id] = f
	g.mu.Unlock()
}

// settle completes f with r when done, or moves it from the backlog to the
// watched futures when watch; it does nothing when f is no longer id's
// future (completed, then tracked again).
func (g *registry) settle(id uuid.UUID, f *Future, r Result, done, watch bool) {
	g.mu.Lock()
	current := g.futures[id] == f
	switch {
	case current && done:
		delete(g.futures, id)
		delete(g.watched, id)
		delete(g.backlog, id)
	case current && watch:
		delete(g.backlog, id)
		g.watched[id] = f
	}
	g.mu.Unlock()
	if current && done {
		f.complete(r)
	}
}

// watchedNow returns a copy of the watched futures.
func (g *registry) watchedNow() map[uuid.UUID]*Future {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.watched)
}

// backlogBatch returns up to limit (all if negative) backlog futures, in no
// particular order.
func (g *registry) backlogBatch(limit int) map[uuid.UUID]*Future {
	g.mu.Lock()
	defer g.mu.Unlock()
	batch := make(map[uuid.UUID]*Future)
	for id, f := range g.backlog {
		if limit >= 0 && len(batch) >= limit {
			break
		}
		batch[id] = f
	}
	return batch
}

// close makes every later add return a pending Future.
func (g *registry) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// drain removes and returns every unresolved Future (at shutdown).
func (g *registry) drain() map[uuid.UUID]*Future {
	g.mu.Lock()
	defer g.mu.Unlock()
	pending := g.futures
	g.futures = make(map[uuid.UUID]*Future)
	clear(g.watched)
	clear(g.backlog)
	return pending
}

// finish completes f, if any.
func finish(f *Future, r Result) {
	if f != nil {
		f.complete(r)
	}
}
