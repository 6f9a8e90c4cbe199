//! What each side of a connection wants from its links, worked out from the connection and its
//! attach points alone (pure): the prefixes it announces and accepts, and whom a link end peers
//! with. The gateways' configuration (`service/gateways.rs`) and the planner's judgement of a
//! link (`planner.rs`) both read it, so the two cannot disagree.

use std::collections::BTreeMap;
use std::net::IpAddr;
use xc_types::gateway::LinkRecord;
use xc_types::*;

/// The attach points a decision may look at, by id.
pub(crate) type AttachPoints = BTreeMap<AttachPointId, AttachPoint>;

/// The prefixes a side announces, and those it accepts from the other.
pub(crate) fn announce_and_accept(
    own_ap: &AttachPoint,
    own_routing: &RoutingPolicy,
    other_ap: &AttachPoint,
    other_routing: &RoutingPolicy,
) -> (Vec<Prefix>, Vec<Prefix>) {
    let announce = match own_routing {
        RoutingPolicy::Automatic {} => own_ap.prefixes.clone(),
        RoutingPolicy::Manual { announce, .. } => announce.clone(),
    };
    let accept = match own_routing {
        RoutingPolicy::Manual { accept, .. } => accept.clone(),
        RoutingPolicy::Automatic {} => match other_routing {
            RoutingPolicy::Automatic {} => other_ap.prefixes.clone(),
            RoutingPolicy::Manual { announce, .. } => announce.clone(),
        },
    };
    (announce, accept)
}

/// Both attach points and routing policies of an accepted multicloud connection, from side A's
/// or B's view: (own attach point, own policy, other attach point, other policy).
pub(crate) fn sides<'a>(
    aps: &'a AttachPoints,
    c: &'a Connection,
    is_b: bool,
) -> Option<(
    &'a AttachPoint,
    &'a RoutingPolicy,
    &'a AttachPoint,
    &'a RoutingPolicy,
)> {
    let (Some(remote_ap), Some(remote_routing)) = (&c.remote_attach_point, &c.remote_routing)
    else {
        return None;
    };
    let (a, b) = (aps.get(&c.owner_attach_point)?, aps.get(remote_ap)?);
    Some(if is_b {
        (b, remote_routing, a, &c.owner_routing)
    } else {
        (a, &c.owner_routing, b, remote_routing)
    })
}

/// A last-mile connection's tenant side: what it announces and what it accepts from the site
/// (automatic: the declared on-premises prefixes).
pub(crate) fn last_mile_routes(
    owner_ap: &AttachPoint,
    c: &Connection,
    lm: &LastMile,
) -> (Vec<Prefix>, Vec<Prefix>) {
    match &c.owner_routing {
        RoutingPolicy::Automatic {} => (owner_ap.prefixes.clone(), lm.on_premises_prefixes.clone()),
        RoutingPolicy::Manual { announce, accept } => (announce.clone(), accept.clone()),
    }
}

/// A last-mile connection's site, when the connection is one (its remote side is a provider,
/// without an attach point).
pub(crate) fn site(c: &Connection) -> Option<&LastMile> {
    match (&c.last_mile, &c.remote_attach_point) {
        (Some(lm), None) => Some(lm),
        _ => None,
    }
}

/// The BGP neighbour a link's end peers with over it: the other end, or in last mile layer 2
/// the customer router (and none on the edge, which only bridges).
pub(crate) fn link_peer(c: &Connection, l: &LinkRecord, is_b: bool) -> Option<IpAddr> {
    match site(c) {
        Some(lm) if lm.layer == 2 => {
            if is_b {
                None
            } else {
                lm.sessions
                    .get(usize::from(l.slot))
                    .map(|s| s.customer_address)
            }
        }
        _ => Some(IpAddr::V4(l.address(!is_b).addr())),
    }
}

/// Whether a multicloud connection between these attach points carries IPv6: one of them has
/// an IPv6 prefix. Its links then have a second BGP session, between their IPv6 addresses.
pub(crate) fn carries_ipv6(a: &AttachPoint, b: &AttachPoint) -> bool {
    a.prefixes
        .iter()
        .chain(&b.prefixes)
        .any(|p| p.net().addr().is_ipv6())
}

/// Whether a last-mile site carries IPv6: it has an IPv6 prefix or an IPv6 session address.
/// Each of its customer sessions then has an IPv6 session too (or is one), and each link
/// between the tenant's gateway and an edge (layer 3) a second BGP session between the link's
/// IPv6 addresses.
pub(crate) fn site_carries_ipv6(lm: &LastMile) -> bool {
    lm.on_premises_prefixes
        .iter()
        .any(|p| p.net().addr().is_ipv6())
        || lm
            .sessions
            .iter()
            .any(|s| s.sessions().any(|(p, _)| p.addr().is_ipv6()))
}

/// The address of the IPv6 session's peer at a link's end, when the link carries IPv6: the
/// other end's, or in last mile layer 2 the customer router's IPv6 session (and none on the
/// edge, which only bridges).
pub(crate) fn link_peer6(
    aps: &AttachPoints,
    c: &Connection,
    l: &LinkRecord,
    is_b: bool,
) -> Option<IpAddr> {
    if let Some(lm) = site(c) {
        if !site_carries_ipv6(lm) {
            return None;
        }
        return if lm.layer == 2 {
            (!is_b)
                .then(|| lm.sessions.get(usize::from(l.slot)))
                .flatten()
                .and_then(|s| s.customer_address6)
        } else {
            Some(IpAddr::V6(l.address6(!is_b).addr()))
        };
    }
    let a = aps.get(&c.owner_attach_point)?;
    let b = aps.get(c.remote_attach_point.as_ref()?)?;
    carries_ipv6(a, b).then(|| IpAddr::V6(l.address6(!is_b).addr()))
}

/// Whether a link's end expects prefixes from its (first) BGP neighbour: prefixes it accepts
/// of that session's family (IPv6 ones come over the IPv6 session).
pub(crate) fn expects_prefixes(
    aps: &AttachPoints,
    c: &Connection,
    l: &LinkRecord,
    is_b: bool,
) -> bool {
    let Some(peer) = link_peer(c, l, is_b) else {
        return false;
    };
    let accepted = if let Some(lm) = site(c) {
        let Some(ap) = aps.get(&c.owner_attach_point) else {
            return false;
        };
        let (tenant_announce, tenant_accept) = last_mile_routes(ap, c, lm);
        // The edge accepts the tenant's prefixes from the tenant's gateway.
        if is_b { tenant_announce } else { tenant_accept }
    } else {
        match sides(aps, c, is_b) {
            Some((oa, or, xa, xr)) => announce_and_accept(oa, or, xa, xr).1,
            None => return false,
        }
    };
    accepted
        .iter()
        .any(|p| p.net().addr().is_ipv4() == peer.is_ipv4())
}
