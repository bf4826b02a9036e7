package lobby

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/captive"
	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

// realIP sets X-Real-IP on every request, as a proxy in front of Lobby would.
type realIP struct {
	ip   string
	next http.RoundTripper
}

func (t realIP) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Real-IP", t.ip)
	return t.next.RoundTrip(r)
}

// integrationGuest is a guest created through the guest rules (active for
// a day, no email), signed in from ip with a client of its own.
type integrationGuest struct {
	g      *storage.Guest
	client *http.Client // carries the guest's session cookie and X-Real-IP
}

func (b *testBundle) signedInGuest(t *testing.T, name, ip string) integrationGuest {
	t.Helper()
	ctx := t.Context()
	res, err := b.lobby.portal.Guests().Create(ctx, guest.System(), guest.NewGuest{
		FirstName: name, LastName: "Tester", Email: strings.ToLower(name) + "@example.org", NoEmail: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: realIP{ip, http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := func(res *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return string(body)
	}
	form := hidden(t, page(c.Get(b.srv.URL+"/guest/portal/login")))
	form.Set("username", res.Guest.Username)
	form.Set("password", res.Guest.Password)
	r, err := c.PostForm(b.srv.URL+"/guest/portal/login", form)
	if body := page(r, err); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in %s: %d\n%s", name, r.StatusCode, body)
	}
	return integrationGuest{g: res.Guest, client: c}
}

// integrationStates are the guests of the table tests: signed in and
// admitted, anonymous, expired and suspended after signing in.
func integrationStates(t *testing.T, b *testBundle) map[string]integrationGuest {
	t.Helper()
	ctx := t.Context()
	out := map[string]integrationGuest{
		"signed in":  b.signedInGuest(t, "Ada", "192.0.2.1"),
		"expired":    b.signedInGuest(t, "Bob", "192.0.2.2"),
		"suspended":  b.signedInGuest(t, "Cyd", "192.0.2.3"),
		"signed out": b.signedInGuest(t, "Dee", "192.0.2.4"),
		"anonymous":  {client: &http.Client{Timeout: 30 * time.Second, Transport: realIP{"192.0.2.9", http.DefaultTransport}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}},
	}
	past := b.clock.Now().Add(-time.Minute)
	if _, err := b.store.UpdateGuest(ctx, out["expired"].g.ID, storage.GuestUpdate{ValidUntil: &past}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.lobby.portal.Guests().Suspend(ctx, guest.System(), out["suspended"].g.ID, "test"); err != nil {
		t.Fatal(err)
	}
	res, err := out["signed out"].client.Get(b.srv.URL + "/guest/portal/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res, err = out["signed out"].client.PostForm(b.srv.URL+"/guest/portal/logout", hidden(t, string(body)))
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %v %v", res, err)
	}
	res.Body.Close()
	return out
}

// TestForwardAuth: the forward-auth endpoint lets a signed-in, admitted
// guest through with their identity, and sends anyone else to the sign-in
// on the host they asked for (302, or 401 for nginx), returning to the
// page they asked for; never to a host that is not allowed.
func TestForwardAuth(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testForwardAuth(t, backend)
		})
	}
}

