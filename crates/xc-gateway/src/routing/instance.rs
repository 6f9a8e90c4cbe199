//! The speaker: every neighbour's [`Peer`] (its session and connections) and BFD session, the
//! Loc-RIB, and what goes to the kernel. It reacts to one [`Input`] at a time, to its timers, to
//! writers that have room again, and to a new configuration; the protocol's decisions are the
//! sans-IO crates' (collisions, restarts, NOTIFICATIONs), this file carries them out.

use super::events::Input;
use super::network::{self, BFD_PORT, Conn};
use super::status;
use super::{Installed, md5};
use crate::config::{BgpSettings, NeighborSettings};
use crate::status::{RoutingStatus, SessionError, SessionErrorKind};
use ipnet::IpNet;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use xc_bgp::message::codes::WellKnownCommunity;
use xc_bgp::peer::{ConnId, Output, Peer, PeerEvent};
use xc_bgp::rib::{Candidate, LocRib, NextHops};
use xc_bgp::session::{self, Event, ExportAttrs, State};

/// How often the status snapshot is refreshed while things change.
const STATUS_EVERY: Duration = Duration::from_millis(100);
/// Forwarding changes handed to the kernel thread at once while a table is arriving.
pub const KERNEL_BATCH: usize = 4096;
/// Inputs handled in one go before the timers and the kernel get their turn.
const INPUT_BUDGET: usize = 256;

pub(super) struct Neighbor {
    pub cfg: NeighborSettings,
    pub peer: Peer,
    /// Its TCP connections, by the id the peer knows them by.
    pub conns: HashMap<ConnId, Conn>,
    pub bfd: Option<xc_bfd::Session>,
    pub bfd_up: u64,
    pub bfd_down: u64,
    pub established_since: Option<Instant>,
    /// Why the session last went down (a NOTIFICATION, BFD, the connection lost).
    pub last_error: Option<SessionError>,
    /// Why the last attempt to connect failed; cleared once Established.
    pub connect_error: Option<String>,
}

/// How the speaker is told to change or stop.
pub(super) struct Control {
    pub config: watch::Receiver<BgpSettings>,
    pub stop: watch::Receiver<bool>,
}

pub(super) struct Speaker {
    pub cfg: BgpSettings,
    /// By a stable id (the Loc-RIB's peer key), so that neighbours come and go.
    pub neighbors: BTreeMap<usize, Neighbor>,
    pub next_neighbor: usize,
    pub rib: LocRib<usize>,
    /// Route changes for the kernel not handed over yet (the latest change of each prefix).
    pub changes: HashMap<IpNet, NextHops>,
    pub kernel: std::sync::mpsc::SyncSender<Vec<(IpNet, NextHops)>>,
    pub kernel_done: Option<tokio::sync::oneshot::Receiver<()>>,
    /// The TCP 179 listeners, by family (true: IPv6).
    pub listeners: HashMap<bool, Arc<TcpListener>>,
    /// The BFD sending sockets, by family; the receiving ones live in their tasks.
    pub bfd_tx: HashMap<bool, Arc<UdpSocket>>,
    /// The accept and BFD receive tasks: stopped with the speaker, so that the ports are free
    /// for the next one.
    pub socket_tasks: Vec<JoinHandle<()>>,
    /// Started with routes of a previous run kept (graceful restart).
    pub restarting: bool,
    pub inputs: mpsc::Sender<Input>,
    /// Woken when a writer has written: its queue has room for more UPDATEs.
    pub writable: Arc<Notify>,
    pub next_conn: ConnId,
    pub status: Arc<Mutex<RoutingStatus>>,
    pub installed: Installed,
    /// Routes left by a previous run, swept once the sessions are back (graceful restart).
    pub leftovers: Option<Vec<IpNet>>,
    pub sweep_at: Option<Instant>,
    pub last_status: Instant,
    pub dirty: bool,
    /// The Loc-RIB changed: neighbours with an export policy get their routes again.
    pub readvertise: bool,
}

fn session_config(b: &BgpSettings, n: &NeighborSettings, restarting: bool) -> session::Config {
    let mut c = session::Config::new(b.asn, b.router_id, n.remote_asn);
    c.hold_time = Duration::from_secs(u64::from(n.hold_time));
    c.connect_retry = Duration::from_secs(u64::from(n.connect_retry_secs));
    c.import = n.import.clone();
    c.max_prefixes = n.max_prefixes;
    c.prepend = n.prepend;
    c.graceful_restart =
        (b.graceful_restart_secs > 0).then(|| Duration::from_secs(b.graceful_restart_secs.into()));
    c.restarting = restarting;
    c.passive = n.passive;
    c
}

