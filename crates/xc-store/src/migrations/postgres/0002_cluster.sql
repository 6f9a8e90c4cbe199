-- SQLite's 0022: replicas of the control plane on one database, and the leader's lease.
CREATE TABLE replicas (
    id            TEXT PRIMARY KEY,
    address       TEXT NOT NULL,
    started_ms    BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL,
    db_latency_us BIGINT NOT NULL
);

CREATE TABLE leader_lease (
    one         BIGINT PRIMARY KEY CHECK (one = 1),
    holder      TEXT NOT NULL,
    token       BIGINT NOT NULL,
    acquired_ms BIGINT NOT NULL,
    renewed_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL
);
