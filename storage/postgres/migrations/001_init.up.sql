-- Lobby schema, version 1. Times are timestamptz (microseconds, UTC on the
-- way out); an unset time is NULL. Secret columns are sealed by the
-- application (AES-256-GCM) and bound to their row by associated data.

-- meta holds the key check: a value sealed under the secret key at first
-- start, so that a wrong key fails at start-up.
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE staff (
    id                  uuid PRIMARY KEY,
    username            text NOT NULL,
    email               text NOT NULL DEFAULT '',
    display_name        text NOT NULL DEFAULT '',
    role                text NOT NULL CHECK (role IN ('sponsor', 'admin')),
    password_hash       text NOT NULL DEFAULT '',
    password_changed_at timestamptz,
    disabled            boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX staff_username_key ON staff (lower(username));

CREATE TABLE guest_types (
    name                text PRIMARY KEY,
    description         text NOT NULL DEFAULT '',
    default_duration_ns bigint NOT NULL DEFAULT 0,
    max_duration_ns     bigint NOT NULL DEFAULT 0,
    require_approval    boolean NOT NULL DEFAULT false
);

CREATE TABLE guests (
    id                 uuid PRIMARY KEY,
    username           text NOT NULL,
    password           bytea, -- sealed, associated data "guest:<id>:password"
    first_name         text NOT NULL DEFAULT '',
    last_name          text NOT NULL DEFAULT '',
    email              text NOT NULL DEFAULT '',
    phone              text NOT NULL DEFAULT '',
    company            text NOT NULL DEFAULT '',
    person_visited     text NOT NULL DEFAULT '',
    reason             text NOT NULL DEFAULT '',
    sponsor_id         uuid,
    guest_type         text NOT NULL DEFAULT '',
    status             text NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'expired', 'denied')),
    valid_from         timestamptz,
    valid_until        timestamptz,
    expiry_notified_at timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE UNIQUE INDEX guests_username_key ON guests (lower(username));
CREATE UNIQUE INDEX guests_email_key ON guests (lower(email)) WHERE email <> '';
CREATE INDEX guests_status_valid_until_idx ON guests (status, valid_until);
CREATE INDEX guests_created_at_id_idx ON guests (created_at DESC, id DESC);
CREATE INDEX guests_sponsor_idx ON guests (sponsor_id, created_at DESC, id DESC) WHERE sponsor_id IS NOT NULL;

-- settings keeps the current version of each document; secrets is the JSON
-- of the secret fields, sealed with associated data "setting:<key>".
CREATE TABLE settings (
    key        text PRIMARY KEY,
    version    bigint NOT NULL CHECK (version > 0),
    value      jsonb NOT NULL,
    secrets    bytea,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL DEFAULT ''
);

-- outbox is the mail queue; payload is sealed with associated data "outbox:<id>".
CREATE TABLE outbox (
    id              uuid PRIMARY KEY,
    idempotency_key text,
    kind            text NOT NULL DEFAULT '',
    recipient       text NOT NULL DEFAULT '',
    subject         text NOT NULL DEFAULT '',
    payload         bytea NOT NULL,
    status          text NOT NULL CHECK (status IN ('queued', 'sending', 'deferred', 'sent', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_owner     text NOT NULL DEFAULT '',
    lease_until     timestamptz,
    last_error      text NOT NULL DEFAULT '',
    diagnosis       text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX outbox_idempotency_key ON outbox (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX outbox_status_next_attempt_idx ON outbox (status, next_attempt_at);
CREATE INDEX outbox_lease_until_idx ON outbox (lease_until) WHERE status = 'sending';
CREATE INDEX outbox_created_at_id_idx ON outbox (created_at DESC, id DESC);

CREATE TABLE alarms (
    id         uuid PRIMARY KEY,
    key        text NOT NULL,
    severity   text NOT NULL DEFAULT '',
    title      text NOT NULL DEFAULT '',
    detail     text NOT NULL DEFAULT '',
    count      integer NOT NULL DEFAULT 1,
    raised_at  timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    cleared_at timestamptz
);
CREATE UNIQUE INDEX alarms_active_key ON alarms (key) WHERE cleared_at IS NULL;

CREATE TABLE audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text NOT NULL DEFAULT '',
    action  text NOT NULL DEFAULT '',
    subject text NOT NULL DEFAULT '',
    detail  text NOT NULL DEFAULT ''
);
