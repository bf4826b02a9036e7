package admin

import (
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/web"
)

// pageNames are the page templates the admin side renders
// (web/pages/admin/NAME.html), sorted. A new page adds its name here and its
// routes in Handler.
var pageNames = []string{
	"alarms", "apitokens", "audit", "certificates", "export", "group", "groups", "guesttype", "guesttypes", "home", "mail", "mailmsg", "message",
	"portal", "smtp", "staff", "staffnew", "staffpw", "staffuser", "template", "templates",
}

// navPartial holds the admin pages' navigation ("adminnav"), shared by
// every admin page like the layout.
const navPartial = "admin/nav.partial"

// selectData is a select's field and choices (the "select" template).
type selectData struct {
	Field   *webkit.Field
	Options []option
}

// funcs are the admin pages' template functions.
var funcs = template.FuncMap{
	"pair": func(f *webkit.Field, o []option) selectData { return selectData{Field: f, Options: o} },
	"list": func(f ...*webkit.Field) []*webkit.Field { return f },
}

// Admin is the admin side of Lobby.
type Admin struct {
	cfg     Config
	store   storage.Store
	log     *slog.Logger
	now     func() time.Time
	pages   *webkit.Templates
	assets  *webkit.Assets
	proxy   webkit.ProxyTrust
	flashes *webkit.Box
	// basePath is the admin root's path, such as "/lobby/admin/": the
	// flash cookie's path and the start of sign-in return addresses.
	basePath string

	limitTests *webkit.RateLimiter // Test Connection and Send Test Email, per admin
	proofs     *webkit.Signer      // passing Test Connection proofs (smtp.go)
	pending    *webkit.Box         // secrets typed for a test, carried to Save (smtp.go)
	hashKey    []byte              // keys the settings hash of a proof
}

// New checks cfg and parses the page templates.
func New(cfg Config) (*Admin, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Admin{cfg: cfg, store: cfg.Store, log: cfg.Logger, now: cfg.Now}
	if a.pages, err = webkit.ParseTemplates(withPartial(web.Pages(), navPartial), "admin", funcs); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if names, want := a.pages.Names(), slices.Sorted(slices.Values(pageNames)); !slices.Equal(names, want) {
		return nil, fmt.Errorf("admin: page templates are %v, want %v", names, want)
	}
	if a.assets, err = webkit.NewAssets(web.Static()); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if a.assets.URL("lobby.css") == "" {
		return nil, errors.New("admin: the stylesheet lobby.css is missing from the static files")
	}
	a.proxy = webkit.ProxyTrust{Header: cfg.ProxyHeader, Hops: cfg.TrustedProxyHops}
	if cfg.TrustProxyHeaders && cfg.ProxyHeader == "" {
		a.proxy.Header = webkit.XForwardedFor
	}
	a.flashes = webkit.NewBox(cfg.SecretKey, "admin flash")
	a.basePath = "/"
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Path != "" {
		a.basePath = strings.TrimRight(u.Path, "/") + "/"
	}
	a.limitTests = webkit.NewRateLimiter(cfg.Tests.rate(), cfg.Tests.Burst, cfg.Now)
	a.proofs = webkit.NewSigner(cfg.SecretKey, "admin smtp test proof")
	a.pending = webkit.NewBox(cfg.SecretKey, "admin smtp pending secrets")
	a.hashKey = webkit.DeriveKey(cfg.SecretKey, "admin smtp settings hash")
	return a, nil
}

