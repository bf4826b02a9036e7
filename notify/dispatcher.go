package notify

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lobbyhq/lobby/storage"
)

// SettingsSource returns the current SMTP settings; an admin may change them
// at any time, so the dispatcher asks before every send.
type SettingsSource func(ctx context.Context) (Settings, error)

// Sender sends one email with the given settings. The pooled SMTP
// [Transport] implements it.
type Sender interface {
	Send(ctx context.Context, s Settings, e *Email) error
}

// DispatcherConfig configures a [Dispatcher]. Zero values mean the defaults.
type DispatcherConfig struct {
	Store    storage.Store  // required
	Settings SettingsSource // required
	Sender   Sender         // required (the pooled SMTP transport)

	Workers   int // sends at once; default 8
	QueueSize int // IDs waiting for a worker; default 1024. When full, Track does not block: the poller picks the message up later

	// Retry policy. A permanent failure dead-letters a message at once. A
	// temporary one is retried with exponential backoff until the message
	// has had MaxAttempts attempts AND is older than RetryFor (both), so a
	// long outage of Exchange or the token endpoint does not lose mail:
	// with the defaults, attempts go on for a day, every 30 minutes once
	// the backoff reaches MaxBackoff. Missing or unreadable SMTP settings
	// (smtp_not_configured, settings_unavailable) never dead-letter a
	// message: it is tried again every minute until they are there.
	MaxAttempts int           // default 10
	RetryFor    time.Duration // default 24h
	BaseBackoff time.Duration // default 5s; attempt n waits ~BaseBackoff·2^(n-1) ± 20 %, capped by MaxBackoff
	MaxBackoff  time.Duration // default 30m
	// Lease is how long a worker owns a message it is sending; another
	// node takes the message over when it runs out. Default 2m; it must be
	// at least SendTimeout + 15s (the bound on recording the outcome).
	Lease        time.Duration
	PollInterval time.Duration // how often the poller looks for due messages; default 5s
	SendTimeout  time.Duration // bound on one send attempt; default 60s
	// ShutdownTimeout bounds the graceful shutdown Run does when its ctx
	// ends; default 30s. Sends still running then are interrupted and get
	// 5s more to record that before the dispatcher's store writes are
	// cancelled; Run returns once every worker has stopped.
	ShutdownTimeout time.Duration
	Owner           string // lease owner id; default hostname-pid-random
	Logger          *slog.Logger
	// Now is the clock for scheduling retries; default time.Now. It should
	// be the clock the Store uses.
	Now func() time.Time
	// Rand returns a random number in [0, 1) for the backoff jitter; it must
	// be safe for concurrent use. Default math/rand/v2.Float64.
	Rand       func() float64
	Registerer prometheus.Registerer // nil: metrics are not registered (tests); they are still counted
}

// Defaults of [DispatcherConfig].
const (
	DefaultWorkers         = 8
	DefaultQueueSize       = 1024
	DefaultMaxAttempts     = 10
	DefaultRetryFor        = 24 * time.Hour
	DefaultBaseBackoff     = 5 * time.Second
	DefaultMaxBackoff      = 30 * time.Minute
	DefaultLease           = 2 * time.Minute
	DefaultPollInterval    = 5 * time.Second
	DefaultSendTimeout     = 60 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
)

// settingsRetryDelay is how long a message waits for missing or unreadable
// SMTP settings between attempts, whatever its attempt count.
const settingsRetryDelay = time.Minute

// Codes of the failures to read the SMTP settings (see settingsDiagnosis).
const (
	codeSMTPNotConfigured   = "smtp_not_configured"
	codeSettingsUnavailable = "settings_unavailable"
)

// storeTimeout bounds each outbox write the dispatcher makes on its own
// behalf (they must not depend on a caller's or the shutdown's context).
const storeTimeout = 15 * time.Second

// maxShortLeases is how many times in a row a worker gives back a message
// whose lease is too short to send before it defers the message for
// shortLeaseDelay instead: a node that stalls between leasing and sending
// must not lease and give back the same message in a loop.
const (
	maxShortLeases  = 3
	shortLeaseDelay = 30 * time.Second
)

// codeLeaseTooShort is the diagnosis of a message deferred after
// maxShortLeases leases too short to send.
const codeLeaseTooShort = "lease_too_short"

// interruptGrace is how long Shutdown waits, after cancelling the sends
// still running when its ctx ended, for their workers to record that;
// then it cancels the dispatcher's store writes too.
const interruptGrace = 5 * time.Second

// maxErrorText bounds the error text kept in the outbox.
const maxErrorText = 1000

