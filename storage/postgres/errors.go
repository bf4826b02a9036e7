package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

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
	if unavailable(err) {
		return fmt.Errorf("postgres: %s: %w", op, storage.Unavailable(err))
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

// unavailable reports whether err means the database is out of reach for
// now: what storage.IsUnavailable recognises, and what pgx says of a lost
// server: a closed pool, a connection that failed to open, was closed or
// ended mid-answer, or a timeout.
func unavailable(err error) bool {
	if storage.IsUnavailable(err) {
		return true
	}
	var connectErr *pgconn.ConnectError
	return errors.Is(err, puddle.ErrClosedPool) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.As(err, &connectErr) || pgconn.Timeout(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// classify marks err with storage.ErrUnavailable when it means the
// database is out of reach (see unavailable); other errors pass unchanged.
func classify(err error) error {
	if err != nil && unavailable(err) {
		return storage.Unavailable(err)
	}
	return err
}

// guarded is a querier whose errors are classified: every query of the
// store goes through one, so that a caller can tell "the database is down,
// try again shortly" (storage.IsUnavailable) from a fault.
type guarded struct{ q querier }

func guard(q querier) querier { return guarded{q} }

func (g guarded) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := g.q.Exec(ctx, sql, args...)
	return tag, classify(err)
}

func (g guarded) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := g.q.Query(ctx, sql, args...)
	if err != nil {
		return rows, classify(err)
	}
	return guardedRows{rows}, nil
}

func (g guarded) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return guardedRow{g.q.QueryRow(ctx, sql, args...)}
}

type guardedRows struct{ pgx.Rows }

func (r guardedRows) Err() error { return classify(r.Rows.Err()) }

func (r guardedRows) Scan(dest ...any) error { return classify(r.Rows.Scan(dest...)) }

type guardedRow struct{ row pgx.Row }

func (r guardedRow) Scan(dest ...any) error { return classify(r.row.Scan(dest...)) }
