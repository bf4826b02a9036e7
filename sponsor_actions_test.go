package lobby

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/storage"
)

// The sponsor's actions through the whole of Lobby: the sponsor pages at
// /guest/sponsor, the guest rules the portal shares, the real dispatcher
// and the Exchange Online emulator, and the guest portal's sign-in and the
// host's gated page.

const staffPassword = "a long staff password"

// staffBrowser is a signed-in staff user's browser (its own cookie jar).
type staffBrowser struct {
	b      *testBundle
	client *http.Client
}

// signInStaff creates an admin and signs them in at the sponsor side.
func (b *testBundle) signInStaff(t *testing.T) *staffBrowser {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(staffPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	st := &storage.Staff{Username: "desk", Email: "desk@corp.example", Role: storage.RoleAdmin, PasswordHash: string(h)}
	if err := b.store.CreateStaff(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	s := &staffBrowser{b: b, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	form := s.form(t, "/guest/sponsor/login")
	form.Set("username", st.Username)
	form.Set("password", staffPassword)
	if res, page := s.post(t, "/guest/sponsor/login", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("staff sign-in: %d\n%s", res.StatusCode, page)
	}
	return s
}

func (s *staffBrowser) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	res, err := s.client.Get(s.b.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func (s *staffBrowser) post(t *testing.T, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	res, err := s.client.PostForm(s.b.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// form returns the hidden fields of the page at path.
func (s *staffBrowser) form(t *testing.T, path string) url.Values {
	t.Helper()
	res, page := s.get(t, path)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", path, res.StatusCode, page)
	}
	return hidden(t, page)
}

var noticeRE = regexp.MustCompile(`(?s)<p class="notice" role="status">(.*?)</p>`)

// act posts an action from the guest's page and returns the message the
// page shows after the redirect.
func (s *staffBrowser) act(t *testing.T, g *storage.Guest, action string, extra url.Values) string {
	t.Helper()
	page := "/guest/sponsor/guests/" + g.ID.String()
	form := s.form(t, page)
	for k, v := range extra {
		form[k] = v
	}
	start := time.Now()
	res, body := s.post(t, page+"/"+action, form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: %d\n%s", action, res.StatusCode, body)
	}
	t.Logf("%s answered in %s", action, time.Since(start).Round(time.Millisecond))
	_, body = s.get(t, page)
	m := noticeRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("%s: no message on the guest page:\n%s", action, body)
	}
	if !strings.Contains(body, "<strong>guest."+map[string]string{"reset": "reset_password"}[action]) && !strings.Contains(body, "<strong>guest."+action) {
		t.Errorf("%s: the guest's history does not show it:\n%s", action, body)
	}
	t.Logf("%s: the page says %q", action, m[1])
	return m[1]
}

// activeGuest creates an active guest with a known password.
func (b *testBundle) activeGuest(t *testing.T, first, email, password string) *storage.Guest {
	t.Helper()
	now := b.clock.Now()
	g := &storage.Guest{Username: email, Password: password, FirstName: first, LastName: "Guest", Email: email,
		Status: storage.GuestActive, ValidFrom: now, ValidUntil: now.Add(24 * time.Hour), GuestType: "daily"}
	if err := b.store.CreateGuest(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	return g
}

// mailTo waits for the n-th email (1-based) to addr and returns its
// username and password lines.
func (b *testBundle) mailTo(t *testing.T, addr string, n int, within time.Duration) (username, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	for total := n; ; total++ {
		msgs, err := b.emu.WaitForMessages(ctx, total)
		if err != nil {
			t.Fatalf("email %d to %s did not arrive: %v (mail log: %s)", n, addr, err, b.mailLog(t))
		}
		var mine []exchangetest.Message
		for _, m := range msgs {
			if len(m.To) == 1 && strings.EqualFold(m.To[0], addr) {
				mine = append(mine, m)
			}
		}
		if len(mine) < n {
			continue
		}
		text, err := textBody(mine[n-1].Data)
		if err != nil {
			t.Fatal(err)
		}
		u, p := usernameRE.FindStringSubmatch(text), passwordRE.FindStringSubmatch(text)
		if u == nil || p == nil {
			t.Fatalf("no credentials in email %d to %s (%q)", n, addr, mine[n-1].Subject)
		}
		return u[1], p[1]
	}
}

// portalLogin tries the guest portal's sign-in and reports whether it let
// the guest in.
func (b *testBundle) portalLogin(t *testing.T, username, password string) bool {
	t.Helper()
	_, page := b.get(t, "/guest/portal/login")
	form := hidden(t, page)
	form.Set("username", username)
	form.Set("password", password)
	res, _ := b.post(t, "/guest/portal/login", form)
	return res.StatusCode == http.StatusSeeOther
}

// TestSponsorResendAndReset: a sponsor's resend emails the password the
// guest has (the page says how long sending took); a reset emails a new one,
// with which the guest signs in while the old one fails, and the guest's
// session from before ends.
func TestSponsorResendAndReset(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testSponsorResendAndReset(t, setupOn(t, backend, hostNetHTTP, nil))
		})
	}
}

func testSponsorResendAndReset(t *testing.T, b *testBundle) {
	const email, oldPassword = "rita@guest.example", "Old-Pass-2026"
	g := b.activeGuest(t, "Rita", email, oldPassword)
	staff := b.signInStaff(t)

	const wifi = "/wifi"
	b.login(t, g.Username, oldPassword, wifi)
	if res, _ := b.get(t, wifi); res.StatusCode != http.StatusOK {
		t.Fatalf("the guest is not online before the reset: %d", res.StatusCode)
	}

	note := staff.act(t, g, "resend", nil)
	if !regexp.MustCompile(`Sent in \d+ ms`).MatchString(note) {
		t.Errorf("resend: the page says %q, want how long sending took", note)
	}
	if u, p := b.mailTo(t, email, 1, 15*time.Second); u != g.Username || p != oldPassword {
		t.Errorf("resend delivered other credentials than the guest's (username %q)", u)
	}

	note = staff.act(t, g, "reset", nil)
	if !strings.Contains(note, "New password set") || !regexp.MustCompile(`Sent in \d+ ms`).MatchString(note) {
		t.Errorf("reset: the page says %q", note)
	}
	u, newPassword := b.mailTo(t, email, 2, 15*time.Second)
	if u != g.Username || newPassword == oldPassword {
		t.Fatalf("reset delivered username %q and the old password: %v", u, newPassword == oldPassword)
	}
	res, _ := b.get(t, wifi)
	wantLoginRedirect(t, res, wifi)
	if b.portalLogin(t, g.Username, oldPassword) {
		t.Errorf("the old password still signs in after the reset")
	}
	if !b.portalLogin(t, g.Username, newPassword) {
		t.Errorf("the emailed new password does not sign in")
	}
}

// TestSponsorResendWhileSMTPDown: with the SMTP server refusing every
// connection, the resend page says the email is queued and Lobby keeps
// retrying; once the server is back the email arrives, with nobody doing
// anything more.
func TestSponsorResendWhileSMTPDown(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, func(_ *testBundle, c *Config) { c.Portal.SuccessWait = 5 * time.Second })
	const email, password = "otto@guest.example", "Otto-Pass-2026"
	g := b.activeGuest(t, "Otto", email, password)
	staff := b.signInStaff(t)

	b.emu.DropConnections(1 << 30) // down: every connection closes at once
	note := staff.act(t, g, "resend", nil)
	if !strings.Contains(note, "Lobby keeps retrying") || strings.Contains(note, "Sent in") {
		t.Errorf("resend while SMTP is down: the page says %q, want queued and retrying", note)
	}
	if n := len(b.emu.Messages()); n != 0 {
		t.Fatalf("%d emails arrived while SMTP was down", n)
	}
	b.emu.DropConnections(0) // back
	// The retry comes after the dispatcher's backoff (5 s ± 20 %) and
	// poll (5 s): real time, nobody acting.
	if u, p := b.mailTo(t, email, 1, 40*time.Second); u != g.Username || p != password {
		t.Errorf("the retried email carries other credentials (username %q)", u)
	}
}

// TestSponsorSuspendEndsGuestAccess: suspending a guest from the sponsor
// page turns them away from the host's gated page at their next request.
func TestSponsorSuspendEndsGuestAccess(t *testing.T) {
	t.Parallel()
	b := setup(t, hostNetHTTP, nil)
	g := b.activeGuest(t, "Sven", "sven@guest.example", "Sven-Pass-2026")
	staff := b.signInStaff(t)
	const wifi = "/wifi?ssid=guest"
	b.login(t, g.Username, "Sven-Pass-2026", wifi)
	if res, body := b.get(t, wifi); res.StatusCode != http.StatusOK {
		t.Fatalf("before: %d %q", res.StatusCode, body)
	}
	if note := staff.act(t, g, "suspend", url.Values{"suspend_reason": {"left the building"}}); !strings.Contains(note, "Suspended") {
		t.Errorf("suspend: the page says %q", note)
	}
	res, _ := b.get(t, wifi)
	wantLoginRedirect(t, res, wifi)
}
