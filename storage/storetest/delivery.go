package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// deliveryStorer is a backend's optional DeliveryStore: a Store for mail
// delivery with a connection budget of its own.
type deliveryStorer interface {
	DeliveryStore(ctx context.Context, conns int) (storage.Store, error)
}

// testDeliveryStore checks a backend's DeliveryStore, if it has one: it
// works on the same database as its parent (mail enqueued on one is leased
// and settled on the other, in and out of transactions), writes through
// both at once all land, and closing it leaves the parent working.
func testDeliveryStore(t *testing.T, b Backend) {
	bb := setup(t, b)
	ds, ok := bb.store.(deliveryStorer)
	if !ok {
		t.Skipf("%s has no DeliveryStore", b.Name)
	}
	ctx := t.Context()
	d, err := ds.DeliveryStore(ctx, 2)
	if err != nil {
		t.Fatalf("DeliveryStore: %v", err)
	}
	m := bb.enqueue(t, mail("ada@example.com", "Hello"))
	leased, err := d.LeaseMailByID(ctx, m.ID, "worker", time.Minute)
	if err != nil {
		t.Fatalf("LeaseMailByID through the delivery store: %v", err)
	}
	if err := d.MarkMailSent(ctx, m.ID, leased.LeaseToken); err != nil {
		t.Fatalf("MarkMailSent through the delivery store: %v", err)
	}
	if got, err := bb.store.GetMail(ctx, m.ID); err != nil || got.Status != storage.MailSent {
		t.Fatalf("the parent sees the message as %v (%v), want sent", got, err)
	}

	// Page requests and delivery write at once; every write lands.
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			errs <- bb.store.WithTx(ctx, func(tx storage.Store) error {
				return tx.EnqueueMail(ctx, mail("p@example.com", "page "+string(rune('a'+i%26))))
			})
		})
		wg.Go(func() {
			errs <- d.WithTx(ctx, func(tx storage.Store) error {
				return tx.EnqueueMail(ctx, mail("d@example.com", "delivery"))
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a concurrent write failed: %v", err)
		}
	}
	counts, err := bb.store.CountMail(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[storage.MailQueued] != 2*n {
		t.Fatalf("%d messages queued after the concurrent writes, want %d", counts[storage.MailQueued], 2*n)
	}

	if err := d.Close(); err != nil {
		t.Fatalf("closing the delivery store: %v", err)
	}
	if err := bb.store.Ping(ctx); err != nil {
		t.Fatalf("the parent after the delivery store closed: %v", err)
	}
	if _, err := bb.store.LeaseMail(ctx, "after", 1, time.Minute); err != nil {
		t.Fatalf("the parent after the delivery store closed: %v", err)
	}
}
