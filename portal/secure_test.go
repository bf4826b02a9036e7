package portal

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// serveTLS serves b's portal (and /app) over HTTPS instead of plain HTTP,
// and returns a browser that trusts the test certificate.
func serveTLS(t *testing.T, b *testBundle) *client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(mount+"/", http.StripPrefix(mount, b.portal.Handler()))
	mux.HandleFunc("/app", func(w http.ResponseWriter, r *http.Request) {
		if g, ok := b.portal.Guest(r); ok {
			_, _ = w.Write([]byte("hello " + g.Username))
			return
		}
		http.Error(w, "not signed in", http.StatusUnauthorized)
	})
	b.srv = httptest.NewTLSServer(mux)
	t.Cleanup(b.srv.Close)
	c := b.client(t)
	c.hc.Transport = b.srv.Client().Transport
	return c
}

// TestSecureSessionCookieAndHSTS: under an https base URL the guest
// session cookie is __Host-lobby_guest (Secure, Path=/, no Domain, so that
// no sibling subdomain can set or overwrite it), and every page carries
// Strict-Transport-Security. Under an http base URL neither.
func TestSecureSessionCookieAndHSTS(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.SecureCookies = true })
	c := serveTLS(t, b)
	form := c.registerForm()
	if r := c.post(mount+"/register", form); r.StatusCode != 303 {
		t.Fatalf("register: %d\n%s", r.StatusCode, r.body)
	}
	g := b.guests(t)[0]

	page := c.get(mount + "/login")
	if got := page.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("Strict-Transport-Security = %q, want max-age=31536000", got)
	}
	r := c.login(g.Username, g.Password, "")
	if r.StatusCode != 303 {
		t.Fatalf("login: %d\n%s", r.StatusCode, r.body)
	}
	if got := r.Header.Get("Strict-Transport-Security"); got == "" {
		t.Error("the login answer has no Strict-Transport-Security")
	}
	var session *http.Cookie
	for _, ck := range r.Cookies() {
		switch ck.Name {
		case "__Host-lobby_guest":
			session = ck
		case "lobby_guest":
			t.Errorf("the session cookie is called lobby_guest under https")
		}
	}
	if session == nil {
		t.Fatalf("no __Host-lobby_guest cookie set at sign-in: %q", r.Header.Values("Set-Cookie"))
	}
	if !session.Secure || !session.HttpOnly || session.Path != "/" || session.Domain != "" {
		t.Errorf("session cookie: Secure %v, HttpOnly %v, Path %q, Domain %q; want Secure, HttpOnly, Path=/ and no Domain",
			session.Secure, session.HttpOnly, session.Path, session.Domain)
	}
	if a := c.get("/app"); a.StatusCode != 200 {
		t.Fatalf("app after sign-in: %d", a.StatusCode)
	}
	if r := c.logout(); r.StatusCode != 303 {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if a := c.get("/app"); a.StatusCode != 401 {
		t.Fatalf("app after sign-out: %d", a.StatusCode)
	}

	// A plain-HTTP deployment: the plain name, and no HSTS.
	plain := setup(t, func(c *Config) { c.BaseURL = "http://wifi.example.com" + mount + "/" })
	pc := plain.client(t)
	if got := pc.get(mount + "/login").Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("Strict-Transport-Security under an http base URL: %q", got)
	}
	if r := pc.post(mount+"/register", pc.registerForm()); r.StatusCode != 303 {
		t.Fatalf("register over http: %d", r.StatusCode)
	}
	pg := plain.guests(t)[0]
	r = pc.login(pg.Username, pg.Password, "")
	names := cookieNames(r)
	if !strings.Contains(strings.Join(names, ","), "lobby_guest") || strings.Contains(strings.Join(names, ","), "__Host-lobby_guest") {
		t.Errorf("cookies set at sign-in over http: %v, want lobby_guest", names)
	}
}

// TestRateLimitKeyFromProxyHeader: behind a proxy that sets X-Real-IP, the
// sign-in limit counts per X-Real-IP, and a client that sends its own
// X-Forwarded-For, different every time, stays limited. (With the old
// --trust-proxy-headers the client's X-Forwarded-For was the key.)
func TestRateLimitKeyFromProxyHeader(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.ProxyHeader = "X-Real-IP"
		c.Limits.Login = Limit{Burst: 2, Every: time.Hour}
	})
	c := b.client(t)
	token := c.csrf(mount + "/login")
	try := func(realIP, xff string) int {
		form := url.Values{"csrf_token": {token}, "username": {"nobody@example.com"}, "password": {"wrong-password"}}
		req, err := http.NewRequest("POST", b.srv.URL+mount+"/login", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Real-IP", realIP)
		req.Header.Set("X-Forwarded-For", xff)
		return c.do(req).StatusCode
	}
	for i := range 2 {
		if code := try("203.0.113.5", fmt.Sprintf("192.0.2.%d", i)); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401", i, code)
		}
	}
	for i := 2; i < 6; i++ {
		if code := try("203.0.113.5", fmt.Sprintf("192.0.2.%d", i)); code != http.StatusTooManyRequests {
			t.Fatalf("attempt %d with a new X-Forwarded-For: %d, want 429", i, code)
		}
	}
	if code := try("203.0.113.6", "192.0.2.1"); code != http.StatusUnauthorized {
		t.Fatalf("another client behind the proxy: %d, want 401", code)
	}
}
