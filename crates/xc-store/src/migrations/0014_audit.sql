-- Version 14: the audit trail. One row per authenticated request, appended and never changed:
-- each row's hash is SHA-256 over the previous row's hash and its own fields (computed by the
-- control plane, `xc_control::audit`), so an edit or a deletion shows. Retention deletes the
-- oldest rows and keeps the last deleted row's number and hash in `audit_anchor`, where the
-- check of the chain starts.
CREATE TABLE audit_records (
    seq          INTEGER PRIMARY KEY,
    at_ms        INTEGER NOT NULL,
    account_id   TEXT NOT NULL,
    access_key   TEXT,
    principal    TEXT NOT NULL,
    source       TEXT,
    user_agent   TEXT,
    operation    TEXT NOT NULL,
    resource     TEXT,
    outcome      TEXT NOT NULL,
    error_code   TEXT,
    request_id   TEXT NOT NULL,
    hash         BLOB NOT NULL
);
CREATE INDEX audit_records_at ON audit_records (at_ms);
CREATE INDEX audit_records_account ON audit_records (account_id, seq);

-- At most one row: the last record retention removed.
CREATE TABLE audit_anchor (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
);

-- Append-only: no row is ever changed (retention deletes whole rows, oldest first).
CREATE TRIGGER audit_records_append_only BEFORE UPDATE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