// Handler serves the admin pages. It expects its mount prefix stripped
// (http.StripPrefix) and links with relative URLs, so it works under any
// prefix. Every page requires a signed-in admin: a sponsor gets 403, anyone
// else is sent to sign in. Every POST needs the CSRF token; request bodies
// are limited to MaxBodyBytes.
//
//	GET /                    the sections
//	GET /smtp                SMTP server settings
//	POST /smtp/test          Test Connection (rate limited)
//	POST /smtp/save          Save, only after a passing test of exactly these settings
//	POST /smtp/send          Send Test Email (rate limited)
//	GET|POST /certificates   trusted CA certificates: list, add
//	POST /certificates/delete
//	GET /alarms              alarms, active or cleared (?show=cleared)
//	POST /alarms/ack         acknowledge an alarm
//	GET /mail                the mail log: filters, search, pages
//	GET /mail/{id}           one message (never its payload)
//	POST /mail/{id}/retry    retry a dead letter now
//	GET /staff               sponsors and admins
//	GET|POST /staff/new      create a staff user
//	GET /staff/{id}          one staff user
//	POST /staff/{id}/…       disable (or enable), group, password, delete
//	GET /groups              sponsor groups
//	GET|POST /groups/edit    create or edit a group (?name=)
//	POST /groups/delete
//	GET /audit               the audit log: filters, pages
//	GET /export              export and import of the settings
//	GET /export/settings.json
//	POST /export/import
//	GET /guest-types         the guest types
//	GET|POST /guest-types/new, /guest-types/{name}   create, edit
//	POST /guest-types/{name}/delete
//	GET|POST /portal         the guest portal's settings: show, save (versioned)
//	GET /templates           the email templates, one per kind
//	GET /templates/{name}    one template's editor
//	POST /templates/{name}/preview|save|restore|send
//	GET /static/…            the stylesheet
func (a *Admin) Handler() http.Handler {
	mux := http.NewServeMux()
	// The admin pages: one block; each page's handlers live in its own file.
	mux.HandleFunc("GET /{$}", a.admin(a.getHome))
	mux.HandleFunc("GET /smtp", a.admin(a.getSMTP))
	mux.HandleFunc("POST /smtp/test", a.admin(a.postSMTPTest))
	mux.HandleFunc("POST /smtp/save", a.admin(a.postSMTPSave))
	mux.HandleFunc("POST /smtp/send", a.admin(a.postSMTPSend))
	mux.HandleFunc("GET /certificates", a.admin(a.getCertificates))
	mux.HandleFunc("POST /certificates", a.admin(a.postCertificates))
	mux.HandleFunc("POST /certificates/delete", a.admin(a.postCertificateDelete))
	// Operations (alarms, mail log, staff, groups, audit, export).
	mux.HandleFunc("GET /alarms", a.admin(a.getAlarms))
	mux.HandleFunc("POST /alarms/ack", a.admin(a.postAlarmAck))
	mux.HandleFunc("GET /mail", a.admin(a.getMailLog))
	mux.HandleFunc("GET /mail/{id}", a.admin(a.getMail))
	mux.HandleFunc("POST /mail/{id}/retry", a.admin(a.postMailRetry))
	mux.HandleFunc("GET /staff", a.admin(a.getStaff))
	mux.HandleFunc("GET /staff/new", a.admin(a.getStaffNew))
	mux.HandleFunc("POST /staff/new", a.admin(a.postStaffNew))
	mux.HandleFunc("GET /staff/{id}", a.admin(a.getStaffUser))
	mux.HandleFunc("POST /staff/{id}/disable", a.admin(a.postStaffDisable))
	mux.HandleFunc("POST /staff/{id}/group", a.admin(a.postStaffGroup))
	mux.HandleFunc("POST /staff/{id}/password", a.admin(a.postStaffPassword))
	mux.HandleFunc("POST /staff/{id}/delete", a.admin(a.postStaffDelete))
	mux.HandleFunc("GET /api-tokens", a.admin(a.getAPITokens))
	mux.HandleFunc("POST /api-tokens/{id}/revoke", a.admin(a.postAPITokenRevoke))
	mux.HandleFunc("GET /groups", a.admin(a.getGroups))
	mux.HandleFunc("GET /groups/edit", a.admin(a.getGroupEdit))
	mux.HandleFunc("POST /groups/edit", a.admin(a.postGroupEdit))
	mux.HandleFunc("POST /groups/delete", a.admin(a.postGroupDelete))
	mux.HandleFunc("GET /audit", a.admin(a.getAudit))
	mux.HandleFunc("GET /export", a.admin(a.getExport))
	mux.HandleFunc("GET /export/settings.json", a.admin(a.getExportFile))
	mux.HandleFunc("POST /export/import", a.admin(a.postImport))
	// Guest types, portal settings, email templates (guesttypes.go, portal.go, templates.go).
	mux.HandleFunc("GET /guest-types", a.admin(a.getGuestTypes))
	mux.HandleFunc("GET /guest-types/new", a.admin(a.getGuestTypeNew))
	mux.HandleFunc("POST /guest-types/new", a.admin(a.postGuestTypeNew))
	mux.HandleFunc("GET /guest-types/{name}", a.admin(a.getGuestType))
	mux.HandleFunc("POST /guest-types/{name}", a.admin(a.postGuestType))
	mux.HandleFunc("POST /guest-types/{name}/delete", a.admin(a.postGuestTypeDelete))
	mux.HandleFunc("GET /portal", a.admin(a.getPortal))
	mux.HandleFunc("POST /portal", a.admin(a.postPortal))
	mux.HandleFunc("GET /templates", a.admin(a.getTemplates))
	mux.HandleFunc("GET /templates/{name}", a.admin(a.getTemplate))
	mux.HandleFunc("POST /templates/{name}/preview", a.admin(a.postTemplatePreview))
	mux.HandleFunc("POST /templates/{name}/save", a.admin(a.postTemplateSave))
	mux.HandleFunc("POST /templates/{name}/restore", a.admin(a.postTemplateRestore))
	mux.HandleFunc("POST /templates/{name}/send", a.admin(a.postTemplateSend))
	mux.HandleFunc("/", a.admin(a.notFound))

	var pages http.Handler = mux
	pages = webkit.NewCSRF(a.cfg.SecretKey, a.cfg.SecureCookies)(pages)
	pages = a.multipartCSRF(pages) // file uploads: certificates, settings
	pages = webkit.MaxBody(a.cfg.MaxBodyBytes, pages)

	// Static files stay outside the CSRF middleware: an immutable, publicly
	// cached response must not carry a Set-Cookie.
	outer := http.NewServeMux()
	outer.Handle("GET /static/", http.StripPrefix("/static", a.assets))
	outer.Handle("/", pages)

	var h http.Handler = outer
	h = webkit.WithErrorPage(a.errorPage, h)
	h = webkit.SecureHeaders(h)
	if webkit.IsHTTPS(a.cfg.BaseURL) {
		h = webkit.StrictTransport(h)
	}
	return normalizePath(h)
}

