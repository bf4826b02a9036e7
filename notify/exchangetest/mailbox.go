package exchangetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Message is one message the emulator accepted. Treat it as read-only.
type Message struct {
	ID         string
	From       string   // MAIL FROM
	To         []string // RCPT TO
	Data       []byte   // the raw RFC 5322 message
	Subject    string   // decoded Subject header
	ReceivedAt time.Time
	AuthUser   string // the XOAUTH2 user= value
}

// inbox is the captured mailbox. changed is closed (and replaced) on every change, so
// waiters wake without polling.
type inbox struct {
	mu      sync.Mutex
	msgs    []Message
	changed chan struct{}
}

func newInbox() *inbox { return &inbox{changed: make(chan struct{})} }

func (b *inbox) add(m Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, m)
	close(b.changed)
	b.changed = make(chan struct{})
}

// state returns a copy of the messages once there are at least n, or else the count and
// the channel that signals the next change.
func (b *inbox) state(n int) (msgs []Message, have int, changed <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.msgs) >= n {
		return slices.Clone(b.msgs), len(b.msgs), nil
	}
	return nil, len(b.msgs), b.changed
}

// Messages returns the messages accepted since Start or the last ResetMailbox, oldest first.
func (s *Server) Messages() []Message {
	msgs, _, _ := s.inbox.state(0)
	return msgs
}

// WaitForMessages returns the captured messages once there are at least n, or an error
// that wraps ctx.Err() when ctx ends first.
func (s *Server) WaitForMessages(ctx context.Context, n int) ([]Message, error) {
	for {
		msgs, have, changed := s.inbox.state(n)
		if changed == nil {
			return msgs, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return s.Messages(), fmt.Errorf("exchangetest: waiting for %d messages, have %d: %w", n, have, ctx.Err())
		}
	}
}

// ResetMailbox forgets every captured message.
func (s *Server) ResetMailbox() {
	b := s.inbox
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = nil
	close(b.changed)
	b.changed = make(chan struct{})
}