// withDefaults fills the defaults and checks the config, naming every bad field.
func (c DispatcherConfig) withDefaults() (DispatcherConfig, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Store == nil {
		bad("Store is required")
	}
	if c.Settings == nil {
		bad("Settings is required (notify.StoreSettingsSource gives the saved SMTP settings)")
	}
	if c.Sender == nil {
		bad("Sender is required (a *notify.Transport)")
	}
	for name, v := range map[string]int64{
		"Workers": int64(c.Workers), "QueueSize": int64(c.QueueSize), "MaxAttempts": int64(c.MaxAttempts), "RetryFor": int64(c.RetryFor),
		"BaseBackoff": int64(c.BaseBackoff), "MaxBackoff": int64(c.MaxBackoff), "Lease": int64(c.Lease),
		"PollInterval": int64(c.PollInterval), "SendTimeout": int64(c.SendTimeout), "ShutdownTimeout": int64(c.ShutdownTimeout),
	} {
		if v < 0 {
			bad("%s must not be negative", name)
		}
	}
	c.Workers = cmp.Or(c.Workers, DefaultWorkers)
	c.QueueSize = cmp.Or(c.QueueSize, DefaultQueueSize)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	c.RetryFor = cmp.Or(c.RetryFor, DefaultRetryFor)
	c.BaseBackoff = cmp.Or(c.BaseBackoff, DefaultBaseBackoff)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, DefaultMaxBackoff)
	c.Lease = cmp.Or(c.Lease, DefaultLease)
	c.PollInterval = cmp.Or(c.PollInterval, DefaultPollInterval)
	c.SendTimeout = cmp.Or(c.SendTimeout, DefaultSendTimeout)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, DefaultShutdownTimeout)
	if c.MaxBackoff < c.BaseBackoff {
		bad("MaxBackoff (%v) must not be shorter than BaseBackoff (%v)", c.MaxBackoff, c.BaseBackoff)
	}
	if c.Lease < c.SendTimeout+storeTimeout {
		bad("Lease (%v) must be at least SendTimeout (%v) + %v to record the outcome, or another node takes over messages still being sent; raise Lease or lower SendTimeout",
			c.Lease, c.SendTimeout, storeTimeout)
	}
	if c.Owner == "" {
		c.Owner = defaultOwner()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = mrand.Float64
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("notify: dispatcher config: %w", errors.Join(errs...))
	}
	return c, nil
}

// defaultOwner names this process for leases: hostname-pid-random.
func defaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "lobby"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
}

// Dispatcher sends the messages of the outbox: a bounded pool of workers fed
// with the IDs handed to [Dispatcher.Track], and a poller that leases due
// messages (retries, and messages whose lease ran out on a crashed node).
// Delivery is at least once. Build it with [NewDispatcher], start it with
// [Dispatcher.Run].
type Dispatcher struct {
	cfg     DispatcherConfig
	log     *slog.Logger
	metrics *Metrics
	// since measures how long ago a lease was taken, on the real monotonic
	// clock (never the injected one, which may be skewed); time.Since, but
	// tests make leases look old with it.
	since func(time.Time) time.Duration

	queue chan uuid.UUID // Track → workers
	// requests: a worker ready for work hands the poller its inbox, which
	// gets exactly one answer: a message the poller leased for it, or none.
	// So the poller leases only for workers that are ready right now, and
	// no leased message waits for a worker while its lease runs out.
	requests chan chan job

	stopping    chan struct{} // closed by Shutdown: take no more work
	stopOnce    sync.Once
	sendCtx     context.Context // cancelled when a shutdown's ctx ends: interrupts sends
	cancelSends context.CancelFunc
	// storeBase is the parent of the dispatcher's own store writes: a
	// shutdown cancels it interruptGrace after its ctx ended, so that no
	// worker still uses the store when Shutdown returns.
	storeBase   context.Context
	cancelStore context.CancelFunc
	grace       time.Duration // interruptGrace; tests shorten it
	markRetry   time.Duration // markSentRetry; tests shorten it
	wg          sync.WaitGroup

	mu      sync.Mutex
	running bool
	stopped bool
	futures map[uuid.UUID]*Future // unresolved futures by message ID
	// watched are futures whose message another worker or node holds: the
	// poller checks the message's status until it shows an outcome.
	watched map[uuid.UUID]*Future
	// backlog are futures of messages Track could not queue (the queue was
	// full). The poller sends them when they are due; it looks for those
	// that are not (settled already, or held elsewhere) when it has time.
	backlog map[uuid.UUID]*Future
	// shortLeases counts, by message ID, the leases given back in a row as
	// too short to send (see maxShortLeases).
	shortLeases map[uuid.UUID]int
}

// job is one message for a worker: by ID (the worker leases it), or leased
// already by the poller at leasedAt (real clock, taken before the lease call).
type job struct {
	id       uuid.UUID
	row      *storage.OutboxMessage
	leasedAt time.Time
}

// NewDispatcher checks cfg and returns a Dispatcher that is not running yet:
// Track and Submit queue work for it until [Dispatcher.Run] starts.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := NewMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	sendCtx, cancel := context.WithCancel(context.Background())
	storeBase, cancelStore := context.WithCancel(context.Background())
	return &Dispatcher{
		cfg:         cfg,
		log:         cfg.Logger,
		metrics:     m,
		queue:       make(chan uuid.UUID, cfg.QueueSize),
		requests:    make(chan chan job),
		stopping:    make(chan struct{}),
		sendCtx:     sendCtx,
		cancelSends: cancel,
		storeBase:   storeBase,
		cancelStore: cancelStore,
		grace:       interruptGrace,
		markRetry:   markSentRetry,
		futures:     make(map[uuid.UUID]*Future),
		watched:     make(map[uuid.UUID]*Future),
		backlog:     make(map[uuid.UUID]*Future),
		shortLeases: make(map[uuid.UUID]int),
		since:       time.Since,
	}, nil
}