/// Whether two settings of a neighbour can share a session: everything but the import and
/// export policies and the prefix limit, which change live.
fn same_session(a: &NeighborSettings, b: &NeighborSettings) -> bool {
    let mut b = b.clone();
    b.import = a.import.clone();
    b.export = a.export.clone();
    b.max_prefixes = a.max_prefixes;
    *a == b
}

fn bfd_config(n: &NeighborSettings) -> xc_bfd::Config {
    let i = Duration::from_millis(u64::from(n.bfd_interval_ms));
    xc_bfd::Config {
        desired_min_tx: i,
        required_min_rx: i,
        detect_mult: n.bfd_multiplier,
    }
}

/// The send hold time of a neighbour (RFC 9687: at least 8 minutes, and twice the hold time),
/// unless configured.
fn send_hold(n: &NeighborSettings) -> Duration {
    Duration::from_secs(u64::from(
        n.send_hold_time
            .unwrap_or_else(|| n.hold_time.saturating_mul(2).max(480)),
    ))
}

impl Speaker {
    /// Opens what a neighbour needs: the listener of its family (and its MD5 key on it), the
    /// BFD sockets of its family.
    fn ensure_sockets(&mut self, n: &NeighborSettings) -> io::Result<()> {
        let v6 = n.address.is_ipv6();
        if let Some(l) = self.listeners.get(&v6) {
            if let Some(k) = &n.md5_password {
                md5::set_key(&**l, n.address, k.as_bytes())?;
            }
        } else {
            let l = Arc::new(network::listener(v6, std::slice::from_ref(n))?);
            self.listeners.insert(v6, l.clone());
            self.socket_tasks
                .push(network::accept_task(l, self.inputs.clone()));
        }
        if n.bfd && !self.bfd_tx.contains_key(&v6) {
            let rx_sock = network::bfd_socket(v6, true)?;
            self.bfd_tx
                .insert(v6, Arc::new(network::bfd_socket(v6, false)?));
            self.socket_tasks
                .push(network::bfd_task(rx_sock, self.inputs.clone()));
        }
        Ok(())
    }

    pub fn add_neighbor(&mut self, s: NeighborSettings, now: Instant) -> io::Result<()> {
        self.ensure_sockets(&s)?;
        let id = self.next_neighbor;
        self.next_neighbor += 1;
        let mut peer = Peer::new(session_config(&self.cfg, &s, self.restarting), now);
        peer.start(now);
        let bfd = s
            .bfd
            .then(|| xc_bfd::Session::new(bfd_config(&s), rand::random(), now));
        self.neighbors.insert(
            id,
            Neighbor {
                cfg: s,
                peer,
                conns: HashMap::new(),
                bfd,
                bfd_up: 0,
                bfd_down: 0,
                established_since: None,
                last_error: None,
                connect_error: None,
            },
        );
        self.originate(id);
        self.pump(id, now);
        self.dirty = true;
        Ok(())
    }

    /// Stops a neighbour's session (Cease / Peer De-configured), withdraws its routes and
    /// forgets it.
    fn remove_neighbor(&mut self, id: usize, now: Instant) {
        let Some(n) = self.neighbors.get_mut(&id) else {
            return;
        };
        n.peer.deconfigure(now);
        if let Some(b) = &mut n.bfd {
            b.set_admin_down(true, now);
        }
        let addr = n.cfg.address;
        let had_key = n.cfg.md5_password.is_some();
        self.pump(id, now);
        // Whatever is still in the Loc-RIB from this neighbour goes (graceful-restart stale
        // routes included).
        let prefixes: Vec<IpNet> = self.rib.iter_best().map(|(p, _)| *p).collect::<Vec<_>>();
        for p in prefixes {
            if let Some(ch) = self.rib.withdraw(&p, &id) {
                self.changes.insert(ch.prefix, ch.next_hops);
            }
        }
        self.neighbors.remove(&id);
        self.readvertise = true;
        if had_key && let Some(l) = self.listeners.get(&addr.is_ipv6()) {
            let _ = md5::set_key(&**l, addr, &[]);
        }
        tracing::info!(neighbor = %addr, "neighbour removed");
        self.dirty = true;
    }

