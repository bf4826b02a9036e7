package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Status is where a submitted message stands when [Future.Wait] returns.
type Status string

// The statuses [Future.Wait] reports.
const (
	StatusPending  Status = "pending"  // Wait's ctx ended before the first attempt finished: still in the outbox
	StatusSent     Status = "sent"     // delivered to the SMTP server
	StatusDeferred Status = "deferred" // a transient failure: it will be retried
	StatusFailed   Status = "failed"   // permanent failure: dead-lettered, an alarm raised
)

// Result is the first outcome of a submitted message.
type Result struct {
	Status    Status
	Attempts  int           // attempts made so far (1 after the first)
	Took      time.Duration // from Submit/Track to the outcome
	Diagnosis *Diagnosis    // nil when sent or pending
	MessageID uuid.UUID     // the outbox ID
}

// Future is the pending result of a message handed to a [Dispatcher]. It
// completes with the first outcome of the message in this process: sent,
// deferred (a retry is scheduled) or failed. A message that another node
// delivers is observed by the dispatcher's poller. When the dispatcher shuts
// down first, the Future completes as [StatusPending]: the message stays in
// the outbox and is sent after the restart.
type Future struct {
	id     uuid.UUID
	start  time.Time
	log    *slog.Logger
	done   chan struct{}
	once   sync.Once
	result Result
}

// newFuture starts a Future for id handed over at start. Took is measured
// on the real monotonic clock, not the dispatcher's injectable one (which
// schedules retries).
func newFuture(id uuid.UUID, start time.Time, log *slog.Logger) *Future {
	return &Future{id: id, start: start, log: log, done: make(chan struct{})}
}

// ID is the outbox ID of the message.
func (f *Future) ID() uuid.UUID { return f.id }

// Done is closed when the Future has completed.
func (f *Future) Done() <-chan struct{} { return f.done }

// Wait returns the first outcome (sent, deferred or failed), or
// [StatusPending] when ctx ends first. It can be called any number of times.
func (f *Future) Wait(ctx context.Context) Result {
	f.log.DebugContext(ctx, "mail wait", "id", f.id)
	select {
	case <-f.done:
		r := f.result
		f.log.DebugContext(ctx, "mail wait done", "id", f.id, "status", r.Status, "took_ms", r.Took.Milliseconds())
		return r
	case <-ctx.Done():
		f.log.DebugContext(ctx, "mail wait ended before an outcome", "id", f.id, "status", StatusPending)
		return Result{Status: StatusPending, MessageID: f.id, Took: time.Since(f.start)}
	}
}

// complete sets the result once; later calls do nothing. It reports whether
// this call completed the Future.
func (f *Future) complete(r Result) bool {
	done := false
	f.once.Do(func() {
		r.MessageID = f.id
		r.Took = time.Since(f.start)
		f.result = r
		close(f.done)
		done = true
	})
	return done
}
