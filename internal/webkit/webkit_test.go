package webkit

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/lobbyhq/lobby/internal/testclock"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable test clock.
type clock = testclock.Clock

func newClock() *clock { return testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

func TestSigner(t *testing.T) {
	t.Parallel()
	now := time.Now()
	s := NewSigner(testKey, "a")
	tok := s.Sign("guest|x@example.com", now.Add(time.Hour))
	if got, err := s.Verify(tok, now); err != nil || got != "guest|x@example.com" {
		t.Fatalf("Verify = %q, %v", got, err)
	}
	if _, err := s.Verify(tok, now.Add(time.Hour)); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("at expiry: err = %v, want ErrTokenExpired", err)
	}
	if _, err := NewSigner(testKey, "b").Verify(tok, now); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("other purpose: err = %v, want ErrTokenInvalid", err)
	}
	// Flip each character of the payload and expiry part: never valid.
	for i := 0; i < strings.LastIndexByte(tok, '.'); i++ {
		b := []byte(tok)
		b[i] ^= 1
		if _, err := s.Verify(string(b), now); err == nil {
			t.Fatalf("tampered token (byte %d) verified", i)
		}
	}
	for _, bad := range []string{"", ".", "a.b", "a.b.c"} {
		if _, err := s.Verify(bad, now); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("Verify(%q) = %v", bad, err)
		}
	}
}

func cookiesOf(rec *httptest.ResponseRecorder) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range rec.Result().Cookies() {
		out[c.Name] = c
	}
	return out
}

func TestSessions(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := NewSessions(testKey, "sess", time.Hour, false, SessionClock(clk.Now))

	rec := httptest.NewRecorder()
	sess := s.Set(rec, httptest.NewRequest("POST", "/login", nil), "guest-1")
	cs := cookiesOf(rec)
	c := cs["sess"]
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.MaxAge != 3600 {
		t.Fatalf("session cookie = %+v", c)
	}
	if cs[CSRFCookie] == nil || cs[CSRFCookie].Value != sess.CSRF {
		t.Fatalf("Set did not rotate the CSRF cookie to the session's token")
	}
	req := func(v string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: "sess", Value: v})
		return r
	}
	got, ok := s.Get(req(c.Value))
	if !ok || got.Subject != "guest-1" || got.ID != sess.ID || got.CSRF != sess.CSRF {
		t.Fatalf("Get = %+v, %v; want %+v", got, ok, sess)
	}
	if _, ok := s.Get(req(c.Value + "x")); ok {
		t.Fatal("tampered signature accepted")
	}
	if _, ok := NewSessions([]byte("another key, 32 bytes long......"), "sess", time.Hour, false).Get(req(c.Value)); ok {
		t.Fatal("cookie accepted under another key")
	}
	// Rotation: a second sign-in gives a new ID and CSRF token.
	rec2 := httptest.NewRecorder()
	sess2 := s.Set(rec2, httptest.NewRequest("POST", "/login", nil), "guest-1")
	if sess2.ID == sess.ID || sess2.CSRF == sess.CSRF {
		t.Fatal("Set did not rotate the session")
	}
	clk.Advance(time.Hour)
	if _, ok := s.Get(req(c.Value)); ok {
		t.Fatal("session accepted after maxAge")
	}
	// Clear expires the cookie; TLS makes it Secure, and so __Host-.
	rec3 := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "https://x/logout", nil)
	s.Clear(rec3, r)
	if c := cookiesOf(rec3)["__Host-sess"]; c == nil || c.MaxAge >= 0 || !c.Secure || c.Path != "/" {
		t.Fatalf("Clear cookie = %+v", c)
	}
}

// TestSecureSessionsHostPrefix: Secure session cookies are named with the
// __Host- prefix (Secure, Path=/, no Domain), and only that name is read:
// a plain-named cookie planted from a sibling subdomain does not count.
func TestSecureSessionsHostPrefix(t *testing.T) {
	t.Parallel()
	s := NewSessions(testKey, "sess", time.Hour, true, SessionClock(newClock().Now))
	rec := httptest.NewRecorder()
	s.Set(rec, httptest.NewRequest("POST", "/login", nil), "guest-1")
	cs := cookiesOf(rec)
	c := cs["__Host-sess"]
	if c == nil || !c.Secure || c.Path != "/" || c.Domain != "" || cs["sess"] != nil {
		t.Fatalf("secure session cookies = %v", cs)
	}
	get := func(name string) bool {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: name, Value: c.Value})
		_, ok := s.Get(r)
		return ok
	}
	if !get("__Host-sess") {
		t.Error("the __Host- cookie is not read back")
	}
	if get("sess") {
		t.Error("a plain-named cookie counts under secure cookies")
	}
}

