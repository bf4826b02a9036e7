package exchangetest_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/lobbyhq/lobby/internal/testclock"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// The tests speak to the emulator over real TCP and TLS with a deliberately tiny client
// (net/textproto, net/http), so that what they check is what goes over the wire.

const exchangeScope = "https://outlook.office365.com/.default"

type testBundle struct {
	srv   *exchangetest.Server
	clock *testclock.Clock
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	clock := testclock.New(time.Date(2026, 2, 2, 5, 17, 34, 0, time.UTC))
	srv := exchangetest.NewServer(t, exchangetest.Options{Now: clock.Now})
	return &testBundle{srv: srv, clock: clock}
}

// ctx is a test context with a deadline, for waits.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// --- token endpoint ---

type tokenReply struct {
	status int
	header http.Header
	body   map[string]any
}

func (r tokenReply) str(k string) string { s, _ := r.body[k].(string); return s }

func postToken(t *testing.T, srv *exchangetest.Server, tenant string, form url.Values) tokenReply {
	t.Helper()
	return postTokenRequest(t, srv, tenant, form, nil)
}

func postTokenRequest(t *testing.T, srv *exchangetest.Server, tenant string, form url.Values, edit func(*http.Request)) tokenReply {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodPost,
		srv.TokenEndpointBase()+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.TokenCertPool()}}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := tokenReply{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("token response %d is not JSON: %v: %q", resp.StatusCode, err, raw)
	}
	return r
}

func credentials(srv *exchangetest.Server) url.Values {
	return url.Values{
		"client_id":     {srv.ClientID()},
		"client_secret": {srv.ClientSecret()},
		"grant_type":    {"client_credentials"},
		"scope":         {exchangeScope},
	}
}

// token gets an access token for the ready-made app, failing the test otherwise.
func token(t *testing.T, srv *exchangetest.Server) string {
	t.Helper()
	r := postToken(t, srv, srv.Tenant(), credentials(srv))
	if r.status != http.StatusOK || r.str("access_token") == "" {
		t.Fatalf("token request: %d %v", r.status, r.body)
	}
	return r.str("access_token")
}

// --- SMTP ---

type reply struct {
	code int
	msg  string // lines joined by "\n", enhanced code included
}

func (r reply) String() string { return strconv.Itoa(r.code) + " " + r.msg }

type smtpClient struct {
	t        *testing.T
	conn     net.Conn
	text     *textproto.Conn
	greeting reply
}

// dialSMTP connects to the STARTTLS port and reads the greeting.
func dialSMTP(t *testing.T, srv *exchangetest.Server) *smtpClient {
	t.Helper()
	conn, err := net.Dial("tcp", net.JoinHostPort(srv.SMTPHost(), strconv.Itoa(srv.SMTPPort())))
	if err != nil {
		t.Fatal(err)
	}
	return newSMTPClient(t, conn)
}

// dialSMTPS connects to the implicit-TLS port and reads the greeting.
func dialSMTPS(t *testing.T, srv *exchangetest.Server) *smtpClient {
	t.Helper()
	conn, err := tls.Dial("tcp", net.JoinHostPort(srv.SMTPHost(), strconv.Itoa(srv.SMTPTLSPort())),
		&tls.Config{RootCAs: srv.CertPool(), ServerName: srv.SMTPHost()})
	if err != nil {
		t.Fatal(err)
	}
	return newSMTPClient(t, conn)
}

func newSMTPClient(t *testing.T, conn net.Conn) *smtpClient {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	c := &smtpClient{t: t, conn: conn, text: textproto.NewConn(conn)}
	c.greeting = c.read()
	return c
}

func (c *smtpClient) read() reply {
	c.t.Helper()
	code, msg, err := c.text.ReadResponse(0)
	if err != nil {
		c.t.Fatalf("reading SMTP reply: %v", err)
	}
	return reply{code, msg}
}

func (c *smtpClient) cmd(format string, args ...any) reply {
	c.t.Helper()
	if err := c.text.PrintfLine(format, args...); err != nil {
		c.t.Fatalf("writing SMTP command: %v", err)
	}
	return c.read()
}

// startTLS upgrades the connection, trusting only the emulator's CA, and says EHLO again.
func (c *smtpClient) startTLS(srv *exchangetest.Server) reply {
	c.t.Helper()
	want(c.t, c.cmd("STARTTLS"), 220, "")
	tc := tls.Client(c.conn, &tls.Config{RootCAs: srv.CertPool(), ServerName: srv.SMTPHost()})
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn, c.text = tc, textproto.NewConn(tc)
	return want(c.t, c.cmd("EHLO lobby.test"), 250, "")
}

func (c *smtpClient) auth(user, token string) reply {
	c.t.Helper()
	return c.cmd("AUTH XOAUTH2 %s", xoauth2(user, token))
}

func xoauth2(user, token string) string {
	return base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01"))
}

// ready is a connection on the STARTTLS port, after EHLO, STARTTLS, EHLO and a successful
// AUTH XOAUTH2 as the ready-made mailbox.
func ready(t *testing.T, srv *exchangetest.Server) *smtpClient {
	t.Helper()
	tok := token(t, srv)
	c := dialSMTP(t, srv)
	want(t, c.cmd("EHLO lobby.test"), 250, "")
	c.startTLS(srv)
	want(t, c.auth(srv.Mailbox(), tok), 235, "")
	return c
}

// send runs one transaction; it returns the first reply that is not the expected one, or
// the reply to the end of DATA.
func (c *smtpClient) send(from string, to []string, data string) reply {
	c.t.Helper()
	if r := c.cmd("MAIL FROM:<%s>", from); r.code != 250 {
		return r
	}
	for _, rcpt := range to {
		if r := c.cmd("RCPT TO:<%s>", rcpt); r.code != 250 {
			return r
		}
	}
	if r := c.cmd("DATA"); r.code != 354 {
		return r
	}
	w := c.text.DotWriter()
	if _, err := io.WriteString(w, data); err != nil {
		c.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		c.t.Fatal(err)
	}
	return c.read()
}

func message(from, to, subject string) string {
	return fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n",
		from, to, subject)
}

// want checks a reply's code and that its text (enhanced code first) starts with prefix.
func want(t *testing.T, r reply, code int, prefix string) reply {
	t.Helper()
	if r.code != code || !strings.HasPrefix(r.msg, prefix) {
		t.Fatalf("got %q, want %d %q...", r, code, prefix)
	}
	return r
}

func setupWithLifetime(t *testing.T, d time.Duration) *exchangetest.Server {
	t.Helper()
	return exchangetest.NewServer(t, exchangetest.Options{TokenLifetime: d})
}
