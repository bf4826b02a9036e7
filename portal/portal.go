package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/i18n"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/web"
)

// Pages are the page templates the portal renders (web/pages/portal/NAME.html).
var pageNames = []string{"account", "approve", "login", "message", "register", "registered", "resend"}

// Portal is the guest side of Lobby.
type Portal struct {
	cfg      Config
	guests   *guest.Service // the guest rules
	store    storage.Store
	log      *slog.Logger
	now      func() time.Time
	render   *notify.Renderer
	pages    *webkit.Templates
	assets   *webkit.Assets
	sessions *webkit.Sessions

	registered *webkit.Box    // success-page links
	regCookie  *webkit.Signer // the cookie that shows credentials on a success page
	basePath   string         // the path of BaseURL, for cookie paths
	approve    *webkit.Signer // approval links
	deny       *webkit.Signer // denial links
	nonces     *webkit.Signer // registration nonces
	nonceKey   []byte         // turns a registration nonce into the guest's ID

	limitRegister, limitLogin, limitResend, limitAddress *webkit.RateLimiter
	limitRegAddress                                      *webkit.RateLimiter // registrations per address and client
	proxy                                                webkit.ProxyTrust   // where the client's address comes from

	bg *backgroundJobs // work done after the response (resend look-ups)

	types typeCache // the terms, split once

	words *i18n.Catalog // the pages' languages
}

// New checks cfg, parses the page templates, writes Policy.GuestTypes and
// makes sure the default guest type exists (1 day, at most 7, when it has
// to create it).
func New(cfg Config) (*Portal, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Portal{cfg: cfg, store: cfg.Store, log: cfg.Logger, now: cfg.Now, render: cfg.Renderer, bg: newBackgroundJobs()}
	if p.render == nil {
		if p.render, err = notify.NewRenderer(nil); err != nil {
			return nil, fmt.Errorf("portal: %w", err)
		}
	}
	if p.words, err = i18n.Default(); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if p.pages, err = webkit.ParseTemplates(web.Pages(), "portal", nil); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if names := p.pages.Names(); !slices.Equal(names, pageNames) {
		return nil, fmt.Errorf("portal: page templates are %v, want %v", names, pageNames)
	}
	if p.assets, err = webkit.NewAssets(web.Static()); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if p.assets.URL("lobby.css") == "" {
		return nil, errors.New("portal: the stylesheet lobby.css is missing from the static files")
	}
	key := cfg.SecretKey
	p.sessions = webkit.NewSessions(key, "lobby_guest", cfg.Policy.SessionTTL, cfg.SecureCookies, webkit.SessionClock(cfg.Now))
	p.registered = webkit.NewBox(key, "portal/registered")
	p.regCookie = webkit.NewSigner(key, "portal/registered-cookie")
	if u, err := url.Parse(cfg.BaseURL); err == nil {
		p.basePath = strings.TrimRight(u.EscapedPath(), "/")
	}
	p.approve = webkit.NewSigner(key, "portal/approve")
	p.deny = webkit.NewSigner(key, "portal/deny")
	p.nonces = webkit.NewSigner(key, "portal/nonce")
	p.nonceKey = webkit.DeriveKey(key, "portal/nonce")
	gcfg := cfg.guestConfig(p.render)
	gcfg.ApprovalLinks = p.approvalLinks
	if p.guests, err = guest.New(gcfg); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	p.proxy = webkit.ProxyTrust{Header: cfg.ProxyHeader, Hops: cfg.TrustedProxyHops}
	if cfg.TrustProxyHeaders && cfg.ProxyHeader == "" {
		p.proxy.Header = webkit.XForwardedFor
	}
	trust := webkit.TrustProxy(p.proxy)
	l := cfg.Limits
	p.limitRegister = webkit.NewRateLimiter(l.Register.rate(), l.Register.Burst, cfg.Now, trust)
	p.limitLogin = webkit.NewRateLimiter(l.Login.rate(), l.Login.Burst, cfg.Now, trust)
	p.limitResend = webkit.NewRateLimiter(l.Resend.rate(), l.Resend.Burst, cfg.Now, trust)
	// Per address and client (see addressKey): resends, and registrations
	// (new, or for a registered address) in a bucket of their own.
	p.limitAddress = webkit.NewRateLimiter(l.ResendPerAddress.rate(), l.ResendPerAddress.Burst, cfg.Now, trust)
	p.limitRegAddress = webkit.NewRateLimiter(l.ResendPerAddress.rate(), l.ResendPerAddress.Burst, cfg.Now, trust)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.guests.EnsureGuestTypes(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Guests returns the Service of guest rules the portal works with, for
// other pages (the sponsor's, the admin's) to share: one set of rules, one
// clock, one mailer.
func (p *Portal) Guests() *guest.Service { return p.guests }

// Handler serves the guest pages. It expects its mount prefix stripped
// (http.StripPrefix) and links with relative URLs, so it works under any
// prefix:
//
//	GET /                     → register (or account when signed in)
//	GET|POST /register        self-registration
//	GET /registered/{id}?t=   the success page
//	POST /registered/{id}/login  its "Sign in now" button (ShowCredentials, or guest email off)
//	GET|POST /login           sign-in (?return=/local/path)
//	POST /logout              sign-out
//	GET /account              the signed-in guest's account
//	GET|POST /resend          email me my credentials again
//	GET|POST /approve/{token} approval link (GET asks, POST approves)
//	GET|POST /deny/{token}    denial link
//	GET /static/…             the stylesheet
//	GET /brand/theme.css?v=   the admin's accent colour (portal settings)
//	GET /brand/logo?v=        the admin's logo (portal settings)
//	GET /language/{code}?next= the language switcher: keeps code in a cookie, back to next
//
// Every POST needs the CSRF token; register, login and resend are rate
// limited per client; request bodies are limited to MaxBodyBytes.
func (p *Portal) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.home)
	mux.HandleFunc("GET /register", p.getRegister)
	mux.Handle("POST /register", p.limitRegister.Limit(http.HandlerFunc(p.postRegister)))
	mux.HandleFunc("GET /registered/{id}", p.getRegistered)
	mux.Handle("POST /registered/{id}/login", p.limitLogin.Limit(http.HandlerFunc(p.postSignInNow)))
	mux.HandleFunc("GET /login", p.getLogin)
	mux.Handle("POST /login", p.limitLogin.Limit(http.HandlerFunc(p.postLogin)))
	mux.HandleFunc("POST /logout", p.postLogout)
	mux.HandleFunc("GET /account", p.getAccount)
	mux.HandleFunc("GET /resend", p.getResend)
	mux.Handle("POST /resend", p.limitResend.Limit(http.HandlerFunc(p.postResend)))
	mux.HandleFunc("GET /approve/{token}", p.decision(true, false))
	mux.HandleFunc("POST /approve/{token}", p.decision(true, true))
	mux.HandleFunc("GET /deny/{token}", p.decision(false, false))
	mux.HandleFunc("POST /deny/{token}", p.decision(false, true))
	mux.HandleFunc("GET /language/{code}", p.setLanguage)
	mux.HandleFunc("/", p.notFound)

	var pages http.Handler = mux
	pages = webkit.NewCSRF(p.cfg.SecretKey, p.cfg.SecureCookies)(pages)
	pages = webkit.MaxBody(p.cfg.MaxBodyBytes, pages)

	// The static files stay outside the CSRF middleware: an immutable,
	// publicly cached response must not carry a Set-Cookie.
	outer := http.NewServeMux()
	outer.Handle("GET /static/", http.StripPrefix("/static", p.assets))
	outer.HandleFunc("GET /brand/theme.css", p.theme)
	outer.HandleFunc("GET /brand/logo", p.logo)
	outer.Handle("/", pages)

	var h http.Handler = outer
	h = webkit.WithErrorPage(p.errorPage, h)
	h = p.withLanguage(h)
	h = webkit.SecureHeaders(h)
	if webkit.IsHTTPS(p.cfg.BaseURL) {
		h = webkit.StrictTransport(h)
	}
	return normalizePath(h)
}

