-- Version 18: the filters at the connection edge (issue 16; `xc_types::filter`). A security group
-- and a prefix list belong to an account; a group applies to the attach points it is attached to,
-- a network ACL to its one attach point (at most one per attach point: without one, the default
-- ACL allows everything). Rules are stored as JSON arrays of the API's rule specs, checked before
-- they are written and as a whole (a group's, an ACL's) in one row, so a change is one update.
CREATE TABLE security_groups (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT,
    rules       TEXT NOT NULL,   -- JSON array of rule specs, each with its ruleId
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE security_group_attachments (
    attach_point_id TEXT NOT NULL REFERENCES attach_points(id) ON DELETE CASCADE,
    group_id        TEXT NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
    attached_at     INTEGER NOT NULL,
    PRIMARY KEY (attach_point_id, group_id)
);
CREATE INDEX security_group_attachments_group ON security_group_attachments (group_id);

CREATE TABLE network_acls (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    attach_point_id TEXT NOT NULL UNIQUE REFERENCES attach_points(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    rules           TEXT NOT NULL,   -- JSON array of rule specs, each with its ruleNumber
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE prefix_lists (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    prefixes   TEXT NOT NULL,   -- JSON array of prefixes
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (account_id, name)
);
