package notify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/storage"
)

// The retry pool over the real parts: the SQLite outbox, the pooled
// go-mail transport with its token cache, and the Exchange Online emulator
// over TCP with STARTTLS and XOAUTH2.

// poolSetup is a dispatcher test bundle whose sender is a real transport
// sending to the emulator.
func poolSetup(t *testing.T, workers int, mod func(*DispatcherConfig)) (*testBundle, *deliveryBundle, *Transport) {
	t.Helper()
	del := deliverySetup(t, exchangetest.Options{})
	tr := del.transport(t, TransportOptions{PoolSize: workers})
	b := &testBundle{
		path:   t.TempDir() + "/lobby.db",
		sealer: newSealer(t),
		clock:  newFakeClock(),
		logs:   &syncBuffer{},
	}
	b.store = openStore(t, b.path, b.sealer, b.clock)
	b.d = b.newDispatcher(t, b.store, tr, func(c *DispatcherConfig) {
		c.Settings = func(context.Context) (Settings, error) { return del.settings, nil }
		c.Workers = workers
		if mod != nil {
			mod(c)
		}
	})
	return b, del, tr
}

// 1,000 messages through a queue of 64: most of them reach the workers
// through the poller. Each goes out once, with one token and at most one
// connection per worker.
func TestPoolSends1000WithOneTokenAndEightConnections(t *testing.T) {
	t.Parallel()
	const n, workers = 1000, 8
	b, del, tr := poolSetup(t, workers, func(c *DispatcherConfig) { c.QueueSize = 64 })

	// Submitted before the dispatcher runs: 64 wait in the queue, the
	// rest for the poller.
	futures := make([]*Future, n)
	for i := range futures {
		futures[i] = b.d.Submit(t.Context(), Message{
			Kind: "admin.test", To: []string{fmt.Sprintf("guest%d@example.net", i)},
			Subject: fmt.Sprintf("Test %d", i), Text: "Hello from the pool.",
		})
	}
	run(t, b.d)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // for all of them: a busy machine is slow
	defer cancel()
	for i, f := range futures {
		switch r := f.Wait(ctx); r.Status {
		case StatusSent:
		case StatusPending:
			m := mustGetMail(t, b.store, f.ID())
			t.Fatalf("message %d: no outcome within a minute; outbox: %s after %d attempts, lease owner %q; %s",
				i, m.Status, m.Attempts, m.LeaseOwner, b.d.followed(f.ID()))
		default:
			t.Fatalf("message %d: %s (%v)", i, r.Status, r.Diagnosis)
		}
	}
	seen := make(map[string]int)
	for _, m := range del.srv.Messages() {
		seen[strings.Join(m.To, ",")]++
	}
	for rcpt, times := range seen {
		if times != 1 {
			t.Errorf("%s got the message %d times", rcpt, times)
		}
	}
	if got := len(seen); got != n {
		t.Errorf("emulator captured messages for %d recipients, want %d", got, n)
	}
	if !strings.Contains(b.logs.String(), "mail queue full") {
		t.Error("the queue never filled: the poller path was not exercised")
	}
	if got := del.srv.TokenRequests(); got != 1 {
		t.Errorf("token requests = %d, want exactly 1 (the cached token serves every message)", got)
	}
	if got := del.srv.SMTPConnections(); got > workers {
		t.Errorf("SMTP connections = %d, want at most %d (one per worker, reused)", got, workers)
	}
	t.Logf("%d messages: %d token request(s), %d SMTP connection(s), %d sends on a reused connection",
		n, del.srv.TokenRequests(), del.srv.SMTPConnections(), tr.Stats().Reused)
}

