// Package sqlite is Lobby's embedded storage backend: storage.Store on one
// SQLite file through modernc.org/sqlite (pure Go, no cgo).
//
// A Store keeps one writer connection, used for every write and every
// transaction (BEGIN IMMEDIATE), and a separate pool of read-only connections
// for plain reads. The file runs in WAL mode with synchronous=NORMAL, a 10 s
// busy timeout and foreign keys on, so several processes may share it: their
// writers queue on SQLite's lock while readers never wait.
//
// Open applies the embedded migrations (migrations/NNN_name.up.sql, the same
// numbering as storage/postgres) in one immediate transaction and checks the
// secret key against the one the database was first sealed with.
//
// Times are stored as INTEGER unix microseconds in UTC, IDs as canonical UUID
// text; secret columns (guest passwords, settings secrets, outbox payloads)
// are sealed with storage.Sealer and bound to their row.
//
// Inside WithTx use only the Store handed to fn: the writer has a single
// connection, so writing through the outer Store there waits for the
// transaction to end (until ctx gives up).
package sqlite
