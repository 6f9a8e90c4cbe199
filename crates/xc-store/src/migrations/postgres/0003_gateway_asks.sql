-- SQLite's 0023: what one replica asks of a gateway another replica may be serving.
CREATE TABLE gateway_asks (
    id          TEXT PRIMARY KEY,
    gateway_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    request     TEXT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    taken_ms    BIGINT,
    answer      TEXT
);
CREATE INDEX gateway_asks_by_gateway ON gateway_asks (gateway_id);
