package notify

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

	Workers   int // sends at once; default DefaultWorkers (3: Exchange Online's connections per mailbox)
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
	// DefaultWorkers is 3 because Exchange Online allows 3 concurrent SMTP
	// connections per mailbox and refuses more (432 4.3.2; other servers
	// 421 4.7.0); each worker sends over a connection of its own.
	DefaultWorkers         = 3
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

// storeTimeout bounds each outbox write the dispatcher makes on its own
// behalf (they must not depend on a caller's or the shutdown's context).
const storeTimeout = 15 * time.Second

// InterruptGrace is how long Shutdown waits, after cancelling the sends
// still running when its ctx ended, for their workers to record that (so
// they are retried at the next start, not when their lease runs out); then
// it cancels the dispatcher's store writes too. A host that waits for Run
// to return allows ShutdownTimeout + InterruptGrace.
const InterruptGrace = 5 * time.Second

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
// with the IDs handed to [Dispatcher.Track], a poller that leases due
// messages (retries, and messages whose lease ran out on a crashed node) for
// the workers ready for one, and a follower that reads the status of the
// messages whose Futures wait for another worker or node.
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

	queue chan job // Track → workers
	// requests: a worker ready for work hands the poller its inbox, which
	// gets exactly one answer: a message the poller leased for it, or none.
	// So the poller leases only for workers that are ready right now, and
	// no leased message waits for a worker while its lease runs out.
	requests chan chan job
	// drained: the poller's last poll found no more due messages; then the
	// follower checks the whole backlog.
	drained atomic.Bool

	stopping    chan struct{} // closed by Shutdown: take no more work
	stopOnce    sync.Once
	sendCtx     context.Context // cancelled when a shutdown's ctx ends: interrupts sends
	cancelSends context.CancelFunc
	// storeBase is the parent of the dispatcher's own store writes: a
	// shutdown cancels it InterruptGrace after its ctx ended, so that no
	// worker still uses the store when Shutdown returns.
	storeBase   context.Context
	cancelStore context.CancelFunc
	grace       time.Duration // InterruptGrace; tests shorten it
	markRetry   time.Duration // markSentRetry; tests shorten it
	wg          sync.WaitGroup

	mu      sync.Mutex
	running bool
	stopped bool

	reg    *registry // the unresolved Futures and how each is followed
	outage *outage   // whether delivery works, for the log
	// shortLeases counts, by message ID, the leases given back in a row as
	// too short to send (see maxShortLeases).
	shortMu     sync.Mutex
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
		queue:       make(chan job, cfg.QueueSize),
		requests:    make(chan chan job),
		stopping:    make(chan struct{}),
		sendCtx:     sendCtx,
		cancelSends: cancel,
		storeBase:   storeBase,
		cancelStore: cancelStore,
		grace:       InterruptGrace,
		markRetry:   markSentRetry,
		reg:         newRegistry(cfg.Logger),
		outage:      &outage{log: cfg.Logger, now: cfg.Now},
		shortLeases: make(map[uuid.UUID]int),
		since:       time.Since,
	}, nil
}

// Metrics returns the dispatcher's metrics.
func (d *Dispatcher) Metrics() *Metrics { return d.metrics }

// Owner is the lease owner id of this dispatcher.
func (d *Dispatcher) Owner() string { return d.cfg.Owner }

// Run starts the workers, the poller and the follower and blocks until ctx ends (or
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
	d.wg.Add(d.cfg.Workers + 2)
	d.mu.Unlock()

	for range d.cfg.Workers {
		go d.worker()
	}
	d.log.Info("mail dispatcher started", "owner", d.cfg.Owner, "workers", d.cfg.Workers)
	go d.poller()
	go d.follower()

	select {
	case <-ctx.Done():
	case <-d.stopping:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.ShutdownTimeout)
	defer cancel()
	return d.Shutdown(sctx)
}

// heldListLimit bounds the messages reportHeld reads to find when the
// leases of an earlier process run out.
const heldListLimit = 500

// reportHeld logs, in one line, the messages that another owner's lease
// still holds when this dispatcher starts (a process that crashed or was
// killed, or another node sending them now), and when they will be tried
// again: at the latest when those leases run out. Leases that ran out
// already are the poller's at once and are not reported.
func (d *Dispatcher) reportHeld() {
	ctx, cancel := d.storeCtx()
	defer cancel()
	rows, err := d.cfg.Store.ListMail(ctx, storage.MailFilter{Status: []storage.MailStatus{storage.MailSending}, Limit: heldListLimit})
	if err != nil {
		d.log.Warn("mail held by earlier leases not listed", "error", err.Error())
		return
	}
	now := d.cfg.Now()
	var (
		held         int
		first, last  time.Time
		owners       = make(map[string]bool)
		ownerSamples []string
	)
	for _, r := range rows {
		if r.LeaseOwner == d.cfg.Owner || !r.LeaseUntil.After(now) {
			continue
		}
		held++
		if first.IsZero() || r.LeaseUntil.Before(first) {
			first = r.LeaseUntil
		}
		if r.LeaseUntil.After(last) {
			last = r.LeaseUntil
		}
		if !owners[r.LeaseOwner] && len(ownerSamples) < 3 {
			ownerSamples = append(ownerSamples, r.LeaseOwner)
		}
		owners[r.LeaseOwner] = true
	}
	if held == 0 {
		return
	}
	attrs := []any{"held", held, "retry_from", first, "retry_by", last,
		"owners", len(owners), "owner_examples", strings.Join(ownerSamples, ",")}
	if len(rows) == heldListLimit {
		attrs = append(attrs, "more_not_listed", true)
	}
	d.log.Warn("mail held by the lease of an earlier process or another node; sent again when that lease runs out", attrs...)
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
	f, isNew := d.reg.add(id, start)
	if !isNew {
		return f
	}
	select {
	case d.queue <- job{id: id}:
	default:
		// The poller sends the message when it is due, and finds it if it
		// is settled already or held elsewhere.
		d.reg.toBacklog(id, f)
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
		d.reg.close()
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

	pending := d.reg.drain()
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
