-- Version 6: console sessions kept by the server, so that signing out, or disabling or deleting
-- the access key a session was opened with, ends it for good (a stateless token could only
-- expire). Only a SHA-256 of the session token is stored.
CREATE TABLE console_sessions (
    token_hash    BLOB PRIMARY KEY,
    access_key_id TEXT NOT NULL REFERENCES access_keys(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_key ON console_sessions(access_key_id);
CREATE INDEX console_sessions_expiry ON console_sessions(expires_at);

-- A key that stops being active takes its sessions with it: enabling it again revives none.
CREATE TRIGGER access_key_inactive_ends_sessions AFTER UPDATE OF status ON access_keys
WHEN new.status != 'active'
BEGIN
    DELETE FROM console_sessions WHERE access_key_id = new.id;
END;
