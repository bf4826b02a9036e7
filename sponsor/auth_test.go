package sponsor

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

const pw = "a long sponsor password"

func TestLockFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {1, 0}, {4, 0},
		{5, time.Minute}, {6, 2 * time.Minute}, {7, 4 * time.Minute}, {8, 8 * time.Minute},
		{9, 15 * time.Minute}, {10, 15 * time.Minute}, {1000, 15 * time.Minute},
	} {
		if got := lockFor(tc.failures); got != tc.want {
			t.Errorf("lockFor(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "sally", pw, storage.RoleSponsor, "")
		off := b.staff(t, "olga", pw, storage.RoleSponsor, "")
		if err := b.store.SetStaffDisabled(t.Context(), off.ID, true); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, user, pw string
			status         int
			text           string
		}{
			{"wrong password", "sally", pw + "!", http.StatusUnauthorized, badSignIn},
			{"unknown user", "nobody", pw, http.StatusUnauthorized, badSignIn},
			{"empty", "", "", http.StatusUnprocessableEntity, "Enter your username."},
			{"disabled", "olga", pw, http.StatusForbidden, "This account is disabled"},
			{"right, other case", "SALLY", pw, http.StatusSeeOther, ""},
		} {
			c := b.client(t)
			r := c.signIn(tc.user, tc.pw)
			if r.status != tc.status || !strings.Contains(r.body, tc.text) {
				t.Errorf("%s: sign in = %d, want %d with %q; body %s", tc.name, r.status, tc.status, tc.text, r.body)
			}
			if strings.Contains(r.body, pw) {
				t.Errorf("%s: the page echoes the password", tc.name)
			}
			if got, want := c.signedIn(), tc.status == http.StatusSeeOther; got != want {
				t.Errorf("%s: signed in afterwards = %v, want %v", tc.name, got, want)
			}
		}
		st, err := b.store.GetStaffByUsername(t.Context(), "sally")
		if err != nil || st.FailedLogins != 0 || !st.LastLoginAt.Equal(b.clock.Now()) {
			t.Fatalf("after a good sign-in: failures %d, last login %v, %v; want 0, now", st.FailedLogins, st.LastLoginAt, err)
		}
	})
}

func TestLockout(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		st := b.staff(t, "sally", pw, storage.RoleSponsor, "")
		c := b.client(t)
		wrong := func(n int) {
			t.Helper()
			for range n {
				if r := c.signIn("sally", "wrong password!"); r.status != http.StatusUnauthorized {
					t.Fatalf("wrong password: %d", r.status)
				}
			}
		}
		lockedUntil := func() time.Time {
			t.Helper()
			got, err := b.store.GetStaff(t.Context(), st.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.LockedUntil
		}
		wrong(4)
		if !lockedUntil().IsZero() {
			t.Fatal("locked after 4 failures; want the lock from the 5th")
		}
		wrong(1)
		start := b.clock.Now()
		if got := lockedUntil(); !got.Equal(start.Add(time.Minute)) {
			t.Fatalf("after 5 failures locked until %v, want %v", got, start.Add(time.Minute))
		}
		// The right password during the pause: the same answer as a wrong one.
		r := c.signIn("sally", pw)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, badSignIn) {
			t.Fatalf("right password while paused = %d; want 401 with the usual message", r.status)
		}
		if got := lockedUntil(); !got.Equal(start.Add(time.Minute)) {
			t.Fatalf("a try during the pause moved it to %v", got)
		}
		// The pause ends; a further failure doubles it.
		b.clock.Advance(time.Minute)
		wrong(1)
		if got, want := lockedUntil(), b.clock.Now().Add(2*time.Minute); !got.Equal(want) {
			t.Fatalf("6th failure: locked until %v, want %v (2 minutes)", got, want)
		}
		for _, d := range []time.Duration{4, 8, 15, 15} {
			b.clock.Advance(15 * time.Minute)
			wrong(1)
			if got, want := lockedUntil(), b.clock.Now().Add(d*time.Minute); !got.Equal(want) {
				t.Fatalf("locked until %v, want %v (%d minutes)", got, want, d)
			}
		}
		// Never for ever: after the longest pause the right password works
		// and the count starts again.
		b.clock.Advance(15 * time.Minute)
		c.mustSignIn("sally", pw)
		got, err := b.store.GetStaff(t.Context(), st.ID)
		if err != nil || got.FailedLogins != 0 || !got.LockedUntil.IsZero() {
			t.Fatalf("after a good sign-in: %d failures, locked until %v, %v", got.FailedLogins, got.LockedUntil, err)
		}
	})
}

func TestLoginRateLimitPerClient(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", func(c *Config) { c.Login = Limit{Burst: 2, Every: time.Hour} })
	b.staff(t, "sally", pw, storage.RoleSponsor, "")
	c := b.client(t)
	for i := range 2 {
		if r := c.signIn("nobody", "x"); r.status != http.StatusUnauthorized {
			t.Fatalf("try %d: %d", i, r.status)
		}
	}
	if r := c.signIn("sally", pw); r.status != http.StatusTooManyRequests {
		t.Fatalf("third try from one client: %d, want 429", r.status)
	}
}

