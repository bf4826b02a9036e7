package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/lobbyhq/lobby/internal/testclock"
	"log/slog"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/sqlite"
)

// Test secrets: they must never show up in logs, alarms or the outbox's error text.
const (
	testClientSecret  = "cs~TEST-client-secret-value-9f8e7d"
	testGuestPassword = "guest-pw-Zq8#x1"
)

// fakeClock is the injected clock of the store and the dispatcher.
type fakeClock = testclock.Clock

func newFakeClock() *fakeClock { return testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) }

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeSender records what it is asked to send and answers with fn.
type fakeSender struct {
	mu    sync.Mutex
	calls []*Email
	fn    func(ctx context.Context, n int, e *Email) error // n counts calls from 1
	seen  chan struct{}                                    // gets a value per call, if set
}

func (f *fakeSender) Send(ctx context.Context, s Settings, e *Email) error {
	f.mu.Lock()
	f.calls = append(f.calls, e)
	n := len(f.calls)
	fn := f.fn
	f.mu.Unlock()
	if f.seen != nil {
		f.seen <- struct{}{}
	}
	if fn == nil {
		return nil
	}
	return fn(ctx, n, e)
}

func (f *fakeSender) Calls() []*Email {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Email(nil), f.calls...)
}

// Failures as the transport reports them.
var (
	errBusy         = fmt.Errorf("notify: smtp: send via smtp.example.com:587: %w", &textproto.Error{Code: 451, Msg: "4.3.2 Please try again later"})
	errAuthDisabled = fmt.Errorf("notify: smtp: dial smtp.example.com:587: %w",
		&textproto.Error{Code: 535, Msg: "5.7.139 Authentication unsuccessful, SMTP Client Authentication is disabled for the Tenant."})
)

func testSettings() Settings {
	return Settings{
		Host:                "smtp.example.com",
		From:                "Lobby <no-reply@example.com>",
		AuthMode:            AuthExchangeOnline,
		TenantID:            "00000000-0000-0000-0000-00000000000a",
		ClientID:            "00000000-0000-0000-0000-00000000000b",
		ClientSecret:        testClientSecret,
		ClientSecretExpires: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		Version:             1,
	}
}

