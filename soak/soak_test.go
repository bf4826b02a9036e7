//go:build soak

package soak

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
)

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
		upAt := fetchedAfter.Add(lifetime - max(lifetime/5, 3*time.Second)) // before the token expires
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

		accepted, _, _ := tr.snapshot()
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

// waitAccepted waits until n registrations were accepted.
func (tr *traffic) waitAccepted(ctx context.Context, n int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for tr.acceptedCount() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d accepted registrations, have %d: %w", n, tr.acceptedCount(), ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// TestSoak is the whole fault suite (make soak). Its scenarios run side by
// side; the longest wait out the lease of the mail a killed process held
// (two minutes by default) before another process sends it.
func TestSoak(t *testing.T) {
	bin := lobbyBinary(t)
	runScenarios(t, bin, []scenario{
		{"SIGKILL mid-burst of 2000", sigkillBurst(2000, 1000, 5*time.Minute)},
		{"SMTP down 60s", smtpDown(60*time.Second, 50*time.Millisecond, 4*time.Minute)},
		{"token endpoint down across refresh (60s token)", tokenDown(60*time.Second, 100*time.Millisecond, 2*time.Minute)},
		{"database restart", dbRestart(10*time.Second, 50*time.Millisecond, 5*time.Minute)},
		{"two replicas, one killed", replicasKill(1000, 500, 5*time.Minute)},
	})
}

// sigkillBurst: count guests register as fast as 8 clients go; after
// killAt were accepted, the process gets SIGKILL (mail in flight, leases
// held, the HTTP server mid-request) and is started again at once. The
// burst goes on; every accepted registration's email must arrive, the ones
// the dead process held once their lease has run out.
func sigkillBurst(count, killAt int, drainFor time.Duration) func(*testing.T, string, string) (*rig, tally, []*node) {
	return func(t *testing.T, bin, name string) (*rig, tally, []*node) {
		ctx := t.Context()
		r := newRig(t, name, bin, rigOptions{})
		n := r.node("lobby")
		n.start(ctx)
		tr := newTraffic("kill", func() []*node { return []*node{n} })
		done := make(chan error, 1)
		go func() { done <- tr.run(ctx, load{count: count, workers: 8}) }()
		if err := tr.waitAccepted(ctx, killAt, 5*time.Minute); err != nil {
			t.Fatal(err)
		}
		n.kill()
		n.start(ctx)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return r, r.drain(ctx, tr, drainFor), []*node{n}
	}
}

// dbRestart: Lobby on a PostgreSQL cluster of the test's own, which is
// stopped for down (sessions ended, connections refused) and started again
// while guests keep registering.
func dbRestart(down, interval, drainFor time.Duration) func(*testing.T, string, string) (*rig, tally, []*node) {
	return func(t *testing.T, bin, name string) (*rig, tally, []*node) {
		ctx := t.Context()
		pg := startPGCluster(t)
		r := newRig(t, name, bin, rigOptions{dbURL: pg.URL()})
		n := r.node("lobby")
		n.start(ctx)
		tr := newTraffic("db", func() []*node { return []*node{n} })
		stop := trickle(ctx, tr, interval)
		pause(ctx, 10*time.Second)
		if err := pg.stop(); err != nil {
			t.Fatal(err)
		}
		pause(ctx, down)
		if err := pg.start(); err != nil {
			t.Fatal(err)
		}
		pause(ctx, 10*time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		return r, r.drain(ctx, tr, drainFor), []*node{n}
	}
}

// replicasKill: two lobby processes on one Postgres schema (the machine's
// test database, LOBBY_TEST_DATABASE_URL) share a burst of registrations;
// after killAt were accepted one of them gets SIGKILL and stays dead. The
// survivor takes the rest of the burst and, once their lease has run out,
// the dead one's unsent mail.
func replicasKill(count, killAt int, drainFor time.Duration) func(*testing.T, string, string) (*rig, tally, []*node) {
	return func(t *testing.T, bin, name string) (*rig, tally, []*node) {
		ctx := t.Context()
		dbURL, _ := pgtest.Schema(t)
		r := newRig(t, name, bin, rigOptions{dbURL: dbURL})
		a, b := r.node("lobby-a"), r.node("lobby-b")
		a.start(ctx)
		b.start(ctx)
		tr := newTraffic("replica", func() []*node {
			if b.running() {
				return []*node{a, b}
			}
			return []*node{a}
		})
		done := make(chan error, 1)
		go func() { done <- tr.run(ctx, load{count: count, workers: 8}) }()
		if err := tr.waitAccepted(ctx, killAt, 5*time.Minute); err != nil {
			t.Fatal(err)
		}
		b.kill()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return r, r.drain(ctx, tr, drainFor), []*node{a, b}
	}
}
