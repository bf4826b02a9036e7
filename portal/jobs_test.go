package portal

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

func TestExpiryJobs(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Policy.ExpiryNotice = 24 * time.Hour })
	ctx := context.Background()
	now := b.clock.Now()
	mk := func(email string, status storage.GuestStatus, from, until time.Duration) *storage.Guest {
		g := &storage.Guest{ID: uuid.New(), Username: email, Password: "pw-" + email, FirstName: "F", LastName: "L", Email: email,
			GuestType: DefaultGuestTypeName, Status: status, ValidFrom: now.Add(from), ValidUntil: now.Add(until)}
		if err := b.store.CreateGuest(ctx, g); err != nil {
			t.Fatal(err)
		}
		return g
	}
	soon := mk("soon@example.com", storage.GuestActive, -6*24*time.Hour, 12*time.Hour)     // notice
	later := mk("later@example.com", storage.GuestActive, -time.Hour, 3*24*time.Hour)      // nothing yet
	past := mk("past@example.com", storage.GuestActive, -48*time.Hour, -time.Hour)         // expire, no notice
	daily := mk("daily@example.com", storage.GuestActive, -time.Hour, 23*time.Hour)        // whole stay within the notice: none
	paused := mk("paused@example.com", storage.GuestSuspended, -6*24*time.Hour, time.Hour) // not active: no notice; expires after its validity

	st, err := b.portal.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Notified != 1 || st.Expired != 1 {
		t.Fatalf("RunOnce = %+v, want 1 notice and 1 expired", st)
	}
	msgs := b.outbox(t)
	if len(msgs) != 1 || msgs[0].Kind != KindExpiry || msgs[0].To[0] != "soon@example.com" {
		t.Fatalf("outbox = %+v", msgs)
	}
	get := func(g *storage.Guest) *storage.Guest {
		cur, err := b.store.GetGuest(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		return cur
	}
	if cur := get(soon); !cur.ExpiryNotifiedAt.Equal(now) || cur.Status != storage.GuestActive {
		t.Fatalf("soon: notified %v, %s", cur.ExpiryNotifiedAt, cur.Status)
	}
	if cur := get(past); cur.Status != storage.GuestExpired || !cur.ExpiryNotifiedAt.IsZero() {
		t.Fatalf("past: %s, notified %v", cur.Status, cur.ExpiryNotifiedAt)
	}
	for _, g := range []*storage.Guest{later, daily, paused} {
		if cur := get(g); !cur.ExpiryNotifiedAt.IsZero() || cur.Status != g.Status {
			t.Fatalf("%s changed: %s, notified %v", g.Email, cur.Status, cur.ExpiryNotifiedAt)
		}
	}
	if tr := b.mail.Tracked(); len(tr) != 1 {
		t.Fatalf("tracked %v", tr)
	}
	// Nothing new on a second run.
	if st, err := b.portal.RunOnce(ctx); err != nil || st != (JobStats{}) {
		t.Fatalf("second RunOnce = %+v, %v", st, err)
	}
	// 61 hours on: "later" is within its notice period; "soon", "daily"
	// and the suspended "paused" are over.
	b.clock.Advance(61 * time.Hour)
	if st, err := b.portal.RunOnce(ctx); err != nil || st != (JobStats{Notified: 1, Expired: 3}) {
		t.Fatalf("RunOnce 61h on = %+v, %v", st, err)
	}
	// A suspended guest past its validity is expired like an active one,
	// so that it is purged in time and its address may register again.
	if cur := get(paused); cur.Status != storage.GuestExpired {
		t.Fatalf("a suspended guest past its validity is %s, want expired", cur.Status)
	}
	b.clock.Advance(12 * time.Hour)
	if st, err := b.portal.RunOnce(ctx); err != nil || st != (JobStats{Expired: 1}) {
		t.Fatalf("RunOnce 73h on = %+v, %v", st, err)
	}
	b.clock.Advance(DefaultPurgeAfter)
	if _, err := b.portal.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.GetGuest(ctx, paused.ID); err == nil {
		t.Fatal("the once suspended guest was not purged")
	}
}

// leaderSpy reports every TryLeader outcome of the store it wraps.
type leaderSpy struct {
	storage.Store
	ctx     context.Context
	results chan bool
}

func (s leaderSpy) TryLeader(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	ok, err := s.Store.TryLeader(ctx, name, owner, ttl)
	if name == leaderLock && owner != "other-node" {
		select {
		case s.results <- ok:
		case <-s.ctx.Done():
		}
	}
	return ok, err
}

func TestRunJobsLeader(t *testing.T) {
	t.Parallel()
	spyCtx, stopSpy := context.WithCancel(context.Background())
	defer stopSpy()
	results := make(chan bool)
	b := setup(t, func(c *Config) {
		c.Policy.JobInterval = 10 * time.Millisecond
		c.Store = leaderSpy{Store: c.Store, ctx: spyCtx, results: results}
	})
	ctx := context.Background()
	now := b.clock.Now()
	g := &storage.Guest{ID: uuid.New(), Username: "x@example.com", Password: "pw", FirstName: "F", LastName: "L", Email: "x@example.com",
		GuestType: DefaultGuestTypeName, Status: storage.GuestActive, ValidFrom: now.Add(-48 * time.Hour), ValidUntil: now.Add(-time.Minute)}
	if err := b.store.CreateGuest(ctx, g); err != nil {
		t.Fatal(err)
	}
	// Another node holds the lock: this one does nothing.
	if ok, err := b.store.TryLeader(ctx, leaderLock, "other-node", time.Hour); err != nil || !ok {
		t.Fatalf("TryLeader: %v, %v", ok, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.portal.RunJobs(runCtx) }()
	status := func() storage.GuestStatus {
		cur, err := b.store.GetGuest(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		return cur.Status
	}
	timeout := time.After(10 * time.Second)
	for i := range 3 {
		select {
		case ok := <-results:
			if ok {
				t.Fatalf("tick %d: got the lock another node holds", i)
			}
		case <-timeout:
			t.Fatal("RunJobs does not tick")
		}
	}
	if status() != storage.GuestActive {
		t.Fatal("jobs ran without the leader lock")
	}
	if err := b.store.ReleaseLeader(ctx, leaderLock, "other-node"); err != nil {
		t.Fatal(err)
	}
	for leader := false; !leader; {
		select {
		case leader = <-results:
		case <-timeout:
			t.Fatal("RunJobs did not take the free lock")
		}
	}
	// The tick after the one that took the lock has run the jobs.
	select {
	case <-results:
	case <-timeout:
		t.Fatal("RunJobs stopped ticking")
	}
	if s := status(); s != storage.GuestExpired {
		t.Fatalf("the leader ran no jobs: guest %s", s)
	}
	stopSpy()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunJobs = %v", err)
	}
	// It gave the lock up on the way out.
	if ok, err := b.store.TryLeader(ctx, leaderLock, "other-node", time.Hour); err != nil || !ok {
		t.Fatalf("lock not released: %v, %v", ok, err)
	}
}
