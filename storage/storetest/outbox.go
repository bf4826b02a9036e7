package storetest

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lobbyhq/lobby/storage"
)

// getMail reads a message or fails the test.
func (bb *bundle) getMail(t *testing.T, id uuid.UUID) *storage.OutboxMessage {
	t.Helper()
	m, err := bb.store.GetMail(t.Context(), id)
	if err != nil {
		t.Fatalf("GetMail: %v", err)
	}
	return m
}

// lease leases up to n messages for owner, or fails the test.
func (bb *bundle) lease(t *testing.T, owner string, n int, d time.Duration) []*storage.OutboxMessage {
	t.Helper()
	ms, err := bb.store.LeaseMail(t.Context(), owner, n, d)
	if err != nil {
		t.Fatalf("LeaseMail(%s): %v", owner, err)
	}
	return ms
}

func sortedIDs(ids []uuid.UUID) []uuid.UUID {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return ids
}

func testOutboxEnqueue(t *testing.T, b Backend) {
	bb := setup(t, b)
	m := mail("ada@example.com", "Your Wi-Fi credentials")
	m.Kind = "guest.credentials"
	bb.enqueue(t, m)
	now := bb.clock.now()
	if m.ID == uuid.Nil || m.Status != storage.MailQueued || !m.CreatedAt.Equal(now) || !m.NextAttemptAt.Equal(now) {
		t.Fatalf("EnqueueMail filled ID %v, Status %q, CreatedAt %v, NextAttemptAt %v; want an ID, queued, due now (%v)",
			m.ID, m.Status, m.CreatedAt, m.NextAttemptAt, now)
	}
	want := storage.OutboxMessage{ID: m.ID, Kind: m.Kind, Recipient: m.Recipient, Subject: m.Subject, Payload: m.Payload,
		Status: storage.MailQueued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	if d := diff(want, bb.getMail(t, m.ID)); d != "" {
		t.Fatalf("GetMail: %s", d)
	}
	if !bytes.Equal(bb.getMail(t, m.ID).Payload, m.Payload) {
		t.Fatal("the payload did not round-trip")
	}

	later := bb.clock.now().Add(time.Hour)
	m2 := mail("bob@example.com", "Later")
	m2.NextAttemptAt = later
	bb.enqueue(t, m2)
	if got := bb.getMail(t, m2.ID); !got.NextAttemptAt.Equal(later) || got.Status != storage.MailQueued {
		t.Fatalf("a message due later: NextAttemptAt %v, status %q; want %v, queued", got.NextAttemptAt, got.Status, later)
	}
	if ms := bb.lease(t, "w", 10, time.Minute); !slices.Equal(mailIDs(ms), []uuid.UUID{m.ID}) {
		t.Fatalf("LeaseMail = %v, want only the message due now %v", mailIDs(ms), m.ID)
	}

	if _, err := bb.store.GetMail(t.Context(), uuid.New()); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetMail of a missing message: err = %v, want ErrNotFound", err)
	}

	// What the caller says about the message's state is not taken: a new
	// message is queued now, unattempted, without errors.
	bb.clock.Advance(time.Minute)
	now = bb.clock.now()
	forged := mail("eve@example.com", "Forged state")
	forged.Status, forged.Attempts, forged.LeaseOwner, forged.LeaseUntil = storage.MailDead, 7, "w", now.Add(time.Hour)
	forged.LastError, forged.Diagnosis = "550 no such user", "rejected"
	forged.CreatedAt, forged.SentAt, forged.UpdatedAt = now.Add(-48*time.Hour), now.Add(-time.Hour), now.Add(-time.Hour)
	bb.enqueue(t, forged)
	want = storage.OutboxMessage{ID: forged.ID, Kind: forged.Kind, Recipient: forged.Recipient, Subject: forged.Subject,
		Payload: forged.Payload, Status: storage.MailQueued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	if d := diff(want, forged); d != "" {
		t.Errorf("EnqueueMail filled in a message with a forged state: %s", d)
	}
	if d := diff(want, bb.getMail(t, forged.ID)); d != "" {
		t.Errorf("GetMail of a message enqueued with a forged state: %s", d)
	}

	// A failed enqueue leaves the caller's message as it was.
	taken := mail("mallory@example.com", "Taken ID")
	taken.ID = m.ID
	taken.LastError = "kept"
	before := *taken
	if err := bb.store.EnqueueMail(t.Context(), taken); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("EnqueueMail with a taken ID: err = %v, want ErrConflict", err)
	}
	if d := diff(before, taken); d != "" {
		t.Errorf("a failed EnqueueMail changed the caller's message: %s", d)
	}
}

