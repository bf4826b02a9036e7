package postgres

import (
	"context"
	"fmt"
	"runtime"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lobbyhq/lobby/storage"
)

// DefaultMaxConns is the pool size Open uses when neither Options.MaxConns
// nor the URL's pool_max_conns sets one: page requests hold a connection
// for a few short queries each, and 64 of them at once must not queue
// behind pgxpool's default of max(4, CPUs), one of which a leader lock keeps.
func DefaultMaxConns() int32 {
	return int32(max(16, 4*runtime.GOMAXPROCS(0)))
}

// DeliveryStore returns a Store for mail delivery on a pool of its own
// (conns connections, at least 1, configured as s's pool), so that
// delivery never waits behind page requests for a connection, nor they
// behind it. Mail workers hold a connection only for their short outbox
// writes, never while they talk to the SMTP server, so a few connections
// serve many workers.
// Its Close closes that pool. The database is s's, migrated already; the
// pool connects on first use.
func (s *Store) DeliveryStore(ctx context.Context, conns int) (storage.Store, error) {
	if s.inTx {
		return nil, fmt.Errorf("postgres: delivery store: %w", storage.ErrInTx)
	}
	cfg := s.pool.Config() // a copy
	cfg.MaxConns = int32(max(conns, 1))
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: delivery store: %w", err)
	}
	return &Store{
		db:     guard(pool),
		pool:   pool,
		sealer: s.sealer,
		now:    s.now,
		owned:  true,
		state:  newState(pool),
	}, nil
}
