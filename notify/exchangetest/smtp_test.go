package exchangetest_test

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPlaintextSessionOffersOnlySTARTTLS(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	c := dialSMTP(t, srv)
	want(t, c.greeting, 220, "")
	if !strings.Contains(c.greeting.msg, "Microsoft ESMTP MAIL Service ready") {
		t.Errorf("greeting = %q", c.greeting)
	}
	ehlo := want(t, c.cmd("EHLO lobby.test"), 250, "")
	if !hasLine(ehlo, "STARTTLS") || hasLinePrefix(ehlo, "AUTH") {
		t.Errorf("EHLO before STARTTLS = %q, want STARTTLS and no AUTH", ehlo)
	}
	if r := c.auth(srv.Mailbox(), token(t, srv)); r.code == 235 || r.code == 334 {
		t.Errorf("AUTH before STARTTLS = %q, want a refusal", r)
	}
	want(t, c.cmd("MAIL FROM:<%s>", srv.Mailbox()), 530, "5.7.57 Client not authenticated to send mail.")
	if srv.AuthAttempts() != 0 {
		t.Errorf("AuthAttempts = %d, want 0: no mechanism runs before TLS", srv.AuthAttempts())
	}
}

func TestSTARTTLSThenXOAUTH2(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := b.srv
	tok := token(t, srv)
	c := dialSMTP(t, srv)
	want(t, c.cmd("EHLO lobby.test"), 250, "")
	ehlo := c.startTLS(srv)
	if !hasLine(ehlo, "AUTH LOGIN XOAUTH2") || hasLine(ehlo, "STARTTLS") {
		t.Errorf("EHLO after STARTTLS = %q, want AUTH LOGIN XOAUTH2 and no STARTTLS", ehlo)
	}
	want(t, c.cmd("MAIL FROM:<%s>", srv.Mailbox()), 530, "5.7.57 Client not authenticated to send mail.")
	want(t, c.auth(srv.Mailbox(), tok), 235, "") // the AUTH line is longer than go-smtp's default limit

	to := "guest@example.org"
	want(t, c.send(srv.Mailbox(), []string{to}, message(srv.Mailbox(), to, "=?utf-8?q?Your_guest_account_=E2=9C=93?=")), 250, "")
	want(t, c.cmd("QUIT"), 221, "")

	msgs, err := srv.WaitForMessages(ctx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.ID == "" || m.From != srv.Mailbox() || !slices.Equal(m.To, []string{to}) || m.AuthUser != srv.Mailbox() ||
		m.Subject != "Your guest account ✓" || !m.ReceivedAt.Equal(b.clock.Now()) || !strings.Contains(string(m.Data), "\r\n\r\nHello.\r\n") {
		t.Errorf("captured %+v", m)
	}
	if srv.SMTPConnections() != 1 || srv.AuthAttempts() != 1 {
		t.Errorf("SMTPConnections %d AuthAttempts %d, want 1 1", srv.SMTPConnections(), srv.AuthAttempts())
	}
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	c := dialSMTPS(t, srv)
	want(t, c.greeting, 220, "")
	ehlo := want(t, c.cmd("EHLO lobby.test"), 250, "")
	if !hasLine(ehlo, "AUTH LOGIN XOAUTH2") || hasLine(ehlo, "STARTTLS") {
		t.Errorf("EHLO on the TLS port = %q", ehlo)
	}
	want(t, c.auth(srv.Mailbox(), token(t, srv)), 235, "")
	want(t, c.send(srv.Mailbox(), []string{"a@example.org"}, message(srv.Mailbox(), "a@example.org", "hi")), 250, "")
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages captured, want 1", n)
	}
}

func TestXOAUTH2WithoutInitialResponse(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	tok := token(t, srv)
	c := dialSMTP(t, srv)
	want(t, c.cmd("EHLO lobby.test"), 250, "")
	c.startTLS(srv)
	if r := want(t, c.cmd("AUTH XOAUTH2"), 334, ""); r.msg != "" {
		t.Errorf("challenge = %q, want empty", r.msg)
	}
	want(t, c.cmd("%s", xoauth2(srv.Mailbox(), tok)), 235, "")
}

