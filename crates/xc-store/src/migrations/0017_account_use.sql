-- What each account uses of its quotas, kept by triggers in the same
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

-- How many alarms, webhooks, attach points and access keys each account has.
CREATE TABLE account_counts (
    account_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind)
) WITHOUT ROWID;

INSERT INTO account_counts (account_id, kind, n)
SELECT account_id, 'alarms', count(*) FROM alarms GROUP BY account_id;
CREATE TRIGGER alarms_count_insert AFTER INSERT ON alarms
BEGIN
    INSERT INTO account_counts (account_id, kind, n) VALUES (NEW.account_id, 'alarms', 1)
    ON CONFLICT (account_id, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER alarms_count_delete AFTER DELETE ON alarms
BEGIN
    UPDATE account_counts SET n = n - 1 WHERE account_id = OLD.account_id AND kind = 'alarms';
END;

INSERT INTO account_counts (account_id, kind, n)
SELECT account_id, 'webhooks', count(*) FROM webhooks GROUP BY account_id;
CREATE TRIGGER webhooks_count_insert AFTER INSERT ON webhooks
BEGIN
    INSERT INTO account_counts (account_id, kind, n) VALUES (NEW.account_id, 'webhooks', 1)
    ON CONFLICT (account_id, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER webhooks_count_delete AFTER DELETE ON webhooks
BEGIN
    UPDATE account_counts SET n = n - 1 WHERE account_id = OLD.account_id AND kind = 'webhooks';
END;

INSERT INTO account_counts (account_id, kind, n)
SELECT account_id, 'attach_points', count(*) FROM attach_points GROUP BY account_id;
CREATE TRIGGER attach_points_count_insert AFTER INSERT ON attach_points
BEGIN
    INSERT INTO account_counts (account_id, kind, n) VALUES (NEW.account_id, 'attach_points', 1)
    ON CONFLICT (account_id, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER attach_points_count_delete AFTER DELETE ON attach_points
BEGIN
    UPDATE account_counts SET n = n - 1 WHERE account_id = OLD.account_id AND kind = 'attach_points';
END;

INSERT INTO account_counts (account_id, kind, n)
SELECT account_id, 'access_keys', count(*) FROM access_keys GROUP BY account_id;
CREATE TRIGGER access_keys_count_insert AFTER INSERT ON access_keys
BEGIN
    INSERT INTO account_counts (account_id, kind, n) VALUES (NEW.account_id, 'access_keys', 1)
    ON CONFLICT (account_id, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER access_keys_count_delete AFTER DELETE ON access_keys
BEGIN
    UPDATE account_counts SET n = n - 1 WHERE account_id = OLD.account_id AND kind = 'access_keys';
END;
