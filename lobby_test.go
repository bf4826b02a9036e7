package lobby

import (
	"context"
	"crypto/rand"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres"
	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
	"github.com/lobbyhq/lobby/storage/sqlite"
)

// testClock is the injected clock: real time plus an offset tests advance.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// host is how a test host app embeds Lobby.
type host string

const (
	hostNetHTTP host = "net/http"
	hostEcho    host = "echo"
)

// testBundle is a running host app with Lobby inside: a real SQLite store,
// the real Exchange Online emulator with the SMTP settings saved in the
// store, the real dispatcher and transport, over real HTTP.
type testBundle struct {
	clock  *testClock
	key    []byte
	store  storage.Store
	emu    *exchangetest.Server
	lobby  *Lobby
	srv    *httptest.Server
	client *http.Client // with a cookie jar; does not follow redirects
}

// setup starts a host of the given kind on SQLite. mod may change the
// Config; unless it sets MailSettings, the emulator's settings are saved in
// the store.
func setup(t *testing.T, kind host, mod func(*testBundle, *Config)) *testBundle {
	t.Helper()
	return setupOn(t, "sqlite", kind, mod)
}

// setupOn is setup on the named backend: "sqlite", or "postgres" in a
// schema of its own on LOBBY_TEST_DATABASE_URL (skipped without it).
func setupOn(t *testing.T, backend string, kind host, mod func(*testBundle, *Config)) *testBundle {
	t.Helper()
	ctx := t.Context()
	b := &testBundle{clock: &testClock{}, key: make([]byte, storage.KeySize)}
	rand.Read(b.key)

	sealer, err := storage.NewSealer(b.key)
	if err != nil {
		t.Fatal(err)
	}
	opts := storage.Options{Sealer: sealer, Now: b.clock.Now}
	var st storage.Store
	if backend == "postgres" {
		dbURL, _ := pgtest.Schema(t)
		st, err = postgres.Open(ctx, dbURL, postgres.Options{Options: opts})
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "lobby.db"), opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	b.store = st
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})

	b.emu = exchangetest.NewServer(t, exchangetest.Options{})
	b.srv = httptest.NewUnstartedServer(nil)
	cfg := Config{
		Store:     st,
		BaseURL:   "http://" + b.srv.Listener.Addr().String() + "/guest",
		SecretKey: b.key,
		Logger:    testLogger(t),
		Now:       b.clock.Now,
	}
	if mod != nil {
		mod(b, &cfg)
	}
	if cfg.MailSettings == nil {
		_, err = notify.SaveSettings(ctx, st, notify.Settings{
			Host:              b.emu.SMTPHost(),
			Port:              b.emu.SMTPPort(),
			Security:          notify.SecurityStartTLS,
			From:              b.emu.Mailbox(),
			AuthMode:          notify.AuthExchangeOnline,
			TenantID:          b.emu.Tenant(),
			ClientID:          b.emu.ClientID(),
			ClientSecret:      b.emu.ClientSecret(),
			TokenEndpointBase: b.emu.TokenEndpointBase(),
			TrustedCAPEM:      string(b.emu.CACertPEM()),
		}, 0)
		if err != nil {
			t.Fatal(err)
		}
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.lobby = l

	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	b.srv.Config.Handler = newHost(t, kind, l)
	b.srv.Start()
	t.Cleanup(b.srv.Close)

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b.client = &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return b
}

// newHost builds the host's routes: Lobby under /guest and /wifi for
// signed-in guests only, which answers with the guest's username.
func newHost(t *testing.T, kind host, l *Lobby) http.Handler {
	wifi := func(w http.ResponseWriter, r *http.Request) {
		g, ok := GuestFrom(r.Context())
		if !ok {
			t.Error("the guarded handler ran without a guest in the context")
			http.Error(w, "no guest", http.StatusInternalServerError)
			return
		}
		if g.Password != "" {
			t.Error("GuestFrom handed the host the guest's password")
		}
		fmt.Fprintf(w, "online as %s", g.Username)
	}
	switch kind {
	case hostEcho:
		e := echo.New()
		l.MountEcho(e, "/guest")
		e.GET("/wifi", echo.WrapHandler(http.HandlerFunc(wifi)), l.RequireGuestEcho())
		return e
	default:
		mux := http.NewServeMux()
		mux.Handle("/guest/", http.StripPrefix("/guest", l.Handler()))
		mux.Handle("GET /wifi", l.RequireGuest(http.HandlerFunc(wifi)))
		return mux
	}
}

