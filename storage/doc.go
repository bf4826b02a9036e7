// Package storage owns Lobby's persistent state: the Store interface that both
// backends implement, the records it reads and writes, its typed errors, the
// sealing of secret columns with AES-256-GCM, and the migration runner.
//
// The backends live in storage/postgres (pgx/v5) and storage/sqlite
// (modernc.org/sqlite, the embedded default). storage/storetest holds the
// conformance suite that both must pass.
//
// Storage knows nothing about HTTP or SMTP.
package storage
