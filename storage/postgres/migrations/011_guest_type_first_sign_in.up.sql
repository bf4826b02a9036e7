-- A guest type may count its guests' validity from their first sign-in to
-- the portal rather than from their creation; guests record that first
-- sign-in (NULL until then, and for every guest from before this file).
-- Counting a type's guests (before deleting the type) uses an index.
ALTER TABLE guest_types ADD COLUMN from_first_sign_in boolean NOT NULL DEFAULT false;
ALTER TABLE guests ADD COLUMN first_sign_in_at timestamptz;
CREATE INDEX guests_guest_type_idx ON guests (guest_type);