// get fetches path (relative to the server) without following redirects.
func (b *testBundle) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	res, err := b.client.Get(b.srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return res, string(body)
}

// post sends a form to path without following redirects.
func (b *testBundle) post(t *testing.T, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	res, err := b.client.PostForm(b.srv.URL+path, form)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return res, string(body)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hidden returns the hidden form fields of a page.
func hidden(t *testing.T, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("csrf_token") == "" {
		t.Fatalf("no csrf_token field in the page:\n%s", page)
	}
	return v
}

// register fills in and sends the registration form.
func (b *testBundle) register(t *testing.T, first, last, email string) {
	t.Helper()
	res, page := b.get(t, "/guest/portal/register")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET register: %d\n%s", res.StatusCode, page)
	}
	form := hidden(t, page)
	if form.Get("nonce") == "" {
		t.Fatalf("no nonce field in the register page")
	}
	form.Set("first_name", first)
	form.Set("last_name", last)
	form.Set("email", email)
	form.Set("terms", "on")
	res, page = b.post(t, "/guest/portal/register", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST register: %d, want 303\n%s", res.StatusCode, page)
	}
	loc, err := res.Location()
	if err != nil || !strings.HasPrefix(loc.Path, "/guest/portal/registered/") {
		t.Fatalf("POST register: Location %v (%v), want the success page", loc, err)
	}
	// The success page waits briefly for the email to go out.
	res, page = b.get(t, loc.RequestURI())
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", loc, res.StatusCode, page)
	}
}

// login signs in through the portal's login page, coming from returnTo.
func (b *testBundle) login(t *testing.T, username, password, returnTo string) *http.Response {
	t.Helper()
	res, page := b.get(t, "/guest/portal/login?return="+url.QueryEscape(returnTo))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET login: %d\n%s", res.StatusCode, page)
	}
	form := hidden(t, page)
	if got := form.Get("return"); got != returnTo {
		t.Fatalf("login form return = %q, want %q", got, returnTo)
	}
	form.Set("username", username)
	form.Set("password", password)
	res, page = b.post(t, "/guest/portal/login", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST login: %d, want 303\n%s", res.StatusCode, page)
	}
	return res
}

var (
	usernameRE = regexp.MustCompile(`(?m)^\s*Username:\s*(\S+)\s*$`)
	passwordRE = regexp.MustCompile(`(?m)^\s*Password:\s*(\S+)\s*$`)
)

// credentials waits for the credentials email to addr and reads the
// username and password out of it.
func (b *testBundle) credentials(t *testing.T, addr string) (username, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	msgs, err := b.emu.WaitForMessages(ctx, 1)
	if err != nil {
		t.Fatalf("no credentials email arrived: %v (mail log: %s)", err, b.mailLog(t))
	}
	var msg *exchangetest.Message
	for i := range msgs {
		if len(msgs[i].To) == 1 && strings.EqualFold(msgs[i].To[0], addr) {
			msg = &msgs[i]
		}
	}
	if msg == nil {
		t.Fatalf("no email to %s among %d", addr, len(msgs))
	}
	if !strings.EqualFold(msg.AuthUser, b.emu.Mailbox()) {
		t.Errorf("the email was sent authenticated as %q, want the mailbox %q", msg.AuthUser, b.emu.Mailbox())
	}
	text, err := textBody(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	u, p := usernameRE.FindStringSubmatch(text), passwordRE.FindStringSubmatch(text)
	if u == nil || p == nil {
		t.Fatalf("no username and password in the email %q:\n%s", msg.Subject, text)
	}
	return u[1], p[1]
}

// mailLog describes the outbox, for failure messages.
func (b *testBundle) mailLog(t *testing.T) string {
	msgs, err := b.store.ListMail(context.Background(), storage.MailFilter{})
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, m := range msgs {
		parts = append(parts, fmt.Sprintf("%s %s attempts=%d %s", m.Kind, m.Status, m.Attempts, m.Diagnosis))
	}
	return strings.Join(parts, "; ")
}

// wantLoginRedirect checks that res sends the browser to the portal's
// login page, returning to returnTo.
func wantLoginRedirect(t *testing.T, res *http.Response, returnTo string) {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303 to the login page", res.StatusCode)
	}
	want := "/guest/portal/login?return=" + url.QueryEscape(returnTo)
	if got := res.Header.Get("Location"); got != want {
		t.Fatalf("Location %q, want %q", got, want)
	}
}

