package portal

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var signInNowRe = regexp.MustCompile(`<form method="post" action="([^"]*)">\s*<input type="hidden" name="csrf_token" value="([^"]*)">(?:\s*<input type="hidden" name="return" value="([^"]*)">)?\s*<button type="submit">Sign in now</button>`)

// signInNow is the "Sign in now" form on a success page: its action
// (resolved against the page's path), CSRF token and return path.
type signInNow struct{ action, csrf, ret string }

func findSignInNow(t *testing.T, pagePath, body string) (signInNow, bool) {
	t.Helper()
	m := signInNowRe.FindStringSubmatch(body)
	if m == nil {
		return signInNow{}, false
	}
	base, _ := url.Parse(pagePath)
	u, err := base.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return signInNow{action: u.Path, csrf: html.UnescapeString(m[2]), ret: html.UnescapeString(m[3])}, true
}

// registerShown registers with c from the sign-in page of gated path ret
// (under ShowCredentials) and returns the success page's path and body.
func registerShown(t *testing.T, b *testBundle, c *client, email, ret string) (string, string) {
	t.Helper()
	r := c.get(mount + "/register?return=" + url.QueryEscape(ret))
	form := url.Values{
		"csrf_token": {hidden(t, csrfRe, r.body)},
		"nonce":      {hidden(t, nonceRe, r.body)},
		"return":     {html.UnescapeString(regexpFind(r.body, `name="return" value="([^"]*)"`))},
		"first_name": {"Ada"}, "last_name": {"Lovelace"}, "email": {email},
		"company": {"Analytical Engines Ltd"}, "terms": {"yes"},
	}
	r = c.post(mount+"/register", form)
	if r.StatusCode != 303 {
		t.Fatalf("register: %d\n%s", r.StatusCode, r.body)
	}
	loc := r.location()
	r = c.get(loc)
	if r.StatusCode != 200 || !strings.Contains(r.body, "<dt>Password</dt>") {
		t.Fatalf("success page shows no credentials: %d\n%s", r.StatusCode, r.body)
	}
	return loc, r.body
}

func (c *client) postSignInNow(action, csrf, ret string) response {
	c.t.Helper()
	return c.post(action, url.Values{"csrf_token": {csrf}, "return": {ret}})
}

// With ShowCredentials, the success page's "Sign in now" signs the guest
// in, in the browser that registered, and leads to where they were going;
// it works once.
func TestSignInNowFromTheSuccessPage(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Policy.ShowCredentials = true; c.Policy.SuccessWait = time.Millisecond })
	c := b.client(t)
	loc, body := registerShown(t, b, c, "ada@example.com", "/app")
	f, ok := findSignInNow(t, loc, body)
	if !ok {
		t.Fatalf("no Sign in now form on the success page:\n%s", body)
	}
	if f.ret != "/app" {
		t.Fatalf("the Sign in now form returns to %q, want /app", f.ret)
	}
	if r := c.get("/app"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("signed in before pressing the button: %d", r.StatusCode)
	}
	r := c.postSignInNow(f.action, f.csrf, f.ret)
	if r.StatusCode != 303 || r.location() != "/app" {
		t.Fatalf("Sign in now: %d → %q\n%s", r.StatusCode, r.location(), r.body)
	}
	g := b.guests(t)[0]
	if r := c.get("/app"); r.StatusCode != 200 || r.body != "hello "+g.Username {
		t.Fatalf("after Sign in now: %d %q", r.StatusCode, r.body)
	}

	// Once: sign out, and the button does not sign in again (the form as
	// the back button would show it, with a fresh CSRF token).
	page := c.get(mount + "/account").body
	c.post(mount+"/logout", url.Values{"csrf_token": {hidden(t, csrfRe, page)}})
	if r := c.get("/app"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("still signed in after signing out: %d", r.StatusCode)
	}
	r = c.postSignInNow(f.action, c.csrf(mount+"/login"), f.ret)
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, "Sign in with the username and password we emailed you") {
		t.Fatalf("Sign in now a second time: %d\n%s", r.StatusCode, r.body)
	}
	if r := c.get("/app"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the button signed in twice: %d", r.StatusCode)
	}
	// Without a return path it leads to the account page.
	c2 := b.client(t)
	loc2, body2 := registerShown(t, b, c2, "grace@example.com", "")
	f2, _ := findSignInNow(t, loc2, body2)
	if r := c2.postSignInNow(f2.action, f2.csrf, f2.ret); r.StatusCode != 303 || r.location() != mount+"/account" {
		t.Fatalf("Sign in now without a return path: %d → %q", r.StatusCode, r.location())
	}
}

