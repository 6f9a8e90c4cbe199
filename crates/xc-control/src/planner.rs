//! The planner: from a snapshot of the world (accepted connections, attach points, gateways with
//! their facilities and last reports, links), the links each connection should have and the
//! state and reason each connection should show. Pure: no store, no clock (`now` is in the
//! snapshot), no randomness; the reconciler (`reconciler.rs`) reads the snapshot, calls
//! [`plan`], and writes the difference.
//!
//! The rules:
//! - a multicloud connection has up to [`MAX_LINKS`] links, each between a gateway of each
//!   attach point, spread over gateways and then facilities so that losing one leaves a link;
//! - a last-mile connection has one link per customer session, from a tenant gateway to a
//!   provider edge (a gateway of one of the environment's facilities with a customer-facing
//!   interface); with two sessions, session `k` is always on an edge of the environment's `k`-th
//!   facility;
//! - a link whose gateway is no longer registered is removed (and planned again elsewhere);
//!   links are never moved otherwise, so planning an unchanged world changes nothing;
//! - a connection is `available` while one of its links is up, else `pending` (never up yet) or
//!   `down`, with the first reason found; `pending` without any gateway for
//!   [`NO_GATEWAY_TIMEOUT_SECS`] becomes `failed`.
//!
//! What it deliberately does not do: choose numbers. A link's VNI, port and addresses come from
//! the store's pools when it is written.

use crate::intent::{self, AttachPoints};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use xc_types::gateway::{
    BgpState, GatewayRecord, GatewayStatus, LinkId, LinkRecord, LinkState, LinkStatus, MkaState,
    NeighborStatus, PathMtuState,
};
use xc_types::*;

/// Links per connection.
pub const MAX_LINKS: usize = 4;
/// How long an accepted connection waits for gateways on both sides before it fails.
pub const NO_GATEWAY_TIMEOUT_SECS: i64 = 15 * 60;
/// A gateway that has not been heard from for this long is not counted on.
pub const STALE_SECS: i64 = 30;

/// What the planner looks at.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub now: i64,
    /// The connections to plan: accepted, in `pending`, `available` or `down`.
    pub connections: Vec<Connection>,
    pub attach_points: AttachPoints,
    pub gateways: Vec<GatewayRecord>,
    /// The links of those connections.
    pub links: Vec<LinkRecord>,
    /// Each environment's facilities, in the catalog's order.
    pub facilities: BTreeMap<EnvironmentId, Vec<String>>,
}

/// A link to create: between which gateways, carrying which customer session.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlannedLink {
    pub gateway_a: String,
    pub gateway_b: String,
    pub slot: u8,
}

/// What changes for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionPlan {
    pub connection: ConnectionId,
    /// Links to remove (their gateway is gone, or the connection failed).
    pub remove: Vec<LinkId>,
    pub add: Vec<PlannedLink>,
    /// The state and reason to show, when they change.
    pub state: Option<(ConnectionState, Option<StateReason>)>,
}

impl ConnectionPlan {
    fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.add.is_empty() && self.state.is_none()
    }
}

/// The difference between the world and what it should be: only connections that change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub connections: Vec<ConnectionPlan>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }
}

/// The world's gateways looked up by id and by attach point, built once per plan so that
/// planning is linear in the world's size (20,000 connections over 5,000 gateways in
/// `bench/scale`), not a product of its parts.
struct Index<'a> {
    gateways: HashMap<&'a str, &'a GatewayRecord>,
    /// Each attach point's gateways, in the world's order.
    of_attach_point: HashMap<&'a AttachPointId, Vec<&'a GatewayRecord>>,
}

impl<'a> Index<'a> {
    fn new(w: &'a World) -> Self {
        let mut of_attach_point: HashMap<&AttachPointId, Vec<&GatewayRecord>> = HashMap::new();
        for g in &w.gateways {
            if let Some(ap) = &g.attach_point {
                of_attach_point.entry(ap).or_default().push(g);
            }
        }
        Index {
            gateways: w.gateways.iter().map(|g| (g.id.as_str(), g)).collect(),
            of_attach_point,
        }
    }

