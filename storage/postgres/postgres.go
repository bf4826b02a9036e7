package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lobbyhq/lobby/storage"
)

// Options configure the Postgres backend.
type Options struct {
	storage.Options

	// Schema, if set, is the only schema on the search_path of every pooled
	// connection (Open only): migrations create Lobby's tables there, and an
	// unqualified name outside it fails loudly. Open creates it if missing.
	Schema string
	// MaxConns caps the pool (Open only). Zero takes pool_max_conns from
	// the URL, or else DefaultMaxConns. Each leader lock held keeps one
	// connection for itself.
	MaxConns int32
}

// querier is what the pool and a transaction have in common: every query of
// the store goes through one, so a tx-bound Store runs inside the pgx.Tx.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store is the Postgres storage.Store. A Store made by Open or New is safe
// for concurrent use; the one WithTx hands to its function is bound to that
// transaction and lives only as long as it.
type Store struct {
	db     querier
	inTx   bool
	pool   *pgxpool.Pool
	sealer *storage.Sealer
	now    func() time.Time
	owned  bool // the pool was made by Open and is closed with the store
	state  *state
}

// state is shared by a Store and its tx-bound copies.
type state struct {
	mu     sync.Mutex
	closed bool
	slots  map[string]*leaderSlot // by lock name; guarded by mu

	// closing ends when Close starts: it cancels leader lock calls in
	// flight, so that a slow one does not hold Close up.
	closing context.Context
	stop    context.CancelFunc

	// acquire takes a connection for a leader lock: pool.Acquire, except
	// in tests that need it slow.
	acquire func(ctx context.Context) (*pgxpool.Conn, error)
}

var _ storage.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN), applies pending migrations and checks the secret key. A key that
// does not match the one the database was first opened with is
// storage.ErrWrongKey.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if err := validate(opts); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: bad database URL (expected postgres://user@host:5432/db?sslmode=...): %w", err)
	}
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(url, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s, err := start(ctx, pool, opts, true)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// New makes a Store on a pool the host brings (and keeps: Close leaves the
// pool open). It applies pending migrations in the pool's current schema
// and checks the secret key, as Open does; opts.Schema and opts.MaxConns are
// ignored, since the pool's configuration is the host's.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: new: pool is nil")
	}
	if err := validate(opts); err != nil {
		return nil, err
	}
	opts.Schema = ""
	return start(ctx, pool, opts, false)
}

func validate(opts Options) error {
	if opts.Sealer == nil {
		return errors.New("postgres: options: Sealer is required (build one with storage.NewSealer from the secret key)")
	}
	return nil
}

func start(ctx context.Context, pool *pgxpool.Pool, opts Options, owned bool) (*Store, error) {
	s := &Store{
		db:     guard(pool),
		pool:   pool,
		sealer: opts.Sealer,
		now:    opts.Clock(),
		owned:  owned,
		state:  newState(pool),
	}
	if err := pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("postgres: open: cannot reach the database (check the URL, that PostgreSQL is running and that it accepts this user): %w", err)
	}
	if err := s.migrate(ctx, opts.Schema, true); err != nil {
		return nil, err
	}
	return s, nil
}

// Backend returns "postgres".
func (s *Store) Backend() string { return "postgres" }

// Pool returns the connection pool, for hosts that share it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.db.Exec(ctx, "SELECT 1"); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close releases the leader locks and, when Open made the pool, closes it.
// Leader lock calls in flight are cancelled first, so a slow one does not
// hold Close up. On a tx-bound Store it does nothing and returns
// storage.ErrInTx.
func (s *Store) Close() error {
	if s.inTx {
		return fmt.Errorf("postgres: close: %w", storage.ErrInTx)
	}
	st := s.state
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil
	}
	st.closed = true
	slots := make([]*leaderSlot, 0, len(st.slots))
	for _, sl := range st.slots {
		slots = append(slots, sl)
	}
	st.mu.Unlock()
	st.stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, sl := range slots {
		if err := sl.lock(ctx); err != nil {
			continue // still busy after 5 s: its call ends it when it returns
		}
		if sl.held != nil {
			sl.held.release(ctx)
			sl.held = nil
		}
		sl.unlock()
	}
	if s.owned {
		s.pool.Close()
	}
	return nil
}

// WithTx runs fn in one transaction: it commits when fn returns nil and
// rolls back otherwise (also when fn panics). Inside, calling WithTx again
// runs in the same transaction.
func (s *Store) WithTx(ctx context.Context, fn func(tx storage.Store) error) error {
	if s.inTx {
		return fn(s)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", classify(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	txs := *s
	txs.db = guard(tx)
	txs.inTx = true
	if err := fn(&txs); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", classify(err))
	}
	return nil
}

// clock returns now, in microseconds and UTC as stored.
func (s *Store) clock() time.Time { return storage.Truncate(s.now()) }