func newSealer(t *testing.T) *storage.Sealer {
	t.Helper()
	key := make([]byte, storage.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	s, err := storage.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openStore opens (or reopens) the SQLite store at path.
func openStore(t *testing.T, path string, sealer *storage.Sealer, clock *fakeClock) storage.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), path, storage.Options{Sealer: sealer, Now: clock.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testBundle is what a dispatcher test works with.
type testBundle struct {
	path   string
	sealer *storage.Sealer
	clock  *fakeClock
	store  storage.Store
	sender *fakeSender
	logs   *syncBuffer
	d      *Dispatcher
}

func setup(t *testing.T, mod func(*DispatcherConfig)) *testBundle {
	t.Helper()
	b := &testBundle{
		path:   filepath.Join(t.TempDir(), "lobby.db"),
		sealer: newSealer(t),
		clock:  newFakeClock(),
		sender: &fakeSender{},
		logs:   &syncBuffer{},
	}
	b.store = openStore(t, b.path, b.sealer, b.clock)
	b.d = b.newDispatcher(t, b.store, b.sender, mod)
	return b
}

// newDispatcher makes a dispatcher on st with fast test timings.
func (b *testBundle) newDispatcher(t *testing.T, st storage.Store, sender Sender, mod func(*DispatcherConfig)) *Dispatcher {
	t.Helper()
	cfg := DispatcherConfig{
		Store:        st,
		Settings:     func(context.Context) (Settings, error) { return testSettings(), nil },
		Sender:       sender,
		Workers:      2,
		PollInterval: 10 * time.Millisecond,
		BaseBackoff:  time.Minute,
		MaxBackoff:   time.Hour,
		Logger:       slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:          b.clock.Now,
		Rand:         func() float64 { return 0.5 }, // no jitter
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := NewDispatcher(cfg)
	if err != nil {
		t.Fatalf("NewDispatcher: %v", err)
	}
	return d
}

// run starts d until the test ends.
func run(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		select {
		case <-time.After(2 * time.Millisecond): // a poll interval, not a wait for the event
		case <-t.Context().Done():
			t.Fatal("test ended")
		}
	}
}

// wait waits for f's outcome with a deadline.
func wait(t *testing.T, f *Future) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r := f.Wait(ctx)
	if r.Status == StatusPending {
		t.Fatalf("message %s: no outcome before the deadline", f.ID())
	}
	return r
}

func mustGetMail(t *testing.T, st storage.Store, id uuid.UUID) *storage.OutboxMessage {
	t.Helper()
	m, err := st.GetMail(t.Context(), id)
	if err != nil {
		t.Fatalf("GetMail %s: %v", id, err)
	}
	return m
}

func statusIs(t *testing.T, st storage.Store, id uuid.UUID, want storage.MailStatus) func() bool {
	return func() bool { return mustGetMail(t, st, id).Status == want }
}

func credentialsMessage(to string) Message {
	return Message{
		Kind:    "guest.credentials",
		To:      []string{to},
		Subject: "Your guest access",
		Text:    "Username: eve\nPassword: " + testGuestPassword,
		HTML:    "<p>Password: <code>" + testGuestPassword + "</code></p>",
	}
}

// assertNoSecrets fails if a secret or a body shows in text.
func assertNoSecrets(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range []string{testClientSecret, testGuestPassword} {
		if strings.Contains(text, s) {
			t.Errorf("%s contains a secret or body text %q", where, s)
		}
	}
}

func TestDispatcherDelivers(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	run(t, b.d)

	f := b.d.Submit(t.Context(), credentialsMessage("Eve Guest <eve@example.org>"))
	r := wait(t, f)
	if r.Status != StatusSent || r.Attempts != 1 || r.Diagnosis != nil || r.MessageID != f.ID() {
		t.Fatalf("Wait = %+v, want sent after 1 attempt", r)
	}
	if r.Took <= 0 {
		t.Errorf("Took = %v, want > 0", r.Took)
	}
	select {
	case <-f.Done():
	default:
		t.Error("Done not closed after the outcome")
	}

	calls := b.sender.Calls()
	if len(calls) != 1 {
		t.Fatalf("sender got %d messages, want 1", len(calls))
	}
	e := calls[0]
	if e.From != testSettings().From || len(e.To) != 1 || e.To[0] != "Eve Guest <eve@example.org>" ||
		e.Subject != "Your guest access" || !strings.Contains(e.Text, testGuestPassword) || e.HTML == "" {
		t.Errorf("sent email = %+v", e)
	}
	if want := f.ID().String() + "@example.com"; e.MessageID != want {
		t.Errorf("MessageID = %q, want %q (stable across retries)", e.MessageID, want)
	}
	if e.Headers["Auto-Submitted"] != "auto-generated" {
		t.Errorf("headers = %v, want Auto-Submitted", e.Headers)
	}

	row := mustGetMail(t, b.store, f.ID())
	if row.Status != storage.MailSent || row.Attempts != 1 || row.LeaseOwner != "" {
		t.Errorf("outbox row = status %s, attempts %d, owner %q", row.Status, row.Attempts, row.LeaseOwner)
	}
	if got := counterValue(t, b.d.Metrics().Sent); got != 1 {
		t.Errorf("lobby_mail_sent_total = %v, want 1", got)
	}
	if got := histogramCount(t, b.d.Metrics().SendSeconds.WithLabelValues(outcomeSent)); got != 1 {
		t.Errorf("lobby_mail_send_seconds{outcome=sent} count = %d, want 1", got)
	}

	logs := b.logs.String()
	for _, want := range []string{`"msg":"mail job submitted"`, `"msg":"mail sent"`, `"took_ms"`, `"attempts":1`, "eve@example.org"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	assertNoSecrets(t, "log", logs)
}

func TestDispatcherDefersThenPollerDelivers(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sender.fn = func(_ context.Context, n int, _ *Email) error {
		if n == 1 {
			return errBusy
		}
		return nil
	}
	run(t, b.d)

	f := b.d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	r := wait(t, f)
	if r.Status != StatusDeferred || r.Attempts != 1 || r.Diagnosis == nil ||
		r.Diagnosis.Code != CodeServerBusy || !r.Diagnosis.Temporary {
		t.Fatalf("Wait = %+v (diagnosis %+v), want deferred, server_busy", r, r.Diagnosis)
	}
	row := mustGetMail(t, b.store, f.ID())
	wantNext := b.clock.Now().Add(time.Minute) // BaseBackoff, no jitter
	if row.Status != storage.MailDeferred || !row.NextAttemptAt.Equal(wantNext) || row.Diagnosis != CodeServerBusy {
		t.Fatalf("row = status %s, next %v (want %v), diagnosis %q", row.Status, row.NextAttemptAt, wantNext, row.Diagnosis)
	}
	if !strings.Contains(row.LastError, "451") {
		t.Errorf("LastError = %q, want the server reply", row.LastError)
	}

	// Tracked again before it is due, it shows the outcome it has.
	b.clock.Advance(59 * time.Second)
	if r := wait(t, b.d.Track(f.ID())); r.Status != StatusDeferred || r.Attempts != 1 ||
		r.Diagnosis == nil || r.Diagnosis.Code != CodeServerBusy {
		t.Fatalf("Track before the retry: %+v, want deferred after 1 attempt", r)
	}
	if n := len(b.sender.Calls()); n != 1 {
		t.Fatalf("sender called %d times before the retry was due, want 1", n)
	}
	// Once due, the poller sends it; a future tracked now gets that outcome.
	b.clock.Advance(time.Second)
	eventually(t, "the poller delivered the retry", statusIs(t, b.store, f.ID(), storage.MailSent))
	r2 := wait(t, b.d.Track(f.ID()))
	if r2.Status != StatusSent || r2.Attempts != 2 {
		t.Fatalf("after the retry: Wait = %+v, want sent after 2 attempts", r2)
	}
	if got := counterValue(t, b.d.Metrics().Deferred.WithLabelValues(CodeServerBusy)); got != 1 {
		t.Errorf("lobby_mail_deferred_total{code=server_busy} = %v, want 1", got)
	}
	logs := b.logs.String()
	if !strings.Contains(logs, `"msg":"mail deferred"`) || !strings.Contains(logs, `"next_attempt"`) {
		t.Errorf("logs lack the deferral:\n%s", logs)
	}
	assertNoSecrets(t, "log", logs)
}

func TestDispatcherDeadLetters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		attempts   int // attempts until dead
		wantCode   string
		wantKey    string
		wantInHint string
	}{
		{"permanent failure", errAuthDisabled, 1, CodeSMTPAuthDisabled, "mail.smtp_auth_disabled", "SmtpClientAuthenticationDisabled"},
		{"out of attempts", errBusy, 3, CodeServerBusy, "mail.server_busy", "retries"},
		// Retried like a temporary failure: a bug or an odd server must not lose mail at once.
		{"unrecognised failure", errors.New("something odd with " + testClientSecret), 3, CodeUnknown, "mail.dead", "Test Connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *DispatcherConfig) { c.MaxAttempts, c.RetryFor = 3, time.Hour })
			b.sender.fn = func(context.Context, int, *Email) error { return tt.err }
			run(t, b.d)

			f := b.d.Submit(t.Context(), credentialsMessage("eve@example.org"))
			var r Result
			for i := 1; i <= tt.attempts; i++ {
				if i > 1 {
					b.clock.Advance(time.Hour) // past any backoff
					f = b.d.Track(f.ID())
				}
				r = wait(t, f)
				if i < tt.attempts && r.Status != StatusDeferred {
					t.Fatalf("attempt %d: %+v, want deferred", i, r)
				}
			}
			if r.Status != StatusFailed || r.Attempts != tt.attempts || r.Diagnosis == nil || r.Diagnosis.Code != tt.wantCode {
				t.Fatalf("Wait = %+v (diagnosis %+v), want failed with %s after %d attempts", r, r.Diagnosis, tt.wantCode, tt.attempts)
			}
			row := mustGetMail(t, b.store, f.ID())
			if row.Status != storage.MailDead || row.Diagnosis != tt.wantCode {
				t.Errorf("row = status %s, diagnosis %q", row.Status, row.Diagnosis)
			}
			assertNoSecrets(t, "outbox last error", row.LastError)

			alarms, err := b.store.ListAlarms(t.Context(), false)
			if err != nil {
				t.Fatal(err)
			}
			if len(alarms) != 1 {
				t.Fatalf("alarms = %+v, want one", alarms)
			}
			a := alarms[0]
			if a.Key != tt.wantKey || a.Severity != storage.SeverityCritical ||
				!strings.Contains(a.Detail, tt.wantInHint) || !strings.Contains(a.Detail, "eve@example.org") {
				t.Errorf("alarm = %+v, want %s, critical, detail with %q", a, tt.wantKey, tt.wantInHint)
			}
			assertNoSecrets(t, "alarm", a.Title+a.Detail)
			if got := counterValue(t, b.d.Metrics().Failed.WithLabelValues(tt.wantCode)); got != 1 {
				t.Errorf("lobby_mail_failed_total{code=%s} = %v, want 1", tt.wantCode, got)
			}
			if n := len(b.sender.Calls()); n != tt.attempts {
				t.Errorf("sender called %d times, want %d", n, tt.attempts)
			}
			logs := b.logs.String()
			if !strings.Contains(logs, `"msg":"mail dead"`) {
				t.Errorf("logs lack the dead letter:\n%s", logs)
			}
			assertNoSecrets(t, "log", logs)
		})
	}
}

