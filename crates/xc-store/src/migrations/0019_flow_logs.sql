-- Version 19: flow logs (`xc_types::flowlog`). A connection's flow log is on for one side (its
-- attach point's gateways) while a settings row exists; the records its gateways send are kept,
-- one row each, until the retention removes them.
CREATE TABLE flow_log_settings (
    connection_id    TEXT NOT NULL,
    attach_point_id  TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    sampling         INTEGER NOT NULL,
    aggregation_secs INTEGER NOT NULL,
    enabled_at       INTEGER NOT NULL,
    PRIMARY KEY (connection_id, attach_point_id)
);
CREATE TABLE flow_log_records (
    id              INTEGER PRIMARY KEY,
    connection_id   TEXT NOT NULL,
    attach_point_id TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    link_id         INTEGER NOT NULL,
    srcaddr         TEXT,
    dstaddr         TEXT,
    srcport         INTEGER,
    dstport         INTEGER,
    protocol        INTEGER,
    packets         INTEGER,
    bytes           INTEGER,
    start_at        INTEGER NOT NULL,
    end_at          INTEGER NOT NULL,
    action          TEXT,
    log_status      TEXT NOT NULL,
    received_at     INTEGER NOT NULL
);
CREATE INDEX flow_log_records_by_connection ON flow_log_records (connection_id, start_at);
CREATE INDEX flow_log_records_by_age ON flow_log_records (received_at);
