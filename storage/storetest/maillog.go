package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lobbyhq/lobby/storage"
)

// testMailLogFilters checks the mail log's kind and time filters and its
// keyset pages, with a search and a status filter on the way.
func testMailLogFilters(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	start := bb.clock.now()
	var all []*storage.OutboxMessage
	for i := range 7 {
		m := mail("guest"+string(rune('a'+i))+"@example.com", "Your Wi-Fi credentials")
		if i%2 == 1 {
			m.Kind, m.Subject = "admin.alarm", "Lobby alarm"
		}
		all = append(all, bb.enqueue(t, m))
		if i != 2 { // messages 2 and 3 share their created_at: the ID orders them
			bb.clock.Advance(time.Second)
		}
	}
	newestFirst := func(idx ...int) []uuid.UUID {
		var out []uuid.UUID
		for _, i := range idx {
			out = append(out, all[i].ID)
		}
		return out
	}
	sameSecond := newestFirst(3, 2)
	if all[2].ID.String() > all[3].ID.String() {
		sameSecond = newestFirst(2, 3)
	}
	every := append(append(newestFirst(6, 5, 4), sameSecond...), newestFirst(1, 0)...)
	tests := []struct {
		name string
		f    storage.MailFilter
		want []uuid.UUID
	}{
		{"kind", storage.MailFilter{Kind: "admin.alarm"}, newestFirst(5, 3, 1)},
		{"created from", storage.MailFilter{CreatedFrom: start.Add(4 * time.Second)}, newestFirst(6, 5)},
		{"created before", storage.MailFilter{CreatedBefore: start.Add(time.Second)}, newestFirst(0)},
		{"between", storage.MailFilter{CreatedFrom: start.Add(time.Second), CreatedBefore: start.Add(3 * time.Second)}, every[3:6]},
		{"search and kind", storage.MailFilter{Query: "GUESTB@", Kind: "admin.alarm"}, newestFirst(1)},
		{"search of a kind it is not", storage.MailFilter{Query: "guestb@", Kind: "guest.credentials"}, nil},
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

	// Pages of two walk every message once, in order, across the tie.
	for _, f := range []storage.MailFilter{{Limit: 2}, {Limit: 2, Query: "example.com"}, {Limit: 2, Status: []storage.MailStatus{storage.MailQueued}}} {
		var got []uuid.UUID
		for pages := 0; ; pages++ {
			if pages > len(all) {
				t.Fatalf("%+v: the pages do not end", f)
			}
			page, err := s.ListMail(ctx, f)
			if err != nil {
				t.Fatalf("ListMail(%+v): %v", f, err)
			}
			got = append(got, mailIDs(page)...)
			if f.After = storage.NextMailCursor(f, page); f.After == "" {
				break
			}
		}
		if !slices.Equal(got, every) {
			t.Errorf("pages of %+v = %v, want %v", f, got, every)
		}
	}
	if _, err := s.ListMail(ctx, storage.MailFilter{After: "not a cursor"}); err == nil {
		t.Error("ListMail with a bad cursor: no error")
	}
}

// testRetryDeadMail checks that a dead letter keeps its payload and goes
// back to the queue, due now, with its attempts reset; that a sent message
// has lost its payload; and that only dead letters are retried.
func testRetryDeadMail(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	dead := bb.enqueue(t, mail("ada@example.com", "Your Wi-Fi credentials"))
	sent := bb.enqueue(t, mail("bob@example.com", "Your Wi-Fi credentials"))
	queued := bb.enqueue(t, mail("carol@example.com", "Your Wi-Fi credentials"))
	for i := range 3 {
		l, err := s.LeaseMailByID(ctx, dead.ID, "w", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			err = s.MarkMailDeferred(ctx, dead.ID, l.LeaseToken, bb.clock.now(), "421 try later", "smtp_transient")
		} else {
			err = s.MarkMailDead(ctx, dead.ID, l.LeaseToken, "535 5.7.3", "mailbox_rejected_token")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.LeaseMailByID(ctx, sent.ID, "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkMailSent(ctx, sent.ID, l.LeaseToken); err != nil {
		t.Fatal(err)
	}
	if got := bb.getMail(t, dead.ID); string(got.Payload) != string(dead.Payload) || got.Attempts != 3 {
		t.Fatalf("a dead letter has %d bytes of payload and %d attempts; want its payload kept and 3 attempts", len(got.Payload), got.Attempts)
	}
	if got := bb.getMail(t, sent.ID); len(got.Payload) != 0 {
		t.Fatalf("a sent message kept %d bytes of payload", len(got.Payload))
	}
	n, last, err := s.DeadMail(ctx)
	if err != nil || n != 1 || !last.Equal(bb.clock.now()) {
		t.Fatalf("DeadMail = %d, %v, %v; want 1 dead, last at %v", n, last, err, bb.clock.now())
	}

	bb.clock.Advance(time.Hour)
	if err := s.RetryDeadMail(ctx, dead.ID); err != nil {
		t.Fatalf("RetryDeadMail: %v", err)
	}
	got := bb.getMail(t, dead.ID)
	if got.Status != storage.MailQueued || got.Attempts != 0 || !got.NextAttemptAt.Equal(bb.clock.now()) ||
		got.LastError != "" || got.Diagnosis != "" || string(got.Payload) != string(dead.Payload) {
		t.Fatalf("after RetryDeadMail: %s, %d attempts, due %v, error %q, diagnosis %q; want queued, 0 attempts, due %v, no error, its payload",
			got.Status, got.Attempts, got.NextAttemptAt, got.LastError, got.Diagnosis, bb.clock.now())
	}
	if ms := bb.lease(t, "w2", 10, time.Minute); !slices.Contains(mailIDs(ms), dead.ID) {
		t.Fatalf("the retried message was not leased at once: leased %v", mailIDs(ms))
	}
	if n, last, err := s.DeadMail(ctx); err != nil || n != 0 || !last.IsZero() {
		t.Fatalf("DeadMail after the retry = %d, %v, %v; want none", n, last, err)
	}
	for _, tc := range []struct {
		name string
		id   uuid.UUID
		want error
	}{
		{"sent", sent.ID, storage.ErrConflict},
		{"queued", queued.ID, storage.ErrConflict},
		{"missing", uuid.New(), storage.ErrNotFound},
	} {
		if err := s.RetryDeadMail(ctx, tc.id); !errors.Is(err, tc.want) {
			t.Errorf("RetryDeadMail of a %s message: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// testAlarmLevels checks alarm levels, the notified level that lets one
// caller email each level once, and acknowledgement.
func testAlarmLevels(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	const key = "smtp.client_secret_expiry"
	raise := func(level string) {
		t.Helper()
		if err := s.RaiseAlarm(ctx, storage.Alarm{Key: key, Severity: storage.SeverityWarning, Title: "expires", Level: level}); err != nil {
			t.Fatalf("RaiseAlarm(%s): %v", level, err)
		}
	}
	notified := func() bool {
		t.Helper()
		ok, err := s.MarkAlarmNotified(ctx, key)
		if err != nil {
			t.Fatalf("MarkAlarmNotified: %v", err)
		}
		return ok
	}
	get := func() *storage.Alarm {
		t.Helper()
		a, err := s.GetAlarm(ctx, key)
		if err != nil {
			t.Fatalf("GetAlarm: %v", err)
		}
		return a
	}
	if _, err := s.GetAlarm(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetAlarm before any: %v, want ErrNotFound", err)
	}
	if notified() {
		t.Fatal("MarkAlarmNotified without an alarm reported a change")
	}
	if err := s.AckAlarm(ctx, key, "admin", bb.clock.now()); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("AckAlarm without an alarm: %v, want ErrNotFound", err)
	}

	raise("30")
	if !notified() || notified() {
		t.Fatal("a new alarm: want MarkAlarmNotified true once, then false")
	}
	raise("30")
	if notified() {
		t.Fatal("raised again at the same level: MarkAlarmNotified reported a change")
	}
	ackAt := bb.clock.now()
	if err := s.AckAlarm(ctx, key, "root", ackAt); err != nil {
		t.Fatalf("AckAlarm: %v", err)
	}
	a := get()
	if !a.Active() || a.AcknowledgedBy != "root" || !a.AcknowledgedAt.Equal(ackAt) || a.Level != "30" || a.NotifiedLevel != "30" {
		t.Fatalf("after the ack: %+v; want active, acknowledged by root at %v, level 30 notified", a, ackAt)
	}
	raise("30")
	if a := get(); !a.Acknowledged() || a.Count != 3 {
		t.Fatalf("raised again at the same level: %+v; want still acknowledged, count 3", a)
	}
	raise("15")
	if a := get(); a.Acknowledged() || a.Level != "15" || a.NotifiedLevel != "30" {
		t.Fatalf("raised at a new level: %+v; want level 15, not acknowledged, notified at 30", a)
	}
	if !notified() || notified() {
		t.Fatal("a new level: want MarkAlarmNotified true once, then false")
	}

	bb.clock.Advance(time.Minute)
	if err := s.ClearAlarm(ctx, key); err != nil {
		t.Fatal(err)
	}
	if a := get(); a.Active() || a.Level != "15" {
		t.Fatalf("after clearing, GetAlarm = %+v; want the cleared alarm", a)
	}
	if notified() {
		t.Fatal("a cleared alarm: MarkAlarmNotified reported a change")
	}
	bb.clock.Advance(time.Minute)
	raise("15")
	if a := get(); !a.Active() || a.Count != 1 || a.NotifiedLevel != "" {
		t.Fatalf("raised after clearing: %+v; want a new active alarm, never notified", a)
	}
	if !notified() {
		t.Fatal("raised again after clearing: MarkAlarmNotified reported no change")
	}
}
