package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

func TestSendDelivers(t *testing.T) {
	t.Parallel()
	for _, sec := range []Security{SecurityStartTLS, SecurityTLS} {
		t.Run(string(sec), func(t *testing.T) {
			t.Parallel()
			b := deliverySetup(t, exchangetest.Options{})
			s := b.settings
			s.Security = sec
			if sec == SecurityTLS {
				s.Port = b.srv.SMTPTLSPort()
			}
			tr := b.transport(t, TransportOptions{PoolSize: 2})
			e := &Email{
				To:        []string{"guest@example.net", "sponsor@example.net"},
				Subject:   "Your guest account – ready",
				Text:      "Username: guest42",
				HTML:      "<p>Username: <b>guest42</b></p>",
				Headers:   map[string]string{"X-Lobby-Event": "credentials"},
				MessageID: "<abc123@lobby.test>",
			}
			if err := tr.Send(ctxT(t), s, e); err != nil {
				t.Fatalf("Send: %v (%s)", err, Diagnose(err))
			}
			msgs, err := b.srv.WaitForMessages(ctxT(t), 1)
			if err != nil {
				t.Fatal(err)
			}
			m := msgs[0]
			if m.From != b.srv.Mailbox() || m.AuthUser != b.srv.Mailbox() {
				t.Errorf("MAIL FROM %q, XOAUTH2 user %q; want the mailbox %q", m.From, m.AuthUser, b.srv.Mailbox())
			}
			if strings.Join(m.To, ",") != "guest@example.net,sponsor@example.net" {
				t.Errorf("RCPT TO %v", m.To)
			}
			if m.Subject != e.Subject {
				t.Errorf("Subject %q, want %q", m.Subject, e.Subject)
			}
			data := string(m.Data)
			for _, want := range []string{"X-Lobby-Event: credentials", "Message-ID: <abc123@lobby.test>",
				"multipart/alternative", "text/plain", "text/html", "guest42"} {
				if !strings.Contains(data, want) {
					t.Errorf("message lacks %q:\n%s", want, data)
				}
			}
			// The next message goes over the same connection (RSET in between).
			if err := tr.Send(ctxT(t), s, testEmail("second")); err != nil {
				t.Fatalf("second Send: %v", err)
			}
			st := tr.Stats()
			if st.Opened != 1 || st.Reused != 1 || st.Sent != 2 || b.srv.SMTPConnections() != 1 {
				t.Errorf("stats %+v, emulator connections %d; want 1 connection reused", st, b.srv.SMTPConnections())
			}
		})
	}
}