// A dispatcher that never ran its workers leaves queued messages; a new
// dispatcher (a new process on the same database) sends them all.
func TestAtLeastOnceAfterCrashBeforeSending(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ids := make([]uuid.UUID, 5)
	for i := range ids {
		f := b.d.Submit(t.Context(), credentialsMessage(fmt.Sprintf("guest%d@example.org", i)))
		ids[i] = f.ID()
		if ids[i] == uuid.Nil {
			t.Fatalf("Submit %d failed: %+v", i, f.Wait(t.Context()))
		}
	}
	// b.d is dropped: no Run, no Shutdown.

	st2 := openStore(t, b.path, b.sealer, b.clock)
	sender2 := &fakeSender{}
	d2 := b.newDispatcher(t, st2, sender2, nil)
	run(t, d2)
	for _, id := range ids {
		eventually(t, "message "+id.String()+" is sent", statusIs(t, st2, id, storage.MailSent))
	}
	if n := len(sender2.Calls()); n != len(ids) {
		t.Errorf("new dispatcher sent %d messages, want %d", n, len(ids))
	}
	if n := len(b.sender.Calls()); n != 0 {
		t.Errorf("the dropped dispatcher sent %d messages", n)
	}
}

// A dispatcher that dies while sending holds leases; a new one takes the
// messages over once the leases run out.
func TestAtLeastOnceAfterCrashWhileSending(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *DispatcherConfig) {
		c.Workers = 3
		// The old dispatcher's poller must not take the messages back when
		// their leases run out, as a dead process would not.
		c.Store = deadPollerStore{c.Store}
	})
	unblock := make(chan struct{})
	b.sender.seen = make(chan struct{}, 3)
	b.sender.fn = func(ctx context.Context, _ int, _ *Email) error {
		<-unblock // hangs like a dead process
		return nil
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	done1 := make(chan error, 1)
	go func() { done1 <- b.d.Run(ctx1) }()
	t.Cleanup(func() { // only to free the goroutines of the "crashed" dispatcher
		close(unblock)
		cancel1()
		<-done1
	})

	ids := make([]uuid.UUID, 3)
	for i := range ids {
		ids[i] = b.d.Submit(t.Context(), credentialsMessage(fmt.Sprintf("guest%d@example.org", i))).ID()
	}
	for range ids {
		<-b.sender.seen // all three are in flight and leased
	}

	st2 := openStore(t, b.path, b.sealer, b.clock)
	sender2 := &fakeSender{}
	d2 := b.newDispatcher(t, st2, sender2, nil)
	run(t, d2)
	// Still leased: the new dispatcher must not touch them yet. Its futures
	// complete when it delivers them.
	var futures []*Future
	for _, id := range ids {
		futures = append(futures, d2.Track(id))
	}
	if m := mustGetMail(t, st2, ids[0]); m.Status != storage.MailSending || m.LeaseOwner != b.d.Owner() {
		t.Fatalf("before the lease runs out: status %s owner %q", m.Status, m.LeaseOwner)
	}
	if n := len(sender2.Calls()); n != 0 {
		t.Fatalf("new dispatcher sent %d messages while the old one held their leases", n)
	}

	b.clock.Advance(DefaultLease + time.Second)
	for _, id := range ids {
		eventually(t, "message "+id.String()+" is sent by the new dispatcher", statusIs(t, st2, id, storage.MailSent))
		if m := mustGetMail(t, st2, id); m.Attempts != 2 {
			t.Errorf("message %s: attempts %d, want 2 (one per lease)", id, m.Attempts)
		}
	}
	if n := len(sender2.Calls()); n != len(ids) {
		t.Errorf("new dispatcher sent %d messages, want %d", n, len(ids))
	}
	for _, f := range futures {
		if r := wait(t, f); r.Status != StatusSent || r.Attempts != 2 {
			t.Errorf("new dispatcher's future: %+v, want sent at attempt 2", r)
		}
	}
}

// deadPollerStore finds no due messages: the poller of a dead process.
type deadPollerStore struct{ storage.Store }

func (deadPollerStore) LeaseMail(context.Context, string, int, time.Duration) ([]*storage.OutboxMessage, error) {
	return nil, nil
}

