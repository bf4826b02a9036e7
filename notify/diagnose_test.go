package notify

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Every diagnosis produced by its real cause: a misconfigured emulator, a
// wrong setting, a server that misbehaves. Each case runs a Send through a
// Transport and, where the cause shows before any mail is sent, a
// TestConnection, and both must name the same code.
func TestDiagnoseRealCauses(t *testing.T) {
	t.Parallel()
	type testCase struct {
		name string
		// arrange breaks something; it may change the settings.
		arrange func(t *testing.T, b *deliveryBundle, s *Settings)
		code    string
		temp    bool
		// step is the failing TestConnection step; "" means the cause only
		// shows when a message is sent.
		step string
		// evidence must be in the Detail of both diagnoses: the server's
		// reply, code and text.
		evidence []string
		// message, if set, starts the Message of both diagnoses.
		message string
		// opts start the emulator.
		opts exchangetest.Options
	}
	cases := []testCase{
		{name: "unknown tenant GUID", code: CodeUnknownTenant, step: StepToken,
			arrange: func(_ *testing.T, _ *deliveryBundle, s *Settings) {
				s.TenantID = "4f1c0f3e-8d5e-4b61-9a7e-0c5b3a9d2e11"
			}},
		{name: "unknown tenant domain", code: CodeUnknownTenant, step: StepToken,
			arrange: func(_ *testing.T, _ *deliveryBundle, s *Settings) { s.TenantID = "fabrikam.onmicrosoft.com" }},
		{name: "malformed tenant", code: CodeUnknownTenant, step: StepToken,
			arrange: func(_ *testing.T, _ *deliveryBundle, s *Settings) { s.TenantID = "contoso" }},
		{name: "unknown client", code: CodeUnknownClient, step: StepToken,
			arrange: func(_ *testing.T, _ *deliveryBundle, s *Settings) {
				s.ClientID = "0b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
			}},
		{name: "secret ID instead of value", code: CodeInvalidClientSecret, step: StepToken,
			arrange: func(_ *testing.T, b *deliveryBundle, s *Settings) { s.ClientSecret = b.srv.SecretID() }},
		{name: "expired secret", code: CodeExpiredClientSecret, step: StepToken,
			arrange: func(_ *testing.T, b *deliveryBundle, _ *Settings) { b.srv.ExpireSecret(b.srv.ClientID()) }},
		{name: "token endpoint down", code: CodeTokenEndpointUnavailable, temp: true, step: StepToken,
			arrange: func(_ *testing.T, b *deliveryBundle, _ *Settings) { b.srv.SetTokenEndpointDown(true) }},
		{name: "token endpoint unreachable", code: CodeTokenEndpointUnavailable, temp: true, step: StepToken,
			arrange: func(t *testing.T, _ *deliveryBundle, s *Settings) {
				s.TokenEndpointBase = fmt.Sprintf("https://127.0.0.1:%d", closedPort(t))
			}},
		{name: "no service principal", code: CodeTokenRejected, step: StepAuth, evidence: []string{"535 5.7.3 Authentication unsuccessful"},
			arrange: func(_ *testing.T, b *deliveryBundle, _ *Settings) { b.srv.SetServicePrincipal(b.srv.ClientID(), false) }},
		{name: "no FullAccess on the mailbox", code: CodeTokenRejected, step: StepAuth, evidence: []string{"535 5.7.3 Authentication unsuccessful"},
			arrange: func(_ *testing.T, b *deliveryBundle, _ *Settings) {
				b.srv.SetMailboxPermission(b.srv.ClientID(), b.srv.Mailbox(), false)
			}},
		{name: "token will expire soon", code: CodeTokenExpiring, temp: true, step: StepAuth,
			evidence: []string{"501 5.5.127 Invalid XOAUTH2 auth data - Token will expire soon"},
			arrange:  func(_ *testing.T, b *deliveryBundle, _ *Settings) { b.srv.SetRejectExpiringTokens(2 * time.Hour) }},
		{name: "SMTP AUTH off for the tenant", code: CodeSMTPAuthDisabled, step: StepAuth,
			evidence: []string{"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."},
			arrange:  func(_ *testing.T, b *deliveryBundle, _ *Settings) { b.srv.SetTenantSMTPAuth(false) }},
		{name: "SMTP AUTH off for the mailbox", code: CodeSMTPAuthDisabled, step: StepAuth,
			evidence: []string{"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox."},
			arrange:  func(_ *testing.T, b *deliveryBundle, _ *Settings) { b.srv.SetMailboxSMTPAuth(b.srv.Mailbox(), false) }},
		{name: "basic auth", code: CodeSMTPAuthDisabled, step: StepAuth, evidence: []string{"535 5.7.139", "basic authentication is disabled"},
			arrange: func(_ *testing.T, _ *deliveryBundle, s *Settings) {
				s.AuthMode, s.Password = AuthPassword, "Winter2026!"
			}},
		{name: "no auth", code: CodeAuthRequired, evidence: []string{"530 5.7.57 Client not authenticated to send mail."},
			arrange: func(_ *testing.T, _ *deliveryBundle, s *Settings) { s.AuthMode = AuthNone }},
		{name: "From without SendAs", code: CodeSendAsDenied, // the real 554 after DATA
			evidence: []string{"554 5.2.252 SendAsDenied; ", "not allowed to send as guests@contoso.onmicrosoft.com"},
			arrange: func(_ *testing.T, b *deliveryBundle, s *Settings) {
				s.Username, s.From = b.srv.Mailbox(), "guests@contoso.onmicrosoft.com"
			}},
		{name: "mailbox logon failure", code: CodeMailboxLogonFailure, evidence: []string{"430 4.2.0 STOREDRV; mailbox logon failure;"},
			arrange: func(_ *testing.T, b *deliveryBundle, _ *Settings) { b.srv.SetMailboxLogonFailure(true) }},
		{name: "server busy", code: CodeServerBusy, temp: true, evidence: []string{"421 4.3.2 Service not available, closing transmission channel"},
			arrange: func(_ *testing.T, b *deliveryBundle, _ *Settings) {
				b.srv.FailNextMail(1, 421, "4.3.2", "Service not available, closing transmission channel")
			}},
		{name: "message rejected", code: CodeRejected,
			evidence: []string{"550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP."},
			arrange: func(_ *testing.T, b *deliveryBundle, _ *Settings) {
				b.srv.FailNextMail(1, 550, "5.7.708", "Service unavailable. Access denied, traffic not accepted from this IP.")
			}},
		{name: "untrusted CA on SMTP", code: CodeUntrustedCertificate, step: StepStartTLS,
			arrange: func(_ *testing.T, _ *deliveryBundle, s *Settings) { s.TrustedCAPEM, s.AuthMode = "", AuthNone }},
		{name: "untrusted CA on the token endpoint", code: CodeUntrustedCertificate, step: StepToken,
			message: "The token endpoint's TLS certificate is not trusted", opts: exchangetest.Options{SeparateTokenCA: true},
			arrange: func(_ *testing.T, b *deliveryBundle, s *Settings) { s.TrustedCAPEM = string(b.srv.CACertPEM()) }},
		{name: "untrusted CA on SMTP, token endpoint trusted", code: CodeUntrustedCertificate, step: StepStartTLS,
			message: "The SMTP server's TLS certificate is not trusted", opts: exchangetest.Options{SeparateTokenCA: true},
			arrange: func(_ *testing.T, b *deliveryBundle, s *Settings) { s.TrustedCAPEM = string(b.srv.TokenCACertPEM()) }},
		{name: "untrusted CA with implicit TLS", code: CodeUntrustedCertificate, step: StepTLS,
			arrange: func(_ *testing.T, b *deliveryBundle, s *Settings) {
				s.TrustedCAPEM, s.AuthMode, s.Security, s.Port = "", AuthNone, SecurityTLS, b.srv.SMTPTLSPort()
			}},
		{name: "unknown host", code: CodeUnknownHost, temp: true, step: StepResolve,
			arrange: func(_ *testing.T, _ *deliveryBundle, s *Settings) { s.Host = "smtp.office365.invalid" }},
		{name: "connection refused", code: CodeConnectionRefused, temp: true, step: StepDial,
			arrange: func(t *testing.T, _ *deliveryBundle, s *Settings) { s.Port = closedPort(t) }},
		{name: "connect timeout through a proxy", code: CodeConnectTimeout, temp: true, step: StepDial,
			arrange: func(t *testing.T, _ *deliveryBundle, s *Settings) {
				host, port := silentServer(t) // takes the CONNECT and never answers
				s.ProxyURL = fmt.Sprintf("http://%s:%d", host, port)
				s.ConnTimeout, s.AuthMode = 300*time.Millisecond, AuthNone
			}},
		{name: "proxy wants credentials", code: CodeProxyRefused, step: StepDial, evidence: []string{"407 Proxy Authentication Required"},
			arrange: func(t *testing.T, _ *deliveryBundle, s *Settings) {
				s.ProxyURL, _ = refusingProxy(t, func(string) string { return "407 Proxy Authentication Required" })
			}},
		{name: "proxy cannot reach the server", code: CodeProxyRefused, temp: true, step: StepDial, evidence: []string{"503 Service Unavailable"},
			arrange: func(t *testing.T, _ *deliveryBundle, s *Settings) {
				s.ProxyURL, _ = refusingProxy(t, func(string) string { return "503 Service Unavailable" })
			}},
		{name: "proxy forbids the token endpoint", code: CodeProxyRefused, step: StepToken, evidence: []string{"403 Forbidden"},
			arrange: func(t *testing.T, b *deliveryBundle, s *Settings) {
				u, _ := url.Parse(b.srv.TokenEndpointBase())
				s.ProxyURL, _ = refusingProxy(t, func(target string) string {
					if target == u.Host {
						return "403 Forbidden"
					}
					return ""
				})
			}},
		{name: "no greeting", code: CodeNoGreeting, temp: true, step: StepDial,
			arrange: func(t *testing.T, _ *deliveryBundle, s *Settings) {
				s.Host, s.Port = silentServer(t)
				s.ConnTimeout, s.AuthMode = 300*time.Millisecond, AuthNone
			}},
		// The emulator's two ports swapped.
		{name: "TLS on the STARTTLS port", code: CodeTLSMismatch, step: StepTLS,
			evidence: []string{"plain text", "220 "},
			arrange: func(_ *testing.T, b *deliveryBundle, s *Settings) {
				s.Security, s.Port = SecurityTLS, b.srv.SMTPPort()
			}},
		{name: "STARTTLS on the implicit-TLS port", code: CodeTLSMismatch, step: StepDial,
			evidence: []string{"no SMTP greeting within 300ms", "answers a TLS handshake"},
			arrange: func(_ *testing.T, b *deliveryBundle, s *Settings) {
				s.Security, s.Port = SecurityStartTLS, b.srv.SMTPTLSPort()
				s.ConnTimeout, s.AuthMode = 300*time.Millisecond, AuthNone
			}},
		{name: "connection dropped", code: CodeConnectionLost, temp: true, step: StepDial,
			arrange: func(_ *testing.T, b *deliveryBundle, _ *Settings) { b.srv.DropConnections(3) }}, // Send dials twice, TestConnection once
		{name: "STARTTLS not offered", code: CodeStartTLSUnavailable, step: StepStartTLS,
			arrange: func(t *testing.T, _ *deliveryBundle, s *Settings) { s.Host, s.Port = plainSMTPServer(t) }},
		{name: "insecure auth", code: CodeInsecureAuthRefused, step: StepSettings,
			arrange: func(_ *testing.T, _ *deliveryBundle, s *Settings) { s.Security = SecurityNone }},
		{name: "invalid settings", code: CodeInvalidSettings, step: StepSettings,
			arrange: func(_ *testing.T, _ *deliveryBundle, s *Settings) { s.From, s.ClientID = "not an address", "" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := deliverySetup(t, tc.opts)
			s := b.settings
			tc.arrange(t, b, &s)

			tr := b.transport(t, TransportOptions{PoolSize: 1})
			err := tr.Send(ctxT(t), s, testEmail(tc.name))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			d := Diagnose(err)
			if d.Code != tc.code || d.Temporary != tc.temp {
				t.Errorf("Diagnose(%v)\n = %+v\nwant code %s, temporary %v", err, d, tc.code, tc.temp)
			}
			if d.Message == "" || d.Hint == "" {
				t.Errorf("diagnosis without message or hint: %+v", d)
			}
			if d.Code == CodeTLSMismatch && !strings.Contains(d.Hint, hintTLSMismatch) {
				t.Errorf("hint %q lacks %q", d.Hint, hintTLSMismatch)
			}
			checkEvidence(t, "Send", d, tc.evidence)
			if !strings.HasPrefix(d.Message, tc.message) {
				t.Errorf("Send: message %q, want it to start with %q", d.Message, tc.message)
			}
			for _, secret := range []string{b.srv.ClientSecret(), "Winter2026!", "eyJ"} {
				if strings.Contains(d.String(), secret) || strings.Contains(err.Error(), secret) {
					t.Errorf("a secret or token leaked into %q / %q", err, d)
				}
			}
			if tc.step == "" {
				return
			}
			r := TestConnection(ctxT(t), s)
			if r.OK() || r.Diagnosis == nil {
				t.Fatalf("TestConnection passed:\n%s", r)
			}
			if r.Diagnosis.Code != tc.code {
				t.Errorf("TestConnection diagnosis %s, want %s\n%s", r.Diagnosis.Code, tc.code, r)
			}
			checkEvidence(t, "TestConnection", *r.Diagnosis, tc.evidence)
			if !strings.HasPrefix(r.Diagnosis.Message, tc.message) {
				t.Errorf("TestConnection: message %q, want it to start with %q", r.Diagnosis.Message, tc.message)
			}
			st, ok := r.Step(tc.step)
			if !ok || st.Outcome != StepFailed {
				t.Errorf("step %s did not fail:\n%s", tc.step, r)
			}
		})
	}
}

