-- What one replica asks of a gateway another replica may be serving (a connectivity test, a
-- filter dry run), and the gateway's answer. Rows live for the asker's wait; the next ask
-- deletes those a stopped asker left behind.
CREATE TABLE gateway_asks (
    id          TEXT PRIMARY KEY,
    gateway_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,      -- 'test' or 'dry_run'
    request     TEXT NOT NULL,      -- JSON, as the gateway is handed it
    expires_ms  INTEGER NOT NULL,
    taken_ms    INTEGER,            -- when a replica handed it to the gateway (once)
    answer      TEXT                -- JSON, the gateway's answer
);
CREATE INDEX gateway_asks_by_gateway ON gateway_asks (gateway_id);
