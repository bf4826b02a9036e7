package admin

import (
	"bytes"
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/testclock"
	"github.com/lobbyhq/lobby/internal/teststore"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// mount is where the tests mount the admin side: under a prefix, to prove
// the relative links work there.
const mount = "/lobby/admin"

// signIn is the sign-in page the tests configure.
const signIn = "/lobby/sponsor/login"

// testStaff is the StaffSource of the tests: the cookie "test_staff" names
// the signed-in user (the real sign-in is the sponsor side's, tested with
// the admin pages in the root package).
type testStaff struct{ st storage.Store }

func (s testStaff) Staff(r *http.Request) (*storage.Staff, bool) {
	c, err := r.Cookie("test_staff")
	if err != nil {
		return nil, false
	}
	st, err := s.st.GetStaffByUsername(r.Context(), c.Value)
	if err != nil {
		return nil, false
	}
	return st, true
}

// logBuffer collects every log line of a test, to search for secrets.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type bundle struct {
	store storage.Store
	clock *testclock.Clock
	srv   *httptest.Server
	logs  *logBuffer
	admin *Admin
	mail  *notify.Dispatcher
	// guests are the guest rules the admin pages change.
	guests *guest.Service
	saved  int // SettingsSaved calls
	mu     sync.Mutex
}

// eachBackend runs fn as a parallel subtest per backend.
func eachBackend(t *testing.T, fn func(t *testing.T, b *bundle)) {
	t.Helper()
	for _, name := range teststore.Backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, name, nil))
		})
	}
}

// setup opens a store of backend, runs a mail dispatcher on it (reading the
// stored settings afresh for every send) and serves the admin side.
func setup(t testing.TB, backend string, mod func(*Config)) *bundle {
	t.Helper()
	clk := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	b := &bundle{clock: clk, logs: &logBuffer{}}
	b.store = teststore.Open(t, backend, time.Now)
	logger := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cache := notify.NewSettingsCache(b.store, time.Hour) // only SettingsSaved refreshes it
	d, err := notify.NewDispatcher(notify.DispatcherConfig{Store: b.store, Settings: cache.Get,
		Sender: notify.NewTransport(notify.TransportOptions{Logger: logger}), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	b.mail = d
	runDone := make(chan struct{})
	rctx, stop := context.WithCancel(context.Background())
	go func() { defer close(runDone); _ = d.Run(rctx) }()
	t.Cleanup(func() { stop(); <-runDone })

	guests, err := guest.New(guest.Config{Store: b.store, Mail: d, BaseURL: "http://lobby.test/lobby/portal", Logger: logger,
		Policy: guest.Policy{TimeZone: time.UTC}})
	if err != nil {
		t.Fatal(err)
	}
	b.guests = guests
	cfg := Config{Store: b.store, Guests: guests, Staff: testStaff{b.store}, SignInURL: signIn, SignOutURL: "/lobby/sponsor/logout", BaseURL: "http://lobby.test" + mount,
		SecretKey: []byte(strings.Repeat("k", 32)), Now: clk.Now, TimeZone: time.UTC, Logger: logger, Mail: d,
		SettingsSaved: func() { cache.Invalidate(); b.mu.Lock(); b.saved++; b.mu.Unlock() },
		MailWait:      10 * time.Second, Tests: Limit{Burst: 1000, Every: time.Millisecond}}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.admin = a
	mux := http.NewServeMux()
	mux.Handle(mount+"/", http.StripPrefix(mount, a.Handler()))
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

// staff creates a staff user.
func (b *bundle) staff(t testing.TB, username string, role storage.Role) *storage.Staff {
	t.Helper()
	st := &storage.Staff{Username: username, Email: username + "@corp.example", DisplayName: "Staff " + username,
		Role: role, PasswordHash: "$2a$04$unused.unused.unused.unused.unused.unused.unused.uu"}
	if err := b.store.CreateStaff(t.Context(), st); err != nil {
		t.Fatalf("CreateStaff(%s): %v", username, err)
	}
	return st
}

// client is a browser: a cookie jar, no redirects followed. Every response
// is kept, to search them all for secrets.
type client struct {
	t    testing.TB
	b    *bundle
	http *http.Client
}

// responses are every response the clients of a bundle got, headers
// included.
var responses sync.Map // *bundle → *logBuffer

func (b *bundle) seen() *logBuffer {
	v, _ := responses.LoadOrStore(b, &logBuffer{})
	return v.(*logBuffer)
}

// client returns a browser signed in as username ("" for nobody).
func (b *bundle) client(t testing.TB, username string) *client {
	jar, _ := cookiejar.New(nil)
	if username != "" {
		u, _ := url.Parse(b.srv.URL + "/")
		jar.SetCookies(u, []*http.Cookie{{Name: "test_staff", Value: username, Path: "/"}})
	}
	return &client{t: t, b: b, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type resp struct {
	status   int
	body     string
	location string
}

func (c *client) do(req *http.Request) resp {
	c.t.Helper()
	r, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	seen := c.b.seen()
	_ = r.Header.Write(seen)
	_, _ = seen.Write(body)
	return resp{status: r.StatusCode, body: string(body), location: r.Header.Get("Location")}
}

// get fetches a path under the mount.
func (c *client) get(path string) resp {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.b.srv.URL+mount+path, nil)
	return c.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf reads the CSRF token from the page at path.
func (c *client) csrf(path string) string {
	c.t.Helper()
	r := c.get(path)
	m := csrfRe.FindStringSubmatch(r.body)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s (%d): %s", path, r.status, r.body)
	}
	return html.UnescapeString(m[1])
}

// post sends a form to path with token as its CSRF token ("" for none).
func (c *client) post(path, token string, form url.Values) resp {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if token != "" {
		form.Set("csrf_token", token)
	}
	req, _ := http.NewRequest(http.MethodPost, c.b.srv.URL+mount+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
