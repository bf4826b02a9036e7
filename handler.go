package lobby

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"path"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lobbyhq/lobby/internal/i18n"
	"github.com/lobbyhq/lobby/internal/webkit"
)

// readyTimeout bounds the database ping of /readyz.
const readyTimeout = 2 * time.Second

// Handler returns the HTTP handler of Lobby. It expects the prefix it is
// mounted under stripped (http.StripPrefix, or MountEcho), and serves:
//
//	/portal/      the guest portal (registration, login, logout, resend)
//	/sponsor/     the sponsor side: staff sign-in, guests list, guest pages
//	/admin/       the admin side (admins only): SMTP settings, certificates, …
//	/api/v1/      the JSON REST API (staff API tokens; /api/v1/openapi.json)
//	/static/      embedded stylesheet and assets; a URL with ?v=<content hash>
//	              is cacheable for a year
//	/forward-auth the check of a reverse proxy's forward auth (nginx
//	              auth_request, Caddy forward_auth, Traefik ForwardAuth):
//	              200 with X-Lobby-Guest-Id, X-Lobby-Username and
//	              X-Lobby-Email for a signed-in guest, else the way to the
//	              sign-in (see package forwardauth)
//	/captive-portal/api  the RFC 8908 captive-portal API (see package captive)
//	/dev/mailbox  the development emulator's captured mail (only with Config.DevMailbox)
//	/radius/      the endpoint of FreeRADIUS's rlm_rest (only with Config.RADIUSSecret)
//	/metrics      Prometheus metrics of this Lobby (its own registry)
//	/healthz      200 while the process serves
//	/readyz       200 when the database answers and takes writes, 503 otherwise
//	              (a write probe at most every 10s, and any write that failed
//	              for lack of space or an I/O error in the last minute)
//	/             redirects to the portal
//	anything else a styled "Page not found" page (404)
//
// Under an https BaseURL every answer carries Strict-Transport-Security.
//
// The same handler is returned on every call.
func (l *Lobby) Handler() http.Handler { return l.handler }

// buildHandler assembles the routes.
func (l *Lobby) buildHandler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern, name string, h http.Handler) {
		mux.Handle(pattern, l.instrument(name, h))
	}

	toPortal := l.redirect(l.basePath + "/portal/")
	route("/{$}", "root", toPortal)
	route("/portal", "portal", toPortal)
	route("/portal/", "portal", http.StripPrefix("/portal", l.portal.Handler()))

	route("/sponsor", "sponsor", l.redirect(l.basePath+"/sponsor/"))
	route("/sponsor/", "sponsor", http.StripPrefix("/sponsor", l.sponsor.Handler()))
	route("/admin", "admin", l.redirect(l.basePath+"/admin/"))
	route("/admin/", "admin", http.StripPrefix("/admin", l.admin.Handler()))

	route("/api/v1/", "api", http.StripPrefix("/api/v1", l.api.Handler()))
	route("GET /static/", "static", http.StripPrefix("/static", l.assets))
	route("/forward-auth", "forwardauth", l.forwardAuth)
	route("/captive-portal/api", "captive", l.captive)
	route("/", "notfound", http.HandlerFunc(l.notFound))

	if l.radius != nil {
		route("/radius/", "radius", http.StripPrefix("/radius", l.radius))
	}

	if l.cfg.DevMailbox != nil {
		route("GET /dev/mailbox", "devmailbox", l.devMailbox(l.cfg.DevMailbox))
	}

	if l.cfg.ServeMetrics {
		mux.Handle("GET /metrics", l.MetricsHandler())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		plain(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := l.cfg.Store.Ping(ctx); err != nil {
			l.logger.Warn("lobby: readyz: database does not answer", "backend", l.cfg.Store.Backend(), "error", err.Error())
			plain(w, http.StatusServiceUnavailable, "the database does not answer\n")
			return
		}
		if err := l.writes.check(ctx, l.cfg.Store); err != nil {
			l.logger.Warn("lobby: readyz: database cannot write", "backend", l.cfg.Store.Backend(), "error", err.Error())
			plain(w, http.StatusServiceUnavailable, "the database cannot write (is its disk full?)\n")
			return
		}
		plain(w, http.StatusOK, "ok\n")
	})

	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A request for the mount point itself ("/guest" stripped of
		// "/guest") has an empty path; ServeMux would redirect it to "/"
		// of the host. Send it to the portal instead.
		if r.URL.Path == "" {
			toPortal.ServeHTTP(w, r)
			return
		}
		// ServeMux would redirect an untidy path ("//login", "/a/../b") to
		// its clean form without the mount's prefix; redirect within it.
		if clean := cleanPath(r.URL.Path); clean != r.URL.Path {
			target := l.basePath + clean
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			w.Header().Set("Location", target)
			w.WriteHeader(http.StatusPermanentRedirect)
			return
		}
		mux.ServeHTTP(w, r)
	})
	if webkit.IsHTTPS(l.cfg.BaseURL) {
		h = webkit.StrictTransport(h)
	}
	return h
}

