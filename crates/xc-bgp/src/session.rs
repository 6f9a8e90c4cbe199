//! One BGP session (RFC 4271 section 8), sans-IO. The driver owns the TCP connection: it reports
//! the connection coming up (outgoing or accepted) or failing and the bytes read, writes what
//! [`Session::poll_transmit`] returns, and obeys [`Action`]s (connect, close). Time is an argument.
//!
//! What it does:
//! - the FSM from Idle to Established with the ConnectRetry, Hold and Keepalive timers; OPEN
//!   checks (peer AS, router id, 4-octet AS); the negotiated hold time and address families;
//! - the Adj-RIB-In through the import policy ([`ImportFilter`]), with AS_PATH loop detection,
//!   local preference from the 7224:7x00 communities, a max-prefix limit that closes the session
//!   with Cease / Maximum Number of Prefixes Reached, and RFC 7606 treat-as-withdraw;
//! - the Adj-RIB-Out: the driver says what to export ([`Session::set_exports`]); the session sends
//!   the differences, packed into as few UPDATEs as fit, the whole table when the session comes up
//!   (then End-of-RIB) and again when the peer asks with ROUTE-REFRESH;
//! - graceful restart (RFC 4724) as receiving speaker: when a peer that announced the capability
//!   loses its connection without a NOTIFICATION, its routes are kept as stale until it comes back
//!   and sends End-of-RIB, or its restart time runs out; as restarting speaker it announces the
//!   Restart State and Forwarding State bits when the driver says it kept its forwarding state.
//!
//! Routes learned are reported as [`Event`]s; the driver feeds them to the Loc-RIB.

use crate::message::codes::{CapabilityCode, CeaseSubcode, ErrorCode, OpenSubcode, UpdateSubcode};
use crate::message::{
    AFI_IPV4, AFI_IPV6, AsPathSegment, Attribute, Capability, DecodeError, Message, Notification,
    Open, Origin, SAFI_UNICAST, Update,
};
pub use crate::policy::ImportFilter;
use crate::policy::local_pref_from_communities;
use crate::rib::{AsPath, PathAttrs};
use ipnet::{IpNet, Ipv4Net};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Idle,
    Connect,
    OpenSent,
    OpenConfirm,
    Established,
}

impl std::fmt::Display for State {
    /// The RFC 4271 name of the state, which is the variant's name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub local_asn: u32,
    pub router_id: Ipv4Addr,
    pub remote_asn: u32,
    pub hold_time: Duration,
    pub connect_retry: Duration,
    pub import: ImportFilter,
    pub max_prefixes: usize,
    /// Extra copies of the local ASN put on the AS_PATH of every exported route, to make this
    /// session's routes less preferred by the peer.
    pub prepend: u8,
    /// The restart time announced with the graceful restart capability; `None` disables graceful
    /// restart (stale routes are then never kept).
    pub graceful_restart: Option<Duration>,
    /// This speaker restarted and kept its forwarding state: announce Restart State and the
    /// Forwarding State bit for each family.
    pub restarting: bool,
    /// Never connect; only accept the peer's connections (so that two speakers that both
    /// connect do not collide).
    pub passive: bool,
}

impl Config {
    pub fn new(local_asn: u32, router_id: Ipv4Addr, remote_asn: u32) -> Self {
        Self {
            local_asn,
            router_id,
            remote_asn,
            hold_time: Duration::from_secs(90),
            connect_retry: Duration::from_secs(5),
            import: ImportFilter::Any,
            max_prefixes: 100,
            prepend: 0,
            graceful_restart: Some(Duration::from_secs(120)),
            restarting: false,
            passive: false,
        }
    }
}

/// What the driver must do with the TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Connect,
    /// Close after writing what was queued (a NOTIFICATION, usually).
    Close,
}

/// A learned route: the prefix, its next hop and its path attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub prefix: IpNet,
    pub next_hop: IpAddr,
    pub attrs: Arc<PathAttrs>,
}

/// What this speaker exports for one prefix. The local ASN (and its prepends) goes in front of
/// `as_path`, which is empty for a prefix this speaker originates; the next hop is this end's
/// address on the session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExportAttrs {
    pub as_path: Vec<u32>,
    pub origin: Origin,
    pub communities: Vec<u32>,
}