// Metrics returns the dispatcher's metrics.
func (d *Dispatcher) Metrics() *Metrics { return d.metrics }

// Owner is the lease owner id of this dispatcher.
func (d *Dispatcher) Owner() string { return d.cfg.Owner }

// Run starts the workers and the poller and blocks until ctx ends (or
// Shutdown is called); then it shuts down gracefully within ShutdownTimeout
// and returns Shutdown's error.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	switch {
	case d.stopped:
		d.mu.Unlock()
		return errors.New("notify: dispatcher: Run after Shutdown; make a new Dispatcher")
	case d.running:
		d.mu.Unlock()
		return errors.New("notify: dispatcher: already running")
	}
	d.running = true
	d.wg.Add(d.cfg.Workers + 1)
	d.mu.Unlock()

	for range d.cfg.Workers {
		go d.worker()
	}
	go d.poller()
	d.log.Info("mail dispatcher started", "owner", d.cfg.Owner, "workers", d.cfg.Workers)

	select {
	case <-ctx.Done():
	case <-d.stopping:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.ShutdownTimeout)
	defer cancel()
	return d.Shutdown(sctx)
}

// Submit enqueues m (outside any transaction) and tracks it. An Enqueue
// error yields a Future already failed with that error's diagnosis.
func (d *Dispatcher) Submit(ctx context.Context, m Message) *Future {
	start := time.Now()
	id, err := Enqueue(ctx, d.cfg.Store, m)
	if err != nil {
		diag := enqueueDiagnosis(err)
		d.log.WarnContext(ctx, "mail job refused", "kind", m.Kind, "to", m.To, "code", diag.Code, "error", err.Error())
		f := newFuture(uuid.Nil, start, d.log)
		f.complete(Result{Status: StatusFailed, Diagnosis: &diag})
		return f
	}
	f := d.track(id, start)
	d.log.InfoContext(ctx, "mail job submitted", "id", id, "kind", m.Kind, "to", m.To,
		"took_ms", time.Since(start).Milliseconds())
	return f
}

// enqueueDiagnosis explains why a message could not be queued.
func enqueueDiagnosis(err error) Diagnosis {
	if errors.Is(err, ErrBadMessage) {
		return Diagnosis{
			Code:    CodeInvalidMessage,
			Message: "The email was not queued: it is incomplete or an address is malformed.",
			Hint:    "Check the recipient address and try again.",
			Detail:  err.Error(),
		}
	}
	return Diagnose(err)
}

// Track hands an already enqueued (and committed) message to the pool and
// returns its Future. It never blocks: when the queue is full, the poller
// picks the message up at its next poll. Tracking a message that is already
// tracked returns the same Future. A message that already shows an outcome
// (sent, dead, or deferred and not due yet) completes its Future with it.
// After Shutdown, the Future is completed as pending at once.
func (d *Dispatcher) Track(id uuid.UUID) *Future {
	return d.track(id, time.Now())
}

// track is Track for a message handed over at start (Result.Took counts from it).
func (d *Dispatcher) track(id uuid.UUID, start time.Time) *Future {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		f := newFuture(id, start, d.log)
		f.complete(Result{Status: StatusPending})
		return f
	}
	f, ok := d.futures[id]
	if !ok {
		f = newFuture(id, start, d.log)
		d.futures[id] = f
	}
	d.mu.Unlock()
	if ok {
		return f
	}
	select {
	case d.queue <- id:
	default:
		// The poller sends the message when it is due, and finds it if it
		// is settled already or held elsewhere.
		d.mu.Lock()
		if d.futures[id] == f {
			d.backlog[id] = f
		}
		d.mu.Unlock()
		d.log.Info("mail queue full; the poller will send the message", "id", id, "queue_size", d.cfg.QueueSize)
	}
	return f
}

// Shutdown stops taking work, lets the sends in flight finish until ctx
// ends (then interrupts them: they are retried later), and gives back the
// messages leased but not attempted. Futures not completed yet complete as
// pending. It returns ctx's error when the sends did not finish in time.
// When ctx ends, the workers get a few seconds to record the interrupted
// sends; then their store writes are cancelled too. Shutdown returns only
// after every worker and the poller stopped: the caller may close the
// Store then.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.stopOnce.Do(func() {
		d.mu.Lock()
		d.stopped = true
		d.mu.Unlock()
		close(d.stopping)
	})
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("notify: dispatcher: shutdown: sends still in flight were interrupted: %w", ctx.Err())
		d.cancelSends()
		t := time.NewTimer(d.grace)
		select {
		case <-done:
		case <-t.C:
			d.log.Warn("mail dispatcher shutdown: cancelling store writes still running")
			d.cancelStore()
			<-done
		}
		t.Stop()
	}
	d.cancelSends()
	d.cancelStore()

	d.mu.Lock()
	pending := d.futures
	d.futures = make(map[uuid.UUID]*Future)
	clear(d.watched)
	clear(d.backlog)
	d.mu.Unlock()
	for _, f := range pending {
		f.complete(Result{Status: StatusPending})
	}
	d.log.Info("mail dispatcher stopped", "owner", d.cfg.Owner, "pending_futures", len(pending))
	return err
}

