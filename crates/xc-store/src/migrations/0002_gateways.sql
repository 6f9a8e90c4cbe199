-- Version 2: managed gateways, their registration tokens, and the links of connections.

-- Tokens are stored hashed (SHA-256); a token is used once.
CREATE TABLE gateway_tokens (
    token_hash   BLOB PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    attach_point TEXT,
    facility     TEXT,
    expires_at   INTEGER NOT NULL,
    used_by      TEXT,
    created_at   INTEGER NOT NULL
);

-- The gateway's secret is stored hashed (SHA-256).
CREATE TABLE gateways (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    attach_point     TEXT,
    facility         TEXT,
    name             TEXT NOT NULL,
    underlay_address TEXT NOT NULL,
    secret_hash      BLOB NOT NULL,
    version          TEXT,
    last_contact     INTEGER,
    status           TEXT,             -- JSON: what the gateway reported last
    created_at       INTEGER NOT NULL
);
CREATE INDEX gateways_attach_point ON gateways(attach_point);
CREATE INDEX gateways_account ON gateways(account_id, seq);

-- A link's id is also its VNI, and numbers its /31 and its UDP port.
CREATE TABLE links (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id TEXT NOT NULL,
    gateway_a     TEXT NOT NULL,       -- the owner's side
    gateway_b     TEXT NOT NULL,       -- the remote side
    created_at    INTEGER NOT NULL
);
CREATE INDEX links_connection ON links(connection_id);
CREATE INDEX links_gateway_a ON links(gateway_a);
CREATE INDEX links_gateway_b ON links(gateway_b);
