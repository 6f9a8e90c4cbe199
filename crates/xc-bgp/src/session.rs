//! One BGP session (RFC 4271 section 8), sans-IO. The driver owns the TCP connection: it reports
//! the connection coming up or failing and the bytes read, writes what [`Session::poll_transmit`]
//! returns, and obeys [`Action`]s (connect, close). Time is an argument.
//!
//! What it does: the FSM from Idle to Established with the ConnectRetry, Hold and Keepalive timers;
//! OPEN checks (version, peer AS, hold time, router id, 4-octet AS capability); the negotiated hold
//! time; UPDATE processing into the Adj-RIB-In through the import filter, with a max-prefix limit
//! that closes the session with Cease / Maximum Number of Prefixes Reached; NOTIFICATIONs for every
//! decode error. Routes learned are reported as events; they are dropped when the session goes down.

use crate::message::{
    AFI_IPV4, AFI_IPV6, AsPathSegment, Attribute, Capability, DecodeError, Message, Notification,
    Open, SAFI_UNICAST, Update,
};
use ipnet::IpNet;
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Idle,
    Connect,
    OpenSent,
    OpenConfirm,
    Established,
}

/// Which received prefixes are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportFilter {
    Any,
    /// Accepted when within one of these prefixes (an exact match or more specific).
    Within(Vec<IpNet>),
}

impl ImportFilter {
    fn accepts(&self, p: &IpNet) -> bool {
        match self {
            Self::Any => true,
            Self::Within(list) => list.iter().any(|l| l.contains(p)),
        }
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
        }
    }
}

/// What the driver must do with the TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Connect,
    Close,
}

/// A learned route: the prefix and its next hop and AS path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub prefix: IpNet,
    pub next_hop: IpAddr,
    pub as_path: Vec<u32>,
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
    NotificationSent(Notification),
    NotificationReceived(Notification),
}

#[derive(Debug)]
pub struct Session {
    cfg: Config,
    state: State,
    buf: Vec<u8>,
    negotiated_hold: Duration,
    hold_at: Option<Instant>,
    keepalive_at: Option<Instant>,
    retry_at: Option<Instant>,
    rib_in: BTreeMap<IpNet, Route>,
    refused: u64,
    transmit: VecDeque<Vec<u8>>,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
}