func testOutboxIdempotency(t *testing.T, b Backend) {
	bb := setup(t, b)
	ctx := t.Context()
	first := mail("ada@example.com", "Credentials")
	first.IdempotencyKey = "guest.credentials:1234"
	bb.enqueue(t, first)

	dup := mail("ada@example.com", "Credentials, again")
	dup.IdempotencyKey = first.IdempotencyKey
	before := *dup
	err := bb.store.EnqueueMail(ctx, dup)
	if !errors.Is(err, storage.ErrDuplicate) {
		t.Fatalf("EnqueueMail with a taken idempotency key: err = %v, want ErrDuplicate", err)
	}
	// A duplicate is the message being queued already, not a failure:
	// callers that treat ErrConflict as one must not see it.
	if errors.Is(err, storage.ErrConflict) {
		t.Fatalf("EnqueueMail with a taken idempotency key: err = %v is also ErrConflict; want ErrDuplicate only", err)
	}
	if dup.ID != first.ID {
		t.Fatalf("the duplicate's ID = %v, want the existing message's %v", dup.ID, first.ID)
	}
	before.ID = first.ID
	if d := diff(before, dup); d != "" {
		t.Fatalf("EnqueueMail of a duplicate changed more than its ID: %s", d)
	}
	// Also inside a transaction, which goes on and commits.
	dup2 := mail("ada@example.com", "Credentials, in a tx")
	dup2.IdempotencyKey = first.IdempotencyKey
	g := bb.guest("idem", "idem@example.com")
	err = bb.store.WithTx(ctx, func(tx storage.Store) error {
		if err := tx.EnqueueMail(ctx, dup2); !errors.Is(err, storage.ErrDuplicate) || dup2.ID != first.ID {
			t.Errorf("EnqueueMail duplicate in a transaction: err = %v, ID %v; want ErrDuplicate and %v", err, dup2.ID, first.ID)
		}
		return tx.CreateGuest(ctx, g)
	})
	if err != nil {
		t.Fatalf("WithTx after a duplicate: %v", err)
	}
	if _, err := bb.store.GetGuest(ctx, g.ID); err != nil {
		t.Fatalf("the guest created after the duplicate: %v", err)
	}

	// Other keys, and no key at all, do not collide.
	other := mail("ada@example.com", "Other")
	other.IdempotencyKey = "guest.credentials:5678"
	bb.enqueue(t, other)
	bb.enqueue(t, mail("ada@example.com", "No key 1"))
	bb.enqueue(t, mail("ada@example.com", "No key 2"))
	counts, err := bb.store.CountMail(ctx)
	if err != nil || counts[storage.MailQueued] != 4 {
		t.Fatalf("CountMail = %v, %v; want 4 queued", counts, err)
	}
	if got := bb.getMail(t, first.ID); got.Subject != "Credentials" || got.IdempotencyKey != first.IdempotencyKey {
		t.Fatalf("the first message changed: subject %q, key %q", got.Subject, got.IdempotencyKey)
	}
}

// settleAll tries each way to settle message id with token.
func settleAll(t *testing.T, s storage.Store, id uuid.UUID, token storage.LeaseToken, at time.Time) map[string]error {
	ctx := t.Context()
	return map[string]error{
		"MarkMailSent":     s.MarkMailSent(ctx, id, token),
		"MarkMailDeferred": s.MarkMailDeferred(ctx, id, token, at.Add(time.Hour), "421", "smtp_transient"),
		"MarkMailDead":     s.MarkMailDead(ctx, id, token, "550", "rejected"),
		"ReleaseMail":      s.ReleaseMail(ctx, id, token),
	}
}

