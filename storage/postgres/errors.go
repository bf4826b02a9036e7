package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lobbyhq/lobby/storage"
)

// SQLSTATE codes the store maps to storage errors.
const (
	uniqueViolation = "23505"
	checkViolation  = "23514"
)

// wrap prefixes err with the operation and maps what the database said to
// the storage errors callers test with errors.Is. Values never go into the
// message: only the names of the constraints.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, storage.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case uniqueViolation:
			return fmt.Errorf("postgres: %s: %s already taken: %w", op, pgErr.ConstraintName, storage.ErrConflict)
		case checkViolation:
			return fmt.Errorf("postgres: %s: value refused by %s: %w", op, pgErr.ConstraintName, err)
		}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