// TestSessionIssuedAt: sessions carry their issue time to the microsecond,
// SetAfter issues after a cut-off however the clock stands, and cookies
// with the issue time in seconds only (from before the microseconds) still
// count, from the start of their second.
func TestSessionIssuedAt(t *testing.T) {
	t.Parallel()
	clk := testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC))
	s := NewSessions(testKey, "sess", time.Hour, false, SessionClock(clk.Now))
	now := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
	get := func(value string) (Session, bool) {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: "sess", Value: value})
		return s.Get(r)
	}
	set := func(cutoff time.Time) (Session, Session) {
		t.Helper()
		rec := httptest.NewRecorder()
		sess := s.SetAfter(rec, httptest.NewRequest("POST", "/login", nil), "guest-1", cutoff)
		got, ok := get(cookiesOf(rec)["sess"].Value)
		if !ok {
			t.Fatalf("SetAfter(%v): the cookie issued at %v is refused", cutoff, sess.IssuedAt)
		}
		return sess, got
	}

	for _, tc := range []struct {
		name   string
		cutoff time.Time
		want   time.Time
	}{
		{"no cut-off", time.Time{}, now},
		{"a cut-off long before", now.Add(-time.Hour), now},
		{"a cut-off a microsecond before", now.Add(-time.Microsecond), now},
		{"a cut-off in the same microsecond", now.Add(789 * time.Nanosecond), now.Add(time.Microsecond)},
		{"a cut-off the clock has not reached", now.Add(30 * time.Second), now.Add(30*time.Second + time.Microsecond)},
	} {
		sess, got := set(tc.cutoff)
		if !sess.IssuedAt.Equal(tc.want) || !got.IssuedAt.Equal(tc.want) || got.IssuedAt.Location() != time.UTC {
			t.Errorf("%s: issued at %v, read back as %v; want %v", tc.name, sess.IssuedAt, got.IssuedAt, tc.want)
		}
		if !tc.cutoff.IsZero() && !got.IssuedAt.After(tc.cutoff) {
			t.Errorf("%s: issued at %v, not after the cut-off %v", tc.name, got.IssuedAt, tc.cutoff)
		}
	}
	rec := httptest.NewRecorder()
	if sess := s.Set(rec, httptest.NewRequest("POST", "/login", nil), "guest-1"); !sess.IssuedAt.Equal(now) {
		t.Errorf("Set: issued at %v, want %v", sess.IssuedAt, now)
	}

	// A cookie signed under the key, as written by hand.
	cookie := func(w sessionWire) string {
		raw, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		body := base64.RawURLEncoding.EncodeToString(raw)
		return body + "." + base64.RawURLEncoding.EncodeToString(s.key.sum(nil, []byte(body)))
	}
	old := sessionWire{ID: "old", Sub: "guest-1", Iat: now.Unix(), Tok: "tok"}
	if got, ok := get(cookie(old)); !ok || !got.IssuedAt.Equal(now.Truncate(time.Second)) {
		t.Errorf("a cookie with seconds only: %+v, %v; want it issued at %v", got, ok, now.Truncate(time.Second))
	}
	odd := sessionWire{ID: "odd", Sub: "guest-1", Iat: now.Unix() - 1, IatMicro: now.UnixMicro(), Tok: "tok"}
	if got, ok := get(cookie(odd)); ok {
		t.Errorf("a cookie whose seconds and microseconds disagree was accepted: %+v", got)
	}
	late := sessionWire{ID: "late", Sub: "guest-1", Iat: now.Add(2 * time.Minute).Unix(), IatMicro: now.Add(2 * time.Minute).UnixMicro(), Tok: "tok"}
	if got, ok := get(cookie(late)); ok {
		t.Errorf("a cookie issued two minutes ahead of the clock was accepted: %+v", got)
	}
}

func csrfServer() http.Handler {
	return MaxBody(1024, NewCSRF(testKey, false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, CSRFToken(r))
	})))
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	h := csrfServer()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/form", nil))
	token := rec.Body.String()
	c := cookiesOf(rec)[CSRFCookie]
	if c == nil || c.Value != token || !c.HttpOnly || len(token) != 86 {
		t.Fatalf("GET: token %q, cookie %+v", token, c)
	}
	post := func(form url.Values, cookie string, hdr map[string]string) int {
		r := httptest.NewRequest("POST", "/form", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: cookie})
		}
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	ok := url.Values{CSRFField: {token}}
	for _, tc := range []struct {
		name   string
		form   url.Values
		cookie string
		hdr    map[string]string
		want   int
	}{
		{"valid", ok, token, nil, 200},
		{"no field", url.Values{}, token, nil, 403},
		{"no cookie", ok, "", nil, 403},
		{"wrong token", url.Values{CSRFField: {strings.Repeat("A", 86)}}, token, nil, 403},
		{"cross-site browser post", ok, token, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"foreign origin", ok, token, map[string]string{"Origin": "https://evil.example"}, 403},
		{"header token", url.Values{}, token, map[string]string{CSRFHeader: token}, 200},
		{"too large", url.Values{CSRFField: {token}, "x": {strings.Repeat("a", 2000)}}, token, nil, 413},
	} {
		if got := post(tc.form, tc.cookie, tc.hdr); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestMaxBodyDeclaredLength(t *testing.T) {
	t.Parallel()
	reached := false
	h := MaxBody(10, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("a", 11))))
	if rec.Code != 413 || reached {
		t.Fatalf("status %d, handler reached %v", rec.Code, reached)
	}
}