func TestPoolRetriesTransientFailureThenDelivers(t *testing.T) {
	t.Parallel()
	b, del, _ := poolSetup(t, 2, nil)
	del.srv.FailNextMail(1, 451, "4.7.500", "Server busy. Please try again later.")
	run(t, b.d)

	f := b.d.Submit(t.Context(), credentialsMessage("ada@example.net"))
	r := wait(t, f)
	if r.Status != StatusDeferred || r.Diagnosis == nil || r.Diagnosis.Code != CodeServerBusy {
		t.Fatalf("first outcome = %s %v, want deferred with %s", r.Status, r.Diagnosis, CodeServerBusy)
	}
	m := mustGetMail(t, b.store, f.ID())
	if m.Status != storage.MailDeferred || !m.NextAttemptAt.After(b.clock.Now()) {
		t.Fatalf("outbox row = %s due %v, want deferred in the future", m.Status, m.NextAttemptAt)
	}
	if len(del.srv.Messages()) != 0 {
		t.Fatal("the emulator captured a message it refused")
	}

	b.clock.Advance(m.NextAttemptAt.Sub(b.clock.Now()))
	eventually(t, "the poller delivers the retry", statusIs(t, b.store, f.ID(), storage.MailSent))
	msgs, err := del.srv.WaitForMessages(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := msgs[0].To; len(got) != 1 || got[0] != "ada@example.net" {
		t.Errorf("delivered to %v", got)
	}
	if m := mustGetMail(t, b.store, f.ID()); m.Attempts != 2 {
		t.Errorf("attempts = %d, want 2", m.Attempts)
	}
}

func TestPoolDeadLettersPermanentFailureWithAlarm(t *testing.T) {
	t.Parallel()
	b, del, _ := poolSetup(t, 2, nil)
	// From is not the mailbox and the app has no SendAs on it: Exchange
	// answers 554 5.2.252 after DATA.
	del.settings.Username = del.srv.Mailbox()
	del.settings.From = "reception@contoso.onmicrosoft.com"
	run(t, b.d)

	f := b.d.Submit(t.Context(), credentialsMessage("ada@example.net"))
	r := wait(t, f)
	if r.Status != StatusFailed || r.Diagnosis == nil || r.Diagnosis.Code != CodeSendAsDenied {
		t.Fatalf("outcome = %s %v, want failed with %s", r.Status, r.Diagnosis, CodeSendAsDenied)
	}
	if m := mustGetMail(t, b.store, f.ID()); m.Status != storage.MailDead || m.Diagnosis != CodeSendAsDenied {
		t.Fatalf("outbox row = %s %q, want dead with %s", m.Status, m.Diagnosis, CodeSendAsDenied)
	}
	alarms, err := b.store.ListAlarms(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, a := range alarms {
		if a.Key == "mail."+CodeSendAsDenied {
			found = true
			if a.Severity != storage.SeverityCritical || !strings.Contains(a.Detail, "SendAs") {
				t.Errorf("alarm = %+v, want critical with the SendAs hint", a)
			}
			// The evidence: the server's reply, not just its code.
			if !strings.Contains(a.Detail, "(554 5.2.252 SendAsDenied; ") {
				t.Errorf("alarm detail %q lacks the server's reply", a.Detail)
			}
			if strings.Contains(a.Title+a.Detail, del.settings.ClientSecret) {
				t.Error("the alarm shows the client secret")
			}
		}
	}
	if !found {
		t.Fatalf("no mail.%s alarm among %+v", CodeSendAsDenied, alarms)
	}
	if len(del.srv.Messages()) != 0 {
		t.Fatal("the emulator captured a message it refused")
	}
}

// A process accepts messages into the outbox and dies before sending them
// (its dispatcher never runs and is dropped without Shutdown); a new
// process on the same database delivers every one through the emulator.
func TestPoolDeliversWhatACrashedProcessAccepted(t *testing.T) {
	t.Parallel()
	const n = 20
	b, del, _ := poolSetup(t, 4, nil)
	ids := make(map[string]bool)
	for i := range n {
		f := b.d.Submit(t.Context(), Message{Kind: "admin.test", To: []string{fmt.Sprintf("g%d@example.net", i)}, Subject: "Before the crash", Text: "x"})
		ids[f.ID().String()] = true
	}
	b.d = nil // the crashed process: no Run, no Shutdown

	st2 := openStore(t, b.path, b.sealer, b.clock)
	tr2 := del.transport(t, TransportOptions{PoolSize: 4})
	d2 := b.newDispatcher(t, st2, tr2, func(c *DispatcherConfig) {
		c.Settings = func(context.Context) (Settings, error) { return del.settings, nil }
	})
	run(t, d2)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	msgs, err := del.srv.WaitForMessages(ctx, n)
	if err != nil {
		t.Fatalf("after the restart: %v (captured %d of %d)", err, len(del.srv.Messages()), n)
	}
	eventually(t, "every message is marked sent", func() bool {
		counts, err := st2.CountMail(t.Context())
		return err == nil && counts[storage.MailSent] == n
	})
	if len(msgs) != n {
		t.Errorf("captured %d messages, want %d", len(msgs), n)
	}
}

// followed says where the dispatcher keeps the future of id, for a test
// that waited for it in vain.
func (d *Dispatcher) followed(id uuid.UUID) string {
	g := d.reg
	g.mu.Lock()
	defer g.mu.Unlock()
	_, tracked := g.futures[id]
	_, watched := g.watched[id]
	_, backlog := g.backlog[id]
	return fmt.Sprintf("future tracked %v, watched %v, in the backlog %v", tracked, watched, backlog)
}
