-- How long before the end of their access guests of a type are told it
-- ends (nanoseconds): 0 leaves it to the portal's default, negative sends
-- no notice. Every type from before this file takes the default.
ALTER TABLE guest_types ADD COLUMN expiry_notice_ns INTEGER NOT NULL DEFAULT 0;