func testLeaseExpiry(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	m := bb.enqueue(t, mail("ada@example.com", "Hello"))

	got := bb.lease(t, "worker-a", 10, 30*time.Second)
	if len(got) != 1 || got[0].ID != m.ID {
		t.Fatalf("LeaseMail = %v, want %v", mailIDs(got), m.ID)
	}
	now := bb.clock.now()
	if l := got[0]; l.Status != storage.MailSending || l.LeaseOwner != "worker-a" || l.Attempts != 1 ||
		!l.LeaseUntil.Equal(now.Add(30*time.Second)) || !bytes.Equal(l.Payload, m.Payload) || l.LeaseToken == (storage.LeaseToken{}) {
		t.Fatalf("leased message: status %q owner %q attempts %d until %v; want sending, worker-a, 1, %v, with its payload and a token",
			l.Status, l.LeaseOwner, l.Attempts, l.LeaseUntil, now.Add(30*time.Second))
	}
	tokenA := got[0].LeaseToken
	if stored := bb.getMail(t, m.ID); stored.LeaseToken != (storage.LeaseToken{}) || stored.LeaseOwner != "worker-a" {
		t.Fatalf("GetMail of a leased message: owner %q, token set %v; want worker-a and no token (only the lease hands it out)",
			stored.LeaseOwner, stored.LeaseToken != (storage.LeaseToken{}))
	}
	if ms := bb.lease(t, "worker-b", 10, 30*time.Second); len(ms) != 0 {
		t.Fatalf("a leased message was leased again: %v", mailIDs(ms))
	}
	bb.clock.Advance(29 * time.Second)
	if ms := bb.lease(t, "worker-b", 10, 30*time.Second); len(ms) != 0 {
		t.Fatalf("a message was leased again before its lease ran out: %v", mailIDs(ms))
	}

	bb.clock.Advance(2 * time.Second) // 31 s: worker-a's lease ran out (a crashed node)
	got = bb.lease(t, "worker-b", 10, 30*time.Second)
	if len(got) != 1 || got[0].ID != m.ID || got[0].LeaseOwner != "worker-b" || got[0].Attempts != 2 {
		t.Fatalf("after the lease ran out: %d messages, %+v; want %v taken over by worker-b on attempt 2", len(got), got, m.ID)
	}
	tokenB := got[0].LeaseToken
	if tokenB == tokenA {
		t.Fatal("the lease taken over has the same token as the one that ran out")
	}

	for name, err := range settleAll(t, s, m.ID, tokenA, now) {
		if !errors.Is(err, storage.ErrLeaseLost) {
			t.Errorf("%s with the lease that ran out: err = %v, want ErrLeaseLost", name, err)
		}
	}
	for name, err := range settleAll(t, s, m.ID, storage.LeaseToken{}, now) {
		if !errors.Is(err, storage.ErrLeaseLost) {
			t.Errorf("%s with the zero token: err = %v, want ErrLeaseLost", name, err)
		}
	}
	if l := bb.getMail(t, m.ID); l.Status != storage.MailSending || l.LeaseOwner != "worker-b" {
		t.Fatalf("after the lost-lease calls: status %q owner %q; want sending by worker-b", l.Status, l.LeaseOwner)
	}

	bb.clock.Advance(time.Second)
	if err := s.MarkMailSent(ctx, m.ID, tokenB); err != nil {
		t.Fatalf("MarkMailSent by the holder: %v", err)
	}
	sent := bb.getMail(t, m.ID)
	if sent.Status != storage.MailSent || !sent.SentAt.Equal(bb.clock.now()) || sent.Attempts != 2 || sent.LeaseOwner != "" {
		t.Fatalf("after MarkMailSent: status %q sent at %v attempts %d owner %q; want sent at %v, 2 attempts, no owner",
			sent.Status, sent.SentAt, sent.Attempts, sent.LeaseOwner, bb.clock.now())
	}
	if err := s.MarkMailSent(ctx, m.ID, tokenB); !errors.Is(err, storage.ErrLeaseLost) {
		t.Errorf("MarkMailSent twice: err = %v, want ErrLeaseLost", err)
	}
	bb.clock.Advance(time.Hour)
	if ms := bb.lease(t, "worker-c", 10, 30*time.Second); len(ms) != 0 {
		t.Fatalf("a sent message was leased: %v", mailIDs(ms))
	}
	for name, err := range settleAll(t, s, uuid.New(), tokenB, now) {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s of a missing message: err = %v, want ErrNotFound", name, err)
		}
	}
}

// testLeaseIdentity: a process leases under one owner name, so the owner
// cannot tell its leases apart. A worker that stalled past its lease must
// not settle the message the same owner leased again meanwhile.
func testLeaseIdentity(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	const owner = "node-1"
	m := bb.enqueue(t, mail("ada@example.com", "Hello"))
	first, err := s.LeaseMailByID(ctx, m.ID, owner, 30*time.Second)
	if err != nil {
		t.Fatalf("LeaseMailByID: %v", err)
	}
	bb.clock.Advance(31 * time.Second) // the first worker stalls past its lease
	again := bb.lease(t, owner, 10, 30*time.Second)
	if len(again) != 1 || again[0].ID != m.ID || again[0].LeaseOwner != owner {
		t.Fatalf("LeaseMail after the lease ran out = %v; want %v again, by %s", mailIDs(again), m.ID, owner)
	}
	for name, err := range settleAll(t, s, m.ID, first.LeaseToken, bb.clock.now()) {
		if !errors.Is(err, storage.ErrLeaseLost) {
			t.Errorf("%s by the stalled worker (same owner, old lease): err = %v, want ErrLeaseLost", name, err)
		}
	}
	if got := bb.getMail(t, m.ID); got.Status != storage.MailSending || got.Attempts != 2 {
		t.Fatalf("after the stalled worker's calls: status %q, attempts %d; want sending, 2", got.Status, got.Attempts)
	}
	if err := s.MarkMailSent(ctx, m.ID, again[0].LeaseToken); err != nil {
		t.Fatalf("MarkMailSent under the current lease: %v", err)
	}

	// A lease that ran out still settles while nobody took the message over.
	m2 := bb.enqueue(t, mail("bob@example.com", "Hello"))
	late, err := s.LeaseMailByID(ctx, m2.ID, owner, 30*time.Second)
	if err != nil {
		t.Fatalf("LeaseMailByID: %v", err)
	}
	bb.clock.Advance(time.Minute)
	if err := s.MarkMailDeferred(ctx, m2.ID, late.LeaseToken, bb.clock.now().Add(time.Minute), "421", "smtp_transient"); err != nil {
		t.Fatalf("MarkMailDeferred after the lease ran out, nobody having taken it: %v", err)
	}
}

