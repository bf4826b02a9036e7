package lobby

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// EchoRouter is what MountEcho needs of an echo router: both *echo.Echo and
// *echo.Group have it.
type EchoRouter interface {
	Any(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) []*echo.Route
}

var (
	_ EchoRouter = (*echo.Echo)(nil)
	_ EchoRouter = (*echo.Group)(nil)
)

// EchoGuestKey is the echo.Context key under which RequireGuestEcho also
// stores the guest (a *storage.Guest), for handlers that prefer c.Get.
const EchoGuestKey = "lobby.guest"

// MountEcho serves Handler under prefix (such as "/guest") of r, an
// *echo.Echo or an *echo.Group: the request path is stripped of the group's
// and the mount's prefix, as http.StripPrefix does for net/http hosts.
// Set Config.BaseURL to the external URL of the same place.
func (l *Lobby) MountEcho(r EchoRouter, prefix string) {
	prefix = strings.TrimRight(prefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	h := l.Handler()
	serve := func(c echo.Context) error {
		// c.Path() is the route as registered, with the group's prefix:
		// "/app/guest/*" or "/app/guest". What comes before the wildcard is
		// the part of the URL the handler does not see.
		strip := strings.TrimSuffix(strings.TrimSuffix(c.Path(), "*"), "/")
		http.StripPrefix(strip, h).ServeHTTP(c.Response(), c.Request())
		return nil
	}
	if prefix != "" {
		r.Any(prefix, serve)
	}
	r.Any(prefix+"/*", serve)
}

// RequireGuestEcho is RequireGuest as echo middleware: a signed-in guest who
// may use their account now gets through, with the guest in the request's
// context (GuestFrom) and under EchoGuestKey; anyone else is redirected
// (303) to the portal's login page, which brings them back afterwards.
func (l *Lobby) RequireGuestEcho() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			// The same check as RequireGuest: the guest's stamp on every
			// request, the rest of the guest while it is unchanged.
			g, shared, ok := l.gateGuest(r)
			if !ok {
				l.redirectToLogin(c.Response(), r)
				return nil
			}
			c.Response().Header().Set("Cache-Control", "private, no-store")
			if shared || g.Password != "" {
				g = publicCopy(g)
			}
			c.SetRequest(r.WithContext(context.WithValue(r.Context(), guestKey{}, g)))
			c.Set(EchoGuestKey, g)
			return next(c)
		}
	}
}
