package exchangetest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

func TestWaitForMessages(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv

	type result struct {
		msgs []exchangetest.Message
		err  error
	}
	done := make(chan result, 1)
	go func() {
		msgs, err := srv.WaitForMessages(ctx(t), 2)
		done <- result{msgs, err}
	}()

	c := ready(t, srv)
	for _, s := range []string{"first", "second"} {
		want(t, c.send(srv.Mailbox(), []string{"guest@example.org"}, message(srv.Mailbox(), "guest@example.org", s)), 250, "")
	}
	r := <-done
	if r.err != nil || len(r.msgs) != 2 || r.msgs[0].Subject != "first" || r.msgs[1].Subject != "second" {
		t.Fatalf("WaitForMessages = %d messages, %v", len(r.msgs), r.err)
	}

	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	msgs, err := srv.WaitForMessages(short, 3)
	if !errors.Is(err, context.DeadlineExceeded) || len(msgs) != 2 {
		t.Errorf("WaitForMessages(3) with 2 captured = %d messages, %v; want 2 and DeadlineExceeded", len(msgs), err)
	}

	srv.ResetMailbox()
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages after ResetMailbox", n)
	}
	if msgs, err := srv.WaitForMessages(short, 0); err != nil || len(msgs) != 0 {
		t.Errorf("WaitForMessages(0) = %d, %v", len(msgs), err)
	}
}

// TestManyClients: 8 workers send 1,000 messages, each over one connection with RSET
// between messages, as the notify pool does.
func TestManyClients(t *testing.T) {
	t.Parallel()
	const workers, total = 8, 1000
	srv := setup(t).srv
	tok := token(t, srv)

	start := time.Now()
	t.Run("workers", func(t *testing.T) {
		for w := range workers {
			t.Run(fmt.Sprint(w), func(t *testing.T) {
				t.Parallel()
				c := dialSMTP(t, srv)
				want(t, c.cmd("EHLO worker%d.lobby.test", w), 250, "")
				c.startTLS(srv)
				want(t, c.auth(srv.Mailbox(), tok), 235, "")
				for i := range total / workers {
					to := fmt.Sprintf("guest-%d-%d@example.org", w, i)
					want(t, c.send(srv.Mailbox(), []string{to}, message(srv.Mailbox(), to, to)), 250, "")
					want(t, c.cmd("RSET"), 250, "")
				}
				want(t, c.cmd("QUIT"), 221, "")
			})
		}
	})
	msgs, err := srv.WaitForMessages(ctx(t), total)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages from %d workers in %v", len(msgs), workers, time.Since(start))

	seen := map[string]bool{}
	for _, m := range msgs {
		seen[m.To[0]] = true
	}
	if len(msgs) != total || len(seen) != total {
		t.Errorf("%d messages, %d distinct recipients, want %d", len(msgs), len(seen), total)
	}
	if srv.SMTPConnections() != workers || srv.AuthAttempts() != workers || srv.TokensIssued() != 1 {
		t.Errorf("SMTPConnections %d AuthAttempts %d TokensIssued %d, want %d %d 1",
			srv.SMTPConnections(), srv.AuthAttempts(), srv.TokensIssued(), workers, workers)
	}
}
