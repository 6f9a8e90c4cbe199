-- Version 1: accounts, keys, attach points, connections, proposals, idempotency records.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- The secret is sealed (AES-256-GCM under the data dir's master key), never stored in clear.
CREATE TABLE access_keys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    secret_sealed BLOB NOT NULL,
    role          TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX access_keys_account ON access_keys(account_id);

CREATE TABLE attach_points (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name       TEXT NOT NULL,
    asn        INTEGER NOT NULL,
    prefixes   TEXT NOT NULL,        -- JSON array of prefixes
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX attach_points_account ON attach_points(account_id, seq);

CREATE TABLE connections (
    seq                    INTEGER PRIMARY KEY AUTOINCREMENT,
    id                     TEXT NOT NULL UNIQUE,
    shared_id              TEXT NOT NULL,
    owner                  TEXT NOT NULL,
    owner_attach_point     TEXT NOT NULL,
    owner_routing          TEXT NOT NULL,  -- JSON routing policy
    remote_allowed         TEXT NOT NULL,  -- the identifier the key is bound to
    remote_account         TEXT,
    remote_attach_point    TEXT,
    remote_routing         TEXT,
    initiator              TEXT NOT NULL,
    environment            TEXT NOT NULL,
    bandwidth_mbps         INTEGER NOT NULL,
    pending_bandwidth_mbps INTEGER,
    description            TEXT NOT NULL,
    state                  TEXT NOT NULL,
    reason_code            TEXT,
    reason_message         TEXT,
    billing_tier           INTEGER NOT NULL,
    key_id                 TEXT NOT NULL,
    key_expires_at         INTEGER NOT NULL,
    tags                   TEXT NOT NULL,  -- JSON object
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);
CREATE INDEX connections_owner ON connections(owner, seq);
CREATE INDEX connections_remote ON connections(remote_account, seq);
CREATE INDEX connections_owner_ap ON connections(owner_attach_point);
CREATE INDEX connections_remote_ap ON connections(remote_attach_point);

CREATE TABLE proposals (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    shared_id      TEXT NOT NULL,
    owner          TEXT NOT NULL,
    attach_point   TEXT NOT NULL,
    routing        TEXT NOT NULL,
    environment    TEXT NOT NULL,
    bandwidth_mbps INTEGER NOT NULL,
    description    TEXT,
    allowed        TEXT NOT NULL,
    key_id         TEXT NOT NULL UNIQUE,
    expires_at     INTEGER NOT NULL,
    state          TEXT NOT NULL,
    connection_id  TEXT,
    created_at     INTEGER NOT NULL
);
CREATE INDEX proposals_owner ON proposals(owner, seq);

-- An activation key is redeemed at most once: the primary key enforces it.
CREATE TABLE redeemed_keys (
    key_id      TEXT PRIMARY KEY,
    redeemed_by TEXT NOT NULL,
    redeemed_at INTEGER NOT NULL
);

-- clientToken records: the first response is replayed for the same request.
CREATE TABLE idempotency (
    account_id   TEXT NOT NULL,
    operation    TEXT NOT NULL,
    token        TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    response     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, operation, token)
);
