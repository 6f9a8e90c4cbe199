//! The lifecycle driver: moves connections through the states that need no caller.
//!
//! - `deleting` -> `deleted` (the data plane issue adds: once both gateways dropped the links);
//! - `updating` -> back to where it was, with the new bandwidth applied;
//! - `requested` past its key's expiry -> `failed` with `ACTIVATION_KEY_EXPIRED`;
//! - forgets clientTokens older than a day;
//! - the reconciler ([`reconcile`]): plans the links of accepted connections between the two
//!   attach points' gateways, and moves `pending`, `available` and `down` from what the
//!   gateways report.
//!
//! It wakes when a write leaves it work (`Service::work`) and at least once a second.

use crate::service::gateways::link_state;
use crate::service::{IDEMPOTENCY_SECS, Service};
use crate::{Result, ServiceError};
use std::sync::Arc;
use xc_types::gateway::{GatewayRecord, LinkRecord, MAX_LINK_ID};
use xc_types::{ConnectionState, ProductType, StateReason};

pub(crate) async fn run(service: Arc<Service>, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        match pass(&service).await {
            Ok(n) if n > 0 => service.config_changed(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "lifecycle pass failed; retrying"),
        }
        match reconcile(&service).await {
            Ok(true) => service.config_changed(),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "reconciler pass failed; retrying"),
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
                db.delete_links_of_connection(&c.id)?;
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

/// How long an accepted connection waits for gateways on both sides before it fails.
const NO_GATEWAY_TIMEOUT_SECS: i64 = 15 * 60;
/// Links per connection.
const MAX_LINKS: usize = 4;

/// Picks up to `MAX_LINKS` pairs of gateways (one per side), spreading them over gateways and
/// facilities so that losing one gateway or one facility leaves a link.
fn plan(
    a: &[GatewayRecord],
    b: &[GatewayRecord],
    existing: &[LinkRecord],
) -> Vec<(String, String)> {
    let mut links: Vec<(String, String)> = existing
        .iter()
        .map(|l| (l.gateway_a.clone(), l.gateway_b.clone()))
        .collect();
    let fac = |id: &str| {
        a.iter()
            .chain(b.iter())
            .find(|g| g.id == id)
            .and_then(|g| g.facility.clone())
    };
    let mut new = Vec::new();
    while links.len() < MAX_LINKS {
        let uses = |id: &str, links: &[(String, String)]| {
            links.iter().filter(|(x, y)| x == id || y == id).count()
        };
        let fac_uses = |f: &Option<String>, links: &[(String, String)]| {
            links
                .iter()
                .filter(|(x, y)| fac(x) == *f || fac(y) == *f)
                .count()
        };
        let best = a
            .iter()
            .flat_map(|ga| b.iter().map(move |gb| (ga, gb)))
            .filter(|(ga, gb)| !links.iter().any(|(x, y)| *x == ga.id && *y == gb.id))
            .min_by_key(|(ga, gb)| {
                (
                    uses(&ga.id, &links) + uses(&gb.id, &links),
                    fac_uses(&ga.facility, &links) + fac_uses(&gb.facility, &links),
                    ga.created_at,
                    gb.created_at,
                )
            });
        let Some((ga, gb)) = best else { break };
        links.push((ga.id.clone(), gb.id.clone()));
        new.push((ga.id.clone(), gb.id.clone()));
    }
    new
}

/// Picks provider edges for the free session slots of a last-mile connection: with two edges,
/// session `k` is always in the environment's `k`-th facility (so that the customer knows which
/// uplink carries which session; a slot waits for an edge there); with one, the first facility
/// is preferred but any will do. The longest-registered edge first; for each a tenant gateway,
/// spreading them.
fn plan_last_mile(
    tenant: &[GatewayRecord],
    edges: &[GatewayRecord],
    existing: &[LinkRecord],
    redundancy: u8,
    facilities: &[String],
) -> Vec<(String, String, u8)> {
    let mut links: Vec<(String, String, u8)> = existing
        .iter()
        .map(|l| (l.gateway_a.clone(), l.gateway_b.clone(), l.slot))
        .collect();
    let fac = |id: &str| {
        edges
            .iter()
            .find(|g| g.id == id)
            .and_then(|g| g.facility.clone())
    };
    let mut new = Vec::new();
    for slot in 0..redundancy {
        if links.iter().any(|(_, _, s)| *s == slot) {
            continue;
        }
        let used: Vec<Option<String>> = links.iter().map(|(_, e, _)| fac(e)).collect();
        let home = facilities.get(usize::from(slot));
        let Some(edge) = edges
            .iter()
            .filter(|e| !links.iter().any(|(_, x, _)| *x == e.id))
            .filter(|e| redundancy == 1 || home.is_none() || e.facility.as_ref() == home)
            .min_by_key(|e| {
                (
                    e.facility.as_ref() != home,
                    used.contains(&e.facility),
                    e.created_at,
                )
            })
        else {
            continue;
        };
        let Some(gw) = tenant.iter().min_by_key(|g| {
            (
                links.iter().filter(|(a, _, _)| *a == g.id).count(),
                g.created_at,
            )
        }) else {
            break;
        };
        links.push((gw.id.clone(), edge.id.clone(), slot));
        new.push((gw.id.clone(), edge.id.clone(), slot));
    }
    new
}

/// One reconciler pass; returns whether any gateway's configuration may have changed.
pub(crate) async fn reconcile(service: &Service) -> Result<bool> {
    let now = service.now();
    let facilities: std::collections::HashMap<String, Vec<String>> = service
        .catalog
        .environments()
        .iter()
        .map(|e| (e.id.to_string(), e.facilities.clone()))
        .collect();
    service
        .store
        .write(move |db| {
            let mut config = false;
            for state in [
                ConnectionState::Pending,
                ConnectionState::Available,
                ConnectionState::Down,
            ] {
                for mut c in db.connections_in_state(state)? {
                    let last_mile = c.id.product_type() == ProductType::LastMile
                        && c.remote_attach_point.is_none();
                    if !last_mile && c.remote_attach_point.is_none() {
                        continue;
                    }
                    let ga = db.gateways_of_attach_point(&c.owner_attach_point)?;
                    let gb = if last_mile {
                        let fac = facilities.get(c.environment.as_str()).cloned().unwrap_or_default();
                        db.list_gateways(None)?
                            .into_iter()
                            .filter(|g| {
                                g.attach_point.is_none()
                                    && g.access_interface.is_some()
                                    && g.facility.as_ref().is_some_and(|f| fac.contains(f))
                            })
                            .collect()
                    } else {
                        db.gateways_of_attach_point(&c.remote_attach_point.unwrap_or(c.owner_attach_point))?
                    };
                    let mut links = db.links_of_connection(&c.id)?;
                    // Links whose gateway is gone are dropped, and planned again below.
                    let before = links.len();
                    links.retain(|l| {
                        ga.iter().any(|g| g.id == l.gateway_a)
                            && gb.iter().any(|g| g.id == l.gateway_b)
                    });
                    if links.len() != before {
                        for l in db.links_of_connection(&c.id)? {
                            if !links.iter().any(|k| k.id == l.id) {
                                db.delete_link(l.id)?;
                            }
                        }
                        config = true;
                    }
                    let planned: Vec<(String, String, u8)> = match (&c.last_mile, last_mile) {
                        (_, false) => plan(&ga, &gb, &links)
                            .into_iter()
                            .map(|(a, b)| (a, b, 0))
                            .collect(),
                        (Some(lm), true) => plan_last_mile(
                            &ga,
                            &gb,
                            &links,
                            lm.redundancy,
                            facilities.get(c.environment.as_str()).map_or(&[][..], |f| &f[..]),
                        ),
                        (None, true) => Vec::new(),
                    };
                    for (a, b, slot) in planned {
                        let id = db.insert_link(&c.id, &a, &b, slot, now)?;
                        if id > MAX_LINK_ID {
                            db.delete_link(id)?;
                            break;
                        }
                        links.push(LinkRecord {
                            id,
                            connection_id: c.id.clone(),
                            gateway_a: a,
                            gateway_b: b,
                            created_at: now,
                            slot,
                        });
                        config = true;
                    }
                    let mut up = false;
                    let mut why: Option<(&'static str, String)> = None;
                    for l in &links {
                        let a = ga.iter().find(|g| g.id == l.gateway_a);
                        let b = gb.iter().find(|g| g.id == l.gateway_b);
                        match link_state(db, &c, l, a, b, now)? {
                            Ok(()) => up = true,
                            Err(e) => {
                                why.get_or_insert(e);
                            }
                        }
                    }
                    let (next, reason) = if up {
                        (ConnectionState::Available, None)
                    } else if last_mile && c.last_mile.is_none() {
                        let r = StateReason {
                            code: "SITE_NOT_CONFIGURED".into(),
                            message: "this last-mile connection was created without its on-premises site (the AWS API has no fields for it): create it through the native API or the xconnect CLI".into(),
                        };
                        (if c.state == ConnectionState::Pending { ConnectionState::Pending } else { ConnectionState::Down }, Some(r))
                    } else if links.is_empty() {
                        let r = if ga.is_empty() || !last_mile {
                            let side = if ga.is_empty() { "owner's" } else { "remote" };
                            StateReason {
                                code: "NO_GATEWAY_AVAILABLE".into(),
                                message: format!(
                                    "the {side} attach point has no registered gateway (xconnect gateway token create, then xconnect gateway run)"
                                ),
                            }
                        } else {
                            StateReason {
                                code: "NO_GATEWAY_AVAILABLE".into(),
                                message: format!(
                                    "no provider edge in the facilities of {} (xconnect gateway token create --facility F, then xconnect gateway run --access-interface IF)",
                                    c.environment
                                ),
                            }
                        };
                        if c.state == ConnectionState::Pending
                            && c.state_reason.as_ref().is_some_and(|x| x.code == r.code)
                            && now - c.updated_at > NO_GATEWAY_TIMEOUT_SECS
                        {
                            (ConnectionState::Failed, Some(r))
                        } else if c.state == ConnectionState::Pending {
                            (ConnectionState::Pending, Some(r))
                        } else {
                            (ConnectionState::Down, Some(r))
                        }
                    } else {
                        let (code, message) =
                            why.unwrap_or(("PROVISIONING", "links are being set up".into()));
                        let r = StateReason {
                            code: code.into(),
                            message,
                        };
                        if c.state == ConnectionState::Pending {
                            (ConnectionState::Pending, Some(r))
                        } else {
                            (ConnectionState::Down, Some(r))
                        }
                    };
                    if next != c.state || reason != c.state_reason {
                        if next != c.state {
                            tracing::info!(connection = %c.id, from = ?c.state, to = ?next, reason = ?reason.as_ref().map(|r| &r.code), "connection state");
                            config = true;
                        }
                        if next == ConnectionState::Failed {
                            db.delete_links_of_connection(&c.id)?;
                        }
                        c.state = next;
                        c.state_reason = reason;
                        c.updated_at = now;
                        db.update_connection(&c)?;
                    }
                }
            }
            Ok::<_, ServiceError>(config)
        })
        .await
}
