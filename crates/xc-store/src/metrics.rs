//! What the gateways measured: their minute samples, stored a row per link end and minute
//! (`link_minutes`), rolled up into 5-minute and 1-hour rows (`link_rollups`), and read back by
//! connection, side and time.

use crate::sql::{OptionalExtension, params};
use crate::{Db, StoreError};
use xc_types::ConnectionId;
use xc_types::gateway::{DropCounts, LinkSample, MetricSample, RttStats};

/// One link end's minute, or its rolled-up 5 minutes or hour, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkMinute {
    /// When the row's span begins (Unix seconds).
    pub minute: i64,
    /// The remote side's end (`gateway_b`), or the owner's.
    pub is_b: bool,
    /// How many minutes had a sample (1 for a minute's row), and of those how many were up
    /// (secured and BGP established), secured, and had BGP established.
    pub minutes: u32,
    pub up_minutes: u32,
    pub secured_minutes: u32,
    pub bgp_minutes: u32,
    /// The counters summed over the span (`secs` included); RTT as the rollup documents it.
    pub sample: LinkSample,
}

impl LinkMinute {
    /// A minute's row, its state counts from the sample's flags.
    pub fn minute(minute: i64, is_b: bool, sample: LinkSample) -> Self {
        let flag = |b: bool| u32::from(b);
        Self {
            minute,
            is_b,
            minutes: 1,
            up_minutes: flag(sample.secured && sample.bgp_established),
            secured_minutes: flag(sample.secured),
            bgp_minutes: flag(sample.bgp_established),
            sample,
        }
    }
}

/// The spans minutes are rolled up into, shortest first.
pub const ROLLUP_SPANS: [i64; 2] = [300, 3600];

/// The columns a rollup writes, after its key and state counts.
const ROLLUP_SUMS: &str = "sum(secs), sum(tx_packets), sum(tx_bytes), sum(rx_packets), \
     sum(rx_bytes), sum(drop_policer), sum(drop_replay), sum(drop_icv), sum(drop_no_sa), \
     sum(drop_invalid), sum(probes_sent), sum(probes_answered), min(rtt_min_us), \
     CAST(sum(rtt_avg_us * probes_answered) AS BIGINT) \
       / greatest(1, CAST(sum(CASE WHEN rtt_avg_us IS NULL THEN 0 ELSE probes_answered END) AS BIGINT)), \
     max(rtt_p99_us), max(rtt_max_us), CAST(avg(jitter_us) AS INTEGER), \
     max(prefixes_accepted), max(prefixes_advertised)";

/// A minute's columns, in the order [`Db::record_samples`] writes them.
const COLUMNS: &str = "secs, tx_packets, tx_bytes, rx_packets, rx_bytes, drop_policer, drop_replay, \
     drop_icv, drop_no_sa, drop_invalid, probes_sent, probes_answered, rtt_min_us, rtt_avg_us, \
     rtt_p99_us, rtt_max_us, jitter_us, secured, bgp_established, prefixes_accepted, \
     prefixes_advertised";