func TestTrackOnFullQueueDoesNotBlock(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *DispatcherConfig) { c.Workers = 1; c.QueueSize = 1 })
	gate := make(chan struct{})
	b.sender.seen = make(chan struct{}, 16)
	b.sender.fn = func(_ context.Context, n int, _ *Email) error {
		if n == 1 {
			<-gate
		}
		return nil
	}
	run(t, b.d)

	first := b.d.Submit(t.Context(), credentialsMessage("first@example.org"))
	<-b.sender.seen // the only worker is busy

	var ids []uuid.UUID
	for i := range 4 {
		id, err := Enqueue(t.Context(), b.store, credentialsMessage(fmt.Sprintf("guest%d@example.org", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	futures := make(chan *Future, len(ids))
	go func() {
		for _, id := range ids {
			futures <- b.d.Track(id) // the queue holds one: the rest must not block
		}
		close(futures)
	}()
	var fs []*Future
	deadline := time.After(5 * time.Second)
	for range ids {
		select {
		case f := <-futures:
			fs = append(fs, f)
		case <-deadline:
			t.Fatal("Track blocked on a full queue")
		}
	}
	if !strings.Contains(b.logs.String(), "mail queue full") {
		t.Error("no log line about the full queue")
	}

	close(gate)
	if r := wait(t, first); r.Status != StatusSent {
		t.Fatalf("first: %+v", r)
	}
	for _, f := range fs {
		if r := wait(t, f); r.Status != StatusSent || r.Attempts != 1 {
			t.Errorf("message %s: %+v, want sent once (by the poller or a worker)", f.ID(), r)
		}
	}
	if n := len(b.sender.Calls()); n != 1+len(ids) {
		t.Errorf("sender called %d times, want %d (each message once)", n, 1+len(ids))
	}
}

// Shutdown lets the send in flight finish and record its outcome; a message
// waiting for the busy worker is left in the outbox unattempted.
func TestShutdownFinishesSendsInFlight(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *DispatcherConfig) { c.Workers = 1 })
	gate := make(chan struct{})
	b.sender.seen = make(chan struct{}, 16)
	b.sender.fn = func(_ context.Context, n int, _ *Email) error {
		if n == 1 {
			<-gate
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- b.d.Run(ctx) }()

	inFlight := b.d.Submit(t.Context(), credentialsMessage("first@example.org"))
	<-b.sender.seen
	waiting := b.d.Submit(t.Context(), credentialsMessage("second@example.org"))
	// The only worker is busy: the poller leases nothing for it meanwhile.
	if m := mustGetMail(t, b.store, waiting.ID()); m.Status != storage.MailQueued {
		t.Errorf("second message while the worker is busy: %s, want queued", m.Status)
	}

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- b.d.Shutdown(t.Context()) }()
	eventually(t, "Shutdown has begun", b.d.isStopping)
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned (%v) while a send was in flight", err)
	default:
	}
	close(gate)
	if err := <-shutdownDone; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Shutdown waited for the in-flight send and its record.
	if m := mustGetMail(t, b.store, inFlight.ID()); m.Status != storage.MailSent {
		t.Errorf("in-flight message after Shutdown: %s, want sent", m.Status)
	}
	if err := <-runDone; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r := wait(t, inFlight); r.Status != StatusSent {
		t.Errorf("in-flight message: %+v, want sent (finished during shutdown)", r)
	}
	if r := waiting.Wait(t.Context()); r.Status != StatusPending {
		t.Errorf("waiting message: %+v, want pending", r)
	}
	m := mustGetMail(t, b.store, waiting.ID())
	if m.Status != storage.MailQueued || m.Attempts != 0 || m.LeaseOwner != "" {
		t.Errorf("waiting message: status %s, attempts %d, owner %q; want queued, 0, none", m.Status, m.Attempts, m.LeaseOwner)
	}
	if n := len(b.sender.Calls()); n != 1 {
		t.Errorf("sender called %d times, want 1", n)
	}
	if f := b.d.Track(waiting.ID()); f.Wait(t.Context()).Status != StatusPending {
		t.Error("Track after Shutdown should complete as pending")
	}
	if err := b.d.Run(context.Background()); err == nil {
		t.Error("Run after Shutdown succeeded")
	}
}

func TestShutdownInterruptsSendsAtDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sender.seen = make(chan struct{}, 1)
	b.sender.fn = func(ctx context.Context, _ int, _ *Email) error {
		<-ctx.Done() // a server that never answers
		return fmt.Errorf("notify: smtp: send: %w", ctx.Err())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- b.d.Run(ctx) }()

	f := b.d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	<-b.sender.seen
	sctx, scancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer scancel()
	if err := b.d.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want a deadline error", err)
	}
	<-runDone
	m := mustGetMail(t, b.store, f.ID())
	if m.Status != storage.MailDeferred || m.Diagnosis != CodeCanceled || !m.NextAttemptAt.Equal(b.clock.Now()) {
		t.Errorf("interrupted message: status %s, diagnosis %q, next %v; want deferred, canceled, due now",
			m.Status, m.Diagnosis, m.NextAttemptAt)
	}
}

func TestSubmitRefusesBadMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	f := b.d.Submit(t.Context(), Message{Kind: "guest.credentials", To: []string{"not an address"}, Text: "x"})
	r := wait(t, f)
	if r.Status != StatusFailed || r.Diagnosis == nil || r.Diagnosis.Code != CodeInvalidMessage {
		t.Fatalf("Wait = %+v (%+v), want failed with invalid_message", r, r.Diagnosis)
	}
	if counts, err := b.store.CountMail(t.Context()); err != nil || counts[storage.MailQueued] != 0 {
		t.Fatalf("outbox counts = %v, %v; want nothing queued", counts, err)
	}
}

func TestFutureWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	b := setup(t, nil) // not running: nothing is sent
	f := b.d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if r := f.Wait(ctx); r.Status != StatusPending || r.MessageID != f.ID() {
		t.Fatalf("Wait = %+v, want pending", r)
	}
	if same := b.d.Track(f.ID()); same != f {
		t.Error("Track of a tracked message returned another Future")
	}
}

