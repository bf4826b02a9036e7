package admin

import (
	"crypto/rand"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/internal/teststore"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/storage"
)

// emuForm is the SMTP form filled in right for the emulator srv.
func emuForm(srv *exchangetest.Server) url.Values {
	return url.Values{
		"host":                  {srv.SMTPHost()},
		"port":                  {strconv.Itoa(srv.SMTPPort())},
		"conn_timeout":          {"10"},
		"security":              {"starttls"},
		"from":                  {srv.Mailbox()},
		"auth_mode":             {"exchange-online-oauth"},
		"username":              {""},
		"tenant_id":             {srv.Tenant()},
		"client_id":             {srv.ClientID()},
		"client_secret":         {srv.ClientSecret()},
		"client_secret_expires": {"2026-12-31"},
		"token_endpoint_base":   {srv.TokenEndpointBase()},
		"proxy_url":             {""},
	}
}

func clone(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hidden returns the hidden fields of the SMTP settings form on page.
func hidden(page string) url.Values {
	out := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(page, -1) {
		if m[1] != "csrf_token" && m[1] != "fingerprint" {
			out.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return out
}

// trustEmulator adds the emulator's test CA on the certificates page.
func (c *client) trustEmulator(srv *exchangetest.Server) {
	c.t.Helper()
	pem := string(srv.CACertPEM())
	if tok := string(srv.TokenCACertPEM()); tok != pem {
		pem += tok
	}
	r := c.post("/certificates", c.csrf("/certificates"), url.Values{"pem": {pem}})
	if r.status != http.StatusSeeOther {
		c.t.Fatalf("add the emulator's CA: %d\n%s", r.status, r.body)
	}
}

// test posts Test Connection with form and returns the page; extra hidden
// fields (proof, pending) from an earlier page may be in form.
func (c *client) test(form url.Values) resp {
	c.t.Helper()
	return c.post("/smtp/test", c.csrf("/smtp"), clone(form))
}

func (c *client) save(form url.Values) resp {
	c.t.Helper()
	return c.post("/smtp/save", c.csrf("/smtp"), clone(form))
}

// withHidden is form plus the hidden fields of page.
func withHidden(form url.Values, page string) url.Values {
	out := clone(form)
	for k, v := range hidden(page) {
		out[k] = v
	}
	return out
}

// noSecret fails the test if any secret appears in a response (body or
// header), a log line or the audit log.
func (b *bundle) noSecret(t *testing.T, secrets ...string) {
	t.Helper()
	entries, err := b.store.ListAudit(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var audit strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&audit, "%s %s %s %s\n", e.Actor, e.Action, e.Subject, e.Detail)
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for what, text := range map[string]string{"a response": b.seen().String(), "the log": b.logs.String(), "the audit log": audit.String()} {
			if strings.Contains(text, s) || strings.Contains(text, url.QueryEscape(s)) || strings.Contains(text, html.EscapeString(s)) {
				t.Errorf("the secret %.4s… appears in %s", s, what)
			}
		}
	}
	if b.seen().String() == "" || b.logs.String() == "" {
		t.Error("nothing was captured to search")
	}
}

func TestSaveNeedsAPassingTestOfExactlyTheseSettings(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		srv := exchangetest.NewServer(t, exchangetest.Options{})
		b.staff(t, "ada", storage.RoleAdmin)
		b.staff(t, "bob", storage.RoleAdmin)
		c := b.client(t, "ada")
		c.trustEmulator(srv)
		form := emuForm(srv)

		// No test: refused, nothing saved.
		r := c.save(form)
		if r.status != http.StatusConflict || !strings.Contains(r.body, html.EscapeString(msgNoProof)) {
			t.Fatalf("save without a test = %d:\n%s", r.status, r.body)
		}
		if _, err := notify.LoadSettings(t.Context(), b.store); err == nil {
			t.Fatal("settings were saved without a test")
		}

		// A passing test.
		r = c.test(form)
		if r.status != http.StatusOK || !strings.Contains(r.body, "Test Connection passed in") || !strings.Contains(r.body, `name="proof"`) {
			t.Fatalf("test = %d:\n%s", r.status, r.body)
		}
		for _, step := range []string{"Resolve", "Connect", "STARTTLS", "Token", "AUTH"} {
			if !regexp.MustCompile(`<tr class="ok"><td>` + step + `</td><td>ok</td><td>\d+ ms</td>`).MatchString(r.body) {
				t.Errorf("step %s with its time missing from the report", step)
			}
		}
		if strings.Contains(r.body, `name="client_secret" value="`+srv.ClientSecret()) {
			t.Error("the client secret is sent back in its field")
		}
		tested := withHidden(form, r.body)

		// Any change, the secret alone included, needs a new test.
		changes := map[string]string{
			"host": "localhost", "port": strconv.Itoa(srv.SMTPTLSPort()), "conn_timeout": "11", "security": "tls",
			"from": "other@contoso.onmicrosoft.com", "auth_mode": "password", "username": srv.Mailbox(),
			"tenant_id": "contoso.onmicrosoft.com", "client_id": "11111111-2222-3333-4444-555555555555",
			"client_secret": srv.ClientSecret() + "x", "client_secret_expires": "2027-01-01",
			"token_endpoint_base": srv.TokenEndpointBase() + "/", "proxy_url": "http://127.0.0.1:3128",
		}
		for field, v := range changes {
			changed := clone(tested)
			changed.Set(field, v)
			if field == "auth_mode" {
				changed.Set("password", "a password")
			}
			r := c.save(changed)
			if r.status != http.StatusConflict || !strings.Contains(r.body, html.EscapeString(msgChanged)) {
				t.Errorf("save after changing %s = %d, want 409 %q:\n%s", field, r.status, msgChanged, r.body)
			}
		}
		// The secret field left blank keeps the secret typed for the test.
		blank := clone(tested)
		blank.Set("client_secret", "")
		// Another admin cannot use this admin's proof.
		if r := b.client(t, "bob").save(tested); r.status != http.StatusConflict || !strings.Contains(r.body, html.EscapeString(msgNoProof)) {
			t.Errorf("another admin's proof: %d", r.status)
		}
		// A proof expires.
		b.clock.Advance(11 * time.Minute)
		if r := c.save(tested); r.status != http.StatusConflict || !strings.Contains(r.body, "the last passing test was more than 10m0s ago") {
			t.Errorf("save with an expired proof = %d:\n%s", r.status, r.body)
		}
		r = c.test(blank) // the sealed secret typed for the test expired too: type it again
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Enter the client secret") {
			t.Fatalf("a test with the secret left blank after the typed one expired = %d:\n%s", r.status, r.body)
		}
		r = c.test(form)
		tested = withHidden(form, r.body)
		blank = clone(tested)
		blank.Set("client_secret", "")
		r = c.save(blank)
		if r.status != http.StatusSeeOther || r.location != "../smtp" {
			t.Fatalf("save after a passing test = %d %q:\n%s", r.status, r.location, r.body)
		}
		s, err := notify.LoadSettings(t.Context(), b.store)
		if err != nil || s.ClientSecret != srv.ClientSecret() || s.Host != srv.SMTPHost() || s.TrustedCAPEM == "" || s.Version != 1 {
			t.Fatalf("saved %v (secret kept: %v), %v", s, s.ClientSecret == srv.ClientSecret(), err)
		}
		page := c.get("/smtp")
		if !strings.Contains(page.body, "Saved (version 1). The next email uses these settings.") ||
			!strings.Contains(page.body, "Leave blank to keep the stored client secret") {
			t.Errorf("the page after saving:\n%s", page.body)
		}
		// Saved settings tested again with the stored secret (blank field)
		// save again.
		again := emuForm(srv)
		again.Set("client_secret", "")
		again.Set("version", "1")
		r = c.test(again)
		if !strings.Contains(r.body, "Test Connection passed") {
			t.Fatalf("test with the stored secret:\n%s", r.body)
		}
		if r := c.save(withHidden(again, r.body)); r.status != http.StatusSeeOther {
			t.Errorf("save with the stored secret = %d:\n%s", r.status, r.body)
		}
		var actions []string
		entries, _ := b.store.ListAudit(t.Context(), 0, 100)
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		if got := strings.Join(actions, " "); !strings.Contains(got, "smtp.save") || !strings.Contains(got, "smtp.test_connection") {
			t.Errorf("audit: %s", got)
		}
		b.noSecret(t, srv.ClientSecret(), srv.ClientSecret()+"x", "a password")
	})
}

