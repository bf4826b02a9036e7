-- The lifecycle jobs walk these indexes by keyset on (key, id), each filter
-- of a job in the index or its predicate, so that a page reads what it
-- returns and a run with nothing due reads next to nothing, however many
-- guests and messages there are.
--
-- Expiring (by status) and purging expired guests: (status, valid_until, id)
-- replaces (status, valid_until), which could not give (valid_until, id)
-- order.
DROP INDEX guests_status_valid_until_idx;
CREATE INDEX guests_status_valid_until_id_idx ON guests (status, valid_until, id);
-- Expiry notices: active guests not told yet, by valid_until; valid_from is
-- carried along so that "validity longer than the notice" is checked in the
-- index.
CREATE INDEX guests_expiry_notice_idx ON guests (valid_until, id) INCLUDE (valid_from)
    WHERE status = 'active' AND expiry_notified_at IS NULL;
-- Purging denied guests: by the time of the denial (their last change).
CREATE INDEX guests_denied_idx ON guests (updated_at, id) WHERE status = 'denied';
-- Purging mail: sent and dead messages by their last change.
CREATE INDEX outbox_purge_idx ON outbox (updated_at, id) WHERE status IN ('sent', 'dead');
