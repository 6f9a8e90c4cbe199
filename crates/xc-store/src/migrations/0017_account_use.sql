-- What each account uses of the quotas that count connections, kept by triggers in the same
-- transaction as every change to a connection, so that a quota check reads one row per
-- environment instead of counting the account's connections (issue 18; bench/api).
-- A connection counts for each account that is a side of it (once when both sides are one
-- account), in its environment, while it is not being deleted, deleted or failed; its bandwidth
-- counts at the greater of the bandwidth and a change asked for.
CREATE TABLE account_use (
    account_id     TEXT NOT NULL,
    environment    TEXT NOT NULL,
    connections    INTEGER NOT NULL,
    bandwidth_mbps INTEGER NOT NULL,
    PRIMARY KEY (account_id, environment)
) WITHOUT ROWID;

INSERT INTO account_use (account_id, environment, connections, bandwidth_mbps)
SELECT account_id, environment, count(*), sum(bw)
FROM (
    SELECT owner AS account_id, environment,
           max(bandwidth_mbps, coalesce(pending_bandwidth_mbps, 0)) AS bw
    FROM connections WHERE state NOT IN ('deleting', 'deleted', 'failed')
    UNION ALL
    SELECT remote_account, environment, max(bandwidth_mbps, coalesce(pending_bandwidth_mbps, 0))
    FROM connections
    WHERE state NOT IN ('deleting', 'deleted', 'failed')
      AND remote_account IS NOT NULL AND remote_account != owner
)
GROUP BY account_id, environment;

CREATE TRIGGER account_use_insert AFTER INSERT ON connections
WHEN NEW.state NOT IN ('deleting', 'deleted', 'failed')
BEGIN
    INSERT INTO account_use (account_id, environment, connections, bandwidth_mbps)
    SELECT a, NEW.environment, 1, max(NEW.bandwidth_mbps, coalesce(NEW.pending_bandwidth_mbps, 0))
    FROM (SELECT NEW.owner AS a UNION SELECT NEW.remote_account WHERE NEW.remote_account IS NOT NULL)
    WHERE true
    ON CONFLICT (account_id, environment) DO UPDATE SET
        connections = connections + excluded.connections,
        bandwidth_mbps = bandwidth_mbps + excluded.bandwidth_mbps;
END;

CREATE TRIGGER account_use_update AFTER UPDATE OF owner, remote_account, environment, state,
    bandwidth_mbps, pending_bandwidth_mbps ON connections
BEGIN
    UPDATE account_use SET
        connections = connections - 1,
        bandwidth_mbps = bandwidth_mbps - max(OLD.bandwidth_mbps, coalesce(OLD.pending_bandwidth_mbps, 0))
    WHERE OLD.state NOT IN ('deleting', 'deleted', 'failed')
      AND environment = OLD.environment
      AND account_id IN (SELECT OLD.owner UNION SELECT OLD.remote_account WHERE OLD.remote_account IS NOT NULL);
    INSERT INTO account_use (account_id, environment, connections, bandwidth_mbps)
    SELECT a, NEW.environment, 1, max(NEW.bandwidth_mbps, coalesce(NEW.pending_bandwidth_mbps, 0))
    FROM (SELECT NEW.owner AS a UNION SELECT NEW.remote_account WHERE NEW.remote_account IS NOT NULL)
    WHERE NEW.state NOT IN ('deleting', 'deleted', 'failed')
    ON CONFLICT (account_id, environment) DO UPDATE SET
        connections = connections + excluded.connections,
        bandwidth_mbps = bandwidth_mbps + excluded.bandwidth_mbps;
END;

CREATE TRIGGER account_use_delete AFTER DELETE ON connections
WHEN OLD.state NOT IN ('deleting', 'deleted', 'failed')
BEGIN
    UPDATE account_use SET
        connections = connections - 1,
        bandwidth_mbps = bandwidth_mbps - max(OLD.bandwidth_mbps, coalesce(OLD.pending_bandwidth_mbps, 0))
    WHERE environment = OLD.environment
      AND account_id IN (SELECT OLD.owner UNION SELECT OLD.remote_account WHERE OLD.remote_account IS NOT NULL);
END;
