package portal

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// gatedStore holds GetGuestByEmail until its gate opens, while armed.
type gatedStore struct {
	storage.Store
	mu      sync.Mutex
	armed   bool
	gate    chan struct{}
	entered chan struct{}
}

func (s *gatedStore) GetGuestByEmail(ctx context.Context, email string) (*storage.Guest, error) {
	s.mu.Lock()
	armed := s.armed
	s.mu.Unlock()
	if armed {
		s.entered <- struct{}{}
		<-s.gate
	}
	return s.Store.GetGuestByEmail(ctx, email)
}

func (s *gatedStore) arm() {
	s.mu.Lock()
	s.armed = true
	s.mu.Unlock()
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// The resend page answers before it looks the address up: how long it
// takes says nothing about whether the address is registered.
func TestResendAnswersBeforeTheLookup(t *testing.T) {
	t.Parallel()
	gs := &gatedStore{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	b := setup(t, func(c *Config) { gs.Store = c.Store; c.Store = gs })
	t.Cleanup(func() { _ = b.portal.Shutdown(context.Background()) })
	g := registered(t, b, "ada@example.com")
	before := b.mailCount(t)
	gs.arm()

	c := b.client(t)
	csrf := c.csrf(mount + "/resend")
	r := c.post(mount+"/resend", url.Values{"csrf_token": {csrf}, "email": {"ada@example.com"}})
	if r.StatusCode != 200 || !strings.Contains(r.body, "If <strong>ada@example.com</strong> is registered") {
		t.Fatalf("resend: %d\n%s", r.StatusCode, r.body)
	}
	select {
	case <-gs.entered: // the look-up runs in the background, and is held
	case <-time.After(10 * time.Second):
		t.Fatal("the look-up never started")
	}
	if n := b.mailCount(t); n != before {
		t.Fatal("queued before the look-up finished")
	}
	close(gs.gate)
	waitFor(t, "the credentials email", func() bool { return b.mailCount(t) == before+1 })
	if err := b.portal.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range b.outbox(t) {
		if m.Kind == KindCredentials && m.To[0] == "ada@example.com" && field(t, m.Text, "Password") == g.Password {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d credentials emails to the guest, want the registration's and the resent one", n)
	}
}

// After Shutdown the page still answers the same, and nothing runs.
func TestResendAfterShutdown(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	registered(t, b, "ada@example.com")
	before := b.mailCount(t)
	if err := b.portal.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := b.client(t)
	r := c.post(mount+"/resend", url.Values{"csrf_token": {c.csrf(mount + "/resend")}, "email": {"ada@example.com"}})
	if r.StatusCode != 200 || !strings.Contains(r.body, "is registered") || b.mailCount(t) != before {
		t.Fatalf("after Shutdown: %d, %d emails", r.StatusCode, b.mailCount(t))
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// With every worker busy, background work waits in a bounded queue; past
// that it is dropped with a warning, and a resend that was dropped spends
// no per-address token.
func TestResendQueuesThenDropsWithoutSpendingTheLimit(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	b := setup(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.Limits.Resend = Limit{Burst: 100, Every: time.Minute}
	})
	t.Cleanup(func() { _ = b.portal.Shutdown(context.Background()) })
	registered(t, b, "ada@example.com")
	ctx := context.Background()
	gate := make(chan struct{})
	var ran atomic.Int32
	block := func(ctx context.Context) error {
		select {
		case <-gate:
		case <-ctx.Done():
		}
		ran.Add(1)
		return nil
	}
	for i := 0; i < backgroundWorkers+backgroundQueue; i++ {
		if res := b.portal.background(ctx, "test", block, nil); res != bgAccepted {
			t.Fatalf("job %d: %v, want accepted (queued when the workers are busy)", i, res)
		}
	}
	if res := b.portal.background(ctx, "test", block, nil); res != bgDropped {
		t.Fatalf("a job past the queue: %v, want dropped", res)
	}
	if !strings.Contains(logs.String(), "background work dropped") {
		t.Fatalf("no warning for the dropped job in:\n%s", logs.String())
	}

	c := b.client(t)
	send := func() response {
		return c.post(mount+"/resend", url.Values{"csrf_token": {c.csrf(mount + "/resend")}, "email": {"ada@example.com"}})
	}
	// Over the per-address burst (3), all dropped: the same answer, and
	// no token spent.
	for i := 0; i < 5; i++ {
		if r := send(); r.StatusCode != 200 || !strings.Contains(r.body, "is registered") {
			t.Fatalf("resend %d with the pool full: %d", i, r.StatusCode)
		}
	}
	close(gate)
	waitFor(t, "the queued jobs", func() bool { return ran.Load() == backgroundWorkers+backgroundQueue })
	for i := 0; i < 3; i++ {
		if r := send(); r.StatusCode != 200 {
			t.Fatalf("resend %d after the pool drained: %d (tokens spent on dropped work?)", i, r.StatusCode)
		}
	}
	if r := send(); r.StatusCode != 429 {
		t.Fatalf("resend over the per-address limit: %d", r.StatusCode)
	}
	if err := b.portal.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Every accepted job runs, however the workers and the producers
// interleave: none is left in the queue without a worker.
func TestBackgroundRunsEveryAcceptedJob(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	t.Cleanup(func() { _ = b.portal.Shutdown(context.Background()) })
	var accepted, ran atomic.Int32
	job := func(context.Context) error { ran.Add(1); return nil }
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				if b.portal.background(context.Background(), "test", job, nil) == bgAccepted {
					accepted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "every accepted job", func() bool { return ran.Load() == accepted.Load() })
	if err := b.portal.Shutdown(context.Background()); err != nil || ran.Load() != accepted.Load() || accepted.Load() == 0 {
		t.Fatalf("accepted %d, ran %d, shutdown %v", accepted.Load(), ran.Load(), err)
	}
}
