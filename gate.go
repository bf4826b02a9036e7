package lobby

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// guestKey is the context key under which RequireGuest stores the guest.
type guestKey struct{}

// GuestFrom returns the guest that RequireGuest (or RequireGuestEcho) let
// through to the handler serving ctx's request. Its Password is always
// empty: host code has no use for it, and could leak it by logging the guest.
func GuestFrom(ctx context.Context) (*storage.Guest, bool) {
	g, ok := ctx.Value(guestKey{}).(*storage.Guest)
	return g, ok && g != nil
}

// withGuest returns a copy of ctx carrying a copy of g without its password.
func withGuest(ctx context.Context, g *storage.Guest) context.Context {
	return context.WithValue(ctx, guestKey{}, publicCopy(g))
}

// publicCopy returns a copy of g without its password.
func publicCopy(g *storage.Guest) *storage.Guest {
	public := *g
	public.Password = ""
	return &public
}

// RequireGuest lets a request through to next only when it comes from a
// signed-in guest who may use their account now (active and within the
// validity period). The check reads the guest on every request (only what
// the decision needs: never the password), so a guest a sponsor suspends,
// or whose validity ends, loses access on the next request; with
// Config.GuestCacheTTL set, a status change or a sign-out on another
// device takes effect within that time instead. Anyone else is sent (303
// See Other) to the portal's login page, which brings them back to the page
// they asked for once they have signed in. next finds the guest with
// GuestFrom.
func (l *Lobby) RequireGuest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, shared, ok := l.gateGuest(r)
		if !ok {
			l.redirectToLogin(w, r)
			return
		}
		// Pages behind the gate are personal: keep shared caches out.
		w.Header().Set("Cache-Control", "private, no-store")
		if shared || g.Password != "" {
			g = publicCopy(g)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), guestKey{}, g)))
	})
}

// gateGuest returns the guest signed in on r if the portal admits them now,
// and whether it came from the cache, where others may read it too. A guest
// read for this request alone is the handler's to keep.
func (l *Lobby) gateGuest(r *http.Request) (g *storage.Guest, shared, ok bool) {
	id, issued, ok := l.portal.SignedIn(r)
	if !ok {
		return nil, false, false
	}
	g, shared = l.gates.get(id)
	if !shared {
		var err error
		g, err = l.cfg.Store.GetGuestPublic(r.Context(), id)
		if err != nil {
			if !errors.Is(err, storage.ErrNotFound) {
				l.logger.WarnContext(r.Context(), "lobby: gate: look up signed-in guest", "error", err.Error())
			}
			return nil, false, false
		}
		shared = l.gates.put(g)
	}
	if !l.portal.Admits(g, issued) {
		return nil, false, false
	}
	return g, shared, true
}

// MaxGuestCacheTTL is the longest Config.GuestCacheTTL.
const MaxGuestCacheTTL = time.Second

// maxGateEntries bounds the gate's cache: when it is full, expired entries
// go, and if none has expired, all of them.
const maxGateEntries = 1 << 16

// gateCache keeps the guests RequireGuest read for up to ttl (per process;
// ttl 0 keeps nothing). Entries are never handed out to be changed:
// withGuest copies.
type gateCache struct {
	ttl time.Duration
	now func() time.Time // the real clock; tests replace it
	mu  sync.Mutex
	m   map[uuid.UUID]gateEntry
}

type gateEntry struct {
	g    *storage.Guest
	read time.Time // on the real clock: the cache bounds staleness, not validity
}

func newGateCache(ttl time.Duration) *gateCache {
	return &gateCache{ttl: ttl, now: time.Now, m: map[uuid.UUID]gateEntry{}}
}

func (c *gateCache) get(id uuid.UUID) (*storage.Guest, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if !ok || c.now().Sub(e.read) >= c.ttl {
		return nil, false
	}
	return e.g, true
}

// put keeps g for ttl and reports whether it did.
func (c *gateCache) put(g *storage.Guest) bool {
	if c.ttl <= 0 {
		return false
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxGateEntries {
		for id, e := range c.m {
			if now.Sub(e.read) >= c.ttl {
				delete(c.m, id)
			}
		}
		if len(c.m) >= maxGateEntries {
			clear(c.m)
		}
	}
	c.m[g.ID] = gateEntry{g: g, read: now}
	return true
}

// redirectToLogin sends r to the portal's login page with ?return= set to
// the path and query r asked for.
func (l *Lobby) redirectToLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", l.loginURL(originalURI(r)))
	w.WriteHeader(http.StatusSeeOther)
}

// loginURL is the absolute path of the portal's login page returning to
// returnTo after sign-in.
func (l *Lobby) loginURL(returnTo string) string {
	return l.basePath + "/portal/" + l.portal.LoginURL(returnTo)
}

// originalURI is the path and query the client asked for, before any
// http.StripPrefix of the host's routing changed r.URL.
func originalURI(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") && !strings.HasPrefix(r.RequestURI, "//") {
		return r.RequestURI
	}
	if r.RequestURI != "" {
		// Absolute form (a proxy request): keep only the path and query.
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
			return u.RequestURI()
		}
	}
	return r.URL.RequestURI()
}