// The next email goes out with the saved settings, without a restart:
// two emulators, the settings switched from one to the other.
func TestSaveSwitchesTheNextEmail(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		one := exchangetest.NewServer(t, exchangetest.Options{})
		two := exchangetest.NewServer(t, exchangetest.Options{})
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		c.trustEmulator(one)
		c.trustEmulator(two)

		send := func(to string) resp {
			t.Helper()
			return c.post("/smtp/send", c.csrf("/smtp"), url.Values{"to": {to}})
		}
		if r := send("nobody@example.net"); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Save the SMTP settings first") {
			t.Errorf("send before any save = %d", r.status)
		}
		for i, srv := range []*exchangetest.Server{one, two} {
			form := emuForm(srv)
			form.Set("version", strconv.Itoa(i))
			r := c.test(form)
			if r := c.save(withHidden(form, r.body)); r.status != http.StatusSeeOther {
				t.Fatalf("save for emulator %d = %d:\n%s", i+1, r.status, r.body)
			}
			to := fmt.Sprintf("guest%d@example.net", i+1)
			r = send(to)
			if r.status != http.StatusOK || !regexp.MustCompile(`<strong>Sent in \d+ ms</strong> to `+to).MatchString(r.body) {
				t.Fatalf("send test email %d = %d:\n%s", i+1, r.status, r.body)
			}
			msgs, err := srv.WaitForMessages(t.Context(), 1)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("emulator %d got %d messages, %v", i+1, len(msgs), err)
			}
		}
		if n := len(one.Messages()); n != 1 {
			t.Errorf("the first emulator got %d messages, want only the first", n)
		}
		// A delivery failure shows its diagnosis, and that Lobby retries.
		two.FailNextMail(5, 421, "4.3.2", "Service not available, closing transmission channel")
		r := send("guest3@example.net")
		if !strings.Contains(r.body, "Lobby keeps retrying") || !strings.Contains(r.body, "<code>server_busy</code>") {
			t.Errorf("a deferred test email:\n%s", r.body)
		}
		b.mu.Lock()
		saved := b.saved
		b.mu.Unlock()
		if saved != 2 {
			t.Errorf("SettingsSaved called %d times, want 2", saved)
		}
		b.noSecret(t, one.ClientSecret(), two.ClientSecret())
	})
}

