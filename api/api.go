package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// Defaults of Config.
const (
	DefaultBurst    = 60
	DefaultEvery    = 250 * time.Millisecond // 4 requests a second after the burst
	DefaultMailWait = 5 * time.Second
	DefaultMaxBody  = 256 << 10 // a batch of names fits easily
	// touchEvery is how stale a token's last use may be before a request
	// records it: one write a minute per token at most.
	touchEvery = time.Minute
)

// Limit is a token bucket: Burst requests at once, then one per Every.
type Limit struct {
	Burst int
	Every time.Duration
}

// Config is what the API needs.
type Config struct {
	// Guests are the guest rules (the portal's and the sponsor pages'
	// Service). Required.
	Guests *guest.Service
	// Limit is each token's rate limit; default 60 at once, then 4 a
	// second.
	Limit Limit
	// MailWait is how long an action that emails waits for the first
	// delivery attempt, to answer with its outcome; default 5s.
	MailWait     time.Duration
	MaxBodyBytes int64 // default 256 KiB
	PageSize     int   // guests per page by default; default 50, at most 500
	Logger       *slog.Logger
	Now          func() time.Time // default time.Now
}

// API serves /api/v1. Build it with New.
type API struct {
	cfg     Config
	guests  *guest.Service
	store   storage.Store
	log     *slog.Logger
	now     func() time.Time
	limit   *webkit.RateLimiter
	handler http.Handler
}

// New checks cfg and builds the API.
func New(cfg Config) (*API, error) {
	if cfg.Guests == nil {
		return nil, errors.New("api: config: Guests is required")
	}
	if cfg.Limit.Burst < 0 || cfg.Limit.Every < 0 {
		return nil, fmt.Errorf("api: config: Limit must not be negative (got %d per %s)", cfg.Limit.Burst, cfg.Limit.Every)
	}
	cfg.Limit.Burst = cmp.Or(cfg.Limit.Burst, DefaultBurst)
	cfg.Limit.Every = cmp.Or(cfg.Limit.Every, DefaultEvery)
	cfg.MailWait = cmp.Or(cfg.MailWait, DefaultMailWait)
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, DefaultMaxBody)
	cfg.PageSize = storage.PageLimit(cfg.PageSize)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &API{
		cfg: cfg, guests: cfg.Guests, store: cfg.Guests.Store(), now: cfg.Now,
		log:   cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		limit: webkit.NewRateLimiter(1/cfg.Limit.Every.Seconds(), cfg.Limit.Burst, cfg.Now),
	}
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		var h http.Handler = rt.handler
		if !rt.public {
			h = a.authenticated(h)
		}
		mux.Handle(rt.method+" "+rt.path, h)
	}
	a.handler = asProblems(webkit.MaxBody(cfg.MaxBodyBytes, mux), cfg.MaxBodyBytes)
	return a, nil
}

// Handler serves the API. It expects its prefix (/api/v1) stripped.
func (a *API) Handler() http.Handler { return a.handler }

// route is one endpoint of the API; the OpenAPI document lists the same.
type route struct {
	method, path string
	handler      http.HandlerFunc
	public       bool // served without a token
}

// routes are the API's endpoints, as its mux registers them.
func (a *API) routes() []route {
	return []route{
		{method: "GET", path: "/openapi.json", handler: serveOpenAPI, public: true},
		{method: "GET", path: "/me", handler: a.getMe},
		{method: "GET", path: "/guests", handler: a.listGuests},
		{method: "POST", path: "/guests", handler: a.createGuest},
		{method: "POST", path: "/guests/batch", handler: a.createBatch},
		{method: "GET", path: "/guests/{id}", handler: a.getGuest},
		{method: "DELETE", path: "/guests/{id}", handler: a.deleteGuest},
		{method: "POST", path: "/guests/{id}/resend", handler: a.resend},
		{method: "POST", path: "/guests/{id}/reset-password", handler: a.resetPassword},
		{method: "POST", path: "/guests/{id}/extend", handler: a.extend},
		{method: "POST", path: "/guests/{id}/suspend", handler: a.suspend},
		{method: "POST", path: "/guests/{id}/reinstate", handler: a.reinstate},
		{method: "POST", path: "/guests/{id}/approve", handler: a.approve},
		{method: "POST", path: "/guests/{id}/deny", handler: a.deny},
	}
}

