package forwardauth

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

const fallback = "https://wifi.example.com/guest/portal/login"

// newTest returns the endpoint with the given guest signed in (nil: nobody)
// and the hosts wifi.example.com (any port) and app.example.com:8443.
func newTest(t *testing.T, g *storage.Guest) *Handler {
	t.Helper()
	h, err := New(Config{
		Guest: func(*http.Request) (*storage.Guest, bool) { return g, g != nil },
		SignIn: func(returnTo string) string {
			return "/guest/portal/login?return=" + url.QueryEscape(returnTo)
		},
		Fallback: fallback,
		Hosts:    []string{"WiFi.Example.com", "app.example.com:8443"},
		Logger:   slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestForwardAuthSignIn: who is not signed in is sent to the sign-in on the
// host they asked for, returning to the address they asked for, only when
// that host is allowed; otherwise to the sign-in at Lobby's own address
// without a way back. nginx (X-Original-URL) gets 401, the others 302.
func TestForwardAuthSignIn(t *testing.T) {
	t.Parallel()
	h := newTest(t, nil)
	signIn := func(origin, ret string) string {
		return origin + "/guest/portal/login?return=" + url.QueryEscape(ret)
	}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
		loc     string
	}{
		{"traefik", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "wifi.example.com", "X-Forwarded-Uri": "/app/page?a=1&b=2"},
			http.StatusFound, signIn("https://wifi.example.com", "/app/page?a=1&b=2")},
		{"caddy, host on another port", map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "wifi.example.com:8080", "X-Forwarded-Uri": "/"},
			http.StatusFound, signIn("http://wifi.example.com:8080", "/")},
		{"host in another case", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "WIFI.example.COM", "X-Forwarded-Uri": "/x"},
			http.StatusFound, signIn("https://wifi.example.com", "/x")},
		{"no proto: https", map[string]string{"X-Forwarded-Host": "wifi.example.com", "X-Forwarded-Uri": "/x"},
			http.StatusFound, signIn("https://wifi.example.com", "/x")},
		{"host with its port allowed", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com:8443", "X-Forwarded-Uri": "/x"},
			http.StatusFound, signIn("https://app.example.com:8443", "/x")},
		{"nginx", map[string]string{"X-Original-URL": "https://wifi.example.com/app/?q=%2F"},
			http.StatusUnauthorized, signIn("https://wifi.example.com", "/app/?q=%2F")},
		{"nginx wins over the forwarded headers", map[string]string{"X-Original-URL": "https://wifi.example.com/n", "X-Forwarded-Host": "wifi.example.com", "X-Forwarded-Uri": "/t"},
			http.StatusUnauthorized, signIn("https://wifi.example.com", "/n")},
		{"fragment dropped", map[string]string{"X-Original-URL": "https://wifi.example.com/n#frag"},
			http.StatusUnauthorized, signIn("https://wifi.example.com", "/n")},

		// No open redirect.
		{"another host", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example.net", "X-Forwarded-Uri": "/"},
			http.StatusFound, fallback},
		{"a host that ends like an allowed one", map[string]string{"X-Forwarded-Host": "evilwifi.example.com", "X-Forwarded-Uri": "/"},
			http.StatusFound, fallback},
		{"a host that starts like an allowed one", map[string]string{"X-Forwarded-Host": "wifi.example.com.evil.net", "X-Forwarded-Uri": "/"},
			http.StatusFound, fallback},
		{"allowed host on another port than allowed", map[string]string{"X-Forwarded-Host": "app.example.com:443", "X-Forwarded-Uri": "/"},
			http.StatusFound, fallback},
		{"nginx, another host", map[string]string{"X-Original-URL": "https://evil.example.net/"},
			http.StatusUnauthorized, fallback},
		{"user info before an allowed host", map[string]string{"X-Original-URL": "https://wifi.example.com@evil.example.net/"},
			http.StatusUnauthorized, fallback},
		{"user info", map[string]string{"X-Original-URL": "https://user@wifi.example.com/"},
			http.StatusUnauthorized, fallback},
		{"javascript scheme", map[string]string{"X-Original-URL": "javascript://wifi.example.com/%0aalert(1)"},
			http.StatusUnauthorized, fallback},
		{"relative URL", map[string]string{"X-Original-URL": "//evil.example.net/"},
			http.StatusUnauthorized, fallback},
		{"host list: the first one counts", map[string]string{"X-Forwarded-Host": "evil.example.net, wifi.example.com", "X-Forwarded-Uri": "/"},
			http.StatusFound, fallback},
		{"a URI that is not a path", map[string]string{"X-Forwarded-Host": "wifi.example.com", "X-Forwarded-Uri": "@evil.example.net/"},
			http.StatusFound, fallback},
		{"a backslash host", map[string]string{"X-Forwarded-Host": `wifi.example.com\evil`, "X-Forwarded-Uri": "/"},
			http.StatusFound, fallback},
		{"no headers", nil, http.StatusFound, fallback},
		{"host without URI", map[string]string{"X-Forwarded-Host": "wifi.example.com"}, http.StatusFound, fallback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/forward-auth", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
			if got := w.Header().Get("Location"); got != tc.loc {
				t.Errorf("Location %q, want %q", got, tc.loc)
			}
			for _, k := range []string{HeaderGuestID, HeaderUsername, HeaderEmail} {
				if _, ok := w.Header()[k]; ok {
					t.Errorf("%s set for nobody", k)
				}
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
		})
	}
}

