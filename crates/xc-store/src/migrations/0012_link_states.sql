-- Version 12: each link's state as the reconciler last judged it (up, or down with a reason), so
-- that a change is an event: `link.stateChange` for the connection's accounts, written by the
-- trigger when the state turns (a reason that changes while the link stays down is recorded
-- without one).
CREATE TABLE link_states (
    link_id        INTEGER PRIMARY KEY REFERENCES links(id) ON DELETE CASCADE,
    state          TEXT NOT NULL,        -- `xc_types::gateway::LinkState`: up | down
    reason_code    TEXT,                 -- `xc_types::StateReasonCode`, when down
    reason_message TEXT,
    since          INTEGER NOT NULL
);

CREATE TRIGGER link_state_for_accounts AFTER UPDATE OF state ON link_states
WHEN old.state <> new.state
BEGIN
    INSERT INTO account_events (account_id, at, type, connection_id, detail)
    SELECT ca.account, new.since, 'link.stateChange', l.connection_id,
           json_object('linkId', new.link_id, 'state', new.state, 'previousState', old.state,
                       'reasonCode', new.reason_code, 'reasonMessage', new.reason_message)
    FROM links l JOIN connection_accounts ca ON ca.connection_id = l.connection_id
    WHERE l.id = new.link_id;
END;
