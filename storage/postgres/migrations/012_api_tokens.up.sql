-- Staff users' REST API tokens: only the SHA-256 hash of a token is kept.
-- A request finds its token by the hash (unique index); a staff user's
-- tokens go with them.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    staff_id     uuid NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    hash         bytea NOT NULL,
    hint         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz
);
CREATE UNIQUE INDEX api_tokens_hash_key ON api_tokens (hash);
CREATE INDEX api_tokens_staff_idx ON api_tokens (staff_id, created_at DESC);