func TestDispatcherConfig(t *testing.T) {
	t.Parallel()
	_, err := NewDispatcher(DispatcherConfig{Workers: -1})
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"Store is required", "Settings is required", "Sender is required", "Workers must not be negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	b := setup(t, nil)
	_, err = NewDispatcher(DispatcherConfig{Store: b.store, Settings: StoreSettingsSource(b.store), Sender: b.sender,
		Lease: time.Minute + time.Second, SendTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "Lease (1m1s) must be at least SendTimeout (1m0s) + 15s") {
		t.Errorf("Lease < SendTimeout + store timeout: err = %v", err)
	}

	reg := prometheus.NewRegistry()
	d := b.newDispatcher(t, b.store, b.sender, func(c *DispatcherConfig) { c.Registerer = reg })
	d.Metrics().Sent.Inc()
	d.Metrics().Deferred.WithLabelValues("x").Inc()
	d.Metrics().Failed.WithLabelValues("x").Inc()
	d.Metrics().SendSeconds.WithLabelValues(outcomeSent).Observe(0.1)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, name := range []string{"lobby_mail_sent_total", "lobby_mail_deferred_total", "lobby_mail_failed_total", "lobby_mail_send_seconds"} {
		if !got[name] {
			t.Errorf("registry lacks %s (has %v)", name, got)
		}
	}
	if _, err := NewDispatcher(DispatcherConfig{Store: b.store, Settings: StoreSettingsSource(b.store), Sender: b.sender, Registerer: reg}); err == nil {
		t.Error("registering the metrics twice in one registry succeeded")
	}
}

func TestSettingsNotConfiguredDefers(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	d := b.newDispatcher(t, b.store, b.sender, func(c *DispatcherConfig) { c.Settings = StoreSettingsSource(b.store) })
	run(t, d)
	r := wait(t, d.Submit(t.Context(), credentialsMessage("eve@example.org")))
	if r.Status != StatusDeferred || r.Diagnosis == nil || r.Diagnosis.Code != "smtp_not_configured" {
		t.Fatalf("Wait = %+v (%+v), want deferred: not configured", r, r.Diagnosis)
	}
	if n := len(b.sender.Calls()); n != 0 {
		t.Errorf("sender called %d times without settings", n)
	}
}

func TestStatsCollector(t *testing.T) {
	t.Parallel()
	stats := TransportStats{Opened: 3, Closed: 1, Open: 2, Idle: 1, Sent: 10, Reused: 7, Redials: 1, AuthRetries: 1,
		TokenFetches: 2, TokenFailures: 1, PoolSize: 3, ConnLimit: 2, TooMany: 4}
	c := NewStatsCollector(func() TransportStats { return stats })
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[mf.GetName()] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[mf.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	want := map[string]float64{
		"lobby_smtp_connections_opened_total": 3, "lobby_smtp_connections_closed_total": 1,
		"lobby_smtp_connections_open": 2, "lobby_smtp_connections_idle": 1, "lobby_smtp_messages_total": 10,
		"lobby_smtp_connection_reuses_total": 7, "lobby_smtp_redials_total": 1, "lobby_smtp_auth_retries_total": 1,
		"lobby_smtp_token_fetches_total": 2, "lobby_smtp_token_fetch_failures_total": 1,
		"lobby_smtp_pool_size": 3, "lobby_smtp_connection_limit": 2, "lobby_smtp_too_many_connections_total": 4,
	}
	if len(got) != len(want) {
		t.Errorf("gathered %v, want %v", got, want)
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
	stats.Opened = 4 // read at each scrape
	if mfs, _ := reg.Gather(); counterIn(mfs, "lobby_smtp_connections_opened_total") != 4 {
		t.Error("the collector did not read the stats again")
	}
}

func counterIn(mfs []*dto.MetricFamily, name string) float64 {
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return -1
}

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// histogramCount reads how many observations a histogram has.
func histogramCount(t *testing.T, o prometheus.Observer) uint64 {
	t.Helper()
	h, ok := o.(prometheus.Metric)
	if !ok {
		t.Fatalf("%T is not a metric", o)
	}
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// Track on a full queue of a message that is settled already, or that
// another node holds, still completes: the poller follows its status.
func TestTrackOnFullQueueFollowsMessagesHeldElsewhere(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *DispatcherConfig) { c.Workers = 1; c.QueueSize = 1 })
	gate := make(chan struct{})
	b.sender.seen = make(chan struct{}, 16)
	b.sender.fn = func(_ context.Context, n int, _ *Email) error {
		if n == 1 {
			<-gate
		}
		return nil
	}
	run(t, b.d)
	t.Cleanup(func() { close(gate) })
	busy := b.d.Submit(t.Context(), credentialsMessage("busy@example.org"))
	<-b.sender.seen // the only worker is busy
	filler, err := Enqueue(t.Context(), b.store, credentialsMessage("filler@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	b.d.Track(filler) // the queue is full now

	// One message sent by another node, one it is sending.
	var ids []uuid.UUID
	var tokens []storage.LeaseToken
	for _, to := range []string{"sent@example.org", "sending@example.org"} {
		id, err := Enqueue(t.Context(), b.store, credentialsMessage(to))
		if err != nil {
			t.Fatal(err)
		}
		row, err := b.store.LeaseMailByID(t.Context(), id, "other-node", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		ids, tokens = append(ids, id), append(tokens, row.LeaseToken)
	}
	if err := b.store.MarkMailSent(t.Context(), ids[0], tokens[0]); err != nil {
		t.Fatal(err)
	}
	sent, sending := b.d.Track(ids[0]), b.d.Track(ids[1])
	if r := wait(t, sent); r.Status != StatusSent || r.Attempts != 1 {
		t.Errorf("message sent elsewhere: %+v, want sent", r)
	}
	select {
	case <-sending.Done():
		t.Fatalf("message still being sent elsewhere completed: %+v", sending.Wait(t.Context()))
	default:
	}
	if err := b.store.MarkMailSent(t.Context(), ids[1], tokens[1]); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, sending); r.Status != StatusSent {
		t.Errorf("message the other node then sent: %+v, want sent", r)
	}
	if !strings.Contains(b.logs.String(), "mail queue full") {
		t.Error("the queue was not full: the test did not test what it says")
	}
	_ = busy
}

// One process never sends a message twice: the poller leases only as many
// messages as workers are ready for, so none waits for a worker while its
// lease runs out (to be leased and sent again). Each send takes most of the
// lease on the store's clock, and the queue keeps the worker busy.
func TestDispatcherSendsEachMessageOnceWhenSendsAreSlow(t *testing.T) {
	t.Parallel()
	const n = 30
	b := setup(t, func(c *DispatcherConfig) {
		c.Workers = 1
		c.Lease, c.SendTimeout = 20*time.Second, time.Second
	})
	b.sender.fn = func(context.Context, int, *Email) error {
		b.clock.Advance(9 * time.Second) // a slow send
		return nil
	}
	ids := make([]uuid.UUID, n)
	for i := range ids {
		id, err := Enqueue(t.Context(), b.store, credentialsMessage(fmt.Sprintf("guest%d@example.org", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	run(t, b.d)
	for _, id := range ids {
		b.d.Track(id)
	}
	for _, id := range ids {
		eventually(t, "message "+id.String()+" is sent", statusIs(t, b.store, id, storage.MailSent))
	}
	sends := make(map[string]int)
	for _, e := range b.sender.Calls() {
		sends[e.MessageID]++
	}
	for id, times := range sends {
		if times != 1 {
			t.Errorf("message %s sent %d times", id, times)
		}
	}
	if len(sends) != n || len(b.sender.Calls()) != n {
		t.Errorf("%d sends of %d messages, want %d of %d", len(b.sender.Calls()), len(sends), n, n)
	}
}

// A message leased with less than SendTimeout of its lease left is given
// back unattempted (another lease could send it meanwhile), then leased
// again and sent once.
func TestDispatcherGivesBackALeaseTooShortToSend(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var shortened atomic.Int64
	b.d.since = func(leasedAt time.Time) time.Duration {
		if shortened.CompareAndSwap(0, 1) {
			return b.d.cfg.Lease - time.Second // as if the node stalled after leasing
		}
		return time.Since(leasedAt)
	}
	run(t, b.d)
	f := b.d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	if r := wait(t, f); r.Status != StatusSent || r.Attempts != 1 {
		t.Fatalf("Wait = %+v, want sent at the first counted attempt", r)
	}
	if n := len(b.sender.Calls()); n != 1 {
		t.Errorf("sender called %d times, want 1", n)
	}
	if shortened.Load() != 1 || !strings.Contains(b.logs.String(), "mail lease too short for a send") {
		t.Errorf("shortened %d lease(s); logs:\n%s", shortened.Load(), b.logs.String())
	}
}

// The lease left is measured on the real clock: a dispatcher clock ahead of
// the store's does not make every lease look too short to send.
func TestLeaseLeftIgnoresClockSkew(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	st := &countingRelease{Store: b.store}
	d := b.newDispatcher(t, st, b.sender, func(c *DispatcherConfig) {
		c.Now = func() time.Time { return b.clock.Now().Add(90 * time.Second) } // 90s ahead of the store
	})
	run(t, d)
	f := d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	if r := wait(t, f); r.Status != StatusSent || r.Attempts != 1 {
		t.Fatalf("Wait = %+v, want sent at once", r)
	}
	if n := st.released.Load(); n != 0 {
		t.Errorf("released %d times, want 0", n)
	}
}

// A message whose leases keep being too short to send (a stalling node) is
// deferred after maxShortLeases of them, not leased and given back in a loop.
func TestRepeatedShortLeasesDefer(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	st := &countingRelease{Store: b.store}
	d := b.newDispatcher(t, st, b.sender, nil)
	d.since = func(time.Time) time.Duration { return d.cfg.Lease } // every lease looks spent
	run(t, d)
	f := d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	r := wait(t, f)
	if r.Status != StatusDeferred || r.Diagnosis == nil || r.Diagnosis.Code != codeLeaseTooShort {
		t.Fatalf("Wait = %+v (%+v), want deferred: %s", r, r.Diagnosis, codeLeaseTooShort)
	}
	m := mustGetMail(t, b.store, f.ID())
	if m.Status != storage.MailDeferred || !m.NextAttemptAt.Equal(b.clock.Now().Add(shortLeaseDelay)) {
		t.Errorf("row: status %s, next %v; want deferred until %v", m.Status, m.NextAttemptAt, b.clock.Now().Add(shortLeaseDelay))
	}
	if n := st.released.Load(); n != maxShortLeases-1 {
		t.Errorf("released %d times, want %d", n, maxShortLeases-1)
	}
	if n := len(b.sender.Calls()); n != 0 {
		t.Errorf("sender called %d times, want 0", n)
	}
}

// countingRelease counts the messages given back.
type countingRelease struct {
	storage.Store
	released atomic.Int64
}

func (s *countingRelease) ReleaseMail(ctx context.Context, id uuid.UUID, tok storage.LeaseToken) error {
	s.released.Add(1)
	return s.Store.ReleaseMail(ctx, id, tok)
}

// Without SMTP settings (or while they cannot be read) a message waits,
// checked every minute, however many attempts that takes and however old
// it gets: an outage or a set-up not done yet must not lose mail.
func TestSettingsMissingNeverDeadLetters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, code string
		err        error
	}{
		{"not configured", "smtp_not_configured", fmt.Errorf("notify: settings: %w", storage.ErrNotFound)},
		{"unavailable", "settings_unavailable", errors.New("database is locked")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *DispatcherConfig) {
				c.MaxAttempts, c.RetryFor = 2, time.Hour
				c.Settings = func(context.Context) (Settings, error) { return Settings{}, tc.err }
			})
			run(t, b.d)
			f := b.d.Submit(t.Context(), credentialsMessage("eve@example.org"))
			for i := 1; i <= 5; i++ {
				if i > 1 {
					b.clock.Advance(2 * time.Hour) // older than RetryFor, more attempts than MaxAttempts
					f = b.d.Track(f.ID())
				}
				r := wait(t, f)
				if r.Status != StatusDeferred || r.Diagnosis == nil || r.Diagnosis.Code != tc.code {
					t.Fatalf("attempt %d: %+v (%+v), want deferred with %s", i, r, r.Diagnosis, tc.code)
				}
				m := mustGetMail(t, b.store, f.ID())
				if want := b.clock.Now().Add(time.Minute); m.Status != storage.MailDeferred || !m.NextAttemptAt.Equal(want) {
					t.Fatalf("attempt %d: row %s due %v, want deferred to %v", i, m.Status, m.NextAttemptAt, want)
				}
			}
			if alarms, _ := b.store.ListAlarms(t.Context(), false); len(alarms) != 0 {
				t.Errorf("alarms raised: %+v", alarms)
			}
			// Waiting for settings used up none of the message's attempts:
			// its first real try still has all of them.
			if m := mustGetMail(t, b.store, f.ID()); m.Attempts != 0 {
				t.Errorf("attempts after 5 tries without settings = %d, want 0", m.Attempts)
			}
		})
	}
}

// A transient failure is retried until the message has had MaxAttempts
// attempts and is older than RetryFor, both.
func TestTransientFailureRetriedForRetryFor(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *DispatcherConfig) { c.MaxAttempts, c.RetryFor = 2, 3*time.Hour })
	b.sender.fn = func(context.Context, int, *Email) error { return errBusy }
	run(t, b.d)
	f := b.d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	for i := 1; ; i++ {
		if i > 1 {
			b.clock.Advance(time.Hour) // MaxBackoff: every retry is due
			f = b.d.Track(f.ID())
		}
		r := wait(t, f)
		age := time.Duration(i-1) * time.Hour
		if age < 3*time.Hour {
			if r.Status != StatusDeferred {
				t.Fatalf("attempt %d at age %v: %+v, want deferred", i, age, r)
			}
			continue
		}
		if r.Status != StatusFailed || r.Attempts != 4 {
			t.Fatalf("attempt %d at age %v: %+v, want failed after 4 attempts", i, age, r)
		}
		break
	}
}

// A tracked message given back because its lease is too short to send,
// then sent by another node, still completes its Future here: the
// dispatcher follows its status after the release.
func TestReleasedMessageSentElsewhereCompletesFuture(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	st := &releaseToOtherNode{Store: b.store}
	d := b.newDispatcher(t, st, b.sender, nil)
	d.since = func(time.Time) time.Duration { return d.cfg.Lease } // every lease here looks spent
	run(t, d)
	f := d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	if r := wait(t, f); r.Status != StatusSent {
		t.Fatalf("Wait = %+v, want sent (by the other node)", r)
	}
	if n := len(b.sender.Calls()); n != 0 {
		t.Errorf("sender called %d times here, want 0 (the other node sent it)", n)
	}
	if st.released.Load() != 1 {
		t.Errorf("released %d times, want 1", st.released.Load())
	}
}

// releaseToOtherNode lets "node-b" lease and send every message given
// back. This node's poller finds nothing due (node B's poller is quicker).
type releaseToOtherNode struct {
	storage.Store
	released atomic.Int64
}

func (s *releaseToOtherNode) LeaseMail(context.Context, string, int, time.Duration) ([]*storage.OutboxMessage, error) {
	return nil, nil
}

func (s *releaseToOtherNode) ReleaseMail(ctx context.Context, id uuid.UUID, tok storage.LeaseToken) error {
	if err := s.Store.ReleaseMail(ctx, id, tok); err != nil {
		return err
	}
	s.released.Add(1)
	m, err := s.Store.LeaseMailByID(ctx, id, "node-b", 2*time.Minute)
	if err != nil {
		return err
	}
	return s.Store.MarkMailSent(ctx, id, m.LeaseToken)
}

// Shutdown returns only after the workers stopped using the store: a store
// write still hanging after the interrupted sends had their grace period is
// cancelled, and Shutdown waits for it to return.
func TestShutdownWaitsForStoreWrites(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	st := &hangingDefer{Store: b.store, entered: make(chan struct{}, 1)}
	b.sender.seen = make(chan struct{}, 1)
	b.sender.fn = func(ctx context.Context, _ int, _ *Email) error {
		<-ctx.Done() // a server that never answers
		return fmt.Errorf("notify: smtp: send: %w", ctx.Err())
	}
	d := b.newDispatcher(t, st, b.sender, nil)
	d.grace = 50 * time.Millisecond
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(context.Background()) }()
	f := d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	<-b.sender.seen
	sctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := d.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want a deadline error", err)
	}
	select {
	case <-st.entered:
	default:
		t.Fatal("the interrupted send was not being recorded: the test did not test what it says")
	}
	if st.active.Load() != 0 {
		t.Error("Shutdown returned while a worker was still writing to the store")
	}
	<-runDone
	if m := mustGetMail(t, b.store, f.ID()); m.Status != storage.MailSending {
		t.Errorf("row: %s, want still leased (the deferral was not recorded)", m.Status)
	}
}

