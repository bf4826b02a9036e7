package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxStmts caps each statement cache. The queries are built from a fixed set
// of shapes, but the filters of the list queries combine freely.
const maxStmts = 256

// stmtCache runs queries on a *sql.DB through statements prepared once:
// parsing dominates the cost of SQLite's small statements. It is a querier.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// stmt returns the prepared statement for query, or nil when the cache is
// full. It holds no lock while preparing: preparing waits for a connection.
func (c *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= maxStmts
	c.mu.Unlock()
	if ok || full {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok {
		_ = st.Close()
		return old, nil
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	if err != nil || st == nil {
		return c.db.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil || st == nil {
		return c.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, query)
	if err != nil || st == nil {
		return c.db.QueryRowContext(ctx, query, args...) // reports the error, if it persists
	}
	return st.QueryRowContext(ctx, args...)
}

// Close closes the cached statements.
func (c *stmtCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// detach returns ctx without its cancellation, unless it is already done
// (the statement then fails at once with ctx's error). Both database/sql and
// the driver start a goroutine per statement to watch a context that can
// be cancelled, which costs more than a point lookup or an insert itself,
// and such statements finish in microseconds anyway: they run detached, and
// a transaction stops at its next statement once ctx is done.
func detach(ctx context.Context) context.Context {
	if ctx.Done() == nil || ctx.Err() != nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// txQuerier runs queries in a transaction, through the writer's prepared
// statements where it has them, and otherwise through statements prepared
// for this transaction (a loop of inserts parses its statement once). It
// remembers those (fresh) so that WithTx prepares them on the writer once
// the transaction is over: the next transactions do not parse them again.
type txQuerier struct {
	tx     *sql.Tx
	writer *stmtCache
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	fresh  []string
}

// promote prepares the statements this transaction had to prepare for
// itself on the writer's cache. Call it when the transaction is over and
// the caller still has the writer's turn: preparing takes the connection.
func (q *txQuerier) promote(ctx context.Context) {
	q.mu.Lock()
	fresh := q.fresh
	q.fresh = nil
	q.mu.Unlock()
	for _, query := range fresh {
		if _, err := q.writer.stmt(ctx, query); err != nil {
			return // they stay per transaction; nothing is lost
		}
	}
}

func (q *txQuerier) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if st, ok := q.m[query]; ok {
		return st, nil
	}
	if len(q.m) >= maxStmts {
		return nil, nil
	}
	var st *sql.Stmt
	if shared := q.writer.lookup(query); shared != nil {
		st = q.tx.StmtContext(ctx, shared)
	} else {
		var err error
		if st, err = q.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		q.fresh = append(q.fresh, query)
	}
	q.m[query] = st
	return st, nil
}

func (q *txQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = detach(ctx)
	st, err := q.stmt(ctx, query)
	if err != nil || st == nil {
		return q.tx.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (q *txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = detach(ctx)
	st, err := q.stmt(ctx, query)
	if err != nil || st == nil {
		return q.tx.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (q *txQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = detach(ctx)
	st, err := q.stmt(ctx, query)
	if err != nil || st == nil {
		return q.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
