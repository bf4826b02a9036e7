package notify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// hangingGetMail is a store whose status reads hang until released (or their
// ctx ends): a database that answers leases but is slow to read.
type hangingGetMail struct {
	storage.Store
	called  chan struct{} // closed at the first GetMail
	once    sync.Once
	release chan struct{}
}

func (s *hangingGetMail) GetMail(ctx context.Context, id uuid.UUID) (*storage.OutboxMessage, error) {
	s.once.Do(func() { close(s.called) })
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Store.GetMail(ctx, id)
}

// Messages Track could not queue (the backlog) reach ready workers through
// the poller even while the status reads that follow the backlog hang: the
// hand-off from Track to the poller must not wait for them. (The poller
// used to read the status of 16 backlog messages between its leases, so
// under load the workers sat idle and, in the 1,000-message pool test, the
// backlog's messages were not all leased within a minute.)
func TestBacklogReachesWorkersWhileStatusReadsHang(t *testing.T) {
	t.Parallel()
	const n = 40
	b := setup(t, nil)
	st := &hangingGetMail{Store: b.store, called: make(chan struct{}), release: make(chan struct{})}
	d := b.newDispatcher(t, st, b.sender, func(c *DispatcherConfig) { c.Workers = 3; c.QueueSize = 1 })
	// Every send waits until a status read hangs: from then on, a poller
	// that reads statuses between its leases leases nothing more.
	b.sender.fn = func(ctx context.Context, _ int, _ *Email) error {
		select {
		case <-st.called:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The queue's one place goes to a message that is not in the outbox (a
	// worker resolves it without a status read); the rest fill the backlog.
	bogus := d.Track(uuid.New())
	futures := make([]*Future, n)
	for i := range futures {
		futures[i] = d.Submit(t.Context(), credentialsMessage(fmt.Sprintf("guest%d@example.org", i)))
	}
	run(t, d)
	t.Cleanup(func() { close(st.release) })

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // storeTimeout is 15s
	defer cancel()
	for i, f := range futures {
		if r := f.Wait(ctx); r.Status != StatusSent {
			t.Fatalf("message %d: %s; the backlog did not reach the workers while status reads hung", i, r.Status)
		}
	}
	if r := wait(t, bogus); r.Status != StatusFailed {
		t.Errorf("message not in the outbox: %s, want failed", r.Status)
	}
	select {
	case <-st.called:
	default:
		t.Error("no status read was made: the test did not test what it says")
	}
}

// At start-up the dispatcher says, in one line, how many messages another
// owner's lease still holds (a process that crashed) and when they will be
// sent again; a lease that already ran out is not reported (it is due).
func TestStartReportsMessagesHeldByAnEarlierLease(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var until time.Time
	for i, lease := range []time.Duration{time.Hour, 2 * time.Hour, time.Minute} {
		id, err := Enqueue(t.Context(), b.store, credentialsMessage(fmt.Sprintf("held%d@example.org", i)))
		if err != nil {
			t.Fatal(err)
		}
		row, err := b.store.LeaseMailByID(t.Context(), id, "crashed-host-42-abcd", lease)
		if err != nil {
			t.Fatal(err)
		}
		if lease == 2*time.Hour {
			until = row.LeaseUntil
		}
	}
	b.clock.Advance(2 * time.Minute) // the one-minute lease ran out
	run(t, b.d)
	const line = `"msg":"mail held by the lease of an earlier process or another node; sent again when that lease runs out"`
	eventually(t, "the held messages are reported", func() bool { return strings.Contains(b.logs.String(), line) })
	var got string
	for l := range strings.Lines(b.logs.String()) {
		if strings.Contains(l, line) {
			got = l
		}
	}
	for _, want := range []string{`"held":2`, `"retry_by":"` + until.UTC().Format(time.RFC3339Nano) + `"`, `"owners":1`,
		`"owner_examples":"crashed-host-42-abcd"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log line %s lacks %s", got, want)
		}
	}
	if n := strings.Count(b.logs.String(), line); n != 1 {
		t.Errorf("reported %d times, want once", n)
	}
}