func (d *Dispatcher) isStopping() bool {
	select {
	case <-d.stopping:
		return true
	default:
		return false
	}
}

// storeCtx bounds one outbox write; it does not end with any caller's ctx,
// so outcomes are recorded even during shutdown, until Shutdown's hard
// deadline (see storeBase).
func (d *Dispatcher) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(d.storeBase, storeTimeout)
}

// resolve completes the Future of id, if this process has one.
func (d *Dispatcher) resolve(id uuid.UUID, r Result) {
	if f := d.take(id); f != nil {
		f.complete(r)
	}
}

// take removes and returns the Future of id (nil if none). A worker takes
// it before it records an outcome; a Track in between finds the message
// still leased or already settled, and watch completes its new Future.
func (d *Dispatcher) take(id uuid.UUID) *Future {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.futures[id]
	delete(d.futures, id)
	delete(d.watched, id)
	delete(d.backlog, id)
	return f
}

// follow has the poller follow the status of id for f, a future taken
// before an outcome that turned out not to be this process's to record.
// If the message was tracked again meanwhile, f completes with the new
// future.
func (d *Dispatcher) follow(id uuid.UUID, f *Future) {
	if f == nil {
		return
	}
	d.mu.Lock()
	cur, stopped := d.futures[id], d.stopped
	if cur == nil && !stopped {
		d.futures[id] = f
		d.watched[id] = f
	}
	d.mu.Unlock()
	switch {
	case stopped:
		f.complete(Result{Status: StatusPending})
	case cur != nil:
		go func() {
			<-cur.Done()
			f.complete(cur.result)
		}()
	}
}

// finish completes f, if any.
func finish(f *Future, r Result) {
	if f != nil {
		f.complete(r)
	}
}

// watch handles a message Track could not lease. If it already shows an
// outcome (sent, dead, or deferred and not due yet), its future completes
// with it now; otherwise (another worker or node is sending it) the poller
// follows its status.
func (d *Dispatcher) watch(id uuid.UUID) {
	// The status read must come after the future was made, or a future
	// tracked meanwhile could get an outcome older than itself.
	d.mu.Lock()
	f := d.futures[id]
	d.mu.Unlock()
	if f == nil {
		return
	}
	ctx, cancel := d.storeCtx()
	row, err := d.cfg.Store.GetMail(ctx, id)
	cancel()
	d.mu.Lock()
	if d.futures[id] != f {
		d.mu.Unlock()
		return
	}
	if err == nil {
		if r, ok := outcomeOf(row, d.cfg.Now()); ok {
			delete(d.futures, id)
			delete(d.watched, id)
			d.mu.Unlock()
			f.complete(r)
			return
		}
	}
	d.watched[id] = f
	d.mu.Unlock()
}

// outcomeOf is the Result a stored message shows at now, if it shows one:
// sent, dead, or deferred and not due yet (a due one is about to be tried).
func outcomeOf(row *storage.OutboxMessage, now time.Time) (Result, bool) {
	stored := &Diagnosis{Code: row.Diagnosis, Message: "The last attempt failed; see the mail log.", Detail: row.LastError}
	switch row.Status {
	case storage.MailSent:
		return Result{Status: StatusSent, Attempts: row.Attempts}, true
	case storage.MailDead:
		return Result{Status: StatusFailed, Attempts: row.Attempts, Diagnosis: stored}, true
	case storage.MailDeferred:
		if !row.NextAttemptAt.After(now) {
			return Result{}, false
		}
		stored.Temporary = true
		return Result{Status: StatusDeferred, Attempts: row.Attempts, Diagnosis: stored}, true
	}
	return Result{}, false
}

// worker sends messages until Shutdown: those handed to Track, and those
// the poller leases for it when it says it is ready.
func (d *Dispatcher) worker() {
	defer d.wg.Done()
	inbox := make(chan job, 1) // one answer per request: the poller never blocks on it
	for {
		select {
		case <-d.stopping:
			return
		case id := <-d.queue:
			d.handle(job{id: id})
		case d.requests <- inbox:
			if j := <-inbox; j.row != nil {
				d.handle(j)
			}
		}
	}
}

