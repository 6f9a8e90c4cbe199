//! The speaker's status snapshot: the protocol crates' states as the status types report them,
//! and the snapshot the admin endpoint and the control plane read.

use super::Installed;
use super::instance::Speaker;
use crate::status::{
    BfdDiag, BfdState, BfdStatus, BgpState, NeighborStatus, RouteStatus, RoutingStatus,
};
use std::sync::Mutex;
use std::time::Instant;
use xc_bgp::session::State;

/// Routes listed in the status (all are counted).
const STATUS_ROUTES: usize = 1000;

pub fn bgp_state(s: State) -> BgpState {
    match s {
        State::Idle => BgpState::Idle,
        State::Connect => BgpState::Connect,
        State::OpenSent => BgpState::OpenSent,
        State::OpenConfirm => BgpState::OpenConfirm,
        State::Established => BgpState::Established,
    }
}

pub fn bfd_state(s: xc_bfd::State) -> BfdState {
    match s {
        xc_bfd::State::AdminDown => BfdState::AdminDown,
        xc_bfd::State::Down => BfdState::Down,
        xc_bfd::State::Init => BfdState::Init,
        xc_bfd::State::Up => BfdState::Up,
    }
}

pub fn bfd_diag(d: xc_bfd::Diag) -> BfdDiag {
    use xc_bfd::Diag;
    match d {
        Diag::None => BfdDiag::None,
        Diag::ControlDetectionTimeExpired => BfdDiag::ControlDetectionTimeExpired,
        Diag::EchoFailed => BfdDiag::EchoFailed,
        Diag::NeighborSignaledDown => BfdDiag::NeighborSignaledDown,
        Diag::ForwardingPlaneReset => BfdDiag::ForwardingPlaneReset,
        Diag::PathDown => BfdDiag::PathDown,
        Diag::ConcatenatedPathDown => BfdDiag::ConcatenatedPathDown,
        Diag::AdministrativelyDown => BfdDiag::AdministrativelyDown,
        Diag::ReverseConcatenatedPathDown => BfdDiag::ReverseConcatenatedPathDown,
        Diag::Other => BfdDiag::Other,
    }
}

/// Writes the speaker's state into its status snapshot (the routes in the kernel are added
/// when it is read).
pub(super) fn publish(sp: &Speaker, now: Instant) {
    let neighbors = sp
        .neighbors
        .values()
        .map(|n| {
            let s = n.peer.session();
            let c = s.counters();
            NeighborStatus {
                address: n.cfg.address.to_string(),
                remote_asn: n.cfg.remote_asn,
                state: bgp_state(s.state()),
                uptime_secs: n
                    .established_since
                    .map(|t| now.saturating_duration_since(t).as_secs()),
                peer_router_id: s.peer_router_id().map(|r| r.to_string()),
                hold_time_secs: s.negotiated_hold_time().as_secs(),
                prefixes_received: s.prefixes_received(),
                prefixes_accepted: s.prefixes_accepted(),
                prefixes_sent: s.prefixes_sent(),
                prefixes_refused_total: c.refused,
                refused_prefixes: s
                    .refused_prefixes()
                    .take(20)
                    .map(|p| p.to_string())
                    .collect(),
                stale_routes: s.stale_routes(),
                updates_received: c.updates_received,
                updates_sent: c.updates_sent,
                treated_as_withdraw: c.treated_as_withdraw,
                established_transitions: c.established_transitions,
                md5: n.cfg.md5_password.is_some(),
                last_error: n.last_error.clone(),
                connect_error: n.connect_error.clone(),
                bfd: n.bfd.as_ref().map(|b| BfdStatus {
                    state: bfd_state(b.state()),
                    diag: bfd_diag(b.diag()),
                    local_discriminator: b.local_discriminator(),
                    interval_ms: n.cfg.bfd_interval_ms,
                    multiplier: n.cfg.bfd_multiplier,
                    up_transitions: n.bfd_up,
                    down_transitions: n.bfd_down,
                }),
            }
        })
        .collect();
    if let Ok(mut st) = sp.status.lock() {
        st.asn = sp.cfg.asn;
        st.router_id = sp.cfg.router_id.to_string();
        st.announced = sp.cfg.announce.iter().map(|p| p.to_string()).collect();
        st.neighbors = neighbors;
        st.loc_rib = sp.rib.len();
    }
}

/// The last snapshot, with the routes in the kernel now.
pub fn snapshot(status: &Mutex<RoutingStatus>, installed: &Installed) -> RoutingStatus {
    let mut st = status.lock().map(|s| s.clone()).unwrap_or_default();
    if let Ok(routes) = installed.lock() {
        st.routes_installed = routes.len();
        st.routes = routes
            .iter()
            .take(STATUS_ROUTES)
            .map(|(p, h)| RouteStatus {
                prefix: p.to_string(),
                next_hops: h.iter().map(|h| h.to_string()).collect(),
            })
            .collect();
    }
    st
}
