package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitQueued waits until n callers wait for a turn.
func waitQueued(t *testing.T, tu *turns, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tu.mu.Lock()
		got := len(tu.urgent) + len(tu.rest)
		tu.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers waiting for a turn, want %d", got, n)
		}
		time.Sleep(time.Millisecond) // polling a condition, with a deadline
	}
}

// TestTurnsOrder: urgent callers go before ordinary ones that came
// earlier; each kind goes in arrival order.
func TestTurnsOrder(t *testing.T) {
	t.Parallel()
	tu := &turns{}
	ctx := t.Context()
	if err := tu.take(ctx, false); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	for i, c := range []struct {
		name   string
		urgent bool
	}{{"page 1", false}, {"page 2", false}, {"mail 1", true}, {"mail 2", true}} {
		go func() {
			if err := tu.take(ctx, c.urgent); err != nil {
				t.Error(err)
				return
			}
			got <- c.name
			tu.give()
		}()
		waitQueued(t, tu, i+1)
	}
	tu.give()
	want := []string{"mail 1", "mail 2", "page 1", "page 2"}
	for _, w := range want {
		if g := <-got; g != w {
			t.Fatalf("turn went to %q, want %q (order %v)", g, w, want)
		}
	}
	tu.mu.Lock()
	defer tu.mu.Unlock()
	if tu.busy {
		t.Error("the turn is still taken after everyone gave it back")
	}
}

// TestTurnsCancel: a caller whose context ends stops waiting and leaves
// the queue; the turn then goes on as if it had never come.
func TestTurnsCancel(t *testing.T) {
	t.Parallel()
	tu := &turns{}
	if err := tu.take(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- tu.take(ctx, true) }()
	waitQueued(t, tu, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("take with a cancelled context: %v, want context.Canceled", err)
	}
	waitQueued(t, tu, 0)
	tu.give()
	if err := tu.take(t.Context(), false); err != nil {
		t.Fatalf("the turn was not free after the cancelled caller left: %v", err)
	}
}
