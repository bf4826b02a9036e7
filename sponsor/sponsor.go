package sponsor

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/web"
)

// pageNames are the page templates the sponsor side renders
// (web/pages/sponsor/NAME.html).
var pageNames = []string{"batch", "confirm", "create", "guest", "guests", "import", "login", "message", "password", "sheet", "tokens"}

// Sponsor is the sponsor side of Lobby.
type Sponsor struct {
	cfg        Config
	store      storage.Store
	log        *slog.Logger
	now        func() time.Time
	pages      *webkit.Templates
	assets     *webkit.Assets
	sessions   *webkit.Sessions
	limitLogin *webkit.RateLimiter
	proxy      webkit.ProxyTrust
	guests     *guest.Service
	limitMail  *webkit.RateLimiter // the actions that send mail, per staff user
	flashes    *webkit.Box
	flashPath  string
}

// New checks cfg and parses the page templates.
func New(cfg Config) (*Sponsor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sponsor{cfg: cfg, store: cfg.Store, log: cfg.Logger, now: cfg.Now, guests: cfg.Guests}
	if s.pages, err = webkit.ParseTemplates(web.Pages(), "sponsor", nil); err != nil {
		return nil, fmt.Errorf("sponsor: %w", err)
	}
	if names := s.pages.Names(); !slices.Equal(names, pageNames) {
		return nil, fmt.Errorf("sponsor: page templates are %v, want %v", names, pageNames)
	}
	if s.assets, err = webkit.NewAssets(web.Static()); err != nil {
		return nil, fmt.Errorf("sponsor: %w", err)
	}
	if s.assets.URL("lobby.css") == "" {
		return nil, errors.New("sponsor: the stylesheet lobby.css is missing from the static files")
	}
	s.sessions = webkit.NewSessions(cfg.SecretKey, "lobby_staff", cfg.SessionTTL, cfg.SecureCookies, webkit.SessionClock(cfg.Now))
	s.proxy = webkit.ProxyTrust{Header: cfg.ProxyHeader, Hops: cfg.TrustedProxyHops}
	if cfg.TrustProxyHeaders && cfg.ProxyHeader == "" {
		s.proxy.Header = webkit.XForwardedFor
	}
	s.limitLogin = webkit.NewRateLimiter(cfg.Login.rate(), cfg.Login.Burst, cfg.Now, webkit.TrustProxy(s.proxy))
	s.initActions()
	return s, nil
}

// Handler serves the sponsor pages. It expects its mount prefix stripped
// (http.StripPrefix) and links with relative URLs, so it works under any
// prefix:
//
//	GET /                  the guests list (?q= &status= &sort= &after=)
//	GET /guests/{id}       a guest's details and history, with the actions' forms
//	POST /guests/{id}/resend|reset|extend|suspend|reinstate|approve|deny
//	GET|POST /guests/{id}/delete   confirm, then delete
//	GET|POST /login        sign-in for sponsors and admins
//	POST /logout           sign-out (on every device)
//	GET|POST /password     change one's own password
//	GET|POST /create       create one guest (PermCreate)
//	GET|POST /batch        a batch of accounts and its printable sheet (PermBatch)
//	POST /batch/csv        the batch as CSV, by the sheet's sealed token
//	GET|POST /import       create guests from an uploaded CSV file (PermBatch and PermCreate)
//	GET|POST /tokens       the staff user's REST API tokens: make one (shown once), list
//	POST /tokens/{id}/revoke   revoke one of them
//	GET /static/…          the stylesheet
//
// Every POST needs the CSRF token; sign-in is rate limited per client and
// throttled per account; request bodies are limited to MaxBodyBytes.
func (s *Sponsor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.signedIn(s.getGuests))
	mux.HandleFunc("GET /guests/{id}", s.signedIn(s.getGuest))
	// The sponsor's actions on a guest (actions.go).
	mux.HandleFunc("POST /guests/{id}/resend", s.signedIn(s.postResend))
	mux.HandleFunc("POST /guests/{id}/reset", s.signedIn(s.postReset))
	mux.HandleFunc("POST /guests/{id}/extend", s.signedIn(s.postExtend))
	mux.HandleFunc("POST /guests/{id}/suspend", s.signedIn(s.postSuspend))
	mux.HandleFunc("POST /guests/{id}/reinstate", s.signedIn(s.postReinstate))
	mux.HandleFunc("GET /guests/{id}/delete", s.signedIn(s.getDelete))
	mux.HandleFunc("POST /guests/{id}/delete", s.signedIn(s.postDelete))
	mux.HandleFunc("POST /guests/{id}/approve", s.signedIn(s.postApprove))
	mux.HandleFunc("POST /guests/{id}/deny", s.signedIn(s.postDeny))
	mux.HandleFunc("GET /login", s.getLogin)
	mux.Handle("POST /login", s.limitLogin.Limit(http.HandlerFunc(s.postLogin)))
	mux.HandleFunc("POST /logout", s.postLogout)
	mux.HandleFunc("GET /password", s.signedIn(s.getPassword))
	mux.HandleFunc("POST /password", s.signedIn(s.postPassword))
	// Creating guests: create.go, batch.go, import.go.
	mux.HandleFunc("GET /create", s.signedIn(s.getCreate))
	mux.HandleFunc("POST /create", s.signedIn(s.postCreate))
	mux.HandleFunc("GET /batch", s.signedIn(s.getBatch))
	mux.HandleFunc("POST /batch", s.signedIn(s.postBatch))
	mux.HandleFunc("POST /batch/csv", s.signedIn(s.postBatchCSV))
	mux.HandleFunc("GET /import", s.signedIn(s.getImport))
	mux.HandleFunc("POST /import", s.signedIn(s.postImport))
	// The staff user's own REST API tokens (tokens.go).
	mux.HandleFunc("GET /tokens", s.signedIn(s.getTokens))
	mux.HandleFunc("POST /tokens", s.signedIn(s.postTokens))
	mux.HandleFunc("POST /tokens/{id}/revoke", s.signedIn(s.postRevokeToken))
	mux.HandleFunc("/", s.notFound)

	csrf := webkit.NewCSRF(s.cfg.SecretKey, s.cfg.SecureCookies)
	var pages http.Handler = mux
	pages = csrf(pages)
	pages = webkit.MaxBody(s.cfg.MaxBodyBytes, pages)

	// Static files stay outside the CSRF middleware: an immutable, publicly
	// cached response must not carry a Set-Cookie.
	outer := http.NewServeMux()
	outer.Handle("GET /static/", http.StripPrefix("/static", s.assets))
	// A CSV upload is multipart and larger than a form: its own body limit,
	// and its CSRF field read from the multipart form (import.go).
	outer.Handle("POST /import", s.importLimits(csrf(mux)))
	outer.Handle("/", pages)

	var h http.Handler = outer
	h = webkit.WithErrorPage(s.errorPage, h)
	h = webkit.SecureHeaders(h)
	if webkit.IsHTTPS(s.cfg.BaseURL) {
		h = webkit.StrictTransport(h)
	}
	return normalizePath(h)
}

