package notify

import (
	"context"
	"fmt"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/internal/testclock"
	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/storage"
)

// Faults the retry pool must ride out, over the real parts: the SQLite
// outbox, the pooled transport and the emulator over TCP with STARTTLS.

// switchableSettings hands the dispatcher settings a test can change while
// it runs.
type switchableSettings struct {
	mu sync.Mutex
	s  Settings
}

func (w *switchableSettings) get(context.Context) (Settings, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.s, nil
}

func (w *switchableSettings) set(f func(*Settings)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(&w.s)
}

// A DNS failure (NXDOMAIN) is a resolver hiccup as often as a typo: the
// message is deferred, not dead-lettered, and goes out once the name
// resolves again.
func TestPoolRetriesUnknownHostThenDelivers(t *testing.T) {
	t.Parallel()
	sw := &switchableSettings{}
	b, del, _ := poolSetup(t, 2, func(c *DispatcherConfig) { c.Settings = sw.get })
	sw.set(func(s *Settings) { *s = del.settings; s.Host = "smtp.office365.invalid" }) // never resolves (RFC 6761)
	run(t, b.d)

	f := b.d.Submit(t.Context(), credentialsMessage("ada@example.net"))
	r := wait(t, f)
	if r.Status != StatusDeferred || r.Diagnosis == nil || r.Diagnosis.Code != CodeUnknownHost || !r.Diagnosis.Temporary {
		t.Fatalf("first outcome = %s %+v, want deferred with %s", r.Status, r.Diagnosis, CodeUnknownHost)
	}
	if !strings.Contains(r.Diagnosis.Hint, "smtp.office365.con") {
		t.Errorf("hint %q lost the typo example", r.Diagnosis.Hint)
	}
	m := mustGetMail(t, b.store, f.ID())
	if m.Status != storage.MailDeferred {
		t.Fatalf("outbox row = %s, want deferred", m.Status)
	}

	sw.set(func(s *Settings) { s.Host = del.settings.Host }) // the resolver is back
	b.clock.Advance(m.NextAttemptAt.Sub(b.clock.Now()))
	eventually(t, "the poller delivers the retry", statusIs(t, b.store, f.ID(), storage.MailSent))
	if _, err := del.srv.WaitForMessages(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
}

// A name that never resolves is still given up on once the retry policy is
// used up (MaxAttempts attempts and RetryFor both), with an alarm.
func TestPoolDeadLettersLastingUnknownHost(t *testing.T) {
	t.Parallel()
	b, del, _ := poolSetup(t, 1, func(c *DispatcherConfig) { c.MaxAttempts, c.RetryFor = 2, 3*time.Hour })
	del.settings.Host = "smtp.office365.invalid"
	run(t, b.d)

	f := b.d.Submit(t.Context(), credentialsMessage("eve@example.org"))
	for i := 1; ; i++ {
		if i > 1 {
			b.clock.Advance(time.Hour) // beyond MaxBackoff: every retry is due
			f = b.d.Track(f.ID())
		}
		r := wait(t, f)
		if age := time.Duration(i-1) * time.Hour; age < 3*time.Hour {
			if r.Status != StatusDeferred || r.Diagnosis.Code != CodeUnknownHost {
				t.Fatalf("attempt %d at age %v: %s %+v, want deferred with %s", i, age, r.Status, r.Diagnosis, CodeUnknownHost)
			}
			continue
		}
		if r.Status != StatusFailed || r.Attempts != 4 || r.Diagnosis.Code != CodeUnknownHost {
			t.Fatalf("attempt %d: %s after %d attempts %+v, want failed with %s after 4", i, r.Status, r.Attempts, r.Diagnosis, CodeUnknownHost)
		}
		break
	}
	if m := mustGetMail(t, b.store, f.ID()); m.Status != storage.MailDead {
		t.Fatalf("outbox row = %s, want dead", m.Status)
	}
	alarms, err := b.store.ListAlarms(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alarms {
		if a.Key == "mail."+CodeUnknownHost {
			if !strings.Contains(a.Detail, "smtp.office365.con") {
				t.Errorf("alarm detail %q lacks the typo hint", a.Detail)
			}
			return
		}
	}
	t.Fatalf("no mail.%s alarm among %+v", CodeUnknownHost, alarms)
}

// The token endpoint is down across the refresh point: the cached token,
// still valid, keeps mail flowing (on new connections too), the refresh is
// tried in the background with backoff instead of on every send, and once
// the endpoint is back a new token is fetched. Only past the token's real
// expiry does mail wait for the endpoint.
func TestSendKeepsValidTokenWhileEndpointIsDown(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Now())
	b := deliverySetup(t, exchangetest.Options{Now: clock.Now})
	tokens := NewTokenCache(TokenCacheOptions{Logger: b.logger, Now: clock.Now})
	t.Cleanup(func() { _ = tokens.Close() })
	tr := b.transport(t, TransportOptions{PoolSize: 1, Tokens: tokens})
	s := b.settings // a token lives 3599 s; refreshed from 10 minutes before it expires
	// send goes out on a new connection, so the token is presented to AUTH.
	send := func(what string) error {
		t.Helper()
		tr.closeIdle(time.Now().Add(time.Hour))
		return tr.Send(ctxT(t), s, testEmail(what))
	}
	if err := send("before"); err != nil {
		t.Fatal(err)
	}
	first, _, err := tokens.Token(ctxT(t), s)
	if err != nil {
		t.Fatal(err)
	}

	b.srv.SetTokenEndpointDown(true)
	clock.Advance(3599*time.Second - DefaultTokenRefreshMargin + time.Second) // due for a refresh
	if err := send("due, endpoint down"); err != nil {
		t.Fatalf("send with a valid cached token while the endpoint is down: %v (%s)", err, Diagnose(err))
	}
	waitFor(t, "the background refresh to fail", func() bool { return tokens.Stats().Failures == 1 })
	for i := range 5 {
		if err := send(fmt.Sprint("endpoint still down ", i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if n := b.srv.TokenRequests(); n != 2 {
		t.Errorf("token requests = %d, want 2: the refresh failure is remembered, not retried per send", n)
	}
	if !strings.Contains(b.logs.String(), "refresh failed; still using the cached token") {
		t.Error("no log line says the cached token is kept")
	}
	// After the failure's back-off, one more try (failing again).
	clock.Advance(tokenFailureTTL)
	if err := send("after the back-off"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second background refresh", func() bool { return tokens.Stats().Failures == 2 })

	// The endpoint is back: the next send past the back-off brings a new token.
	b.srv.SetTokenEndpointDown(false)
	clock.Advance(2 * tokenFailureTTL)
	if err := send("endpoint back"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new token", func() bool {
		tok, _, err := tokens.Token(ctxT(t), s)
		return err == nil && tok != first
	})
	if err := send("with the new token"); err != nil {
		t.Fatal(err)
	}
	if issued := b.srv.TokensIssued(); issued != 2 {
		t.Errorf("tokens issued = %d, want 2", issued)
	}
	if got, want := b.srv.Messages(), 10; len(got) != want {
		t.Errorf("emulator captured %d messages, want %d", len(got), want)
	}

	// Past the real expiry (less the safety margin) with the endpoint
	// down, there is no token to use: the message waits (temporary).
	b.srv.SetTokenEndpointDown(true)
	clock.Advance(3599*time.Second - tokenExpirySafety + time.Second)
	if err := send("expired"); Diagnose(err).Code != CodeTokenEndpointUnavailable || !Diagnose(err).Temporary {
		t.Fatalf("send past the expiry with the endpoint down: %v, want %s", err, CodeTokenEndpointUnavailable)
	}
}

// Failures in a row are remembered longer and longer, up to a minute, and
// jitter only ever shortens them.
func TestTokenFailureTTL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		failures int
		r        float64
		want     time.Duration
	}{
		{1, 0, 5 * time.Second},
		{2, 0, 10 * time.Second},
		{3, 0, 20 * time.Second},
		{5, 0, time.Minute},
		{50, 0, time.Minute},
		{1, 0.5, 4500 * time.Millisecond},
		{50, 0.999, 48012 * time.Millisecond},
	} {
		if got := failureTTL(tc.failures, tc.r); got.Round(time.Millisecond) != tc.want {
			t.Errorf("failureTTL(%d, %v) = %v, want %v", tc.failures, tc.r, got, tc.want)
		}
	}
}

// A 4xx reply to AUTH with a cached token (454 4.7.0) renews the token
// once and retries, instead of failing with the same token until its
// refresh time; a second refusal with the new token is not retried again.
func TestSendRenewsTokenAfterTemporaryAuthRefusal(t *testing.T) {
	t.Parallel()
	b, newTransport := tokenCachedSetup(t)

	b.srv.FailNextAuth(1, 454, "4.7.0", "Temporary authentication failure")
	tr := newTransport()
	if err := tr.Send(ctxT(t), b.settings, testEmail("454 once")); err != nil {
		t.Fatalf("Send after one 454: %v (%s)", err, Diagnose(err))
	}
	if st := tr.Stats(); st.AuthRetries != 1 || b.srv.TokenRequests() != 2 || b.srv.AuthAttempts() != 3 {
		t.Errorf("stats %+v, %d token requests, %d AUTH attempts; want 1 retry, 2 tokens, 3 AUTHs",
			st, b.srv.TokenRequests(), b.srv.AuthAttempts())
	}

	b.srv.FailNextAuth(2, 454, "4.7.0", "Temporary authentication failure")
	tr = newTransport()
	err := tr.Send(ctxT(t), b.settings, testEmail("454 twice"))
	if d := Diagnose(err); d.Code != CodeServerBusy || !d.Temporary || !strings.Contains(d.Detail, "454 4.7.0") {
		t.Fatalf("Send after two 454s: %+v, want %s (temporary) with the reply", d, CodeServerBusy)
	}
	if st := tr.Stats(); st.AuthRetries != 1 || b.srv.TokenRequests() != 3 {
		t.Errorf("stats %+v, %d token requests; want exactly one renewal", st, b.srv.TokenRequests())
	}

	// SMTP AUTH switched off is not the token's fault: no renewal.
	b.srv.SetTenantSMTPAuth(false)
	tr = newTransport()
	if d := Diagnose(tr.Send(ctxT(t), b.settings, testEmail("off"))); d.Code != CodeSMTPAuthDisabled {
		t.Fatalf("SMTP AUTH off: %+v", d)
	}
	if st := tr.Stats(); st.AuthRetries != 0 || b.srv.TokenRequests() != 3 {
		t.Errorf("SMTP AUTH off: stats %+v, %d token requests; want no renewal", st, b.srv.TokenRequests())
	}
}

// A refused AUTH while the token endpoint is down: the message waits for
// the endpoint (temporary), and the cached token, still valid, is kept for
// the next sends.
func TestSendAuthRefusedWhileEndpointDownKeepsToken(t *testing.T) {
	t.Parallel()
	b, newTransport := tokenCachedSetup(t)
	b.srv.SetTokenEndpointDown(true)
	b.srv.FailNextAuth(1, 454, "4.7.0", "Temporary authentication failure")
	err := newTransport().Send(ctxT(t), b.settings, testEmail("refused"))
	if d := Diagnose(err); d.Code != CodeTokenEndpointUnavailable || !d.Temporary {
		t.Fatalf("Send: %+v, want %s (temporary)", d, CodeTokenEndpointUnavailable)
	}
	if err := newTransport().Send(ctxT(t), b.settings, testEmail("next")); err != nil {
		t.Fatalf("the next send with the cached token: %v (%s)", err, Diagnose(err))
	}
	if n, issued := b.srv.TokenRequests(), b.srv.TokensIssued(); n != 2 || issued != 1 {
		t.Errorf("token requests %d, issued %d; want 2 and 1", n, issued)
	}
}

// Exchange Online allows 3 connections per mailbox and refuses the others
// with 432 4.3.2. With more workers than that, the transport lowers its
// connection limit by itself: every message is delivered, once, and the
// pool settles at no more connections than the server allows.
func TestPoolSettlesUnderServerConnectionLimit(t *testing.T) {
	t.Parallel()
	const n, workers, limit = 120, 8, 3
	b, del, tr := poolSetup(t, workers, nil)
	del.srv.SetConnectionLimit(limit)
	del.srv.SetSMTPLatency(2 * time.Millisecond) // sends overlap, as they do against Exchange
	futures := make([]*Future, n)
	for i := range futures {
		futures[i] = b.d.Submit(t.Context(), Message{
			Kind: "admin.test", To: []string{fmt.Sprintf("guest%d@example.net", i)},
			Subject: fmt.Sprintf("Test %d", i), Text: "Hello from the pool.",
		})
	}
	run(t, b.d)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	deferred := 0
	for i, f := range futures {
		for {
			r := f.Wait(ctx)
			if r.Status == StatusDeferred && r.Diagnosis.Code == CodeTooManyConnections && deferred < n {
				// Tolerated (a refusal in a row for one message), not
				// expected: it goes out on its retry.
				deferred++
				b.clock.Advance(time.Hour)
				f = b.d.Track(f.ID())
				continue
			}
			if r.Status != StatusSent {
				t.Fatalf("message %d: %s %+v", i, r.Status, r.Diagnosis)
			}
			break
		}
	}
	seen := make(map[string]int)
	for _, m := range del.srv.Messages() {
		seen[strings.Join(m.To, ",")]++
	}
	if len(seen) != n {
		t.Errorf("emulator captured messages for %d recipients, want %d", len(seen), n)
	}
	for rcpt, times := range seen {
		if times != 1 {
			t.Errorf("%s got the message %d times", rcpt, times)
		}
	}
	st := tr.Stats()
	if del.srv.ConnectionLimitRefusals() == 0 || st.TooMany == 0 {
		t.Fatalf("the server never refused a connection (refusals %d, stats %+v): the limit was not exercised",
			del.srv.ConnectionLimitRefusals(), st)
	}
	if st.ConnLimit > limit || st.Open > limit {
		t.Errorf("stats %+v: want the connection limit and the open connections at most %d", st, limit)
	}
	if open := del.srv.OpenConnections(del.srv.Mailbox()); open > limit {
		t.Errorf("the server counts %d connections open, want at most %d", open, limit)
	}
	if !strings.Contains(del.logs.String(), "lowering the connection limit") {
		t.Error("no log line says the connection limit was lowered")
	}
	t.Logf("%d messages, %d workers, server limit %d: %d refusals, connection limit %d, %d connections opened, %d deferred",
		n, workers, limit, st.TooMany, st.ConnLimit, st.Opened, deferred)
}

// The connection limit: slots first come, first served; lowered below what
// the server refused; grown back by one after a quiet minute, up to the
// pool size; a waiter leaves when its context ends.
func TestConnLimiter(t *testing.T) {
	t.Parallel()
	l := newConnLimiter(4)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for range 4 {
		if err := l.acquire(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(ctxT(t), 20*time.Millisecond)
	defer cancel()
	if err := l.acquire(ctx); err == nil {
		t.Fatal("a fifth slot under a limit of 4")
	}
	if got := l.lower(3, now); got != 3 {
		t.Errorf("lower(open 3) = %d, want 3", got)
	}
	if got := l.lower(5, now); got != 2 {
		t.Errorf("lower(open 5) = %d, want one less than before, 2", got)
	}
	l.lower(0, now)
	if got := l.current(); got != 1 {
		t.Errorf("limit %d, want never below 1", got)
	}
	granted := make(chan struct{})
	go func() {
		if err := l.acquire(ctxT(t)); err == nil {
			close(granted)
		}
	}()
	for range 3 {
		l.release()
	}
	select {
	case <-granted:
		t.Fatal("a slot granted while 1 is in use under a limit of 1")
	default:
	}
	if _, grew := l.grow(now.Add(connLimitGrowEvery - time.Second)); grew {
		t.Error("grew before a quiet minute")
	}
	if got, grew := l.grow(now.Add(connLimitGrowEvery)); !grew || got != 2 {
		t.Errorf("grow after a minute = %d %v, want 2", got, grew)
	}
	<-granted // the waiter gets the new slot
	later := now.Add(10 * connLimitGrowEvery)
	for range 5 {
		l.grow(later)
		later = later.Add(connLimitGrowEvery)
	}
	if got := l.current(); got != 4 {
		t.Errorf("limit %d after growing, want the pool size 4", got)
	}
}

// Refusals for too many connections have their own code; other 4xx stay
// server_busy.
func TestDiagnoseTooManyConnections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code int
		msg  string
		want string
	}{
		{432, "4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.", CodeTooManyConnections},
		{432, "4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded", CodeTooManyConnections},
		{421, "4.7.0 Too many connections, try again later", CodeTooManyConnections},
		{421, "4.3.2 Service not available, closing transmission channel", CodeServerBusy},
		{451, "4.7.500 Server busy. Please try again later", CodeServerBusy},
		{454, "4.7.0 Temporary authentication failure", CodeServerBusy},
		{550, "5.7.1 Too many connections", CodeRejected},
	} {
		d := Diagnose(&textproto.Error{Code: tc.code, Msg: tc.msg})
		if d.Code != tc.want || !d.Temporary != (tc.code >= 500) {
			t.Errorf("Diagnose(%d %s) = %+v, want %s", tc.code, tc.msg, d, tc.want)
		}
		if d.Code == CodeTooManyConnections && (!strings.Contains(d.Hint, "mailbox") || !strings.Contains(d.Message, "3 per mailbox")) {
			t.Errorf("hint %q / message %q do not explain the limit", d.Hint, d.Message)
		}
	}
}

// The connection limit lowered by refusals grows back by one after a quiet
// minute, measured on the transport's clock.
func TestSendConnLimitGrowsBack(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	b.srv.SetConnectionLimit(1)
	b.srv.SetSMTPLatency(20 * time.Millisecond) // the three sends overlap
	clock := testclock.New(time.Now())
	tr := NewTransport(TransportOptions{PoolSize: 3, Logger: b.logger})
	tr.now = clock.Now
	t.Cleanup(func() { _ = tr.Close() })

	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			if err := tr.Send(ctxT(t), b.settings, testEmail(fmt.Sprint("burst ", i))); err != nil {
				t.Errorf("send %d: %v (%s)", i, err, Diagnose(err))
			}
		})
	}
	wg.Wait()
	st := tr.Stats()
	if st.TooMany == 0 || st.ConnLimit >= 3 {
		t.Fatalf("stats %+v: want refusals and a lowered limit", st)
	}
	lowered := st.ConnLimit

	b.srv.SetConnectionLimit(0)
	if err := tr.Send(ctxT(t), b.settings, testEmail("quiet")); err != nil {
		t.Fatal(err)
	}
	if got := tr.Stats().ConnLimit; got != lowered {
		t.Errorf("limit %d right after the refusals, want still %d", got, lowered)
	}
	clock.Advance(connLimitGrowEvery)
	if err := tr.Send(ctxT(t), b.settings, testEmail("a minute later")); err != nil {
		t.Fatal(err)
	}
	if got := tr.Stats().ConnLimit; got != lowered+1 {
		t.Errorf("limit %d a quiet minute later, want %d", got, lowered+1)
	}
	if got := len(b.srv.Messages()); got != 5 {
		t.Errorf("emulator captured %d messages, want 5", got)
	}
}

// tokenCachedSetup starts the emulator and returns a maker of one-connection
// transports that share one token cache, after a first email through one
// of them has put a token in that cache.
func tokenCachedSetup(t *testing.T) (*deliveryBundle, func() *Transport) {
	t.Helper()
	b := deliverySetup(t, exchangetest.Options{})
	tokens := NewTokenCache(TokenCacheOptions{Logger: b.logger})
	t.Cleanup(func() { _ = tokens.Close() })
	newTransport := func() *Transport { return b.transport(t, TransportOptions{PoolSize: 1, Tokens: tokens}) }
	if err := newTransport().Send(ctxT(t), b.settings, testEmail("first")); err != nil {
		t.Fatal(err)
	}
	return b, newTransport
}
