-- Sponsor groups: what their member sponsors may do. An empty guest_types
-- allows every type. The default group is the group of sponsors that name
-- none.
CREATE TABLE sponsor_groups (
    name        text PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    guest_types text[] NOT NULL DEFAULT '{}',
    manage_all  boolean NOT NULL DEFAULT false,
    permissions text[] NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL
);
INSERT INTO sponsor_groups (name, description, guest_types, manage_all, permissions, updated_at)
VALUES ('default', 'Sponsors without a group: every action on the guests they sponsor.', '{}', false,
    '{create,batch,resend,reset_password,extend,suspend,delete,approve}', date_trunc('microseconds', now()));

-- Staff: their group ('' is the default group), sign-in throttling and
-- the cut-off that ends their sessions (sign-out).
ALTER TABLE staff ADD COLUMN sponsor_group text NOT NULL DEFAULT '';
ALTER TABLE staff ADD COLUMN failed_logins integer NOT NULL DEFAULT 0;
ALTER TABLE staff ADD COLUMN locked_until timestamptz;
ALTER TABLE staff ADD COLUMN last_login_at timestamptz;
ALTER TABLE staff ADD COLUMN sessions_valid_after timestamptz;
CREATE INDEX staff_sponsor_group_idx ON staff (sponsor_group);

-- A guest's history on the sponsor's guest page, newest first.
CREATE INDEX audit_subject_id_idx ON audit (subject, id DESC);