// handle leases j's message if needed and attempts it, unless the
// dispatcher is stopping (then a leased message is given back).
func (d *Dispatcher) handle(j job) {
	if d.isStopping() {
		if j.row != nil {
			d.release(j.row)
		}
		return
	}
	row, leasedAt := j.row, j.leasedAt
	if row == nil {
		leasedAt = time.Now()
		ctx, cancel := d.storeCtx()
		r, err := d.cfg.Store.LeaseMailByID(ctx, j.id, d.cfg.Owner, d.cfg.Lease)
		cancel()
		switch {
		case errors.Is(err, storage.ErrConflict):
			// Another worker, node or the poller has it, or it is not due:
			// the poller follows its status.
			d.log.Debug("mail held elsewhere or not due; following its status", "id", j.id)
			d.watch(j.id)
			return
		case errors.Is(err, storage.ErrNotFound):
			d.log.Warn("mail not in the outbox (was Track called before the transaction committed?)", "id", j.id)
			d.resolve(j.id, Result{Status: StatusFailed, Diagnosis: &Diagnosis{
				Code:    "not_in_outbox",
				Message: "The message is not in the outbox.",
				Hint:    "Hand a message to the dispatcher only after the transaction that enqueued it committed.",
			}})
			return
		case err != nil:
			d.log.Warn("mail lease failed; the poller will retry", "id", j.id, "error", err.Error())
			d.watch(j.id)
			return
		}
		row = r
		if d.isStopping() {
			d.release(row)
			return
		}
	}
	// A send may take SendTimeout: with less of the lease left, another
	// node (or this one) could lease the message again meanwhile and send
	// it twice. Give it back; it is leased again at once. What is left is
	// measured on the real clock from before the lease call (the lease
	// began after that), so a skew between the injected clock and the
	// store's cannot make every lease look short.
	if left := d.cfg.Lease - d.since(leasedAt); left < d.cfg.SendTimeout {
		d.shortLease(row, left)
		// Its future (tracked here) is not watched yet: another node may
		// send the message now, and nothing here would complete it.
		d.watch(row.ID)
		return
	}
	d.mu.Lock()
	delete(d.shortLeases, row.ID)
	d.mu.Unlock()
	d.attempt(row, leasedAt)
}

// shortLease gives back a message whose lease is too short to send, or
// defers it briefly when that happened maxShortLeases times in a row (the
// deferral counts the lease as an attempt).
func (d *Dispatcher) shortLease(row *storage.OutboxMessage, left time.Duration) {
	d.mu.Lock()
	if len(d.shortLeases) >= d.cfg.QueueSize {
		clear(d.shortLeases) // counts of messages settled elsewhere
	}
	d.shortLeases[row.ID]++
	n := d.shortLeases[row.ID]
	if n >= maxShortLeases {
		delete(d.shortLeases, row.ID)
	}
	d.mu.Unlock()
	if n < maxShortLeases {
		d.log.Warn("mail lease too short for a send; given back", "id", row.ID, "lease_left", left.String(),
			"send_timeout", d.cfg.SendTimeout.String(), "times", n)
		d.release(row)
		return
	}
	next := d.cfg.Now().Add(shortLeaseDelay)
	lastErr := fmt.Sprintf("notify: dispatcher: lease too short to send %d times in a row (%v left, send timeout %v)",
		n, left, d.cfg.SendTimeout)
	d.metrics.Deferred.WithLabelValues(codeLeaseTooShort).Inc()
	ctx, cancel := d.storeCtx()
	err := d.cfg.Store.PostponeMail(ctx, row.ID, row.LeaseToken, next, lastErr, codeLeaseTooShort)
	cancel()
	if err != nil {
		d.log.Warn("mail deferral not recorded; it is retried when its lease runs out", "id", row.ID, "error", err.Error())
		return
	}
	d.log.Warn("mail lease too short for a send too often; deferred (is this node stalling?)", "id", row.ID,
		"lease_left", left.String(), "send_timeout", d.cfg.SendTimeout.String(), "times", n, "next_attempt", next)
}

// release gives a leased, unattempted message back to the outbox.
func (d *Dispatcher) release(row *storage.OutboxMessage) {
	ctx, cancel := d.storeCtx()
	defer cancel()
	if err := d.cfg.Store.ReleaseMail(ctx, row.ID, row.LeaseToken); err != nil {
		d.log.Warn("mail release failed; it is retried when its lease runs out", "id", row.ID, "error", err.Error())
		return
	}
	d.log.Debug("mail released unattempted", "id", row.ID)
}

// attempt sends a message leased at leasedAt (real clock) once and records
// the outcome.
func (d *Dispatcher) attempt(row *storage.OutboxMessage, leasedAt time.Time) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(d.sendCtx, d.cfg.SendTimeout)
	defer cancel()

	s, err := d.cfg.Settings(ctx)
	if err != nil {
		d.failed(row, Settings{}, err, settingsDiagnosis(err), time.Since(start))
		return
	}
	msg, err := decodePayload(row.Payload)
	if err != nil {
		d.failed(row, s, err, Diagnosis{
			Code:    "bad_payload",
			Message: "The queued message cannot be read.",
			Hint:    "It was written by another version of Lobby or damaged; send it again.",
		}, time.Since(start))
		return
	}
	err = d.cfg.Sender.Send(ctx, s, d.email(row.ID, msg, s))
	took := time.Since(start)
	if err == nil {
		d.sent(row, leasedAt, msg, s, took)
		return
	}
	var diag Diagnosis
	// Only a send that ended because the shutdown cancelled it was
	// interrupted; a server's answer that came in meanwhile stands.
	if errors.Is(err, context.Canceled) && d.sendCtx.Err() != nil {
		diag = Diagnosis{
			Code:      CodeCanceled,
			Message:   "Sending was interrupted because Lobby was shutting down.",
			Hint:      "Nothing to do: it is sent again after the restart.",
			Temporary: true,
		}
	} else {
		diag = Diagnose(err)
	}
	d.failed(row, s, err, diag, took)
}

