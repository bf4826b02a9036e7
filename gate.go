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
// validity period). The check reads the guest's status, validity, end of
// sessions and last change from the database on every request
// (GetGuestStamp), so a guest a sponsor suspends, who signs out on another
// device, or whose validity ends, loses access on the next request; the
// rest of the guest, which next finds with GuestFrom, is read again only
// when the guest changed since this process last read it. With
// Config.GuestCacheTTL set, the gate skips the database for that long
// instead, and such changes take effect within that time. Anyone else is
// sent (303 See Other) to the portal's login page, which brings them back to
// the page they asked for once they have signed in.
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
// and whether it is kept by the gate, where others may read it too. A guest
// read for this request alone is the handler's to keep.
func (l *Lobby) gateGuest(r *http.Request) (g *storage.Guest, shared, ok bool) {
	id, issued, ok := l.portal.SignedIn(r)
	if !ok {
		return nil, false, false
	}
	return l.gateAdmit(r, id, issued)
}

// gateAdmit is gateGuest for the guest with id on a session issued at
// issued, however the caller learnt of it.
func (l *Lobby) gateAdmit(r *http.Request, id uuid.UUID, issued time.Time) (g *storage.Guest, shared, ok bool) {
	if l.gates.ttl <= 0 {
		return l.gateFresh(r, id, issued)
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

// gateFresh decides on the guest with id from its stamp, read now, and
// returns the guest as last read if the stamp shows no change since, or as
// read again otherwise.
func (l *Lobby) gateFresh(r *http.Request, id uuid.UUID, issued time.Time) (g *storage.Guest, shared, ok bool) {
	ctx := r.Context()
	st, err := l.cfg.Store.GetGuestStamp(ctx, id)
	if err != nil {
		l.gateLookupFailed(ctx, id, err)
		return nil, false, false
	}
	decide := storage.Guest{Status: st.Status, ValidFrom: st.ValidFrom, ValidUntil: st.ValidUntil,
		SessionsValidAfter: st.SessionsValidAfter}
	if !l.portal.Admits(&decide, issued) {
		return nil, false, false
	}
	if g := l.gates.version(id, st.UpdatedAt); g != nil {
		return g, true, true
	}
	if g, err = l.cfg.Store.GetGuestPublic(ctx, id); err != nil {
		l.gateLookupFailed(ctx, id, err)
		return nil, false, false
	}
	// A change between the two reads: decide on the newer one too.
	if !l.portal.Admits(g, issued) {
		return nil, false, false
	}
	l.gates.keepVersion(g)
	return g, true, true
}

// gateLookupFailed forgets a guest that is gone and logs any other error.
func (l *Lobby) gateLookupFailed(ctx context.Context, id uuid.UUID, err error) {
	if errors.Is(err, storage.ErrNotFound) {
		l.gates.forget(id)
		return
	}
	l.logger.WarnContext(ctx, "lobby: gate: look up signed-in guest", "error", err.Error())
}

// MaxGuestCacheTTL is the longest Config.GuestCacheTTL.
const MaxGuestCacheTTL = time.Second

// maxGateEntries bounds the gate's cache: when it is full, expired entries
// go, and if none has expired, all of them.
const maxGateEntries = 1 << 16

// maxGateVersions bounds the guests the gate keeps by version: when it is
// full, an arbitrary one goes for each new one.
const maxGateVersions = 10_000

// gateCache keeps the guests RequireGuest read for up to ttl (per process;
// ttl 0 keeps nothing). Entries are never handed out to be changed:
// withGuest copies.
//
// With ttl 0 it keeps each guest as last read, with its UpdatedAt, in
// versions instead: the gate reads the guest's stamp on every request and
// reuses the guest kept only while the stamp's UpdatedAt is the same (every
// update moves it forward).
type gateCache struct {
	ttl time.Duration
	now func() time.Time // the real clock; tests replace it
	mu  sync.Mutex
	m   map[uuid.UUID]gateEntry

	vmu      sync.Mutex
	versions map[uuid.UUID]*storage.Guest
}

type gateEntry struct {
	g    *storage.Guest
	read time.Time // on the real clock: the cache bounds staleness, not validity
}

func newGateCache(ttl time.Duration) *gateCache {
	return &gateCache{ttl: ttl, now: time.Now, m: map[uuid.UUID]gateEntry{}, versions: map[uuid.UUID]*storage.Guest{}}
}

// version returns the guest with id as kept if it was last updated at
// updated, or nil.
func (c *gateCache) version(id uuid.UUID, updated time.Time) *storage.Guest {
	c.vmu.Lock()
	g := c.versions[id]
	c.vmu.Unlock()
	if g == nil || !g.UpdatedAt.Equal(updated) {
		return nil
	}
	return g
}

// keepVersion keeps g (without its password) in place of any older one.
func (c *gateCache) keepVersion(g *storage.Guest) {
	if g.Password != "" {
		g = publicCopy(g)
	}
	c.vmu.Lock()
	defer c.vmu.Unlock()
	if old, ok := c.versions[g.ID]; ok {
		if old.UpdatedAt.After(g.UpdatedAt) {
			return // a request that read later kept a newer one
		}
	} else if len(c.versions) >= maxGateVersions {
		for id := range c.versions {
			delete(c.versions, id)
			break
		}
	}
	c.versions[g.ID] = g
}

// forget drops the guest with id.
func (c *gateCache) forget(id uuid.UUID) {
	c.vmu.Lock()
	delete(c.versions, id)
	c.vmu.Unlock()
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
