package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/lobbyhq/lobby/storage"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// busyTimeout is how long a connection waits for another writer (in this or
// another process) before giving up with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store is storage.Store on a SQLite file. The Store that WithTx hands to its
// function is a *Store too, bound to the transaction.
type Store struct {
	path   string
	w      *sql.DB    // the single writer connection
	r      *sql.DB    // read-only pool
	ws, rs *stmtCache // prepared statements on w and r
	tx     *sql.Tx    // set on a transaction-bound Store
	txq    *txQuerier // queries in tx
	sealer *storage.Sealer
	clock  func() time.Time
	held   *heldLocks
	turns  *turns // shared by a Store and its copies
	urgent bool   // writes go before ordinary ones (DeliveryStore)
	view   bool   // a DeliveryStore: Close leaves the connections to its parent
}

// heldLocks remembers the leader locks this Store holds, to release them at Close.
type heldLocks struct {
	mu    sync.Mutex
	names map[[2]string]struct{} // {name, owner}
}

var _ storage.Store = (*Store)(nil)

// Open opens (creating it if needed) the SQLite database at path, applies the
// pending migrations and checks opts.Sealer's key against the database's.
// A database sealed under another key fails with storage.ErrWrongKey.
func Open(ctx context.Context, path string, opts storage.Options) (*Store, error) {
	if opts.Sealer == nil {
		return nil, errors.New("sqlite: open: Options.Sealer is required (make one with storage.NewSealer)")
	}
	if path == "" || strings.ContainsRune(path, '?') || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open: %q is not a usable database path; give a plain file path such as data/lobby.db", path)
	}
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	s := &Store{
		path:   path,
		sealer: opts.Sealer,
		clock:  opts.Clock(),
		held:   &heldLocks{names: map[[2]string]struct{}{}},
		turns:  &turns{},
	}
	bt := fmt.Sprint(busyTimeout.Milliseconds())
	s.w, err = sql.Open("sqlite", path+"?_txlock=immediate&_busy_timeout="+bt+
		"&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	s.ws = newStmtCache(s.w)
	if err := s.migrateRetryingBusy(ctx, ms); err != nil {
		s.w.Close()
		if cantOpen(err) {
			return nil, fmt.Errorf("sqlite: open %s: %w; check that its directory exists and that Lobby may write there", path, err)
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Statistics for the query planner: analyzes the tables that have none
	// or whose size changed much since (a bounded sample, so quick on a
	// large file). Best effort: a database busy with another process's
	// writes gets its turn at the next Optimize.
	if _, err := s.w.ExecContext(ctx, "PRAGMA optimize=0x10002"); err != nil && !busy(err) {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: optimize: %w", path, err)
	}
	s.r, err = sql.Open("sqlite", path+"?_busy_timeout="+bt+"&_foreign_keys=1&_query_only=1")
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	s.rs = newStmtCache(s.r)
	if err := s.r.PingContext(ctx); err != nil {
		s.r.Close()
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// createPrivate creates the database file at path, empty and readable by
// its owner only (0600), when there is none: SQLite would create it 0644,
// and its -wal and -shm files take the database file's mode. An existing
// file keeps the mode it has.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("sqlite: open %s: %w; check that its directory exists and that Lobby may write there", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	return nil
}

// migrateRetryingBusy migrates, retrying while the database is busy in the
// ways the busy timeout does not cover (several processes opening a new
// file at once race to switch it to WAL), for at most busyTimeout.
func (s *Store) migrateRetryingBusy(ctx context.Context, ms []storage.Migration) error {
	deadline := time.Now().Add(busyTimeout)
	pause := 5 * time.Millisecond
	for {
		err := s.migrate(ctx, ms)
		if err == nil || !busy(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// Backend reports "sqlite".
func (s *Store) Backend() string { return "sqlite" }

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Ping checks that both the writer and the read pool answer.
func (s *Store) Ping(ctx context.Context) error {
	if s.tx != nil {
		return s.tx.QueryRowContext(ctx, "SELECT 1").Scan(new(int))
	}
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close releases the leader locks this Store holds and closes its connections.
func (s *Store) Close() error {
	if s.tx != nil {
		return fmt.Errorf("sqlite: close: %w", storage.ErrInTx)
	}
	if s.view {
		return nil
	}
	s.held.mu.Lock()
	held := s.held.names
	s.held.names = map[[2]string]struct{}{}
	s.held.mu.Unlock()
	var errs []error
	if len(held) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
		for k := range held {
			if _, err := s.ws.ExecContext(ctx, "DELETE FROM leader WHERE name = ? AND owner = ?", k[0], k[1]); err != nil {
				errs = append(errs, fmt.Errorf("sqlite: close: release leader lock %s: %w", k[0], err))
			}
		}
		cancel()
	}
	if err := errors.Join(s.rs.Close(), s.ws.Close()); err != nil {
		errs = append(errs, fmt.Errorf("sqlite: close: %w", err))
	}
	if err := s.r.Close(); err != nil {
		errs = append(errs, fmt.Errorf("sqlite: close: %w", err))
	}
	if err := s.w.Close(); err != nil {
		errs = append(errs, fmt.Errorf("sqlite: close: %w", err))
	}
	return errors.Join(errs...)
}

// WithTx runs fn in one immediate transaction on the writer connection; the
// Store handed to fn reads and writes through it. On a transaction-bound
// Store, fn joins the running transaction. Once ctx is done the transaction
// fails at its next statement and rolls back; a statement under way
// finishes (see detach).
func (s *Store) WithTx(ctx context.Context, fn func(tx storage.Store) error) (err error) {
	if s.tx != nil {
		return fn(s)
	}
	if err := s.turns.take(ctx, s.urgent); err != nil {
		return fmt.Errorf("sqlite: begin: %w", classify(err))
	}
	defer s.turns.give()
	tx, err := s.w.BeginTx(detach(ctx), nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", classify(err))
	}
	ts := *s
	ts.tx = tx
	ts.txq = &txQuerier{tx: tx, writer: s.ws, m: map[string]*sql.Stmt{}}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(&ts); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("sqlite: rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", classify(err))
	}
	ts.txq.promote(context.WithoutCancel(ctx))
	return nil
}

// reader is where plain reads go: the transaction, or the read pool.
func (s *Store) reader() querier {
	if s.tx != nil {
		return s.txq
	}
	return s.rs
}

// writer is where writes go: the transaction, or the writer connection
// taken in turns. Every write is one statement, atomic on its own.
func (s *Store) writer() querier {
	if s.tx != nil {
		return s.txq
	}
	return turnWriter{q: s.ws, turns: s.turns, urgent: s.urgent}
}

// now is the clock, truncated to what the database keeps.
func (s *Store) now() time.Time { return storage.Truncate(s.clock()) }