/// Hold time used while waiting for the peer's OPEN (RFC 4271 8: "a large value", 4 minutes).
const LARGE_HOLD: Duration = Duration::from_secs(240);

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
            rib_in: BTreeMap::new(),
            refused: 0,
            transmit: VecDeque::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.rib_in.values()
    }
    pub fn refused(&self) -> u64 {
        self.refused
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
        [self.hold_at, self.keepalive_at, self.retry_at]
            .into_iter()
            .flatten()
            .min()
    }

    fn set_state(&mut self, to: State) {
        if to != self.state {
            let from = self.state;
            self.state = to;
            self.events.push_back(Event::StateChange { from, to });
        }
    }

    /// ManualStart: begin connecting.
    pub fn start(&mut self, now: Instant) {
        if self.state == State::Idle {
            self.set_state(State::Connect);
            self.actions.push_back(Action::Connect);
            self.retry_at = Some(now + self.cfg.connect_retry);
        }
    }

    /// The TCP connection is up: send OPEN.
    pub fn connected(&mut self, now: Instant) {
        if self.state != State::Connect {
            return;
        }
        self.retry_at = None;
        self.buf.clear();
        let open = Message::Open(Open {
            version: 4,
            asn: self.cfg.local_asn,
            hold_time: self.cfg.hold_time.as_secs() as u16,
            router_id: self.cfg.router_id,
            capabilities: vec![
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
            ],
        });
        self.transmit.push_back(open.encode());
        self.hold_at = Some(now + LARGE_HOLD);
        self.set_state(State::OpenSent);
    }

    /// The TCP connection failed or closed.
    pub fn disconnected(&mut self, now: Instant) {
        self.drop_session(now);
    }

    fn drop_session(&mut self, now: Instant) {
        if !self.rib_in.is_empty() {
            let gone: Vec<IpNet> = self.rib_in.keys().copied().collect();
            self.rib_in.clear();
            self.events.push_back(Event::Withdrawn(gone));
        }
        self.hold_at = None;
        self.keepalive_at = None;
        self.buf.clear();
        self.set_state(State::Connect);
        self.retry_at = Some(now + self.cfg.connect_retry);
    }

    fn notify(&mut self, now: Instant, code: u8, subcode: u8, data: Vec<u8>) {
        let n = Notification {
            code,
            subcode,
            data,
        };
        self.transmit
            .push_back(Message::Notification(n.clone()).encode());
        self.events.push_back(Event::NotificationSent(n));
        self.actions.push_back(Action::Close);
        self.drop_session(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.retry_at.is_some_and(|t| now >= t) && self.state == State::Connect {
            self.actions.push_back(Action::Connect);
            self.retry_at = Some(now + self.cfg.connect_retry);
        }
        if self.hold_at.is_some_and(|t| now >= t) {
            self.notify(now, 4, 0, Vec::new()); // Hold Timer Expired
            return;
        }
        if let Some(k) = self.keepalive_at
            && now >= k
        {
            self.transmit.push_back(Message::Keepalive.encode());
            self.keepalive_at = Some(now + self.negotiated_hold / 3);
        }
    }

    /// Bytes read from the TCP connection (any amount; messages are reassembled).
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        loop {
            let len = match Message::peek_len(&self.buf) {
                Ok(Some(l)) if self.buf.len() >= l => l,
                Ok(_) => return,
                Err(e) => return self.decode_error(now, e),
            };
            let msg: Vec<u8> = self.buf.drain(..len).collect();
            match Message::decode(&msg) {
                Ok(m) => self.handle_message(now, m),
                Err(e) => return self.decode_error(now, e),
            }
            if self.state == State::Connect {
                return; // the session was dropped while handling
            }
        }
    }

    fn decode_error(&mut self, now: Instant, e: DecodeError) {
        let (code, sub) = e.notification();
        self.notify(now, code, sub, Vec::new());
    }

    fn handle_message(&mut self, now: Instant, m: Message) {
        match (self.state, m) {
            (_, Message::Notification(n)) => {
                self.events.push_back(Event::NotificationReceived(n));
                self.actions.push_back(Action::Close);
                self.drop_session(now);
            }
            (State::OpenSent, Message::Open(o)) => self.handle_open(now, o),
            (State::OpenConfirm, Message::Keepalive) => {
                self.set_state(State::Established);
                self.restart_hold(now);
            }
            (State::Established, Message::Keepalive) => self.restart_hold(now),
            (State::Established, Message::Update(u)) => {
                self.restart_hold(now);
                self.handle_update(now, u);
            }
            (State::Established, Message::RouteRefresh(_)) => self.restart_hold(now),
            // Anything else is a Finite State Machine Error (RFC 6608 subcodes left at 0).
            _ => self.notify(now, 5, 0, Vec::new()),
        }
    }

    fn restart_hold(&mut self, now: Instant) {
        if !self.negotiated_hold.is_zero() {
            self.hold_at = Some(now + self.negotiated_hold);
        }
    }

    fn handle_open(&mut self, now: Instant, o: Open) {
        if o.asn != self.cfg.remote_asn {
            return self.notify(now, 2, 2, Vec::new()); // Bad Peer AS
        }
        if o.router_id == self.cfg.router_id {
            return self.notify(now, 2, 3, Vec::new()); // Bad BGP Identifier
        }
        if !o
            .capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)))
            && self.cfg.local_asn > 65535
        {
            return self.notify(now, 2, 7, Vec::new()); // Unsupported Capability
        }
        let theirs = Duration::from_secs(u64::from(o.hold_time));
        self.negotiated_hold = self.cfg.hold_time.min(theirs);
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

    fn handle_update(&mut self, now: Instant, u: Update) {
        let mut withdrawn: Vec<IpNet> = u.withdrawn.iter().map(|n| IpNet::V4(*n)).collect();
        let mut next_hop: Option<IpAddr> = None;
        let mut as_path = Vec::new();
        let mut reach: Vec<(IpNet, Option<IpAddr>)> =
            u.nlri.iter().map(|n| (IpNet::V4(*n), None)).collect();
        for a in &u.attributes {
            match a {
                Attribute::NextHop(nh) => next_hop = Some(IpAddr::V4(*nh)),
                Attribute::AsPath(segs) => {
                    for s in segs {
                        match s {
                            AsPathSegment::Sequence(v) | AsPathSegment::Set(v) => {
                                as_path.extend_from_slice(v)
                            }
                        }
                    }
                }
                Attribute::MpReach {
                    next_hops, nlri, ..
                } => {
                    let nh = next_hops.first().copied();
                    reach.extend(nlri.iter().map(|n| (*n, nh)));
                }
                Attribute::MpUnreach { withdrawn: w, .. } => withdrawn.extend_from_slice(w),
                _ => {}
            }
        }
        if !withdrawn.is_empty() {
            withdrawn.retain(|p| self.rib_in.remove(p).is_some());
            if !withdrawn.is_empty() {
                self.events.push_back(Event::Withdrawn(withdrawn));
            }
        }
        // AS_PATH loop detection: a path through us is not a route for us.
        if as_path.contains(&self.cfg.local_asn) {
            return;
        }
        let mut accepted = Vec::new();
        for (prefix, nh) in reach {
            let Some(next_hop) = nh.or(next_hop) else {
                return self.notify(now, 3, 3, vec![3]); // Missing Well-known Attribute: NEXT_HOP
            };
            if !self.cfg.import.accepts(&prefix) {
                self.refused += 1;
                self.events.push_back(Event::Refused(prefix));
                continue;
            }
            let route = Route {
                prefix,
                next_hop,
                as_path: as_path.clone(),
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
            let mut data = vec![0, 1, 1];
            data.extend_from_slice(&(self.cfg.max_prefixes as u32).to_be_bytes());
            return self.notify(now, 6, 1, data);
        }
        if !accepted.is_empty() {
            self.events.push_back(Event::Routes(accepted));
        }
    }

    /// Queues UPDATEs announcing `prefixes`: IPv4 ones as NLRI with `next_hop_v4`, IPv6 ones in
    /// MP_REACH with `next_hop_v6` (IPv6 prefixes are not announced without one).
    pub fn announce(
        &mut self,
        prefixes: &[IpNet],
        next_hop_v4: Ipv4Addr,
        next_hop_v6: Option<std::net::Ipv6Addr>,
    ) {
        if self.state != State::Established {
            return;
        }
        let v4: Vec<_> = prefixes
            .iter()
            .filter_map(|p| if let IpNet::V4(n) = p { Some(*n) } else { None })
            .collect();
        let v6: Vec<IpNet> = prefixes
            .iter()
            .filter(|p| matches!(p, IpNet::V6(_)))
            .copied()
            .collect();
        let base = vec![
            Attribute::Origin(crate::message::Origin::Igp),
            Attribute::AsPath(vec![AsPathSegment::Sequence(vec![self.cfg.local_asn])]),
        ];
        if !v4.is_empty() {
            let mut attributes = base.clone();
            attributes.push(Attribute::NextHop(next_hop_v4));
            self.transmit.push_back(
                Message::Update(Update {
                    withdrawn: vec![],
                    attributes,
                    nlri: v4,
                })
                .encode(),
            );
        }
        if let (false, Some(nh)) = (v6.is_empty(), next_hop_v6) {
            let mut attributes = base;
            attributes.push(Attribute::MpReach {
                afi: AFI_IPV6,
                safi: SAFI_UNICAST,
                next_hops: vec![IpAddr::V6(nh)],
                nlri: v6,
            });
            self.transmit.push_back(
                Message::Update(Update {
                    withdrawn: vec![],
                    attributes,
                    nlri: vec![],
                })
                .encode(),
            );
        }
    }
}
