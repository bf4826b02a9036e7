package forwardauth

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/lobbyhq/lobby/storage"
)

// The headers of the 200 answer, for the proxy to copy onto the request it
// forwards.
const (
	HeaderGuestID  = "X-Lobby-Guest-Id"
	HeaderUsername = "X-Lobby-Username"
	HeaderEmail    = "X-Lobby-Email"
)

// The headers proxies describe the original request with.
const (
	headerOriginalURL    = "X-Original-URL" // nginx auth_request, as the documented configuration sets it
	headerForwardedProto = "X-Forwarded-Proto"
	headerForwardedHost  = "X-Forwarded-Host"
	headerForwardedURI   = "X-Forwarded-Uri"
)

// maxURL bounds the original address the endpoint reads.
const maxURL = 4096

// Config is what the endpoint needs.
type Config struct {
	// Guest returns the guest signed in on r whom the gate admits now.
	// Required.
	Guest func(r *http.Request) (*storage.Guest, bool)
	// SignIn returns the absolute path of the guest sign-in page (on the
	// host the browser visits) that brings the guest back to returnTo, a
	// local path and query, after sign-in. Required.
	SignIn func(returnTo string) string
	// Fallback is the absolute URL of the guest sign-in at Lobby's own
	// address, for a request whose original address is missing or not on
	// an allowed host. Required.
	Fallback string
	// Hosts are the hosts the browser may be sent back to: "host" allows
	// it on any port, "host:port" on that port only. Compared without
	// regard to case.
	Hosts  []string
	Logger *slog.Logger // default slog.Default()
}

// Handler is the forward-auth endpoint.
type Handler struct {
	cfg   Config
	hosts map[string]bool
	log   *slog.Logger
}

// New checks cfg and returns the endpoint.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Guest == nil {
		errs = append(errs, errors.New("forwardauth: config: Guest is required"))
	}
	if cfg.SignIn == nil {
		errs = append(errs, errors.New("forwardauth: config: SignIn is required"))
	}
	if u, err := url.Parse(cfg.Fallback); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("forwardauth: config: Fallback must be the absolute URL of the guest sign-in, such as https://wifi.example.com/guest/portal/login"))
	}
	h := &Handler{cfg: cfg, hosts: map[string]bool{}, log: cmp.Or(cfg.Logger, slog.Default())}
	for _, host := range cfg.Hosts {
		n, ok := NormalizeHost(host)
		if !ok {
			errs = append(errs, fmt.Errorf("forwardauth: config: host %q is not a host name or host:port; give one such as wifi.example.com or wifi.example.com:8443", host))
			continue
		}
		h.hosts[n] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return h, nil
}

// ServeHTTP answers the proxy's check: 200 with the guest's identity, or
// the way to the sign-in.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	if g, ok := h.cfg.Guest(r); ok {
		hdr.Set(HeaderGuestID, g.ID.String())
		hdr.Set(HeaderUsername, headerValue(g.Username))
		hdr.Set(HeaderEmail, headerValue(g.Email))
		w.WriteHeader(http.StatusOK)
		return
	}
	orig, nginx := original(r)
	loc := h.cfg.Fallback
	if u, ok := h.allowed(orig); ok {
		loc = u.Scheme + "://" + u.Host + h.cfg.SignIn(u.RequestURI())
	} else if orig != "" {
		h.log.InfoContext(r.Context(), "forward auth: the original address is not on an allowed host (Config.ForwardAuthHosts); sending the browser to the sign-in without a way back",
			"host", hostOf(orig))
	}
	hdr.Set("Location", loc)
	status := http.StatusFound
	if nginx {
		// auth_request passes 401 and 403 only; error_page 401 =302 turns
		// this into the redirect.
		status = http.StatusUnauthorized
	}
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte("Sign in as a guest first: " + loc + "\n"))
}

// original is the address the browser asked the proxy for, as the proxy's
// headers give it ("" when they do not), and whether it came in nginx's
// X-Original-URL.
func original(r *http.Request) (string, bool) {
	if v := r.Header.Get(headerOriginalURL); v != "" {
		return v, true
	}
	host := first(r.Header.Get(headerForwardedHost))
	uri := r.Header.Get(headerForwardedURI)
	if host == "" || uri == "" {
		return "", false
	}
	proto := strings.ToLower(first(r.Header.Get(headerForwardedProto)))
	if proto == "" {
		proto = "https"
	}
	return proto + "://" + host + uri, false
}

// allowed parses orig and reports whether the browser may be sent back to
// it: an absolute http(s) URL without user info on an allowed host, with a
// path.
func (h *Handler) allowed(orig string) (*url.URL, bool) {
	if orig == "" || len(orig) > maxURL {
		return nil, false
	}
	u, err := url.Parse(orig)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Opaque != "" {
		return nil, false
	}
	if !strings.HasPrefix(u.EscapedPath(), "/") && u.EscapedPath() != "" {
		return nil, false
	}
	host, ok := NormalizeHost(u.Host)
	if !ok {
		return nil, false
	}
	if !h.hosts[host] {
		name, _, err := net.SplitHostPort(host)
		if err != nil || !h.hosts[name] {
			return nil, false
		}
	}
	u.Host = host
	u.Fragment, u.RawFragment = "", ""
	return u, true
}

// NormalizeHost returns host ("name" or "name:port", an IPv6 address in
// brackets) in lower case, and whether it is one.
func NormalizeHost(host string) (string, bool) {
	host = strings.ToLower(strings.TrimSpace(host))
	if host == "" || len(host) > 261 {
		return "", false
	}
	name, port := host, ""
	if h, p, err := net.SplitHostPort(host); err == nil {
		name, port = h, p
		if port == "" || strings.Trim(port, "0123456789") != "" || len(port) > 5 {
			return "", false
		}
	} else if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return "", false // a bare IPv6 address, or a stray colon
	}
	if strings.HasPrefix(host, "[") {
		name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
		if ip := net.ParseIP(name); ip == nil || ip.To4() != nil {
			return "", false // brackets are for IPv6 addresses only
		}
		name = "[" + name + "]"
	} else if !validName(name) {
		return "", false
	}
	if port != "" {
		return name + ":" + port, true
	}
	return name, true
}

// validName reports whether name is a DNS name or an IP address.
func validName(name string) bool {
	if name == "" {
		return false
	}
	if net.ParseIP(name) != nil {
		return true
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// first is the first entry of a comma-separated header value.
func first(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}

// hostOf is the host of u, for logs, or "(unreadable)".
func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "(unreadable)"
	}
	return p.Host
}

// headerValue is s with anything that may not stand in a header value
// (control characters) dropped.
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