// Saving re-checks the client secret's expiry: the alarm is raised or
// cleared at once.
func TestSaveRaisesAndClearsTheSecretExpiryAlarm(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b *bundle) {
		srv := exchangetest.NewServer(t, exchangetest.Options{})
		b.staff(t, "ada", storage.RoleAdmin)
		c := b.client(t, "ada")
		c.trustEmulator(srv)
		for i, tc := range []struct {
			expires string
			alarm   bool
			notice  string
		}{
			{b.clock.Now().AddDate(0, 0, 11).Format(time.DateOnly), true, "The client secret expires in 10 days: an alarm is raised"},
			{b.clock.Now().AddDate(0, 6, 0).Format(time.DateOnly), false, "Saved (version 2)."},
		} {
			form := emuForm(srv)
			form.Set("client_secret_expires", tc.expires)
			form.Set("version", strconv.Itoa(i))
			r := c.test(form)
			if r := c.save(withHidden(form, r.body)); r.status != http.StatusSeeOther {
				t.Fatalf("save %d = %d:\n%s", i, r.status, r.body)
			}
			if page := c.get("/smtp"); !strings.Contains(page.body, tc.notice) {
				t.Errorf("save %d: notice missing %q:\n%s", i, tc.notice, page.body)
			}
			alarms, err := b.store.ListAlarms(t.Context(), false)
			if err != nil {
				t.Fatal(err)
			}
			active := false
			for _, a := range alarms {
				active = active || a.Key == notify.AlarmSecretExpiry
			}
			if active != tc.alarm {
				t.Errorf("save %d with the secret expiring %s: alarm active = %v, want %v", i, tc.expires, active, tc.alarm)
			}
		}
	})
}

// silentProxy accepts connections and never answers (a proxy or firewall
// that swallows the connection).
func silentProxy(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return strconv.Itoa(port)
}

func randomGUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Each of the guide's troubleshooting cases, caused for real against the
// emulator, shows its own diagnosis on the page, and Save stays refused.
func TestTroubleshootingCasesShowTheirDiagnosis(t *testing.T) {
	t.Parallel()
	wrongSecret := "Wr0ng~secret-value-0123456789abcdefghijk"
	for _, tc := range []struct {
		name    string
		code    string
		step    string
		trust   bool // add the emulator's CA
		arrange func(t *testing.T, srv *exchangetest.Server, form url.Values)
	}{
		{"wrong host", notify.CodeUnknownHost, "Resolve", true, func(_ *testing.T, _ *exchangetest.Server, f url.Values) {
			f.Set("host", "smtp.office365.invalid")
		}},
		{"unreachable port", notify.CodeConnectionRefused, "Connect", true, func(t *testing.T, _ *exchangetest.Server, f url.Values) {
			f.Set("port", closedPort(t))
		}},
		{"connect timeout behind a proxy", notify.CodeConnectTimeout, "Connect", true, func(t *testing.T, _ *exchangetest.Server, f url.Values) {
			f.Set("proxy_url", silentProxy(t))
			f.Set("conn_timeout", "0.5")
		}},
		{"wrong tenant", notify.CodeUnknownTenant, "Token", true, func(_ *testing.T, _ *exchangetest.Server, f url.Values) {
			f.Set("tenant_id", randomGUID())
		}},
		{"wrong secret", notify.CodeInvalidClientSecret, "Token", true, func(_ *testing.T, _ *exchangetest.Server, f url.Values) {
			f.Set("client_secret", wrongSecret)
		}},
		{"expired secret", notify.CodeExpiredClientSecret, "Token", true, func(_ *testing.T, srv *exchangetest.Server, _ url.Values) {
			srv.ExpireSecret(srv.ClientID())
		}},
		{"mailbox not permitted", notify.CodeTokenRejected, "AUTH", true, func(_ *testing.T, srv *exchangetest.Server, _ url.Values) {
			srv.SetMailboxPermission(srv.ClientID(), srv.Mailbox(), false)
		}},
		{"SMTP AUTH disabled for the mailbox", notify.CodeSMTPAuthDisabled, "AUTH", true, func(_ *testing.T, srv *exchangetest.Server, _ url.Values) {
			srv.SetMailboxSMTPAuth(srv.Mailbox(), false)
		}},
		{"untrusted CA", notify.CodeUntrustedCertificate, "STARTTLS", false, func(*testing.T, *exchangetest.Server, url.Values) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, backend := range teststore.Backends {
				t.Run(backend, func(t *testing.T) {
					b := setup(t, backend, nil)
					srv := exchangetest.NewServer(t, exchangetest.Options{})
					b.staff(t, "ada", storage.RoleAdmin)
					c := b.client(t, "ada")
					if tc.trust {
						c.trustEmulator(srv)
					}
					form := emuForm(srv)
					tc.arrange(t, srv, form)
					r := c.test(form)
					if r.status != http.StatusOK || !strings.Contains(r.body, "Test Connection failed after") {
						t.Fatalf("test = %d:\n%s", r.status, r.body)
					}
					if !strings.Contains(r.body, "<code>"+tc.code+"</code>") || !strings.Contains(r.body, "What to do:") {
						t.Errorf("the page does not show the diagnosis %s with its fix:\n%s", tc.code, r.body)
					}
					if !regexp.MustCompile(`<tr class="failed"><td>` + tc.step + `</td><td>failed</td><td>\d+ ms</td>`).MatchString(r.body) {
						t.Errorf("the failed step %s is not shown:\n%s", tc.step, r.body)
					}
					if strings.Contains(r.body, `name="proof"`) {
						t.Error("a failed test gave a proof")
					}
					if r := c.save(withHidden(form, r.body)); r.status != http.StatusConflict {
						t.Errorf("save after a failed test = %d", r.status)
					}
					b.noSecret(t, srv.ClientSecret(), wrongSecret)
				})
			}
		})
	}
}

func TestTestConnectionIsRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", func(c *Config) { c.Tests = Limit{Burst: 1, Every: time.Hour} })
	b.staff(t, "ada", storage.RoleAdmin)
	c := b.client(t, "ada")
	form := url.Values{"host": {"smtp.office365.invalid"}, "security": {"starttls"}, "from": {"a@example.com"}, "auth_mode": {"none"}}
	if r := c.test(form); r.status != http.StatusOK {
		t.Fatalf("first test = %d:\n%s", r.status, r.body)
	}
	if r := c.test(form); r.status != http.StatusTooManyRequests {
		t.Errorf("second test = %d, want 429", r.status)
	}
	if r := c.post("/smtp/send", c.csrf("/smtp"), url.Values{"to": {"a@example.com"}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("send with nothing saved = %d, want 422 before the limit", r.status)
	}
}

func TestInvalidSettingsAreShownBesideTheirFields(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", nil)
	b.staff(t, "ada", storage.RoleAdmin)
	c := b.client(t, "ada")
	r := c.test(url.Values{"host": {"smtp://x"}, "port": {"abc"}, "security": {"none"}, "from": {"nope"},
		"auth_mode": {"exchange-online-oauth"}, "client_secret": {"s3cret-typed-value"}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", r.status)
	}
	for _, want := range []string{`href="#f-host"`, `href="#f-port"`, `href="#f-from"`, `href="#f-tenant_id"`, `href="#f-security"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the error summary lacks %s:\n%s", want, r.body)
		}
	}
	b.noSecret(t, "s3cret-typed-value")
}
