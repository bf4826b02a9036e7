//go:build soak

package soak

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage/postgres/pgtest"
)

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
		ta := r.drain(ctx, tr, drainFor)
		checkOutageAnswers(t, ta)
		return r, ta, []*node{n}
	}
}

// checkOutageAnswers fails t unless the registrations refused while the
// database was down were answered 503 with Retry-After ("briefly
// unavailable, try again"), never 500, and at least one was.
func checkOutageAnswers(t *testing.T, ta tally) {
	t.Helper()
	if n := ta.refused[http.StatusInternalServerError]; n > 0 {
		t.Errorf("%d registrations answered 500 while the database was down; want 503 (all refusals: %v)", n, ta.refused)
	}
	if ta.Unavailable == 0 {
		t.Errorf("no registration answered 503 while the database was down (refusals: %v, unanswered %d)", ta.refused, ta.Unanswered)
	}
	if ta.noRetry > 0 {
		t.Errorf("%d of the 503 answers carried no Retry-After", ta.noRetry)
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