// section is one entry of the home page and the navigation.
type section struct {
	Key, Href, Title, Text string
}

// sections are the admin sections built so far, in the order of the home
// page and the navigation. A new section adds itself here.
var sections = []section{
	{Key: "smtp", Href: "smtp", Title: "SMTP server",
		Text: "The mail server Lobby sends through (Microsoft Exchange Online with OAuth, or SMTP with a password): Test Connection, Save, Send Test Email."},
	{Key: "certificates", Href: "certificates", Title: "Trusted certificates",
		Text: "CA certificates trusted for the SMTP server's and the token endpoint's TLS, besides the system's."},
	{Key: "alarms", Href: "alarms", Title: "Alarms",
		Text: "What needs an administrator: the client secret expiring, email failing, dead letters. Acknowledge what you have seen."},
	{Key: "mail", Href: "mail", Title: "Mail log",
		Text: "Every email Lobby sent or is sending: status, attempts, the last diagnosis; retry a dead letter."},
	{Key: "staff", Href: "staff", Title: "Staff",
		Text: "Sponsors and administrators: create, disable, delete, assign a sponsor group, reset a password."},
	{Key: "groups", Href: "groups", Title: "Sponsor groups",
		Text: "What the sponsors of each group may do, and with which guest types."},
	{Key: "audit", Href: "audit", Title: "Audit log",
		Text: "Who did what, and when."},
	{Key: "export", Href: "export", Title: "Export and import",
		Text: "The settings as a JSON file, without secrets: download them, or import a file."},
	{Key: "guest-types", Href: "guest-types", Title: "Guest types",
		Text: "How long each kind of guest may stay, expiry notice, maximum extension, approval, and which sponsor groups may use it."},
	{Key: "portal", Href: "portal", Title: "Guest portal",
		Text: "What guests see and may do: site name, colour, registration fields, acceptable-use terms, domains, approval, registration code."},
	{Key: "templates", Href: "templates", Title: "Email templates",
		Text: "The emails Lobby sends, per kind: edit, preview with sample data, restore the default, send a test."},
}

