package soak

import (
	"context"
	"strings"
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

// firstDeliveries maps each recipient to when its first email arrived.
func (r *rig) firstDeliveries() map[string]time.Time {
	first := map[string]time.Time{}
	for _, m := range r.emu.Messages() {
		for _, to := range m.To {
			to = strings.ToLower(to)
			if at, ok := first[to]; !ok || m.ReceivedAt.Before(at) {
				first[to] = m.ReceivedAt
			}
		}
	}
	return first
}

// tokenDown: the token endpoint goes down right after the first token was
// fetched and stays down across that token's refresh point (half its life,
// for a token shorter than twice Lobby's refresh margin), coming back before
// the token expires. Mail must keep flowing on the cached token that whole
// time: every registration accepted after the refresh point gets its email
// while the endpoint is still down.
func tokenDown(lifetime, interval, drainFor time.Duration) func(*testing.T, string, string) (*rig, tally, []*node) {
	return func(t *testing.T, bin, name string) (*rig, tally, []*node) {
		ctx := t.Context()
		r := newRig(t, name, bin, rigOptions{tokenLifetime: lifetime})
		n := r.node("lobby")
		n.start(ctx)
		tr := newTraffic("token", func() []*node { return []*node{n} })

		// The first email makes Lobby fetch its first token, after fetchedAfter.
		fetchedAfter := time.Now()
		if ok, err := tr.registerOne(ctx); !ok {
			t.Fatalf("first registration not accepted: %v", err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := r.emu.WaitForMessages(wctx, 1)
		cancel()
		if err != nil {
			t.Fatalf("first email: %v\n%s", err, n.logTail())
		}
		r.emu.SetTokenEndpointDown(true)
		downAt := time.Now()
		const settle = 2 * time.Second // an accepted registration's email takes less
		refreshBy := downAt.Add(lifetime / 2)
		// The endpoint comes back when Lobby stops handing the cached token
		// out: a token shorter than twice the refresh margin is refreshed
		// from half its life and used until a quarter of its life is left
		// (half the margin: time for a dial and an AUTH before it expires).
		// fetchedAfter is before the token was issued, so the token is still
		// handed out until upAt.
		upAt := fetchedAfter.Add(lifetime - lifetime/4)
		if !upAt.After(refreshBy.Add(2 * settle)) {
			t.Fatalf("the first email took %v: too slow to fit the refresh point into the token's life of %v",
				downAt.Sub(fetchedAfter), lifetime)
		}

		stop := trickle(ctx, tr, interval)
		pause(ctx, time.Until(upAt))
		r.emu.SetTokenEndpointDown(false)
		pause(ctx, 3*time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		ta := r.drain(ctx, tr, drainFor)

		accepted, _, _, _ := tr.snapshot()
		first := r.firstDeliveries()
		var window, flowed int
		var late []string
		for email, at := range accepted {
			if at.Before(refreshBy) || at.After(upAt.Add(-settle)) {
				continue
			}
			window++
			if got, ok := first[email]; ok && got.Before(upAt) {
				flowed++
			} else if len(late) < 3 {
				late = append(late, email)
			}
		}
		t.Logf("token endpoint down %v (token life %v, refresh point by +%v); accepted after the refresh point while down: %d, delivered while down: %d",
			upAt.Sub(downAt).Round(time.Second), lifetime, lifetime/2, window, flowed)
		if window == 0 {
			t.Errorf("no registration was accepted between the refresh point and the endpoint's return: nothing was tested")
		}
		if flowed < window {
			t.Errorf("mail stopped while the token endpoint was down although a valid token was cached: "+
				"%d of %d registrations accepted after the refresh point got their email only after the endpoint came back (e.g. %s)",
				window-flowed, window, strings.Join(late, ", "))
		}
		return r, ta, []*node{n}
	}
}
