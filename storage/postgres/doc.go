// Package postgres is the PostgreSQL backend of storage.Store, built on
// pgx/v5 and pgxpool.
//
// It owns the Postgres schema (the embedded migrations in migrations/, with
// the same numbering as the SQLite backend), applies it at Open under a
// transaction-scoped advisory lock so that several nodes may start at once,
// leases outbox rows with FOR UPDATE SKIP LOCKED, and elects a leader with a
// session advisory lock held on a dedicated pooled connection, whose short
// TCP keepalives let the server end a vanished leader's session (and lock)
// within about a minute.
//
// Tests in any package get a fresh, isolated schema on the database named by
// LOBBY_TEST_DATABASE_URL from storage/postgres/pgtest.
package postgres
