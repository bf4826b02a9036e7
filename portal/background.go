package portal

import (
	"context"
	"sync"
	"time"
)

// Limits of the work the portal does off the request path.
const (
	backgroundWorkers = 8                // at most this many at once
	backgroundQueue   = 64               // then at most this many wait; more are dropped (and logged)
	backgroundTimeout = 30 * time.Second // each job's deadline, from when it starts
)

// backgroundJobs runs work after the response has gone: a bounded number
// at once, a bounded number waiting, each with a timeout, on contexts
// detached from their requests.
type backgroundJobs struct {
	sem    chan struct{}      // a token per running worker
	queue  chan backgroundJob // accepted, waiting for a worker
	ctx    context.Context    // ended by Shutdown when its wait runs out
	cancel context.CancelFunc

	mu     sync.Mutex // serialises acceptance: closed, and room in queue
	closed bool
	wg     sync.WaitGroup // accepted jobs not finished yet
}

// backgroundJob is one accepted piece of work.
type backgroundJob struct {
	reqCtx context.Context
	what   string
	fn     func(ctx context.Context) error
}

func newBackgroundJobs() *backgroundJobs {
	ctx, cancel := context.WithCancel(context.Background())
	return &backgroundJobs{
		sem: make(chan struct{}, backgroundWorkers), queue: make(chan backgroundJob, backgroundQueue),
		ctx: ctx, cancel: cancel,
	}
}

// What background did with a job.
type backgroundResult int

const (
	bgAccepted backgroundResult = iota // it runs now or soon
	bgRefused                          // admit said no: nothing was taken
	bgDropped                          // no room (or shutting down): logged, admit not asked
)

// background runs fn in its own goroutine with a context that keeps the
// values of reqCtx (for logging) but not its cancellation, and ends after
// backgroundTimeout or when Shutdown gives up waiting. When all workers
// are busy fn waits in a bounded queue; when that is full too, or after
// Shutdown, fn is dropped and logged.
//
// admit, when not nil, is asked only once there is room for fn, and fn is
// accepted only if it says yes: so a rate limit it applies is spent only
// on work that will be done.
func (p *Portal) background(reqCtx context.Context, what string, fn func(ctx context.Context) error, admit func() bool) backgroundResult {
	b := p.bg
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		p.log.WarnContext(reqCtx, "portal: background work dropped: shutting down", "what", what)
		return bgDropped
	}
	run := false
	select {
	case b.sem <- struct{}{}:
		run = true
	default:
		// Only acceptance (under mu) adds to the queue, so the room seen
		// here is still there below.
		if len(b.queue) == cap(b.queue) {
			p.log.WarnContext(reqCtx, "portal: background work dropped: all workers busy and the queue full",
				"what", what, "workers", backgroundWorkers, "queue", backgroundQueue)
			return bgDropped
		}
	}
	if admit != nil && !admit() {
		if run {
			<-b.sem
			p.bgDrain() // a job may have been queued while the slot was held
		}
		return bgRefused
	}
	b.wg.Add(1)
	j := backgroundJob{reqCtx: reqCtx, what: what, fn: fn}
	if run {
		go p.bgWorker(j, true)
		return bgAccepted
	}
	b.queue <- j
	// The workers may all have finished between the look at sem and the
	// send: then take a slot for the queue here.
	p.bgDrain()
	return bgAccepted
}

// bgDrain starts a worker for the queue if a slot is free and the queue
// is not empty.
func (p *Portal) bgDrain() {
	b := p.bg
	if len(b.queue) == 0 {
		return
	}
	select {
	case b.sem <- struct{}{}:
		go p.bgWorker(backgroundJob{}, false)
	default: // a running worker looks at the queue before it stops
	}
}

// bgWorker holds a slot of sem: it runs j (when have), then what is
// queued, and gives the slot back when the queue is empty.
func (p *Portal) bgWorker(j backgroundJob, have bool) {
	b := p.bg
	for {
		if have {
			p.bgRun(j)
		}
		select {
		case j = <-b.queue:
			have = true
			continue
		default:
		}
		<-b.sem
		// A job queued after the look above, while this worker still
		// held its slot, would wait for the next one: look once more.
		if len(b.queue) == 0 {
			return
		}
		select {
		case b.sem <- struct{}{}:
			have = false
		default:
			return // another worker holds a slot and will see it
		}
	}
}

func (p *Portal) bgRun(j backgroundJob) {
	b := p.bg
	defer b.wg.Done()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(j.reqCtx), backgroundTimeout)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel)
	defer stop()
	if err := j.fn(ctx); err != nil {
		p.log.ErrorContext(ctx, "portal: "+j.what, "error", err.Error())
	}
}

// Shutdown stops taking background work (such as the look-ups of "email me
// my credentials again") and waits for what is running or queued, until
// ctx ends: then it cancels that work, waits for it to stop, and returns
// ctx's error. Call it after the HTTP server has stopped, before closing
// the store.
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