// browserOnly is what the button answers when this browser may not use it.
const browserOnly = "only in the browser you registered with"

// Another browser cannot use the button: not with the success link, not
// with a valid CSRF token of its own, not with the registering browser's
// page cookie; the button needs CSRF; and it ends with the registration
// cookie (15 minutes).
func TestSignInNowOnlyInTheRegisteringBrowser(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Policy.ShowCredentials = true; c.Policy.SuccessWait = time.Millisecond })
	c := b.client(t)
	loc, body := registerShown(t, b, c, "ada@example.com", "/app")
	f, ok := findSignInNow(t, loc, body)
	if !ok {
		t.Fatal("no Sign in now form")
	}

	other := b.client(t)
	if page := other.get(loc); strings.Contains(page.body, "Sign in now") {
		t.Fatalf("another browser with the success link gets the button:\n%s", page.body)
	}
	r := other.postSignInNow(f.action, other.csrf(mount+"/login"), f.ret)
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, browserOnly) {
		t.Fatalf("another browser pressed Sign in now: %d → %q", r.StatusCode, r.location())
	}
	if r := other.get("/app"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("another browser is signed in: %d", r.StatusCode)
	}

	// No CSRF token: refused, and the registering browser can still use it.
	if r := c.post(f.action, url.Values{"return": {f.ret}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("Sign in now without CSRF: %d", r.StatusCode)
	}
	if r := c.get("/app"); r.StatusCode != http.StatusUnauthorized {
		t.Fatal("signed in without a CSRF token")
	}

	// Only a local return path.
	r = c.postSignInNow(f.action, f.csrf, "//evil.example/")
	if r.StatusCode != 303 || r.location() != mount+"/account" {
		t.Fatalf("Sign in now to another site: %d → %q", r.StatusCode, r.location())
	}

	// A registering browser that did not see its credentials (a success
	// page never opened) has no button to press.
	c3 := b.client(t)
	form := c3.registerForm()
	form.Set("email", "linus@example.com")
	loc3 := c3.post(mount+"/register", form).location()
	id3 := strings.TrimPrefix(loc3[:strings.Index(loc3, "?")], mount+"/registered/")
	if r := c3.postSignInNow(mount+"/registered/"+id3+"/login", c3.csrf(mount+"/login"), ""); r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, browserOnly) {
		t.Fatalf("Sign in now before the page showed the credentials: %d → %q", r.StatusCode, r.location())
	}

	// Fifteen minutes after registering, the button no longer works.
	c4 := b.client(t)
	loc4, body4 := registerShown(t, b, c4, "grace@example.com", "/app")
	f4, _ := findSignInNow(t, loc4, body4)
	b.clock.Advance(regCookieTTL + time.Second)
	if r := c4.postSignInNow(f4.action, f4.csrf, f4.ret); r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, browserOnly) {
		t.Fatalf("Sign in now after 15 minutes: %d → %q", r.StatusCode, r.location())
	}
}

// Without ShowCredentials there is no button, and its address is not found.
func TestSignInNowNeedsShowCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Policy.SuccessWait = time.Millisecond })
	c := b.client(t)
	loc := c.post(mount+"/register", c.registerForm()).location()
	page := c.get(loc)
	if strings.Contains(page.body, "Sign in now") || strings.Contains(page.body, "<dt>Password</dt>") {
		t.Fatalf("the success page without ShowCredentials:\n%s", page.body)
	}
	id := strings.TrimPrefix(loc[:strings.Index(loc, "?")], mount+"/registered/")
	if r := c.postSignInNow(mount+"/registered/"+id+"/login", c.csrf(mount+"/login"), ""); r.StatusCode != http.StatusNotFound {
		t.Fatalf("Sign in now without ShowCredentials: %d", r.StatusCode)
	}
}