// normalizePath copes with how the mount stripped the prefix (as the
// portal's does): a path without its leading slash gets one, and the mount
// point without a trailing slash redirects to "sponsor/", so that relative
// links resolve inside the mount.
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

// nav is the page's navigation for signed-in staff.
type nav struct {
	Root    string // the relative URL of the sponsor root
	Name    string // who is signed in
	Role    storage.Role
	Current string // "guests", "pending", "password", "create", "batch", "import"
	// MayCreate and MayBatch show the links to the create, batch and
	// import pages (mayAdd).
	MayCreate, MayBatch bool
	// AdminURL links to the admin pages, for admins only; "" for others.
	AdminURL string
}

// pageData is what every sponsor page has besides its own data.
type pageData struct {
	Nav  *nav
	Page any
}

// view builds the layout data of a page of r; who is the signed-in staff
// user or nil.
func (s *Sponsor) view(r *http.Request, title string, who *storage.Staff, current string, form *webkit.Form, data any) *webkit.View {
	root := webkit.RelRoot(r.URL.Path)
	pd := pageData{Page: data}
	v := &webkit.View{
		Lang:     "en",
		SiteName: s.cfg.SiteName,
		Title:    title,
		Root:     root,
		StyleURL: root + "static/" + s.assets.URL("lobby.css"),
		CSRF:     webkit.CSRFToken(r),
		Form:     form,
	}
	if who != nil {
		v.LogoutURL = root + "logout"
		pd.Nav = &nav{Root: root, Name: cmpName(who), Role: who.Role, Current: current}
		pd.Nav.MayCreate, pd.Nav.MayBatch = s.mayAdd(r, who)
		if who.Role == storage.RoleAdmin {
			pd.Nav.AdminURL = s.cfg.AdminURL
		}
	}
	v.Data = pd
	return v
}

func cmpName(st *storage.Staff) string {
	if st.DisplayName != "" {
		return st.DisplayName
	}
	return st.Username
}

// page renders page name with status.
func (s *Sponsor) page(w http.ResponseWriter, r *http.Request, status int, name string, v *webkit.View) {
	if err := s.pages.Render(w, status, name, v); err != nil {
		s.log.ErrorContext(r.Context(), "sponsor: render page", "page", name, "error", err.Error())
	}
}

// messageData is the data of the message page.
type messageData struct {
	Paragraphs []string
	Link       *webkit.Link
}

// message renders a page with a title, paragraphs and a link back to the
// guests list.
func (s *Sponsor) message(w http.ResponseWriter, r *http.Request, status int, title string, paragraphs ...string) {
	who, _ := s.Staff(r)
	v := s.view(r, title, who, "", nil, nil)
	link := &webkit.Link{Href: v.Root, Text: "Back to your guests"}
	if who == nil {
		link = &webkit.Link{Href: v.Root + "login", Text: "Sign in"}
	}
	v.Data = pageData{Nav: v.Data.(pageData).Nav, Page: messageData{Paragraphs: paragraphs, Link: link}}
	s.page(w, r, status, "message", v)
}

// errorPage is the webkit.ErrorPage of the sponsor side.
func (s *Sponsor) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	title := http.StatusText(status)
	switch status {
	case http.StatusForbidden:
		title = "This form has expired"
	case http.StatusTooManyRequests:
		title = "Too many attempts"
	case http.StatusRequestEntityTooLarge:
		title = "Too much text"
	case http.StatusNotFound:
		title = "Page not found"
	case http.StatusInternalServerError:
		title = "Something went wrong"
	}
	s.message(w, r, status, title, msg)
}

// fail answers with a 500 page after logging err; nothing has changed.
func (s *Sponsor) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.ErrorContext(r.Context(), "sponsor: "+what, "error", err.Error())
	s.errorPage(w, r, http.StatusInternalServerError,
		"We could not do that just now, and nothing was changed. Try again in a minute; if it keeps failing, tell your administrator.")
}

func (s *Sponsor) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, "There is no page at this address. Check the link, or go back to your guests.")
}

// formatTime shows t on a page.
func (s *Sponsor) formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(s.cfg.TimeZone).Format("Mon 2 Jan 2006, 15:04 MST")
}
