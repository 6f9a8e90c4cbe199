//! The reconciler: the control plane's background task. Each pass, it
//!
//! - moves connections through the states that need no caller ([`pass`]): `deleting` ->
//!   `deleted` (their links removed), `updating` -> back to where it was with the new bandwidth,
//!   `requested` past its key's expiry -> `failed` with `ACTIVATION_KEY_EXPIRED`; and forgets
//!   clientTokens older than a day, expired console sessions, metric minutes past their
//!   retention (15 days) and account events past theirs (30 days); a deleted connection's alarms
//!   go with it;
//! - reconciles the links of accepted connections ([`reconcile`]): reads a snapshot of the
//!   world with a read transaction, plans it with the pure [`crate::planner`] (off the store's
//!   writer thread), and writes only the difference in one transaction, each connection's part
//!   guarded by the snapshot it was planned from (a connection changed meanwhile is left for the
//!   next pass). New links take their numbers from the store's pools there.
//!
//! It wakes when a write leaves it work (`Service::work`) and at least once a second.
//!
//! ```text
//!  store (read) ──snapshot──► planner::plan (pure) ──Plan──► store (write): guard, remove, add
//!                                                                 (numbers from the pools), state
//! ```

use crate::intent::AttachPoints;
use crate::planner::{self, ConnectionPlan, LinkChange, Plan, World};
use crate::service::wakes::Scope;
use crate::service::{IDEMPOTENCY_SECS, Service};
use crate::{Result, ServiceError};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use xc_store::{Db, NewLink};
use xc_types::gateway::LinkRecord;
use xc_types::{
    AttachPointId, Connection, ConnectionId, ConnectionState, EnvironmentId, StateReasonCode,
};

pub(crate) async fn run(service: Arc<Service>, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let began = std::time::Instant::now();
        match pass(&service).await {
            Ok(n) if n > 0 => service.config_changed(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "lifecycle pass failed; retrying"),
        }
        match reconcile(&service).await {
            Ok(concerned) => service.config_changed_for(Scope::gateways(concerned)),
            Err(e) => tracing::warn!(error = %e, "reconciler pass failed; retrying"),
        }
        service.telemetry.reconciler.observe(began.elapsed());
        tokio::select! {
            _ = &mut shutdown => break,
            _ = service.work.notified() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// Refuses the write unless this replica still holds the lease under the token it leads with
/// (nothing to check for a service that leads alone).
fn still_leading(db: &Db<'_>, fence: Option<&(String, i64)>) -> Result<()> {
    if let Some((replica, token)) = fence {
        db.check_fence(replica, *token)?;
    }
    Ok(())
}

/// One pass; returns how many connections changed.
pub(crate) async fn pass(service: &Service) -> Result<usize> {
    let now = service.now();
    let fence = service.leadership.fence();
    service
        .store
        .write(move |db| {
            still_leading(db, fence.as_ref())?;
            let mut changed = 0;
            for mut c in db.connections_in_state(ConnectionState::Deleting)? {
                db.delete_links_of_connection(&c.id)?;
                // Its alarms could only ever say it has no data.
                db.delete_alarms_of_connection(&c.id)?;
                c.state = ConnectionState::Deleted;
                c.state_reason = c
                    .state_reason
                    .take()
                    .or(Some(StateReasonCode::Deleted.with("deleted")));
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
                    crate::service::provisioning_reason()
                } else {
                    StateReasonCode::AwaitingAcceptance
                        .with("waiting for the remote account to accept with the activation key")
                });
                c.updated_at = now;
                db.update_connection(&c)?;
                changed += 1;
            }
            for mut c in db.connections_in_state(ConnectionState::Requested)? {
                if c.grant.expires_at <= now {
                    c.state = ConnectionState::Failed;
                    c.state_reason =
                        Some(StateReasonCode::ActivationKeyExpired.with(
                            "the activation key expired before the remote account accepted it",
                        ));
                    c.updated_at = now;
                    db.update_connection(&c)?;
                    changed += 1;
                }
            }
            db.expire_idempotency(now - IDEMPOTENCY_SECS)?;
            db.expire_console_sessions(now)?;
            db.forget_minutes_before(now - crate::service::metrics::RETENTION_SECS)?;
            for (span, kept) in crate::service::metrics::ROLLUP_RETENTION_SECS {
                db.forget_rollups_before(span, now - kept)?;
            }
            db.forget_events_before(now - crate::service::events::EVENT_RETENTION_SECS)?;
            Ok::<_, ServiceError>(changed)
        })
        .await
}

