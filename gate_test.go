package lobby

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	stamps atomic.Int64
}

func (s *countingStore) GetGuestStamp(ctx context.Context, id uuid.UUID) (storage.GuestStamp, error) {
	s.stamps.Add(1)
	return s.Store.GetGuestStamp(ctx, id)
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

// TestRequireGuestSeesChanges: without GuestCacheTTL, the gate reads the
// guest's stamp on every request and the whole guest only when it changed,
// so the handler sees a change to the guest on the next request, and a
// suspension turns the session away at once.
func TestRequireGuestSeesChanges(t *testing.T) {
	t.Parallel()
	counter := &countingStore{}
	b := setup(t, hostNetHTTP, func(b *testBundle, cfg *Config) {
		counter.Store = cfg.Store
		cfg.Store = counter
	})
	ctx := t.Context()
	const email = "ada.lovelace@example.org"
	b.register(t, "Ada", "Lovelace", email)
	username, password := b.credentials(t, email)
	b.login(t, username, password, "/wifi")
	g, err := b.store.GetGuestByUsername(ctx, username)
	if err != nil {
		t.Fatal(err)
	}

	var seen *storage.Guest
	gated := b.lobby.RequireGuest(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = GuestFrom(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	u, _ := url.Parse(b.srv.URL + "/wifi")
	serve := func(what string, want int) {
		t.Helper()
		seen = nil
		req := httptest.NewRequestWithContext(ctx, "GET", "/wifi", nil)
		for _, c := range b.client.Jar.Cookies(u) {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		gated.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Fatalf("%s: %d, want %d", what, rec.Code, want)
		}
	}
	reads := func(what string, stamps, public int64) {
		t.Helper()
		if s, p := counter.stamps.Load(), counter.public.Load(); s != stamps || p != public {
			t.Fatalf("%s: the gate read %d stamps and %d guests, want %d and %d", what, s, p, stamps, public)
		}
	}
	update := func(u storage.GuestUpdate) {
		t.Helper()
		if _, err := b.store.UpdateGuest(ctx, g.ID, u); err != nil {
			t.Fatal(err)
		}
	}

	serve("signed in", http.StatusNoContent)
	reads("signed in", 1, 1)
	serve("again", http.StatusNoContent)
	reads("again", 2, 1)
	first := seen
	if !seen.ExpiryNotifiedAt.IsZero() {
		t.Fatalf("a new guest with ExpiryNotifiedAt %v", seen.ExpiryNotifiedAt)
	}

	// A change to a field the stamp does not carry: read again at once.
	notified := b.clock.Now().Truncate(time.Microsecond)
	update(storage.GuestUpdate{ExpiryNotifiedAt: &notified})
	serve("after the expiry notice", http.StatusNoContent)
	reads("after the expiry notice", 3, 2)
	if !seen.ExpiryNotifiedAt.Equal(notified) {
		t.Errorf("the handler saw ExpiryNotifiedAt %v, want %v (the guest as updated)", seen.ExpiryNotifiedAt, notified)
	}
	if !first.ExpiryNotifiedAt.IsZero() {
		t.Error("the gate changed a guest it had handed to a handler")
	}
	serve("unchanged since", http.StatusNoContent)
	reads("unchanged since", 4, 2)
	seen.Username = "changed by the handler"
	serve("after a handler changed its copy", http.StatusNoContent)
	if seen.Username != username {
		t.Errorf("a handler's change to its guest reached the next request: %q", seen.Username)
	}

	// Suspended: turned away on the next request, on the stamp alone.
	suspended := storage.GuestSuspended
	update(storage.GuestUpdate{Status: &suspended})
	serve("suspended", http.StatusSeeOther)
	reads("suspended", 6, 2)

	// Deleted: turned away, and the gate forgets the guest.
	if err := b.store.DeleteGuest(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	serve("deleted", http.StatusSeeOther)
	if b.lobby.gates.version(g.ID, first.UpdatedAt) != nil || len(b.lobby.gates.versions) != 0 {
		t.Error("the gate kept a guest that is gone")
	}
}

// TestGateVersionsBounded: the guests kept by version never pass
// maxGateVersions, a newer version replaces an older one, and an older one
// does not replace a newer one.
func TestGateVersionsBounded(t *testing.T) {
	t.Parallel()
	c := newGateCache(0)
	now := time.Now()
	for range maxGateVersions + 10 {
		c.keepVersion(&storage.Guest{ID: uuid.New(), UpdatedAt: now})
	}
	if n := len(c.versions); n != maxGateVersions {
		t.Fatalf("%d guests kept, want %d", n, maxGateVersions)
	}
	id := uuid.New()
	c.keepVersion(&storage.Guest{ID: id, UpdatedAt: now, Password: "secret"})
	if g := c.version(id, now); g == nil || g.Password != "" {
		t.Fatalf("version(id, now) = %+v, want the guest without its password", g)
	}
	if n := len(c.versions); n != maxGateVersions {
		t.Fatalf("%d guests kept after one more, want %d", n, maxGateVersions)
	}
	later := now.Add(time.Microsecond)
	c.keepVersion(&storage.Guest{ID: id, UpdatedAt: later})
	c.keepVersion(&storage.Guest{ID: id, UpdatedAt: now})
	if c.version(id, now) != nil || c.version(id, later) == nil {
		t.Error("an older version replaced a newer one")
	}
	c.forget(id)
	if c.version(id, later) != nil {
		t.Error("forget kept the guest")
	}
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