// TestGuestJourney is the whole path through the real parts: a guest
// registers, receives the credentials by email (real dispatcher, real SMTP
// transport with XOAUTH2 over STARTTLS to the emulator, whose CA is trusted
// through the saved settings), signs in with exactly those credentials and
// reaches the host's guarded page; suspending the guest, and the end of the
// guest's validity, take that away on the next request. It runs for a
// net/http host and an echo host on SQLite, and for a net/http host on
// Postgres when LOBBY_TEST_DATABASE_URL is set.
func TestGuestJourney(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		backend string
		kind    host
	}{{"sqlite", hostNetHTTP}, {"sqlite", hostEcho}, {"postgres", hostNetHTTP}} {
		t.Run(tc.backend+"/"+string(tc.kind), func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, tc.backend, tc.kind, nil)
			ctx := t.Context()
			const email = "ada.lovelace@example.org"
			const wifi = "/wifi?ssid=guest&lang=en"

			res, _ := b.get(t, wifi)
			wantLoginRedirect(t, res, wifi)

			b.register(t, "Ada", "Lovelace", email)
			username, password := b.credentials(t, email)

			res = b.login(t, username, password, wifi)
			if got := res.Header.Get("Location"); got != wifi {
				t.Fatalf("after login: Location %q, want back to %q", got, wifi)
			}
			res, body := b.get(t, wifi)
			if res.StatusCode != http.StatusOK || body != "online as "+username {
				t.Fatalf("signed in: %d %q, want 200 %q", res.StatusCode, body, "online as "+username)
			}
			if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("guarded page Cache-Control %q, want no-store", cc)
			}

			g, err := b.store.GetGuestByUsername(ctx, username)
			if err != nil {
				t.Fatal(err)
			}
			setStatus := func(s storage.GuestStatus) {
				t.Helper()
				if _, err := b.store.UpdateGuest(ctx, g.ID, storage.GuestUpdate{Status: &s}); err != nil {
					t.Fatal(err)
				}
			}

			// A sponsor suspends the guest: the next request is turned away.
			setStatus(storage.GuestSuspended)
			res, _ = b.get(t, wifi)
			wantLoginRedirect(t, res, wifi)

			// Reinstated: the same session works again, so what turned the
			// guest away was the status, not the session.
			setStatus(storage.GuestActive)
			if res, body := b.get(t, wifi); res.StatusCode != http.StatusOK {
				t.Fatalf("reinstated: %d %q, want 200", res.StatusCode, body)
			}

			// The validity ends within the session's lifetime: once the
			// clock passes it, the guest is turned away.
			until := b.clock.Now().Add(time.Hour)
			if _, err := b.store.UpdateGuest(ctx, g.ID, storage.GuestUpdate{ValidUntil: &until}); err != nil {
				t.Fatal(err)
			}
			if res, body := b.get(t, wifi); res.StatusCode != http.StatusOK {
				t.Fatalf("before expiry: %d %q, want 200", res.StatusCode, body)
			}
			b.clock.Advance(2 * time.Hour)
			res, _ = b.get(t, wifi)
			wantLoginRedirect(t, res, wifi)
		})
	}
}

// TestRunAndClose: Run returns nil once its context ends, and Close may be
// called more than once.
func TestRunAndClose(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	st, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "lobby.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := New(Config{Store: st, BaseURL: "https://wifi.example.com/guest", SecretKey: key, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	for range 2 {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}
