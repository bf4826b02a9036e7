package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"

	"github.com/lobbyhq/lobby/storage"
)

//go:embed migrations/*.up.sql
var migrationFiles embed.FS

// Advisory lock class ids ("Lobb" and "Lobl"): the first key of the two-key
// advisory locks the store takes, so they stay apart from other users of
// advisory locks in the same database. The second key is a hash of the
// schema (and, for leaders, of the lock name).
const (
	migrateLockClass int32 = 0x4c6f6262
	leaderLockClass  int32 = 0x4c6f626c
)

// Migrations returns the backend's embedded migrations in order, checked
// for gaps and duplicates. Their numbers and names match storage/sqlite's.
func Migrations() ([]storage.Migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	ms, err := storage.LoadMigrations(sub)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return ms, nil
}

// Migrate applies pending migrations. Open and New already do; it is here
// for `lobby migrate`. It is idempotent and safe to run from several
// processes at once.
func (s *Store) Migrate(ctx context.Context) error {
	return s.migrate(ctx, "", false)
}

// migrate applies pending migrations in one transaction that holds a
// transaction-scoped advisory lock for the schema, so concurrent starts
// queue up instead of racing. With keyCheck it also stores or verifies the
// secret key check, in the same transaction.
func (s *Store) migrate(ctx context.Context, schema string, keyCheck bool) error {
	if s.inTx {
		return errors.New("postgres: migrate: not inside a transaction")
	}
	ms, err := Migrations()
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit

	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(nullif($2, ''), current_schema(), '')))",
		migrateLockClass, schema); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	if schema != "" {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: migrate: create schema %s: %w", schema, err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL
	)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("postgres: migrate: read version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("postgres: migrate: the database is at schema version %d but this Lobby knows only %d; run a newer Lobby", current, len(ms))
	}
	for _, m := range ms[current:] {
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("postgres: migrate: %03d_%s: %w", m.Version, m.Name, err)
		}
		if err := afterMigration(ctx, tx, m.Version); err != nil {
			return fmt.Errorf("postgres: migrate: %03d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			m.Version, m.Name, s.clock()); err != nil {
			return fmt.Errorf("postgres: migrate: record %03d_%s: %w", m.Version, m.Name, err)
		}
	}
	if keyCheck {
		if err := s.checkKey(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: commit: %w", err)
	}
	return nil
}

// checkKey verifies the stored key check, or stores one on first start.
func (s *Store) checkKey(ctx context.Context, q querier) error {
	var check []byte
	err := q.QueryRow(ctx, "SELECT value FROM meta WHERE key = 'key_check'").Scan(&check)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := q.Exec(ctx, "INSERT INTO meta (key, value) VALUES ('key_check', $1)", s.sealer.KeyCheck()); err != nil {
			return fmt.Errorf("postgres: store key check: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("postgres: read key check: %w", err)
	}
	if err := s.sealer.VerifyKeyCheck(check); err != nil {
		return fmt.Errorf("postgres: open: %w", err)
	}
	return nil
}

// SchemaVersion returns the highest migration applied, 0 on an empty schema.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var exists bool
	if err := s.db.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := s.db.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}
