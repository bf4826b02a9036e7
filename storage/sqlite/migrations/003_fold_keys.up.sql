-- Usernames and guest email addresses are unique as storage.FoldKey folds
-- them (trimmed, Unicode lower case, NFC), computed in Go on every write and
-- lookup: SQLite's lower() folds ASCII only, so "Émile" and "émile" were two
-- users. username_key holds the folded username; the username column keeps
-- it as typed. Guest emails are stored folded.
--
-- The backfill below is lower(), the function of the old indexes, so it
-- keeps them unique; after this file the migration runner refolds in Go the
-- rows whose key lower() got wrong, and names any two that turn out to be
-- one. (A STRICT table cannot add a NOT NULL column without a default;
-- every insert sets it.)
ALTER TABLE guests ADD COLUMN username_key TEXT NOT NULL DEFAULT '';
ALTER TABLE staff ADD COLUMN username_key TEXT NOT NULL DEFAULT '';
UPDATE guests SET username_key = lower(username);
UPDATE staff SET username_key = lower(username);

DROP INDEX guests_username_key;
DROP INDEX guests_email_key;
DROP INDEX staff_username_key;
CREATE UNIQUE INDEX guests_username_key ON guests (username_key);
CREATE UNIQUE INDEX guests_email_key ON guests (email) WHERE email <> '';
CREATE UNIQUE INDEX staff_username_key ON staff (username_key);
