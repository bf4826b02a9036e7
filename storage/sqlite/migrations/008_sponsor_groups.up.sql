-- Sponsor groups: what their member sponsors may do. guest_types and
-- permissions are JSON arrays of names; an empty guest_types allows every
-- type. The default group is the group of sponsors that name none.
CREATE TABLE sponsor_groups (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    guest_types TEXT NOT NULL DEFAULT '[]',
    manage_all  INTEGER NOT NULL DEFAULT 0 CHECK (manage_all IN (0, 1)),
    permissions TEXT NOT NULL DEFAULT '[]',
    updated_at  INTEGER NOT NULL
) STRICT;
INSERT INTO sponsor_groups (name, description, guest_types, manage_all, permissions, updated_at)
VALUES ('default', 'Sponsors without a group: every action on the guests they sponsor.', '[]', 0,
    '["create","batch","resend","reset_password","extend","suspend","delete","approve"]',
    CAST(strftime('%s', 'now') AS INTEGER) * 1000000);

-- Staff: their group ('' is the default group), sign-in throttling and
-- the cut-off that ends their sessions (sign-out).
ALTER TABLE staff ADD COLUMN sponsor_group TEXT NOT NULL DEFAULT '';
ALTER TABLE staff ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff ADD COLUMN locked_until INTEGER;
ALTER TABLE staff ADD COLUMN last_login_at INTEGER;
ALTER TABLE staff ADD COLUMN sessions_valid_after INTEGER;
CREATE INDEX staff_sponsor_group_idx ON staff (sponsor_group);

-- A guest's history on the sponsor's guest page, newest first.
CREATE INDEX audit_subject_id_idx ON audit (subject, id DESC);