// nav is the navigation of the admin pages.
type nav struct {
	Root     string // the relative URL of the admin root
	Name     string // who is signed in
	Current  string // a section's Key, or "home"
	Sections []section
}

// pageData is what every admin page has besides its own data.
type pageData struct {
	Nav  *nav
	Page any
}

// view builds the layout data of a page of r for st (nil: nobody).
func (a *Admin) view(r *http.Request, title string, st *storage.Staff, current string, form *webkit.Form, data any) *webkit.View {
	root := webkit.RelRoot(r.URL.Path)
	pd := pageData{Page: data}
	if st != nil {
		name := st.DisplayName
		if name == "" {
			name = st.Username
		}
		pd.Nav = &nav{Root: root, Name: name, Current: current, Sections: sections}
	}
	v := &webkit.View{
		Lang:     "en",
		SiteName: a.cfg.SiteName,
		Title:    title,
		Root:     root,
		StyleURL: root + "static/" + a.assets.URL("lobby.css"),
		CSRF:     webkit.CSRFToken(r),
		Form:     form,
		Data:     pd,
	}
	if st != nil {
		v.LogoutURL = a.cfg.SignOutURL
	}
	return v
}

// page renders page name with status.
func (a *Admin) page(w http.ResponseWriter, r *http.Request, status int, name string, v *webkit.View) {
	if err := a.pages.Render(w, status, name, v); err != nil {
		a.log.ErrorContext(r.Context(), "admin: render page", "page", name, "error", err.Error())
	}
}

// messageData is the data of the message page.
type messageData struct {
	Paragraphs []string
	Link       *webkit.Link
}

// message renders a page with a title, paragraphs and a link.
func (a *Admin) message(w http.ResponseWriter, r *http.Request, status int, st *storage.Staff, title string, link *webkit.Link, paragraphs ...string) {
	v := a.view(r, title, st, "", nil, nil)
	v.Data = pageData{Nav: v.Data.(pageData).Nav, Page: messageData{Paragraphs: paragraphs, Link: link}}
	a.page(w, r, status, "message", v)
}

// errorPage is the webkit.ErrorPage of the admin side (CSRF, body limits,
// rate limits).
func (a *Admin) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
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
	st, ok := a.cfg.Staff.Staff(r)
	if !ok || st.Role != storage.RoleAdmin {
		st = nil
	}
	root := webkit.RelRoot(r.URL.Path)
	a.message(w, r, status, st, title, &webkit.Link{Href: root, Text: "Back to administration"}, msg)
}

// fail answers with a 500 page after logging err; nothing has changed.
func (a *Admin) fail(w http.ResponseWriter, r *http.Request, st *storage.Staff, what string, err error) {
	a.log.ErrorContext(r.Context(), "admin: "+what, "error", err.Error())
	a.message(w, r, http.StatusInternalServerError, st, "Something went wrong",
		&webkit.Link{Href: webkit.RelRoot(r.URL.Path), Text: "Back to administration"},
		"We could not do that just now, and nothing was changed. Try again in a minute; if it keeps failing, the error is in the server's log.")
}

