package soak

import (
	"context"
	"testing"
	"time"
)

// pause waits out a fault's planned duration (not a wait for something to
// happen: those poll with a deadline).
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// trickle runs registrations one every interval in the background until the
// returned stop function is called; stop waits for the workers and reports
// their error.
func trickle(ctx context.Context, tr *traffic, interval time.Duration) (stop func() error) {
	quit := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- tr.run(ctx, load{interval: interval, stop: quit, workers: 4}) }()
	return func() error {
		close(quit)
		return <-done
	}
}

// smtpDown: registrations keep coming while the SMTP server is gone for
// outage (the gate closes its port and cuts every connection). Nothing may
// arrive meanwhile; everything must arrive after.
func smtpDown(outage, interval, drainFor time.Duration) func(*testing.T, string, string) (*rig, tally, []*node) {
	return func(t *testing.T, bin, name string) (*rig, tally, []*node) {
		ctx := t.Context()
		r := newRig(t, name, bin, rigOptions{})
		n := r.node("lobby")
		n.start(ctx)
		tr := newTraffic("smtp", func() []*node { return []*node{n} })
		stop := trickle(ctx, tr, interval)
		lead := max(outage/6, 3*time.Second) // traffic before and after the outage
		pause(ctx, lead)
		r.smtp.Down()
		downAt := time.Now()
		pause(ctx, outage)
		upAt := time.Now()
		if err := r.smtp.Up(ctx); err != nil {
			t.Fatal(err)
		}
		pause(ctx, lead)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		ta := r.drain(ctx, tr, drainFor)
		var during int
		for _, m := range r.emu.Messages() {
			if m.ReceivedAt.After(downAt) && m.ReceivedAt.Before(upAt) {
				during++
			}
		}
		if during > 0 {
			t.Errorf("%d emails arrived while the SMTP server was down: the fault was not real", during)
		}
		return r, ta, []*node{n}
	}
}