func testLeaseOldestDueFirst(t *testing.T, b Backend) {
	bb := setup(t, b)
	now := bb.clock.now()
	due := func(subject string, at time.Duration) *storage.OutboxMessage {
		m := mail("x@example.com", subject)
		m.NextAttemptAt = now.Add(at)
		return bb.enqueue(t, m)
	}
	late := due("late", 0)
	early := due("early", -10*time.Minute)
	mid := due("mid", -5*time.Minute)
	due("future", time.Minute)

	got := bb.lease(t, "w", 2, time.Minute)
	if want := sortedIDs([]uuid.UUID{early.ID, mid.ID}); !slices.Equal(sortedIDs(mailIDs(got)), want) {
		t.Fatalf("LeaseMail(2) = %v, want the two oldest due %v", mailIDs(got), want)
	}
	got = bb.lease(t, "w", 10, time.Minute)
	if !slices.Equal(mailIDs(got), []uuid.UUID{late.ID}) {
		t.Fatalf("LeaseMail(10) = %v, want only %v (the other is not due)", mailIDs(got), late.ID)
	}
	if got, err := bb.store.LeaseMail(t.Context(), "w", 0, time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("LeaseMail(0) = %v, %v; want nothing", mailIDs(got), err)
	}
}

// testLeaseArguments: both backends refuse a lease without an owner or with
// a duration that is not positive, and lease nothing then.
func testLeaseArguments(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	m := bb.enqueue(t, mail("ada@example.com", "Hello"))
	for _, c := range []struct {
		owner string
		lease time.Duration
	}{{"", time.Minute}, {"w", 0}, {"w", -time.Second}, {"", 0}} {
		if ms, err := s.LeaseMail(ctx, c.owner, 1, c.lease); err == nil {
			t.Errorf("LeaseMail(%q, 1, %v) = %d messages, no error; want an error", c.owner, c.lease, len(ms))
		}
		if _, err := s.LeaseMailByID(ctx, m.ID, c.owner, c.lease); err == nil || errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("LeaseMailByID(%q, %v): err = %v; want an argument error", c.owner, c.lease, err)
		}
	}
	if got := bb.getMail(t, m.ID); got.Status != storage.MailQueued || got.Attempts != 0 {
		t.Fatalf("after the refused leases: status %q, attempts %d; want queued, 0", got.Status, got.Attempts)
	}
	if ms, err := s.LeaseMail(ctx, "w", -1, time.Minute); err != nil || len(ms) != 0 {
		t.Fatalf("LeaseMail(n = -1) = %d messages, %v; want none and no error", len(ms), err)
	}
}

