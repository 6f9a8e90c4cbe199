-- Version 11: the minutes rolled up into 5-minute and 1-hour rows (CloudWatch's retention ladder:
-- minutes for 15 days, 5-minute rows for 63, hourly rows for 455), one row per link end and
-- span. Counters are sums over the span; `minutes` counts the minutes that had a sample, and the
-- `*_minutes` columns how many of them were up, secured or had BGP established, so the state
-- metrics of a rolled-up row are shares of its minutes.
CREATE TABLE link_rollups (
    connection_id       TEXT NOT NULL,
    span                INTEGER NOT NULL,   -- 300 or 3600 seconds
    bucket              INTEGER NOT NULL,   -- Unix seconds, a multiple of span
    link_id             INTEGER NOT NULL,
    side                INTEGER NOT NULL,   -- 0: the owner's end, 1: the remote end
    minutes             INTEGER NOT NULL,
    up_minutes          INTEGER NOT NULL,   -- secured and BGP established
    secured_minutes     INTEGER NOT NULL,
    bgp_minutes         INTEGER NOT NULL,
    secs                INTEGER NOT NULL,
    tx_packets          INTEGER NOT NULL,
    tx_bytes            INTEGER NOT NULL,
    rx_packets          INTEGER NOT NULL,
    rx_bytes            INTEGER NOT NULL,
    drop_policer        INTEGER NOT NULL,
    drop_replay         INTEGER NOT NULL,
    drop_icv            INTEGER NOT NULL,
    drop_no_sa          INTEGER NOT NULL,
    drop_invalid        INTEGER NOT NULL,
    probes_sent         INTEGER NOT NULL,
    probes_answered     INTEGER NOT NULL,
    rtt_min_us          INTEGER,            -- the least of the minutes'
    rtt_avg_us          INTEGER,            -- weighted by answered probes
    rtt_p99_us          INTEGER,            -- the most of the minutes' p99
    rtt_max_us          INTEGER,
    jitter_us           INTEGER,            -- the mean of the minutes'
    prefixes_accepted   INTEGER NOT NULL,   -- the most of the minutes'
    prefixes_advertised INTEGER NOT NULL,
    PRIMARY KEY (connection_id, span, bucket, side, link_id)
) WITHOUT ROWID;
CREATE INDEX link_rollups_bucket ON link_rollups(span, bucket);

-- How far each span is rolled up: every bucket before `through` is current, but for those of
-- `rollup_dirty`: a connection's hours that got a minute after they were rolled up (a gateway's
-- backlog), rolled again (their 5-minute rows, then the hour) on the next pass.
CREATE TABLE rollup_marks (
    span    INTEGER PRIMARY KEY,
    through INTEGER NOT NULL
);
CREATE TABLE rollup_dirty (
    connection_id TEXT NOT NULL,
    bucket        INTEGER NOT NULL,   -- an hour
    PRIMARY KEY (connection_id, bucket)
) WITHOUT ROWID;
