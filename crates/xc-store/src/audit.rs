//! The audit trail (migration 0014): rows appended with the hash the control plane computes over
//! the previous row's, read a page at a time, walked in order to check the chain, and removed
//! oldest first by retention, which keeps the last removed row's hash as the anchor.

use crate::sql::{OptionalExtension, params};
use crate::{Db, StoreError};

/// One record, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub at_ms: i64,
    pub account_id: String,
    pub access_key: Option<String>,
    pub principal: String,
    pub source: Option<String>,
    pub user_agent: Option<String>,
    pub operation: String,
    pub resource: Option<String>,
    pub outcome: String,
    pub error_code: Option<String>,
    pub request_id: String,
    pub hash: Vec<u8>,
}

/// Which records a listing wants.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub account: Option<String>,
    pub operation: Option<String>,
    pub since_ms: i64,
}

const COLUMNS: &str = "seq, at_ms, account_id, access_key, principal, source, user_agent, \
                       operation, resource, outcome, error_code, request_id, hash";

fn row(r: &crate::sql::Row<'_>) -> crate::sql::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        at_ms: r.get(1)?,
        account_id: r.get(2)?,
        access_key: r.get(3)?,
        principal: r.get(4)?,
        source: r.get(5)?,
        user_agent: r.get(6)?,
        operation: r.get(7)?,
        resource: r.get(8)?,
        outcome: r.get(9)?,
        error_code: r.get(10)?,
        request_id: r.get(11)?,
        hash: r.get(12)?,
    })
}

impl Db<'_> {
    /// The last record's number and hash, or the anchor's when retention removed every record
    /// (none: the trail has never had one).
    pub fn audit_tail(&self) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let last = self
            .conn
            .prepare_cached("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")?
            .query_row((), |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match last {
            Some(t) => Ok(Some(t)),
            None => self.audit_anchor(),
        }
    }

    /// The last record retention removed: its number and hash.
    pub fn audit_anchor(&self) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT seq, hash FROM audit_anchor WHERE one = 1")?
            .query_row((), |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// Appends a record (its `seq` and `hash` already computed from [`Self::audit_tail`] in the
    /// same transaction).
    pub fn append_audit(&self, a: &AuditRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO audit_records ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ))?
            .execute(params![
                a.seq,
                a.at_ms,
                a.account_id,
                a.access_key,
                a.principal,
                a.source,
                a.user_agent,
                a.operation,
                a.resource,
                a.outcome,
                a.error_code,
                a.request_id,
                a.hash
            ])?;
        Ok(())
    }

    /// Records after `after` (a record's number) that `filter` wants, oldest first, at most
    /// `limit`.
    pub fn audit_records(
        &self,
        filter: &AuditFilter,
        after: i64,
        limit: usize,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM audit_records
             WHERE seq > ?1 AND at_ms >= ?2
               AND (account_id = ?3 OR ?3 IS NULL) AND (operation = ?4 OR ?4 IS NULL)
             ORDER BY seq LIMIT ?5"
        ))?;
        let rows = st
            .query_map(
                params![
                    after,
                    filter.since_ms,
                    filter.account,
                    filter.operation,
                    limit as i64
                ],
                row,
            )?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Every record after `after`, oldest first, at most `limit` (the walk of a check).
    pub fn audit_chain(&self, after: i64, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        self.audit_records(
            &AuditFilter {
                since_ms: i64::MIN,
                ..AuditFilter::default()
            },
            after,
            limit,
        )
    }

    /// Removes the records before `before_ms`, at most `limit` of them, oldest first, keeping
    /// the last one's number and hash as the anchor. Answers how many went.
    pub fn prune_audit(&self, before_ms: i64, limit: usize) -> Result<usize, StoreError> {
        let last = self
            .conn
            .prepare_cached(
                "SELECT seq, hash FROM (SELECT seq, hash, at_ms FROM audit_records
                  ORDER BY seq LIMIT ?2) oldest WHERE at_ms < ?1 ORDER BY seq DESC LIMIT 1",
            )?
            .query_row(params![before_ms, limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .optional()?;
        let Some((seq, hash)) = last else {
            return Ok(0);
        };
        let n = self
            .conn
            .execute("DELETE FROM audit_records WHERE seq <= ?1", params![seq])?;
        self.conn.execute(
            "INSERT INTO audit_anchor (one, seq, hash) VALUES (1, ?1, ?2)
             ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            params![seq, hash],
        )?;
        Ok(n)
    }
}