// hangingDefer is a database that does not answer deferrals until the
// caller gives up.
type hangingDefer struct {
	storage.Store
	entered chan struct{}
	active  atomic.Int64
}

func (s *hangingDefer) MarkMailDeferred(ctx context.Context, id uuid.UUID, tok storage.LeaseToken, next time.Time, lastErr, diag string) error {
	return s.hang(ctx, id)
}

// PostponeMail is how an interrupted send is recorded (not an attempt).
func (s *hangingDefer) PostponeMail(ctx context.Context, id uuid.UUID, tok storage.LeaseToken, next time.Time, lastErr, diag string) error {
	return s.hang(ctx, id)
}

func (s *hangingDefer) hang(ctx context.Context, id uuid.UUID) error {
	s.active.Add(1)
	defer s.active.Add(-1)
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return fmt.Errorf("storage: defer mail %s: %w", id, ctx.Err())
}

// A permanent failure that comes in while Shutdown interrupts the sends is
// still a permanent failure: the message is dead-lettered, not retried as
// interrupted.
func TestPermanentFailureDuringShutdownStands(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sender.seen = make(chan struct{}, 1)
	b.sender.fn = func(ctx context.Context, _ int, _ *Email) error {
		<-ctx.Done()
		return errAuthDisabled // the server's answer, which arrived as the send was cancelled
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- b.d.Run(ctx) }()
	f := b.d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	<-b.sender.seen
	sctx, scancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer scancel()
	if err := b.d.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want a deadline error", err)
	}
	<-runDone
	if r := wait(t, f); r.Status != StatusFailed || r.Diagnosis == nil || r.Diagnosis.Code == CodeCanceled {
		t.Errorf("Wait = %+v (%+v), want failed with the server's diagnosis", r, r.Diagnosis)
	}
	if m := mustGetMail(t, b.store, f.ID()); m.Status != storage.MailDead || m.Diagnosis == CodeCanceled {
		t.Errorf("row: status %s, diagnosis %q; want dead with the server's diagnosis", m.Status, m.Diagnosis)
	}
}

