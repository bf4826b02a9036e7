-- The language a guest registered in (en, de, fr, es), so that the emails
-- sent to them later (expiry notice, credentials sent again) are in it.
-- '' reads as English: every guest from before this file.
ALTER TABLE guests ADD COLUMN language text NOT NULL DEFAULT '';