// normalizePath copes with how the mount stripped the prefix: a path
// without its leading slash gets one, and the mount point itself without a
// trailing slash ("/portal") redirects to "portal/" so that relative links
// resolve inside the mount.
func normalizePath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/") {
			next.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == "" {
			orig, _, _ := strings.Cut(r.RequestURI, "?")
			if !strings.HasSuffix(orig, "/") {
				base := path.Base(orig)
				if base == "." || base == "/" {
					base = "."
				}
				webkit.SeeOther(w, base+"/")
				return
			}
		}
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path = "/" + r.URL.Path
		u.RawPath = ""
		r2.URL = &u
		next.ServeHTTP(w, r2)
	})
}

// view builds the layout data of a page of r.
func (p *Portal) view(r *http.Request, title string, form *webkit.Form, data any) *webkit.View {
	root := webkit.RelRoot(r.URL.Path)
	ps := p.settings(r.Context())
	loc := p.loc(r)
	v := &webkit.View{
		Lang:     loc.Lang(),
		Loc:      loc,
		Here:     here(r),
		SiteName: ps.SiteName,
		Title:    title,
		Root:     root,
		StyleURL: root + "static/" + p.assets.URL("lobby.css"),
		CSRF:     webkit.CSRFToken(r),
		Form:     form,
		Data:     data,
	}
	if v.Here != "" {
		v.Languages = p.words.Choices(loc.Lang())
	}
	form.SetWords(webkit.FieldWords{Optional: loc.T("layout.optional"), Error: loc.T("layout.error")})
	if _, ok := p.sessions.Get(r); ok {
		v.LogoutURL = root + "logout"
	}
	ver := strconv.FormatInt(ps.Version, 10)
	if ps.Accent != "" {
		v.ThemeURL = root + "brand/theme.css?v=" + ver
	}
	if ps.LogoType != "" {
		v.LogoURL = root + "brand/logo?v=" + ver
	}
	return v
}