// A permanent failure recorded after the lease ran out (another node took
// the message over and sent it) does not fail the Future: it follows the
// message and completes with the other node's outcome.
func TestDeadLetterAfterLeaseLostFollowsMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	st := &lateDeadStore{Store: b.store, clock: b.clock}
	b.sender.fn = func(context.Context, int, *Email) error { return errAuthDisabled }
	d := b.newDispatcher(t, st, b.sender, nil)
	run(t, d)
	f := d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	if r := wait(t, f); r.Status != StatusSent {
		t.Fatalf("Wait = %+v (%+v), want sent (by the other node)", r, r.Diagnosis)
	}
	if st.leaseLost.Load() != 1 {
		t.Errorf("MarkMailDead lost its lease %d times, want 1: the test did not test what it says", st.leaseLost.Load())
	}
	if m := mustGetMail(t, b.store, f.ID()); m.Status != storage.MailSent {
		t.Errorf("row: %s, want sent", m.Status)
	}
}

// lateDeadStore lets the lease run out before MarkMailDead, and "node-b"
// take the message over and send it meanwhile. This node's poller finds
// nothing due (node B's poller is quicker).
type lateDeadStore struct {
	storage.Store
	clock     *fakeClock
	leaseLost atomic.Int64
}

func (s *lateDeadStore) LeaseMail(context.Context, string, int, time.Duration) ([]*storage.OutboxMessage, error) {
	return nil, nil
}

