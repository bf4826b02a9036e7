-- Guest search (GuestFilter.Query) by a full-text index instead of a scan
-- of every guest. search_key is storage.SearchKey: the username, email,
-- full name, last name, company and phone, each folded in Go (Unicode case,
-- NFC; lower() folds ASCII only) and preceded by a separator, so that both
-- backends match alike; the runner fills it for the guests from before this
-- file.
--
-- guest_search is an FTS5 table with the trigram tokenizer over search_key
-- (external content: the text stays in guests alone), kept in step by the
-- triggers below. A query of three characters or more asks for its
-- trigrams, one or two characters for the separator and the query (the
-- start of a field): trigrams too. Its rows are the guests' rowids, which VACUUM may
-- renumber (guests has no INTEGER PRIMARY KEY): the search checks every hit
-- against guests.search_key, and the index is rebuilt with
-- INSERT INTO guest_search(guest_search) VALUES ('rebuild').
ALTER TABLE guests ADD COLUMN search_key TEXT NOT NULL DEFAULT '';

CREATE VIRTUAL TABLE guest_search USING fts5(
    search_key,
    content = 'guests',
    content_rowid = 'rowid',
    tokenize = 'trigram case_sensitive 1'
);

-- A search_key is never empty once set (SearchKey starts every field with
-- the separator): an empty one was never indexed, and is not taken out.
CREATE TRIGGER guests_search_insert AFTER INSERT ON guests BEGIN
    INSERT INTO guest_search (rowid, search_key) VALUES (new.rowid, new.search_key);
END;
CREATE TRIGGER guests_search_delete AFTER DELETE ON guests BEGIN
    INSERT INTO guest_search (guest_search, rowid, search_key)
        SELECT 'delete', old.rowid, old.search_key WHERE old.search_key <> '';
END;
CREATE TRIGGER guests_search_update AFTER UPDATE OF search_key ON guests BEGIN
    INSERT INTO guest_search (guest_search, rowid, search_key)
        SELECT 'delete', old.rowid, old.search_key WHERE old.search_key <> '';
    INSERT INTO guest_search (rowid, search_key) VALUES (new.rowid, new.search_key);
END;

-- Sponsors list guests by expiry, soonest first, those without an end last
-- (GuestFilter.Sort).
CREATE INDEX guests_expiry_order_idx ON guests (coalesce(valid_until, 9223372036854775807), id);
