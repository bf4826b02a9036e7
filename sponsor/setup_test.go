package sponsor

import (
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/testclock"
	"github.com/lobbyhq/lobby/internal/teststore"
	"github.com/lobbyhq/lobby/storage"
)

// mount is where the tests mount the sponsor side: under a prefix, to
// prove the relative links work there.
const mount = "/lobby/sponsor"

type bundle struct {
	store  storage.Store
	guests *guest.Service // the guest rules the sponsor side acts through
	clock  *testclock.Clock
	srv    *httptest.Server
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

// setup opens a store of backend and serves the sponsor side on it.
func setup(t testing.TB, backend string, mod func(*Config)) *bundle {
	t.Helper()
	clk := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	st := teststore.Open(t, backend, clk.Now)
	// The guest rules, without a mail sender: mail waits in the outbox
	// (the root package's tests send it through the emulator).
	gs, err := guest.New(guest.Config{Store: st, BaseURL: "http://lobby.test/lobby/portal", Now: clk.Now,
		Logger: slog.New(slog.DiscardHandler), Policy: guest.Policy{TimeZone: time.UTC}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gs.EnsureGuestTypes(t.Context()); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, Guests: gs, BaseURL: "http://lobby.test" + mount, SecretKey: []byte(strings.Repeat("k", 32)),
		Now: clk.Now, TimeZone: time.UTC, PageSize: 3, Logger: slog.New(slog.DiscardHandler), Login: Limit{Burst: 1000, Every: time.Millisecond}}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(mount+"/", http.StripPrefix(mount, s.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &bundle{store: st, guests: gs, clock: clk, srv: srv}
}

// staff creates a staff user with password pw (a cheap bcrypt hash).
func (b *bundle) staff(t *testing.T, username, pw string, role storage.Role, group string) *storage.Staff {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	st := &storage.Staff{Username: username, Email: username + "@corp.example", DisplayName: "Staff " + username,
		Role: role, PasswordHash: string(h), Group: group}
	if err := b.store.CreateStaff(t.Context(), st); err != nil {
		t.Fatalf("CreateStaff(%s): %v", username, err)
	}
	return st
}

// guest creates a guest sponsored by sponsor (nil: none).
func (b *bundle) guest(t *testing.T, first, last string, sponsor *storage.Staff, status storage.GuestStatus, validFor time.Duration) *storage.Guest {
	t.Helper()
	now := b.clock.Now()
	g := &storage.Guest{Username: strings.ToLower(first + "." + last), Password: "GuestSecret-" + first,
		FirstName: first, LastName: last, Email: strings.ToLower(first) + "@guest.example", Company: "Acme " + last,
		Status: status, ValidFrom: now, ValidUntil: now.Add(validFor), GuestType: "daily"}
	if sponsor != nil {
		g.SponsorID = sponsor.ID
	}
	if err := b.store.CreateGuest(t.Context(), g); err != nil {
		t.Fatalf("CreateGuest(%s): %v", first, err)
	}
	b.clock.Advance(time.Second) // distinct creation times: a stable "newest first"
	return g
}

// client is a browser: a cookie jar, no redirects followed.
type client struct {
	t    testing.TB
	b    *bundle
	http *http.Client
}

func (b *bundle) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
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

// signIn posts the sign-in form.
func (c *client) signIn(username, pw string) resp {
	c.t.Helper()
	return c.post("/login", c.csrf("/login"), url.Values{"username": {username}, "password": {pw}})
}

// mustSignIn signs in and fails the test unless it worked.
func (c *client) mustSignIn(username, pw string) {
	c.t.Helper()
	if r := c.signIn(username, pw); r.status != http.StatusSeeOther {
		c.t.Fatalf("sign in as %s: %d %s", username, r.status, r.body)
	}
}

// signedIn reports whether the guests list shows (not a redirect to sign in).
func (c *client) signedIn() bool {
	c.t.Helper()
	r := c.get("/")
	switch r.status {
	case http.StatusOK:
		return true
	case http.StatusSeeOther:
		if !strings.HasSuffix(r.location, "login") {
			c.t.Fatalf("GET / redirected to %q, want login", r.location)
		}
		return false
	}
	c.t.Fatalf("GET / = %d", r.status)
	return false
}

// cookies returns the client's cookies for the mount.
func (c *client) cookies() []*http.Cookie {
	u, _ := url.Parse(c.b.srv.URL + mount + "/")
	return c.http.Jar.Cookies(u)
}

// setCookies replaces the client's cookies with cs.
func (c *client) setCookies(cs []*http.Cookie) {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(c.b.srv.URL + mount + "/")
	jar.SetCookies(u, cs)
	c.http.Jar = jar
}

func cookieValue(cs []*http.Cookie, name string) string {
	for _, c := range cs {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