func (s *lateDeadStore) MarkMailDead(ctx context.Context, id uuid.UUID, tok storage.LeaseToken, lastErr, diagnosis string) error {
	s.clock.Advance(DefaultLease + time.Second)
	m, err := s.Store.LeaseMailByID(ctx, id, "node-b", DefaultLease)
	if err != nil {
		return err
	}
	if err := s.Store.MarkMailSent(ctx, id, m.LeaseToken); err != nil {
		return err
	}
	err = s.Store.MarkMailDead(ctx, id, tok, lastErr, diagnosis)
	if errors.Is(err, storage.ErrLeaseLost) {
		s.leaseLost.Add(1)
	}
	return err
}

// A delivery whose record fails (the database briefly unavailable) is
// recorded on a later try while the lease lasts, so this process does not
// send the message again when the lease runs out.
func TestMarkSentRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	st := &flakyMarkSent{Store: b.store, failures: 2}
	d := b.newDispatcher(t, st, b.sender, nil)
	d.markRetry = time.Millisecond
	run(t, d)
	f := d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	if r := wait(t, f); r.Status != StatusSent {
		t.Fatalf("Wait = %+v, want sent", r)
	}
	if m := mustGetMail(t, b.store, f.ID()); m.Status != storage.MailSent {
		t.Errorf("row: %s, want sent (recorded on the third try)", m.Status)
	}
	if n := st.calls.Load(); n != 3 {
		t.Errorf("MarkMailSent called %d times, want 3", n)
	}
	if n := strings.Count(b.logs.String(), "mail sent but not recorded; trying again"); n != 2 {
		t.Errorf("%d failures logged, want 2 (a warning, then debug); logs:\n%s", n, b.logs.String())
	}
	if n := strings.Count(b.logs.String(), `"level":"WARN","msg":"mail sent but not recorded`); n != 1 {
		t.Errorf("%d failures logged as warnings, want 1; logs:\n%s", n, b.logs.String())
	}
	if n := len(b.sender.Calls()); n != 1 {
		t.Errorf("sender called %d times, want 1", n)
	}
}

// A delivery is not recorded after the lease may have run out: another node
// may hold the message by then.
func TestMarkSentNotRetriedPastTheLease(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	st := &flakyMarkSent{Store: b.store, failures: 10}
	d := b.newDispatcher(t, st, b.sender, nil)
	d.markRetry = time.Millisecond
	var checks atomic.Int64
	d.since = func(leasedAt time.Time) time.Duration {
		if checks.Add(1) == 1 { // the check before sending
			return time.Since(leasedAt)
		}
		return d.cfg.Lease - storeTimeout // the send took what the lease had to spare
	}
	run(t, d)
	f := d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	if r := wait(t, f); r.Status != StatusSent {
		t.Fatalf("Wait = %+v, want sent", r)
	}
	if n := st.calls.Load(); n != 1 {
		t.Errorf("MarkMailSent called %d times, want 1 (no time left on the lease to try again)", n)
	}
	if !strings.Contains(b.logs.String(), "mail sent but not recorded; it is sent again when its lease runs out") {
		t.Errorf("the unrecorded delivery was not logged; logs:\n%s", b.logs.String())
	}
}

// A database outage of a few seconds while a delivery is recorded does not
// make the message go out twice: the record is tried again, with backoff,
// until it works (here after 3s of real time; the lease lasts 2 minutes).
func TestMarkSentRetriedThroughAnOutage(t *testing.T) {
	t.Parallel()
	const outage = 3 * time.Second
	b := setup(t, nil)
	st := &outageMarkSent{Store: b.store}
	d := b.newDispatcher(t, st, b.sender, nil)
	run(t, d)
	st.until.Store(time.Now().Add(outage).UnixNano())
	f := d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	ctx, cancel := context.WithTimeout(t.Context(), outage+10*time.Second)
	defer cancel()
	if r := f.Wait(ctx); r.Status != StatusSent {
		t.Fatalf("Wait = %+v, want sent", r)
	}
	if m := mustGetMail(t, b.store, f.ID()); m.Status != storage.MailSent {
		t.Fatalf("row: %s, want sent: the delivery was not recorded after the outage", m.Status)
	}
	if n := st.failed.Load(); n < 4 {
		t.Errorf("MarkMailSent failed %d times, want at least 4 (more than the old limit of 4 tries)", n)
	}
	// The lease runs out on the store's clock: nothing is due, so the
	// message is not sent again.
	b.clock.Advance(d.cfg.Lease + time.Minute)
	other := d.Submit(t.Context(), credentialsMessage("ann@example.org"))
	if r := wait(t, other); r.Status != StatusSent {
		t.Fatalf("second message: %+v", r)
	}
	sends := make(map[string]int)
	for _, e := range b.sender.Calls() {
		sends[e.MessageID]++
	}
	if len(sends) != 2 || len(b.sender.Calls()) != 2 {
		t.Errorf("sends: %v, want each of the 2 messages once", sends)
	}
	if strings.Contains(b.logs.String(), "it is sent again when its lease runs out") {
		t.Errorf("the delivery was given up on; logs:\n%s", b.logs.String())
	}
}

// outageMarkSent fails every MarkMailSent until the real-clock time until.
type outageMarkSent struct {
	storage.Store
	until  atomic.Int64 // UnixNano
	failed atomic.Int64
}

func (s *outageMarkSent) MarkMailSent(ctx context.Context, id uuid.UUID, tok storage.LeaseToken) error {
	if time.Now().UnixNano() < s.until.Load() {
		s.failed.Add(1)
		return fmt.Errorf("storage: mark mail %s sent: disk I/O error", id)
	}
	return s.Store.MarkMailSent(ctx, id, tok)
}

// flakyMarkSent fails the first failures deliveries it is asked to record.
type flakyMarkSent struct {
	storage.Store
	failures int64
	calls    atomic.Int64
}

func (s *flakyMarkSent) MarkMailSent(ctx context.Context, id uuid.UUID, tok storage.LeaseToken) error {
	if s.calls.Add(1) <= s.failures {
		return fmt.Errorf("storage: mark mail %s sent: database is locked", id)
	}
	return s.Store.MarkMailSent(ctx, id, tok)
}