func TestXOAUTH2Failures(t *testing.T) {
	t.Parallel()
	const (
		rejected   = "5.7.3 Authentication unsuccessful ["
		tenantOff  = "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information."
		mailboxOff = "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox."
	)
	other := setup(t).srv // a second emulator: its tokens are signed with another key

	tests := []struct {
		name    string
		prepare func(t *testing.T, b *testBundle) (user, token string)
		code    int
		prefix  string
	}{
		{"no service principal", func(t *testing.T, b *testBundle) (string, string) {
			b.srv.SetServicePrincipal(b.srv.ClientID(), false)
			return b.srv.Mailbox(), token(t, b.srv)
		}, 535, rejected},
		{"no FullAccess", func(t *testing.T, b *testBundle) (string, string) {
			b.srv.SetMailboxPermission(b.srv.ClientID(), b.srv.Mailbox(), false)
			return b.srv.Mailbox(), token(t, b.srv)
		}, 535, rejected},
		{"mailbox of someone else", func(t *testing.T, b *testBundle) (string, string) {
			b.srv.AddMailbox("ceo@contoso.onmicrosoft.com")
			return "ceo@contoso.onmicrosoft.com", token(t, b.srv)
		}, 535, rejected},
		{"unknown mailbox", func(t *testing.T, b *testBundle) (string, string) {
			return "nobody@contoso.onmicrosoft.com", token(t, b.srv)
		}, 535, rejected},
		{"SMTP AUTH off for the tenant", func(t *testing.T, b *testBundle) (string, string) {
			b.srv.SetTenantSMTPAuth(false)
			return b.srv.Mailbox(), token(t, b.srv)
		}, 535, tenantOff},
		{"SMTP AUTH off for the mailbox", func(t *testing.T, b *testBundle) (string, string) {
			b.srv.SetMailboxSMTPAuth(b.srv.Mailbox(), false)
			return b.srv.Mailbox(), token(t, b.srv)
		}, 535, mailboxOff},
		{"expired token", func(t *testing.T, b *testBundle) (string, string) {
			tok := token(t, b.srv)
			b.clock.Advance(3599 * time.Second)
			return b.srv.Mailbox(), tok
		}, 535, rejected},
		{"token for Microsoft Graph", func(t *testing.T, b *testBundle) (string, string) {
			form := credentials(b.srv)
			form.Set("scope", "https://graph.microsoft.com/.default")
			return b.srv.Mailbox(), postToken(t, b.srv, b.srv.Tenant(), form).str("access_token")
		}, 535, rejected},
		{"tampered token", func(t *testing.T, b *testBundle) (string, string) {
			parts := strings.Split(token(t, b.srv), ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"exp":`, `"exp":9`, 1)))
			return b.srv.Mailbox(), strings.Join(parts, ".")
		}, 535, rejected},
		{"token from another issuer", func(t *testing.T, b *testBundle) (string, string) {
			return b.srv.Mailbox(), token(t, other)
		}, 535, rejected},
		{"not a token", func(t *testing.T, b *testBundle) (string, string) {
			return b.srv.Mailbox(), b.srv.ClientSecret()
		}, 535, rejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			user, tok := tc.prepare(t, b)
			c := dialSMTP(t, b.srv)
			want(t, c.cmd("EHLO lobby.test"), 250, "")
			c.startTLS(b.srv)
			want(t, c.auth(user, tok), tc.code, tc.prefix)
			want(t, c.cmd("MAIL FROM:<%s>", user), 530, "5.7.57") // still not authenticated
			if b.srv.AuthAttempts() != 1 {
				t.Errorf("AuthAttempts = %d, want 1", b.srv.AuthAttempts())
			}
		})
	}

	t.Run("malformed XOAUTH2", func(t *testing.T) {
		t.Parallel()
		srv := setup(t).srv
		c := dialSMTP(t, srv)
		want(t, c.cmd("EHLO lobby.test"), 250, "")
		c.startTLS(srv)
		raw := base64.StdEncoding.EncodeToString([]byte("user=" + srv.Mailbox() + "\x01auth=" + token(t, srv)))
		want(t, c.cmd("AUTH XOAUTH2 %s", raw), 535, rejected)
	})
}

func TestBasicAuthIsDisabled(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	b64 := base64.StdEncoding.EncodeToString
	c := dialSMTP(t, srv)
	want(t, c.cmd("EHLO lobby.test"), 250, "")
	c.startTLS(srv)
	if r := want(t, c.cmd("AUTH LOGIN"), 334, ""); r.msg != b64([]byte("Username:")) {
		t.Errorf("first challenge = %q", r.msg)
	}
	if r := want(t, c.cmd("%s", b64([]byte(srv.Mailbox()))), 334, ""); r.msg != b64([]byte("Password:")) {
		t.Errorf("second challenge = %q", r.msg)
	}
	want(t, c.cmd("%s", b64([]byte("hunter2"))), 535, "5.7.139 Authentication unsuccessful, basic authentication is disabled.")

	// With the user name as the initial response.
	want(t, c.cmd("AUTH LOGIN %s", b64([]byte(srv.Mailbox()))), 334, b64([]byte("Password:")))
	want(t, c.cmd("%s", b64([]byte("hunter2"))), 535, "5.7.139 Authentication unsuccessful, basic authentication is disabled.")
	if srv.AuthAttempts() != 2 {
		t.Errorf("AuthAttempts = %d, want 2", srv.AuthAttempts())
	}
}

func TestSendAsIsCheckedAfterDATA(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	const other = "reception@contoso.onmicrosoft.com"
	const denied = "5.2.252 SendAsDenied; no-reply@contoso.onmicrosoft.com not allowed to send as " + other + "; STOREDRV.Submission.Exception:SendAsDeniedException"
	c := ready(t, srv)

	// MAIL FROM and RCPT TO pass; the refusal comes after the message.
	want(t, c.cmd("MAIL FROM:<%s>", other), 250, "")
	want(t, c.cmd("RCPT TO:<guest@example.org>"), 250, "")
	want(t, c.cmd("DATA"), 354, "")
	w := c.text.DotWriter()
	w.Write([]byte(message(other, "guest@example.org", "x")))
	w.Close()
	want(t, c.read(), 554, denied)

	// The header From counts too.
	want(t, c.send(srv.Mailbox(), []string{"guest@example.org"}, message(other, "guest@example.org", "x")), 554, denied)
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages captured after SendAs refusals", n)
	}

	srv.SetSendAs(srv.ClientID(), other, true)
	want(t, c.send(other, []string{"guest@example.org"}, message(other, "guest@example.org", "x")), 250, "")
	srv.SetSendAs(srv.ClientID(), other, false)
	want(t, c.send(other, []string{"guest@example.org"}, message(other, "guest@example.org", "x")), 554, denied)
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages captured, want 1", n)
	}
}

func TestRSETReusesOneConnection(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	c := ready(t, srv)
	subjects := []string{"one", "two", "three"}
	for _, s := range subjects {
		want(t, c.send(srv.Mailbox(), []string{"guest@example.org"}, message(srv.Mailbox(), "guest@example.org", s)), 250, "")
		want(t, c.cmd("RSET"), 250, "")
	}
	// RSET in the middle of a transaction drops it.
	want(t, c.cmd("MAIL FROM:<%s>", srv.Mailbox()), 250, "")
	want(t, c.cmd("RSET"), 250, "")
	want(t, c.cmd("DATA"), 502, "")

	msgs, err := srv.WaitForMessages(ctx(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.Subject)
	}
	if !slices.Equal(got, subjects) {
		t.Errorf("subjects %q, want %q", got, subjects)
	}
	if srv.SMTPConnections() != 1 || srv.AuthAttempts() != 1 || srv.TokensIssued() != 1 {
		t.Errorf("SMTPConnections %d AuthAttempts %d TokensIssued %d, want 1 1 1",
			srv.SMTPConnections(), srv.AuthAttempts(), srv.TokensIssued())
	}
}

func TestSecondTenantAndApp(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	const tenant, clientID, secret = "7d3a1c55-0e2b-4f1a-8c9d-5b6e7f8a9b0c", "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f", "abc8Q~secret-value-for-the-fabrikam-app"
	const mailbox = "alerts@fabrikam.onmicrosoft.com"
	srv.AddTenant(tenant, "fabrikam.onmicrosoft.com")
	srv.AddApp(tenant, clientID, secret)
	form := url.Values{"client_id": {clientID}, "client_secret": {secret}, "grant_type": {"client_credentials"}, "scope": {exchangeScope}}

	// The app belongs to fabrikam, not to contoso.
	checkAADError(t, postToken(t, srv, srv.Tenant(), form), 700016, "Application with identifier")
	tok := postToken(t, srv, "fabrikam.onmicrosoft.com", form).str("access_token")

	// A new app registration has no service principal and no mailbox permission yet.
	c := dialSMTP(t, srv)
	want(t, c.cmd("EHLO lobby.test"), 250, "")
	c.startTLS(srv)
	want(t, c.auth(mailbox, tok), 535, "5.7.3")

	srv.SetServicePrincipal(clientID, true)
	srv.SetMailboxPermission(clientID, mailbox, true)
	want(t, c.auth(mailbox, tok), 235, "")
	want(t, c.send(mailbox, []string{"guest@example.org"}, message(mailbox, "guest@example.org", "hi")), 250, "")

	// Its token does not open contoso's mailbox.
	c2 := dialSMTPS(t, srv)
	want(t, c2.cmd("EHLO lobby.test"), 250, "")
	want(t, c2.auth(srv.Mailbox(), tok), 535, "5.7.3")
}

func hasLine(r reply, line string) bool { return slices.Contains(strings.Split(r.msg, "\n"), line) }

func hasLinePrefix(r reply, prefix string) bool {
	return slices.ContainsFunc(strings.Split(r.msg, "\n"), func(l string) bool { return strings.HasPrefix(l, prefix) })
}
