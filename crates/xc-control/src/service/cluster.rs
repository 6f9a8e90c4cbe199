//! Several replicas on one database: each beats once a second (a row in `replicas`, with how
//! long the write took), and one at a time leads, holding the lease ([`xc_store::LeaseRow`]).
//! Only the leader runs the reconciler, key expiry, alarm evaluation, the metric rollups, the
//! retentions and metering ([`Service::run_lifecycle`]); the reconciler's writes carry its
//! fencing token, so once another replica has taken the lease a deposed leader's plan is refused.
//!
//! Timing: the lease lasts [`LEASE_TTL_MS`] from each renewal, renewed every [`BEAT`]. A leader
//! that cannot renew stops its leader work [`STEP_DOWN_MARGIN_MS`] before its lease could expire;
//! another replica takes the lease at its first beat after it has expired, so a dead leader is
//! replaced within the lease plus a beat (4 s). Replicas' clocks are assumed within a second of
//! each other (NTP); the fencing token keeps a write safe even when they are not.

use super::{Caller, Service};
use crate::{Result, ServiceError};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use xc_types::api::cluster::{ClusterStatus, Replica};

/// How long a lease lasts after its latest renewal.
pub const LEASE_TTL_MS: i64 = 3_000;
/// How often a replica beats (and the leader renews).
pub const BEAT: Duration = Duration::from_secs(1);
/// A leader that has not renewed stops leading this long before its lease would expire.
const STEP_DOWN_MARGIN_MS: i64 = 1_000;
/// Replicas not heard from for this long are forgotten.
const FORGET_AFTER_MS: i64 = 3_600_000;

/// Whether this replica may run the leader's work, and under which fencing token.
#[derive(Debug)]
pub struct Leadership {
    /// This replica's id: random, new at each start.
    pub(crate) replica: String,
    leading: tokio::sync::watch::Sender<bool>,
    /// The lease's token while this replica leads under a lease; 0 without one.
    token: AtomicI64,
}

impl Leadership {
    /// Leading alone, without a lease: a service no other replica shares a database with
    /// (the tests' services) until [`Service::lead_by_lease`].
    pub(crate) fn sole() -> Self {
        Self {
            replica: uuid::Uuid::new_v4().to_string(),
            leading: tokio::sync::watch::channel(true).0,
            token: AtomicI64::new(0),
        }
    }

    pub fn is_leading(&self) -> bool {
        *self.leading.borrow()
    }

    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<bool> {
        self.leading.subscribe()
    }

    /// The replica and token a leader's write must still hold, when leading under a lease.
    pub(crate) fn fence(&self) -> Option<(String, i64)> {
        let token = self.token.load(Ordering::SeqCst);
        (token > 0).then(|| (self.replica.clone(), token))
    }

    fn lead(&self, token: i64) {
        let before = self.token.swap(token, Ordering::SeqCst);
        if before != token {
            tracing::info!(replica = %self.replica, token, "this replica leads");
        }
        self.leading
            .send_if_modified(|l| !std::mem::replace(l, true));
    }

    fn follow(&self) {
        let before = self.token.swap(0, Ordering::SeqCst);
        if before != 0 {
            tracing::warn!(replica = %self.replica, token = before, "this replica no longer leads");
        }
        self.leading
            .send_if_modified(|l| std::mem::replace(l, false));
    }
}

/// Milliseconds since the Unix epoch, by this machine's clock.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Service {
    /// From now on this replica leads only while it holds the lease: call before
    /// [`Service::run_lifecycle`], and run [`Service::run_membership`].
    pub fn lead_by_lease(&self) {
        self.leadership.follow();
    }

    /// Whether this replica runs the leader's work now.
    pub fn is_leading(&self) -> bool {
        self.leadership.is_leading()
    }

    /// This replica's id in `GET /v1/cluster`.
    pub fn replica_id(&self) -> &str {
        &self.leadership.replica
    }

    /// Beats once a second as the replica serving at `address`, taking or renewing the lease
    /// when it may, until `stop` turns true; then gives the lease up.
    pub async fn run_membership(
        self: std::sync::Arc<Self>,
        address: String,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let started_ms = now_ms();
        let mut latency_us = 0i64;
        let mut renewed: Option<Instant> = None;
        loop {
            let began = Instant::now();
            let now = now_ms();
            let row = xc_store::ReplicaRow {
                id: self.leadership.replica.clone(),
                address: address.clone(),
                started_ms,
                last_seen_ms: now,
                db_latency_us: latency_us,
            };
            // The heartbeat and the holder's renewal go beside the writers' queue and lock: a
            // renewal must not wait behind a burst of writes (under load, queued renewals once
            // cost the leader its lease). Taking the lease goes through the writers' lock, so it
            // never lands between a fenced write's check and its commit; it is tried only when the
            // lease is free or has expired, so a follower's beat never locks the lease's row.
            let beat = self
                .store
                .write_beside(move |db| {
                    db.heartbeat(&row, now - FORGET_AFTER_MS)?;
                    db.renew_lease(&row.id, now, LEASE_TTL_MS)
                })
                .await;
            latency_us = i64::try_from(began.elapsed().as_micros()).unwrap_or(i64::MAX);
            let result = match beat {
                Ok(None) => {
                    let id = self.leadership.replica.clone();
                    let free = self
                        .store
                        .read(|db| db.lease())
                        .await
                        .map(|l| l.is_none_or(|l| l.expires_ms < now_ms()));
                    match free {
                        Ok(true) => {
                            self.store
                                .write(move |db| db.claim_lease(&id, now_ms(), LEASE_TTL_MS))
                                .await
                        }
                        other => other.map(|_| None),
                    }
                }
                other => other,
            };
            match result {
                Ok(Some(token)) => {
                    renewed = Some(began);
                    self.leadership.lead(token);
                }
                Ok(None) => self.leadership.follow(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot beat or renew the lease");
                    let margin = Duration::from_millis((LEASE_TTL_MS - STEP_DOWN_MARGIN_MS) as u64);
                    if renewed.is_none_or(|t| t.elapsed() >= margin) {
                        self.leadership.follow();
                    }
                }
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(BEAT) => {}
            }
        }
        if self.leadership.is_leading() {
            let id = self.leadership.replica.clone();
            if let Err(e) = self.store.write(move |db| db.release_lease(&id)).await {
                tracing::warn!(error = %e, "cannot give the lease up; it expires by itself");
            }
        }
        self.leadership.follow();
    }

    /// The replicas, the leader and its lease (operator).
    pub async fn cluster_status(&self, caller: &Caller) -> Result<ClusterStatus> {
        if !caller.is_operator() {
            return Err(ServiceError::AccessDenied(
                "only the operator account may see the cluster".to_owned(),
            ));
        }
        let (replicas, lease) = self
            .store
            .read(|db| Ok::<_, ServiceError>((db.replicas()?, db.lease()?)))
            .await?;
        let now = now_ms();
        let lease = lease.filter(|l| l.expires_ms > now);
        let leader = lease.as_ref().map(|l| l.holder.clone());
        Ok(ClusterStatus {
            replicas: replicas
                .into_iter()
                .map(|r| Replica {
                    leader: leader.as_deref() == Some(r.id.as_str()),
                    last_seen: super::connections::fmt_time(r.last_seen_ms / 1000),
                    db_latency_ms: (r.db_latency_us as f64 / 10.0).round() / 100.0,
                    id: r.id,
                    address: r.address,
                })
                .collect(),
            lease_age_ms: lease.as_ref().map(|l| (now - l.renewed_ms).max(0)),
            lease_token: lease.as_ref().map(|l| l.token),
            leader,
        })
    }
}