    /// Changes the configuration without disturbing what did not change: neighbours added or
    /// removed, import policies and prefix limits changed live (with ROUTE-REFRESH),
    /// announcements changed. A neighbour whose other settings change is restarted; a change of
    /// AS or router id restarts every session.
    fn reconfigure(&mut self, new: BgpSettings, now: Instant) {
        let global_change = new.asn != self.cfg.asn
            || new.router_id != self.cfg.router_id
            || new.graceful_restart_secs != self.cfg.graceful_restart_secs;
        let announce_change = new.announce != self.cfg.announce;
        let old: Vec<(usize, NeighborSettings)> = self
            .neighbors
            .iter()
            .map(|(id, n)| (*id, n.cfg.clone()))
            .collect();
        let mut keep: Vec<std::net::IpAddr> = Vec::new();
        for (id, o) in &old {
            match new.neighbors.iter().find(|n| n.address == o.address) {
                Some(n) if !global_change && same_session(o, n) => {
                    keep.push(n.address);
                    if let Some(x) = self.neighbors.get_mut(id) {
                        x.peer
                            .session_mut()
                            .set_import(now, n.import.clone(), n.max_prefixes);
                        let export_change = x.cfg.export != n.export;
                        x.cfg = n.clone();
                        if export_change {
                            self.originate(*id);
                        }
                        self.pump(*id, now);
                    }
                }
                _ => self.remove_neighbor(*id, now),
            }
        }
        self.cfg = new.clone();
        if announce_change {
            for id in self.ids() {
                self.originate(id);
                self.pump(id, now);
            }
        }
        for n in new.neighbors {
            if !keep.contains(&n.address)
                && let Err(e) = self.add_neighbor(n.clone(), now)
            {
                tracing::warn!(neighbor = %n.address, error = %e, "cannot add the neighbour");
            }
        }
        self.dirty = true;
    }

    /// Runs until told to stop.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Input>, mut control: Control) {
        self.tick();
        let writable = self.writable.clone();
        loop {
            let deadline = self.deadline();
            tokio::select! {
                i = rx.recv() => {
                    let mut next = i;
                    let mut budget = INPUT_BUDGET;
                    while let Some(input) = next.take() {
                        self.handle(input);
                        budget -= 1;
                        if budget > 0 {
                            next = rx.try_recv().ok();
                        }
                    }
                }
                _ = writable.notified() => {
                    for id in self.ids() {
                        self.send_updates(id);
                    }
                    self.dirty = true;
                }
                changed = control.config.changed() => {
                    if changed.is_ok() {
                        let cfg = control.config.borrow_and_update().clone();
                        self.reconfigure(cfg, Instant::now());
                    }
                }
                _ = control.stop.changed() => {
                    self.shutdown().await;
                    return;
                }
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
            self.tick();
        }
    }

    fn deadline(&self) -> Instant {
        let mut d = Instant::now() + Duration::from_secs(1);
        for n in self.neighbors.values() {
            if let Some(t) = n.peer.poll_timeout() {
                d = d.min(t);
            }
            if let Some(t) = n.bfd.as_ref().and_then(|b| b.poll_timeout()) {
                d = d.min(t);
            }
        }
        if self.dirty {
            d = d.min(self.last_status + STATUS_EVERY);
        }
        if self.sweep_at.is_some() || !self.changes.is_empty() {
            // Changes the kernel thread had no room for are offered again soon.
            d = d
                .min(self.sweep_at.unwrap_or(d))
                .min(Instant::now() + STATUS_EVERY);
        }
        d
    }

    fn ids(&self) -> Vec<usize> {
        self.neighbors.keys().copied().collect()
    }

    fn originate(&mut self, i: usize) {
        let announce = self.cfg.announce.clone();
        if let Some(n) = self.neighbors.get_mut(&i) {
            if n.cfg.export.is_some() {
                self.readvertise = true;
            } else {
                n.peer.session_mut().originate(&announce);
            }
        }
    }

