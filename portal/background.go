package portal

import (
	"context"
	"sync"
	"time"
)

// Limits of the work the portal does off the request path.
const (
	backgroundWorkers = 8                // at most this many at once; more are dropped (and logged)
	backgroundTimeout = 30 * time.Second // each job's deadline
)

// backgroundJobs runs work after the response has gone: a bounded number
// at once, each with a timeout, on contexts detached from their requests.
type backgroundJobs struct {
	sem    chan struct{}
	ctx    context.Context // ended by Shutdown when its wait runs out
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func newBackgroundJobs() *backgroundJobs {
	ctx, cancel := context.WithCancel(context.Background())
	return &backgroundJobs{sem: make(chan struct{}, backgroundWorkers), ctx: ctx, cancel: cancel}
}

// background runs fn in its own goroutine with a context that keeps the
// values of reqCtx (for logging) but not its cancellation, and ends after
// backgroundTimeout or when Shutdown gives up waiting. When all workers
// are busy, or after Shutdown, fn is dropped and logged; the caller answers
// the same either way.
func (p *Portal) background(reqCtx context.Context, what string, fn func(ctx context.Context) error) {
	b := p.bg
	select {
	case b.sem <- struct{}{}:
	default:
		p.log.WarnContext(reqCtx, "portal: background work dropped: all workers busy", "what", what, "workers", backgroundWorkers)
		return
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.sem
		p.log.WarnContext(reqCtx, "portal: background work dropped: shutting down", "what", what)
		return
	}
	b.wg.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.wg.Done()
		defer func() { <-b.sem }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), backgroundTimeout)
		defer cancel()
		stop := context.AfterFunc(b.ctx, cancel)
		defer stop()
		if err := fn(ctx); err != nil {
			p.log.ErrorContext(ctx, "portal: "+what, "error", err.Error())
		}
	}()
}

// Shutdown stops taking background work (such as the look-ups of "email me
// my credentials again") and waits for what is running, until ctx ends:
// then it cancels that work, waits for it to stop, and returns ctx's error.
// Call it after the HTTP server has stopped, before closing the store.
func (p *Portal) Shutdown(ctx context.Context) error {
	b := p.bg
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		b.cancel()
		<-done
		return ctx.Err()
	}
}
