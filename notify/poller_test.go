package notify

import (
	"context"
	"fmt"
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
