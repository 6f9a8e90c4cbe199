//! Quotas (migration 0013): the operator's values per account, and the use each quota limits,
//! counted in the caller's transaction so that a check and the create it guards are one.

use crate::sql::{OptionalExtension, params};
use crate::{Db, StoreError};
use std::collections::BTreeMap;
use xc_types::AccountId;
use xc_types::api::quotas::QuotaName;

/// The connections an account is a side of and that count: not being deleted, deleted or failed.
const LIVE_SIDE: &str =
    "(owner = ?1 OR remote_account = ?1) AND state NOT IN ('deleting', 'deleted', 'failed')";

impl Db<'_> {
    /// The values the operator set for an account (the others have their defaults).
    pub fn quota_values(
        &self,
        account: &AccountId,
    ) -> Result<BTreeMap<QuotaName, u64>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT name, value FROM account_quotas WHERE account_id = ?1")?;
        let rows = st
            .query_map(params![account.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        // A name this version does not know (written by a newer one) is left alone.
        Ok(rows
            .into_iter()
            .filter_map(|(n, v)| QuotaName::parse(&n).map(|q| (q, v.max(0) as u64)))
            .collect())
    }

    /// Sets an account's quota (`None`: back to its default).
    pub fn set_quota_value(
        &self,
        account: &AccountId,
        quota: QuotaName,
        value: Option<u64>,
    ) -> Result<(), StoreError> {
        match value {
            Some(v) => self.conn.execute(
                "INSERT INTO account_quotas (account_id, name, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id, name) DO UPDATE SET value = excluded.value",
                params![
                    account.as_str(),
                    quota.as_str(),
                    i64::try_from(v).unwrap_or(i64::MAX)
                ],
            )?,
            None => self.conn.execute(
                "DELETE FROM account_quotas WHERE account_id = ?1 AND name = ?2",
                params![account.as_str(), quota.as_str()],
            )?,
        };
        Ok(())
    }

    /// The connections an account is a side of, by environment (kept by the triggers of
    /// migration 0017 as the connections change).
    pub fn connections_by_environment(
        &self,
        account: &AccountId,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT environment, connections FROM account_use
             WHERE account_id = ?1 AND connections > 0",
        )?;
        let rows = st
            .query_map(params![account.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The bandwidth of the connections an account is a side of, in Mbps (a change asked for
    /// counts at the greater of the two).
    pub fn bandwidth_used_mbps(&self, account: &AccountId) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT coalesce(sum(bandwidth_mbps), 0) FROM account_use WHERE account_id = ?1",
                params![account.as_str()],
                |r| r.get::<_, i64>(0),
            )?
            .max(0) as u64)
    }

    /// What the two above would be, counted from the connections themselves (the triggers'
    /// reference, for tests).
    pub fn counted_use(
        &self,
        account: &AccountId,
    ) -> Result<(BTreeMap<String, u64>, u64), StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT environment, count(*), sum(greatest(bandwidth_mbps, coalesce(pending_bandwidth_mbps, 0)))
             FROM connections WHERE {LIVE_SIDE} GROUP BY environment"
        ))?;
        let rows: Vec<(String, i64, i64)> = st
            .query_map(params![account.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        let bandwidth = rows.iter().map(|r| r.2.max(0) as u64).sum();
        Ok((
            rows.into_iter()
                .map(|(e, n, _)| (e, n.max(0) as u64))
                .collect(),
            bandwidth,
        ))
    }

    /// How many of a table's rows are an account's (`attach_points`, `access_keys`, `alarms`,
    /// `webhooks`), as the triggers of migration 0017 keep it.
    pub fn count_of_account(&self, table: Counted, account: &AccountId) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT n FROM account_counts WHERE account_id = ?1 AND kind = ?2")?
            .query_row(params![account.as_str(), table.table()], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .unwrap_or(0)
            .max(0) as u64)
    }

    /// The same, counted from the table (the triggers' reference, for tests).
    pub fn counted_of_account(
        &self,
        table: Counted,
        account: &AccountId,
    ) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM {} WHERE account_id = ?1",
                    table.table()
                ),
                params![account.as_str()],
                |r| r.get::<_, i64>(0),
            )?
            .max(0) as u64)
    }
}

impl Counted {
    /// The table, which is also the `kind` of its count.
    fn table(self) -> &'static str {
        match self {
            Counted::AttachPoints => "attach_points",
            Counted::AccessKeys => "access_keys",
            Counted::Alarms => "alarms",
            Counted::Webhooks => "webhooks",
        }
    }
}

/// What [`Db::count_of_account`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    AttachPoints,
    AccessKeys,
    Alarms,
    Webhooks,
}