func TestSessionRotation(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "sally", pw, storage.RoleSponsor, "")
		c := b.client(t)
		before := c.csrf("/login")
		beforeCookies := c.cookies()
		c.mustSignIn("sally", pw)
		after := c.cookies()
		if cookieValue(after, "lobby_csrf") == cookieValue(beforeCookies, "lobby_csrf") || cookieValue(after, "lobby_staff") == "" {
			t.Fatalf("sign-in did not rotate the CSRF cookie and start a session: before %v, after %v", beforeCookies, after)
		}
		// The token of before sign-in no longer passes.
		if r := c.post("/logout", before, nil); r.status != http.StatusForbidden {
			t.Fatalf("POST with the CSRF token from before sign-in = %d, want 403", r.status)
		}
		if !c.signedIn() {
			t.Fatal("not signed in after the refused POST")
		}
		// A planted cookie set (the one from before sign-in) is not signed in.
		planted := b.client(t)
		planted.setCookies(beforeCookies)
		if planted.signedIn() {
			t.Fatal("the cookies of before sign-in are signed in")
		}
		// Signing in again makes a new session.
		first := cookieValue(c.cookies(), "lobby_staff")
		b.clock.Advance(time.Second)
		if r := c.post("/login", c.csrf("/"), url.Values{"username": {"sally"}, "password": {pw}}); r.status != http.StatusSeeOther {
			t.Fatalf("second sign-in: %d", r.status)
		}
		if second := cookieValue(c.cookies(), "lobby_staff"); second == first {
			t.Fatal("a second sign-in kept the session cookie")
		}
	})
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "sally", pw, storage.RoleSponsor, "")
		c, other := b.client(t), b.client(t)
		c.mustSignIn("sally", pw)
		other.mustSignIn("sally", pw)
		saved := c.cookies()
		b.clock.Advance(time.Second)
		r := c.post("/logout", c.csrf("/"), nil)
		if r.status != http.StatusSeeOther || !strings.Contains(r.location, "login?signed_out=1") {
			t.Fatalf("sign out = %d to %q", r.status, r.location)
		}
		if c.signedIn() {
			t.Fatal("still signed in after signing out")
		}
		replay := b.client(t)
		replay.setCookies(saved)
		if replay.signedIn() {
			t.Fatal("a copy of the session cookie still works after sign-out")
		}
		if other.signedIn() {
			t.Fatal("the other device is still signed in; sign-out is on every device")
		}
		if !strings.Contains(c.get("/login?signed_out=1").body, "signed out on all devices") {
			t.Fatal("the sign-in page does not say the user is signed out")
		}
		b.clock.Advance(time.Second)
		c.mustSignIn("sally", pw) // and one can sign in again
	})
}

func TestCSRFMissing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "sally", pw, storage.RoleSponsor, "")
		c := b.client(t)
		c.get("/login") // the CSRF cookie, but no token in the form
		if r := c.post("/login", "", url.Values{"username": {"sally"}, "password": {pw}}); r.status != http.StatusForbidden {
			t.Fatalf("sign in without the CSRF token = %d, want 403", r.status)
		}
		c.mustSignIn("sally", pw)
		for _, path := range []string{"/logout", "/password"} {
			if r := c.post(path, "", url.Values{"current": {pw}, "new": {"another long password"}, "again": {"another long password"}}); r.status != http.StatusForbidden {
				t.Errorf("POST %s without the CSRF token = %d, want 403", path, r.status)
			}
		}
		if !c.signedIn() {
			t.Fatal("a refused sign-out signed out")
		}
	})
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.staff(t, "sallyjenkins", pw, storage.RoleSponsor, "")
		c, other := b.client(t), b.client(t)
		c.mustSignIn("sallyjenkins", pw)
		other.mustSignIn("sallyjenkins", pw)
		const next = "the new sponsor password"
		for _, tc := range []struct {
			name, current, new, again, want string
		}{
			{"short", pw, "short pw", "short pw", "at least 12 characters"},
			{"username", pw, "SallyJenkins", "SallyJenkins", "not use your username"},
			{"common", pw, "password1234", "password1234", "too common"},
			{"mismatch", pw, next, next + "x", "differ"},
			{"wrong current", "not my password", next, next, "not your current password"},
			{"same as current", pw, pw, pw, "other than your current"},
		} {
			r := c.post("/password", c.csrf("/password"), url.Values{"current": {tc.current}, "new": {tc.new}, "again": {tc.again}})
			if r.status == http.StatusSeeOther || !strings.Contains(r.body, tc.want) {
				t.Errorf("%s: %d, want a refusal saying %q; body %s", tc.name, r.status, tc.want, r.body)
			}
			if strings.Contains(r.body, tc.new) && len(tc.new) > 8 {
				t.Errorf("%s: the page echoes the new password", tc.name)
			}
		}
		b.clock.Advance(time.Second)
		r := c.post("/password", c.csrf("/password"), url.Values{"current": {pw}, "new": {next}, "again": {next}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("change password = %d: %s", r.status, r.body)
		}
		if !c.signedIn() {
			t.Fatal("the browser that changed the password was signed out")
		}
		if !strings.Contains(c.get("/?password_changed=1").body, "Your password is changed") {
			t.Fatal("no notice that the password changed")
		}
		if other.signedIn() {
			t.Fatal("another session survived the password change")
		}
		fresh := b.client(t)
		if r := fresh.signIn("sallyjenkins", pw); r.status != http.StatusUnauthorized {
			t.Fatalf("the old password still signs in: %d", r.status)
		}
		fresh.mustSignIn("sallyjenkins", next)
	})
}
