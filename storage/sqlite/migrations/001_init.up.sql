-- Lobby schema, version 1 (SQLite). Times are INTEGER unix microseconds, UTC;
-- an unset time is NULL. IDs are canonical UUID text. Secret columns are
-- sealed by the application (AES-256-GCM) and bound to their row by
-- associated data. Tables are STRICT so a wrongly typed value fails loudly.

-- meta holds the key check: a value sealed under the secret key at first
-- start, so that a wrong key fails at start-up.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE staff (
    id                  TEXT PRIMARY KEY,
    username            TEXT NOT NULL,
    email               TEXT NOT NULL DEFAULT '',
    display_name        TEXT NOT NULL DEFAULT '',
    role                TEXT NOT NULL CHECK (role IN ('sponsor', 'admin')),
    password_hash       TEXT NOT NULL DEFAULT '',
    password_changed_at INTEGER,
    disabled            INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at          INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX staff_username_key ON staff (lower(username));

CREATE TABLE guest_types (
    name                TEXT PRIMARY KEY,
    description         TEXT NOT NULL DEFAULT '',
    default_duration_ns INTEGER NOT NULL DEFAULT 0,
    max_duration_ns     INTEGER NOT NULL DEFAULT 0,
    require_approval    INTEGER NOT NULL DEFAULT 0 CHECK (require_approval IN (0, 1))
) STRICT;

CREATE TABLE guests (
    id                 TEXT PRIMARY KEY,
    username           TEXT NOT NULL,
    password           BLOB, -- sealed, associated data "guest:<id>:password"
    first_name         TEXT NOT NULL DEFAULT '',
    last_name          TEXT NOT NULL DEFAULT '',
    email              TEXT NOT NULL DEFAULT '', -- lower-case
    phone              TEXT NOT NULL DEFAULT '',
    company            TEXT NOT NULL DEFAULT '',
    person_visited     TEXT NOT NULL DEFAULT '',
    reason             TEXT NOT NULL DEFAULT '',
    sponsor_id         TEXT,
    guest_type         TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'expired', 'denied')),
    valid_from         INTEGER,
    valid_until        INTEGER,
    expiry_notified_at INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX guests_username_key ON guests (lower(username));
CREATE UNIQUE INDEX guests_email_key ON guests (lower(email)) WHERE email <> '';
CREATE INDEX guests_status_valid_until_idx ON guests (status, valid_until);
CREATE INDEX guests_created_at_id_idx ON guests (created_at, id);
CREATE INDEX guests_sponsor_idx ON guests (sponsor_id, created_at, id) WHERE sponsor_id IS NOT NULL;

-- settings keeps the current version of each document; secrets is the JSON
-- of the secret fields, sealed with associated data "setting:<key>".
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    version    INTEGER NOT NULL CHECK (version > 0),
    value      TEXT NOT NULL,
    secrets    BLOB,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
) STRICT;

-- outbox is the mail queue; payload is sealed with associated data "outbox:<id>".
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT,
    kind            TEXT NOT NULL DEFAULT '',
    recipient       TEXT NOT NULL DEFAULT '',
    subject         TEXT NOT NULL DEFAULT '',
    payload         BLOB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'deferred', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     INTEGER,
    last_error      TEXT NOT NULL DEFAULT '',
    diagnosis       TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX outbox_idempotency_key ON outbox (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX outbox_status_next_attempt_idx ON outbox (status, next_attempt_at);
-- The poller walks outbox_due_idx in lease order and stops after a batch.
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, created_at, id) WHERE status IN ('queued', 'deferred');
CREATE INDEX outbox_lease_until_idx ON outbox (lease_until) WHERE status = 'sending';
CREATE INDEX outbox_created_at_id_idx ON outbox (created_at, id);

CREATE TABLE alarms (
    id         TEXT PRIMARY KEY,
    key        TEXT NOT NULL,
    severity   TEXT NOT NULL DEFAULT '',
    title      TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '',
    count      INTEGER NOT NULL DEFAULT 1,
    raised_at  INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    cleared_at INTEGER
) STRICT;
CREATE UNIQUE INDEX alarms_active_key ON alarms (key) WHERE cleared_at IS NULL;

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL DEFAULT '',
    action  TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT ''
) STRICT;

-- leader is the SQLite stand-in for Postgres advisory locks: a lease row per
-- lock name, held by owner until the time in until.
CREATE TABLE leader (
    name  TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until INTEGER NOT NULL
) STRICT;