// email builds what the Sender gets. The Message-ID is derived from the
// outbox ID so that a message sent twice (at least once) is recognisable.
func (d *Dispatcher) email(id uuid.UUID, m Message, s Settings) *Email {
	return &Email{
		From:      s.From,
		To:        m.To,
		Subject:   m.Subject,
		Text:      m.Text,
		HTML:      m.HTML,
		MessageID: id.String() + "@" + messageIDDomain(s),
		Headers: map[string]string{
			// RFC 3834: no auto-replies to automated mail; the second is
			// Exchange's own switch for out-of-office replies.
			"Auto-Submitted":           "auto-generated",
			"X-Auto-Response-Suppress": "All",
		},
	}
}

// messageIDDomain is the domain of the sender address, for Message-IDs.
func messageIDDomain(s Settings) string {
	addr := s.From
	if a, err := mail.ParseAddress(s.From); err == nil {
		addr = a.Address
	}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i+1 < len(addr) {
		return addr[i+1:]
	}
	return "lobby.invalid"
}

// scrub removes secrets from error text before it is stored or logged, and
// bounds its length. Errors should carry no secrets; this is the second belt.
func scrub(text string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			text = strings.ReplaceAll(text, sec, redactedValue)
		}
	}
	if len(text) > maxErrorText {
		text = strings.ToValidUTF8(text[:maxErrorText], "") + "…"
	}
	return text
}

