package exchangetest_test

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestDropConnections(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	srv.DropConnections(2)
	for i := range 2 {
		conn, err := net.Dial("tcp", net.JoinHostPort(srv.SMTPHost(), strconv.Itoa(srv.SMTPPort())))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		n, err := conn.Read(make([]byte, 64))
		conn.Close()
		if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("dropped connection %d: read %d bytes, err %v; want a close without greeting", i, n, err)
		}
	}
	want(t, dialSMTP(t, srv).greeting, 220, "")

	srv.DropConnections(1)
	_, err := tls.Dial("tcp", net.JoinHostPort(srv.SMTPHost(), strconv.Itoa(srv.SMTPTLSPort())), &tls.Config{RootCAs: srv.CertPool()})
	if err == nil {
		t.Error("TLS dial succeeded on a dropped connection")
	}
	want(t, dialSMTPS(t, srv).greeting, 220, "")
	if srv.SMTPConnections() != 5 {
		t.Errorf("SMTPConnections = %d, want 5 (dropped ones count)", srv.SMTPConnections())
	}
}

func TestFailNextMail(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	c := ready(t, srv)
	send := func() reply {
		return c.send(srv.Mailbox(), []string{"guest@example.org"}, message(srv.Mailbox(), "guest@example.org", "x"))
	}

	srv.FailNextMail(1, 421, "4.3.2", "Service not available, closing transmission channel")
	want(t, send(), 421, "4.3.2 Service not available, closing transmission channel")
	want(t, send(), 250, "")

	srv.FailNextMail(2, 451, "4.7.500", "Server busy. Please try again later.")
	want(t, send(), 451, "4.7.500 Server busy. Please try again later.")
	want(t, send(), 451, "4.7.500 Server busy. Please try again later.")
	want(t, send(), 250, "")

	srv.FailNextMail(5, 451, "4.7.500", "Server busy.")
	srv.FailNextMail(0, 0, "", "")
	want(t, send(), 250, "")
	if n := len(srv.Messages()); n != 3 {
		t.Errorf("%d messages captured, want 3", n)
	}
}

func TestMailboxLogonFailure(t *testing.T) {
	t.Parallel()
	const logonFailure = "4.2.0 STOREDRV; mailbox logon failure;"

	t.Run("fault", func(t *testing.T) {
		t.Parallel()
		srv := setup(t).srv
		c := ready(t, srv)
		srv.SetMailboxLogonFailure(true)
		want(t, c.send(srv.Mailbox(), []string{"guest@example.org"}, message(srv.Mailbox(), "guest@example.org", "x")), 430, logonFailure)
		srv.SetMailboxLogonFailure(false)
		want(t, c.send(srv.Mailbox(), []string{"guest@example.org"}, message(srv.Mailbox(), "guest@example.org", "x")), 250, "")
		if n := len(srv.Messages()); n != 1 {
			t.Errorf("%d messages captured, want 1", n)
		}
	})
	t.Run("missing permission shows after DATA", func(t *testing.T) {
		t.Parallel()
		srv := setup(t).srv
		srv.SetMailboxPermission(srv.ClientID(), srv.Mailbox(), false)
		srv.SetMailboxLogonFailure(true)
		c := ready(t, srv) // AUTH passes
		want(t, c.send(srv.Mailbox(), []string{"guest@example.org"}, message(srv.Mailbox(), "guest@example.org", "x")), 430, logonFailure)
	})
}

func TestSMTPLatency(t *testing.T) {
	t.Parallel()
	// Upper bounds here are generous multiples of d, so a loaded machine
	// does not fail them; per-line delays would still blow the EHLO bound
	// (the reply has more than three lines).
	const d = 300 * time.Millisecond
	srv := setup(t).srv
	srv.SetSMTPLatency(d)

	start := time.Now()
	c := dialSMTP(t, srv)
	if took := time.Since(start); took < d {
		t.Errorf("greeting after %v, want >= %v", took, d)
	}
	start = time.Now()
	want(t, c.cmd("EHLO lobby.test"), 250, "")
	// One delay per reply, not per line of a multi-line reply.
	if took := time.Since(start); took < d || took >= 3*d {
		t.Errorf("EHLO took %v, want about %v", took, d)
	}
	start = time.Now()
	want(t, c.cmd("NOOP"), 250, "")
	if took := time.Since(start); took < d {
		t.Errorf("NOOP took %v, want >= %v", took, d)
	}

	srv.SetSMTPLatency(0)
	start = time.Now()
	want(t, c.cmd("NOOP"), 250, "")
	if took := time.Since(start); took >= d {
		t.Errorf("NOOP took %v after latency was switched off", took)
	}
}

