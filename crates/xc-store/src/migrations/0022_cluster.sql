-- Replicas of the control plane on one database, and the lease one of them holds to lead.
CREATE TABLE replicas (
    id            TEXT PRIMARY KEY,
    address       TEXT NOT NULL,     -- the URL it serves at
    started_ms    INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL,  -- its latest heartbeat
    db_latency_us INTEGER NOT NULL   -- how long its previous heartbeat's write took
);

-- One row: who leads, until when, and the fencing token, raised at each change of holder.
CREATE TABLE leader_lease (
    one         INTEGER PRIMARY KEY CHECK (one = 1),
    holder      TEXT NOT NULL,
    token       INTEGER NOT NULL,
    acquired_ms INTEGER NOT NULL,
    renewed_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL
);
