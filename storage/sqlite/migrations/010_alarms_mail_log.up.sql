-- Alarms: a level (the step of an alarm that escalates, such as the days
-- left on the client secret), the level last emailed to the admins (so that
-- each level is emailed once, by whichever node raised it first), and who
-- acknowledged the alarm and when (it stays active, shown as seen, until a
-- new level or its clearing).
ALTER TABLE alarms ADD COLUMN level TEXT NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN notified_level TEXT; -- NULL: never emailed
ALTER TABLE alarms ADD COLUMN acknowledged_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN acknowledged_at INTEGER;
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
-- by an FTS5 trigram table over the outbox (external content: the text
-- stays in outbox alone), kept in step by the triggers below. Recipient and
-- subject never change after the insert. Its rows are the outbox rowids,
-- which VACUUM may renumber: the search checks every hit against the row.
CREATE VIRTUAL TABLE mail_search USING fts5(
    recipient,
    subject,
    content = 'outbox',
    content_rowid = 'rowid',
    tokenize = 'trigram'
);
CREATE TRIGGER outbox_search_insert AFTER INSERT ON outbox BEGIN
    INSERT INTO mail_search (rowid, recipient, subject) VALUES (new.rowid, new.recipient, new.subject);
END;
CREATE TRIGGER outbox_search_delete AFTER DELETE ON outbox BEGIN
    INSERT INTO mail_search (mail_search, rowid, recipient, subject) VALUES ('delete', old.rowid, old.recipient, old.subject);
END;
CREATE TRIGGER outbox_search_update AFTER UPDATE OF recipient, subject ON outbox BEGIN
    INSERT INTO mail_search (mail_search, rowid, recipient, subject) VALUES ('delete', old.rowid, old.recipient, old.subject);
    INSERT INTO mail_search (rowid, recipient, subject) VALUES (new.rowid, new.recipient, new.subject);
END;
INSERT INTO mail_search (mail_search) VALUES ('rebuild');
