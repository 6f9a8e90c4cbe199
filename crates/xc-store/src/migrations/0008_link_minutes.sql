-- Version 8: what the gateways measured, a row per link end and minute (their minute samples,
-- `xc_types::gateway::samples`), and how far each gateway's samples have been taken.
CREATE TABLE link_minutes (
    connection_id       TEXT NOT NULL,
    minute              INTEGER NOT NULL,   -- Unix seconds, a multiple of 60
    link_id             INTEGER NOT NULL,
    side                INTEGER NOT NULL,   -- 0: the owner's end (gateway_a), 1: the remote end
    secs                INTEGER NOT NULL,   -- seconds the counts cover
    tx_packets          INTEGER NOT NULL,
    tx_bytes            INTEGER NOT NULL,
    rx_packets          INTEGER NOT NULL,
    rx_bytes            INTEGER NOT NULL,
    drop_policer        INTEGER NOT NULL,
    drop_replay         INTEGER NOT NULL,
    drop_icv            INTEGER NOT NULL,
    drop_no_sa          INTEGER NOT NULL,
    drop_invalid        INTEGER NOT NULL,
    probes_sent         INTEGER NOT NULL,
    probes_answered     INTEGER NOT NULL,
    rtt_min_us          INTEGER,            -- NULL: no probe answered
    rtt_avg_us          INTEGER,
    rtt_p99_us          INTEGER,
    rtt_max_us          INTEGER,
    jitter_us           INTEGER,
    secured             INTEGER NOT NULL,
    bgp_established     INTEGER NOT NULL,
    prefixes_accepted   INTEGER NOT NULL,
    prefixes_advertised INTEGER NOT NULL,
    PRIMARY KEY (connection_id, minute, link_id, side)
) WITHOUT ROWID;
CREATE INDEX link_minutes_minute ON link_minutes(minute);

ALTER TABLE gateways ADD COLUMN sample_boot INTEGER;
ALTER TABLE gateways ADD COLUMN sample_seq INTEGER;
