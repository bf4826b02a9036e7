package postgres

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestLeaderCallsDoNotWaitForEachOther: while one TryLeader is stuck taking
// a connection (an exhausted pool, a slow network), renewing another name,
// taking a third and closing the store all go ahead; Close cancels the
// stuck call and releases the locks held.
func TestLeaderCallsDoNotWaitForEachOther(t *testing.T) {
	t.Parallel()
	db := newInternalDB(t)
	s, other := db.open(t), db.open(t)
	ctx := t.Context()
	if ok, err := s.TryLeader(ctx, "held", "me", time.Minute); err != nil || !ok {
		t.Fatalf("TryLeader(held) = %v, %v", ok, err)
	}

	entered := make(chan struct{})
	var calls atomic.Int32
	real := s.state.acquire
	s.state.acquire = func(ctx context.Context) (*pgxpool.Conn, error) {
		if calls.Add(1) == 1 { // the first caller gets stuck until cancelled
			close(entered)
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return real(ctx)
	}
	stuck := make(chan error, 1)
	go func() {
		ok, err := s.TryLeader(ctx, "stuck", "me", time.Minute)
		if ok {
			err = errors.New("took the lock")
		}
		stuck <- err
	}()
	<-entered

	quick, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// promptly runs a call that must not wait for the stuck one.
	promptly := func(what string, call func() (bool, error)) {
		t.Helper()
		type result struct {
			ok  bool
			err error
		}
		done := make(chan result, 1)
		go func() {
			ok, err := call()
			done <- result{ok, err}
		}()
		select {
		case r := <-done:
			if r.err != nil || !r.ok {
				t.Fatalf("%s while another call is stuck = %v, %v; want true", what, r.ok, r.err)
			}
		case <-quick.Done():
			t.Fatalf("%s waited for the stuck call", what)
		}
	}
	promptly("renewing another name", func() (bool, error) { return s.TryLeader(quick, "held", "me", time.Minute) })
	promptly("taking a third name", func() (bool, error) { return s.TryLeader(quick, "third", "me", time.Minute) })
	if ok, err := other.TryLeader(quick, "held", "other", time.Minute); err != nil || ok {
		t.Fatalf("another store took a held lock: %v, %v", ok, err)
	}

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-quick.Done():
		t.Fatal("Close waited for the stuck call")
	}
	if err := <-stuck; err == nil {
		t.Fatal("the stuck call succeeded after Close")
	}
	for _, name := range []string{"held", "third"} {
		if ok, err := other.TryLeader(quick, name, "other", time.Minute); err != nil || !ok {
			t.Errorf("TryLeader(%s) on another store after Close = %v, %v; want the released lock", name, ok, err)
		}
	}
	if _, err := s.TryLeader(ctx, "held", "me", time.Minute); err == nil {
		t.Error("TryLeader on a closed store succeeded")
	}
}

// TestLeaderSessionKeepalives: the leader's session probes its peer
// every 30 s (3 probes, 10 s apart), and the connection goes back to the
// pool with the server's defaults.
func TestLeaderSessionKeepalives(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	ctx := t.Context()
	if ok, err := s.TryLeader(ctx, "jobs", "me", time.Minute); err != nil || !ok {
		t.Fatalf("TryLeader = %v, %v", ok, err)
	}
	sl, err := s.state.slot("jobs")
	if err != nil || sl.held == nil {
		t.Fatalf("no held lock: %v", err)
	}
	for setting, want := range map[string]string{"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"} {
		var got string
		if err := sl.held.conn.QueryRow(ctx, "SHOW "+setting).Scan(&got); err != nil || got != want {
			t.Errorf("leader session: %s = %q, %v; want %q", setting, got, err, want)
		}
	}
	if err := s.ReleaseLeader(ctx, "jobs", "me"); err != nil {
		t.Fatal(err)
	}
	// Every pooled connection, the leader's among them, has the defaults.
	var conns []*pgxpool.Conn
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range s.pool.Config().MaxConns {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var idle string
		if err := c.QueryRow(ctx, "SHOW tcp_keepalives_idle").Scan(&idle); err != nil || idle == "30" {
			t.Errorf("a pooled connection kept the leader's keepalives: %q, %v", idle, err)
		}
	}
}
