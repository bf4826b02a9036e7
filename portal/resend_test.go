package portal

import (
	"context"
	"net/url"
	"strings"
	"sync"
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
