package radius

import (
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		b.guest(t, "active", storage.GuestActive, -time.Hour, 5*time.Hour+7*time.Second, "daily")
		b.guest(t, "pending", storage.GuestPending, 0, 24*time.Hour, "daily")
		b.guest(t, "suspended", storage.GuestSuspended, -time.Hour, 24*time.Hour, "daily")
		b.guest(t, "denied", storage.GuestDenied, 0, 24*time.Hour, "daily")
		b.guest(t, "expired", storage.GuestExpired, -48*time.Hour, -24*time.Hour, "daily")
		b.guest(t, "lapsed", storage.GuestActive, -25*time.Hour, -time.Second, "daily")
		b.guest(t, "early", storage.GuestActive, time.Hour, 25*time.Hour, "daily")

		for _, c := range []struct {
			name, user, password string
			status               int
			reason               guest.NetworkOutcome // for a reject
			timeout              float64              // Session-Timeout of an accept
		}{
			{"accept", "active", "pw-active", 200, "", 5*3600 + 7},
			{"accept by email, any case", "Active@Visitor.Example", "pw-active", 200, "", 5*3600 + 7},
			{"unknown user", "nobody", "pw-nobody", 401, guest.NetworkUnknown, 0},
			{"wrong password", "active", "pw-Active", 401, guest.NetworkWrongPassword, 0},
			{"pending", "pending", "pw-pending", 401, guest.NetworkPending, 0},
			{"suspended", "suspended", "pw-suspended", 401, guest.NetworkSuspended, 0},
			{"denied", "denied", "pw-denied", 401, guest.NetworkDenied, 0},
			{"expired", "expired", "pw-expired", 401, guest.NetworkExpired, 0},
			{"past the validity, not yet expired by the job", "lapsed", "pw-lapsed", 401, guest.NetworkExpired, 0},
			{"before the validity", "early", "pw-early", 401, guest.NetworkNotYetValid, 0},
			{"a suspended guest's wrong password", "suspended", "nope", 401, guest.NetworkWrongPassword, 0},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := len(b.audited(t, "guest.network_reject"))
				a := b.authenticate(t, c.user, c.password)
				if a.Status != c.status {
					t.Fatalf("status %d, want %d (%v)", a.Status, c.status, a.Body)
				}
				if c.status == 200 {
					if got := a.Body["reply:Session-Timeout"]; got != c.timeout {
						t.Errorf("Session-Timeout %v, want %v (the remaining validity)", got, c.timeout)
					}
					if len(a.Body) != 1 {
						t.Errorf("accept carries %v, want only the Session-Timeout", a.Body)
					}
					return
				}
				if _, ok := a.Body["reply:Session-Timeout"]; ok {
					t.Errorf("a reject carries a Session-Timeout: %v", a.Body)
				}
				if got, want := a.Body["reply:Reply-Message"], c.reason.Message(); got != want {
					t.Errorf("Reply-Message %q, want %q", got, want)
				}
				rejects := b.audited(t, "guest.network_reject")
				if len(rejects) != before+1 {
					t.Fatalf("%d new guest.network_reject entries, want 1", len(rejects)-before)
				}
				e := rejects[0] // newest first
				if !strings.HasPrefix(e.Detail, string(c.reason)+";") && !strings.Contains(e.Detail, "; "+string(c.reason)+";") {
					t.Errorf("audit detail %q does not give the reason %q", e.Detail, c.reason)
				}
				if !strings.Contains(e.Detail, "nas 192.0.2.10") || !strings.Contains(e.Detail, "device 02-00-00-00-00-01") {
					t.Errorf("audit detail %q does not say where the request came from", e.Detail)
				}
				if strings.Contains(e.Detail, c.password) {
					t.Errorf("audit detail %q holds the password", e.Detail)
				}
			})
		}
		if n := len(b.audited(t, "guest.network_login")); n != 2 {
			t.Errorf("%d guest.network_login entries, want 2 (one per accept)", n)
		}
	})
}

// TestAuthenticateFirstSignIn: a guest type that counts its validity from
// the first sign-in starts it at the first network sign-in, and the
// Session-Timeout is the whole validity.
func TestAuthenticateFirstSignIn(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		g := b.guest(t, "speaker", storage.GuestActive, -time.Hour, 30*24*time.Hour, "conference")
		a := b.authenticate(t, "speaker", "pw-speaker")
		if a.Status != 200 {
			t.Fatalf("status %d, want 200 (%v)", a.Status, a.Body)
		}
		if got, want := a.Body["reply:Session-Timeout"], float64(3*24*3600); got != want {
			t.Errorf("Session-Timeout %v, want %v (the type's validity from now)", got, want)
		}
		stored, err := b.store.GetGuest(t.Context(), g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !stored.FirstSignInAt.Equal(b.clock.Now()) || !stored.ValidUntil.Equal(b.clock.Now().Add(3*24*time.Hour)) {
			t.Errorf("first sign-in %s, valid until %s; want both from now (%s)", stored.FirstSignInAt, stored.ValidUntil, b.clock.Now())
		}

		// An hour later the validity runs from the first sign-in still.
		b.clock.Advance(time.Hour)
		a = b.authenticate(t, "speaker", "pw-speaker")
		if got, want := a.Body["reply:Session-Timeout"], float64(3*24*3600-3600); got != want {
			t.Errorf("an hour later: Session-Timeout %v, want %v", got, want)
		}
	})
}

