//! Flow logs (migration 0019): which sides of which connections log, and the records their
//! gateways sent, queryable by connection, time and fields.

use crate::db::parse;
use crate::sql::{OptionalExtension, params};
use crate::{Db, StoreError};
use std::net::IpAddr;
use xc_types::flowlog::{FlowAction, FlowLogRecord, LogStatus, VERSION};
use xc_types::{AccountId, AttachPointId, ConnectionId};

/// A side of a connection whose flow log is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLogSettingRow {
    pub connection_id: ConnectionId,
    pub attach_point_id: AttachPointId,
    pub account_id: AccountId,
    pub sampling: u32,
    pub aggregation_secs: u32,
    pub enabled_at: i64,
}

/// A stored record, with the side that logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLogRow {
    pub id: i64,
    pub connection_id: ConnectionId,
    pub attach_point_id: AttachPointId,
    pub link_id: u64,
    pub record: FlowLogRecord,
}

/// What a query wants; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowLogFilter {
    /// Only these sides (the caller's attach points); empty: none.
    pub attach_points: Vec<AttachPointId>,
    /// Records whose window ended at or after this Unix second...
    pub since: i64,
    /// ...and started before this one.
    pub until: i64,
    pub action: Option<FlowAction>,
    pub srcaddr: Option<IpAddr>,
    pub dstaddr: Option<IpAddr>,
    /// Either port.
    pub port: Option<u16>,
    pub protocol: Option<u8>,
    /// Records after this id (a page token).
    pub after: i64,
}

const SETTING_COLUMNS: &str =
    "connection_id, attach_point_id, account_id, sampling, aggregation_secs, enabled_at";

fn setting_row(
    r: &crate::sql::Row<'_>,
) -> crate::sql::Result<Result<FlowLogSettingRow, StoreError>> {
    let (c, ap, account): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
    let (sampling, aggregation_secs, enabled_at): (i64, i64, i64) =
        (r.get(3)?, r.get(4)?, r.get(5)?);
    Ok((|| {
        Ok(FlowLogSettingRow {
            connection_id: parse(ConnectionId::parse(&c), "connection id")?,
            attach_point_id: parse(AttachPointId::parse(&ap), "attach point id")?,
            account_id: parse(AccountId::parse(&account), "account id")?,
            sampling: parse(u32::try_from(sampling), "sampling")?,
            aggregation_secs: parse(u32::try_from(aggregation_secs), "aggregation")?,
            enabled_at,
        })
    })())
}

fn opt_parse<T, E: std::fmt::Display>(
    v: Option<String>,
    f: impl Fn(&str) -> Result<T, E>,
    what: &str,
) -> Result<Option<T>, StoreError> {
    v.map(|s| parse(f(&s), what)).transpose()
}