// testMailRetention: a sent message keeps what the mail log shows but not
// its payload (which may hold credentials), and PurgeMail deletes sent and
// dead messages last updated before a time, and nothing else.
func testMailRetention(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	settle := func(m *storage.OutboxMessage, status storage.MailStatus) {
		t.Helper()
		l, err := s.LeaseMailByID(ctx, m.ID, "w", time.Minute)
		if err != nil {
			t.Fatalf("LeaseMailByID: %v", err)
		}
		if status == storage.MailSent {
			err = s.MarkMailSent(ctx, m.ID, l.LeaseToken)
		} else {
			err = s.MarkMailDead(ctx, m.ID, l.LeaseToken, "550 5.1.1", "recipient_rejected")
		}
		if err != nil {
			t.Fatalf("settle %s: %v", status, err)
		}
	}
	sentOld := mail("old@example.com", "Your credentials")
	sentOld.IdempotencyKey = "credentials:old"
	bb.enqueue(t, sentOld)
	deadOld := bb.enqueue(t, mail("dead@example.com", "Your credentials"))
	queuedOld := bb.enqueue(t, mail("queued@example.com", "Not sent yet"))
	settle(sentOld, storage.MailSent)
	settle(deadOld, storage.MailDead)
	deferred := bb.enqueue(t, mail("deferred@example.com", "Try again"))
	l, err := s.LeaseMailByID(ctx, deferred.ID, "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkMailDeferred(ctx, deferred.ID, l.LeaseToken, bb.clock.now().Add(time.Hour), "421", "smtp_transient"); err != nil {
		t.Fatal(err)
	}
	cutoff := bb.clock.now().Add(time.Second)
	bb.clock.Advance(time.Hour)
	sentNew := bb.enqueue(t, mail("new@example.com", "Your credentials"))
	settle(sentNew, storage.MailSent)

	got := bb.getMail(t, sentOld.ID)
	if len(got.Payload) != 0 || got.Recipient != sentOld.Recipient || got.Subject != sentOld.Subject || got.Kind != sentOld.Kind {
		t.Fatalf("a sent message: %d payload bytes, recipient %q, subject %q, kind %q; want no payload, the rest kept",
			len(got.Payload), got.Recipient, got.Subject, got.Kind)
	}
	if raw := b.Raw(t, s, "SELECT payload FROM outbox WHERE id = '"+sentOld.ID.String()+"'"); len(raw) != 1 || len(raw[0]) != 0 {
		t.Fatalf("a sent message's stored payload is %d bytes; want none", lenFirst(raw))
	}
	if got := bb.getMail(t, deadOld.ID); !bytes.Equal(got.Payload, deadOld.Payload) {
		t.Fatal("a dead message lost its payload; only sending clears it")
	}

	n, err := s.PurgeMail(ctx, cutoff)
	if err != nil || n != 2 {
		t.Fatalf("PurgeMail(cutoff) = %d, %v; want the old sent and dead messages, 2", n, err)
	}
	for _, m := range []*storage.OutboxMessage{sentOld, deadOld} {
		if _, err := s.GetMail(ctx, m.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetMail of a purged message: err = %v, want ErrNotFound", err)
		}
	}
	for _, m := range []*storage.OutboxMessage{queuedOld, deferred, sentNew} {
		if _, err := s.GetMail(ctx, m.ID); err != nil {
			t.Errorf("GetMail of a message PurgeMail must keep: %v", err)
		}
	}
	if n, err := s.PurgeMail(ctx, cutoff); err != nil || n != 0 {
		t.Fatalf("PurgeMail(cutoff) again = %d, %v; want 0", n, err)
	}
	// A purged message's idempotency key is free again.
	again := mail("old@example.com", "Your credentials")
	again.IdempotencyKey = sentOld.IdempotencyKey
	if err := s.EnqueueMail(ctx, again); err != nil || again.ID == sentOld.ID {
		t.Fatalf("EnqueueMail with a purged message's key: %v (id %v); want a new message", err, again.ID)
	}
	if n, err := s.PurgeMail(ctx, bb.clock.now().Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("PurgeMail(now) = %d, %v; want the newer sent message, 1", n, err)
	}
	if counts, err := s.CountMail(ctx); err != nil || counts[storage.MailQueued] != 2 || counts[storage.MailDeferred] != 1 || len(counts) != 2 {
		t.Fatalf("CountMail after purging = %v, %v; want 2 queued and 1 deferred", counts, err)
	}
}