// 1,000 messages from 8 goroutines: one token, at most 8 connections.
func TestSendPooledManySenders(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	tr := b.transport(t, TransportOptions{PoolSize: 8})
	const senders, perSender = 8, 125
	ctx := ctxT(t)
	var wg sync.WaitGroup
	var failures atomic.Int64
	for g := range senders {
		wg.Go(func() {
			for i := range perSender {
				if err := tr.Send(ctx, b.settings, testEmail(fmt.Sprintf("m-%d-%d", g, i))); err != nil {
					if failures.Add(1) == 1 {
						t.Errorf("Send: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := len(b.srv.Messages()); n != senders*perSender {
		t.Errorf("captured %d messages, want %d", n, senders*perSender)
	}
	if n := b.srv.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
	if n := b.srv.SMTPConnections(); n < 1 || n > 8 {
		t.Errorf("SMTP connections = %d, want 1..8", n)
	}
	st := tr.Stats()
	if st.Opened != b.srv.SMTPConnections() || st.Sent != senders*perSender || st.Open > 8 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("1000 messages over %d connections, %d token request(s)", b.srv.SMTPConnections(), b.srv.TokenRequests())
}

// A token that lives shorter than the refresh margin is still reused, until
// half its lifetime has passed; then it is replaced, and so is the
// connection authenticated with it.
func TestSendShortLivedTokenIsReused(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{TokenLifetime: 30 * time.Second})
	var skew atomic.Int64
	tokens := NewTokenCache(TokenCacheOptions{Logger: b.logger, Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	t.Cleanup(func() { _ = tokens.Close() })
	s := b.settings
	s.TokenRefreshMargin = 10 * time.Minute // longer than the token lives
	tr := b.transport(t, TransportOptions{PoolSize: 1, Tokens: tokens})
	const n = 5
	for i := range n {
		if err := tr.Send(ctxT(t), s, testEmail(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if b.srv.TokenRequests() != 1 || b.srv.SMTPConnections() != 1 {
		t.Errorf("%d sends: %d token requests, %d connections; want 1 and 1", n, b.srv.TokenRequests(), b.srv.SMTPConnections())
	}
	if !strings.Contains(b.logs.String(), "refresh margin is more than half the token's lifetime") {
		t.Error("no warning about a margin longer than the token lifetime")
	}

	// Past half its lifetime the token is due: it is refreshed in the
	// background while this send still uses it; the next send has the new
	// one, on a new connection.
	first, _, err := tokens.Token(ctxT(t), s)
	if err != nil {
		t.Fatal(err)
	}
	skew.Store(int64(16 * time.Second))
	if err := tr.Send(ctxT(t), s, testEmail("due")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the background refresh", func() bool {
		tok, _, err := tokens.Token(ctxT(t), s)
		return err == nil && tok != first
	})
	if st := tr.Stats(); st.Opened != 1 {
		t.Errorf("the send that found the token due: stats %+v, want it on the pooled connection", st)
	}
	if err := tr.Send(ctxT(t), s, testEmail("rotated")); err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	if b.srv.TokenRequests() != 2 || st.Opened != 2 || st.Closed != 1 || st.Open != 1 {
		t.Errorf("after the rotation: %d token requests, stats %+v; want 2 tokens, 2 opened, 1 closed",
			b.srv.TokenRequests(), st)
	}
}

// A new settings version gets a new token and new connections; the old
// ones are closed.
func TestSendSettingsVersionReplacesConnection(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	tr := b.transport(t, TransportOptions{PoolSize: 2})
	if err := tr.Send(ctxT(t), b.settings, testEmail("v1")); err != nil {
		t.Fatal(err)
	}
	s := b.settings
	s.Version = 2
	if err := tr.Send(ctxT(t), s, testEmail("v2")); err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	if b.srv.TokenRequests() != 2 || st.Opened != 2 || st.Closed != 1 || st.Open != 1 {
		t.Errorf("token requests %d, stats %+v; want 2 tokens, 2 opened, 1 closed", b.srv.TokenRequests(), st)
	}
}

// A pooled connection that died under the transport is re-dialled and the
// message still goes out.
func TestSendRedialsBrokenPooledConnection(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	tr := b.transport(t, TransportOptions{PoolSize: 1})
	var mu sync.Mutex
	var raws []net.Conn
	tr.afterDial = func(c net.Conn) {
		mu.Lock()
		raws = append(raws, c)
		mu.Unlock()
	}
	if err := tr.Send(ctxT(t), b.settings, testEmail("first")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	_ = raws[0].Close() // the connection breaks while idle in the pool
	mu.Unlock()
	if err := tr.Send(ctxT(t), b.settings, testEmail("second")); err != nil {
		t.Fatalf("Send after the connection broke: %v", err)
	}
	st := tr.Stats()
	if st.Redials != 1 || st.Opened != 2 || st.Sent != 2 {
		t.Errorf("stats %+v; want 1 re-dial, 2 opened, 2 sent", st)
	}
	if _, err := b.srv.WaitForMessages(ctxT(t), 2); err != nil {
		t.Fatal(err)
	}
	if b.srv.TokenRequests() != 1 {
		t.Errorf("token requests %d, want 1", b.srv.TokenRequests())
	}
}

// The emulator drops a new connection right after accepting it; the
// transport dials again once.
func TestSendRedialsDroppedConnection(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	tr := b.transport(t, TransportOptions{PoolSize: 1})
	b.srv.DropConnections(1)
	if err := tr.Send(ctxT(t), b.settings, testEmail("dropped once")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if st := tr.Stats(); st.Redials != 1 || st.Opened != 1 || b.srv.SMTPConnections() != 2 {
		t.Errorf("stats %+v, emulator connections %d; want 1 re-dial over 2 connections", st, b.srv.SMTPConnections())
	}

	// Twice in a row is not retried again: the failure is reported.
	tr2 := b.transport(t, TransportOptions{PoolSize: 1})
	b.srv.DropConnections(2)
	err := tr2.Send(ctxT(t), b.settings, testEmail("dropped twice"))
	if d := Diagnose(err); d.Code != CodeConnectionLost || !d.Temporary {
		t.Errorf("Diagnose(%v) = %+v, want a temporary %s", err, d, CodeConnectionLost)
	}
}

func TestSendClosesIdleConnections(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	tr := b.transport(t, TransportOptions{PoolSize: 2, IdleTimeout: 40 * time.Millisecond})
	if err := tr.Send(ctxT(t), b.settings, testEmail("x")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle connection to close", func() bool { st := tr.Stats(); return st.Open == 0 && st.Closed == 1 })
	if err := tr.Send(ctxT(t), b.settings, testEmail("y")); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Opened != 2 {
		t.Errorf("stats %+v, want a second connection", st)
	}
}

// After the server rejects a cached token (535), the transport drops it,
// fetches a new one and authenticates once more.
func TestSendRetriesAuthWithNewToken(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	b := deliverySetup(t, exchangetest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	tokens := NewTokenCache(TokenCacheOptions{Logger: b.logger})
	first := b.transport(t, TransportOptions{Tokens: tokens})
	if err := first.Send(ctxT(t), b.settings, testEmail("one")); err != nil {
		t.Fatal(err)
	}
	// The emulator's clock jumps past the token's expiry; Lobby's cache still
	// holds the token. A new connection (another transport, same cache)
	// authenticates with it and is refused.
	skew.Store(int64(2 * time.Hour))
	second := b.transport(t, TransportOptions{Tokens: tokens})
	if err := second.Send(ctxT(t), b.settings, testEmail("two")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if st := second.Stats(); st.AuthRetries != 1 || st.Opened != 1 {
		t.Errorf("stats %+v, want one AUTH retry", st)
	}
	if b.srv.TokenRequests() != 2 || b.srv.AuthAttempts() != 3 {
		t.Errorf("token requests %d, AUTH attempts %d; want 2 and 3", b.srv.TokenRequests(), b.srv.AuthAttempts())
	}

	// When the new token is refused too, there is no second retry.
	b.srv.SetServicePrincipal(b.srv.ClientID(), false)
	third := b.transport(t, TransportOptions{Tokens: tokens})
	err := third.Send(ctxT(t), b.settings, testEmail("three"))
	if d := Diagnose(err); d.Code != CodeTokenRejected {
		t.Fatalf("Diagnose = %+v, want %s", d, CodeTokenRejected)
	}
	if st := third.Stats(); st.AuthRetries != 1 || b.srv.TokenRequests() != 3 {
		t.Errorf("stats %+v, token requests %d; want exactly one retry", st, b.srv.TokenRequests())
	}
}

// Credentials never travel over an unencrypted connection: refused before
// any connection or token request.
func TestSendRefusesInsecureAuth(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	for _, mode := range []AuthMode{AuthExchangeOnline, AuthPassword} {
		s := b.settings
		s.Security = SecurityNone
		s.AuthMode = mode
		s.Password = "hunter2-not-sent"
		tr := b.transport(t, TransportOptions{})
		err := tr.Send(ctxT(t), s, testEmail("x"))
		if !errors.Is(err, ErrInsecureAuth) {
			t.Fatalf("%s: err = %v, want ErrInsecureAuth", mode, err)
		}
		if d := Diagnose(err); d.Code != CodeInsecureAuthRefused || d.Temporary {
			t.Errorf("%s: Diagnose = %+v", mode, d)
		}
	}
	if b.srv.SMTPConnections() != 0 || b.srv.TokenRequests() != 0 {
		t.Errorf("connections %d, token requests %d; want none", b.srv.SMTPConnections(), b.srv.TokenRequests())
	}
}

func TestSendWaitsForSlotWithContext(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	tr := b.transport(t, TransportOptions{PoolSize: 1})
	if err := tr.slots.acquire(ctxT(t)); err != nil { // the only slot is busy
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	err := tr.Send(ctx, b.settings, testEmail("x"))
	if d := Diagnose(err); d.Code != CodeCanceled {
		t.Errorf("Diagnose(%v) = %+v, want %s", err, d, CodeCanceled)
	}
	tr.slots.release()
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Send(ctxT(t), b.settings, testEmail("x")); !errors.Is(err, ErrTransportClosed) {
		t.Errorf("Send after Close = %v, want ErrTransportClosed", err)
	}
}

func TestSendNaive(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	for i := range 2 {
		if err := SendNaive(ctxT(t), b.settings, testEmail(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if b.srv.TokenRequests() != 2 || b.srv.SMTPConnections() != 2 || len(b.srv.Messages()) != 2 {
		t.Errorf("token requests %d, connections %d, messages %d; want 2 of each",
			b.srv.TokenRequests(), b.srv.SMTPConnections(), len(b.srv.Messages()))
	}
}

// A send stuck on a slow server ends with its context, and its connection
// is not reused.
func TestSendHonoursContextMidSend(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	tr := b.transport(t, TransportOptions{PoolSize: 1})
	if err := tr.Send(ctxT(t), b.settings, testEmail("fast")); err != nil {
		t.Fatal(err)
	}
	b.srv.SetSMTPLatency(5 * time.Second)
	ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	defer cancel()
	err := tr.Send(ctx, b.settings, testEmail("stuck"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	// Ended by the context, not by the server: the connection was cut
	// (closed, not back in the pool), before the message got through.
	if st := tr.Stats(); st.Closed != 1 || st.Open != 0 || st.Sent != 1 {
		t.Errorf("stats %+v after the stuck send; want its connection closed and 1 message sent", st)
	}
	if d := Diagnose(err); !d.Temporary {
		t.Errorf("Diagnose = %+v, want temporary", d)
	}
	b.srv.SetSMTPLatency(0)
	if err := tr.Send(ctxT(t), b.settings, testEmail("after")); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Opened != 2 || st.Sent != 2 {
		t.Errorf("stats %+v; want the stuck connection replaced", st)
	}
}

// A refused message leaves a usable connection, except after 421.
func TestSendKeepsConnectionAfterRefusal(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	tr := b.transport(t, TransportOptions{PoolSize: 1})
	ctx := ctxT(t)
	s := b.settings
	s.Username = b.srv.Mailbox()
	sendAs := testEmail("send as")
	sendAs.From = "guests@contoso.onmicrosoft.com"
	if err := tr.Send(ctx, s, sendAs); Diagnose(err).Code != CodeSendAsDenied {
		t.Fatalf("err = %v", err)
	}
	b.srv.FailNextMail(1, 451, "4.7.500", "Server busy. Please try again later")
	if err := tr.Send(ctx, s, testEmail("busy")); Diagnose(err).Code != CodeServerBusy {
		t.Fatalf("err = %v", err)
	}
	if err := tr.Send(ctx, s, testEmail("fine")); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Opened != 1 || st.Sent != 1 {
		t.Errorf("stats %+v; want one connection for all three", st)
	}
	b.srv.FailNextMail(1, 421, "4.3.2", "Service not available, closing transmission channel")
	if err := tr.Send(ctx, s, testEmail("closing")); Diagnose(err).Code != CodeServerBusy {
		t.Fatalf("err = %v", err)
	}
	if err := tr.Send(ctx, s, testEmail("again")); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Opened != 2 || st.Sent != 2 {
		t.Errorf("stats %+v; want a new connection after 421", st)
	}
}

// Exchange refuses a cached token close to its expiry (501 5.5.127): the
// transport drops it, fetches a new one and authenticates once more.
func TestSendRetriesAuthWhenTokenWillExpireSoon(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	b := deliverySetup(t, exchangetest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	tokens := NewTokenCache(TokenCacheOptions{Logger: b.logger})
	t.Cleanup(func() { _ = tokens.Close() })
	first := b.transport(t, TransportOptions{Tokens: tokens})
	if err := first.Send(ctxT(t), b.settings, testEmail("one")); err != nil {
		t.Fatal(err)
	}
	// On Exchange's clock the cached token has 99 s left; Lobby's cache
	// still finds it fresh. A new connection authenticates with it.
	skew.Store(int64(3500 * time.Second))
	b.srv.SetRejectExpiringTokens(5 * time.Minute)
	second := b.transport(t, TransportOptions{Tokens: tokens})
	if err := second.Send(ctxT(t), b.settings, testEmail("two")); err != nil {
		t.Fatalf("Send: %v (%s)", err, Diagnose(err))
	}
	if st := second.Stats(); st.AuthRetries != 1 || b.srv.TokenRequests() != 2 {
		t.Errorf("stats %+v, token requests %d; want one AUTH retry with a second token", st, b.srv.TokenRequests())
	}
}

// With the app's permissions broken, a fresh token is refused as well. The
// transport remembers that for the settings and stops dropping and
// fetching a token for every message, until a cool-down passes, a send
// succeeds or the settings change.
func TestSendRemembersAFreshTokenWasRejected(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	var skew atomic.Int64
	tr := b.transport(t, TransportOptions{PoolSize: 1})
	tr.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	send := func(what string) error { return tr.Send(ctxT(t), b.settings, testEmail(what)) }
	check := func(when string, tokens, conns, retries int64) {
		t.Helper()
		if st := tr.Stats(); b.srv.TokenRequests() != tokens || b.srv.SMTPConnections() != conns || st.AuthRetries != retries {
			t.Errorf("%s: %d token requests, %d connections, %d AUTH retries; want %d, %d, %d",
				when, b.srv.TokenRequests(), b.srv.SMTPConnections(), st.AuthRetries, tokens, conns, retries)
		}
	}

	b.srv.SetServicePrincipal(b.srv.ClientID(), false)
	const n = 10
	for i := range n {
		if err := send(fmt.Sprint("broken ", i)); Diagnose(err).Code != CodeTokenRejected {
			t.Fatalf("message %d: %v, want %s", i, err, CodeTokenRejected)
		}
	}
	check(fmt.Sprintf("%d messages", n), 1, n, 0)

	// After the cool-down one message tries a new token again; refused, it
	// is remembered again.
	skew.Store(int64(5 * time.Minute))
	for i := range 2 {
		if err := send(fmt.Sprint("after the cool-down ", i)); Diagnose(err).Code != CodeTokenRejected {
			t.Fatalf("after the cool-down: %v", err)
		}
	}
	check("after the cool-down", 2, n+3, 1)

	// Fixed: the cached token works, and a success forgets the refusal.
	b.srv.SetServicePrincipal(b.srv.ClientID(), true)
	if err := send("fixed"); err != nil {
		t.Fatal(err)
	}
	check("fixed", 2, n+4, 1)
	// A later refusal of a cached token (on a new connection) is retried
	// with a new one once more.
	tr.closeIdle(time.Now().Add(time.Hour))
	b.srv.SetServicePrincipal(b.srv.ClientID(), false)
	if err := send("broken again"); Diagnose(err).Code != CodeTokenRejected {
		t.Fatalf("broken again: %v", err)
	}
	check("broken again", 3, n+6, 2)
}

// go-mail leaves the deadline of a connection's last command on it, and
// checks a connection with NOOP before it extends the deadline: a
// connection that idled in the pool longer than the connection timeout
// must still be used, not taken for broken.
func TestSendReusesConnectionIdleBeyondTheTimeout(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	tr := b.transport(t, TransportOptions{PoolSize: 2})
	var mu sync.Mutex
	var raws []net.Conn
	tr.afterDial = func(c net.Conn) {
		mu.Lock()
		raws = append(raws, c)
		mu.Unlock()
	}
	if err := tr.Send(ctxT(t), b.settings, testEmail("first")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	_ = raws[0].SetDeadline(time.Now().Add(-time.Second)) // as when ConnTimeout passed while it idled
	mu.Unlock()
	if err := tr.Send(ctxT(t), b.settings, testEmail("after a long idle")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if st := tr.Stats(); st.Opened != 1 || st.Redials != 0 || st.Reused != 1 {
		t.Errorf("stats %+v; want the idle connection reused", st)
	}
}

// After a pooled connection turned out broken, the transport dials a new
// one rather than trying the next idle connection, which may be as dead.
func TestSendRedialsNewAfterABrokenPooledConnection(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	tr := b.transport(t, TransportOptions{PoolSize: 2})
	ctx := ctxT(t)
	p, err := tr.profile(b.settings.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	cred, _, err := tr.credential(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	key := p.key + "/" + fingerprint(cred)
	if _, err := tr.take(key, true); err != nil {
		t.Fatal(err)
	}
	var idle []*smtpConn
	for range 2 {
		c, err := tr.dial(ctx, p, cred, key)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	for _, c := range idle {
		tr.put(c, true)
		_ = c.raw.Close() // both die while idle
	}
	if err := tr.Send(ctx, b.settings, testEmail("x")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if st := tr.Stats(); st.Redials != 1 || st.Opened != 3 || st.Sent != 1 {
		t.Errorf("stats %+v; want one re-dial to a new connection", st)
	}
}
