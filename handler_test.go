package lobby

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// TestHandlerRoutes checks every route of Handler under a /guest prefix.
func TestHandlerRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, nil)
	css := b.lobby.assets.URL("lobby.css")
	if css == "" {
		t.Fatal("no lobby.css among the static assets")
	}

	tests := []struct {
		path     string
		status   int
		location string   // for redirects
		contains []string // in the body
		header   [2]string
	}{
		{path: "/guest/", status: http.StatusSeeOther, location: "/guest/portal/"},
		{path: "/guest/portal", status: http.StatusSeeOther, location: "/guest/portal/"},
		{path: "/guest/portal/", status: http.StatusSeeOther, location: "register"},
		{path: "/guest/portal/register", status: http.StatusOK, contains: []string{"Register for guest access", `name="csrf_token"`}},
		{path: "/guest/sponsor", status: http.StatusSeeOther, location: "/guest/sponsor/"},
		{path: "/guest/sponsor/", status: http.StatusSeeOther, location: "./login"},
		{path: "/guest/sponsor/login", status: http.StatusOK, contains: []string{"For sponsors and administrators", `name="csrf_token"`,
			`href="./static/` + css + `"`}},
		{path: "/guest/admin/", status: http.StatusSeeOther, location: "/guest/sponsor/login?return=%2Fguest%2Fadmin%2F",
			header: [2]string{"X-Frame-Options", "DENY"}},
		{path: "/guest/admin", status: http.StatusSeeOther, location: "/guest/admin/"},
		{path: "/guest/static/lobby.css", status: http.StatusOK, header: [2]string{"Cache-Control", "no-cache"}},
		{path: "/guest/static/" + css, status: http.StatusOK, header: [2]string{"Cache-Control", "public, max-age=31536000, immutable"}},
		{path: "/guest/static/missing.css", status: http.StatusNotFound},
		{path: "/guest/healthz", status: http.StatusOK, contains: []string{"ok"}},
		{path: "/guest/readyz", status: http.StatusOK, contains: []string{"ok"}},
		{path: "/guest/dev/mailbox", status: http.StatusNotFound},
		{path: "/guest/nowhere", status: http.StatusNotFound},
	}
	for _, tc := range tests {
		res, body := b.get(t, tc.path)
		if res.StatusCode != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, res.StatusCode, tc.status)
			continue
		}
		if got := res.Header.Get("Location"); got != tc.location {
			t.Errorf("GET %s: Location %q, want %q", tc.path, got, tc.location)
		}
		for _, s := range tc.contains {
			if !strings.Contains(body, s) {
				t.Errorf("GET %s: body lacks %q:\n%s", tc.path, s, body)
			}
		}
		if tc.header[0] != "" {
			if got := res.Header.Get(tc.header[0]); got != tc.header[1] {
				t.Errorf("GET %s: %s %q, want %q", tc.path, tc.header[0], got, tc.header[1])
			}
		}
	}

	// The mount point itself, stripped to an empty path, goes to the portal
	// of the mount rather than to the host's root.
	rec := httptest.NewRecorder()
	http.StripPrefix("/guest", b.lobby.Handler()).ServeHTTP(rec, httptest.NewRequest("GET", "/guest", nil))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/guest/portal/" {
		t.Errorf("GET /guest (stripped to \"\"): %d %q, want 303 /guest/portal/", rec.Code, rec.Header().Get("Location"))
	}

	// Metrics come from the Lobby's own registry: its HTTP counters (the
	// requests above), the dispatcher's, the SMTP transport's and the Go runtime's.
	if res, _ := b.get(t, "/guest/metrics"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics without ServeMetrics: %d, want 404 (metrics are not public by default)", res.StatusCode)
	}
	rec = httptest.NewRecorder()
	b.lobby.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	res, body := rec.Result(), rec.Body.String()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	for _, s := range []string{
		`lobby_http_requests_total{code="200",handler="portal",method="get"}`,
		`lobby_http_requests_total{code="200",handler="sponsor",method="get"}`,
		"lobby_mail_sent_total", "lobby_smtp_connections_open", "go_goroutines",
	} {
		if !strings.Contains(body, s) {
			t.Errorf("/metrics lacks %s", s)
		}
	}
}

// downStore is a store whose database does not answer pings.
type downStore struct{ storage.Store }

func (downStore) Ping(context.Context) error { return errors.New("connection refused") }

// TestReadyzDown: /readyz answers 503 when the database does not.
func TestReadyzDown(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, func(b *testBundle, cfg *Config) { cfg.Store = downStore{cfg.Store} })
	res, body := b.get(t, "/guest/readyz")
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /readyz with the database down: %d %q, want 503", res.StatusCode, body)
	}
	if res, _ := b.get(t, "/guest/healthz"); res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz with the database down: %d, want 200", res.StatusCode)
	}
}

