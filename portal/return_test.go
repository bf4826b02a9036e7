package portal

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// href returns the target of the link with text in page body (fetched from
// path), resolved against path as a browser would, or fails.
func href(t *testing.T, path, body, text string) string {
	t.Helper()
	m := regexp.MustCompile(`<a [^>]*href="([^"]*)"[^>]*>` + regexp.QuoteMeta(text) + `</a>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link %q on %s:\n%s", text, path, body)
	}
	base, err := url.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	u, err := base.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatalf("link %q: %v", m[1], err)
	}
	return u.RequestURI()
}

// sameURL reports whether a and b have the same path and query values
// (percent-encodings may differ in case).
func sameURL(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Path == ub.Path && ua.Query().Encode() == ub.Query().Encode()
}

// A guest sent to sign in on the way to a gated page, who has no account
// yet, registers and signs in from the success page, and lands on the
// gated page: the return path goes from the sign-in page to the register
// page, through the registration, to the success page's sign-in link.
// Every step follows the links on the pages, as a browser does.
func TestReturnPathThroughRegistration(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	const gated = "/app?ssid=Guest%20WiFi&x=1"

	// The gate sends the guest to the sign-in page.
	loginPath := mount + "/" + b.portal.LoginURL(gated)
	r := c.get(loginPath)
	if r.StatusCode != 200 {
		t.Fatalf("sign-in page: %d", r.StatusCode)
	}
	// "New here? Register".
	regPath := href(t, loginPath, r.body, "Register")
	r = c.get(regPath)
	if r.StatusCode != 200 {
		t.Fatalf("GET %s: %d", regPath, r.StatusCode)
	}
	if got := regexpFind(r.body, `name="return" value="([^"]*)"`); html.UnescapeString(got) != gated {
		t.Fatalf("the register form carries return %q, want %q", got, gated)
	}
	// Its "Already registered? Sign in" link keeps it too.
	if got := href(t, regPath, r.body, "Sign in"); !sameURL(got, loginPath) {
		t.Errorf("register page's sign-in link = %q, want %q", got, loginPath)
	}
	form := url.Values{
		"csrf_token": {hidden(t, csrfRe, r.body)},
		"nonce":      {hidden(t, nonceRe, r.body)},
		"return":     {html.UnescapeString(regexpFind(r.body, `name="return" value="([^"]*)"`))},
		"first_name": {"Ada"}, "last_name": {"Lovelace"}, "email": {"ada@example.com"},
		"company": {"Analytical Engines Ltd"}, "terms": {"yes"},
	}
	r = c.post(mount+"/register", form)
	if r.StatusCode != 303 {
		t.Fatalf("register: %d\n%s", r.StatusCode, r.body)
	}
	successPath := r.location()
	if strings.Contains(successPath, "app") {
		t.Errorf("the success link shows the return path in clear: %s", successPath)
	}
	r = c.get(successPath)
	if r.StatusCode != 200 {
		t.Fatalf("success page: %d", r.StatusCode)
	}
	signIn := href(t, successPath, r.body, "Sign in")
	if !sameURL(signIn, loginPath) {
		t.Fatalf("the success page's sign-in link = %q, want %q", signIn, loginPath)
	}
	g := b.guests(t)[0]
	page := c.get(signIn).body
	r = c.post(mount+"/login", url.Values{
		"csrf_token": {hidden(t, csrfRe, page)},
		"return":     {html.UnescapeString(regexpFind(page, `name="return" value="([^"]*)"`))},
		"username":   {g.Username},
		"password":   {g.Password},
	})
	if r.StatusCode != 303 || r.location() != gated {
		t.Fatalf("sign in from the success page: %d → %q, want %q", r.StatusCode, r.location(), gated)
	}
	if r := c.get(gated); r.StatusCode != 200 || r.body != "hello "+g.Username {
		t.Fatalf("gated page after signing in: %d %q", r.StatusCode, r.body)
	}
}

// A return path that is not a local path is dropped at every step: the
// register form does not carry it, and the success page's link has none.
func TestReturnPathRegistrationRefusesOtherSites(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, bad := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		c := b.client(t)
		r := c.get(mount + "/register?return=" + url.QueryEscape(bad))
		if strings.Contains(r.body, `name="return"`) || strings.Contains(r.body, "evil") {
			t.Errorf("register?return=%s: the page carries it:\n%s", bad, r.body)
		}
		form := c.registerForm()
		form.Set("email", "x"+strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' {
				return r
			}
			return -1
		}, bad)+"@example.com")
		form.Set("return", bad)
		loc := c.post(mount+"/register", form).location()
		r = c.get(loc)
		if got := href(t, loc, r.body, "Sign in"); got != mount+"/login" {
			t.Errorf("return %q: the success page's sign-in link = %q, want %q", bad, got, mount+"/login")
		}
	}
}