// cleanPath is path.Clean keeping a trailing slash, as ServeMux tidies paths.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// MetricsHandler serves the Prometheus metrics of this Lobby (mail, SMTP
// connections, tokens, HTTP, Go runtime). Handler serves it at /metrics only
// with Config.ServeMetrics; otherwise mount it where only monitoring reaches.
func (l *Lobby) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(l.registry, promhttp.HandlerOpts{Registry: l.registry})
}

// redirect answers 303 with an absolute path. http.Redirect would resolve a
// relative target against the stripped request path, which is wrong under a
// prefix.
func (l *Lobby) redirect(target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusSeeOther)
	})
}

// instrument counts requests and times them per section of the site.
func (l *Lobby) instrument(name string, h http.Handler) http.Handler {
	labels := prometheus.Labels{"handler": name}
	return promhttp.InstrumentHandlerDuration(l.metrics.duration.MustCurryWith(labels),
		promhttp.InstrumentHandlerCounter(l.metrics.requests.MustCurryWith(labels), h))
}

// httpMetrics are the request metrics of the handler.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) httpMetrics {
	m := httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobby_http_requests_total",
			Help: "HTTP requests served by Lobby, by section, method and status code.",
		}, []string{"handler", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lobby_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by section and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"handler", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// plain writes a short plain-text answer.
func plain(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// pageLayout is the frame of Lobby's own pages (the portal has its own),
// styled by the portal's stylesheet so that no inline style is needed under
// the strict Content-Security-Policy of webkit.SecureHeaders.
var pageLayout = template.Must(template.New("layout").Parse(`<!doctype html>
<html lang="{{or .Lang "en"}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{template "title" .}} – Lobby</title>
<link rel="stylesheet" href="{{.Style}}">
</head>
<body>
<header class="site"><div class="wrap"><a class="brand" href="{{.Portal}}">Lobby</a></div></header>
<main id="main" class="wrap">
{{template "content" .}}
</main>
</body>
</html>
`))

// pageData is what the page layout needs, and the page's own Data.
type pageData struct {
	Style  string // the stylesheet's URL
	Portal string // the guest portal's URL
	Lang   string // the page's language ("": English), from a Data with a pageLang method
	Data   any
}

// page renders one of Lobby's own pages with the portal's security headers.
func (l *Lobby) page(w http.ResponseWriter, r *http.Request, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	pd := pageData{
		Style:  l.basePath + "/static/" + l.assets.URL("lobby.css"),
		Portal: l.basePath + "/portal/",
		Data:   data,
	}
	if d, ok := data.(interface{ pageLang() string }); ok {
		pd.Lang = d.pageLang()
	}
	err := t.Execute(&buf, pd)
	if err != nil {
		l.logger.ErrorContext(r.Context(), "lobby: render page", "page", t.Name(), "error", err.Error())
		plain(w, http.StatusInternalServerError, "This page could not be shown; the error is in the server's log.\n")
		return
	}
	webkit.SecureHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
	})).ServeHTTP(w, r)
}

var notFoundPage = template.Must(template.Must(pageLayout.Clone()).Parse(`{{define "title"}}{{.Data.Title}}{{end}}
{{define "content"}}
<h1>{{.Data.Title}}</h1>
<p>{{.Data.Text}}</p>
{{end}}`))

// notFoundData is the 404 page in the language of the request (a guest
// may mistype an address outside the portal).
type notFoundData struct {
	Lang, Title string
	Text        template.HTML
}

func (d notFoundData) pageLang() string { return d.Lang }

// notFound answers an address Lobby does not serve with its own 404 page
// rather than Go's bare text.
func (l *Lobby) notFound(w http.ResponseWriter, r *http.Request) {
	d := notFoundData{Lang: "en", Title: "Page not found",
		Text: template.HTML(`There is no page at this address. Check the link, or start again at the <a href="` + template.HTMLEscapeString(l.basePath+"/portal/") + `">guest portal</a>.`)}
	if words, err := i18n.Default(); err == nil {
		loc := words.Localizer(words.FromRequest(r))
		d = notFoundData{Lang: loc.Lang(), Title: loc.T("portal.error.404_title"), Text: loc.HTML("portal.error.404_root", "PortalURL", l.basePath+"/portal/")}
		w.Header().Add("Vary", "Accept-Language, Cookie")
	}
	l.page(w, r, http.StatusNotFound, notFoundPage, d)
}
