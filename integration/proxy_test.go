//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/browsertest"
)

// TestProxyForwardAuth runs the shipped nginx (auth_request) and Caddy
// (forward_auth) configurations, with only their addresses changed, in
// front of Lobby and a protected site: an anonymous browser is sent to the
// guest sign-in, comes back to the page it asked for once signed in, and
// the site sees the guest's identity (and never a client's forgery of it,
// not even the email of a guest who has none); once a sponsor suspends the
// guest, the browser is sent to the sign-in again, and the captive-portal
// API asked through the proxy follows.
func TestProxyForwardAuth(t *testing.T) {
	browser := browsertest.Start(t)
	for _, p := range []struct {
		name    string
		program string // its Debian path; the Debian package is name
		header  string // where the proxy puts the client's address for Lobby
		start   func(t *testing.T, port int, lobbyAddr, siteAddr string)
	}{
		{"nginx", "/usr/sbin/nginx", "X-Real-IP", proxyStartNginx},
		{"caddy", "/usr/bin/caddy", "X-Forwarded-For", proxyStartCaddy},
	} {
		t.Run(p.name, func(t *testing.T) {
			proxyProgram(t, p.program, p.name) // skip before starting anything
			port := proxyFreePort(t)
			proxyURL := fmt.Sprintf("http://127.0.0.1:%d", port)
			site := proxyStartUpstream(t)
			lb := proxyStartLobby(t, proxyURL, p.header)
			p.start(t, port, lb.Addr, strings.TrimPrefix(site.URL, "http://"))
			proxyJourney(t, browser, proxyURL, lb, site)
		})
	}
}