/// The measurements both tables have (not a minute's state flags, which rollups count), in
/// the order [`Db::link_rows`] reads them.
const MEASURES: &str = "secs, tx_packets, tx_bytes, rx_packets, rx_bytes, drop_policer, \
     drop_replay, drop_icv, drop_no_sa, drop_invalid, probes_sent, probes_answered, rtt_min_us, \
     rtt_avg_us, rtt_p99_us, rtt_max_us, jitter_us, prefixes_accepted, prefixes_advertised";

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Db<'_> {
    /// Stores a gateway's samples that are new (by their sequence number within `boot`), each
    /// link's minute under the link's connection and the side the gateway is on (links that are
    /// not this gateway's are ignored). A link end's minute stored twice (a gateway that
    /// restarted within it) adds up. Answers the highest sequence number of `boot` now stored.
    pub fn record_samples(
        &self,
        gateway_id: &str,
        boot: u64,
        samples: &[MetricSample],
    ) -> Result<Option<u64>, StoreError> {
        let (stored_boot, stored_seq): (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT sample_boot, sample_seq FROM gateways WHERE id = ?1",
                params![gateway_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((None, None));
        // The boot number is stored as the same 64 bits, signed.
        let boot_i = boot as i64;
        let mut through = match stored_boot {
            Some(b) if b == boot_i => stored_seq.map(|s| s as u64),
            _ => None,
        };
        let mut link = self.conn.prepare_cached(
            "SELECT connection_id, gateway_a = ?2, gateway_b = ?2 FROM links WHERE id = ?1",
        )?;
        let mut insert = self.conn.prepare_cached(&format!(
            "INSERT INTO link_minutes (connection_id, minute, link_id, side, {COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                     ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)
             ON CONFLICT (connection_id, minute, link_id, side) DO UPDATE SET
               secs = least(60, link_minutes.secs + excluded.secs),
               tx_packets = link_minutes.tx_packets + excluded.tx_packets,
               tx_bytes = link_minutes.tx_bytes + excluded.tx_bytes,
               rx_packets = link_minutes.rx_packets + excluded.rx_packets,
               rx_bytes = link_minutes.rx_bytes + excluded.rx_bytes,
               drop_policer = link_minutes.drop_policer + excluded.drop_policer,
               drop_replay = link_minutes.drop_replay + excluded.drop_replay,
               drop_icv = link_minutes.drop_icv + excluded.drop_icv,
               drop_no_sa = link_minutes.drop_no_sa + excluded.drop_no_sa,
               drop_invalid = link_minutes.drop_invalid + excluded.drop_invalid,
               rtt_avg_us = CASE WHEN excluded.rtt_avg_us IS NULL THEN link_minutes.rtt_avg_us
                 WHEN link_minutes.rtt_avg_us IS NULL THEN excluded.rtt_avg_us
                 ELSE (link_minutes.rtt_avg_us * link_minutes.probes_answered
                       + excluded.rtt_avg_us * excluded.probes_answered)
                      / greatest(1, link_minutes.probes_answered + excluded.probes_answered) END,
               probes_sent = link_minutes.probes_sent + excluded.probes_sent,
               probes_answered = link_minutes.probes_answered + excluded.probes_answered,
               rtt_min_us = coalesce(least(link_minutes.rtt_min_us, excluded.rtt_min_us), link_minutes.rtt_min_us, excluded.rtt_min_us),
               rtt_p99_us = coalesce(greatest(link_minutes.rtt_p99_us, excluded.rtt_p99_us), link_minutes.rtt_p99_us, excluded.rtt_p99_us),
               rtt_max_us = coalesce(greatest(link_minutes.rtt_max_us, excluded.rtt_max_us), link_minutes.rtt_max_us, excluded.rtt_max_us),
               jitter_us = coalesce(greatest(link_minutes.jitter_us, excluded.jitter_us), link_minutes.jitter_us, excluded.jitter_us),
               secured = excluded.secured,
               bgp_established = excluded.bgp_established,
               prefixes_accepted = excluded.prefixes_accepted,
               prefixes_advertised = excluded.prefixes_advertised"
        ))?;
        // A minute of a bucket already rolled up (a gateway's backlog) has its hour rolled again.
        let rolled = self.rollup_mark(ROLLUP_SPANS[0])?.unwrap_or(i64::MIN);
        let hour = ROLLUP_SPANS[1];
        let mut dirty = self.conn.prepare_cached(
            "INSERT INTO rollup_dirty (connection_id, bucket) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?;
        for s in samples {
            if through.is_some_and(|t| s.seq <= t) {
                continue;
            }
            for l in &s.links {
                let Some((connection, is_a, is_b)) = link
                    .query_row(params![i(l.id), gateway_id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, bool>(1)?,
                            r.get::<_, bool>(2)?,
                        ))
                    })
                    .optional()?
                else {
                    continue;
                };
                if !is_a && !is_b {
                    continue;
                }
                if s.minute < rolled {
                    dirty.execute(params![connection, s.minute - s.minute.rem_euclid(hour)])?;
                }
                let rtt = l.rtt;
                let d = l.drops;
                insert.execute(params![
                    connection,
                    s.minute,
                    i(l.id),
                    is_b as i64,
                    l.secs,
                    i(l.tx_packets),
                    i(l.tx_bytes),
                    i(l.rx_packets),
                    i(l.rx_bytes),
                    i(d.policer),
                    i(d.replay),
                    i(d.icv),
                    i(d.no_sa),
                    i(d.invalid),
                    l.probes_sent,
                    l.probes_answered,
                    rtt.map(|r| i(r.min_us)),
                    rtt.map(|r| i(r.avg_us)),
                    rtt.map(|r| i(r.p99_us)),
                    rtt.map(|r| i(r.max_us)),
                    rtt.map(|r| i(r.jitter_us)),
                    l.secured,
                    l.bgp_established,
                    i(l.prefixes_accepted),
                    i(l.prefixes_advertised),
                ])?;
            }
            through = Some(through.map_or(s.seq, |t| t.max(s.seq)));
        }
        if let Some(t) = through {
            self.conn.execute(
                "UPDATE gateways SET sample_boot = ?2, sample_seq = ?3 WHERE id = ?1",
                params![gateway_id, boot_i, i(t)],
            )?;
        }
        Ok(through)
    }

    /// A connection's stored minutes from `from` (inclusive) to `to` (exclusive), by minute.
    pub fn link_minutes(
        &self,
        connection: &ConnectionId,
        from: i64,
        to: i64,
    ) -> Result<Vec<LinkMinute>, StoreError> {
        self.link_rows(connection, None, 60, from, to)
    }

    /// A connection's rows of `span` (60: its minutes; 300 or 3600: its rollups) that begin from
    /// `from` (inclusive) to `to` (exclusive), by time, of one side's ends (`Some(is_b)`) or both.
    pub fn link_rows(
        &self,
        connection: &ConnectionId,
        is_b: Option<bool>,
        span: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<LinkMinute>, StoreError> {
        // The state counts of a minute's row are its flags; `?5` is -1 for both sides.
        let sql = if span == 60 {
            format!(
                "SELECT minute, link_id, side, 1, \
                 CASE WHEN secured <> 0 AND bgp_established <> 0 THEN 1 ELSE 0 END, secured,
                        bgp_established, {MEASURES} FROM link_minutes
                 WHERE connection_id = ?1 AND minute >= ?2 AND minute < ?3
                   AND ?4 = 60 AND (?5 < 0 OR side = ?5)
                 ORDER BY minute, link_id, side"
            )
        } else {
            format!(
                "SELECT bucket, link_id, side, minutes, up_minutes, secured_minutes, bgp_minutes,
                        {MEASURES} FROM link_rollups
                 WHERE connection_id = ?1 AND span = ?4 AND bucket >= ?2 AND bucket < ?3
                   AND (?5 < 0 OR side = ?5)
                 ORDER BY bucket, link_id, side"
            )
        };
        let side = is_b.map_or(-1, i64::from);
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(params![connection.as_str(), from, to, span, side], |r| {
            let u = |k: usize| r.get::<_, i64>(k).map(|v| v.max(0) as u64);
            let n = |k: usize| {
                r.get::<_, i64>(k)
                    .map(|v| v.clamp(0, i64::from(u32::MAX)) as u32)
            };
            let rtt = match r.get::<_, Option<i64>>(19)? {
                None => None,
                Some(min) => Some(RttStats {
                    min_us: min.max(0) as u64,
                    avg_us: u(20)?,
                    p99_us: u(21)?,
                    max_us: u(22)?,
                    jitter_us: u(23)?,
                }),
            };
            let minutes = n(3)?;
            let secured_minutes = n(5)?;
            let bgp_minutes = n(6)?;
            Ok(LinkMinute {
                minute: r.get(0)?,
                is_b: r.get::<_, i64>(2)? == 1,
                minutes,
                up_minutes: n(4)?,
                secured_minutes,
                bgp_minutes,
                sample: LinkSample {
                    id: u(1)?,
                    secs: n(7)?,
                    tx_packets: u(8)?,
                    tx_bytes: u(9)?,
                    rx_packets: u(10)?,
                    rx_bytes: u(11)?,
                    drops: DropCounts {
                        policer: u(12)?,
                        replay: u(13)?,
                        icv: u(14)?,
                        no_sa: u(15)?,
                        invalid: u(16)?,
                    },
                    probes_sent: n(17)?,
                    probes_answered: n(18)?,
                    rtt,
                    secured: secured_minutes == minutes,
                    bgp_established: bgp_minutes == minutes,
                    prefixes_accepted: u(24)?,
                    prefixes_advertised: u(25)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Rolls the rows of the span below `span` (minutes below 300, 5-minute rows below 3600)
    /// whose buckets of `span` begin from `from` to `to` into rows of `span`, of every connection
    /// or one, replacing those already there; answers how many rows it wrote.
    pub fn roll_up(
        &self,
        span: i64,
        from: i64,
        to: i64,
        connection: Option<&str>,
    ) -> Result<usize, StoreError> {
        // One connection's rows are one range of the primary key.
        let one = if connection.is_some() {
            "connection_id = ?4 AND"
        } else {
            "CAST(?4 AS TEXT) IS NULL AND"
        };
        let (counts, source) = if span <= 300 {
            (
                "count(*), sum(CASE WHEN secured <> 0 AND bgp_established <> 0 THEN 1 ELSE 0 END), \
                 sum(secured), sum(bgp_established)",
                format!("link_minutes WHERE {one} minute >= ?2 AND minute < ?3"),
            )
        } else {
            (
                "sum(minutes), sum(up_minutes), sum(secured_minutes), sum(bgp_minutes)",
                format!("link_rollups WHERE {one} span = 300 AND bucket >= ?2 AND bucket < ?3"),
            )
        };
        let time = if span <= 300 { "minute" } else { "bucket" };
        let replace = ["minutes", "up_minutes", "secured_minutes", "bgp_minutes"]
            .into_iter()
            .chain(MEASURES.split(',').map(str::trim))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO link_rollups (connection_id, span, bucket, link_id, side,
                 minutes, up_minutes, secured_minutes, bgp_minutes, {MEASURES})
             SELECT connection_id, ?1, {time} - {time} % ?1, link_id, side, {counts}, {ROLLUP_SUMS}
             FROM {source}
             GROUP BY connection_id, {time} - {time} % ?1, link_id, side
             ON CONFLICT (connection_id, span, bucket, side, link_id) DO UPDATE SET {replace}"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .execute(params![span, from, to, connection])?)
    }

    /// Up to `limit` of the hours that got minutes after they were rolled up, and their
    /// connections.
    pub fn dirty_rollups(&self, limit: usize) -> Result<Vec<(String, i64)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT connection_id, bucket FROM rollup_dirty LIMIT ?1")?;
        let rows = st.query_map(params![limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn clear_dirty_rollup(&self, connection: &str, bucket: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM rollup_dirty WHERE connection_id = ?1 AND bucket = ?2")?
            .execute(params![connection, bucket])?;
        Ok(())
    }

    /// Where the rollup of `span` stands: every bucket before it is current (none: never ran).
    pub fn rollup_mark(&self, span: i64) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT through FROM rollup_marks WHERE span = ?1",
                params![span],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_rollup_mark(&self, span: i64, through: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO rollup_marks (span, through) VALUES (?1, ?2)
             ON CONFLICT (span) DO UPDATE SET through = excluded.through",
            params![span, through],
        )?;
        Ok(())
    }

    /// The earliest time rows of the span below `span` begin (none: there are none).
    pub fn earliest_unrolled(&self, span: i64) -> Result<Option<i64>, StoreError> {
        let sql = if span <= 300 {
            "SELECT min(minute) FROM link_minutes"
        } else {
            "SELECT min(bucket) FROM link_rollups WHERE span = 300"
        };
        Ok(self.conn.query_row(sql, (), |r| r.get(0))?)
    }

    /// Forgets the rows of `span` that begin before `before` (retention); answers how many.
    pub fn forget_rollups_before(&self, span: i64, before: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM link_rollups WHERE span = ?1 AND bucket < ?2",
            params![span, before],
        )?)
    }

    /// Forgets the minutes before `before` (retention); answers how many.
    pub fn forget_minutes_before(&self, before: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM link_minutes WHERE minute < ?1",
            params![before],
        )?)
    }

    /// Every connection's minutes from `from` on (the latest values of the exposition).
    pub fn minutes_since(&self, from: i64) -> Result<Vec<(ConnectionId, LinkMinute)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT DISTINCT connection_id FROM link_minutes WHERE minute >= ?1")?;
        let ids: Vec<String> = st
            .query_map(params![from], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for id in ids {
            let Ok(id) = ConnectionId::parse(&id) else {
                continue;
            };
            for m in self.link_minutes(&id, from, i64::MAX)? {
                out.push((id.clone(), m));
            }
        }
        Ok(out)
    }
}