    /// Sends each neighbour that has an export policy what matches it: the announced prefixes
    /// and the best routes learned from the other neighbours (their AS path kept, this speaker's
    /// ASN put in front by the session, the next hop this end's address). A route learned from
    /// the neighbour itself is not sent back to it, nor one whose communities forbid it to leave
    /// the AS (NO_EXPORT, NO_ADVERTISE: every neighbour here is external).
    fn readvertise(&mut self, now: Instant) {
        let ids: Vec<usize> = self
            .neighbors
            .iter()
            .filter(|(_, n)| n.cfg.export.is_some())
            .map(|(i, _)| *i)
            .collect();
        for i in ids {
            let Some(n) = self.neighbors.get_mut(&i) else {
                continue;
            };
            let Some(filter) = &n.cfg.export else {
                continue;
            };
            let mut out: BTreeMap<IpNet, Arc<ExportAttrs>> = BTreeMap::new();
            // Routes learned in one UPDATE share their attributes: so do the exports made of
            // them.
            let mut made: HashMap<*const xc_bgp::rib::PathAttrs, Arc<ExportAttrs>> = HashMap::new();
            let originated = ExportAttrs::originated();
            for p in self.cfg.announce.iter().filter(|p| filter.accepts(p)) {
                out.insert(*p, originated.clone());
            }
            for (p, best) in self.rib.iter_best() {
                let confined = best.attrs.communities.iter().any(|c| {
                    WellKnownCommunity::from_value(*c)
                        .is_some_and(|w| !w.allows_ebgp_advertisement())
                });
                if best.peer != i && !confined && filter.accepts(p) && !out.contains_key(p) {
                    let attrs = made
                        .entry(Arc::as_ptr(&best.attrs))
                        .or_insert_with(|| {
                            Arc::new(ExportAttrs {
                                as_path: best.attrs.as_path.to_vec(),
                                origin: best.attrs.origin,
                                communities: Vec::new(),
                            })
                        })
                        .clone();
                    out.insert(*p, attrs);
                }
            }
            n.peer.session_mut().set_exports(out);
            self.pump(i, now);
        }
    }

    /// A new TCP connection of neighbour `i`: its tasks started, known to the peer as `id`.
    fn open_conn(
        &mut self,
        i: usize,
        stream: tokio::net::TcpStream,
    ) -> Option<(ConnId, std::net::IpAddr)> {
        let n = self.neighbors.get_mut(&i)?;
        let id = self.next_conn;
        self.next_conn += 1;
        match Conn::open(
            stream,
            i,
            id,
            self.inputs.clone(),
            self.writable.clone(),
            send_hold(&n.cfg),
        ) {
            Ok((c, local)) => {
                n.conns.insert(id, c);
                Some((id, local))
            }
            Err(e) => {
                tracing::warn!(neighbor = %n.cfg.address, error = %e, "cannot use a connection");
                None
            }
        }
    }

    fn handle(&mut self, input: Input) {
        let now = Instant::now();
        self.dirty = true;
        match input {
            Input::Accepted(stream, from) => {
                let ip = network::unmapped(from.ip());
                let Some(i) = self
                    .neighbors
                    .iter()
                    .find(|(_, n)| n.cfg.address == ip)
                    .map(|(id, _)| *id)
                else {
                    tracing::info!(peer = %ip, "BGP connection from an address that is not a neighbour: closed");
                    return;
                };
                if let Some((id, local)) = self.open_conn(i, stream)
                    && let Some(n) = self.neighbors.get_mut(&i)
                {
                    n.peer.accepted(now, id, local);
                }
                self.pump(i, now);
            }
            Input::Connected {
                nbr,
                attempt,
                result,
            } => {
                let result = match result {
                    Ok(stream) => self
                        .open_conn(nbr, stream)
                        .ok_or_else(|| "the connection could not be used".to_owned()),
                    Err(e) => Err(e.to_string()),
                };
                if let Some(n) = self.neighbors.get_mut(&nbr) {
                    n.peer.connect_done(now, attempt, result);
                }
                self.pump(nbr, now);
            }
            Input::Bytes { nbr, conn, data } => {
                let Some(n) = self.neighbors.get_mut(&nbr) else {
                    return;
                };
                n.peer.bytes(now, conn, &data);
                // What these bytes brought goes on at once, and a large table reaches the kernel
                // while the rest of it is still arriving.
                self.pump(nbr, now);
                if self.changes.len() >= KERNEL_BATCH {
                    self.flush_changes();
                }
            }
            Input::Closed { nbr, conn, error } => {
                let Some(n) = self.neighbors.get_mut(&nbr) else {
                    return;
                };
                n.conns.remove(&conn);
                n.peer.closed(now, conn, error);
                self.pump(nbr, now);
            }
            Input::Bfd { from, data } => {
                let Some((i, n)) = self
                    .neighbors
                    .iter_mut()
                    .find(|(_, n)| n.cfg.address == from && n.bfd.is_some())
                else {
                    return;
                };
                if let Some(b) = &mut n.bfd
                    && let Err(e) = b.handle_packet(now, &data)
                {
                    tracing::debug!(peer = %from, error = %e, "BFD packet refused");
                }
                let i = *i;
                self.pump(i, now);
            }
        }
    }