// page renders page name with status.
func (p *Portal) page(w http.ResponseWriter, r *http.Request, status int, name string, v *webkit.View) {
	w.Header().Add("Vary", "Accept-Language, Cookie") // the page's language (see withLanguage)
	if err := p.pages.Render(w, status, name, v); err != nil {
		p.log.ErrorContext(r.Context(), "portal: render page", "page", name, "error", err.Error())
	}
}

// messageData is the data of the message page.
type messageData struct {
	Paragraphs []string
	Link       *webkit.Link
}

// message renders a page with a title, paragraphs and an optional link
// (relative to the portal root).
func (p *Portal) message(w http.ResponseWriter, r *http.Request, status int, title string, link *webkit.Link, paragraphs ...string) {
	v := p.view(r, title, nil, nil)
	if link != nil {
		l := *link
		l.Href = v.Root + l.Href
		link = &l
	}
	v.Data = messageData{Paragraphs: paragraphs, Link: link}
	p.page(w, r, status, "message", v)
}

// errorPage is the webkit.ErrorPage of the portal.
//
// The messages of webkit's middlewares (CSRF, body and rate limits) and
// of the statuses below are said in the page's language; msg is shown as
// given otherwise (callers pass it translated).
func (p *Portal) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	loc := p.loc(r)
	title := http.StatusText(status)
	switch status {
	case http.StatusForbidden:
		title = loc.T("portal.error.403_title")
		if msg == webkit.CSRFMessage {
			msg = loc.T("portal.error.403")
		}
	case http.StatusTooManyRequests:
		title = loc.T("portal.error.429_title")
		if msg == webkit.RateLimitMessage {
			msg = loc.T("portal.error.429")
		}
	case http.StatusRequestEntityTooLarge:
		title = loc.T("portal.error.413_title")
		if msg == webkit.TooLargeMessage {
			msg = loc.T("portal.error.413")
		}
	case http.StatusNotFound:
		title = loc.T("portal.error.404_title")
	case http.StatusInternalServerError:
		title = loc.T("portal.error.500_title")
	case http.StatusServiceUnavailable:
		title = loc.T("portal.error.503_title")
		if msg == webkit.UnavailableMessage {
			msg = loc.T("portal.error.503")
		}
		webkit.SetRetryAfter(w)
	}
	p.message(w, r, status, title, &webkit.Link{Href: "", Text: loc.T("portal.error.back")}, msg)
}

// fail answers after logging err; nothing has changed. When the database
// is briefly out of reach (webkit.StatusFor) the answer is 503 with
// Retry-After, and the page asks to try again in a minute; else it is 500.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	if webkit.StatusFor(err) == http.StatusServiceUnavailable {
		p.log.WarnContext(r.Context(), "portal: "+what+": the database is unavailable", "error", err.Error())
		p.errorPage(w, r, http.StatusServiceUnavailable, webkit.UnavailableMessage)
		return
	}
	p.log.ErrorContext(r.Context(), "portal: "+what, "error", err.Error())
	p.errorPage(w, r, http.StatusInternalServerError, p.loc(r).T("portal.error.500"))
}

func (p *Portal) home(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.Guest(r); ok {
		webkit.SeeOther(w, "account")
		return
	}
	webkit.SeeOther(w, "register")
}

func (p *Portal) notFound(w http.ResponseWriter, r *http.Request) {
	p.errorPage(w, r, http.StatusNotFound, p.loc(r).T("portal.error.404"))
}

// link returns the external URL of a portal path, for emails.
func (p *Portal) link(rel string) string { return p.cfg.BaseURL + "/" + rel }

// formatTime shows t on a page of r, in r's language.
func (p *Portal) formatTime(r *http.Request, t time.Time) string {
	return p.loc(r).Date(t.In(p.cfg.Policy.TimeZone))
}

// guestName is how emails and pages address a guest.
func guestName(g *storage.Guest) string { return guest.Name(g) }

// track hands committed messages to the mailer; it returns the Future of
// the first, or nil.
func (p *Portal) track(ids ...uuid.UUID) *notify.Future {
	if p.cfg.Mail == nil {
		return nil
	}
	var first *notify.Future
	for i, id := range ids {
		f := p.cfg.Mail.Track(id)
		if i == 0 {
			first = f
		}
	}
	return first
}

// clientIP is the client's address for r (see Config.ProxyHeader).
func (p *Portal) clientIP(r *http.Request) string { return p.ClientIP(r) }

// ClientIP is the client's address for r as the portal takes it, from the
// connection or from the trusted proxy's header (see Config.ProxyHeader).
func (p *Portal) ClientIP(r *http.Request) string { return p.proxy.ClientIP(r) }

// safeReturn returns s when it is a local absolute path (no scheme, no
// host, no "//" or "/\" that a browser would take for another site), else "".
func safeReturn(s string) string {
	if s == "" || len(s) > 2000 || s[0] != '/' || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") ||
		strings.ContainsAny(s, "\\") || hasControl(s) {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return s
}