// TestForwardAuthGuest: a guest the gate admits gets 200 and their
// identity in the headers, whatever the proxy says about the address, and
// with no control character that could split a header.
func TestForwardAuthGuest(t *testing.T) {
	t.Parallel()
	g := &storage.Guest{ID: uuid.New(), Username: "ada@example.org", Email: "ada@example.org\r\nX-Evil: 1", Password: "secret-password"}
	h := newTest(t, g)
	for _, headers := range []map[string]string{
		{"X-Original-URL": "https://wifi.example.com/"},
		{"X-Forwarded-Host": "evil.example.net", "X-Forwarded-Uri": "/"},
		nil,
	} {
		r := httptest.NewRequest(http.MethodPost, "/forward-auth", nil) // nginx passes the original method on
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%v: status %d, want 200", headers, w.Code)
		}
		want := map[string]string{HeaderGuestID: g.ID.String(), HeaderUsername: "ada@example.org", HeaderEmail: "ada@example.orgX-Evil: 1"}
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if loc := w.Header().Get("Location"); loc != "" {
			t.Errorf("Location %q on 200", loc)
		}
		if strings.Contains(w.Body.String()+strings.Join(w.Header().Values(HeaderEmail), ""), g.Password) {
			t.Error("the answer carries the guest's password")
		}
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Fallback: "/login", Hosts: []string{"ok.example", "bad host", "a:b", "::1", "x:99999999"}})
	if err == nil {
		t.Fatal("New accepted a config without Guest, SignIn, an absolute Fallback, and with bad hosts")
	}
	for _, want := range []string{"Guest is required", "SignIn is required", "Fallback must be", `"bad host"`, `"a:b"`, `"::1"`, `"x:99999999"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "ok.example") {
		t.Errorf("error %q complains about a good host", err)
	}
}

func TestNormalizeHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Example.COM": "example.com", "example.com:8080": "example.com:8080", "[::1]:443": "[::1]:443", "[::1]": "[::1]",
		"127.0.0.1:80": "127.0.0.1:80", " a.b ": "a.b",
		"": "", "a b": "", "a/b": "", "a:": "", "a:x": "", "::1": "", "a..b": "", "a@b": "", `a\b`: "", "[a]": "", "[127.0.0.1]": "",
	} {
		got, ok := NormalizeHost(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