// actorKey carries the request's actor in its context.
type actorKey struct{}

// actorOf is the actor authenticated calls act as. Without one (a handler
// registered without authenticated, by mistake) it is a disabled staff
// user, whom the guest rules refuse everything; never the zero Actor, which
// is the system and may do everything.
func actorOf(r *http.Request) guest.Actor {
	if a, ok := r.Context().Value(actorKey{}).(guest.Actor); ok && a.Staff != nil {
		return a
	}
	return guest.Actor{Staff: &storage.Staff{Username: "(no API token)", Disabled: true}}
}

// authenticated lets through requests with a working token, within its
// rate limit, and puts the token's actor in the request's context.
func (a *API) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lobby"`)
			writeProblem(w, probUnauthorized.with("Send an API token as \"Authorization: Bearer lobby_…\". Make one on the sponsor portal's API tokens page."))
			return
		}
		actor, t, err := a.guests.APITokenActor(r.Context(), token)
		if errors.Is(err, guest.ErrBadToken) {
			a.log.InfoContext(r.Context(), "api: token refused", "error", err.Error())
			w.Header().Set("WWW-Authenticate", `Bearer realm="lobby", error="invalid_token"`)
			msg := err.Error()
			if i := strings.LastIndex(msg, guest.ErrBadToken.Error()+": "); i >= 0 {
				msg = msg[i+len(guest.ErrBadToken.Error())+2:]
			}
			writeProblem(w, probUnauthorized.with("The API token does not work: "+msg+"."))
			return
		}
		if err != nil {
			a.fail(w, r, "authenticate", err)
			return
		}
		if ok, wait := a.limit.Allow(t.ID.String()); !ok {
			secs := max(1, int((wait+time.Second-1)/time.Second))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			a.log.InfoContext(r.Context(), "api: rate limited", "token_id", t.ID, "staff", actor.Staff.Username)
			writeProblem(w, probRateLimited.with(fmt.Sprintf("This token made too many requests in a short time. Wait %d seconds, then try again; nothing was done.", secs)))
			return
		}
		if now := a.now(); now.Sub(t.LastUsedAt) >= touchEvery {
			if err := a.store.TouchAPIToken(r.Context(), t.ID, now); err != nil {
				a.log.WarnContext(r.Context(), "api: record the token's last use", "token_id", t.ID, "error", err.Error())
			}
		}
		actor.Via = "via API, token " + t.Hint + "…"
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, actor)))
	})
}

// bearer is the request's bearer token.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// asProblems turns the plain answers of ServeMux (404, 405) and MaxBody
// (413) into problems.
func asProblems(next http.Handler, maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&problemWriter{ResponseWriter: w, r: r, maxBody: maxBody}, r)
	})
}

// problemWriter replaces a 404, 405 or 413 answer that is not a problem
// with one.
type problemWriter struct {
	http.ResponseWriter
	r       *http.Request
	maxBody int64
	swallow bool
}

func (m *problemWriter) WriteHeader(code int) {
	if !strings.HasPrefix(m.Header().Get("Content-Type"), "application/problem+json") {
		var p Problem
		switch code {
		case http.StatusNotFound:
			p = probNotFound.with("There is no API endpoint " + m.r.URL.Path + "; see /api/v1/openapi.json.")
		case http.StatusMethodNotAllowed:
			p = probMethod.with("This endpoint does not take " + m.r.Method + "; the Allow header lists the methods it takes.")
		case http.StatusRequestEntityTooLarge:
			p = probTooLarge.with(fmt.Sprintf("Send at most %d bytes.", m.maxBody))
		}
		if p.Status != 0 {
			m.swallow = true
			writeProblem(m.ResponseWriter, p)
			return
		}
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *problemWriter) Write(b []byte) (int, error) {
	if m.swallow {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}

// fail answers 500 for an error that is not the caller's, logged.
func (a *API) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	if webkit.IsTooLarge(err) {
		writeProblem(w, probTooLarge.with(fmt.Sprintf("Send at most %d bytes.", a.cfg.MaxBodyBytes)))
		return
	}
	a.log.ErrorContext(r.Context(), "api: "+op, "error", err.Error())
	writeProblem(w, probInternal.with("Something went wrong on the server; the error is in its log. Try again later."))
}