// checkEvidence wants each of evidence in the diagnosis' Detail, unquoted.
func checkEvidence(t *testing.T, what string, d Diagnosis, evidence []string) {
	t.Helper()
	for _, e := range evidence {
		if !strings.Contains(d.Detail, e) {
			t.Errorf("%s: Detail %q lacks the server's reply %q", what, d.Detail, e)
		}
	}
	if len(evidence) > 0 && strings.ContainsAny(d.Detail, `"\`) {
		t.Errorf("%s: Detail %q is quoted or escaped, want the reply as the server sent it", what, d.Detail)
	}
}

// Lobby always asks for the right scope, so AADSTS70011 is produced by
// asking the emulator for a wrong one directly.
func TestDiagnoseInvalidScope(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: b.srv.CertPool()}}}
	cfg := clientcredentials.Config{
		ClientID: b.srv.ClientID(), ClientSecret: b.srv.ClientSecret(),
		TokenURL:  b.settings.TokenURL(),
		Scopes:    []string{"https://outlook.office365.com/SMTP.Send"},
		AuthStyle: oauth2.AuthStyleInParams,
	}
	_, err := cfg.Token(context.WithValue(ctxT(t), oauth2.HTTPClient, client))
	if err == nil {
		t.Fatal("token issued for a wrong scope")
	}
	if d := Diagnose(&TokenError{Err: err}); d.Code != CodeInvalidScope || !strings.Contains(d.Detail, "AADSTS70011") {
		t.Errorf("Diagnose = %+v, want %s", d, CodeInvalidScope)
	}
}

func TestDiagnoseCanceled(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	_, _, err := NewTokenCache(TokenCacheOptions{}).Token(ctx, b.settings)
	if d := Diagnose(err); d.Code != CodeCanceled || !d.Temporary {
		t.Errorf("Diagnose(%v) = %+v", err, d)
	}
}

// Replies the emulator does not produce, matched on their codes.
func TestDiagnoseReplies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		code string
		temp bool
	}{
		{&textproto.Error{Code: 501, Msg: "5.5.127 Invalid XOAUTH2 auth data - Token will expire soon"}, CodeTokenExpiring, true},
		{&authModeError{mode: AuthPassword, err: &textproto.Error{Code: 535, Msg: "5.7.8 Username and Password not accepted"}}, CodeCredentialsRejected, false},
		{&textproto.Error{Code: 550, Msg: "5.7.30 Basic authentication is not supported for Client Submission."}, CodeSMTPAuthDisabled, false},
		{&textproto.Error{Code: 451, Msg: "4.7.500 Server busy. Please try again later"}, CodeServerBusy, true},
		{&textproto.Error{Code: 430, Msg: "4.2.0 STOREDRV; mailbox logon failure;"}, CodeMailboxLogonFailure, false},
		{&TokenError{Err: &oauth2.RetrieveError{Response: &http.Response{StatusCode: 502, Status: "502 Bad Gateway"}}}, CodeTokenEndpointUnavailable, true},
		{&TokenError{Err: &oauth2.RetrieveError{Response: &http.Response{StatusCode: 400, Status: "400"}, ErrorCode: "invalid_request",
			ErrorDescription: "AADSTS50059: No tenant-identifying information found."}}, CodeTokenRequestFailed, false},
		{ErrNoRecipient, CodeInvalidMessage, false},
		// No greeting: on 465, the implicit-TLS port, even when the probe
		// could not tell; elsewhere only when the probe found TLS.
		{&NoGreetingError{Addr: "smtp.example.net:465", Port: 465, Timeout: time.Second}, CodeTLSMismatch, false},
		{&NoGreetingError{Addr: "smtp.example.net:2465", Port: 2465, Timeout: time.Second, SpeaksTLS: true}, CodeTLSMismatch, false},
		{&NoGreetingError{Addr: "smtp.example.net:2525", Port: 2525, Timeout: time.Second}, CodeNoGreeting, true},
		// Unrecognised: retried until MaxAttempts (the outbox is at least once).
		{errors.New("something odd"), CodeUnknown, true},
	} {
		d := Diagnose(tc.err)
		if d.Code != tc.code || d.Temporary != tc.temp {
			t.Errorf("Diagnose(%v) = %+v, want %s temporary=%v", tc.err, d, tc.code, tc.temp)
		}
	}
	if d := Diagnose(nil); d.Code != "" {
		t.Errorf("Diagnose(nil) = %+v", d)
	}
}

// plainSMTPServer speaks just enough SMTP to greet and answer EHLO, without
// offering STARTTLS.
func plainSMTPServer(t testing.TB) (host string, port int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				w := bufio.NewWriter(c)
				r := bufio.NewReader(c)
				reply := func(s string) { _, _ = w.WriteString(s + "\r\n"); _ = w.Flush() }
				reply("220 relay.example.net ESMTP")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch verb := strings.ToUpper(strings.Fields(line + " x")[0]); verb {
					case "EHLO":
						reply("250-relay.example.net\r\n250-SIZE 10240000\r\n250 8BITMIME")
					case "QUIT":
						reply("221 2.0.0 Bye")
						return
					default:
						reply("502 5.5.2 Command not implemented")
					}
				}
			})
		}
	})
	a := ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

// go-mail's error text holds the reply quoted with Go syntax; the evidence
// is the reply unquoted, whatever it contains.
func TestSendErrorReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		code int
		want string
	}{
		{`closing SMTP DATA writer: 554 "5.2.252 SendAsDenied; a@x not allowed to send as b@x", affected message ID: <1@x>`, 554,
			"5.2.252 SendAsDenied; a@x not allowed to send as b@x"},
		{`sending SMTP RCPT TO command: 550 "5.1.1 User \"bob\" unknown", 550 "5.1.1 second", affected recipient(s): bob@x`, 550,
			`5.1.1 User "bob" unknown`},
		{`sending SMTP MAIL FROM command: 451 "4.7.500 Server busy.\nPlease try again later."`, 451, "4.7.500 Server busy.\nPlease try again later."},
		{`sending SMTP MAIL FROM command: 421 4.3.2 Service not available`, 421, "4.3.2 Service not available"},
		{`sending SMTP DATA command: 554`, 554, ""},
	} {
		if got := sendErrorReply(tc.in, tc.code); got != tc.want {
			t.Errorf("sendErrorReply(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := replyText(451, "4.7.500 Server busy.\nPlease try again later."); got != "451 4.7.500 Server busy." {
		t.Errorf("replyText = %q, want the first line", got)
	}
}

// A token endpoint (or something posing as it) whose answer is not an Entra
// ID reply: not Lobby's settings' fault as far as it can tell, so retried.
func TestDiagnoseTokenAnswerNotFromEntra(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, contentType, body string
	}{
		{"HTML page", "text/html", "<html><body>Welcome to the captive portal</body></html>"},
		{"JSON without a token", "application/json", `{"token_type":"Bearer","expires_in":3599}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			s := testSettings()
			s.TokenEndpointBase = srv.URL
			s.TrustedCAPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
			c := NewTokenCache(TokenCacheOptions{})
			t.Cleanup(func() { _ = c.Close() })
			_, _, err := c.Token(ctxT(t), s)
			if d := Diagnose(err); d.Code != CodeTokenRequestFailed || !d.Temporary || d.Hint == "" {
				t.Errorf("Diagnose(%v) = %+v, want a temporary %s", err, d, CodeTokenRequestFailed)
			}
		})
	}
}
