package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/lobbyhq/lobby/storage"
)

//go:embed migrations/*.up.sql
var migrationFS embed.FS

// Migrations returns the backend's embedded migrations in order, checked
// for gaps and duplicates. Their numbers and names match storage/postgres's.
func Migrations() ([]storage.Migration, error) {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	ms, err := storage.LoadMigrations(sub)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return ms, nil
}

// Migrate applies pending migrations. Open already does; Migrate is
// idempotent and safe while other processes use the database.
func (s *Store) Migrate(ctx context.Context) error {
	if s.tx != nil {
		return errors.New("sqlite: migrate: not inside a transaction")
	}
	ms, err := Migrations()
	if err != nil {
		return err
	}
	if err := s.migrate(ctx, ms); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", s.path, err)
	}
	return nil
}

// SchemaVersion is the latest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.reader().QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

// migrate applies the pending migrations and checks (or, on a new database,
// stores) the key check, all in one immediate transaction: a second process
// opening the same file waits for the first and then finds nothing to do.
func (s *Store) migrate(ctx context.Context, ms []storage.Migration) error {
	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: _txlock=immediate
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("the database is at schema version %d but this Lobby knows only up to %d; run a newer Lobby", current, len(ms))
	}
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %03d_%s: %w", m.Version, m.Name, err)
		}
		if err := afterMigration(ctx, tx, m.Version); err != nil {
			return fmt.Errorf("migration %03d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.Version, m.Name, micros(s.now())); err != nil {
			return fmt.Errorf("migration %03d_%s: record: %w", m.Version, m.Name, err)
		}
	}
	if err := s.checkKey(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// checkKey verifies the stored key check, or stores one on a new database.
func (s *Store) checkKey(ctx context.Context, q querier) error {
	var check []byte
	err := q.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'key_check'").Scan(&check)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := q.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('key_check', ?)", s.sealer.KeyCheck()); err != nil {
			return fmt.Errorf("store key check: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read key check: %w", err)
	}
	if err := s.sealer.VerifyKeyCheck(check); err != nil {
		return err
	}
	return nil
}