impl Db<'_> {
    /// Turns a side's flow log on (or changes its settings).
    pub fn set_flow_log(&self, s: &FlowLogSettingRow) -> Result<(), StoreError> {
        self.conn.execute(
            &format!(
                "INSERT INTO flow_log_settings ({SETTING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (connection_id, attach_point_id) DO UPDATE SET
                   sampling = excluded.sampling, aggregation_secs = excluded.aggregation_secs"
            ),
            params![
                s.connection_id.as_str(),
                s.attach_point_id.to_string(),
                s.account_id.as_str(),
                s.sampling,
                s.aggregation_secs,
                s.enabled_at
            ],
        )?;
        Ok(())
    }

    /// Turns a side's flow log off; answers whether it was on.
    pub fn clear_flow_log(
        &self,
        connection: &ConnectionId,
        attach_point: &AttachPointId,
    ) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM flow_log_settings WHERE connection_id = ?1 AND attach_point_id = ?2",
            params![connection.as_str(), attach_point.to_string()],
        )? > 0)
    }

    /// A side's flow log, when it is on.
    pub fn flow_log(
        &self,
        connection: &ConnectionId,
        attach_point: &AttachPointId,
    ) -> Result<Option<FlowLogSettingRow>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {SETTING_COLUMNS} FROM flow_log_settings
                 WHERE connection_id = ?1 AND attach_point_id = ?2"
            ))?
            .query_row(
                params![connection.as_str(), attach_point.to_string()],
                setting_row,
            )
            .optional()?
            .transpose()
    }

    /// Stores records a gateway sent for one side of one connection.
    pub fn add_flow_logs(
        &self,
        connection: &ConnectionId,
        attach_point: &AttachPointId,
        link_id: u64,
        records: &[FlowLogRecord],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO flow_log_records (connection_id, attach_point_id, account_id, link_id,
               srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start_at, end_at,
               action, log_status, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?;
        let count = |v: Option<u64>| v.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        for r in records {
            insert.execute(params![
                connection.as_str(),
                attach_point.to_string(),
                r.account_id,
                link_id as i64,
                r.srcaddr.map(|a| a.to_string()),
                r.dstaddr.map(|a| a.to_string()),
                r.srcport,
                r.dstport,
                r.protocol,
                count(r.packets),
                count(r.bytes),
                r.start,
                r.end,
                r.action.map(|a| a.as_str().to_owned()),
                r.log_status.as_str(),
                now
            ])?;
        }
        Ok(())
    }

    /// A connection's records that `filter` wants, oldest window first, at most `limit`.
    pub fn flow_logs(
        &self,
        connection: &ConnectionId,
        filter: &FlowLogFilter,
        limit: usize,
    ) -> Result<Vec<FlowLogRow>, StoreError> {
        if filter.attach_points.is_empty() {
            return Ok(Vec::new());
        }
        // The caller's sides: at most the connection's two.
        let sides: Vec<String> = filter.attach_points.iter().map(|a| a.to_string()).collect();
        let side_b = sides.get(1).unwrap_or(&sides[0]);
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, attach_point_id, account_id, link_id, srcaddr, dstaddr, srcport, dstport,
                    protocol, packets, bytes, start_at, end_at, action, log_status
             FROM flow_log_records
             WHERE connection_id = ?1 AND attach_point_id IN (?2, ?3)
               AND end_at >= ?4 AND start_at < ?5 AND id > ?6
               AND (action = ?7 OR ?7 IS NULL)
               AND (srcaddr = ?8 OR ?8 IS NULL)
               AND (dstaddr = ?9 OR ?9 IS NULL)
               AND (srcport = ?10 OR dstport = ?10 OR ?10 IS NULL)
               AND (protocol = ?11 OR ?11 IS NULL)
             ORDER BY id LIMIT ?12",
        )?;
        let rows = stmt.query_map(
            params![
                connection.as_str(),
                sides[0],
                side_b,
                filter.since,
                filter.until,
                filter.after,
                filter.action.map(|a| a.as_str().to_owned()),
                filter.srcaddr.map(|a| a.to_string()),
                filter.dstaddr.map(|a| a.to_string()),
                filter.port,
                filter.protocol,
                limit as i64
            ],
            |r| {
                let id: i64 = r.get(0)?;
                let (ap, account): (String, String) = (r.get(1)?, r.get(2)?);
                let link_id: i64 = r.get(3)?;
                let (src, dst): (Option<String>, Option<String>) = (r.get(4)?, r.get(5)?);
                let (sport, dport, proto): (Option<u16>, Option<u16>, Option<u8>) =
                    (r.get(6)?, r.get(7)?, r.get(8)?);
                let (packets, bytes): (Option<i64>, Option<i64>) = (r.get(9)?, r.get(10)?);
                let (start, end): (i64, i64) = (r.get(11)?, r.get(12)?);
                let (action, status): (Option<String>, String) = (r.get(13)?, r.get(14)?);
                Ok((|| -> Result<FlowLogRow, StoreError> {
                    Ok(FlowLogRow {
                        id,
                        connection_id: connection.clone(),
                        attach_point_id: parse(AttachPointId::parse(&ap), "attach point id")?,
                        link_id: link_id as u64,
                        record: FlowLogRecord {
                            version: VERSION,
                            interface_id: link_id.to_string(),
                            account_id: account,
                            srcaddr: opt_parse(src, str::parse::<IpAddr>, "srcaddr")?,
                            dstaddr: opt_parse(dst, str::parse::<IpAddr>, "dstaddr")?,
                            srcport: sport,
                            dstport: dport,
                            protocol: proto,
                            packets: packets.map(|n| n as u64),
                            bytes: bytes.map(|n| n as u64),
                            start,
                            end,
                            action: opt_parse(action, FlowAction::parse, "action")?,
                            log_status: parse(LogStatus::parse(&status), "log status")?,
                        },
                    })
                })())
            },
        )?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }

    /// Removes records received before `before`, at most `limit`; answers how many went.
    pub fn prune_flow_logs(&self, before: i64, limit: usize) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM flow_log_records WHERE id IN
               (SELECT id FROM flow_log_records WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)",
            params![before, limit as i64],
        )?)
    }
}
