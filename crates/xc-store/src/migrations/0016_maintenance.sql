-- Version 16: maintenance windows the operator announces (`xc_types::api::maintenance`): all
-- connections', or one environment's (`environment` set). A window that has begun is kept as it
-- is (statements leave it out of the SLA as they did when it was announced).
CREATE TABLE maintenance_windows (
    id           TEXT PRIMARY KEY,
    start_at     INTEGER NOT NULL,
    end_at       INTEGER NOT NULL,
    description  TEXT NOT NULL,
    environment  TEXT,
    announced_at INTEGER NOT NULL
);
CREATE INDEX maintenance_windows_start ON maintenance_windows (start_at);
