package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lobbyhq/lobby/storage"
)

// testLeaseConcurrent is the outbox's central promise: 8 workers on two
// Stores (two pools, as two nodes would have) lease 1,000 messages in
// batches, and every message is leased exactly once and marked sent.
func testLeaseConcurrent(t *testing.T, b Backend) {
	const (
		messages = 1000
		workers  = 8
		batch    = 25
	)
	bb := setup(t, b)
	ctx := t.Context()
	stores := []storage.Store{bb.store, bb.openStore(t)}

	want := map[uuid.UUID]bool{}
	err := bb.store.WithTx(ctx, func(tx storage.Store) error {
		for i := range messages {
			m := mail(fmt.Sprintf("guest%d@example.com", i), "Your credentials")
			if err := tx.EnqueueMail(ctx, m); err != nil {
				return err
			}
			want[m.ID] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("enqueue %d messages: %v", messages, err)
	}

	var (
		mu       sync.Mutex
		leased   = map[uuid.UUID]int{}
		perStore [2]int
		wg       sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			s, owner := stores[w%2], fmt.Sprintf("node%d/worker%d", w%2, w)
			for {
				ms, err := s.LeaseMail(ctx, owner, batch, time.Hour) // the clock stands still: no lease runs out
				if err != nil {
					t.Errorf("%s: LeaseMail: %v", owner, err)
					return
				}
				if len(ms) == 0 {
					return
				}
				if len(ms) > batch {
					t.Errorf("%s: LeaseMail(%d) returned %d messages", owner, batch, len(ms))
				}
				mu.Lock()
				for _, m := range ms {
					leased[m.ID]++
				}
				perStore[w%2] += len(ms)
				mu.Unlock()
				for _, m := range ms {
					if m.Status != storage.MailSending || m.LeaseOwner != owner || m.Attempts != 1 {
						t.Errorf("%s: leased %v with status %q owner %q attempts %d", owner, m.ID, m.Status, m.LeaseOwner, m.Attempts)
						return // one report per worker is enough
					}
					if err := s.MarkMailSent(ctx, m.ID, m.LeaseToken); err != nil {
						t.Errorf("%s: MarkMailSent(%v): %v", owner, m.ID, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	twice := 0
	for id, n := range leased {
		if !want[id] {
			t.Errorf("leased %v, which was never enqueued", id)
		}
		if n != 1 {
			twice++
		}
	}
	if twice > 0 || len(leased) != messages {
		t.Fatalf("%d distinct messages leased, %d of them more than once; want each of %d exactly once", len(leased), twice, messages)
	}
	counts, err := bb.store.CountMail(ctx)
	if err != nil || counts[storage.MailSent] != messages || len(counts) != 1 {
		t.Fatalf("CountMail = %v, %v; want all %d sent", counts, err, messages)
	}
	t.Logf("leased per store: %v", perStore)
}