    fn gateway(&self, id: &str) -> Option<&'a GatewayRecord> {
        self.gateways.get(id).copied()
    }

    fn of_attach_point(&self, ap: &AttachPointId) -> Vec<&'a GatewayRecord> {
        self.of_attach_point.get(ap).cloned().unwrap_or_default()
    }
}

/// Plans every connection of the world.
pub fn plan(w: &World) -> Plan {
    let index = Index::new(w);
    let mut links: HashMap<&ConnectionId, Vec<&LinkRecord>> = HashMap::new();
    for l in &w.links {
        links.entry(&l.connection_id).or_default().push(l);
    }
    Plan {
        connections: w
            .connections
            .iter()
            .map(|c| plan_connection(w, &index, c, links.get(&c.id).map_or(&[][..], |v| &v[..])))
            .filter(|p| !p.is_empty())
            .collect(),
    }
}

fn is_live(g: &GatewayRecord, now: i64) -> bool {
    g.last_contact.is_some_and(|t| now - t <= STALE_SECS)
}

/// The gateways that can carry each side of a connection: the two attach points' (the owner's
/// first), or for last mile the provider edges in the environment's facilities.
fn candidates<'a>(
    w: &'a World,
    index: &Index<'a>,
    c: &Connection,
) -> Option<(Vec<&'a GatewayRecord>, Vec<&'a GatewayRecord>)> {
    let a = index.of_attach_point(&c.owner_attach_point);
    if let Some(remote) = &c.remote_attach_point {
        return Some((a, index.of_attach_point(remote)));
    }
    if c.id.product_type() != ProductType::LastMile {
        return None; // not accepted: nothing to plan
    }
    let facilities = w.facilities.get(&c.environment);
    let edges = w
        .gateways
        .iter()
        .filter(|g| {
            g.attach_point.is_none()
                && g.access_interface.is_some()
                && g.facility
                    .as_ref()
                    .is_some_and(|f| facilities.is_some_and(|fs| fs.contains(f)))
        })
        .collect();
    Some((a, edges))
}

fn plan_connection<'a>(
    w: &'a World,
    index: &Index<'a>,
    c: &Connection,
    existing: &[&LinkRecord],
) -> ConnectionPlan {
    let mut p = ConnectionPlan {
        connection: c.id.clone(),
        remove: Vec::new(),
        add: Vec::new(),
        state: None,
    };
    let Some((ga, gb)) = candidates(w, index, c) else {
        return p;
    };
    let find = |list: &[&GatewayRecord], id: &str| list.iter().any(|g| g.id == id);
    // Links whose gateway is gone are dropped, and planned again below.
    let (kept, gone): (Vec<&LinkRecord>, Vec<&LinkRecord>) = existing
        .iter()
        .partition(|l| find(&ga, &l.gateway_a) && find(&gb, &l.gateway_b));
    p.remove = gone.iter().map(|l| l.id).collect();
    let last_mile = c.remote_attach_point.is_none();
    p.add = match (&c.last_mile, last_mile) {
        (_, false) => pick_links(&ga, &gb, &kept, w.now),
        (Some(lm), true) => pick_edges(
            &ga,
            &gb,
            &kept,
            lm.redundancy,
            w.facilities.get(&c.environment).map_or(&[][..], |f| &f[..]),
            w.now,
        ),
        (None, true) => Vec::new(),
    };
    // How the connection stands: the links it keeps, and the new ones (not up yet: judged as
    // they will be until their gateways report them, so that the next pass agrees).
    let gateway = |id: &str| index.gateway(id);
    let mut up = false;
    let mut why: Option<StateReason> = None;
    for l in &kept {
        match link_health(
            &w.attach_points,
            c,
            l,
            gateway(&l.gateway_a),
            gateway(&l.gateway_b),
            w.now,
        ) {
            Ok(()) => up = true,
            Err(e) => {
                why.get_or_insert(e);
            }
        }
    }
    for l in &p.add {
        let (a, b) = (gateway(&l.gateway_a), gateway(&l.gateway_b));
        let r = gateway_health(a, w.now)
            .and_then(|_| Err(not_configured(a, b)))
            .unwrap_or_else(|e| e);
        why.get_or_insert(r);
    }
    let pending_or_down = |r: StateReason| {
        if c.state == ConnectionState::Pending {
            (ConnectionState::Pending, Some(r))
        } else {
            (ConnectionState::Down, Some(r))
        }
    };
    let (next, reason) = if up {
        (ConnectionState::Available, None)
    } else if last_mile && c.last_mile.is_none() {
        pending_or_down(StateReasonCode::SiteNotConfigured.with(
            "this last-mile connection was created without its on-premises site (the AWS API has no fields for it): create it through the native API or the xconnect CLI",
        ))
    } else if kept.is_empty() && p.add.is_empty() {
        let r = no_gateway(c, ga.is_empty() || !last_mile, ga.is_empty());
        let waited_out = c.state == ConnectionState::Pending
            && c.state_reason.as_ref().is_some_and(|x| x.code == r.code)
            && w.now - c.updated_at > NO_GATEWAY_TIMEOUT_SECS;
        if waited_out {
            (ConnectionState::Failed, Some(r))
        } else {
            pending_or_down(r)
        }
    } else {
        pending_or_down(
            why.unwrap_or_else(|| StateReasonCode::Provisioning.with("links are being set up")),
        )
    };
    if next == ConnectionState::Failed {
        // A failed connection keeps no link.
        p.remove.extend(kept.iter().map(|l| l.id));
        p.add.clear();
    }
    if next != c.state || reason != c.state_reason {
        p.state = Some((next, reason));
    }
    p
}

