-- Version 10: each account's stream of events (`GET /v1/events`): a connection created, a state
-- change, a bandwidth change (from its history, 0004), a link added or removed, an alarm's
-- transition (written by the service). Triggers write the first four for the connection's
-- owner and, once it has one, its remote account, so that no code path can forget them.
CREATE TABLE account_events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    TEXT NOT NULL,
    at            INTEGER NOT NULL,   -- seconds since the epoch
    type          TEXT NOT NULL,      -- `xc_types::api::events::EventType`
    connection_id TEXT,
    detail        TEXT NOT NULL       -- JSON
);
CREATE INDEX account_events_by_account ON account_events(account_id, seq);
CREATE INDEX account_events_at ON account_events(at);

-- The accounts a connection's events go to: its owner and, once it has one, its remote account.
CREATE VIEW connection_accounts AS
    SELECT id AS connection_id, owner AS account FROM connections
    UNION
    SELECT id, remote_account FROM connections WHERE remote_account IS NOT NULL;

CREATE TRIGGER connection_event_for_accounts AFTER INSERT ON connection_events
BEGIN
    INSERT INTO account_events (account_id, at, type, connection_id, detail)
    SELECT account, new.at,
           CASE new.kind WHEN 'created' THEN 'connection.created'
                         WHEN 'bandwidth' THEN 'connection.bandwidthChange'
                         ELSE 'connection.stateChange' END,
           new.connection_id,
           json_object('state', new.state, 'previousState', new.previous_state,
                       'reasonCode', new.reason_code, 'reasonMessage', new.reason_message,
                       'bandwidthMbps', new.bandwidth_mbps,
                       'pendingBandwidthMbps', new.pending_bandwidth_mbps)
    FROM connection_accounts WHERE connection_id = new.connection_id;
END;

CREATE TRIGGER link_added_for_accounts AFTER INSERT ON links
BEGIN
    INSERT INTO account_events (account_id, at, type, connection_id, detail)
    SELECT account, new.created_at, 'link.added', new.connection_id,
           json_object('linkId', new.id, 'gatewayA', new.gateway_a, 'gatewayB', new.gateway_b)
    FROM connection_accounts WHERE connection_id = new.connection_id;
END;

CREATE TRIGGER link_removed_for_accounts AFTER DELETE ON links
BEGIN
    INSERT INTO account_events (account_id, at, type, connection_id, detail)
    SELECT account, unixepoch(), 'link.removed', old.connection_id,
           json_object('linkId', old.id, 'gatewayA', old.gateway_a, 'gatewayB', old.gateway_b)
    FROM connection_accounts WHERE connection_id = old.connection_id;
END;