    /// Timers, then everything the state machines want done.
    fn tick(&mut self) {
        let now = Instant::now();
        for i in self.ids() {
            let Some(n) = self.neighbors.get_mut(&i) else {
                continue;
            };
            n.peer.handle_timeout(now);
            if let Some(b) = &mut n.bfd
                && b.poll_timeout().is_some_and(|t| t <= now)
            {
                b.handle_timeout(now);
            }
            self.pump(i, now);
        }
        if self.sweep_at.is_some_and(|t| t <= now) || self.sessions_back() {
            self.sweep_leftovers();
        }
        if std::mem::take(&mut self.readvertise) {
            self.readvertise(now);
        }
        self.flush_changes();
        if self.dirty && now >= self.last_status + STATUS_EVERY {
            self.dirty = false;
            self.last_status = now;
            status::publish(self, now);
        }
    }

    /// Hands the pending forwarding changes to the kernel thread (each prefix once per batch;
    /// batches are applied in order). When its queue is full they stay here, each prefix with
    /// its latest change, and are offered again at the next turn.
    fn flush_changes(&mut self) {
        if self.changes.is_empty() {
            return;
        }
        let batch: Vec<(IpNet, NextHops)> = self.changes.drain().collect();
        if let Err(std::sync::mpsc::TrySendError::Full(batch)) = self.kernel.try_send(batch) {
            for (p, h) in batch {
                self.changes.entry(p).or_insert(h);
            }
        }
    }

    /// After a restart, every session is back and has sent its whole table (End-of-RIB for
    /// each family; a peer without graceful restart gets 5 s): route selection is no longer
    /// deferred (RFC 4724 4.1).
    fn sessions_back(&self) -> bool {
        self.leftovers.is_some()
            && self.neighbors.values().all(|n| {
                let s = n.peer.session();
                if s.peer_graceful_restart() {
                    s.end_of_rib_received()
                } else {
                    n.established_since
                        .is_some_and(|t| t.elapsed() >= Duration::from_secs(5))
                }
            })
    }

    fn sweep_leftovers(&mut self) {
        self.sweep_at = None;
        self.restarting = false;
        let Some(left) = self.leftovers.take() else {
            return;
        };
        let mut gone = 0;
        for p in left {
            if self.rib.best(&p).is_none() && !self.changes.contains_key(&p) {
                self.changes.insert(p, NextHops::new());
                gone += 1;
            }
        }
        tracing::info!(
            removed = gone,
            "graceful restart done: routes of the previous run not learned again are removed"
        );
    }

    /// UPDATEs for neighbour `i`, while its connection's writer has room.
    fn send_updates(&mut self, i: usize) {
        let Some(n) = self.neighbors.get_mut(&i) else {
            return;
        };
        while n.peer.wants_to_send() {
            let room = n
                .peer
                .connection()
                .and_then(|c| n.conns.get(&c))
                .is_some_and(Conn::has_room);
            if !room {
                return;
            }
            let Some((c, bytes)) = n.peer.poll_update() else {
                return;
            };
            if let Some(conn) = n.conns.get(&c)
                && conn.tx.try_send(bytes).is_err()
            {
                tracing::debug!(neighbor = %n.cfg.address, "writer full: an UPDATE waits");
            }
        }
    }