// testLeaseUnreadablePayload: one message whose sealed payload does not
// open stops nothing. The lease marks it dead (payload_unreadable) and
// returns the others; GetMail still shows it, without a payload.
func testLeaseUnreadablePayload(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	now := bb.clock.now()
	var ms []*storage.OutboxMessage
	for i, to := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		m := mail(to, "Hello")
		m.NextAttemptAt = now.Add(time.Duration(i-10) * time.Second) // leased in this order
		ms = append(ms, bb.enqueue(t, m))
	}
	corrupt := func(victim *storage.OutboxMessage) {
		t.Helper()
		b.Raw(t, s, "UPDATE outbox SET payload = (SELECT payload FROM outbox WHERE id = '"+ms[0].ID.String()+
			"') WHERE id = '"+victim.ID.String()+"'")
	}
	corrupt(ms[1]) // the second due carries the first's sealed payload
	checkDead := func(m *storage.OutboxMessage) {
		t.Helper()
		got, err := s.GetMail(ctx, m.ID)
		if err != nil {
			t.Fatalf("GetMail of the unreadable message: %v; want it, dead", err)
		}
		if got.Status != storage.MailDead || got.Diagnosis != storage.DiagnosisPayloadUnreadable ||
			!strings.Contains(got.LastError, "could not be opened") || got.LeaseOwner != "" || len(got.Payload) != 0 {
			t.Fatalf("the unreadable message: status %q, diagnosis %q, last error %q, owner %q, %d payload bytes; "+
				"want dead, %s, why, no owner, no payload", got.Status, got.Diagnosis, got.LastError, got.LeaseOwner,
				len(got.Payload), storage.DiagnosisPayloadUnreadable)
		}
	}

	// The first two due: one readable, returned with its payload; one not.
	got := bb.lease(t, "w", 2, time.Minute)
	if len(got) != 1 || got[0].ID != ms[0].ID || !bytes.Equal(got[0].Payload, ms[0].Payload) {
		t.Fatalf("LeaseMail(2) = %v; want only the readable one of the first two due, %v, with its payload", mailIDs(got), ms[0].ID)
	}
	checkDead(ms[1])

	// Once its lease runs out, the readable first message comes back, and
	// the dead one never does.
	bb.clock.Advance(2 * time.Minute)
	got = bb.lease(t, "w", 10, time.Minute)
	if want := sortedIDs([]uuid.UUID{ms[0].ID, ms[2].ID}); !slices.Equal(sortedIDs(mailIDs(got)), want) {
		t.Fatalf("LeaseMail after the leases ran out = %v; want %v", mailIDs(got), want)
	}

	// By ID: the message is marked dead and the caller told why.
	byID := bb.enqueue(t, mail("d@example.com", "Hello"))
	corrupt(byID)
	if _, err := s.LeaseMailByID(ctx, byID.ID, "w", time.Minute); !errors.Is(err, storage.ErrUnreadable) {
		t.Fatalf("LeaseMailByID of an unreadable message: err = %v, want ErrUnreadable", err)
	}
	checkDead(byID)
	if counts, err := s.CountMail(ctx); err != nil || counts[storage.MailDead] != 2 || counts[storage.MailSending] != 2 {
		t.Fatalf("CountMail = %v, %v; want 2 dead, 2 sending", counts, err)
	} // The admin hears of it: one active alarm, counted per message.
	alarms, err := s.ListAlarms(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(alarms) != 1 || alarms[0].Key != storage.AlarmPayloadUnreadable || alarms[0].Count != 2 ||
		alarms[0].Severity != storage.SeverityCritical || !strings.Contains(alarms[0].Detail, byID.ID.String()) {
		t.Fatalf("alarms = %+v; want one critical %s counted twice, naming the last message", alarms, storage.AlarmPayloadUnreadable)
	}
}

// testMailPostpone: a try that was not an attempt is deferred without using
// up one of the message's attempts, and needs the current lease.
func testMailPostpone(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	m := bb.enqueue(t, mail("ada@example.com", "Hello"))
	leased := bb.lease(t, "a", 1, time.Minute)
	if len(leased) != 1 || leased[0].Attempts != 1 {
		t.Fatalf("lease = %+v, want the message at attempt 1", leased)
	}
	next := bb.clock.now().Add(time.Minute)
	if err := s.PostponeMail(ctx, m.ID, leased[0].LeaseToken, next, "no SMTP settings yet", "smtp_not_configured"); err != nil {
		t.Fatalf("PostponeMail: %v", err)
	}
	got := bb.getMail(t, m.ID)
	if got.Status != storage.MailDeferred || !got.NextAttemptAt.Equal(next) || got.Attempts != 0 ||
		got.Diagnosis != "smtp_not_configured" || got.LastError != "no SMTP settings yet" || got.LeaseOwner != "" {
		t.Fatalf("after PostponeMail: %+v; want deferred to %v, attempts 0, the diagnosis kept", got, next)
	}
	if ms := bb.lease(t, "a", 10, time.Minute); len(ms) != 0 {
		t.Fatalf("a postponed message was leased before it was due: %v", mailIDs(ms))
	}
	if err := s.PostponeMail(ctx, m.ID, leased[0].LeaseToken, next, "x", "y"); !errors.Is(err, storage.ErrLeaseLost) {
		t.Fatalf("PostponeMail with a settled lease: err = %v, want ErrLeaseLost", err)
	}
	bb.clock.Advance(time.Minute)
	again := bb.lease(t, "a", 10, time.Minute)
	if len(again) != 1 || again[0].Attempts != 1 {
		t.Fatalf("lease after the postponement = %+v; want the message at attempt 1 again", again)
	}
}

