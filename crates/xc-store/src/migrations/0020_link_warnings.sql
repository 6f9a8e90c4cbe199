-- Version 20: a link that stays up while its warning changes (a reason code on an up link, such
-- as PATH_MTU_REDUCED, appearing or clearing) is a `link.stateChange` event too, and every such
-- event carries the reason code before it (`previousReasonCode`). A reason that changes while the
-- link stays down is still recorded without an event (down reasons follow one another as a link
-- comes up). `since` is when the row last changed.
DROP TRIGGER link_state_for_accounts;

CREATE TRIGGER link_state_for_accounts AFTER UPDATE OF state, reason_code ON link_states
WHEN old.state <> new.state OR (new.state = 'up' AND old.reason_code IS NOT new.reason_code)
BEGIN
    INSERT INTO account_events (account_id, at, type, connection_id, detail)
    SELECT ca.account, new.since, 'link.stateChange', l.connection_id,
           json_object('linkId', new.link_id, 'state', new.state, 'previousState', old.state,
                       'reasonCode', new.reason_code, 'reasonMessage', new.reason_message,
                       'previousReasonCode', old.reason_code)
    FROM links l JOIN connection_accounts ca ON ca.connection_id = l.connection_id
    WHERE l.id = new.link_id;
END;