// TestSecret: only a request with the shared secret as a bearer token
// reaches the guest rules.
func TestSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	b.guest(t, "active", storage.GuestActive, -time.Hour, time.Hour, "daily")
	body := rlmRest(map[string]any{"User-Name": "active", "User-Password": "pw-active"})
	for _, c := range []struct {
		name, auth string
		status     int
	}{
		{"right secret", "Bearer " + testSecret, 200},
		{"scheme in another case", "bearer " + testSecret, 200},
		{"no header", "", 401},
		{"wrong secret", "Bearer " + strings.ToUpper(testSecret), 401},
		{"secret with more after it", "Bearer " + testSecret + "x", 401},
		{"a prefix of the secret", "Bearer " + testSecret[:len(testSecret)-1], 401},
		{"empty token", "Bearer ", 401},
		{"basic scheme", "Basic " + testSecret, 401},
		{"the secret alone", testSecret, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(b.audited(t, "guest.network_login"))
			a := b.post(t, "/radius/authenticate", c.auth, body)
			if a.Status != c.status {
				t.Fatalf("status %d, want %d", a.Status, c.status)
			}
			after := len(b.audited(t, "guest.network_login"))
			if c.status == 401 && after != before {
				t.Errorf("a request without the secret signed the guest in")
			}
		})
	}
	// Accounting and unknown paths are behind the secret too.
	for _, path := range []string{"/radius/accounting", "/radius/nothing-here"} {
		if a := b.post(t, path, "Bearer wrong-secret-of-some-length", body); a.Status != 401 {
			t.Errorf("%s without the secret: status %d, want 401", path, a.Status)
		}
	}
	if a := b.post(t, "/radius/nothing-here", "Bearer "+testSecret, body); a.Status != 404 {
		t.Errorf("an unknown path with the secret: status %d, want 404", a.Status)
	}
}

func TestBadRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	for _, c := range []struct {
		name, path string
		body       any
	}{
		{"not JSON", "/radius/authenticate", "User-Name=ada&User-Password=pw"},
		{"no password (CHAP)", "/radius/authenticate", rlmRest(map[string]any{"User-Name": "ada", "CHAP-Password": "0x01"})},
		{"no username", "/radius/authenticate", rlmRest(map[string]any{"User-Password": "pw"})},
		{"too large", "/radius/authenticate", `{"User-Name":"` + strings.Repeat("a", maxBody) + `"}`},
		{"accounting without a status", "/radius/accounting", rlmRest(map[string]any{"User-Name": "ada"})},
	} {
		t.Run(c.name, func(t *testing.T) {
			if a := b.post(t, c.path, "Bearer "+testSecret, c.body); a.Status != 400 {
				t.Errorf("status %d, want 400", a.Status)
			}
		})
	}
}

func TestAccounting(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		g := b.guest(t, "active", storage.GuestActive, -time.Hour, time.Hour, "daily")
		send := func(attrs map[string]any) {
			t.Helper()
			if a := b.post(t, "/radius/accounting", "Bearer "+testSecret, rlmRest(attrs)); a.Status != 204 {
				t.Fatalf("%v: status %d, want 204 (%v)", attrs["Acct-Status-Type"], a.Status, a.Body)
			}
		}
		send(map[string]any{"User-Name": "active", "Acct-Status-Type": "Start", "Acct-Session-Id": "s-1", "NAS-Identifier": "wlc-1"})
		send(map[string]any{"User-Name": "active", "Acct-Status-Type": "Interim-Update", "Acct-Session-Id": "s-1"})
		send(map[string]any{"User-Name": "active", "Acct-Status-Type": "Stop", "Acct-Session-Id": "s-1", "NAS-Identifier": "wlc-1",
			"Acct-Session-Time": 3725, "Acct-Input-Octets": 5, "Acct-Input-Gigawords": 2, "Acct-Output-Octets": 7, "Acct-Terminate-Cause": "Idle-Timeout"})
		send(map[string]any{"User-Name": "someone-else", "Acct-Status-Type": "Start", "Acct-Session-Id": "s-2"})

		starts := b.audited(t, "guest.network_session_start")
		if len(starts) != 2 {
			t.Fatalf("%d session starts audited, want 2", len(starts))
		}
		if e := starts[1]; e.Subject != g.ID.String() || e.Actor != "guest:active" || e.Detail != "session s-1; nas wlc-1" {
			t.Errorf("start audited as %+v", e)
		}
		if e := starts[0]; e.Subject != "" || e.Actor != "system" || !strings.Contains(e.Detail, `username "someone-else"`) {
			t.Errorf("an unknown user's start audited as %+v", e)
		}
		stops := b.audited(t, "guest.network_session_stop")
		if len(stops) != 1 {
			t.Fatalf("%d session stops audited, want 1", len(stops))
		}
		if want := "session s-1; nas wlc-1; 1h2m5s, 8589934597 bytes in, 7 bytes out; cause Idle-Timeout"; stops[0].Detail != want {
			t.Errorf("stop detail %q, want %q", stops[0].Detail, want)
		}
	})
}

func TestSessionTimeout(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 1},
		{-time.Hour, 1},
		{999 * time.Millisecond, 1},
		{90*time.Second + 900*time.Millisecond, 90},
		{24 * time.Hour, 86400},
		{200 * 365 * 24 * time.Hour, 1<<32 - 1},
	} {
		if got := SessionTimeout(c.d); got != c.want {
			t.Errorf("SessionTimeout(%s) = %d, want %d", c.d, got, c.want)
		}
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"nothing", Config{}, []string{"Guests is required", "Secret must be at least 16"}},
		{"short secret", Config{Guests: &guest.Service{}, Secret: "short"}, []string{"Secret must be at least 16"}},
		{"space in secret", Config{Guests: &guest.Service{}, Secret: "a secret with spaces"}, []string{"must not contain spaces"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), c.cfg.Secret) && c.cfg.Secret != "" {
				t.Errorf("error %q holds the secret", err)
			}
		})
	}
}