/// Why a connection has no link at all.
fn no_gateway(c: &Connection, attach_point_side: bool, owner_missing: bool) -> StateReason {
    if attach_point_side {
        let side = if owner_missing { "owner's" } else { "remote" };
        StateReasonCode::NoGatewayAvailable.with(format!(
            "the {side} attach point has no registered gateway (xconnect gateway token create, then xconnect gateway run)"
        ))
    } else {
        StateReasonCode::NoGatewayAvailable.with(format!(
            "no provider edge in the facilities of {} (xconnect gateway token create --facility F, then xconnect gateway run --access-interface IF)",
            c.environment
        ))
    }
}

/// Picks new pairs of gateways (one per side) until the connection has [`MAX_LINKS`], spreading
/// them over gateways and then facilities so that losing one gateway or one facility leaves a
/// link; gateways in contact before silent ones, then the longest registered.
fn pick_links(
    a: &[&GatewayRecord],
    b: &[&GatewayRecord],
    existing: &[&LinkRecord],
    now: i64,
) -> Vec<PlannedLink> {
    let mut links: Vec<(&str, &str)> = existing
        .iter()
        .map(|l| (l.gateway_a.as_str(), l.gateway_b.as_str()))
        .collect();
    let facility = |id: &str| {
        a.iter()
            .chain(b.iter())
            .find(|g| g.id == id)
            .and_then(|g| g.facility.as_deref())
    };
    let mut new = Vec::new();
    while links.len() < MAX_LINKS {
        let uses = |id: &str, links: &[(&str, &str)]| {
            links.iter().filter(|(x, y)| *x == id || *y == id).count()
        };
        let facility_uses = |f: Option<&str>, links: &[(&str, &str)]| {
            links
                .iter()
                .filter(|(x, y)| facility(x) == f || facility(y) == f)
                .count()
        };
        let best = a
            .iter()
            .flat_map(|ga| b.iter().map(move |gb| (*ga, *gb)))
            .filter(|(ga, gb)| !links.contains(&(ga.id.as_str(), gb.id.as_str())))
            .min_by_key(|(ga, gb)| {
                (
                    uses(&ga.id, &links) + uses(&gb.id, &links),
                    facility_uses(ga.facility.as_deref(), &links)
                        + facility_uses(gb.facility.as_deref(), &links),
                    !is_live(ga, now) as u8 + !is_live(gb, now) as u8,
                    ga.created_at,
                    gb.created_at,
                    ga.id.as_str(),
                    gb.id.as_str(),
                )
            });
        let Some((ga, gb)) = best else { break };
        links.push((&ga.id, &gb.id));
        new.push(PlannedLink {
            gateway_a: ga.id.clone(),
            gateway_b: gb.id.clone(),
            slot: 0,
        });
    }
    new
}