    /// Carries out what neighbour `i`'s peer and BFD session want until they want nothing.
    pub fn pump(&mut self, i: usize, now: Instant) {
        loop {
            let Some(n) = self.neighbors.get_mut(&i) else {
                return;
            };
            let mut more = false;
            while let Some(o) = n.peer.poll_output() {
                more = true;
                match o {
                    Output::Connect { attempt } => network::connect_task(
                        i,
                        attempt,
                        n.cfg.address,
                        n.cfg.md5_password.clone(),
                        self.inputs.clone(),
                    ),
                    Output::Send(c, bytes) => {
                        // A session message (OPEN, KEEPALIVE, NOTIFICATION) for a writer that
                        // is full is lost with the connection that cannot take it.
                        if let Some(conn) = n.conns.get(&c)
                            && conn.tx.try_send(bytes).is_err()
                        {
                            tracing::debug!(neighbor = %n.cfg.address, "writer full: a message is dropped");
                        }
                    }
                    Output::Close(c) => {
                        if let Some(conn) = n.conns.remove(&c) {
                            drop(conn.close());
                        }
                    }
                }
            }
            let addr = n.cfg.address;
            let mut bfd_events = Vec::new();
            if let Some(b) = &mut n.bfd {
                while let Some(p) = b.poll_transmit() {
                    if let Some(sock) = self.bfd_tx.get(&addr.is_ipv6()) {
                        let _ = sock.try_send_to(&p, SocketAddr::new(addr, BFD_PORT));
                    }
                }
                while let Some(e) = b.poll_event() {
                    bfd_events.push(e);
                }
            }
            let mut events = Vec::new();
            while let Some(e) = n.peer.poll_event() {
                events.push(e);
            }
            for xc_bfd::Event::StateChange { from, to, diag } in bfd_events {
                more = true;
                let Some(n) = self.neighbors.get_mut(&i) else {
                    return;
                };
                tracing::info!(neighbor = %n.cfg.address, ?from, ?to, ?diag, "BFD session");
                if to == xc_bfd::State::Up {
                    n.bfd_up += 1;
                }
                if from == xc_bfd::State::Up {
                    n.bfd_down += 1;
                    n.last_error = Some(SessionError {
                        kind: SessionErrorKind::BfdDown,
                        notification: None,
                        message: format!("BFD down: {diag:?}"),
                    });
                    n.peer.session_mut().liveness_lost(now);
                }
            }
            for e in events {
                more = true;
                self.peer_event(i, e, now);
            }
            self.send_updates(i);
            if !more {
                return;
            }
        }
    }

    fn peer_event(&mut self, i: usize, e: PeerEvent, now: Instant) {
        let Some(n) = self.neighbors.get_mut(&i) else {
            return;
        };
        let addr = n.cfg.address;
        match e {
            PeerEvent::Session(e) => self.session_event(i, e, now),
            PeerEvent::ConnectionLost { state, error } => {
                let why = error.unwrap_or_else(|| "closed by the peer".to_owned());
                tracing::warn!(neighbor = %addr, state = %state, "BGP connection lost: {why}");
                let after_notification = n.last_error.as_ref().is_some_and(|e| {
                    matches!(
                        e.kind,
                        SessionErrorKind::NotificationSent | SessionErrorKind::NotificationReceived
                    )
                });
                if !after_notification {
                    n.last_error = Some(SessionError {
                        kind: SessionErrorKind::ConnectionLost,
                        notification: None,
                        message: format!("connection lost in {state}: {why}"),
                    });
                }
            }
            PeerEvent::ConnectFailed(e) => {
                let msg = format!("connect to {addr}:{}: {e}", network::BGP_PORT);
                tracing::debug!(neighbor = %addr, "{msg}");
                if n.peer.session().state() != State::Established {
                    n.connect_error = Some(msg);
                }
            }
            PeerEvent::Restarted { graceful } => {
                tracing::info!(neighbor = %addr, graceful, "the neighbour restarted: its new connection replaces the old one");
            }
            PeerEvent::CollisionResolved { kept, closed } => {
                tracing::info!(neighbor = %addr, kept, closed, "connection collision resolved (RFC 4271 6.8)");
            }
        }
    }