// joinSentences joins the non-empty parts with spaces.
func joinSentences(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

// sent records a delivery of a message leased at leasedAt.
func (d *Dispatcher) sent(row *storage.OutboxMessage, leasedAt time.Time, m Message, s Settings, took time.Duration) {
	d.metrics.Sent.Inc()
	d.metrics.SendSeconds.WithLabelValues(outcomeSent).Observe(took.Seconds())
	f := d.take(row.ID)
	err := d.markSent(row, leasedAt)
	switch {
	case errors.Is(err, storage.ErrLeaseLost):
		d.log.Warn("mail sent after its lease ran out; another node may send it again", "id", row.ID)
	case err != nil:
		d.log.Error("mail sent but not recorded; it is sent again when its lease runs out", "id", row.ID, "error", err.Error())
	}
	d.log.Info("mail sent", "id", row.ID, "kind", row.Kind, "to", m.To, "server", s.Host, "attempts", row.Attempts,
		"took_ms", took.Milliseconds())
	finish(f, Result{Status: StatusSent, Attempts: row.Attempts})
}

// markSentTries bounds the tries to record a delivery; between them the
// worker waits markSentRetry, doubled each time.
const (
	markSentTries = 4
	markSentRetry = 250 * time.Millisecond
)

// markSent records a delivery. A failure (the database briefly unavailable)
// is tried again while the lease, measured on the real clock, still covers
// the wait and the write: unrecorded, the message would be sent again when
// its lease runs out.
func (d *Dispatcher) markSent(row *storage.OutboxMessage, leasedAt time.Time) error {
	wait := d.markRetry
	for try := 1; ; try++ {
		ctx, cancel := d.storeCtx()
		err := d.cfg.Store.MarkMailSent(ctx, row.ID, row.LeaseToken)
		cancel()
		if err == nil || errors.Is(err, storage.ErrLeaseLost) || try == markSentTries ||
			d.cfg.Lease-d.since(leasedAt) < wait+storeTimeout {
			return err
		}
		d.log.Warn("mail sent but not recorded; trying again", "id", row.ID, "try", try, "retry_in", wait.String(),
			"error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.storeBase.Done():
			t.Stop()
			return err
		}
		wait *= 2
	}
}

// failed records a failed attempt: deferred when the failure is temporary
// and the retry policy (see [DispatcherConfig]) allows another attempt,
// dead (with an alarm) otherwise.
func (d *Dispatcher) failed(row *storage.OutboxMessage, s Settings, sendErr error, diag Diagnosis, took time.Duration) {
	diag.Code = cmp.Or(diag.Code, CodeUnknown)
	lastErr := scrub(sendErr.Error(), s.Secrets())
	diag.Detail = scrub(diag.Detail, s.Secrets())
	now := d.cfg.Now()
	interrupted := diag.Code == CodeCanceled && d.sendCtx.Err() != nil
	noSettings := diag.Code == codeSMTPNotConfigured || diag.Code == codeSettingsUnavailable
	retry := interrupted || noSettings ||
		row.Attempts < d.cfg.MaxAttempts || now.Sub(row.CreatedAt) < d.cfg.RetryFor
	if diag.Temporary && retry {
		var wait time.Duration
		switch {
		case interrupted:
		case noSettings:
			wait = settingsRetryDelay
		default:
			wait = Backoff(row.Attempts, d.cfg.BaseBackoff, d.cfg.MaxBackoff, d.cfg.Rand())
		}
		next := now.Add(wait)
		d.metrics.Deferred.WithLabelValues(diag.Code).Inc()
		d.metrics.SendSeconds.WithLabelValues(outcomeDeferred).Observe(took.Seconds())
		f := d.take(row.ID)
		ctx, cancel := d.storeCtx()
		record := d.cfg.Store.MarkMailDeferred
		if interrupted || noSettings {
			// Not a real attempt: waiting for settings or a restart must
			// not use up the message's attempts.
			record = d.cfg.Store.PostponeMail
		}
		err := record(ctx, row.ID, row.LeaseToken, next, lastErr, diag.Code)
		cancel()
		if err != nil {
			d.log.Warn("mail deferral not recorded; it is retried when its lease runs out", "id", row.ID, "error", err.Error())
		}
		d.log.Warn("mail deferred", "id", row.ID, "kind", row.Kind, "to", row.Recipient, "attempts", row.Attempts,
			"code", diag.Code, "next_attempt", next, "took_ms", took.Milliseconds(), "error", lastErr)
		finish(f, Result{Status: StatusDeferred, Attempts: row.Attempts, Diagnosis: &diag})
		return
	}

	d.metrics.Failed.WithLabelValues(diag.Code).Inc()
	d.metrics.SendSeconds.WithLabelValues(outcomeFailed).Observe(took.Seconds())
	f := d.take(row.ID)
	// The alarm first: whoever sees the message dead finds the alarm raised.
	// Each write has its own time: a slow alarm must not leave the mark none.
	ctx, cancel := d.storeCtx()
	d.raiseDeadAlarm(ctx, row, diag)
	cancel()
	ctx, cancel = d.storeCtx()
	err := d.cfg.Store.MarkMailDead(ctx, row.ID, row.LeaseToken, lastErr, diag.Code)
	cancel()
	switch {
	case errors.Is(err, storage.ErrLeaseLost):
		// Another node holds the message now and decides its outcome.
		d.log.Warn("mail failed after its lease ran out; another node retries it", "id", row.ID, "code", diag.Code,
			"error", lastErr)
		d.follow(row.ID, f)
		return
	case err != nil:
		d.log.Error("mail failure not recorded; it is retried when its lease runs out", "id", row.ID, "error", err.Error())
	}
	d.log.Error("mail dead", "id", row.ID, "kind", row.Kind, "to", row.Recipient, "attempts", row.Attempts,
		"code", diag.Code, "temporary", diag.Temporary, "took_ms", took.Milliseconds(), "error", lastErr)
	finish(f, Result{Status: StatusFailed, Attempts: row.Attempts, Diagnosis: &diag})
}

// raiseDeadAlarm tells the admin a message was given up on. One alarm per
// diagnosis code; its detail says what to do and never holds a secret.
func (d *Dispatcher) raiseDeadAlarm(ctx context.Context, row *storage.OutboxMessage, diag Diagnosis) {
	key := "mail.dead"
	if diag.Code != CodeUnknown {
		key = "mail." + diag.Code
	}
	title := "Email could not be delivered"
	if diag.Temporary {
		title += " after " + strconv.Itoa(row.Attempts) + " attempts"
	}
	var evidence string
	if diag.Detail != "" {
		evidence = "(" + strings.TrimSuffix(diag.Detail, ".") + ")"
	}
	detail := joinSentences(diag.Message, evidence, diag.Hint,
		fmt.Sprintf("Last message: %s to %s (outbox ID %s); see the mail log.", row.Kind, row.Recipient, row.ID))
	err := d.cfg.Store.RaiseAlarm(ctx, storage.Alarm{
		Key:      key,
		Severity: storage.SeverityCritical,
		Title:    title + ": " + diag.Message,
		Detail:   detail,
	})
	if err != nil {
		d.log.Error("mail alarm not raised", "key", key, "error", err.Error())
	}
}

// settingsDiagnosis explains a failure to load the SMTP settings.
func settingsDiagnosis(err error) Diagnosis {
	if errors.Is(err, storage.ErrNotFound) {
		return Diagnosis{
			Code:      codeSMTPNotConfigured,
			Message:   "The SMTP server is not set up yet.",
			Hint:      "An admin must enter the SMTP settings, run Test Connection and save them; queued emails are sent then.",
			Temporary: true,
		}
	}
	return Diagnosis{
		Code:      codeSettingsUnavailable,
		Message:   "The SMTP settings could not be read.",
		Hint:      "Check that the database is reachable; the email is retried.",
		Temporary: true,
	}
}

// backlogChecks bounds the backlog futures the poller checks after a poll
// that left due messages behind (all workers busy): the check costs a read
// each.
const backlogChecks = 16

// poller leases due messages every PollInterval and hands them to workers;
// it also follows the status of futures whose message someone else holds,
// and of those Track could not queue.
func (d *Dispatcher) poller() {
	defer d.wg.Done()
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		d.checkWatched()
		if d.poll() {
			// Nothing is due: the backlog's messages left are settled, held
			// elsewhere, or being sent here.
			d.checkBacklog(-1)
		} else {
			d.checkBacklog(backlogChecks)
		}
		select {
		case <-d.stopping:
			return
		case <-t.C:
		}
	}
}

