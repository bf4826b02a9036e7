package lobby

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/storage"
)

// The admin pages through the whole of Lobby: the sponsor side's sign-in
// decides who may see them.
func TestAdminPagesNeedAnAdmin(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, backend, hostNetHTTP, nil)

			// A stranger is sent to sign in, and signing in leads back.
			res, err := b.client.Get(b.srv.URL + "/guest/admin/")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			loc := res.Header.Get("Location")
			if res.StatusCode != http.StatusSeeOther || loc != "/guest/sponsor/login?return=%2Fguest%2Fadmin%2F" {
				t.Fatalf("stranger GET /guest/admin/ = %d %q", res.StatusCode, loc)
			}
			admin := b.signInStaffAt(t, "desk", storage.RoleAdmin, loc)
			if _, page := admin.get(t, "/guest/admin/"); !strings.Contains(page, "<h1>Administration</h1>") {
				t.Errorf("the admin does not see the admin home page:\n%s", page)
			}
			if _, page := admin.get(t, "/guest/sponsor/"); !strings.Contains(page, `<a href="/guest/admin/">Administration</a>`) {
				t.Errorf("the sponsor pages do not link an admin to the admin pages:\n%s", page)
			}

			sponsor := b.signInStaffAt(t, "sam", storage.RoleSponsor, "")
			res, page := sponsor.get(t, "/guest/admin/")
			if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "Administrators only") {
				t.Errorf("sponsor GET /guest/admin/ = %d:\n%s", res.StatusCode, page)
			}
			if _, page := sponsor.get(t, "/guest/sponsor/"); strings.Contains(page, "/guest/admin/") {
				t.Errorf("a sponsor sees the link to the admin pages:\n%s", page)
			}
		})
	}
}

// signInStaffAt creates a staff user and signs them in at the sponsor
// side's sign-in page from signInURL (with its return address; "" for the
// plain page), checking where sign-in leads.
func (b *testBundle) signInStaffAt(t *testing.T, username string, role storage.Role, signInURL string) *staffBrowser {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(staffPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	st := &storage.Staff{Username: username, Email: username + "@corp.example", Role: role, PasswordHash: string(h)}
	if err := b.store.CreateStaff(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	s := &staffBrowser{b: b, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if signInURL == "" {
		signInURL = "/guest/sponsor/login"
	}
	form := s.form(t, signInURL)
	form.Set("username", username)
	form.Set("password", staffPassword)
	res, page := s.post(t, signInURL, form)
	want := "./"
	if u, _ := url.Parse(signInURL); u.Query().Get("return") != "" {
		want = u.Query().Get("return")
	}
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
		t.Fatalf("sign-in of %s: %d to %q, want 303 to %q\n%s", username, res.StatusCode, res.Header.Get("Location"), want, page)
	}
	return s
}

// An admin saves new SMTP settings on one Lobby; the next email goes out
// with them at once there, and within the settings cache's few seconds on
// another Lobby on the same store (a second replica), without a restart.
func TestSavedSMTPSettingsReachEveryReplica(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, backend, hostNetHTTP, nil) // sends through b.emu (settings version 1)
			second, err := New(Config{Store: b.store, BaseURL: "http://replica.test/guest", SecretKey: b.key,
				Logger: testLogger(t), Now: b.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- second.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("second Run: %v", err)
				}
				second.Close()
			})
			if v := settingsVersion(t, second); v != 1 {
				t.Fatalf("the second replica reads settings version %d, want 1", v)
			}

			next := exchangetest.NewServer(t, exchangetest.Options{})
			admin := b.signInStaffAt(t, "desk", storage.RoleAdmin, "")
			form := admin.form(t, "/guest/admin/certificates")
			form.Set("pem", string(next.CACertPEM()))
			if res, page := admin.post(t, "/guest/admin/certificates", form); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("add CA: %d\n%s", res.StatusCode, page)
			}
			form = admin.form(t, "/guest/admin/smtp")
			for k, v := range map[string]string{
				"host": next.SMTPHost(), "port": strconv.Itoa(next.SMTPPort()), "security": "starttls", "from": next.Mailbox(),
				"auth_mode": "exchange-online-oauth", "tenant_id": next.Tenant(), "client_id": next.ClientID(),
				"client_secret": next.ClientSecret(), "token_endpoint_base": next.TokenEndpointBase(),
			} {
				form.Set(k, v)
			}
			res, page := admin.post(t, "/guest/admin/smtp/test", form)
			if res.StatusCode != http.StatusOK || !strings.Contains(page, "Test Connection passed") {
				t.Fatalf("test connection: %d\n%s", res.StatusCode, page)
			}
			for k, v := range hidden(t, page) {
				form[k] = v
			}
			if res, page := admin.post(t, "/guest/admin/smtp/save", form); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("save: %d\n%s", res.StatusCode, page)
			}

			// This replica: at once.
			sendForm := admin.form(t, "/guest/admin/smtp")
			sendForm.Set("to", "first@example.net")
			if _, page := admin.post(t, "/guest/admin/smtp/send", sendForm); !strings.Contains(page, "Sent in ") {
				t.Fatalf("send test email:\n%s", page)
			}
			if _, err := next.WaitForMessages(t.Context(), 1); err != nil {
				t.Fatal(err)
			}
			// The other replica: within the cache's TTL.
			deadline := time.After(10 * time.Second)
			poll := time.NewTicker(20 * time.Millisecond)
			defer poll.Stop()
			for settingsVersion(t, second) != 2 {
				select {
				case <-deadline:
					t.Fatal("the second replica still reads the old settings after 10s")
				case <-poll.C:
				}
			}
			res2 := second.Dispatcher().Submit(t.Context(), notify.Message{Kind: "admin.test", To: []string{"second@example.net"},
				Subject: "From the second replica", Text: "x"}).Wait(t.Context())
			if res2.Status != notify.StatusSent {
				t.Fatalf("send from the second replica: %+v", res2)
			}
			msgs, err := next.WaitForMessages(t.Context(), 2)
			if err != nil || len(msgs) != 2 {
				t.Fatalf("the new server got %d messages: %v", len(msgs), err)
			}
			if n := len(b.emu.Messages()); n != 0 {
				t.Errorf("the old server got %d messages after the switch", n)
			}
		})
	}
}

func settingsVersion(t *testing.T, l *Lobby) int64 {
	t.Helper()
	s, err := l.settings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return s.Version
}
