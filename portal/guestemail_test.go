package portal

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/guest"
)

// guestEmailOff saves the portal settings with guest email off.
func (b *testBundle) guestEmailOff(t *testing.T) {
	t.Helper()
	ps, err := b.portal.Guests().PortalSettings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ps.SendGuestEmail = false
	ps.Terms = "Be kind to the network."
	if _, err := b.portal.Guests().SavePortalSettings(t.Context(), guest.System(), ps, ps.Version); err != nil {
		t.Fatal(err)
	}
}

// With guest email off (and without ShowCredentials), the success page
// shows the credentials at once, with no talk of an email, and its "Sign
// in now" button works; a registration waiting for approval is told that
// no email comes; the resend page sends nothing; and nothing is queued.
func TestSuccessPageWithGuestEmailOff(t *testing.T) {
	t.Parallel()
	for _, approval := range []bool{false, true} {
		t.Run(map[bool]string{false: "open", true: "approval"}[approval], func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) {
				c.Policy.SuccessWait = 5 * time.Second
				c.Policy.RequireApproval = approval
				c.Policy.Approvers = []string{"desk@corp.example"}
			})
			b.guestEmailOff(t)
			c := b.client(t)
			start := time.Now()
			if !approval {
				loc, body := registerShown(t, b, c, "ada@example.com", "/app")
				if took := time.Since(start); took >= 5*time.Second {
					t.Errorf("the success page waited %s, as if for an email", took)
				}
				if !strings.Contains(body, "We do not send them by email") || strings.Contains(body, "on its way") || strings.Contains(body, "have it sent again") {
					t.Errorf("the success page talks of an email:\n%s", body)
				}
				f, ok := findSignInNow(t, loc, body)
				if !ok {
					t.Fatalf("no Sign in now form on the success page:\n%s", body)
				}
				if r := c.postSignInNow(f.action, f.csrf, f.ret); r.StatusCode != http.StatusSeeOther || r.location() != "/app" {
					t.Fatalf("Sign in now: %d to %q", r.StatusCode, r.location())
				}
			} else {
				form := c.registerForm()
				r := c.post(mount+"/register", form)
				if r.StatusCode != http.StatusSeeOther {
					t.Fatalf("register: %d\n%s", r.StatusCode, r.body)
				}
				r = c.get(r.location())
				if !strings.Contains(r.body, "We do not send email here") || strings.Contains(r.body, "We will email") {
					t.Errorf("the pending success page promises an email:\n%s", r.body)
				}
			}
			r := c.post(mount+"/resend", url.Values{"csrf_token": {c.csrf(mount + "/register")}, "email": {"ada@example.com"}})
			if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "not sent by email here") {
				t.Errorf("resend: %d\n%s", r.StatusCode, r.body)
			}
			for _, m := range b.outbox(t) {
				if strings.HasPrefix(m.Kind, "guest.") && m.Kind != guest.KindApproval {
					t.Errorf("with guest email off a %s email was queued to %v", m.Kind, m.To)
				}
			}
			if approval && b.mailCount(t) != 1 {
				t.Errorf("the outbox holds %d messages, want the approval request alone", b.mailCount(t))
			}
		})
	}
}