func testMailDeferredAndDead(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	m := bb.enqueue(t, mail("ada@example.com", "Hello"))
	leased := bb.lease(t, "a", 1, time.Minute)
	next := bb.clock.now().Add(5 * time.Minute)
	if err := s.MarkMailDeferred(ctx, m.ID, leased[0].LeaseToken, next, "421 4.7.0 try again later", "smtp_transient"); err != nil {
		t.Fatalf("MarkMailDeferred: %v", err)
	}
	got := bb.getMail(t, m.ID)
	if got.Status != storage.MailDeferred || !got.NextAttemptAt.Equal(next) || got.LastError != "421 4.7.0 try again later" ||
		got.Diagnosis != "smtp_transient" || got.LeaseOwner != "" || got.Attempts != 1 {
		t.Fatalf("after MarkMailDeferred: %+v", got)
	}
	if ms := bb.lease(t, "b", 10, time.Minute); len(ms) != 0 {
		t.Fatal("a deferred message was leased before its next attempt")
	}
	if _, err := s.LeaseMailByID(ctx, m.ID, "b", time.Minute); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("LeaseMailByID of a deferred message not yet due: err = %v, want ErrConflict", err)
	}
	bb.clock.Advance(4 * time.Minute)
	if ms := bb.lease(t, "b", 10, time.Minute); len(ms) != 0 {
		t.Fatal("a deferred message was leased a minute before its next attempt")
	}
	bb.clock.Advance(time.Minute + time.Second)
	ms := bb.lease(t, "b", 10, time.Minute)
	if len(ms) != 1 || ms[0].ID != m.ID || ms[0].Attempts != 2 || ms[0].LastError != "421 4.7.0 try again later" {
		t.Fatalf("once due: %d messages %+v; want %v on attempt 2 with its last error", len(ms), ms, m.ID)
	}

	if err := s.MarkMailDead(ctx, m.ID, ms[0].LeaseToken, "535 5.7.3 Authentication unsuccessful", "mailbox_rejected_token"); err != nil {
		t.Fatalf("MarkMailDead: %v", err)
	}
	got = bb.getMail(t, m.ID)
	if got.Status != storage.MailDead || got.LastError != "535 5.7.3 Authentication unsuccessful" ||
		got.Diagnosis != "mailbox_rejected_token" || got.LeaseOwner != "" || !got.SentAt.IsZero() {
		t.Fatalf("after MarkMailDead: %+v", got)
	}
	bb.clock.Advance(24 * time.Hour)
	if ms := bb.lease(t, "c", 10, time.Minute); len(ms) != 0 {
		t.Fatal("a dead message was leased")
	}
	if _, err := s.LeaseMailByID(ctx, m.ID, "c", time.Minute); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("LeaseMailByID of a dead message: err = %v, want ErrConflict", err)
	}
}

func testMailRelease(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	m := mail("ada@example.com", "Hello")
	m.NextAttemptAt = bb.clock.now().Add(-time.Hour)
	bb.enqueue(t, m)
	leased := bb.lease(t, "a", 1, time.Hour)
	bb.clock.Advance(time.Second)
	if err := s.ReleaseMail(ctx, m.ID, leased[0].LeaseToken); err != nil {
		t.Fatalf("ReleaseMail: %v", err)
	}
	got := bb.getMail(t, m.ID)
	if got.Status != storage.MailQueued || got.Attempts != 0 || got.LeaseOwner != "" || !got.NextAttemptAt.Equal(bb.clock.now()) {
		t.Fatalf("after ReleaseMail: status %q attempts %d owner %q next %v; want queued, 0, none, %v",
			got.Status, got.Attempts, got.LeaseOwner, got.NextAttemptAt, bb.clock.now())
	}
	if err := s.MarkMailSent(ctx, m.ID, leased[0].LeaseToken); !errors.Is(err, storage.ErrLeaseLost) {
		t.Fatalf("MarkMailSent after releasing: err = %v, want ErrLeaseLost", err)
	}
	ms := bb.lease(t, "b", 10, time.Hour) // at once, though a's lease had an hour to run
	if len(ms) != 1 || ms[0].ID != m.ID || ms[0].Attempts != 1 || ms[0].LeaseOwner != "b" {
		t.Fatalf("leasing after release: %+v; want %v on attempt 1 by b", ms, m.ID)
	}
}