/// The most connection plans (or link states) one write transaction of a pass carries.
const CHUNK: usize = 200;

/// The states whose links the planner looks after.
const PLANNED: [ConnectionState; 3] = [
    ConnectionState::Pending,
    ConnectionState::Available,
    ConnectionState::Down,
];

/// Reads what the planner looks at: the connections it plans, their attach points and links,
/// and every gateway. A handful of queries whatever the size of the world (each table read
/// once), not one per connection.
pub(crate) fn snapshot(
    db: &Db<'_>,
    now: i64,
    facilities: &BTreeMap<EnvironmentId, Vec<String>>,
) -> Result<World> {
    let mut connections = Vec::new();
    for state in PLANNED {
        connections.extend(db.connections_in_state(state)?);
    }
    let planned: HashSet<&ConnectionId> = connections.iter().map(|c| &c.id).collect();
    let referenced: HashSet<&AttachPointId> = connections
        .iter()
        .flat_map(|c| std::iter::once(&c.owner_attach_point).chain(&c.remote_attach_point))
        .collect();
    let attach_points: AttachPoints = db
        .all_attach_points()?
        .into_iter()
        .filter(|ap| referenced.contains(&ap.id))
        .map(|ap| (ap.id, ap))
        .collect();
    let links = db
        .all_links()?
        .into_iter()
        .filter(|l| planned.contains(&l.connection_id))
        .collect();
    Ok(World {
        now,
        connections,
        attach_points,
        gateways: db.list_gateways(None)?,
        links,
        facilities: facilities.clone(),
    })
}

/// What applying a plan did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Applied {
    /// The gateways whose configuration may have changed: those at either end of a link of a
    /// connection that changed (removed, kept or added; a gateway's configuration carries its
    /// connections' state and how many links share their bandwidth).
    pub concerned: BTreeSet<String>,
    /// Connections whose part was left for the next pass: they changed since the snapshot.
    pub skipped: usize,
}

/// One connection's part of a plan, with what the snapshot saw of it (the guard).
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub plan: ConnectionPlan,
    pub seen: Connection,
    pub links_seen: Vec<LinkRecord>,
}

/// Pairs each part of `plan` with what `world` saw of its connection: indexed once per pass,
/// outside the write transactions that apply it chunk by chunk.
pub(crate) fn planned(world: &World, plan: Plan) -> Vec<Planned> {
    let seen: HashMap<&ConnectionId, &Connection> =
        world.connections.iter().map(|c| (&c.id, c)).collect();
    let mut links_seen: HashMap<&ConnectionId, Vec<LinkRecord>> = HashMap::new();
    for l in &world.links {
        links_seen
            .entry(&l.connection_id)
            .or_default()
            .push(l.clone());
    }
    plan.connections
        .into_iter()
        .filter_map(|p| {
            let seen = (*seen.get(&p.connection)?).clone();
            let links_seen = links_seen.remove(&p.connection).unwrap_or_default();
            Some(Planned {
                plan: p,
                seen,
                links_seen,
            })
        })
        .collect()
}

/// Writes parts of a plan made from `world`. Each connection's part is applied only if the
/// connection and its links are still as the snapshot had them.
pub(crate) fn apply(db: &Db<'_>, world: &World, planned: &[Planned]) -> Result<Applied> {
    let mut out = Applied::default();
    for Planned {
        plan: p,
        seen,
        links_seen,
    } in planned
    {
        let now = db.get_connection(&p.connection)?;
        let links_now = db.links_of_connection(&p.connection)?;
        if now.as_ref() != Some(seen) || links_now != *links_seen {
            out.skipped += 1;
            continue;
        }
        if apply_connection(db, world, seen, p)? {
            let ends = links_seen
                .iter()
                .flat_map(|l| [&l.gateway_a, &l.gateway_b])
                .chain(p.add.iter().flat_map(|l| [&l.gateway_a, &l.gateway_b]));
            out.concerned.extend(ends.cloned());
        }
    }
    Ok(out)
}