func testForwardAuth(t *testing.T, backend string) {
	b := setupOn(t, backend, hostNetHTTP, func(b *testBundle, cfg *Config) { cfg.ProxyHeader = "X-Real-IP" })
	host := strings.TrimPrefix(b.srv.URL, "http://")
	guests := integrationStates(t, b)
	signIn := b.srv.URL + "/guest/portal/login?return=" + url.QueryEscape("/app/page?a=1&b=2")

	for _, tc := range []struct {
		who     string
		through bool
	}{{"signed in", true}, {"anonymous", false}, {"expired", false}, {"suspended", false}, {"signed out", false}} {
		for _, proxy := range []struct {
			name    string
			headers map[string]string
			status  int
		}{
			{"caddy/traefik", map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "http", "X-Forwarded-Host": host, "X-Forwarded-Uri": "/app/page?a=1&b=2"}, http.StatusFound},
			{"nginx", map[string]string{"X-Original-URL": "http://" + host + "/app/page?a=1&b=2"}, http.StatusUnauthorized},
		} {
			t.Run(tc.who+"/"+proxy.name, func(t *testing.T) {
				gu := guests[tc.who]
				req, err := http.NewRequest(http.MethodGet, b.srv.URL+"/guest/forward-auth", nil)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range proxy.headers {
					req.Header.Set(k, v)
				}
				res, err := gu.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if tc.through {
					want := map[string]string{"X-Lobby-Guest-Id": gu.g.ID.String(), "X-Lobby-Username": gu.g.Username, "X-Lobby-Email": gu.g.Email}
					if res.StatusCode != http.StatusOK {
						t.Fatalf("status %d, want 200", res.StatusCode)
					}
					for k, v := range want {
						if got := res.Header.Get(k); got != v {
							t.Errorf("%s = %q, want %q", k, got, v)
						}
					}
					return
				}
				if res.StatusCode != proxy.status {
					t.Errorf("status %d, want %d", res.StatusCode, proxy.status)
				}
				if got := res.Header.Get("Location"); got != signIn {
					t.Errorf("Location %q, want %q", got, signIn)
				}
				if id := res.Header.Get("X-Lobby-Guest-Id"); id != "" {
					t.Errorf("X-Lobby-Guest-Id %q for a guest who may not pass", id)
				}
			})
		}
	}

	for _, tc := range []struct{ name, host, uri, want string }{
		{"another host", "evil.example.net", "/", b.srv.URL + "/guest/portal/login"},
		// The allowed host, but a path a browser would take for another site:
		// the sign-in drops it.
		{"a return path to another site", host, "//evil.example.net/x", "http://" + host + "/guest/portal/login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, b.srv.URL+"/guest/forward-auth", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Forwarded-Proto", "http")
			req.Header.Set("X-Forwarded-Host", tc.host)
			req.Header.Set("X-Forwarded-Uri", tc.uri)
			res, err := guests["anonymous"].client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got := res.Header.Get("Location"); res.StatusCode != http.StatusFound || got != tc.want {
				t.Errorf("%d Location %q, want 302 %q", res.StatusCode, got, tc.want)
			}
		})
	}
}

// TestCaptiveAPI: the captive-portal API answers application/captive+json,
// private, and holds captive every client but a signed-in, admitted guest,
// found by their session cookie or by the address they signed in from.
func TestCaptiveAPI(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testCaptiveAPI(t, backend)
		})
	}
}

func testCaptiveAPI(t *testing.T, backend string) {
	b := setupOn(t, backend, hostNetHTTP, func(b *testBundle, cfg *Config) {
		cfg.ProxyHeader = "X-Real-IP"
		cfg.CaptiveVenueURL = "https://example.com/visitors"
	})
	guests := integrationStates(t, b)
	for _, who := range []string{"signed in", "anonymous", "expired", "suspended", "signed out"} {
		for _, byCookie := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/cookie=%v", who, byCookie), func(t *testing.T) {
				gu := guests[who]
				c := *gu.client
				if !byCookie {
					c.Jar = nil // the operating system asks, from the guest's address
				}
				res, err := c.Get(b.srv.URL + "/guest/captive-portal/api")
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200", res.StatusCode)
				}
				if ct := res.Header.Get("Content-Type"); ct != captive.ContentType {
					t.Errorf("Content-Type %q, want %q", ct, captive.ContentType)
				}
				if cc := res.Header.Get("Cache-Control"); cc != "private" {
					t.Errorf("Cache-Control %q, want private", cc)
				}
				var st map[string]any
				if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
					t.Fatal(err)
				}
				if st["user-portal-url"] != b.srv.URL+"/guest/portal/" || st["venue-info-url"] != "https://example.com/visitors" || st["can-extend-session"] != false {
					t.Errorf("answer %v: wrong user-portal-url, venue-info-url or can-extend-session", st)
				}
				captiveWant := who != "signed in"
				if st["captive"] != captiveWant {
					t.Fatalf("captive = %v, want %v (answer %v)", st["captive"], captiveWant, st)
				}
				left, ok := st["seconds-remaining"].(float64)
				if captiveWant {
					if ok {
						t.Errorf("seconds-remaining %v for a captive client", left)
					}
					return
				}
				// Created for a day, signed in for the portal's 12 hours.
				if max := (12 * time.Hour).Seconds(); !ok || left > max || left < max-120 {
					t.Errorf("seconds-remaining %v, want about %v", st["seconds-remaining"], max)
				}
			})
		}
	}
}
