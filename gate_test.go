package lobby

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/testclock"
	"github.com/lobbyhq/lobby/storage"
)

// countingStore counts the gate's reads.
type countingStore struct {
	storage.Store
	public atomic.Int64
}

func (s *countingStore) GetGuestPublic(ctx context.Context, id uuid.UUID) (*storage.Guest, error) {
	s.public.Add(1)
	return s.Store.GetGuestPublic(ctx, id)
}

// TestRequireGuestCache: with GuestCacheTTL, the gate reuses the guest it
// read until the TTL has passed (a suspension takes effect then, not
// before), while the end of the guest's validity is checked on every
// request, cached or not.
func TestRequireGuestCache(t *testing.T) {
	t.Parallel()
	counter := &countingStore{}
	b := setup(t, hostNetHTTP, func(b *testBundle, cfg *Config) {
		counter.Store = cfg.Store
		cfg.Store = counter
		cfg.GuestCacheTTL = time.Second
	})
	cacheClock := testclock.New(time.Now())
	b.lobby.gates.now = cacheClock.Now
	ctx := t.Context()
	const email = "grace.hopper@example.org"
	const wifi = "/wifi"

	b.register(t, "Grace", "Hopper", email)
	username, password := b.credentials(t, email)
	b.login(t, username, password, wifi)
	g, err := b.store.GetGuestByUsername(ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	reads := func(want int64) {
		t.Helper()
		if got := counter.public.Load(); got != want {
			t.Fatalf("the gate read the guest %d times, want %d", got, want)
		}
	}
	wantOK := func(what string) {
		t.Helper()
		if res, body := b.get(t, wifi); res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %q, want 200", what, res.StatusCode, body)
		}
	}
	setStatus := func(s storage.GuestStatus) {
		t.Helper()
		if _, err := b.store.UpdateGuest(ctx, g.ID, storage.GuestUpdate{Status: &s}); err != nil {
			t.Fatal(err)
		}
	}

	wantOK("signed in")
	reads(1)
	wantOK("again")
	reads(1)

	// Suspended: the cached guest lets the session in until the TTL passes.
	setStatus(storage.GuestSuspended)
	wantOK("suspended, within the cache's TTL")
	reads(1)
	cacheClock.Advance(time.Second)
	res, _ := b.get(t, wifi)
	wantLoginRedirect(t, res, wifi)
	reads(2)

	// Reinstated and cached again; the validity ends: turned away at once.
	setStatus(storage.GuestActive)
	cacheClock.Advance(time.Second)
	wantOK("reinstated")
	reads(3)
	b.clock.Advance(48 * time.Hour)
	res, _ = b.get(t, wifi)
	wantLoginRedirect(t, res, wifi)
	reads(3)
}

// TestGateCacheBounded: a full cache drops the expired entries, and when
// none has expired, all of them, so it never grows past maxGateEntries.
func TestGateCacheBounded(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Now())
	c := newGateCache(time.Second)
	c.now = clock.Now
	for range maxGateEntries {
		c.put(&storage.Guest{ID: uuid.New()})
	}
	clock.Advance(time.Second)
	fresh := &storage.Guest{ID: uuid.New()}
	c.put(fresh)
	if len(c.m) != 1 {
		t.Fatalf("after putting one into a full cache of expired entries: %d entries, want 1", len(c.m))
	}
	for range maxGateEntries - 1 {
		c.put(&storage.Guest{ID: uuid.New()})
	}
	c.put(&storage.Guest{ID: uuid.New()})
	if len(c.m) != 1 {
		t.Fatalf("after putting one into a full cache of live entries: %d entries, want 1", len(c.m))
	}
	if _, ok := c.get(fresh.ID); ok {
		t.Error("an entry survived the clearing of a full cache")
	}
	off := newGateCache(0)
	off.put(fresh)
	if _, ok := off.get(fresh.ID); ok || len(off.m) != 0 {
		t.Error("a cache with TTL 0 kept a guest")
	}
}