func TestRateLimiter(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := NewRateLimiter(0.5, 2, clk.Now) // 2 at once, then one per 2s
	var page []int
	h := WithErrorPage(func(w http.ResponseWriter, r *http.Request, status int, msg string) {
		page = append(page, status)
		w.WriteHeader(status)
	}, l.Limit(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	do := func(remote string, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = remote
		if len(hdr) == 2 {
			r.Header.Set(hdr[0], hdr[1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	for i := range 2 {
		if c := do("192.0.2.1:1000").Code; c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	rec := do("192.0.2.1:1001")
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "2" || len(page) != 1 {
		t.Fatalf("third request: %d, Retry-After %q, error pages %v", rec.Code, rec.Header().Get("Retry-After"), page)
	}
	if c := do("192.0.2.2:1000").Code; c != 200 {
		t.Fatalf("another client: %d", c)
	}
	// IPv6: the whole /64 shares a bucket.
	do("[2001:db8::1]:1")
	do("[2001:db8::2]:1")
	if c := do("[2001:db8::3]:1").Code; c != 429 {
		t.Fatalf("same /64: %d", c)
	}
	// Proxy headers are ignored unless trusted.
	if c := do("192.0.2.1:1", "X-Forwarded-For", "198.51.100.7").Code; c != 429 {
		t.Fatalf("untrusted X-Forwarded-For changed the key: %d", c)
	}
	clk.Advance(2 * time.Second)
	if c := do("192.0.2.1:1000").Code; c != 200 {
		t.Fatalf("after refill: %d", c)
	}
	if c := do("192.0.2.1:1000").Code; c != 429 {
		t.Fatalf("refilled only one: %d", c)
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:5555"
	r.Header.Add("X-Forwarded-For", "203.0.113.9, 198.51.100.7")
	if got := (ProxyTrust{}).ClientIP(r); got != "10.0.0.1" {
		t.Errorf("untrusted: %q", got)
	}
	if got := (ProxyTrust{Header: XForwardedFor}).ClientIP(r); got != "198.51.100.7" {
		t.Errorf("trusted: %q (want the entry the nearest proxy added)", got)
	}
	r.Header.Set("X-Real-IP", "203.0.113.5")
	if got := (ProxyTrust{Header: "X-Real-IP"}).ClientIP(r); got != "203.0.113.5" {
		t.Errorf("X-Real-IP: %q", got)
	}
}

func TestTemplates(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"layout.html":  {Data: []byte(`{{define "layout"}}<html lang="{{.Lang}}">{{template "content" .}}</html>{{end}}`)},
		"p/hello.html": {Data: []byte(`{{define "content"}}<p>{{.Data}}</p>{{end}}`)},
	}
	tp, err := ParseTemplates(fsys, "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := tp.Names(); len(got) != 1 || got[0] != "hello" {
		t.Fatalf("Names = %v", got)
	}
	rec := httptest.NewRecorder()
	if err := tp.Render(rec, 422, "hello", View{Lang: "en", Data: "<script>"}); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 422 || rec.Body.String() != `<html lang="en"><p>&lt;script&gt;</p></html>` || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("Render: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	if err := tp.Render(rec, 200, "missing", View{}); err == nil || rec.Code != 500 {
		t.Fatalf("missing page: %v, %d", err, rec.Code)
	}
	fsys["p/bad.html"] = &fstest.MapFile{Data: []byte(`<p>no content</p>`)}
	if _, err := ParseTemplates(fsys, "p", nil); err == nil {
		t.Fatal("a page without content was accepted")
	}
}

func TestRelRoot(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"/": "./", "/login": "./", "/registered/x": "../", "/a/b/c": "../../"} {
		if got := RelRoot(in); got != want {
			t.Errorf("RelRoot(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAssets(t *testing.T) {
	t.Parallel()
	a, err := NewAssets(fstest.MapFS{"lobby.css": {Data: []byte("body{}")}})
	if err != nil {
		t.Fatal(err)
	}
	u := a.URL("lobby.css")
	if !strings.HasPrefix(u, "lobby.css?v=") || a.URL("nope.css") != "" {
		t.Fatalf("URL = %q", u)
	}
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest("GET", "/"+u, nil))
	if rec.Code != 200 || rec.Body.String() != "body{}" || !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") {
		t.Fatalf("GET %s: %d %v", u, rec.Code, rec.Header())
	}
	r := httptest.NewRequest("GET", "/lobby.css", nil)
	r.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, r)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("conditional GET: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest("GET", "/../secret", nil))
	if rec.Code != 404 {
		t.Fatalf("unknown file: %d", rec.Code)
	}
}

func TestForm(t *testing.T) {
	t.Parallel()
	f := NewForm(&Field{Name: "a", Hint: "h"}, &Field{Name: "b"})
	f.Load(url.Values{"a": {"  x  "}, "b": {"y"}})
	if f.Value("a") != "x" || f.Value("missing") != "" {
		t.Fatalf("Load: %q", f.Value("a"))
	}
	f.Fail("b", "first")
	f.Fail("b", "second")
	f.Fail("missing", "ignored")
	if errs := f.Errors(); len(errs) != 1 || errs[0].Error != "first" || f.Valid() {
		t.Fatalf("Errors = %+v", errs)
	}
	if got := f.Field("a").DescribedBy(); got != "f-a-hint" {
		t.Errorf("DescribedBy a = %q", got)
	}
	if got := f.Field("b").DescribedBy(); got != "f-b-error" {
		t.Errorf("DescribedBy b = %q", got)
	}
}

// parseSessionWire reads what SetAfter writes as json.Unmarshal does, and
// leaves anything else to it.
func TestParseSessionWire(t *testing.T) {
	for _, w := range []sessionWire{
		{ID: "abc_-", Sub: "0b5f7c1e-8c1a-4d4e-9a0e-3f1f0c2b9d11", Iat: 1700000000, IatMicro: 1700000000123456, Tok: "tok"},
		{ID: "old", Sub: "guest-1", Iat: 1700000000, Tok: "tok"},
		{ID: "", Sub: "", Iat: -5, Tok: ""},
	} {
		raw, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := parseSessionWire(string(raw)); !ok || got != w {
			t.Errorf("parseSessionWire(%s) = %+v, %v; want %+v", raw, got, ok, w)
		}
	}
	for _, raw := range []string{
		``,
		`{}`,
		`{"i":"a","s":"b","t":1,"c":"d"} `,
		`{"i":"a\u0041","s":"b","t":1,"c":"d"}`,
		`{"i":"a","s":"b\"","t":1,"c":"d"}`,
		`{"i":"a","s":"b","t":+1,"c":"d"}`,
		`{"i":"a","s":"b","t":1,"u":0,"c":"d"}`,
		`{"i":"a","s":"b","t":1,"u":2,"c":"d","x":1}`,
		`{"s":"b","i":"a","t":1,"c":"d"}`,
		"{\"i\":\"\xff\",\"s\":\"b\",\"t\":1,\"c\":\"d\"}",
		`{"i":"a","s":"b","t":1.5,"c":"d"}`,
	} {
		if got, ok := parseSessionWire(raw); ok {
			t.Errorf("parseSessionWire(%q) = %+v, want it left to json.Unmarshal", raw, got)
		}
	}
}

// fieldHTML renders the shared "field" template as {{template "field" .}}
// does, for blank fields from its cache and for filled-in ones afresh.
func TestFieldHTML(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"layout.html":   {Data: []byte(`{{define "layout"}}{{template "content" .}}{{end}}{{define "field"}}<input id="{{.ID}}" value="{{.Value}}">{{with .Error}}<p>{{.}}</p>{{end}}{{end}}`)},
		"p/cached.html": {Data: []byte(`{{define "content"}}{{range .Form.Fields}}{{fieldHTML .}}{{end}}{{end}}`)},
		"p/direct.html": {Data: []byte(`{{define "content"}}{{range .Form.Fields}}{{template "field" .}}{{end}}{{end}}`)},
	}
	tp, err := ParseTemplates(fsys, "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*Field{
		{Name: "email", Label: "Email"},
		{Name: "email", Label: "Email", Value: `"><script>`},
		{Name: "email", Label: "Email", Error: "Enter <an> address"},
		{Name: "email", Label: "Email"}, // blank again: from the cache
	} {
		v := View{Form: NewForm(f)}
		want, err := tp.Execute("direct", v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tp.Execute("cached", v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("fieldHTML(%+v) = %s, want %s", f, got, want)
		}
	}
}