/// Picks provider edges for the free session slots of a last-mile connection: with two edges,
/// session `k` is always in the environment's `k`-th facility (so that the customer knows which
/// uplink carries which session; a slot waits for an edge there); with one, the first facility
/// is preferred but any will do. The longest-registered edge first; for each a tenant gateway,
/// spreading them.
fn pick_edges(
    tenant: &[&GatewayRecord],
    edges: &[&GatewayRecord],
    existing: &[&LinkRecord],
    redundancy: u8,
    facilities: &[String],
    now: i64,
) -> Vec<PlannedLink> {
    let mut links: Vec<(&str, &str, u8)> = existing
        .iter()
        .map(|l| (l.gateway_a.as_str(), l.gateway_b.as_str(), l.slot))
        .collect();
    let facility = |id: &str| {
        edges
            .iter()
            .find(|g| g.id == id)
            .and_then(|g| g.facility.as_deref())
    };
    let mut new = Vec::new();
    for slot in 0..redundancy {
        if links.iter().any(|(_, _, s)| *s == slot) {
            continue;
        }
        let used: BTreeSet<Option<&str>> = links.iter().map(|(_, e, _)| facility(e)).collect();
        let home = facilities.get(usize::from(slot)).map(String::as_str);
        let Some(edge) = edges
            .iter()
            .filter(|e| !links.iter().any(|(_, x, _)| *x == e.id))
            .filter(|e| redundancy == 1 || home.is_none() || e.facility.as_deref() == home)
            .min_by_key(|e| {
                (
                    e.facility.as_deref() != home,
                    used.contains(&e.facility.as_deref()),
                    !is_live(e, now),
                    e.created_at,
                    e.id.as_str(),
                )
            })
        else {
            continue;
        };
        let Some(gw) = tenant.iter().min_by_key(|g| {
            (
                links.iter().filter(|(a, _, _)| *a == g.id).count(),
                !is_live(g, now),
                g.created_at,
                g.id.as_str(),
            )
        }) else {
            break;
        };
        links.push((&gw.id, &edge.id, slot));
        new.push(PlannedLink {
            gateway_a: gw.id.clone(),
            gateway_b: edge.id.clone(),
            slot,
        });
    }
    new
}

/// A link whose state is not the one recorded: what to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkChange {
    pub link: LinkId,
    pub state: LinkState,
    pub reason: Option<StateReason>,
}

/// The links of the planned connections whose state (up, or down and why) is not what
/// `recorded` holds (a link not recorded yet is recorded as it is).
pub fn link_changes(
    w: &World,
    recorded: &BTreeMap<LinkId, (LinkState, Option<StateReasonCode>)>,
) -> Vec<LinkChange> {
    let index = Index::new(w);
    let gateway = |id: &str| index.gateway(id);
    let connections: HashMap<&ConnectionId, &Connection> =
        w.connections.iter().map(|c| (&c.id, c)).collect();
    let mut out = Vec::new();
    for l in &w.links {
        let Some(c) = connections.get(&l.connection_id).copied() else {
            continue;
        };
        let health = link_health(
            &w.attach_points,
            c,
            l,
            gateway(&l.gateway_a),
            gateway(&l.gateway_b),
            w.now,
        );
        let (state, reason) = match health {
            Ok(()) => (
                LinkState::Up,
                link_warning(l, gateway(&l.gateway_a), gateway(&l.gateway_b)),
            ),
            Err(r) => (LinkState::Down, Some(r)),
        };
        if recorded.get(&l.id) != Some(&(state, reason.as_ref().map(|r| r.code))) {
            out.push(LinkChange {
                link: l.id,
                state,
                reason,
            });
        }
    }
    out
}

