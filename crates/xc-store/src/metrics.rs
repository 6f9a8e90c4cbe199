//! What the gateways measured: their minute samples, stored a row per link end and minute
//! (`link_minutes`), and read back by connection and time.

use crate::{Db, StoreError};
use rusqlite::{OptionalExtension, params};
use xc_types::ConnectionId;
use xc_types::gateway::{DropCounts, LinkSample, MetricSample, RttStats};

/// One link end's minute, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkMinute {
    pub minute: i64,
    /// The remote side's end (`gateway_b`), or the owner's.
    pub is_b: bool,
    pub sample: LinkSample,
}

const COLUMNS: &str = "secs, tx_packets, tx_bytes, rx_packets, rx_bytes, drop_policer, drop_replay, \
     drop_icv, drop_no_sa, drop_invalid, probes_sent, probes_answered, rtt_min_us, rtt_avg_us, \
     rtt_p99_us, rtt_max_us, jitter_us, secured, bgp_established, prefixes_accepted, \
     prefixes_advertised";

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
               secs = min(60, secs + excluded.secs),
               tx_packets = tx_packets + excluded.tx_packets,
               tx_bytes = tx_bytes + excluded.tx_bytes,
               rx_packets = rx_packets + excluded.rx_packets,
               rx_bytes = rx_bytes + excluded.rx_bytes,
               drop_policer = drop_policer + excluded.drop_policer,
               drop_replay = drop_replay + excluded.drop_replay,
               drop_icv = drop_icv + excluded.drop_icv,
               drop_no_sa = drop_no_sa + excluded.drop_no_sa,
               drop_invalid = drop_invalid + excluded.drop_invalid,
               rtt_avg_us = CASE WHEN excluded.rtt_avg_us IS NULL THEN rtt_avg_us
                 WHEN rtt_avg_us IS NULL THEN excluded.rtt_avg_us
                 ELSE (rtt_avg_us * probes_answered + excluded.rtt_avg_us * excluded.probes_answered)
                      / max(1, probes_answered + excluded.probes_answered) END,
               probes_sent = probes_sent + excluded.probes_sent,
               probes_answered = probes_answered + excluded.probes_answered,
               rtt_min_us = coalesce(min(rtt_min_us, excluded.rtt_min_us), rtt_min_us, excluded.rtt_min_us),
               rtt_p99_us = coalesce(max(rtt_p99_us, excluded.rtt_p99_us), rtt_p99_us, excluded.rtt_p99_us),
               rtt_max_us = coalesce(max(rtt_max_us, excluded.rtt_max_us), rtt_max_us, excluded.rtt_max_us),
               jitter_us = coalesce(max(jitter_us, excluded.jitter_us), jitter_us, excluded.jitter_us),
               secured = excluded.secured,
               bgp_established = excluded.bgp_established,
               prefixes_accepted = excluded.prefixes_accepted,
               prefixes_advertised = excluded.prefixes_advertised"
        ))?;
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
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT minute, link_id, side, {COLUMNS} FROM link_minutes
             WHERE connection_id = ?1 AND minute >= ?2 AND minute < ?3
             ORDER BY minute, link_id, side"
        ))?;
        let rows = st.query_map(params![connection.as_str(), from, to], |r| {
            let u = |k: usize| r.get::<_, i64>(k).map(|v| v.max(0) as u64);
            let rtt = match r.get::<_, Option<i64>>(15)? {
                None => None,
                Some(min) => Some(RttStats {
                    min_us: min.max(0) as u64,
                    avg_us: u(16)?,
                    p99_us: u(17)?,
                    max_us: u(18)?,
                    jitter_us: u(19)?,
                }),
            };
            Ok(LinkMinute {
                minute: r.get(0)?,
                is_b: r.get::<_, i64>(2)? == 1,
                sample: LinkSample {
                    id: u(1)?,
                    secs: r.get(3)?,
                    tx_packets: u(4)?,
                    tx_bytes: u(5)?,
                    rx_packets: u(6)?,
                    rx_bytes: u(7)?,
                    drops: DropCounts {
                        policer: u(8)?,
                        replay: u(9)?,
                        icv: u(10)?,
                        no_sa: u(11)?,
                        invalid: u(12)?,
                    },
                    probes_sent: r.get(13)?,
                    probes_answered: r.get(14)?,
                    rtt,
                    secured: r.get(20)?,
                    bgp_established: r.get(21)?,
                    prefixes_accepted: u(22)?,
                    prefixes_advertised: u(23)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
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