// TestDataLatency: the end of DATA is answered after a delay in the set
// range, and only the end of DATA: MAIL FROM is not slowed.
func TestDataLatency(t *testing.T) {
	t.Parallel()
	const lo, hi = 200 * time.Millisecond, 300 * time.Millisecond
	srv := setup(t).srv
	c := ready(t, srv)
	srv.SetDataLatency(lo, hi)
	send := func() time.Duration {
		t.Helper()
		start := time.Now()
		want(t, c.send(srv.Mailbox(), []string{"guest@example.org"}, message(srv.Mailbox(), "guest@example.org", "x")), 250, "")
		return time.Since(start)
	}
	for range 3 {
		if took := send(); took < lo {
			t.Errorf("a send took %v with DATA latency %v..%v, want >= %v", took, lo, hi, lo)
		}
	}
	start := time.Now()
	want(t, c.cmd("NOOP"), 250, "")
	if took := time.Since(start); took >= lo {
		t.Errorf("NOOP took %v: the DATA latency slowed another command", took)
	}
	srv.SetDataLatency(0, 0)
	if took := send(); took >= lo {
		t.Errorf("a send took %v after the DATA latency was switched off", took)
	}
	if n := len(srv.Messages()); n != 4 {
		t.Errorf("%d messages captured, want 4", n)
	}
}

func TestTokenEndpointFaults(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv

	srv.SetTokenEndpointDown(true)
	r := postToken(t, srv, srv.Tenant(), credentials(srv))
	if r.status != http.StatusServiceUnavailable || r.str("error") != "temporarily_unavailable" {
		t.Errorf("endpoint down: %d %v", r.status, r.body)
	}
	checkAADError(t, r, 90033, "A transient error has occurred.")
	srv.SetTokenEndpointDown(false)
	token(t, srv)

	const d = 150 * time.Millisecond
	srv.SetTokenLatency(d)
	start := time.Now()
	token(t, srv)
	if took := time.Since(start); took < d {
		t.Errorf("token request took %v, want >= %v", took, d)
	}
	if srv.TokenRequests() != 3 || srv.TokensIssued() != 2 {
		t.Errorf("TokenRequests %d TokensIssued %d, want 3 2", srv.TokenRequests(), srv.TokensIssued())
	}
}

func TestRejectExpiringTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := b.srv
	tok := token(t, srv) // lives 3599s on the emulator's clock
	auth := func() reply {
		c := dialSMTP(t, srv)
		want(t, c.cmd("EHLO lobby.test"), 250, "")
		c.startTLS(srv)
		return c.auth(srv.Mailbox(), tok)
	}

	srv.SetRejectExpiringTokens(5 * time.Minute)
	want(t, auth(), 235, "") // an hour left
	b.clock.Advance(3599*time.Second - 5*time.Minute + time.Second)
	want(t, auth(), 501, "5.5.127 Invalid XOAUTH2 auth data - Token will expire soon")
	srv.SetRejectExpiringTokens(0)
	want(t, auth(), 235, "")
}

// Exchange Online's limit of concurrent connections per mailbox: the connection beyond it
// authenticates but may not send, until another one closes.
func TestConnectionLimit(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	srv.SetConnectionLimit(2)
	send := func(c *smtpClient) reply {
		return c.send(srv.Mailbox(), []string{"guest@example.org"}, message(srv.Mailbox(), "guest@example.org", "x"))
	}
	first, second, third := ready(t, srv), ready(t, srv), ready(t, srv)
	want(t, send(first), 250, "")
	want(t, send(second), 250, "")
	want(t, send(third), 432, "4.3.2 Concurrent connections limit exceeded.")
	if n := srv.OpenConnections(srv.Mailbox()); n != 3 {
		t.Errorf("OpenConnections = %d, want 3", n)
	}
	want(t, first.cmd("QUIT"), 221, "")
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for srv.OpenConnections(srv.Mailbox()) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the closed connection is still counted")
		}
		<-tick.C
	}
	want(t, send(third), 250, "")
	if n := srv.ConnectionLimitRefusals(); n != 1 {
		t.Errorf("ConnectionLimitRefusals = %d, want 1", n)
	}

	// Other servers word it as a 421.
	srv.SetConnectionLimitReply(421, "4.7.0", "Too many connections, try again later")
	fourth := ready(t, srv)
	want(t, send(fourth), 421, "4.7.0 Too many connections")
	srv.SetConnectionLimit(0)
	want(t, send(fourth), 250, "")
}

func TestFailNextAuth(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	tok := token(t, srv)
	c := dialSMTP(t, srv)
	want(t, c.cmd("EHLO lobby.test"), 250, "")
	c.startTLS(srv)
	srv.FailNextAuth(1, 454, "4.7.0", "Temporary authentication failure")
	want(t, c.auth(srv.Mailbox(), tok), 454, "4.7.0 Temporary authentication failure")
	want(t, c.auth(srv.Mailbox(), tok), 235, "")
}
