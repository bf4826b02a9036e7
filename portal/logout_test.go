package portal

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// sessionCookie is the guest session cookie c's browser holds, or "".
func (c *client) sessionCookie() string {
	c.t.Helper()
	u, err := url.Parse(c.b.srv.URL + mount + "/")
	if err != nil {
		c.t.Fatal(err)
	}
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == "lobby_guest" {
			return ck.Value
		}
	}
	return ""
}

// replay is a browser that has nothing but a copy of a session cookie.
func (b *testBundle) replay(t *testing.T, cookie string) *client {
	t.Helper()
	c := b.client(t)
	u, err := url.Parse(b.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	c.jar.SetCookies(u, []*http.Cookie{{Name: "lobby_guest", Value: cookie, Path: "/"}})
	return c
}

// signedIn reports whether c's session is good for the account page and
// for the host's page behind Portal.Guest.
func (c *client) signedIn() bool {
	c.t.Helper()
	acct := c.get(mount + "/account")
	app := c.get("/app")
	switch {
	case acct.StatusCode == 200 && app.StatusCode == 200:
		return true
	case acct.StatusCode == 303 && acct.location() == mount+"/login" && app.StatusCode == 401:
		return false
	}
	c.t.Fatalf("account: %d → %q, app: %d; want both in or both out", acct.StatusCode, acct.location(), app.StatusCode)
	return false
}

func (c *client) logout() response {
	c.t.Helper()
	// The login page has a CSRF token whether or not the session still counts.
	return c.post(mount+"/logout", url.Values{"csrf_token": {c.csrf(mount + "/login")}})
}

// TestSignOutEndsEverySession: signing out ends the guest's sessions on
// every device, copies of the cookie included, and signing in again works,
// all on a clock that stands still (everything in one microsecond).
func TestSignOutEndsEverySession(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	g := registered(t, b, "ada@example.com")
	other := registered(t, b, "grace@example.com")

	phone, laptop, bystander := b.client(t), b.client(t), b.client(t)
	for name, c := range map[string]*client{"phone": phone, "laptop": laptop} {
		if r := c.login(g.Username, g.Password, ""); r.StatusCode != 303 || !c.signedIn() {
			t.Fatalf("%s: sign-in: %d", name, r.StatusCode)
		}
	}
	if r := bystander.login(other.Username, other.Password, ""); r.StatusCode != 303 || !bystander.signedIn() {
		t.Fatalf("another guest's sign-in: %d", r.StatusCode)
	}
	copied := phone.sessionCookie()
	if copied == "" || !b.replay(t, copied).signedIn() {
		t.Fatal("a copy of the phone's cookie does not sign in before the sign-out; the test proves nothing")
	}

	r := phone.logout()
	if r.StatusCode != 303 || r.location() != mount+"/login?signed_out=1" {
		t.Fatalf("sign-out: %d → %q", r.StatusCode, r.location())
	}
	if page := phone.get(r.location()); !strings.Contains(page.body, "You are signed out on all devices.") {
		t.Fatalf("the signed-out page does not say that every device is signed out:\n%s", page.body)
	}
	signedOutAt, err := b.store.GetGuest(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !signedOutAt.SessionsValidAfter.Equal(storage.Truncate(b.clock.Now())) {
		t.Fatalf("SessionsValidAfter = %v after the sign-out, want now: %v", signedOutAt.SessionsValidAfter, b.clock.Now())
	}
	if phone.sessionCookie() != "" {
		t.Error("the phone still holds its session cookie")
	}
	if phone.signedIn() {
		t.Error("the phone is still signed in")
	}
	if laptop.signedIn() {
		t.Error("the laptop's session survived the sign-out on the phone")
	}
	if b.replay(t, copied).signedIn() {
		t.Error("the copied cookie still signs in after the sign-out")
	}
	if !bystander.signedIn() {
		t.Error("another guest's session ended with this guest's sign-out")
	}

	// A stale copy cannot sign the guest out again (and again): it changes
	// nothing.
	if r := b.replay(t, copied).logout(); r.StatusCode != 303 {
		t.Fatalf("sign-out with the ended session: %d", r.StatusCode)
	}
	if got, err := b.store.GetGuest(ctx, g.ID); err != nil || !got.UpdatedAt.Equal(signedOutAt.UpdatedAt) {
		t.Fatalf("the sign-out with an ended session changed the guest (%v)", err)
	}

	// Signing in again works, in the very microsecond of the sign-out too;
	// and signing out again ends that session, although it was issued a
	// microsecond ahead of the clock.
	if r := phone.login(g.Username, g.Password, ""); r.StatusCode != 303 || r.location() != mount+"/account" {
		t.Fatalf("sign-in after the sign-out: %d → %q", r.StatusCode, r.location())
	}
	if !phone.signedIn() {
		t.Fatal("signing in again after the sign-out does not sign in")
	}
	again := phone.sessionCookie()
	if r := phone.logout(); r.StatusCode != 303 {
		t.Fatalf("second sign-out: %d", r.StatusCode)
	}
	if b.replay(t, again).signedIn() {
		t.Fatal("the session issued in the microsecond of the first sign-out survived the second")
	}
	b.clock.Advance(time.Second)
	if r := laptop.login(g.Username, g.Password, ""); r.StatusCode != 303 || !laptop.signedIn() {
		t.Fatalf("sign-in a second later: %d", r.StatusCode)
	}
}

// TestSessionCutoffBoundary: a session issued in the same microsecond as
// the guest's SessionsValidAfter no longer counts, one issued a microsecond
// later does.
func TestSessionCutoffBoundary(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	g := registered(t, b, "ada@example.com")
	cutoff := storage.Truncate(b.clock.Now().Add(time.Minute))
	if _, err := b.store.UpdateGuest(context.Background(), g.ID, storage.GuestUpdate{SessionsValidAfter: &cutoff}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		issued time.Time
		counts bool
	}{
		{"a minute before", cutoff.Add(-time.Minute), false},
		{"a microsecond before", cutoff.Add(-time.Microsecond), false},
		{"in the same microsecond as", cutoff, false},
		{"999 ns into the same microsecond as", cutoff.Add(999 * time.Nanosecond), false},
		{"a microsecond after", cutoff.Add(time.Microsecond), true},
		{"a second after", cutoff.Add(time.Second), true},
	} {
		b.clock.Advance(tc.issued.Sub(b.clock.Now())) // the clock at the issue time
		rec := httptest.NewRecorder()
		b.portal.sessions.Set(rec, httptest.NewRequest("POST", "/login", nil), g.ID.String())
		req := httptest.NewRequest("GET", "/app", nil)
		for _, c := range rec.Result().Cookies() {
			req.AddCookie(c)
		}
		if _, ok := b.portal.Guest(req); ok != tc.counts {
			t.Errorf("a session issued %s the cut-off: signed in = %v, want %v", tc.name, ok, tc.counts)
		}
	}
}
