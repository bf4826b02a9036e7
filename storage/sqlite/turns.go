package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/lobbyhq/lobby/storage"
)

// turns orders the callers of the single writer connection: one at a time,
// first come first served, except that urgent callers (mail delivery, see
// DeliveryStore) go before every waiting ordinary one. Without it, the
// connection goes to a waiter picked at random (database/sql), so that 8
// mail workers among 64 page requests got about one write in nine and
// credential mail fell far behind registrations.
//
// It only orders: the connection itself still guards the database. A
// caller that gives its turn back while a row it read still holds the
// connection makes the next one wait for the connection a little.
type turns struct {
	mu           sync.Mutex
	busy         bool
	urgent, rest []chan struct{} // waiting, in arrival order
}

// take waits for a turn; the caller gives it back with give.
func (t *turns) take(ctx context.Context, urgent bool) error {
	t.mu.Lock()
	if !t.busy {
		t.busy = true
		t.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	if urgent {
		t.urgent = append(t.urgent, ch)
	} else {
		t.rest = append(t.rest, ch)
	}
	t.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		t.mu.Lock()
		if removed := remove(&t.urgent, ch) || remove(&t.rest, ch); removed {
			t.mu.Unlock()
			return ctx.Err()
		}
		t.mu.Unlock()
		// The turn was handed over as ctx ended: pass it on.
		t.give()
		return ctx.Err()
	}
}

// give hands the turn to the first urgent waiter, else to the first other
// waiter, else frees it.
func (t *turns) give() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, q := range []*[]chan struct{}{&t.urgent, &t.rest} {
		if len(*q) > 0 {
			ch := (*q)[0]
			(*q)[0] = nil
			*q = (*q)[1:]
			close(ch)
			return
		}
	}
	t.busy = false
}

func remove(q *[]chan struct{}, ch chan struct{}) bool {
	for i, c := range *q {
		if c == ch {
			*q = append((*q)[:i], (*q)[i+1:]...)
			return true
		}
	}
	return false
}

// turnWriter is the writer connection's statement cache taken in turns:
// each statement waits for a turn and gives it back when it returns.
type turnWriter struct {
	q      querier
	turns  *turns
	urgent bool
}

func (w turnWriter) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := w.turns.take(ctx, w.urgent); err != nil {
		return nil, err
	}
	defer w.turns.give()
	res, err := w.q.ExecContext(ctx, query, args...)
	return res, classify(err)
}

func (w turnWriter) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := w.turns.take(ctx, w.urgent); err != nil {
		return nil, err
	}
	defer w.turns.give()
	rows, err := w.q.QueryContext(ctx, query, args...)
	return rows, classify(err)
}

func (w turnWriter) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := w.turns.take(ctx, w.urgent); err != nil {
		return w.q.QueryRowContext(ctx, query, args...) // reports ctx's error
	}
	defer w.turns.give()
	return w.q.QueryRowContext(ctx, query, args...)
}

// DeliveryStore returns the Store for mail delivery: the same database and
// connections as s, but its writes (leasing a message, recording that it
// was sent) go before the writes of everything else waiting for the single
// writer connection, so that delivery keeps pace with registrations under
// a rush however many page requests wait. Its Close does nothing: s owns
// the connections. The number of connections asked for is not used: SQLite
// has one writer.
func (s *Store) DeliveryStore(context.Context, int) (storage.Store, error) {
	if s.tx != nil {
		return nil, fmt.Errorf("sqlite: delivery store: %w", storage.ErrInTx)
	}
	d := *s
	d.urgent, d.view = true, true
	return &d, nil
}