// TestDevMailbox: with DevMailbox and the emulator's settings given as
// MailSettings (nothing saved in the store), mail reaches the emulator and
// /dev/mailbox lists it newest first, text bodies decoded and escaped.
func TestDevMailbox(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, func(b *testBundle, cfg *Config) {
		s := DevMailSettings(b.emu)
		cfg.DevMailbox = b.emu
		cfg.MailSettings = func(context.Context) (notify.Settings, error) { return s, nil }
	})
	if _, err := notify.LoadSettings(t.Context(), b.store); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("settings in the store: %v; the dev settings must not be saved", err)
	}
	res, body := b.get(t, "/guest/dev/mailbox")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "No mail yet") {
		t.Fatalf("empty mailbox: %d\n%s", res.StatusCode, body)
	}

	for _, m := range []notify.Message{
		{Kind: "admin.test", To: []string{"first@example.org"}, Subject: "First message",
			Text: "Hello <script>alert(1)</script>, here is a long line with accents: café, naïve, and an equals sign = in it, " +
				"long enough to be wrapped by quoted-printable encoding."},
		{Kind: "admin.test", To: []string{"second@example.org"}, Subject: "Second message", Text: "Second body", HTML: "<p>Second body</p>"},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		r := b.lobby.Dispatcher().Submit(ctx, m).Wait(ctx)
		cancel()
		if r.Status != notify.StatusSent {
			t.Fatalf("send %q: %+v", m.Subject, r)
		}
		// Distinct receive times order the page.
		b.clock.Advance(time.Second)
	}

	res, body = b.get(t, "/guest/dev/mailbox")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /dev/mailbox: %d", res.StatusCode)
	}
	for _, s := range []string{
		"first@example.org", "second@example.org", b.emu.Mailbox(),
		"Hello &lt;script&gt;alert(1)&lt;/script&gt;", "café, naïve, and an equals sign = in it, long enough",
	} {
		if !strings.Contains(body, s) {
			t.Errorf("mailbox page lacks %q:\n%s", s, body)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("the mailbox page shows mail unescaped")
	}
	if i, j := strings.Index(body, "Second message"), strings.Index(body, "First message"); i < 0 || j < 0 || i > j {
		t.Errorf("the mailbox is not newest first (second at %d, first at %d)", i, j)
	}
}

// TestMountEchoGroup mounts Lobby in an echo group and guards a group
// route: paths are stripped of the group's and the mount's prefix, and the
// gate sends strangers to the login page under the mount.
func TestMountEchoGroup(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, func(b *testBundle, cfg *Config) {
		cfg.BaseURL = "https://wifi.example.com/app/guest"
	})
	e := echo.New()
	g := e.Group("/app")
	b.lobby.MountEcho(g, "/guest")
	g.GET("/wifi", func(c echo.Context) error { return c.String(http.StatusOK, "online") }, b.lobby.RequireGuestEcho())

	tests := []struct {
		path, location string
		status         int
	}{
		{"/app/guest", "/app/guest/portal/", http.StatusSeeOther},
		{"/app/guest/", "/app/guest/portal/", http.StatusSeeOther},
		{"/app/guest/portal/register", "", http.StatusOK},
		{"/app/guest/healthz", "", http.StatusOK},
		{"/app/wifi?x=1", "/app/guest/portal/login?return=%2Fapp%2Fwifi%3Fx%3D1", http.StatusSeeOther},
		// An untidy path is tidied within the mount, never sent out of it.
		{"/app/guest/portal//login?return=%2Fapp%2Fwifi", "/app/guest/portal/login?return=%2Fapp%2Fwifi", http.StatusPermanentRedirect},
		{"/app/guest/portal/x/../register", "/app/guest/portal/register", http.StatusPermanentRedirect},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Location") != tc.location {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, rec.Code, rec.Header().Get("Location"), tc.status, tc.location)
		}
	}
}

// TestMountEchoRoot mounts Lobby at the root of an echo app, beside the
// app's own routes.
func TestMountEchoRoot(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, func(b *testBundle, cfg *Config) { cfg.BaseURL = "https://wifi.example.com" })
	e := echo.New()
	b.lobby.MountEcho(e, "/")
	e.GET("/wifi", func(c echo.Context) error { return c.String(http.StatusOK, "online") }, b.lobby.RequireGuestEcho())
	for _, tc := range []struct {
		path, location string
		status         int
	}{
		{"/", "/portal/", http.StatusSeeOther},
		{"/portal/register", "", http.StatusOK},
		{"/readyz", "", http.StatusOK},
		{"/wifi", "/portal/login?return=%2Fwifi", http.StatusSeeOther},
	} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Location") != tc.location {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, rec.Code, rec.Header().Get("Location"), tc.status, tc.location)
		}
	}
}
