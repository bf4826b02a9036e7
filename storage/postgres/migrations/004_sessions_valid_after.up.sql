-- A guest's sign-in sessions are signed cookies, kept nowhere on the server;
-- sessions_valid_after ends them: a session issued at or before it is no
-- longer valid. Signing out, a new password and a renewal set it. NULL ends
-- none (every guest from before this file).
ALTER TABLE guests ADD COLUMN sessions_valid_after timestamptz;
