//! Replicas and the leader's lease (migration 0022).
//!
//! One row holds the lease: its holder, a fencing token raised at each change of holder, and
//! when it expires. A replica claims it when it is free or expired and renews it while it holds
//! it ([`Db::claim_lease`], one upsert whose `WHERE` decides). A leader's writes that only the
//! leader may make check its token in the same transaction ([`Db::check_fence`]): once another
//! replica has taken the lease, the deposed one's writes are refused, whatever its clock says.

use crate::StoreError;
use crate::db::Db;
use crate::sql::{OptionalExtension, params};

/// A replica as it last reported itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRow {
    pub id: String,
    pub address: String,
    pub started_ms: i64,
    pub last_seen_ms: i64,
    pub db_latency_us: i64,
}

/// The lease as stored (it may have expired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub holder: String,
    pub token: i64,
    pub acquired_ms: i64,
    pub renewed_ms: i64,
    pub expires_ms: i64,
}

impl Db<'_> {
    /// Records a replica's heartbeat, and forgets replicas not heard from since `forget_before`.
    pub fn heartbeat(&self, r: &ReplicaRow, forget_before: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO replicas (id, address, started_ms, last_seen_ms, db_latency_us) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET \
             address = excluded.address, last_seen_ms = excluded.last_seen_ms, \
             db_latency_us = excluded.db_latency_us",
            params![
                r.id,
                r.address,
                r.started_ms,
                r.last_seen_ms,
                r.db_latency_us
            ],
        )?;
        self.conn.execute(
            "DELETE FROM replicas WHERE last_seen_ms < ?1",
            [forget_before],
        )?;
        Ok(())
    }

    /// Takes the lease for `holder` until `now_ms + ttl_ms` if it is free, expired or already
    /// `holder`'s; its fencing token, or `None` while another replica holds it. The token is
    /// raised whenever the holder changes.
    pub fn claim_lease(
        &self,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "INSERT INTO leader_lease (one, holder, token, acquired_ms, renewed_ms, expires_ms) \
                 VALUES (1, ?1, 1, ?2, ?2, ?3) \
                 ON CONFLICT (one) DO UPDATE SET \
                   token = CASE WHEN leader_lease.holder = excluded.holder \
                                THEN leader_lease.token ELSE leader_lease.token + 1 END, \
                   acquired_ms = CASE WHEN leader_lease.holder = excluded.holder \
                                THEN leader_lease.acquired_ms ELSE excluded.acquired_ms END, \
                   holder = excluded.holder, \
                   renewed_ms = excluded.renewed_ms, \
                   expires_ms = excluded.expires_ms \
                 WHERE leader_lease.holder = excluded.holder \
                    OR leader_lease.expires_ms < excluded.renewed_ms \
                 RETURNING token",
                params![holder, now_ms, now_ms + ttl_ms],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Renews the lease if `holder` holds it (expired or not, as long as nobody took it); its
    /// token then. One statement, which touches the lease row only when `holder` holds it: safe
    /// beside the writers' lock (`Store::write_beside`), and never waiting for another
    /// replica's transaction.
    pub fn renew_lease(
        &self,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "UPDATE leader_lease SET renewed_ms = ?2, expires_ms = ?3 WHERE holder = ?1 \
                 RETURNING token",
                params![holder, now_ms, now_ms + ttl_ms],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Gives the lease up (a replica stopping), so another takes it at its next try.
    pub fn release_lease(&self, holder: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE leader_lease SET expires_ms = 0 WHERE holder = ?1",
            [holder],
        )? == 1)
    }

    pub fn lease(&self) -> Result<Option<LeaseRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT holder, token, acquired_ms, renewed_ms, expires_ms FROM leader_lease",
                (),
                |r| {
                    Ok(LeaseRow {
                        holder: r.get(0)?,
                        token: r.get(1)?,
                        acquired_ms: r.get(2)?,
                        renewed_ms: r.get(3)?,
                        expires_ms: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn replicas(&self) -> Result<Vec<ReplicaRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, address, started_ms, last_seen_ms, db_latency_us FROM replicas \
             ORDER BY started_ms, id",
        )?;
        let rows = st.query_map((), |r| {
            Ok(ReplicaRow {
                id: r.get(0)?,
                address: r.get(1)?,
                started_ms: r.get(2)?,
                last_seen_ms: r.get(3)?,
                db_latency_us: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Refuses ([`StoreError::Fenced`]) unless `holder` still holds the lease under `token`.
    pub fn check_fence(&self, holder: &str, token: i64) -> Result<(), StoreError> {
        // No row lock needed: another replica takes the lease only under the writers' lock
        // (`claim_lease` through `Store::write`), so not between this check and the commit; the
        // holder's renewals beside that lock (`renew_lease`) change neither holder nor token.
        let current: Option<(String, i64)> = self
            .conn
            .query_row("SELECT holder, token FROM leader_lease", (), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match current {
            Some((h, t)) if h == holder && t == token => Ok(()),
            _ => Err(StoreError::Fenced { token }),
        }
    }
}