impl ExportAttrs {
    /// A prefix this speaker originates.
    pub fn originated() -> Arc<Self> {
        Arc::new(Self {
            as_path: Vec::new(),
            origin: Origin::Igp,
            communities: Vec::new(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    StateChange {
        from: State,
        to: State,
    },
    /// Accepted routes, added or replaced.
    Routes(Vec<Route>),
    /// Prefixes no longer reachable through this peer.
    Withdrawn(Vec<IpNet>),
    /// A prefix refused by the import filter (counted, not installed).
    Refused(IpNet),
    /// An UPDATE with a malformed attribute whose prefixes were withdrawn (RFC 7606).
    TreatedAsWithdraw(DecodeError),
    /// The peer went away without a NOTIFICATION and restarts gracefully: its routes are kept,
    /// stale, until it is back or its restart time runs out.
    GracefulRestart {
        stale: usize,
        restart_time: Duration,
    },
    NotificationSent(Notification),
    NotificationReceived(Notification),
}

/// What the peer announced in its OPEN.
#[derive(Debug, Clone, Default)]
struct PeerCaps {
    families: Vec<u16>,
    route_refresh: bool,
    /// Restart time and the families with their Forwarding State bit.
    graceful_restart: Option<(Duration, Vec<(u16, bool)>)>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    pub updates_received: u64,
    pub updates_sent: u64,
    /// Prefixes refused by the import filter, since the session was created.
    pub refused: u64,
    pub treated_as_withdraw: u64,
    pub established_transitions: u64,
}

/// How many refused prefixes are remembered (the counter has them all).
const REFUSED_KEPT: usize = 1000;
/// UPDATEs are packed up to the maximum message size (RFC 4271 4.1).
const MAX_MESSAGE: usize = 4096;
/// How many waiting prefixes an UPDATE looks through for others that can go with it.
const PACK_LOOKAHEAD: usize = 4096;
/// Control messages queued at most; a KEEPALIVE is not added to a longer queue (the messages in
/// it keep the session alive as well, once the peer reads them).
const MAX_CONTROL_QUEUE: usize = 16;

#[derive(Debug)]
pub struct Session {
    cfg: Config,
    state: State,
    buf: Vec<u8>,
    negotiated_hold: Duration,
    hold_at: Option<Instant>,
    keepalive_at: Option<Instant>,
    retry_at: Option<Instant>,
    peer_router_id: Option<Ipv4Addr>,
    peer: PeerCaps,
    rib_in: BTreeMap<IpNet, Route>,
    refused_now: BTreeSet<IpNet>,
    stale: BTreeSet<IpNet>,
    stale_until: Option<Instant>,
    /// Idle until then after the prefix limit was exceeded.
    idle_until: Option<Instant>,
    /// Families whose End-of-RIB the peer sent in this session.
    eor_received: Vec<u16>,
    next_hop_v4: Option<Ipv4Addr>,
    next_hop_v6: Option<Ipv6Addr>,
    exports: BTreeMap<IpNet, Arc<ExportAttrs>>,
    adj_out: BTreeMap<IpNet, Arc<ExportAttrs>>,
    /// Prefixes whose export differs from what the peer was sent.
    dirty: BTreeSet<IpNet>,
    /// Families whose End-of-RIB follows the table.
    eor_pending: Vec<u16>,
    counters: Counters,
    transmit: VecDeque<Vec<u8>>,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
}

/// How long a session stays Idle after closing on the prefix limit (as "maximum-prefix restart"
/// does on other routers), refusing the peer's connections.
pub const MAX_PREFIX_HOLD: Duration = Duration::from_secs(10);

/// Hold time used while waiting for the peer's OPEN (RFC 4271 8: "a large value", 4 minutes).
const LARGE_HOLD: Duration = Duration::from_secs(240);

fn family(p: &IpNet) -> u16 {
    match p {
        IpNet::V4(_) => AFI_IPV4,
        IpNet::V6(_) => AFI_IPV6,
    }
}

/// Bytes of a prefix in NLRI encoding.
fn nlri_len(p: &IpNet) -> usize {
    1 + usize::from(p.prefix_len()).div_ceil(8)
}

fn v4(prefixes: &[IpNet]) -> Vec<Ipv4Net> {
    prefixes
        .iter()
        .filter_map(|p| if let IpNet::V4(n) = p { Some(*n) } else { None })
        .collect()
}

impl Session {
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg,
            state: State::Idle,
            buf: Vec::new(),
            negotiated_hold: Duration::ZERO,
            hold_at: None,
            keepalive_at: None,
            retry_at: None,
            peer_router_id: None,
            peer: PeerCaps::default(),
            rib_in: BTreeMap::new(),
            refused_now: BTreeSet::new(),
            stale: BTreeSet::new(),
            stale_until: None,
            idle_until: None,
            eor_received: Vec::new(),
            next_hop_v4: None,
            next_hop_v6: None,
            exports: BTreeMap::new(),
            adj_out: BTreeMap::new(),
            dirty: BTreeSet::new(),
            eor_pending: Vec::new(),
            counters: Counters::default(),
            transmit: VecDeque::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    /// The peer's BGP identifier, once its OPEN was received.
    pub fn peer_router_id(&self) -> Option<Ipv4Addr> {
        self.peer_router_id
    }
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.rib_in.values()
    }
    /// Prefixes the peer announces now (accepted or refused).
    pub fn prefixes_received(&self) -> usize {
        self.rib_in.len() + self.refused_now.len()
    }
    pub fn prefixes_accepted(&self) -> usize {
        self.rib_in.len()
    }
    /// Prefixes the peer announces now that the import filter refused (up to 1000 of them).
    pub fn refused_prefixes(&self) -> impl Iterator<Item = &IpNet> {
        self.refused_now.iter()
    }
    pub fn prefixes_sent(&self) -> usize {
        self.adj_out.len()
    }
    /// Whether the peer announced the graceful restart capability in this session.
    pub fn peer_graceful_restart(&self) -> bool {
        self.peer.graceful_restart.is_some()
    }
    /// Whether the peer has sent its whole table: End-of-RIB for every negotiated family.
    pub fn end_of_rib_received(&self) -> bool {
        self.state == State::Established
            && self
                .peer
                .families
                .iter()
                .all(|f| self.eor_received.contains(f))
    }
    pub fn stale_routes(&self) -> usize {
        self.stale.len()
    }
    pub fn counters(&self) -> Counters {
        self.counters
    }
    pub fn refused(&self) -> u64 {
        self.counters.refused
    }
    pub fn negotiated_hold_time(&self) -> Duration {
        self.negotiated_hold
    }
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.hold_at,
            self.keepalive_at,
            self.retry_at,
            self.stale_until,
            self.idle_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn set_state(&mut self, to: State) {
        if to != self.state {
            let from = self.state;
            self.state = to;
            if to == State::Established {
                self.counters.established_transitions += 1;
            }
            self.events.push_back(Event::StateChange { from, to });
        }
    }

    /// ManualStart: begin connecting (and accept incoming connections).
    pub fn start(&mut self, now: Instant) {
        if self.state == State::Idle {
            self.set_state(State::Connect);
            if !self.cfg.passive {
                self.actions.push_back(Action::Connect);
                self.retry_at = Some(now + self.cfg.connect_retry);
            }
        }
    }

    /// ManualStop: Cease / Administrative Shutdown, and no reconnecting.
    pub fn stop(&mut self, now: Instant) {
        self.idle_until = None;
        if matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            self.notify(
                now,
                Notification::cease(CeaseSubcode::AdministrativeShutdown),
            );
        } else {
            self.actions.push_back(Action::Close);
            self.drop_session(now, false);
        }
        self.retry_at = None;
        self.set_state(State::Idle);
    }

    /// This speaker's OPEN, as sent on every connection.
    pub fn open_message(&self) -> Vec<u8> {
        let mut capabilities = vec![
            Capability::Multiprotocol {
                afi: AFI_IPV4,
                safi: SAFI_UNICAST,
            },
            Capability::Multiprotocol {
                afi: AFI_IPV6,
                safi: SAFI_UNICAST,
            },
            Capability::RouteRefresh,
            Capability::FourOctetAs(self.cfg.local_asn),
        ];
        if let Some(t) = self.cfg.graceful_restart {
            let f = self.cfg.restarting;
            capabilities.push(Capability::GracefulRestart {
                restarting: f,
                time: t.as_secs().min(4095) as u16,
                families: vec![(AFI_IPV4, SAFI_UNICAST, f), (AFI_IPV6, SAFI_UNICAST, f)],
            });
        }
        Message::Open(Open {
            version: 4,
            asn: self.cfg.local_asn,
            hold_time: self.cfg.hold_time.as_secs().min(65535) as u16,
            router_id: self.cfg.router_id,
            capabilities,
        })
        .encode()
    }

    /// The TCP connection is up (ours or one the peer opened): send OPEN.
    pub fn connected(&mut self, now: Instant) {
        if self.state != State::Connect {
            return;
        }
        let open = self.open_message();
        self.transmit.push_back(open);
        self.connected_after_open(now);
    }

    /// The TCP connection is up and the driver already sent [`Session::open_message`] on it
    /// (a second connection during a collision, RFC 4271 6.8, which must answer the peer's
    /// OPEN before the collision can be decided).
    pub fn connected_after_open(&mut self, now: Instant) {
        if self.state != State::Connect {
            return;
        }
        self.retry_at = None;
        self.buf.clear();
        self.hold_at = Some(now + LARGE_HOLD);
        self.set_state(State::OpenSent);
    }

    /// The TCP connection failed or closed without a NOTIFICATION: a peer that supports graceful
    /// restart keeps its routes, stale, for its restart time.
    pub fn disconnected(&mut self, now: Instant) {
        if self.state == State::Idle {
            return;
        }
        let graceful = self.state == State::Established;
        self.drop_session(now, graceful);
    }

    /// Closes the session because its liveness detection failed (BFD went down): Cease / BFD
    /// Down (RFC 9384), routes withdrawn at once.
    pub fn liveness_lost(&mut self, now: Instant) {
        if matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            self.notify(now, Notification::cease(CeaseSubcode::BfdDown));
        }
    }

    fn withdraw_all(&mut self) {
        self.stale.clear();
        self.stale_until = None;
        self.refused_now.clear();
        if !self.rib_in.is_empty() {
            let gone: Vec<IpNet> = self.rib_in.keys().copied().collect();
            self.rib_in.clear();
            self.events.push_back(Event::Withdrawn(gone));
        }
    }

    fn drop_session(&mut self, now: Instant, graceful: bool) {
        let restart = self
            .peer
            .graceful_restart
            .as_ref()
            .map(|(t, _)| *t)
            .filter(|_| graceful && self.cfg.graceful_restart.is_some());
        match restart {
            Some(t) if !self.rib_in.is_empty() && !t.is_zero() => {
                self.stale = self.rib_in.keys().copied().collect();
                self.stale_until = Some(now + t);
                self.refused_now.clear();
                self.events.push_back(Event::GracefulRestart {
                    stale: self.stale.len(),
                    restart_time: t,
                });
            }
            _ => self.withdraw_all(),
        }
        self.adj_out.clear();
        self.dirty.clear();
        self.eor_pending.clear();
        self.eor_received.clear();
        self.peer_router_id = None;
        self.hold_at = None;
        self.keepalive_at = None;
        self.buf.clear();
        self.set_state(State::Connect);
        self.retry_at = (!self.cfg.passive).then(|| now + self.cfg.connect_retry);
    }

    fn notify(&mut self, now: Instant, n: Notification) {
        self.transmit
            .push_back(Message::Notification(n.clone()).encode());
        self.events.push_back(Event::NotificationSent(n));
        self.actions.push_back(Action::Close);
        self.drop_session(now, false);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.idle_until.is_some_and(|t| now >= t) {
            self.idle_until = None;
            self.start(now);
        }
        if self.retry_at.is_some_and(|t| now >= t) && self.state == State::Connect {
            self.actions.push_back(Action::Connect);
            self.retry_at = Some(now + self.cfg.connect_retry);
        }
        if self.stale_until.is_some_and(|t| now >= t) {
            self.sweep_stale(None);
        }
        if self.hold_at.is_some_and(|t| now >= t) {
            self.notify(
                now,
                Notification::new(ErrorCode::HoldTimerExpired, 0, Vec::new()),
            );
            return;
        }
        if let Some(k) = self.keepalive_at
            && now >= k
        {
            if self.transmit.len() < MAX_CONTROL_QUEUE {
                self.transmit.push_back(Message::Keepalive.encode());
            }
            self.keepalive_at = Some(now + self.negotiated_hold / 3);
        }
    }

    /// Withdraws the stale routes of one family (or all).
    fn sweep_stale(&mut self, afi: Option<u16>) {
        let gone: Vec<IpNet> = self
            .stale
            .iter()
            .filter(|p| afi.is_none_or(|a| family(p) == a))
            .copied()
            .collect();
        for p in &gone {
            self.stale.remove(p);
            self.rib_in.remove(p);
        }
        if self.stale.is_empty() {
            self.stale_until = None;
        }
        if !gone.is_empty() {
            self.events.push_back(Event::Withdrawn(gone));
        }
    }

    /// Bytes read from the TCP connection (any amount; messages are reassembled).
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        if !matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            return;
        }
        self.buf.extend_from_slice(bytes);
        let mut at = 0;
        loop {
            let rest = &self.buf[at..];
            let len = match Message::peek_len(rest) {
                Ok(Some(l)) if rest.len() >= l => l,
                Ok(_) => break,
                Err(e) => return self.decode_error(now, e),
            };
            let decoded = Message::decode(&rest[..len]);
            at += len;
            match decoded {
                Ok(m) => self.handle_message(now, m),
                Err(e) => return self.decode_error(now, e),
            }
            if self.state == State::Connect || self.state == State::Idle {
                return; // the session was dropped while handling
            }
        }
        self.buf.drain(..at);
    }

    fn decode_error(&mut self, now: Instant, e: DecodeError) {
        self.notify(now, e.to_notification());
    }

    fn handle_message(&mut self, now: Instant, m: Message) {
        match (self.state, m) {
            (_, Message::Notification(n)) => {
                self.events.push_back(Event::NotificationReceived(n));
                self.actions.push_back(Action::Close);
                self.drop_session(now, false);
            }
            (State::OpenSent, Message::Open(o)) => self.handle_open(now, o),
            (State::OpenConfirm, Message::Keepalive) => {
                self.set_state(State::Established);
                self.restart_hold(now);
                self.send_table();
            }
            (State::Established, Message::Keepalive) => self.restart_hold(now),
            (State::Established, Message::Update(u)) => {
                self.restart_hold(now);
                self.counters.updates_received += 1;
                self.handle_update(now, u);
            }
            (State::Established, Message::RouteRefresh(r)) => {
                self.restart_hold(now);
                if r.safi == SAFI_UNICAST && self.negotiated(r.afi) {
                    self.adj_out.retain(|p, _| family(p) != r.afi);
                    self.sync_out();
                }
            }
            // Anything else is a Finite State Machine Error (RFC 6608 subcodes left at 0).
            _ => self.notify(
                now,
                Notification::new(ErrorCode::FiniteStateMachine, 0, Vec::new()),
            ),
        }
    }

    fn restart_hold(&mut self, now: Instant) {
        if !self.negotiated_hold.is_zero() {
            self.hold_at = Some(now + self.negotiated_hold);
        }
    }

    fn handle_open(&mut self, now: Instant, o: Open) {
        if o.asn != self.cfg.remote_asn {
            return self.notify(
                now,
                Notification::open_error(OpenSubcode::BadPeerAs, Vec::new()),
            );
        }
        if o.router_id == self.cfg.router_id {
            return self.notify(
                now,
                Notification::open_error(OpenSubcode::BadBgpIdentifier, Vec::new()),
            );
        }
        let four_octet = o
            .capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)));
        if !four_octet {
            // This speaker encodes AS_PATH with 4-octet numbers only.
            let mut data = vec![CapabilityCode::FourOctetAs.into(), 4];
            data.extend_from_slice(&self.cfg.local_asn.to_be_bytes());
            return self.notify(
                now,
                Notification::open_error(OpenSubcode::UnsupportedCapability, data),
            );
        }
        let theirs = Duration::from_secs(u64::from(o.hold_time));
        self.negotiated_hold = self.cfg.hold_time.min(theirs);
        let mut peer = PeerCaps::default();
        for c in &o.capabilities {
            match c {
                Capability::Multiprotocol { afi, safi } if *safi == SAFI_UNICAST => {
                    peer.families.push(*afi)
                }
                Capability::RouteRefresh => peer.route_refresh = true,
                Capability::GracefulRestart { time, families, .. } => {
                    peer.graceful_restart = Some((
                        Duration::from_secs(u64::from(*time)),
                        families
                            .iter()
                            .filter(|(_, s, _)| *s == SAFI_UNICAST)
                            .map(|(a, _, f)| (*a, *f))
                            .collect(),
                    ))
                }
                _ => {}
            }
        }
        if !o
            .capabilities
            .iter()
            .any(|c| matches!(c, Capability::Multiprotocol { .. }))
        {
            peer.families.push(AFI_IPV4); // RFC 4760 8: IPv4 unicast is implied
        }
        // A restarting peer that did not keep forwarding state for a family: its stale routes
        // of that family are no good (RFC 4724 4.2).
        if !self.stale.is_empty() {
            for afi in [AFI_IPV4, AFI_IPV6] {
                let kept = peer
                    .graceful_restart
                    .as_ref()
                    .is_some_and(|(_, f)| f.iter().any(|(a, fwd)| *a == afi && *fwd));
                if !kept {
                    self.sweep_stale(Some(afi));
                }
            }
        }
        self.peer = peer;
        self.peer_router_id = Some(o.router_id);
        self.transmit.push_back(Message::Keepalive.encode());
        if self.negotiated_hold.is_zero() {
            self.hold_at = None;
            self.keepalive_at = None;
        } else {
            self.hold_at = Some(now + self.negotiated_hold);
            self.keepalive_at = Some(now + self.negotiated_hold / 3);
        }
        self.set_state(State::OpenConfirm);
    }

    /// Whether both ends announced a family.
    fn negotiated(&self, afi: u16) -> bool {
        self.peer.families.contains(&afi)
    }

    fn handle_update(&mut self, now: Instant, u: Update) {
        let mut withdrawn: Vec<IpNet> = u.withdrawn.iter().map(|n| IpNet::V4(*n)).collect();
        let mut next_hop: Option<IpAddr> = None;
        let mut as_path = AsPath::new();
        let mut origin = None;
        let mut has_as_path = false;
        let mut looped = false;
        let mut med = None;
        let mut communities = Vec::new();
        let mut reach: Vec<(IpNet, Option<IpAddr>)> =
            u.nlri.iter().map(|n| (IpNet::V4(*n), None)).collect();
        let mut end_of_rib = u.withdrawn.is_empty() && u.nlri.is_empty() && u.attributes.is_empty();
        let mut eor_afi = AFI_IPV4;
        for a in &u.attributes {
            match a {
                Attribute::Origin(o) => origin = Some(*o),
                Attribute::NextHop(nh) => next_hop = Some(IpAddr::V4(*nh)),
                Attribute::AsPath(segs) => {
                    has_as_path = true;
                    for s in segs {
                        match s {
                            AsPathSegment::Sequence(v) => as_path.extend_from_slice(v),
                            // A set counts as one hop (RFC 4271 9.1.2.2).
                            AsPathSegment::Set(v) => as_path.extend(v.first().copied()),
                        }
                        let (AsPathSegment::Sequence(v) | AsPathSegment::Set(v)) = s;
                        looped |= v.contains(&self.cfg.local_asn);
                    }
                }
                Attribute::Med(m) => med = Some(*m),
                Attribute::Communities(c) => communities.clone_from(c),
                Attribute::MpReach {
                    afi,
                    next_hops,
                    nlri,
                    ..
                } => {
                    // A global next hop first; a link-local one only when alone.
                    let nh = next_hops
                        .iter()
                        .find(|h| !is_link_local(h))
                        .or(next_hops.first())
                        .copied();
                    if self.negotiated(*afi) {
                        reach.extend(nlri.iter().map(|n| (*n, nh)));
                    }
                }
                Attribute::MpUnreach {
                    afi, withdrawn: w, ..
                } => {
                    if w.is_empty() && u.attributes.len() == 1 {
                        end_of_rib = true;
                        eor_afi = *afi;
                    }
                    withdrawn.extend_from_slice(w);
                }
                _ => {}
            }
        }
        if end_of_rib {
            // End-of-RIB (RFC 4724 2): what is still stale in that family is gone.
            if !self.eor_received.contains(&eor_afi) {
                self.eor_received.push(eor_afi);
            }
            self.sweep_stale(Some(eor_afi));
            return;
        }
        // RFC 7606: a malformed attribute, or a missing mandatory one, withdraws the routes.
        let missing = !reach.is_empty() && (origin.is_none() || !has_as_path);
        if let Some(e) = u
            .malformed
            .or(missing.then_some(DecodeError::AttributeList))
        {
            self.counters.treated_as_withdraw += 1;
            self.events.push_back(Event::TreatedAsWithdraw(e));
            withdrawn.extend(reach.drain(..).map(|(p, _)| p));
        }
        if !withdrawn.is_empty() {
            for p in &withdrawn {
                self.refused_now.remove(p);
                self.stale.remove(p);
            }
            withdrawn.retain(|p| self.rib_in.remove(p).is_some());
            if !withdrawn.is_empty() {
                self.events.push_back(Event::Withdrawn(withdrawn));
            }
        }
        if reach.is_empty() {
            return;
        }
        // AS_PATH loop detection: a path through us is not a route for us; one that replaces a
        // route we had takes that route away.
        if looped {
            let gone: Vec<IpNet> = reach
                .iter()
                .filter(|(p, _)| self.rib_in.remove(p).is_some())
                .map(|(p, _)| *p)
                .collect();
            if !gone.is_empty() {
                self.events.push_back(Event::Withdrawn(gone));
            }
            return;
        }
        let attrs = Arc::new(PathAttrs {
            as_path,
            origin: origin.unwrap_or(Origin::Incomplete),
            med,
            local_pref: local_pref_from_communities(&communities),
            communities,
        });
        let mut accepted = Vec::new();
        for (prefix, nh) in reach {
            let Some(next_hop) = nh.or(next_hop) else {
                // The attribute missing: NEXT_HOP (type code 3).
                return self.notify(
                    now,
                    Notification::update_error(UpdateSubcode::MissingWellKnownAttribute, vec![3]),
                );
            };
            self.stale.remove(&prefix);
            if !self.cfg.import.accepts(&prefix) {
                self.counters.refused += 1;
                if self.refused_now.len() < REFUSED_KEPT {
                    self.refused_now.insert(prefix);
                }
                if self.rib_in.remove(&prefix).is_some() {
                    self.events.push_back(Event::Withdrawn(vec![prefix]));
                }
                self.events.push_back(Event::Refused(prefix));
                continue;
            }
            let route = Route {
                prefix,
                next_hop,
                attrs: attrs.clone(),
            };
            self.rib_in.insert(prefix, route.clone());
            accepted.push(route);
        }
        if self.rib_in.len() > self.cfg.max_prefixes {
            // The routes of this UPDATE were never reported: take them out before the session
            // goes down, so its withdrawal lists only what the driver was told about.
            for r in &accepted {
                self.rib_in.remove(&r.prefix);
            }
            // Cease / Maximum Number of Prefixes Reached (RFC 4486): AFI, SAFI, the limit.
            let afi = accepted.first().map_or(AFI_IPV4, |r| family(&r.prefix));
            let mut data = afi.to_be_bytes().to_vec();
            data.push(SAFI_UNICAST);
            data.extend_from_slice(&(self.cfg.max_prefixes as u32).to_be_bytes());
            return self.max_prefix_reached(now, data);
        }
        if !accepted.is_empty() {
            self.events.push_back(Event::Routes(accepted));
        }
    }

    /// Cease / Maximum Number of Prefixes Reached, then Idle for [`MAX_PREFIX_HOLD`] so that a
    /// peer that keeps announcing too much does not flap the session every second; the session
    /// starts again by itself after that.
    fn max_prefix_reached(&mut self, now: Instant, data: Vec<u8>) {
        self.notify(
            now,
            Notification::new(
                ErrorCode::Cease,
                CeaseSubcode::MaximumNumberOfPrefixesReached.into(),
                data,
            ),
        );
        self.retry_at = None;
        self.idle_until = Some(now + MAX_PREFIX_HOLD);
        self.set_state(State::Idle);
    }

    /// Changes the import policy and the prefix limit of a running session: routes the new
    /// filter refuses are withdrawn at once, and the peer is asked (ROUTE-REFRESH) to send its
    /// routes again so that newly allowed ones arrive.
    pub fn set_import(&mut self, now: Instant, import: ImportFilter, max_prefixes: usize) {
        if import == self.cfg.import && max_prefixes == self.cfg.max_prefixes {
            return;
        }
        self.cfg.import = import;
        self.cfg.max_prefixes = max_prefixes;
        let refused: Vec<IpNet> = self
            .rib_in
            .keys()
            .filter(|p| !self.cfg.import.accepts(p))
            .copied()
            .collect();
        for p in &refused {
            self.rib_in.remove(p);
        }
        if !refused.is_empty() {
            self.events.push_back(Event::Withdrawn(refused));
        }
        if self.rib_in.len() > self.cfg.max_prefixes {
            let mut data = AFI_IPV4.to_be_bytes().to_vec();
            data.push(SAFI_UNICAST);
            data.extend_from_slice(&(self.cfg.max_prefixes as u32).to_be_bytes());
            return self.max_prefix_reached(now, data);
        }
        if self.state == State::Established && self.peer.route_refresh {
            self.refused_now.clear();
            for afi in [AFI_IPV4, AFI_IPV6] {
                if self.negotiated(afi) {
                    let m = Message::RouteRefresh(crate::message::RouteRefresh {
                        afi,
                        safi: SAFI_UNICAST,
                    });
                    self.transmit.push_back(m.encode());
                }
            }
        }
    }

    /// This end's addresses, used as the next hop of exported routes: IPv4 prefixes need an
    /// IPv4 next hop and IPv6 prefixes an IPv6 one; a family without one is not exported.
    pub fn set_next_hops(&mut self, v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) {
        if (v4, v6) != (self.next_hop_v4, self.next_hop_v6) {
            self.next_hop_v4 = v4;
            self.next_hop_v6 = v6;
            self.adj_out.clear();
            self.sync_out();
        }
    }

    /// What to export. The differences with what the peer was sent go out at once when the
    /// session is established; otherwise the whole table goes when it comes up.
    pub fn set_exports(&mut self, exports: BTreeMap<IpNet, Arc<ExportAttrs>>) {
        self.exports = exports;
        self.sync_out();
    }

    /// Exports `prefixes` as originated by this speaker (and nothing else).
    pub fn originate(&mut self, prefixes: &[IpNet]) {
        let attrs = ExportAttrs::originated();
        self.set_exports(prefixes.iter().map(|p| (*p, attrs.clone())).collect());
    }

    fn exportable(&self, p: &IpNet) -> bool {
        let afi = family(p);
        self.negotiated(afi)
            && match p {
                IpNet::V4(_) => self.next_hop_v4.is_some(),
                IpNet::V6(_) => self.next_hop_v6.is_some(),
            }
    }

    /// The whole table, then End-of-RIB for each family (RFC 4724 2).
    fn send_table(&mut self) {
        self.adj_out.clear();
        self.eor_pending = [AFI_IPV4, AFI_IPV6]
            .into_iter()
            .filter(|afi| self.negotiated(*afi))
            .collect();
        self.sync_out();
    }

    /// Notes what differs between the exports and the Adj-RIB-Out; [`Session::poll_update`]
    /// sends it. Each prefix is noted once however often it changes before it is sent, so what
    /// waits for a slow peer never outgrows the table.
    fn sync_out(&mut self) {
        if self.state != State::Established {
            return;
        }
        for p in self.adj_out.keys() {
            if !self.exports.contains_key(p) || !self.exportable(p) {
                self.dirty.insert(*p);
            }
        }
        for (p, a) in &self.exports {
            if self.exportable(p) && self.adj_out.get(p) != Some(a) {
                self.dirty.insert(*p);
            }
        }
    }

    /// What should be exported for a prefix now, if anything.
    fn wanted(&self, p: &IpNet) -> Option<&Arc<ExportAttrs>> {
        self.exports.get(p).filter(|_| self.exportable(p))
    }

    /// The next UPDATE for the peer: what changed since it was last sent a prefix, packed into
    /// as few messages as fit (one attribute set and family each), then End-of-RIB after the
    /// whole table. UPDATEs are made only when asked for, so a driver that asks while the peer
    /// reads, and stops when it does not, holds no backlog of them. `None` when nothing waits.
    pub fn poll_update(&mut self) -> Option<Vec<u8>> {
        if self.state != State::Established {
            return None;
        }
        while let Some(first) = self.dirty.first().copied() {
            let want = self.wanted(&first).cloned();
            if want.as_ref() == self.adj_out.get(&first) {
                self.dirty.remove(&first);
                continue;
            }
            let afi = family(&first);
            // The prefixes going out together: the same family and the same change (withdrawn,
            // or announced with the same attributes), looking ahead a bounded number of them.
            let mut batch = Vec::new();
            // The header (19), the two length fields (4) and the attributes leave this much for
            // the prefixes.
            let mut budget = MAX_MESSAGE - 23 - self.attributes_len(afi, want.as_deref());
            for p in self.dirty.range(first..).take(PACK_LOOKAHEAD) {
                if family(p) != afi || self.wanted(p) != want.as_ref() {
                    continue;
                }
                if want.is_none() && !self.adj_out.contains_key(p) {
                    continue;
                }
                let l = nlri_len(p);
                if l > budget {
                    break;
                }
                budget -= l;
                batch.push(*p);
            }
            for p in &batch {
                self.dirty.remove(p);
            }
            return Some(match want {
                None => {
                    for p in &batch {
                        self.adj_out.remove(p);
                    }
                    self.encode_withdrawal(afi, batch)
                }
                Some(attrs) => {
                    for p in &batch {
                        self.adj_out.insert(*p, attrs.clone());
                    }
                    self.encode_announcement(afi, &attrs, batch)
                }
            });
        }
        let afi = self.eor_pending.first().copied()?;
        self.eor_pending.remove(0);
        let eor = if afi == AFI_IPV4 {
            Update::default()
        } else {
            Update {
                attributes: vec![Attribute::MpUnreach {
                    afi,
                    safi: SAFI_UNICAST,
                    withdrawn: vec![],
                }],
                ..Update::default()
            }
        };
        Some(self.encode_update(eor))
    }

    /// The encoded size of the attributes of an UPDATE of this family: withdrawing (`None`) or
    /// announcing with `attrs`, the prefixes themselves aside.
    fn attributes_len(&self, afi: u16, attrs: Option<&ExportAttrs>) -> usize {
        let Some(a) = attrs else {
            // IPv4 withdrawals need none; IPv6 ones an MP_UNREACH_NLRI header.
            return if afi == AFI_IPV4 { 0 } else { 4 + 3 };
        };
        let hops = 1 + usize::from(self.cfg.prepend) + a.as_path.len();
        let origin = 4;
        let as_path = 4 + 2 * hops.div_ceil(255) + 4 * hops;
        let communities = if a.communities.is_empty() {
            0
        } else {
            4 + 4 * a.communities.len()
        };
        let next_hop = if afi == AFI_IPV4 {
            3 + 4
        } else {
            4 + 3 + 1 + 16 + 1
        };
        origin + as_path + communities + next_hop
    }

    /// Whether UPDATEs wait to be asked for.
    pub fn wants_to_send(&self) -> bool {
        self.state == State::Established && (!self.dirty.is_empty() || !self.eor_pending.is_empty())
    }

    fn encode_update(&mut self, u: Update) -> Vec<u8> {
        self.counters.updates_sent += 1;
        Message::Update(u).encode()
    }

    fn encode_withdrawal(&mut self, afi: u16, prefixes: Vec<IpNet>) -> Vec<u8> {
        let u = if afi == AFI_IPV4 {
            Update {
                withdrawn: v4(&prefixes),
                ..Update::default()
            }
        } else {
            Update {
                attributes: vec![Attribute::MpUnreach {
                    afi,
                    safi: SAFI_UNICAST,
                    withdrawn: prefixes,
                }],
                ..Update::default()
            }
        };
        self.encode_update(u)
    }

    fn encode_announcement(
        &mut self,
        afi: u16,
        attrs: &ExportAttrs,
        prefixes: Vec<IpNet>,
    ) -> Vec<u8> {
        let mut path = vec![self.cfg.local_asn; 1 + usize::from(self.cfg.prepend)];
        path.extend_from_slice(&attrs.as_path);
        let mut attributes = vec![
            Attribute::Origin(attrs.origin),
            Attribute::AsPath(
                path.chunks(255)
                    .map(|c| AsPathSegment::Sequence(c.to_vec()))
                    .collect(),
            ),
        ];
        if !attrs.communities.is_empty() {
            attributes.push(Attribute::Communities(attrs.communities.clone()));
        }
        let u = match (afi, self.next_hop_v4, self.next_hop_v6) {
            (AFI_IPV4, Some(nh), _) => {
                attributes.push(Attribute::NextHop(nh));
                Update {
                    attributes,
                    nlri: v4(&prefixes),
                    ..Update::default()
                }
            }
            (_, _, Some(nh)) => {
                attributes.push(Attribute::MpReach {
                    afi: AFI_IPV6,
                    safi: SAFI_UNICAST,
                    next_hops: vec![IpAddr::V6(nh)],
                    nlri: prefixes,
                });
                Update {
                    attributes,
                    ..Update::default()
                }
            }
            // Not exportable without a next hop of the family (`exportable` keeps these out).
            _ => Update::default(),
        };
        self.encode_update(u)
    }
}

fn is_link_local(a: &IpAddr) -> bool {
    match a {
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        IpAddr::V4(_) => false,
    }
}