// proxyJourney is the guest's way through the proxy at proxyURL.
func proxyJourney(t *testing.T, browser context.Context, proxyURL string, lb *proxyLobby, site *proxyUpstream) {
	ctx := t.Context()
	res, err := lb.guests.Create(ctx, guest.System(), guest.NewGuest{
		FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org", NoEmail: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	g := res.Guest
	signIn := func(ret string) string {
		return proxyURL + "/guest/portal/login?return=" + url.QueryEscape(ret)
	}
	tab := proxyTab(t, browser)
	location := func(what string) string {
		t.Helper()
		loc, err := chromedp.Run(tab, chromedp.Location())
		if err != nil {
			t.Fatalf("%s: read the location: %v", what, err)
		}
		return loc
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, steps...); err != nil {
			t.Fatalf("%s: %v (the browser is at %s)", what, err, location(what))
		}
	}

	// Anonymous: sent to the sign-in, which returns to the page asked for.
	page := "/app/page?x=1&y=2"
	do("open the protected page anonymously", chromedp.Navigate(proxyURL+page), chromedp.WaitVisible(chromedp.ID("f-username")))
	if got := location("anonymous"); got != signIn(page) {
		t.Fatalf("an anonymous browser asking for %s is at %s, want the sign-in %s", page, got, signIn(page))
	}
	if seen := site.seen(); len(seen) != 0 {
		t.Fatalf("the protected site served an anonymous browser: %+v", seen)
	}

	// Signed in: back at the page, and the site knows who it is.
	do("sign in",
		chromedp.SendKeys(chromedp.ID("f-username"), g.Username, chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("f-password"), g.Password, chromedp.NodeVisible),
		chromedp.Click(chromedp.CSS(`form[action="login"] button[type="submit"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("hello")),
	)
	if got := location("signed in"); got != proxyURL+page {
		t.Fatalf("after signing in the browser is at %s, want %s", got, proxyURL+page)
	}
	seen := site.seen()
	want := proxySeen{URI: page, GuestID: g.ID.String(), Username: g.Username, Email: g.Email}
	if len(seen) != 1 || seen[0] != want {
		t.Fatalf("the protected site saw %+v, want one request %+v", seen, want)
	}

	// A client's own identity headers never reach the site.
	forged := []string{"X-Lobby-Guest-Id", "00000000-0000-0000-0000-000000000001", "X-Lobby-Username", "mallory", "X-Lobby-Email", "mallory@example.net"}
	anon := &http.Client{Timeout: proxyTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if res, _ := proxyGet(t, anon, proxyURL+"/app/forged", forged...); res.StatusCode != http.StatusFound ||
		res.Header.Get("Location") != signIn("/app/forged") {
		t.Errorf("an anonymous client with forged identity headers got %d to %q, want 302 to the sign-in", res.StatusCode, res.Header.Get("Location"))
	}
	client := proxySignIn(t, proxyURL, g.Username, g.Password)
	if res, body := proxyGet(t, client, proxyURL+"/app/forged", forged...); res.StatusCode != http.StatusOK {
		t.Errorf("a signed-in client got %d: %s", res.StatusCode, body)
	}
	seen = site.seen()
	if last := seen[len(seen)-1]; last != (proxySeen{URI: "/app/forged", GuestID: g.ID.String(), Username: g.Username, Email: g.Email}) {
		t.Errorf("with forged headers the protected site saw %+v, want the guest's own identity", last)
	}

	// The captive-portal API, asked without a cookie from the address the
	// guest signed in from (as the proxy reports it), knows the guest.
	if st := proxyCaptive(t, anon, proxyURL); st["captive"] != false {
		t.Errorf("the captive-portal API through the proxy says %v for the signed-in guest's address, want captive false", st)
	}

	// Suspended by a sponsor: sent to the sign-in again, the site not reached.
	if _, err := lb.guests.Suspend(ctx, guest.System(), g.ID, "integration test"); err != nil {
		t.Fatal(err)
	}
	before := len(site.seen())
	do("open a protected page once suspended", chromedp.Navigate(proxyURL+"/app/after"), chromedp.WaitVisible(chromedp.ID("f-username")))
	if got := location("suspended"); got != signIn("/app/after") {
		t.Fatalf("the suspended guest's browser is at %s, want the sign-in %s", got, signIn("/app/after"))
	}
	if n := len(site.seen()); n != before {
		t.Fatalf("the protected site served a suspended guest: %+v", site.seen()[before:])
	}
	if st := proxyCaptive(t, anon, proxyURL); st["captive"] != true {
		t.Errorf("the captive-portal API says %v for the suspended guest's address, want captive true", st)
	}

	// A guest without an email address (a printed batch account): a
	// client's own X-Lobby-Email does not stand in for the missing one.
	batch, err := lb.guests.CreateBatch(ctx, guest.System(), guest.Batch{Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	nb := batch[0]
	nbClient := proxySignIn(t, proxyURL, nb.Username, nb.Password)
	if res, body := proxyGet(t, nbClient, proxyURL+"/app/no-email", forged...); res.StatusCode != http.StatusOK {
		t.Errorf("a signed-in guest without email got %d: %s", res.StatusCode, body)
	}
	seen = site.seen()
	if last := seen[len(seen)-1]; last != (proxySeen{URI: "/app/no-email", GuestID: nb.ID.String(), Username: nb.Username}) {
		t.Errorf("for a guest without email, with forged headers, the protected site saw %+v, want the guest's own identity and no email", last)
	}
}

// proxyCaptive asks the captive-portal API through the proxy.
func proxyCaptive(t *testing.T, c *http.Client, proxyURL string) map[string]any {
	t.Helper()
	res, body := proxyGet(t, c, proxyURL+"/guest/captive-portal/api")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/captive+json" {
		t.Fatalf("captive-portal API: %d %q: %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("captive-portal API: %v: %s", err, body)
	}
	return st
}

var proxyHiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// proxySignIn signs in through the proxy with a plain HTTP client and
// returns it, with the session cookie in its jar.
func proxySignIn(t *testing.T, proxyURL, username, password string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: proxyTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, page := proxyGet(t, c, proxyURL+"/guest/portal/login")
	form := url.Values{}
	for _, m := range proxyHiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	form.Set("username", username)
	form.Set("password", password)
	ctx, cancel := context.WithTimeout(t.Context(), proxyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, proxyURL+"/guest/portal/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("signing in through the proxy: %d, want 303", res.StatusCode)
	}
	return c
}