func (a *Admin) notFound(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a.message(w, r, http.StatusNotFound, st, "Page not found",
		&webkit.Link{Href: webkit.RelRoot(r.URL.Path), Text: "Back to administration"},
		"There is no page at this address. Check the link, or start again from the administration home page.")
}

// admin runs h for a signed-in admin. Anyone not signed in is sent to sign
// in, with this page as the return address; a signed-in sponsor gets 403.
func (a *Admin) admin(h func(http.ResponseWriter, *http.Request, *storage.Staff)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, ok := a.cfg.Staff.Staff(r)
		if !ok {
			ret := a.basePath // a form's action is no page to come back to
			if r.Method == http.MethodGet {
				ret += strings.TrimPrefix(r.URL.Path, "/")
				if r.URL.RawQuery != "" {
					ret += "?" + r.URL.RawQuery
				}
			}
			webkit.SeeOther(w, a.cfg.SignInURL+"?return="+url.QueryEscape(ret))
			return
		}
		if st.Role != storage.RoleAdmin {
			a.log.InfoContext(r.Context(), "admin page refused", "reason", "not an admin", "staff_id", st.ID, "path", r.URL.Path,
				"client", a.proxy.ClientIP(r))
			a.message(w, r, http.StatusForbidden, nil, "Administrators only",
				&webkit.Link{Href: a.cfg.SignInURL, Text: "Go to the sponsor pages"},
				"These pages are for administrators, and you are signed in as a sponsor. Ask an administrator if you need something changed.")
			return
		}
		h(w, r, st)
	}
}

// audit records what st did; a failure to record is logged, not shown.
// detail must never hold a secret.
func (a *Admin) audit(r *http.Request, st *storage.Staff, action, subject, detail string) {
	err := a.store.Audit(r.Context(), storage.AuditEntry{Actor: "staff:" + st.Username, Action: action, Subject: subject, Detail: detail})
	if err != nil {
		a.log.WarnContext(r.Context(), "admin: audit", "action", action, "error", err.Error())
	}
}

// formatTime shows t on a page.
func (a *Admin) formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(a.cfg.TimeZone).Format("Mon 2 Jan 2006, 15:04 MST")
}

// normalizePath copes with how the mount stripped the prefix (as the
// sponsor side's does): a path without its leading slash gets one, and the
// mount point without a trailing slash redirects to "admin/", so that
// relative links resolve inside the mount.
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

// partialFS adds one more shared template to the page files: its Glob of
// the shared templates ("*.html") also lists extra, so that every page of
// a directory can use what extra defines.
type partialFS struct {
	fs.FS
	extra string
}

func withPartial(fsys fs.FS, extra string) fs.FS { return partialFS{FS: fsys, extra: extra} }

func (p partialFS) Glob(pattern string) ([]string, error) {
	names, err := fs.Glob(p.FS, pattern)
	if err != nil {
		return nil, err
	}
	if pattern == "*.html" {
		names = append(names, p.extra)
	}
	return names, nil
}

// multipartCSRF reads a multipart form (a certificate file) within the
// body limit, so that the CSRF check finds its token field, which it reads
// only from URL-encoded forms: the token is handed on as the CSRF header,
// which the check compares with the cookie as it would the field (as the
// sponsor side's import does).
func (a *Admin) multipartCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" && r.Method == http.MethodPost {
			if err := r.ParseMultipartForm(a.cfg.MaxBodyBytes); err != nil {
				if webkit.IsTooLarge(err) {
					webkit.Error(w, r, http.StatusRequestEntityTooLarge, webkit.TooLargeMessage)
					return
				}
				webkit.Error(w, r, http.StatusBadRequest, "The upload could not be read. Go back, choose the file again and send it.")
				return
			}
			defer func() { _ = r.MultipartForm.RemoveAll() }()
			r.Header.Del(webkit.CSRFHeader)
			if tok := r.PostForm.Get(webkit.CSRFField); tok != "" {
				r.Header.Set(webkit.CSRFHeader, tok)
			}
		}
		next.ServeHTTP(w, r)
	})
}