/// One connection's part of a plan; returns whether a gateway's configuration may change.
fn apply_connection(
    db: &Db<'_>,
    world: &World,
    c: &Connection,
    p: &ConnectionPlan,
) -> Result<bool> {
    let mut config = false;
    for id in &p.remove {
        db.delete_link(*id)?;
        config = true;
    }
    let mut exhausted = None;
    for l in &p.add {
        let new = NewLink {
            connection: c.id.clone(),
            gateway_a: l.gateway_a.clone(),
            gateway_b: l.gateway_b.clone(),
            slot: l.slot,
            created_at: world.now,
        };
        match db.insert_link(&new)? {
            Ok(_) => config = true,
            Err(pool) => {
                tracing::warn!(connection = %c.id, gateway_a = %l.gateway_a, gateway_b = %l.gateway_b, pool = pool.as_str(), "no number left for a link");
                exhausted.get_or_insert((l, pool));
            }
        }
    }
    let mut state = p.state.clone();
    if let Some((l, pool)) = exhausted {
        // A link that could not be numbered: say so, unless the connection is carried anyway.
        let current = state.as_ref().map_or(c.state, |(s, _)| *s);
        if current != ConnectionState::Available && current != ConnectionState::Failed {
            let name = |id: &str| {
                world
                    .gateways
                    .iter()
                    .find(|g| g.id == id)
                    .map_or(id.to_owned(), |g| g.name.clone())
            };
            let reason = StateReasonCode::AddressPoolExhausted.with(format!(
                "gateways {} and {} have no {} left in common: remove links they no longer need",
                name(&l.gateway_a),
                name(&l.gateway_b),
                pool.describe()
            ));
            state = (Some(&reason) != c.state_reason.as_ref()).then_some((current, Some(reason)));
        }
    }
    if let Some((next, reason)) = state {
        if next != c.state {
            tracing::info!(connection = %c.id, from = ?c.state, to = ?next, reason = ?reason.as_ref().map(|r| r.code), "connection state");
            config = true;
        }
        let mut c = c.clone();
        c.state = next;
        c.state_reason = reason;
        c.updated_at = world.now;
        db.update_connection(&c)?;
    }
    Ok(config)
}

/// One reconciler pass; returns the gateways whose configuration may have changed.
pub(crate) async fn reconcile(service: &Service) -> Result<BTreeSet<String>> {
    let now = service.now();
    let facilities: BTreeMap<EnvironmentId, Vec<String>> = service
        .catalog
        .environments()
        .iter()
        .map(|e| (e.id.clone(), e.facilities.clone()))
        .collect();
    let (world, recorded) = service
        .store
        .read(move |db| Ok::<_, ServiceError>((snapshot(db, now, &facilities)?, db.link_states()?)))
        .await?;
    let plan = planner::plan(&world);
    let links = planner::link_changes(&world, &recorded);
    if plan.is_empty() && links.is_empty() {
        return Ok(BTreeSet::new());
    }
    // Written in transactions of at most `CHUNK` changes, each checking the lease again: on
    // PostgreSQL a write transaction holds the replicas' write lock, which the other replicas'
    // writes and this leader's lease renewals wait for, so a pass that changes thousands of
    // connections (a partition that made thousands of gateways stale) must not hold it for
    // seconds. Each connection's part stands alone (guarded by its snapshot), so nothing
    // depends on the chunks being one.
    let world = Arc::new(world);
    let mut applied = Applied::default();
    let links: Vec<Vec<LinkChange>> = links.chunks(CHUNK).map(<[_]>::to_vec).collect();
    for chunk in links {
        let (world, fence) = (world.clone(), service.leadership.fence());
        service
            .store
            .write(move |db| {
                still_leading(db, fence.as_ref())?;
                // Each link's state as judged from this snapshot (a link's change of state is
                // an event).
                for l in &chunk {
                    db.set_link_state(l.link, l.state, l.reason.as_ref(), world.now)?;
                }
                Ok::<_, ServiceError>(())
            })
            .await?;
    }
    let planned = planned(&world, plan);
    let plans: Vec<Vec<Planned>> = planned.chunks(CHUNK).map(<[_]>::to_vec).collect();
    for chunk in plans {
        let (world, fence) = (world.clone(), service.leadership.fence());
        let done = service
            .store
            .write(move |db| {
                still_leading(db, fence.as_ref())?;
                apply(db, &world, &chunk)
            })
            .await?;
        applied.concerned.extend(done.concerned);
        applied.skipped += done.skipped;
    }
    if applied.skipped > 0 {
        // Planned from a world that moved on: look again soon.
        service.work.notify_one();
    }
    Ok(applied.concerned)
}

#[cfg(test)]
mod tests;
