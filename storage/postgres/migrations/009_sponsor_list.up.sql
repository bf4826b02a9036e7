-- The guest lists of the sponsor pages (GuestFilter with SponsorID and/or
-- one Status, newest first or by expiry), each walked in list order by an
-- index that starts with what it filters on, so that a first page and a page
-- deep down the cursor read a page's worth of rows whatever the sponsor's
-- or the status's share of the guests: a sponsor with 50,000 guests, the
-- 1% of guests pending approval. A list of several statuses merges one walk
-- per status. guests_sponsor_idx (001) already serves a sponsor's guests
-- newest first; the expiry order is guests_expiry_order_idx's (006).
CREATE INDEX guests_sponsor_expiry_idx ON guests
    (sponsor_id, (coalesce(valid_until, 'infinity'::timestamptz)), id) WHERE sponsor_id IS NOT NULL;
CREATE INDEX guests_sponsor_status_idx ON guests
    (sponsor_id, status, created_at DESC, id DESC) WHERE sponsor_id IS NOT NULL;
CREATE INDEX guests_sponsor_status_expiry_idx ON guests
    (sponsor_id, status, (coalesce(valid_until, 'infinity'::timestamptz)), id) WHERE sponsor_id IS NOT NULL;
CREATE INDEX guests_status_created_idx ON guests (status, created_at DESC, id DESC);
CREATE INDEX guests_status_expiry_idx ON guests (status, (coalesce(valid_until, 'infinity'::timestamptz)), id);