func testLeaseMailByID(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	m := bb.enqueue(t, mail("ada@example.com", "Hello"))
	other := bb.enqueue(t, mail("bob@example.com", "Other"))
	got, err := s.LeaseMailByID(ctx, m.ID, "a", time.Minute)
	if err != nil {
		t.Fatalf("LeaseMailByID: %v", err)
	}
	if got.ID != m.ID || got.Status != storage.MailSending || got.LeaseOwner != "a" || got.Attempts != 1 ||
		!got.LeaseUntil.Equal(bb.clock.now().Add(time.Minute)) || !bytes.Equal(got.Payload, m.Payload) {
		t.Fatalf("LeaseMailByID = %+v", got)
	}
	if _, err := s.LeaseMailByID(ctx, m.ID, "b", time.Minute); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("LeaseMailByID of a leased message: err = %v, want ErrConflict", err)
	}
	if _, err := s.LeaseMailByID(ctx, uuid.New(), "b", time.Minute); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("LeaseMailByID of a missing message: err = %v, want ErrNotFound", err)
	}
	future := mail("c@example.com", "Future")
	future.NextAttemptAt = bb.clock.now().Add(time.Hour)
	bb.enqueue(t, future)
	if _, err := s.LeaseMailByID(ctx, future.ID, "b", time.Minute); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("LeaseMailByID of a message not yet due: err = %v, want ErrConflict", err)
	}
	if ms := bb.lease(t, "b", 10, time.Minute); !slices.Equal(mailIDs(ms), []uuid.UUID{other.ID}) {
		t.Fatalf("LeaseMail beside LeaseMailByID = %v, want only %v", mailIDs(ms), other.ID)
	}
	bb.clock.Advance(2 * time.Minute)
	got, err = s.LeaseMailByID(ctx, m.ID, "b", time.Minute)
	if err != nil || got.LeaseOwner != "b" || got.Attempts != 2 {
		t.Fatalf("LeaseMailByID after the lease ran out: %+v, %v; want b on attempt 2", got, err)
	}
}

func testListAndCountMail(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	var all []*storage.OutboxMessage
	for _, r := range []struct{ to, subject string }{
		{"ada@example.com", "Your Wi-Fi credentials"},
		{"bob@example.com", "Your Wi-Fi credentials"},
		{"Carol@Example.com", "Your access expires soon"},
		{"admin@corp.example", "Test email from Lobby"},
		{"dave@example.com", "Password reset"},
	} {
		all = append(all, bb.enqueue(t, mail(r.to, r.subject)))
		bb.clock.Advance(time.Second)
	}
	l, err := s.LeaseMailByID(ctx, all[1].ID, "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkMailSent(ctx, all[1].ID, l.LeaseToken); err != nil {
		t.Fatal(err)
	}
	if l, err = s.LeaseMailByID(ctx, all[3].ID, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkMailDead(ctx, all[3].ID, l.LeaseToken, "535 5.7.139", "smtp_auth_disabled"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LeaseMailByID(ctx, all[4].ID, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	ids := func(ms ...*storage.OutboxMessage) []uuid.UUID { return mailIDs(ms) }
	tests := []struct {
		name string
		f    storage.MailFilter
		want []uuid.UUID // newest first
	}{
		{"all", storage.MailFilter{}, ids(all[4], all[3], all[2], all[1], all[0])},
		{"limit", storage.MailFilter{Limit: 2}, ids(all[4], all[3])},
		{"one status", storage.MailFilter{Status: []storage.MailStatus{storage.MailSent}}, ids(all[1])},
		{"two statuses", storage.MailFilter{Status: []storage.MailStatus{storage.MailQueued, storage.MailDead}}, ids(all[3], all[2], all[0])},
		{"sending", storage.MailFilter{Status: []storage.MailStatus{storage.MailSending}}, ids(all[4])},
		{"recipient, other case", storage.MailFilter{Query: "CAROL@example"}, ids(all[2])},
		{"subject, other case", storage.MailFilter{Query: "wi-fi CREDENTIALS"}, ids(all[1], all[0])},
		{"query and status", storage.MailFilter{Query: "credentials", Status: []storage.MailStatus{storage.MailQueued}}, ids(all[0])},
		{"wildcard is literal", storage.MailFilter{Query: "%"}, nil},
		{"nothing matches", storage.MailFilter{Query: "nope"}, nil},
	}
	for _, tc := range tests {
		got, err := s.ListMail(ctx, tc.f)
		if err != nil {
			t.Errorf("%s: ListMail: %v", tc.name, err)
			continue
		}
		if !slices.Equal(mailIDs(got), tc.want) {
			t.Errorf("%s: ListMail = %v, want %v", tc.name, mailIDs(got), tc.want)
		}
	}
	counts, err := s.CountMail(ctx)
	if err != nil {
		t.Fatalf("CountMail: %v", err)
	}
	want := map[storage.MailStatus]int{storage.MailQueued: 2, storage.MailSent: 1, storage.MailDead: 1, storage.MailSending: 1}
	for _, st := range []storage.MailStatus{storage.MailQueued, storage.MailSending, storage.MailDeferred, storage.MailSent, storage.MailDead} {
		if counts[st] != want[st] {
			t.Errorf("CountMail()[%s] = %d, want %d (all: %v)", st, counts[st], want[st], counts)
		}
	}
}
