-- Every lease of an outbox message draws a fresh random token; settling the
-- message (sent, deferred, dead, released) requires the token of its current
-- lease, so a worker that stalled past its lease cannot settle a message
-- leased again meanwhile, even by the same owner. NULL when not leased.
ALTER TABLE outbox ADD COLUMN lease_token text;
