//! Metered usage (migration 0015): the hours the control plane meters, written once, and read
//! back for statements.

use crate::sql::{OptionalExtension, params};
use crate::{Db, StoreError};

/// A connection to meter: its owner (who pays), environment and billing tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meterable {
    pub connection_id: String,
    pub account_id: String,
    pub environment: String,
    pub billing_tier: u8,
}

/// One metered hour of a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct MeteredRow {
    pub connection_id: String,
    pub hour: i64,
    pub account_id: String,
    pub environment: String,
    pub billing_tier: u8,
    pub down_secs: i64,
    pub outages: Vec<(i64, i64)>,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub per_gb: f64,
    /// (bandwidth Mbps, billable seconds, price per hour).
    pub tiers: Vec<(u64, i64, f64)>,
}

impl Db<'_> {
    /// Every hour before this one is metered (none: metering has not begun).
    pub fn meter_mark(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT through FROM meter_mark WHERE one = 1")?
            .query_row((), |r| r.get(0))
            .optional()?)
    }

    pub fn set_meter_mark(&self, through: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meter_mark (one, through) VALUES (1, ?1)
             ON CONFLICT (one) DO UPDATE SET through = excluded.through",
            params![through],
        )?;
        Ok(())
    }

    /// When the first connection was created (none without one).
    pub fn first_connection_at(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT min(created_at) FROM connections", (), |r| r.get(0))?)
    }

    /// The connections that may have been billable in `[from, to)`: created before its end,
    /// and not already deleted or failed before its start.
    pub fn meterable(&self, from: i64, to: i64) -> Result<Vec<Meterable>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, owner, environment, billing_tier FROM connections
             WHERE created_at < ?2
               AND NOT (state IN ('deleted', 'failed') AND updated_at < ?1)
             ORDER BY seq",
        )?;
        let rows = st
            .query_map(params![from, to], |r| {
                Ok(Meterable {
                    connection_id: r.get(0)?,
                    account_id: r.get(1)?,
                    environment: r.get(2)?,
                    billing_tier: r.get::<_, i64>(3)?.clamp(0, 255) as u8,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The bytes the owner's end of a connection's links sent and received in `[from, to)`.
    pub fn owner_bytes(
        &self,
        connection: &str,
        from: i64,
        to: i64,
    ) -> Result<(u64, u64), StoreError> {
        let (tx, rx): (i64, i64) = self.conn.query_row(
            "SELECT coalesce(sum(tx_bytes), 0), coalesce(sum(rx_bytes), 0) FROM link_minutes
             WHERE connection_id = ?1 AND side = 0 AND minute >= ?2 AND minute < ?3",
            params![connection, from, to],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((tx.max(0) as u64, rx.max(0) as u64))
    }

    /// Stores a metered hour (once: an hour metered already is left as it was).
    pub fn insert_metered(&self, m: &MeteredRow) -> Result<bool, StoreError> {
        let outages = serde_json::to_string(&m.outages).unwrap_or_else(|_| "[]".into());
        let n = self.conn.execute(
            "INSERT INTO metered_hours (connection_id, hour, account_id, environment,
                 billing_tier, down_secs, outages, bytes_out, bytes_in, per_gb)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (connection_id, hour) DO NOTHING",
            params![
                m.connection_id,
                m.hour,
                m.account_id,
                m.environment,
                i64::from(m.billing_tier),
                m.down_secs,
                outages,
                i64::try_from(m.bytes_out).unwrap_or(i64::MAX),
                i64::try_from(m.bytes_in).unwrap_or(i64::MAX),
                m.per_gb
            ],
        )?;
        if n == 0 {
            return Ok(false);
        }
        let mut tier = self.conn.prepare_cached(
            "INSERT INTO metered_tiers (connection_id, hour, bandwidth_mbps, billable_secs, hourly_price)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for &(bw, secs, price) in &m.tiers {
            tier.execute(params![
                m.connection_id,
                m.hour,
                i64::try_from(bw).unwrap_or(i64::MAX),
                secs,
                price
            ])?;
        }
        Ok(true)
    }

    /// An account's metered hours in `[from, to)`, by connection and hour.
    pub fn metered(
        &self,
        account: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<MeteredRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT connection_id, hour, account_id, environment, billing_tier, down_secs,
                    outages, bytes_out, bytes_in, per_gb
             FROM metered_hours WHERE account_id = ?1 AND hour >= ?2 AND hour < ?3
             ORDER BY connection_id, hour",
        )?;
        let mut rows: Vec<MeteredRow> = st
            .query_map(params![account, from, to], |r| {
                let outages: String = r.get(6)?;
                Ok(MeteredRow {
                    connection_id: r.get(0)?,
                    hour: r.get(1)?,
                    account_id: r.get(2)?,
                    environment: r.get(3)?,
                    billing_tier: r.get::<_, i64>(4)?.clamp(0, 255) as u8,
                    down_secs: r.get(5)?,
                    outages: serde_json::from_str(&outages).unwrap_or_default(),
                    bytes_out: r.get::<_, i64>(7)?.max(0) as u64,
                    bytes_in: r.get::<_, i64>(8)?.max(0) as u64,
                    per_gb: r.get(9)?,
                    tiers: Vec::new(),
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut tiers = self.conn.prepare_cached(
            "SELECT t.connection_id, t.hour, t.bandwidth_mbps, t.billable_secs, t.hourly_price
             FROM metered_tiers t JOIN metered_hours h
               ON h.connection_id = t.connection_id AND h.hour = t.hour
             WHERE h.account_id = ?1 AND h.hour >= ?2 AND h.hour < ?3
             ORDER BY t.connection_id, t.hour, t.bandwidth_mbps",
        )?;
        let list = tiers
            .query_map(params![account, from, to], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?.max(0) as u64,
                    r.get::<_, i64>(3)?,
                    r.get::<_, f64>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut i = 0;
        for (c, hour, bw, secs, price) in list {
            while i < rows.len()
                && (rows[i].connection_id.as_str(), rows[i].hour) < (c.as_str(), hour)
            {
                i += 1;
            }
            if let Some(row) = rows
                .get_mut(i)
                .filter(|r| r.connection_id == c && r.hour == hour)
            {
                row.tiers.push((bw, secs, price));
            }
        }
        Ok(rows)
    }

    /// The accounts with metered hours in `[from, to)`.
    pub fn metered_accounts(&self, from: i64, to: i64) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT DISTINCT account_id FROM metered_hours WHERE hour >= ?1 AND hour < ?2
             ORDER BY account_id",
        )?;
        let rows = st
            .query_map(params![from, to], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}
