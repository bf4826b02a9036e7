package webkit

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func csrfHandler(secret []byte, secure bool) http.Handler {
	return NewCSRF(secret, secure)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(CSRFToken(r)))
	}))
}

func postForm(h http.Handler, target, cookieName, cookie, field string) int {
	r := httptest.NewRequest("POST", target, strings.NewReader(url.Values{CSRFField: {field}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code
}

// A token that the server did not sign is refused even when the cookie and
// the field agree (a planted cookie: double-submit alone would accept it).
func TestCSRFTokenMustBeSigned(t *testing.T) {
	t.Parallel()
	h := csrfHandler(testKey, false)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	good := rec.Body.String()
	if c := cookiesOf(rec)[CSRFCookie]; c == nil || c.Value != good {
		t.Fatalf("GET: cookie %+v, token %q", c, good)
	}
	raw := make([]byte, 64)
	_, _ = rand.Read(raw)
	forged := base64.RawURLEncoding.EncodeToString(raw)
	short := make([]byte, 32)
	_, _ = rand.Read(short)
	oldStyle := base64.RawURLEncoding.EncodeToString(short) // a random token as the old scheme made
	otherKey := csrfHandler([]byte("another secret key, 32 bytes...."), false)
	rec = httptest.NewRecorder()
	otherKey.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	foreign := rec.Body.String()

	for _, tc := range []struct {
		name          string
		cookie, field string
		want          int
	}{
		{"server-issued", good, good, 200},
		{"forged, cookie and field agree", forged, forged, 403},
		{"unsigned random, cookie and field agree", oldStyle, oldStyle, 403},
		{"signed under another key", foreign, foreign, 403},
		{"good cookie, other field", good, forged, 403},
	} {
		if got := postForm(h, "/", CSRFCookie, tc.cookie, tc.field); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	// A forged cookie is replaced by a signed token on the next page.
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: forged})
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if tok := rec.Body.String(); tok == forged || cookiesOf(rec)[CSRFCookie] == nil {
		t.Fatal("a forged cookie's token was handed to the page")
	}
}

// With Secure cookies the cookie is __Host-lobby_csrf: Secure, Path=/, no
// Domain, so that a sibling subdomain cannot plant it. The plain name is
// not read then.
func TestCSRFHostPrefixWhenSecure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		secure bool
		url    string
		cookie string
	}{
		{"forced secure", true, "http://x/", CSRFCookieSecure},
		{"over TLS", false, "https://x/", CSRFCookieSecure},
		{"plain HTTP", false, "http://x/", CSRFCookie},
	} {
		h := csrfHandler(testKey, tc.secure)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.url, nil))
		tok := rec.Body.String()
		cs := cookiesOf(rec)
		c := cs[tc.cookie]
		if c == nil || c.Value != tok || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
			t.Fatalf("%s: cookies %v, want %s with Path=/ and no Domain", tc.name, cs, tc.cookie)
		}
		if c.Secure != (tc.cookie == CSRFCookieSecure) {
			t.Fatalf("%s: Secure = %v", tc.name, c.Secure)
		}
		if got := postForm(h, tc.url, tc.cookie, tok, tok); got != 200 {
			t.Errorf("%s: post with %s: %d", tc.name, tc.cookie, got)
		}
		other := CSRFCookie
		if tc.cookie == CSRFCookie {
			other = CSRFCookieSecure
		}
		if got := postForm(h, tc.url, other, tok, tok); got != 403 {
			t.Errorf("%s: post with the cookie named %s: %d, want 403", tc.name, other, got)
		}
	}
}

// Sessions rotate the CSRF cookie to a token the middleware accepts.
func TestSessionsRotateToASignedToken(t *testing.T) {
	t.Parallel()
	s := NewSessions(testKey, "sess", 3600e9, true)
	rec := httptest.NewRecorder()
	sess := s.Set(rec, httptest.NewRequest("POST", "/login", nil), "guest-1")
	c := cookiesOf(rec)[CSRFCookieSecure]
	if c == nil || c.Value != sess.CSRF || !c.Secure {
		t.Fatalf("Set: CSRF cookie %+v", c)
	}
	h := csrfHandler(testKey, true)
	if got := postForm(h, "/", CSRFCookieSecure, sess.CSRF, sess.CSRF); got != 200 {
		t.Fatalf("the session's token is refused: %d", got)
	}
	rec = httptest.NewRecorder()
	s.Clear(rec, httptest.NewRequest("POST", "/logout", nil))
	c = cookiesOf(rec)[CSRFCookieSecure]
	if c == nil || c.Value == sess.CSRF || postForm(h, "/", CSRFCookieSecure, c.Value, c.Value) != 200 {
		t.Fatalf("Clear: CSRF cookie %+v not rotated to a signed token", c)
	}
}