/// What the user of a link that is up should still know: an end whose underlay drops packets
/// of the link's full size, so that the link carries smaller ones (`PATH_MTU_REDUCED`).
pub fn link_warning(
    l: &LinkRecord,
    a: Option<&GatewayRecord>,
    b: Option<&GatewayRecord>,
) -> Option<StateReason> {
    [a, b].into_iter().flatten().find_map(|g| {
        let ls = link_report(g.status.as_ref()?, l)?;
        (ls.path_mtu.state == PathMtuState::Reduced).then(|| {
            StateReasonCode::PathMtuReduced.with(format!(
                "link {} on gateway {}: the underlay drops packets of the link's full MTU ({} bytes); the link's MTU is {}",
                l.name(),
                g.name,
                ls.path_mtu.configured,
                ls.mtu
            ))
        })
    })
}

/// Whether a link carries its connection (both ends up, and in last mile its customer session
/// up), or why not: the first problem found, owner's end first.
pub fn link_health(
    aps: &AttachPoints,
    c: &Connection,
    l: &LinkRecord,
    a: Option<&GatewayRecord>,
    b: Option<&GatewayRecord>,
    now: i64,
) -> Result<(), StateReason> {
    let ea = intent::expects_prefixes(aps, c, l, false);
    let eb = intent::expects_prefixes(aps, c, l, true);
    let ra = end_health(a, b, l, intent::link_peer(c, l, false), ea, now);
    let rb = end_health(b, a, l, intent::link_peer(c, l, true), eb, now);
    let rc = match intent::site(c) {
        Some(lm) => customer_health(lm, l, if lm.layer == 2 { a } else { b }),
        None => Ok(()),
    };
    // Without its customer session an edge has no on-premises routes to pass on: the tenant's
    // end then receives none, and the customer session is the reason to show.
    let ra = match (ra, &rc) {
        (Err(r), Err(_)) if r.code == StateReasonCode::NoRoutesReceived => Ok(()),
        (r, _) => r,
    };
    // A link that carries IPv6 does so over its second session: down, the IPv6 prefixes do not
    // cross, and the link says so.
    let ra6 = session6_health(a, l, intent::link_peer6(aps, c, l, false));
    let rb6 = session6_health(b, l, intent::link_peer6(aps, c, l, true));
    ra.and(rb).and(rc).and(ra6).and(rb6)
}

/// The IPv6 session of a link's end (when the link carries IPv6: `peer` given).
fn session6_health(
    g: Option<&GatewayRecord>,
    l: &LinkRecord,
    peer: Option<IpAddr>,
) -> Result<(), StateReason> {
    let Some(peer) = peer else {
        return Ok(());
    };
    let at = g.map_or("?", |g| g.name.as_str());
    established(
        g.and_then(|g| g.status.as_ref()),
        peer,
        StateReasonCode::BgpNotEstablished,
        &format!(
            "link {} on gateway {at}: the IPv6 session with {peer}",
            l.name()
        ),
    )
    .map(|_| ())
}

/// The BGP session with `peer` in a gateway's report when it is Established, or why it is not
/// (`code`, and `what` naming the session).
fn established<'a>(
    st: Option<&'a GatewayStatus>,
    peer: IpAddr,
    code: StateReasonCode,
    what: &str,
) -> Result<&'a NeighborStatus, StateReason> {
    let n = st
        .and_then(|s| s.bgp.as_ref())
        .and_then(|b| b.neighbors.iter().find(|n| same_ip(&n.address, peer)));
    match n {
        Some(n) if n.state == BgpState::Established => Ok(n),
        Some(n) => Err(code.with(format!(
            "{what}: BGP {}{}",
            n.state,
            n.problem().map(|e| format!(" ({e})")).unwrap_or_default()
        ))),
        None => Err(code.with(format!("{what}: no BGP session yet"))),
    }
}

