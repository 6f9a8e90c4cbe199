-- Version 4: the history of every connection: every state change is an event.
-- Triggers write it, so no path that changes a connection can forget to: creation, each change
-- of state or reason code, each change of bandwidth (requested or done). The newest 200 events
-- of a connection are kept.
CREATE TABLE connection_events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id  TEXT NOT NULL,
    at             INTEGER NOT NULL,  -- the connection's updated_at: seconds since the epoch
    kind           TEXT NOT NULL,     -- created | state | bandwidth
    state          TEXT NOT NULL,
    previous_state TEXT,
    reason_code    TEXT,
    reason_message TEXT,
    bandwidth_mbps INTEGER NOT NULL,
    pending_bandwidth_mbps INTEGER
);
CREATE INDEX connection_events_by_connection ON connection_events(connection_id, seq);

CREATE TRIGGER connection_created AFTER INSERT ON connections
BEGIN
    INSERT INTO connection_events (connection_id, at, kind, state, reason_code, reason_message,
                                   bandwidth_mbps, pending_bandwidth_mbps)
    VALUES (new.id, new.created_at, 'created', new.state, new.reason_code, new.reason_message,
            new.bandwidth_mbps, new.pending_bandwidth_mbps);
END;

CREATE TRIGGER connection_state_changed AFTER UPDATE OF state, reason_code ON connections
WHEN old.state IS NOT new.state OR old.reason_code IS NOT new.reason_code
BEGIN
    INSERT INTO connection_events (connection_id, at, kind, state, previous_state, reason_code,
                                   reason_message, bandwidth_mbps, pending_bandwidth_mbps)
    VALUES (new.id, new.updated_at, 'state', new.state, old.state, new.reason_code,
            new.reason_message, new.bandwidth_mbps, new.pending_bandwidth_mbps);
END;

CREATE TRIGGER connection_bandwidth_changed
AFTER UPDATE OF bandwidth_mbps, pending_bandwidth_mbps ON connections
WHEN old.bandwidth_mbps IS NOT new.bandwidth_mbps
  OR old.pending_bandwidth_mbps IS NOT new.pending_bandwidth_mbps
BEGIN
    INSERT INTO connection_events (connection_id, at, kind, state, reason_code, reason_message,
                                   bandwidth_mbps, pending_bandwidth_mbps)
    VALUES (new.id, new.updated_at, 'bandwidth', new.state, new.reason_code, new.reason_message,
            new.bandwidth_mbps, new.pending_bandwidth_mbps);
END;

CREATE TRIGGER connection_events_bounded AFTER INSERT ON connection_events
BEGIN
    DELETE FROM connection_events
    WHERE connection_id = new.connection_id
      AND seq <= (SELECT seq FROM connection_events WHERE connection_id = new.connection_id
                  ORDER BY seq DESC LIMIT 1 OFFSET 200);
END;

-- Connections from before this version start their history with their creation and where they
-- are now.
INSERT INTO connection_events (connection_id, at, kind, state, reason_code, reason_message,
                               bandwidth_mbps, pending_bandwidth_mbps)
SELECT id, created_at, 'created', state, reason_code, reason_message, bandwidth_mbps,
       pending_bandwidth_mbps
FROM connections ORDER BY seq;