    fn session_event(&mut self, i: usize, e: Event, _now: Instant) {
        let Some(n) = self.neighbors.get_mut(&i) else {
            return;
        };
        match e {
            Event::StateChange { from, to } => {
                tracing::info!(neighbor = %n.cfg.address, from = %from, to = %to, "BGP session");
                if to == State::Established {
                    n.established_since = Some(Instant::now());
                    n.connect_error = None;
                } else if from == State::Established {
                    n.established_since = None;
                }
            }
            Event::Routes(routes) => {
                self.readvertise = true;
                let peer_router_id = n
                    .peer
                    .session()
                    .peer_router_id()
                    .unwrap_or(Ipv4Addr::UNSPECIFIED);
                let peer_addr = n.cfg.address;
                for r in routes {
                    let c = Candidate {
                        peer: i,
                        peer_router_id,
                        peer_addr,
                        next_hop: r.next_hop,
                        attrs: r.attrs,
                    };
                    if let Some(ch) = self.rib.update(r.prefix, c) {
                        self.changes.insert(ch.prefix, ch.next_hops);
                    }
                }
            }
            Event::Withdrawn(prefixes) => {
                self.readvertise = true;
                for p in prefixes {
                    if let Some(ch) = self.rib.withdraw(&p, &i) {
                        self.changes.insert(ch.prefix, ch.next_hops);
                    }
                }
            }
            Event::Refused(p) => {
                tracing::debug!(neighbor = %n.cfg.address, prefix = %p, "prefix refused by the import filter")
            }
            Event::TreatedAsWithdraw(e) => {
                tracing::warn!(neighbor = %n.cfg.address, error = %e, "malformed UPDATE: its prefixes are treated as withdrawn (RFC 7606)")
            }
            Event::GracefulRestart {
                stale,
                restart_time,
            } => {
                tracing::info!(neighbor = %n.cfg.address, stale, restart_secs = restart_time.as_secs(), "neighbour restarting gracefully: its routes are kept")
            }
            Event::NotificationSent(ref m) | Event::NotificationReceived(ref m) => {
                let sent = matches!(e, Event::NotificationSent(_));
                let (kind, verb) = if sent {
                    (SessionErrorKind::NotificationSent, "sent")
                } else {
                    (SessionErrorKind::NotificationReceived, "received")
                };
                let d = m.describe();
                tracing::warn!(neighbor = %n.cfg.address, "NOTIFICATION {verb}: {d}");
                n.last_error = Some(SessionError {
                    kind,
                    notification: Some(crate::status::NotificationCode {
                        code: m.code,
                        subcode: m.subcode,
                    }),
                    message: format!("NOTIFICATION {verb}: {d}"),
                });
            }
        }
    }

    async fn shutdown(&mut self) {
        let now = Instant::now();
        let mut writers = Vec::new();
        for i in self.ids() {
            let Some(n) = self.neighbors.get_mut(&i) else {
                continue;
            };
            n.peer.stop(now);
            if let Some(b) = &mut n.bfd {
                b.set_admin_down(true, now);
            }
            // The NOTIFICATION must leave before we return: keep the writers' handles.
            while let Some(o) = n.peer.poll_output() {
                match o {
                    Output::Send(c, bytes) => {
                        if let Some(conn) = n.conns.get(&c) {
                            let _ = conn.tx.try_send(bytes);
                        }
                    }
                    Output::Close(c) => {
                        if let Some(w) = n.conns.remove(&c).and_then(Conn::close) {
                            writers.push(w);
                        }
                    }
                    Output::Connect { .. } => {}
                }
            }
            for (_, c) in n.conns.drain() {
                writers.extend(c.close());
            }
            while n.peer.poll_event().is_some() {}
            if let Some(b) = &mut n.bfd {
                while let Some(p) = b.poll_transmit() {
                    let addr = n.cfg.address;
                    if let Some(sock) = self.bfd_tx.get(&addr.is_ipv6()) {
                        let _ = sock.try_send_to(&p, SocketAddr::new(addr, BFD_PORT));
                    }
                }
            }
        }
        let all: Vec<(IpNet, NextHops)> = self
            .installed
            .lock()
            .map(|i| i.keys().map(|p| (*p, NextHops::new())).collect())
            .unwrap_or_default();
        let kernel = std::mem::replace(&mut self.kernel, std::sync::mpsc::sync_channel(1).0);
        let _ = tokio::task::spawn_blocking(move || {
            // The kernel thread takes the removal, then ends with the closed channel.
            let _ = kernel.send(all);
        })
        .await;
        let _ =
            tokio::time::timeout(Duration::from_secs(2), futures::future::join_all(writers)).await;
        if let Some(k) = self.kernel_done.take() {
            let _ = tokio::time::timeout(Duration::from_secs(3), k).await;
        }
        // Free ports 179 and 3784 before returning: a new speaker may start at once.
        for t in &self.socket_tasks {
            t.abort();
        }
        for t in self.socket_tasks.drain(..) {
            let _ = t.await;
        }
        self.listeners.clear();
        self.bfd_tx.clear();
    }
}