/// The customer session of a last-mile link, on the gateway that runs it.
fn customer_health(
    lm: &LastMile,
    l: &LinkRecord,
    g: Option<&GatewayRecord>,
) -> Result<(), StateReason> {
    let Some(session) = lm.sessions.get(usize::from(l.slot)) else {
        return Err(StateReasonCode::SiteNotConfigured.with("the link has no customer session"));
    };
    let at = g.map_or("?", |g| g.name.as_str());
    // Each of its sessions (IPv4, and IPv6 when the site carries it) must be up.
    for (_, addr) in session.sessions() {
        established(
            g.and_then(|g| g.status.as_ref()),
            addr,
            StateReasonCode::CustomerBgpNotEstablished,
            &format!(
                "the customer router {addr} (AS {}) on {at}, VLAN {}",
                lm.customer_asn, lm.vlan
            ),
        )?;
    }
    Ok(())
}

/// Whether a reported address is `ip`.
fn same_ip(reported: &str, ip: IpAddr) -> bool {
    reported.parse::<IpAddr>().is_ok_and(|r| r == ip)
}

/// The link as a gateway reports it: by its name, and its id (for gateways that report it), so
/// that a link that reuses an old link's numbers is never judged by the old link's report.
pub fn link_report<'a>(st: &'a GatewayStatus, link: &LinkRecord) -> Option<&'a LinkStatus> {
    let name = link.name();
    st.links
        .iter()
        .find(|s| s.name == name && s.id.is_none_or(|id| id == link.id))
}

/// Whether a gateway is there and reporting: its last report, or why there is none to go by.
fn gateway_health(g: Option<&GatewayRecord>, now: i64) -> Result<&GatewayStatus, StateReason> {
    let Some(g) = g else {
        return Err(StateReasonCode::NoGatewayAvailable
            .with("a gateway of this link is no longer registered"));
    };
    if !is_live(g, now) {
        return Err(StateReasonCode::GatewayUnreachable.with(format!(
            "gateway {} has not reported for over {STALE_SECS} s",
            g.name
        )));
    }
    g.status.as_ref().ok_or_else(|| {
        StateReasonCode::GatewayUnreachable.with(format!("gateway {} has not reported yet", g.name))
    })
}

/// A link that gateway `g` does not run (yet), towards gateway `other`.
fn not_configured(g: Option<&GatewayRecord>, other: Option<&GatewayRecord>) -> StateReason {
    let name = |g: Option<&GatewayRecord>| g.map_or("?", |g| g.name.as_str()).to_owned();
    StateReasonCode::LinkNotConfigured.with(format!(
        "gateway {} has not set up its link to {} yet",
        name(g),
        name(other)
    ))
}

/// What makes a link end `up`, or why it is not.
pub(crate) fn end_health(
    g: Option<&GatewayRecord>,
    other: Option<&GatewayRecord>,
    link: &LinkRecord,
    peer: Option<IpAddr>,
    expects_prefixes: bool,
    now: i64,
) -> Result<(), StateReason> {
    let st = gateway_health(g, now)?;
    let g = g.ok_or_else(|| not_configured(g, other))?;
    let name = link.name();
    let Some(ls) = link_report(st, link) else {
        return Err(not_configured(Some(g), other));
    };
    if ls.mka.state != MkaState::Secured {
        let code = if ls.mka.condition.is_some_and(|c| c.is_key_mismatch()) {
            StateReasonCode::MacsecKeyMismatch
        } else {
            StateReasonCode::MacsecNotSecured
        };
        return Err(code.with(format!(
            "link {name} on gateway {}: MACsec {}{}",
            g.name,
            ls.mka.state,
            ls.mka
                .condition
                .map(|c| format!(" ({})", c.describe()))
                .unwrap_or_default()
        )));
    }
    let Some(peer) = peer else {
        return Ok(()); // a layer 2 edge: nothing routed here
    };
    let n = established(
        Some(st),
        peer,
        StateReasonCode::BgpNotEstablished,
        &format!("link {name} on gateway {}", g.name),
    )?;
    if expects_prefixes && n.prefixes_accepted == 0 {
        return Err(StateReasonCode::NoRoutesReceived.with(format!(
            "link {name} on gateway {}: BGP up, no prefixes accepted",
            g.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
