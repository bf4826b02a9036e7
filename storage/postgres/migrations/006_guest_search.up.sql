-- Guest search (GuestFilter.Query) by a trigram index instead of a scan of
-- every guest. search_key is storage.SearchKey: the username, email, full
-- name, last name, company and phone, each folded in Go (Unicode case, NFC)
-- and preceded by a separator, so that both backends match alike; the
-- runner fills it for the guests from before this file. A query of three
-- characters or more is a LIKE '%...%' on it, one or two characters a LIKE
-- on the separator and the query (the start of a field), and pg_trgm's GIN
-- index serves both.
--
-- pg_trgm is a trusted extension: the database owner may create it. It is
-- one per database, perhaps already created in another schema (say public)
-- that Lobby's search_path does not name, so the index names its operator
-- class with the extension's schema.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE guests ADD COLUMN search_key text NOT NULL DEFAULT '';

DO $$
DECLARE
    ext_schema text;
BEGIN
    SELECT quote_ident(n.nspname) INTO ext_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    EXECUTE format('CREATE INDEX guests_search_key_trgm_idx ON guests USING gin (search_key %s.gin_trgm_ops)', ext_schema);
END
$$;

-- Sponsors list guests by expiry, soonest first, those without an end last
-- (GuestFilter.Sort).
CREATE INDEX guests_expiry_order_idx ON guests ((coalesce(valid_until, 'infinity'::timestamptz)), id);
