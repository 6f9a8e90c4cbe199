-- Version 9: alarms on connection metrics, their history, webhooks and their deliveries.
-- States, comparisons and treatments are stored as their API names (`xc_types::api::alarms`).
CREATE TABLE alarms (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT NOT NULL UNIQUE,   -- alarm-<16 hex>
    account_id          TEXT NOT NULL,
    name                TEXT NOT NULL,
    connection_id       TEXT NOT NULL,
    metric              TEXT NOT NULL,
    link_id             INTEGER,
    stat                TEXT NOT NULL,
    period              INTEGER NOT NULL,
    comparison          TEXT NOT NULL,
    threshold           REAL NOT NULL,
    evaluation_periods  INTEGER NOT NULL,
    datapoints_to_alarm INTEGER NOT NULL,
    missing_data        TEXT NOT NULL,
    is_default          INTEGER NOT NULL,
    state               TEXT NOT NULL,
    state_reason        TEXT NOT NULL,
    state_updated_at    INTEGER NOT NULL,
    evaluated_through   INTEGER,                -- the start of the latest period evaluated
    created_at          INTEGER NOT NULL,
    UNIQUE (account_id, name)
);
CREATE INDEX alarms_by_connection ON alarms(connection_id);

CREATE TABLE alarm_history (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    alarm_id  TEXT NOT NULL,
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,                    -- ConfigurationUpdate | StateUpdate
    old_state TEXT,
    new_state TEXT,
    summary   TEXT NOT NULL
);
CREATE INDEX alarm_history_by_alarm ON alarm_history(alarm_id, seq);

-- The newest 100 entries of an alarm are kept.
CREATE TRIGGER alarm_history_bounded AFTER INSERT ON alarm_history
BEGIN
    DELETE FROM alarm_history
    WHERE alarm_id = new.alarm_id
      AND seq <= (SELECT seq FROM alarm_history WHERE alarm_id = new.alarm_id
                  ORDER BY seq DESC LIMIT 1 OFFSET 100);
END;

CREATE TABLE webhooks (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,         -- wh-<16 hex>
    account_id    TEXT NOT NULL,
    url           TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,                -- AES-256-GCM under the server's key
    created_at    INTEGER NOT NULL
);

CREATE TABLE alarm_webhooks (
    alarm_id   TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    PRIMARY KEY (alarm_id, webhook_id)
) WITHOUT ROWID;
CREATE INDEX alarm_webhooks_by_webhook ON alarm_webhooks(webhook_id);

CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,       -- dlv-<16 hex>
    webhook_id      TEXT NOT NULL,
    event           TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    state           TEXT NOT NULL,              -- pending | delivered | failed
    next_attempt_at INTEGER                     -- NULL once delivered or failed
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, seq);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL,
    at          INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery_id);

-- The newest 100 deliveries of a webhook are kept, with their attempts.
CREATE TRIGGER webhook_deliveries_bounded AFTER INSERT ON webhook_deliveries
BEGIN
    DELETE FROM webhook_attempts WHERE delivery_id IN (
        SELECT id FROM webhook_deliveries
        WHERE webhook_id = new.webhook_id
          AND seq <= (SELECT seq FROM webhook_deliveries WHERE webhook_id = new.webhook_id
                      ORDER BY seq DESC LIMIT 1 OFFSET 100));
    DELETE FROM webhook_deliveries
    WHERE webhook_id = new.webhook_id
      AND seq <= (SELECT seq FROM webhook_deliveries WHERE webhook_id = new.webhook_id
                  ORDER BY seq DESC LIMIT 1 OFFSET 100);
END;
