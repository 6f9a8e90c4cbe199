//! The lifecycle driver: moves connections through the states that need no caller.
//!
//! - `deleting` -> `deleted` (the data plane issue adds: once both gateways dropped the links);
//! - `updating` -> back to where it was, with the new bandwidth applied;
//! - `requested` past its key's expiry -> `failed` with `ACTIVATION_KEY_EXPIRED`;
//! - forgets clientTokens older than a day.
//!
//! It wakes when a write leaves it work (`Service::work`) and at least once a second.

use crate::service::{IDEMPOTENCY_SECS, Service};
use crate::{Result, ServiceError};
use std::sync::Arc;
use xc_types::{ConnectionState, StateReason};

pub(crate) async fn run(service: Arc<Service>, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        if let Err(e) = pass(&service).await {
            tracing::warn!(error = %e, "lifecycle pass failed; retrying");
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = service.work.notified() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// One pass; returns how many connections changed.
pub(crate) async fn pass(service: &Service) -> Result<usize> {
    let now = service.now();
    service
        .store
        .write(move |db| {
            let mut changed = 0;
            for mut c in db.connections_in_state(ConnectionState::Deleting)? {
                c.state = ConnectionState::Deleted;
                c.state_reason = c.state_reason.take().or(Some(StateReason {
                    code: "DELETED".into(),
                    message: "deleted".into(),
                }));
                c.updated_at = now;
                db.update_connection(&c)?;
                changed += 1;
            }
            for mut c in db.connections_in_state(ConnectionState::Updating)? {
                if let Some(bw) = c.pending_bandwidth.take() {
                    c.bandwidth = bw;
                }
                // Until gateways carry it, an accepted connection waits in `pending`.
                c.state = if c.remote_account.is_some() {
                    ConnectionState::Pending
                } else {
                    ConnectionState::Requested
                };
                c.state_reason = Some(if c.remote_account.is_some() {
                    crate::service::provisioning_reason_pub()
                } else {
                    StateReason {
                        code: "AWAITING_ACCEPTANCE".into(),
                        message: "waiting for the remote account to accept with the activation key"
                            .into(),
                    }
                });
                c.updated_at = now;
                db.update_connection(&c)?;
                changed += 1;
            }
            for mut c in db.connections_in_state(ConnectionState::Requested)? {
                if c.grant.expires_at <= now {
                    c.state = ConnectionState::Failed;
                    c.state_reason = Some(StateReason {
                        code: "ACTIVATION_KEY_EXPIRED".into(),
                        message: "the activation key expired before the remote account accepted it"
                            .into(),
                    });
                    c.updated_at = now;
                    db.update_connection(&c)?;
                    changed += 1;
                }
            }
            db.expire_idempotency(now - IDEMPOTENCY_SECS)?;
            Ok::<_, ServiceError>(changed)
        })
        .await
}