// poll leases due messages for the workers that are ready for one, as many
// as are ready, until none is due or ready. A worker busy sending is not
// counted. When every worker is busy it waits for the first one, up to one
// poll interval, so that due messages progress while Track keeps the
// workers busy. It reports whether it found no more due messages.
func (d *Dispatcher) poll() (drained bool) {
	timeout := time.NewTimer(d.cfg.PollInterval)
	defer timeout.Stop()
	for {
		ready := d.readyWorkers(timeout.C)
		if len(ready) == 0 {
			return false
		}
		leasedAt := time.Now()
		ctx, cancel := d.storeCtx()
		rows, err := d.cfg.Store.LeaseMail(ctx, d.cfg.Owner, len(ready), d.cfg.Lease)
		cancel()
		if err != nil {
			d.log.Warn("mail poll failed", "error", err.Error())
		} else if len(rows) > 0 {
			d.log.Debug("mail poll leased due messages", "count", len(rows))
		}
		for i, inbox := range ready {
			var j job // none: the worker goes back to waiting
			if i < len(rows) {
				j = job{id: rows[i].ID, row: rows[i], leasedAt: leasedAt}
			}
			inbox <- j
		}
		if err != nil || len(rows) < len(ready) {
			return err == nil
		}
	}
}

// readyWorkers collects the inboxes of the workers ready for work: it waits
// for the first until timeout fires or the dispatcher stops, then takes
// whoever else is ready without waiting. Each must get one answer.
func (d *Dispatcher) readyWorkers(timeout <-chan time.Time) []chan job {
	var ready []chan job
	select {
	case inbox := <-d.requests:
		ready = append(ready, inbox)
	case <-timeout:
		return nil
	case <-d.stopping:
		return nil
	}
	for {
		select {
		case inbox := <-d.requests:
			ready = append(ready, inbox)
		default:
			return ready
		}
	}
}

// checkWatched completes the watched futures whose message now shows an
// outcome. A future replaced meanwhile (completed, then tracked again) is
// left alone.
func (d *Dispatcher) checkWatched() {
	d.mu.Lock()
	watched := maps.Clone(d.watched)
	d.mu.Unlock()
	for id, f := range watched {
		row, r, ok := d.status(id)
		if !ok && row == nil {
			continue
		}
		d.settle(id, f, r, ok, false)
	}
}

// checkBacklog checks up to limit (all if negative) backlog futures, in no
// particular order: one whose message shows an outcome completes, one whose
// message is being sent (here or elsewhere) is watched from now on, one
// whose message is due stays for the poll.
func (d *Dispatcher) checkBacklog(limit int) {
	d.mu.Lock()
	batch := make(map[uuid.UUID]*Future)
	for id, f := range d.backlog {
		if limit >= 0 && len(batch) >= limit {
			break
		}
		batch[id] = f
	}
	d.mu.Unlock()
	for id, f := range batch {
		row, r, ok := d.status(id)
		if !ok && row == nil {
			continue
		}
		d.settle(id, f, r, ok, !ok && row.Status == storage.MailSending)
	}
}

// status reads the message of a followed future: its row (nil when it
// could not be read) and the outcome it shows, if any.
func (d *Dispatcher) status(id uuid.UUID) (*storage.OutboxMessage, Result, bool) {
	ctx, cancel := d.storeCtx()
	row, err := d.cfg.Store.GetMail(ctx, id)
	cancel()
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, Result{Status: StatusFailed, Diagnosis: &Diagnosis{
			Code: "not_in_outbox", Message: "The message is no longer in the outbox.",
			Hint: "It was removed; send it again if it is still needed.",
		}}, true
	case err != nil:
		d.log.Warn("mail status check failed", "id", id, "error", err.Error())
		return nil, Result{}, false
	}
	r, ok := outcomeOf(row, d.cfg.Now())
	return row, r, ok
}

// settle completes f with r when done, or moves it from the backlog to the
// watched futures when watch; it does nothing when f is no longer id's
// future (completed, then tracked again).
func (d *Dispatcher) settle(id uuid.UUID, f *Future, r Result, done, watch bool) {
	d.mu.Lock()
	current := d.futures[id] == f
	switch {
	case current && done:
		delete(d.futures, id)
		delete(d.watched, id)
		delete(d.backlog, id)
	case current && watch:
		delete(d.backlog, id)
		d.watched[id] = f
	}
	d.mu.Unlock()
	if current && done {
		f.complete(r)
	}
}
