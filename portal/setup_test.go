package portal

import (
	"context"
	"encoding/json"
	"github.com/lobbyhq/lobby/internal/testclock"
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

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/sqlite"
)

// mount is where the tests mount the portal: under a prefix, to prove the
// relative links work there.
const mount = "/guest/portal"

// testClock is a settable clock shared by the store and the portal.
type testClock = testclock.Clock

// fakeMailer records Track calls; with a dispatcher it hands them on.
type fakeMailer struct {
	mu      sync.Mutex
	tracked []uuid.UUID
	next    *notify.Dispatcher
}

func (m *fakeMailer) Track(id uuid.UUID) *notify.Future {
	m.mu.Lock()
	m.tracked = append(m.tracked, id)
	m.mu.Unlock()
	if m.next == nil {
		return nil
	}
	return m.next.Track(id)
}

func (m *fakeMailer) Tracked() []uuid.UUID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]uuid.UUID(nil), m.tracked...)
}

type testBundle struct {
	store  storage.Store
	portal *Portal
	srv    *httptest.Server
	mail   *fakeMailer
	clock  *testClock
}

// setup opens a SQLite store in a temp dir and serves a portal built with
// cfg's non-zero fields under mount.
func setup(t *testing.T, mod func(*Config)) *testBundle {
	t.Helper()
	key, err := storage.ParseKey(strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := storage.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	clk := testclock.New(time.Now().UTC().Truncate(time.Second))
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lobby.db"), storage.Options{Sealer: sealer, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	b := &testBundle{store: st, mail: &fakeMailer{}, clock: clk}
	cfg := Config{
		Store:     st,
		Mail:      b.mail,
		BaseURL:   "https://wifi.example.com" + mount + "/",
		SecretKey: key,
		Now:       clk.Now,
		Policy: Policy{
			SiteName: "Test Lobby",
			Fields: Fields{
				Phone:         FieldRule{Show: true},
				Company:       FieldRule{Show: true, Required: true},
				PersonVisited: FieldRule{Show: true},
				Reason:        FieldRule{Show: true},
			},
			SuccessWait: 2 * time.Second,
		},
		Limits: Limits{Register: Limit{Burst: 50, Every: time.Second}, Login: Limit{Burst: 50, Every: time.Second}},
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.portal = p
	mux := http.NewServeMux()
	mux.Handle(mount+"/", http.StripPrefix(mount, p.Handler()))
	mux.HandleFunc("/app", func(w http.ResponseWriter, r *http.Request) {
		if g, ok := p.Guest(r); ok {
			_, _ = io.WriteString(w, "hello "+g.Username)
			return
		}
		http.Error(w, "not signed in", http.StatusUnauthorized)
	})
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

// client is a browser: a cookie jar, and redirects are not followed.
type client struct {
	t   *testing.T
	b   *testBundle
	hc  *http.Client
	jar *cookiejar.Jar
	// acceptLanguage, when set, is sent as Accept-Language.
	acceptLanguage string
}

func (b *testBundle) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, b: b, jar: jar, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       20 * time.Second,
	}}
}

type response struct {
	*http.Response
	body string
}

// location is the redirect target resolved against the request, as a browser does.
func (r response) location() string {
	loc := r.Header.Get("Location")
	if loc == "" {
		return ""
	}
	u, err := r.Request.URL.Parse(loc)
	if err != nil {
		return "bad location " + loc
	}
	return u.RequestURI()
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	if c.acceptLanguage != "" {
		req.Header.Set("Accept-Language", c.acceptLanguage)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{resp, string(body)}
}

// get fetches a path (relative to the server; "portal:" paths under mount).
func (c *client) get(path string) response {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.b.srv.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	req, err := http.NewRequest("POST", c.b.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var (
	csrfRe  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	nonceRe = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
)

func hidden(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in page:\n%s", re, body)
	}
	return html.UnescapeString(m[1])
}

// registerForm fetches the register page and returns a valid form.
func (c *client) registerForm() url.Values {
	c.t.Helper()
	r := c.get(mount + "/register")
	if r.StatusCode != 200 {
		c.t.Fatalf("GET register: %d\n%s", r.StatusCode, r.body)
	}
	return url.Values{
		"csrf_token": {hidden(c.t, csrfRe, r.body)},
		"nonce":      {hidden(c.t, nonceRe, r.body)},
		"first_name": {"Ada"},
		"last_name":  {"Lovelace"},
		"email":      {"Ada@Example.com"},
		"phone":      {"+44 20 7946 0000"},
		"company":    {"Analytical Engines Ltd"},
		"reason":     {"Meeting"},
		"terms":      {"yes"},
	}
}

// csrf fetches path and returns its CSRF token.
func (c *client) csrf(path string) string {
	c.t.Helper()
	return hidden(c.t, csrfRe, c.get(path).body)
}

// outbox returns the queued messages, decoded, oldest first.
func (b *testBundle) outbox(t *testing.T) []notify.Message {
	t.Helper()
	rows, err := b.store.ListMail(context.Background(), storage.MailFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.Message
	for i := len(rows) - 1; i >= 0; i-- {
		row, err := b.store.GetMail(context.Background(), rows[i].ID) // lists carry no payload
		if err != nil {
			t.Fatal(err)
		}
		var m notify.Message
		if err := json.Unmarshal(row.Payload, &m); err != nil {
			t.Fatalf("outbox payload: %v", err)
		}
		out = append(out, m)
	}
	return out
}

func (b *testBundle) mailCount(t *testing.T) int {
	t.Helper()
	counts, err := b.store.CountMail(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

func (b *testBundle) guests(t *testing.T) []*storage.Guest {
	t.Helper()
	page, err := b.store.ListGuests(context.Background(), storage.GuestFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	gs := make([]*storage.Guest, len(page.Guests))
	for i, g := range page.Guests {
		if gs[i], err = b.store.GetGuest(context.Background(), g.ID); err != nil { // lists carry no password
			t.Fatal(err)
		}
	}
	return gs
}

// field returns the value after "label:" in an email's text.
func field(t *testing.T, text, label string) string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), label+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %q in email:\n%s", label, text)
	return ""
}
