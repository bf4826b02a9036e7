package captive

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// ContentType is the media type of the API's answers (RFC 8908, section 5).
const ContentType = "application/captive+json"

// DefaultMaxClients bounds the addresses the API remembers by default.
const DefaultMaxClients = 1 << 16

// State is the API's answer (RFC 8908, section 5).
type State struct {
	// Captive is whether the client is held captive: it has no access.
	Captive bool `json:"captive"`
	// UserPortalURL is the guest portal, where a captive client signs in.
	UserPortalURL string `json:"user-portal-url,omitempty"`
	// VenueInfoURL is a page about the venue, when the operator gave one.
	VenueInfoURL string `json:"venue-info-url,omitempty"`
	// SecondsRemaining is how long an admitted client's access lasts (the
	// end of the guest's validity or of their session, whichever comes
	// first); absent for a captive client.
	SecondsRemaining *int64 `json:"seconds-remaining,omitempty"`
	// CanExtendSession is whether the guest can extend their access at
	// UserPortalURL. Lobby's guests cannot (a sponsor extends it), so it
	// is false.
	CanExtendSession bool `json:"can-extend-session"`
}

// Config is what the API needs.
type Config struct {
	// SignedIn returns the guest ID and issue time of r's guest session
	// cookie, checking only the cookie. Required.
	SignedIn func(r *http.Request) (id uuid.UUID, issuedAt time.Time, ok bool)
	// Admitted returns the guest with id if the gate admits them now on a
	// session issued at issuedAt (the check RequireGuest makes). Required.
	Admitted func(r *http.Request, id uuid.UUID, issuedAt time.Time) (*storage.Guest, bool)
	// ClientIP is the client's address for r, as the portal takes it
	// (behind a trusted proxy, from its header). Required.
	ClientIP func(r *http.Request) string
	// PortalURL is the guest portal's absolute URL (user-portal-url).
	// Required.
	PortalURL string
	// VenueURL is venue-info-url; empty: none.
	VenueURL string
	// SessionTTL is how long a guest session lasts after sign-in. Required.
	SessionTTL time.Duration
	// MaxClients bounds the addresses remembered; default DefaultMaxClients.
	MaxClients int
	Now        func() time.Time // default time.Now
}

// API serves the captive-portal API.
type API struct {
	cfg Config

	mu      sync.Mutex
	clients map[string]signIn // by client address
}

// signIn is a guest session started from an address.
type signIn struct {
	id     uuid.UUID
	issued time.Time
}

// New checks cfg and returns the API.
func New(cfg Config) (*API, error) {
	var errs []error
	bad := func(msg string) { errs = append(errs, errors.New("captive: config: "+msg)) }
	if cfg.SignedIn == nil {
		bad("SignedIn is required")
	}
	if cfg.Admitted == nil {
		bad("Admitted is required")
	}
	if cfg.ClientIP == nil {
		bad("ClientIP is required")
	}
	if !absolute(cfg.PortalURL) {
		bad("PortalURL must be the guest portal's absolute URL, such as https://wifi.example.com/guest/portal/")
	}
	if cfg.VenueURL != "" && !absolute(cfg.VenueURL) {
		bad("VenueURL must be an absolute http(s) URL, such as https://example.com/visitors")
	}
	if cfg.SessionTTL <= 0 {
		bad("SessionTTL must be positive")
	}
	if cfg.MaxClients < 0 {
		bad("MaxClients cannot be negative")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &API{cfg: cfg, clients: map[string]signIn{}}, nil
}

func absolute(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// SignedIn remembers that the guest with id signed in from r's client
// address with a session issued at issuedAt (portal.Config.OnSignIn). A
// later sign-in from the same address replaces it.
func (a *API) SignedIn(r *http.Request, id uuid.UUID, issuedAt time.Time) {
	ip := a.cfg.ClientIP(r)
	if ip == "" {
		return
	}
	now := a.cfg.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.clients[ip]; !ok && len(a.clients) >= a.cfg.MaxClients {
		for k, s := range a.clients {
			if now.Sub(s.issued) >= a.cfg.SessionTTL {
				delete(a.clients, k)
			}
		}
		if len(a.clients) >= a.cfg.MaxClients {
			// All sessions live: the one issued first goes.
			var oldest string
			var at time.Time
			for k, s := range a.clients {
				if oldest == "" || s.issued.Before(at) {
					oldest, at = k, s.issued
				}
			}
			delete(a.clients, oldest)
		}
	}
	a.clients[ip] = signIn{id: id, issued: issuedAt}
}

// lastSignIn is the latest sign-in remembered from ip.
func (a *API) lastSignIn(ip string) (signIn, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.clients[ip]
	return s, ok
}

// forget drops the sign-in remembered from ip, if it is still s.
func (a *API) forget(ip string, s signIn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.clients[ip] == s {
		delete(a.clients, ip)
	}
}

// State is the API's answer for r's client.
func (a *API) State(r *http.Request) State {
	st := State{Captive: true, UserPortalURL: a.cfg.PortalURL, VenueInfoURL: a.cfg.VenueURL}
	now := a.cfg.Now()
	id, issued, ok := a.cfg.SignedIn(r)
	if !ok {
		ip := a.cfg.ClientIP(r)
		var s signIn
		if s, ok = a.lastSignIn(ip); ok {
			if now.Sub(s.issued) >= a.cfg.SessionTTL {
				a.forget(ip, s)
				return st
			}
			id, issued = s.id, s.issued
		}
	}
	if !ok {
		return st
	}
	g, ok := a.cfg.Admitted(r, id, issued)
	if !ok {
		return st
	}
	end := issued.Add(a.cfg.SessionTTL)
	if g.ValidUntil.Before(end) {
		end = g.ValidUntil
	}
	left := int64(end.Sub(now) / time.Second)
	if left <= 0 {
		return st
	}
	st.Captive = false
	st.SecondsRemaining = &left
	return st
}

// ServeHTTP answers GET (and HEAD) with the client's State as
// application/captive+json, private to the client.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "The captive-portal API answers GET only.", http.StatusMethodNotAllowed)
		return
	}
	body, _ := json.Marshal(a.State(r)) // strings, booleans and a number: cannot fail
	h.Set("Content-Type", ContentType)
	// RFC 8908, section 5: the answer is about this client alone.
	h.Set("Cache-Control", "private")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}
