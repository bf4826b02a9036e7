-- Alarms: a level (the step of an alarm that escalates, such as the days
-- left on the client secret), the level last emailed to the admins (so that
-- each level is emailed once, by whichever node raised it first), and who
-- acknowledged the alarm and when (it stays active, shown as seen, until a
-- new level or its clearing).
ALTER TABLE alarms ADD COLUMN level text NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN notified_level text; -- NULL: never emailed
ALTER TABLE alarms ADD COLUMN acknowledged_by text NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN acknowledged_at timestamptz;
-- The latest alarm of a key, active or cleared (AlarmStore.GetAlarm).
CREATE INDEX alarms_key_raised_idx ON alarms (key, raised_at);

-- The mail log (OutboxStore.ListMail) lists newest first by keyset on
-- (created_at, id); each filter has an index in that order, so that a page
-- reads about what it returns however many messages there are.
CREATE INDEX outbox_status_created_idx ON outbox (status, created_at, id);
CREATE INDEX outbox_kind_created_idx ON outbox (kind, created_at, id);
-- Dead letters, newest death first (the dead-letter alarm).
CREATE INDEX outbox_dead_idx ON outbox (updated_at) WHERE status = 'dead';

-- Recipient and subject search (MailFilter.Query, three characters or more)
-- by pg_trgm's GIN index (created by 006) on the folded text the query's
-- LIKE '%...%' reads; the operator class is named with the extension's
-- schema, as in 006.
DO $$
DECLARE
    ext_schema text;
BEGIN
    SELECT quote_ident(n.nspname) INTO ext_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    EXECUTE format('CREATE INDEX outbox_search_trgm_idx ON outbox USING gin ((lower(recipient) || %L || lower(subject)) %s.gin_trgm_ops)',
        E'\x1f', ext_schema);
END
$$;
