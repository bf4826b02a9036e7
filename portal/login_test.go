package portal

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// registered registers a guest through the portal and returns them.
func registered(t *testing.T, b *testBundle, email string) *storage.Guest {
	t.Helper()
	c := b.client(t)
	form := c.registerForm()
	form.Set("email", email)
	if r := c.post(mount+"/register", form); r.StatusCode != 303 {
		t.Fatalf("register: %d\n%s", r.StatusCode, r.body)
	}
	g, err := b.store.GetGuestByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func (c *client) login(username, password, ret string) response {
	c.t.Helper()
	path := mount + "/login"
	if ret != "" {
		path += "?return=" + url.QueryEscape(ret)
	}
	page := c.get(path).body
	return c.post(mount+"/login", url.Values{
		"csrf_token": {hidden(c.t, csrfRe, page)},
		"return":     {regexpFind(page, `name="return" value="([^"]*)"`)},
		"username":   {username},
		"password":   {password},
	})
}

func TestLogin(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	g := registered(t, b, "ada@example.com")
	c := b.client(t)

	if r := c.get("/app"); r.StatusCode != 401 {
		t.Fatalf("app before sign-in: %d", r.StatusCode)
	}
	r := c.login(g.Username, "wrong-password", "")
	if r.StatusCode != 401 || !strings.Contains(r.body, "The username or password is not right") {
		t.Fatalf("wrong password: %d\n%s", r.StatusCode, r.body)
	}
	if strings.Contains(r.body, "wrong-password") {
		t.Fatal("the password was echoed back")
	}
	if r := c.login("nobody@example.com", g.Password, ""); r.StatusCode != 401 {
		t.Fatalf("unknown user: %d", r.StatusCode)
	}
	if r := c.get("/app"); r.StatusCode != 401 {
		t.Fatal("signed in after failed attempts")
	}

	// A CSRF token planted before sign-in does not survive it.
	before := c.csrf(mount + "/login")
	r = c.login("ADA@example.com", g.Password, "")
	if r.StatusCode != 303 || r.location() != mount+"/account" {
		t.Fatalf("right credentials: %d → %q", r.StatusCode, r.location())
	}
	if r := c.get("/app"); r.StatusCode != 200 || r.body != "hello ada@example.com" {
		t.Fatalf("app after sign-in: %d %q", r.StatusCode, r.body)
	}
	acct := c.get(mount + "/account")
	if acct.StatusCode != 200 || !strings.Contains(acct.body, "ada@example.com") || !strings.Contains(acct.body, "Sign out") {
		t.Fatalf("account: %d", acct.StatusCode)
	}
	if n := strings.Count(acct.body, ">Sign out</button>"); n != 1 {
		t.Fatalf("the account page has %d sign-out buttons, want the one in the header", n)
	}
	after := hidden(t, csrfRe, acct.body)
	if after == before {
		t.Fatal("the CSRF token was not rotated at sign-in")
	}
	if r := c.post(mount+"/logout", url.Values{"csrf_token": {before}}); r.StatusCode != 403 {
		t.Fatalf("logout with the pre-sign-in token: %d", r.StatusCode)
	}
	r = c.post(mount+"/logout", url.Values{"csrf_token": {after}})
	if r.StatusCode != 303 || r.location() != mount+"/login?signed_out=1" {
		t.Fatalf("logout: %d → %q", r.StatusCode, r.location())
	}
	if r := c.get("/app"); r.StatusCode != 401 {
		t.Fatal("still signed in after sign-out")
	}
	if r := c.get(mount + "/account"); r.StatusCode != 303 {
		t.Fatalf("account after sign-out: %d", r.StatusCode)
	}
}

func TestLoginReturn(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	g := registered(t, b, "ada@example.com")
	if got := b.portal.LoginURL("/app?x=1"); got != "login?return=%2Fapp%3Fx%3D1" {
		t.Fatalf("LoginURL = %q", got)
	}
	for ret, want := range map[string]string{
		"/app":                   "/app",
		"//evil.example/":        mount + "/account",
		"https://evil.example/":  mount + "/account",
		"/\\evil.example":        mount + "/account",
		"javascript:alert(1)":    mount + "/account",
		"/app\r\nSet-Cookie: x=": mount + "/account",
	} {
		c := b.client(t)
		if r := c.login(g.Username, g.Password, ret); r.StatusCode != 303 || r.location() != want {
			t.Errorf("return %q: %d → %q, want %q", ret, r.StatusCode, r.location(), want)
		}
	}
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Limits.Login = Limit{Burst: 3, Every: 10 * time.Second} })
	c := b.client(t)
	csrf := c.csrf(mount + "/login")
	for i := range 3 {
		if r := c.post(mount+"/login", url.Values{"csrf_token": {csrf}, "username": {"x"}, "password": {"y"}}); r.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	r := c.post(mount+"/login", url.Values{"csrf_token": {csrf}, "username": {"x"}, "password": {"y"}})
	if r.StatusCode != 429 || r.Header.Get("Retry-After") != "10" {
		t.Fatalf("fourth attempt: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
}

func TestGuestSuspendedOrExpired(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	g := registered(t, b, "ada@example.com")
	c := b.client(t)
	if r := c.login(g.Username, g.Password, ""); r.StatusCode != 303 {
		t.Fatalf("login: %d", r.StatusCode)
	}
	signedIn := func() bool {
		req, _ := http.NewRequest("GET", b.srv.URL+"/app", nil)
		for _, ck := range c.jar.Cookies(req.URL) {
			req.AddCookie(ck)
		}
		_, ok := b.portal.Guest(req)
		return ok
	}
	if !signedIn() {
		t.Fatal("Guest(r) false for an active guest")
	}
	suspended, active := storage.GuestSuspended, storage.GuestActive
	if _, err := b.store.UpdateGuest(ctx, g.ID, storage.GuestUpdate{Status: &suspended}); err != nil {
		t.Fatal(err)
	}
	if signedIn() {
		t.Fatal("Guest(r) true for a suspended guest")
	}
	if r := c.login(g.Username, g.Password, ""); r.StatusCode != 403 || !strings.Contains(r.body, "suspended") {
		t.Fatalf("login while suspended: %d", r.StatusCode)
	}
	if _, err := b.store.UpdateGuest(ctx, g.ID, storage.GuestUpdate{Status: &active}); err != nil {
		t.Fatal(err)
	}
	if !signedIn() {
		t.Fatal("Guest(r) false after reinstating")
	}
	// Past ValidUntil (the jobs have not run yet): not signed in either.
	b.clock.Advance(24*time.Hour + time.Second)
	if signedIn() {
		t.Fatal("Guest(r) true past ValidUntil")
	}
}

func TestResend(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.Limits.Resend = Limit{Burst: 50, Every: time.Second}
		c.ProxyHeader = "X-Real-IP"
	})
	t.Cleanup(func() { _ = b.portal.Shutdown(context.Background()) })
	g := registered(t, b, "ada@example.com")
	c := b.client(t)
	page := c.get(mount + "/resend?email=ada%40example.com").body
	if !strings.Contains(page, `value="ada@example.com"`) {
		t.Fatal("resend page does not take the email from the link")
	}
	csrf := hidden(t, csrfRe, page)
	resend := func(email string) response {
		return c.post(mount+"/resend", url.Values{"csrf_token": {csrf}, "email": {email}})
	}
	known := resend("Ada@Example.com")
	unknown := resend("nobody@example.com")
	if known.StatusCode != 200 || unknown.StatusCode != 200 {
		t.Fatalf("status %d / %d", known.StatusCode, unknown.StatusCode)
	}
	if !strings.Contains(known.body, `<a href="register">register again</a>`) {
		t.Error("the resend page does not point a guest whose access ended to the register page")
	}
	// The same answer either way, but for the address typed.
	if strings.ReplaceAll(known.body, "ada@example.com", "X") != strings.ReplaceAll(unknown.body, "nobody@example.com", "X") {
		t.Fatalf("answers differ:\n%s\n---\n%s", known.body, unknown.body)
	}
	waitFor(t, "the resent credentials", func() bool { return b.mailCount(t) == 2 })
	msgs := b.outbox(t)
	if len(msgs) != 2 || msgs[1].Kind != KindCredentials || msgs[1].To[0] != "ada@example.com" || field(t, msgs[1].Text, "Password") != g.Password {
		t.Fatalf("outbox after resend: %+v", msgs)
	}
	if r := resend("not an email"); r.StatusCode != 422 || !strings.Contains(r.body, "correct format") {
		t.Fatalf("bad address: %d", r.StatusCode)
	}
	// Per address and client: 3 at once, then one per 20 minutes; another
	// client has an allowance of its own.
	if r := resend("ada@example.com"); r.StatusCode != 200 {
		t.Fatalf("second resend to one address: %d", r.StatusCode)
	}
	if r := resend("ada@example.com"); r.StatusCode != 200 {
		t.Fatalf("third resend to one address: %d", r.StatusCode)
	}
	if r := resend("ada@example.com"); r.StatusCode != 429 || r.Header.Get("Retry-After") != "1200" {
		t.Fatalf("fourth resend to one address: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	other := b.client(t).fromIP("192.0.2.9")
	r := other.post(mount+"/resend", url.Values{"csrf_token": {other.csrf(mount + "/resend")}, "email": {"ada@example.com"}})
	if r.StatusCode != 200 {
		t.Fatalf("a resend to the address from another client: %d", r.StatusCode)
	}
	// The repeats in the same minute queued nothing new (one per guest per minute).
	if err := b.portal.Shutdown(context.Background()); err != nil { // the background work is done
		t.Fatal(err)
	}
	if n := b.mailCount(t); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
}

func TestResendRateLimitPerClient(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Limits.Resend = Limit{Burst: 2, Every: time.Minute} })
	t.Cleanup(func() { _ = b.portal.Shutdown(context.Background()) })
	c := b.client(t)
	csrf := c.csrf(mount + "/resend")
	for i, email := range []string{"a@example.com", "b@example.com"} {
		if r := c.post(mount+"/resend", url.Values{"csrf_token": {csrf}, "email": {email}}); r.StatusCode != 200 {
			t.Fatalf("resend %d: %d", i, r.StatusCode)
		}
	}
	if r := c.post(mount+"/resend", url.Values{"csrf_token": {csrf}, "email": {"c@example.com"}}); r.StatusCode != 429 || r.Header.Get("Retry-After") != "60" {
		t.Fatalf("third: %d %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
}
