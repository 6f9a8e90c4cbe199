-- Version 15: metered usage (`xc_control::billing`). Each connection's closed hours are metered
-- once, from its history and its owner's side's traffic, at the prices in force then, and kept as
-- metered: a statement reads these rows and never recomputes them. The owner pays.
CREATE TABLE metered_hours (
    connection_id TEXT NOT NULL,
    hour          INTEGER NOT NULL,   -- the hour's first second (Unix time)
    account_id    TEXT NOT NULL,
    environment   TEXT NOT NULL,
    billing_tier  INTEGER NOT NULL,
    down_secs     INTEGER NOT NULL,
    outages       TEXT NOT NULL,      -- JSON [[start, end], ...] within the hour
    bytes_out     INTEGER NOT NULL,
    bytes_in      INTEGER NOT NULL,
    per_gb        REAL NOT NULL,
    PRIMARY KEY (connection_id, hour)
) WITHOUT ROWID;
CREATE INDEX metered_hours_by_account ON metered_hours (account_id, hour);

-- The billable seconds of a metered hour at each bandwidth, with its price per hour then.
CREATE TABLE metered_tiers (
    connection_id  TEXT NOT NULL,
    hour           INTEGER NOT NULL,
    bandwidth_mbps INTEGER NOT NULL,
    billable_secs  INTEGER NOT NULL,
    hourly_price   REAL NOT NULL,
    PRIMARY KEY (connection_id, hour, bandwidth_mbps)
) WITHOUT ROWID;

-- Every hour before `through` is metered.
CREATE TABLE meter_mark (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    through INTEGER NOT NULL
);
