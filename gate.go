package lobby

import (
	"context"
	"net/http"
	"net/url"
	"strings"

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

// withGuest returns a copy of ctx carrying g.
func withGuest(ctx context.Context, g *storage.Guest) context.Context {
	public := *g
	public.Password = ""
	return context.WithValue(ctx, guestKey{}, &public)
}

// RequireGuest lets a request through to next only when it comes from a
// signed-in guest who may use their account now (active and within the
// validity period). The check reads the guest on every request, so a guest
// a sponsor suspends, or whose validity ends, loses access on the next
// request. Anyone else is sent (303 See Other) to the portal's login page,
// which brings them back to the page they asked for once they have signed
// in. next finds the guest with GuestFrom.
func (l *Lobby) RequireGuest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, ok := l.portal.Guest(r)
		if !ok {
			l.redirectToLogin(w, r)
			return
		}
		// Pages behind the gate are personal: keep shared caches out.
		w.Header().Set("Cache-Control", "private, no-store")
		next.ServeHTTP(w, r.WithContext(withGuest(r.Context(), g)))
	})
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
