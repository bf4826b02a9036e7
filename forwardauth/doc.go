// Package forwardauth owns Lobby's forward-auth endpoint: the check a
// reverse proxy (nginx auth_request, Caddy forward_auth, Traefik
// ForwardAuth) makes before it lets a request through to a site that only
// signed-in guests may use.
//
// For a signed-in guest whom the gate admits now (active, within the
// validity, session not ended) the endpoint answers 200 with the guest's
// identity in X-Lobby-Guest-Id, X-Lobby-Username and X-Lobby-Email, which
// the proxy copies onto the request it forwards. Anyone else is sent to
// the guest sign-in, which brings them back to the address they asked for:
// 302 with Location for Caddy and Traefik, which pass a 3xx answer through
// to the browser; 401 with the same Location for nginx, whose auth_request
// passes only 2xx, 401 and 403 (its error_page turns the 401 into a 302 to
// that Location).
//
// The address asked for comes from the proxy's headers: X-Original-URL
// (nginx; its presence also selects the 401 answer), or X-Forwarded-Proto,
// X-Forwarded-Host and X-Forwarded-Uri (Caddy, Traefik). The browser is
// sent back only to a host on the allow-list; for any other host it goes to
// the sign-in at Lobby's own address, without a way back, so that the
// endpoint cannot be used to send people to another site.
//
// The guest session is a cookie of the host the browser visits, so Lobby
// must be reachable through the proxy on every protected host, under the
// path of its base URL (see docs/forward-auth.md).
package forwardauth
