package lobby

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/storage/postgres"
	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
	"github.com/lobbyhq/lobby/storage/sqlite"
)

// watchBundle is an alarm watcher on a real store with a settable clock,
// SMTP settings and delivery state, checked by hand (no goroutine).
type watchBundle struct {
	store storage.Store
	watch *alarmWatch

	mu       sync.Mutex
	now      time.Time
	settings notify.Settings
	outage   notify.Outage
}

func (b *watchBundle) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *watchBundle) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

// eachAlarmBackend runs fn on a fresh watcher on SQLite, and on Postgres
// when LOBBY_TEST_DATABASE_URL is set.
func eachAlarmBackend(t *testing.T, fn func(t *testing.T, b *watchBundle)) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			fn(t, newWatchBundle(t, backend))
		})
	}
}

func newWatchBundle(t *testing.T, backend string) *watchBundle {
	t.Helper()
	b := &watchBundle{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	key := make([]byte, storage.KeySize)
	rand.Read(key)
	sealer, err := storage.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	opts := storage.Options{Sealer: sealer, Now: b.clock}
	if backend == "postgres" {
		dbURL, _ := pgtest.Schema(t)
		b.store, err = postgres.Open(t.Context(), dbURL, postgres.Options{Options: opts, MaxConns: 4})
	} else {
		b.store, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "lobby.db"), opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.store.Close() })
	for _, s := range []*storage.Staff{
		{Username: "root", Email: "root@corp.example", Role: storage.RoleAdmin, PasswordHash: "x"},
		{Username: "nomail", Role: storage.RoleAdmin, PasswordHash: "x"},
		{Username: "sally", Email: "sally@corp.example", Role: storage.RoleSponsor, PasswordHash: "x"},
	} {
		if err := b.store.CreateStaff(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	renderer, err := notify.NewRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	al, err := notify.NewAlarms(notify.AlarmsConfig{
		Store: b.store, Renderer: renderer, Recipients: []string{"noc@corp.example", "ROOT@corp.example"},
		SiteName: "Lobby test", AlarmsURL: "https://wifi.example.com/admin/alarms", Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	b.watch = &alarmWatch{
		alarms: al,
		store:  b.store,
		settings: func(context.Context) (notify.Settings, error) {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.settings, nil
		},
		outage: func() notify.Outage {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.outage
		},
		threshold: 15 * time.Minute,
		now:       b.clock,
		log:       testLogger(t),
	}
	return b
}

// alarmMail lists the alarm emails queued so far, oldest first.
func (b *watchBundle) alarmMail(t *testing.T) []*storage.OutboxMessage {
	t.Helper()
	ms, err := b.store.ListMail(t.Context(), storage.MailFilter{Kind: notify.KindAlarm, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(ms)
	return ms
}

// alarm is the latest alarm with key, or nil.
func (b *watchBundle) alarm(t *testing.T, key string) *storage.Alarm {
	t.Helper()
	a, err := b.store.GetAlarm(t.Context(), key)
	if err != nil {
		return nil
	}
	return a
}

func (b *watchBundle) setExpiry(exp time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.settings = notify.Settings{AuthMode: notify.AuthExchangeOnline, ClientID: "app-id", ClientSecret: "s3cr3t-value",
		ClientSecretExpires: exp}
}

// The client secret's alarm is emailed once as it enters the 30-day window
// and once at each later level (15, 7, 1 days, expired): five emails with a
// check every hour for 32 days, to the admins with an address and the
// configured recipients. Cleared, it sends nothing until raised again.
func TestSecretExpiryAlarmEmailedOncePerLevel(t *testing.T) {
	t.Parallel()
	eachAlarmBackend(t, func(t *testing.T, b *watchBundle) {
		ctx := t.Context()
		expiry := b.clock().Add(31 * 24 * time.Hour)
		b.setExpiry(expiry)
		var levels []string
		for b.clock().Before(expiry.Add(24 * time.Hour)) {
			b.watch.check(ctx)
			if a := b.alarm(t, notify.AlarmSecretExpiry); a != nil && a.Active() {
				if a.NotifiedLevel != a.Level {
					t.Fatalf("level %s: notified level %q, want the level emailed in the raise's transaction", a.Level, a.NotifiedLevel)
				}
				if len(levels) == 0 || levels[len(levels)-1] != a.Level {
					levels = append(levels, a.Level)
					if want := storage.SeverityWarning; a.Level == "7" || a.Level == "1" || a.Level == "expired" {
						if a.Severity != storage.SeverityCritical {
							t.Errorf("level %s: severity %s, want critical", a.Level, a.Severity)
						}
					} else if a.Severity != want {
						t.Errorf("level %s: severity %s, want %s", a.Level, a.Severity, want)
					}
				}
			}
			b.advance(time.Hour)
		}
		if want := []string{"30", "15", "7", "1", "expired"}; !slices.Equal(levels, want) {
			t.Errorf("levels = %v, want %v", levels, want)
		}
		mail := b.alarmMail(t)
		if len(mail) != 5 {
			t.Fatalf("%d alarm emails, want 5 (one per level)", len(mail))
		}
		for i, m := range mail {
			if m.Recipient != "root@corp.example, noc@corp.example" {
				t.Errorf("email %d went to %q, want the admin with an address and the configured recipient, once each", i, m.Recipient)
			}
			full, err := b.store.GetMail(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(full.Payload)+m.Subject, "s3cr3t-value") {
				t.Errorf("email %d holds the client secret", i)
			}
		}
		if !strings.Contains(mail[0].Subject, "30 days") || !strings.Contains(mail[4].Subject, "expired") {
			t.Errorf("subjects %q ... %q; want the 30-day warning first and the expiry last", mail[0].Subject, mail[4].Subject)
		}

		// Renewed: cleared, and no email; then close to expiry again: a new
		// alarm, emailed again.
		b.setExpiry(b.clock().Add(365 * 24 * time.Hour))
		b.watch.secretCheckedAt = time.Time{} // as a save re-checks at once
		b.watch.check(ctx)
		if a := b.alarm(t, notify.AlarmSecretExpiry); a == nil || a.Active() {
			t.Fatalf("after renewal the alarm is %+v, want cleared", a)
		}
		for range 48 {
			b.advance(time.Hour)
			b.watch.check(ctx)
		}
		if n := len(b.alarmMail(t)); n != 5 {
			t.Fatalf("%d alarm emails after the renewal, want still 5", n)
		}
		b.setExpiry(b.clock().Add(10 * 24 * time.Hour))
		b.watch.secretCheckedAt = time.Time{}
		b.watch.check(ctx)
		b.advance(time.Hour)
		b.watch.check(ctx)
		if a := b.alarm(t, notify.AlarmSecretExpiry); a == nil || !a.Active() || a.Level != "15" {
			t.Fatalf("raised again 10 days before expiry: %+v, want active at level 15", a)
		}
		if n := len(b.alarmMail(t)); n != 6 {
			t.Fatalf("%d alarm emails after the alarm was raised again, want 6", n)
		}
	})
}

// Two nodes checking the same secret at once send one email between them.
func TestSecretExpiryAlarmOneEmailBetweenNodes(t *testing.T) {
	t.Parallel()
	eachAlarmBackend(t, func(t *testing.T, b *watchBundle) {
		b.setExpiry(b.clock().Add(20 * 24 * time.Hour))
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if err := b.watch.checkSecretExpiry(t.Context(), b.clock()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := len(b.alarmMail(t)); n != 1 {
			t.Fatalf("%d alarm emails from 4 concurrent checks, want 1", n)
		}
	})
}

// Delivery failing for less than the threshold raises nothing; past it, one
// alarm and one email however many checks; a delivery after the raise
// clears it.
func TestDeliveryFailingAlarm(t *testing.T) {
	t.Parallel()
	eachAlarmBackend(t, func(t *testing.T, b *watchBundle) {
		ctx := t.Context()
		b.mu.Lock()
		b.outage = notify.Outage{Failing: true, Since: b.now, Code: "token_endpoint_unreachable", Deferred: 3,
			LastSent: b.now.Add(-time.Hour)}
		b.mu.Unlock()
		for range 14 {
			b.advance(time.Minute)
			b.watch.check(ctx)
		}
		if a := b.alarm(t, AlarmDeliveryFailing); a != nil {
			t.Fatalf("after 14 minutes of failures: %+v, want no alarm before the 15-minute threshold", a)
		}
		for range 10 {
			b.advance(time.Minute)
			b.watch.check(ctx)
		}
		a := b.alarm(t, AlarmDeliveryFailing)
		if a == nil || !a.Active() || a.Severity != storage.SeverityCritical || !strings.Contains(a.Detail, "token_endpoint_unreachable") {
			t.Fatalf("after 24 minutes of failures: %+v, want an active critical alarm naming the diagnosis", a)
		}
		if n := len(b.alarmMail(t)); n != 1 {
			t.Fatalf("%d alarm emails, want 1", n)
		}
		b.mu.Lock()
		b.outage = notify.Outage{LastSent: b.now}
		b.mu.Unlock()
		b.advance(time.Minute)
		b.watch.check(ctx)
		if a := b.alarm(t, AlarmDeliveryFailing); a == nil || a.Active() {
			t.Fatalf("after a delivery: %+v, want the alarm cleared", a)
		}
	})
}

// A dead letter raises the alarm (one email); its count follows; an
// acknowledgement clears it until another message dies; a retry of the
// last one clears it.
func TestDeadLetterAlarm(t *testing.T) {
	t.Parallel()
	eachAlarmBackend(t, func(t *testing.T, b *watchBundle) {
		ctx := t.Context()
		kill := func(to string) *storage.OutboxMessage {
			t.Helper()
			m := &storage.OutboxMessage{Kind: "guest.credentials", Recipient: to, Subject: "Your Wi-Fi", Payload: []byte("{}")}
			if err := b.store.EnqueueMail(ctx, m); err != nil {
				t.Fatal(err)
			}
			l, err := b.store.LeaseMailByID(ctx, m.ID, "w", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.store.MarkMailDead(ctx, m.ID, l.LeaseToken, "550 5.1.1 no such user", "recipient_rejected"); err != nil {
				t.Fatal(err)
			}
			return m
		}
		b.watch.check(ctx)
		if a := b.alarm(t, AlarmDeadLetters); a != nil {
			t.Fatalf("no dead letter: alarm %+v", a)
		}
		first := kill("ada@example.com")
		b.advance(time.Minute)
		b.watch.check(ctx)
		a := b.alarm(t, AlarmDeadLetters)
		if a == nil || !a.Active() || !strings.HasPrefix(a.Title, "1 email") {
			t.Fatalf("one dead letter: alarm %+v, want active, about 1 email", a)
		}
		kill("bob@example.com")
		b.advance(time.Minute)
		b.watch.check(ctx)
		if a := b.alarm(t, AlarmDeadLetters); a == nil || !strings.HasPrefix(a.Title, "2 emails") {
			t.Fatalf("two dead letters: alarm %+v, want about 2 emails", a)
		}
		if n := len(b.alarmMail(t)); n != 1 {
			t.Fatalf("%d alarm emails, want 1 for the alarm", n)
		}

		if err := b.store.AckAlarm(ctx, AlarmDeadLetters, "root", b.clock()); err != nil {
			t.Fatal(err)
		}
		if a := b.alarm(t, AlarmDeadLetters); a == nil || !a.Active() || a.AcknowledgedBy != "root" {
			t.Fatalf("acknowledged: %+v, want active and acknowledged by root", a)
		}
		b.advance(time.Minute)
		b.watch.check(ctx)
		b.advance(time.Minute)
		b.watch.check(ctx)
		if a := b.alarm(t, AlarmDeadLetters); a == nil || a.Active() {
			t.Fatalf("acknowledged, then checked twice: %+v, want cleared and not raised again", a)
		}
		if n := len(b.alarmMail(t)); n != 1 {
			t.Fatalf("%d alarm emails after the acknowledgement, want still 1", n)
		}

		b.advance(time.Minute)
		kill("carol@example.com")
		b.advance(time.Minute)
		b.watch.check(ctx)
		if a := b.alarm(t, AlarmDeadLetters); a == nil || !a.Active() || a.Acknowledged() || !strings.HasPrefix(a.Title, "3 emails") {
			t.Fatalf("another dead letter: %+v, want a new active alarm about 3 emails", a)
		}
		if n := len(b.alarmMail(t)); n != 2 {
			t.Fatalf("%d alarm emails, want 2", n)
		}

		// Retried or purged until none is dead: cleared.
		dead, err := b.store.ListMail(ctx, storage.MailFilter{Status: []storage.MailStatus{storage.MailDead}})
		if err != nil || len(dead) != 3 || !slices.ContainsFunc(dead, func(m *storage.OutboxMessage) bool { return m.ID == first.ID }) {
			t.Fatalf("dead letters %v, %v; want 3", mailIDsOf(dead), err)
		}
		for _, m := range dead {
			if err := b.store.RetryDeadMail(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
		}
		b.watch.check(ctx)
		if a := b.alarm(t, AlarmDeadLetters); a == nil || a.Active() {
			t.Fatalf("no dead letter left: %+v, want cleared", a)
		}
	})
}

func mailIDsOf(ms []*storage.OutboxMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID.String())
	}
	return out
}
