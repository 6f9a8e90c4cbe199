//! The gateway's BGP speaker and BFD: the drivers around the sans-IO `xc-bgp` and `xc-bfd`.
//!
//! ```text
//!  TCP 179 listener(s) ─┐  outgoing connect tasks ─┐  per connection: reader task ─┐
//!  BFD UDP 3784 reader(s) ─────────────────────────┴──────────────────────────────┴─► Input
//!                                                                                     │
//!  speaker task (one, owns every Session, BFD session and the Loc-RIB) ◄──────────────┘
//!     ├─► per connection: writer task (bytes out; closes when its sender is dropped)
//!     ├─► BFD packets (UDP, source port 49152.., TTL 255)
//!     └─► kernel task: coalesces route changes, applies them with rtnetlink (protocol bgp)
//! ```
//!
//! All state lives in the speaker task, which reacts to one [`Input`] at a time and to its
//! timers; nothing is shared but the status snapshot. A BFD session going down closes the BGP
//! session at once (Cease / BFD Down) and its routes leave the kernel in the same pass.
//!
//! Connection collisions (RFC 4271 6.8): while the session has no connection, an incoming one is
//! taken and a connect in flight is abandoned; while it has one in OpenSent, a second one waits
//! until the first one's OPEN gives the peer's BGP identifier, and the connection opened by the
//! speaker with the higher identifier is kept (the other gets Cease / Connection Collision
//! Resolution) unless the session reached Established on the first one meanwhile, which then
//! stays; an incoming connection while Established means the peer restarted and replaces
//! the old one (its routes are kept as stale when the peer does graceful restart).

pub mod kernel;
pub mod md5;

use crate::config::{BgpSettings, NeighborSettings};
use crate::status::{
    BfdDiag, BfdState, BfdStatus, BgpState, NeighborStatus, NotificationCode, RouteStatus,
    RoutingStatus, SessionError, SessionErrorKind,
};
use ipnet::IpNet;
use kernel::Kernel;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use xc_bgp::Message;
use xc_bgp::message::Notification;
use xc_bgp::rib::{Candidate, LocRib, NextHops};
use xc_bgp::session::{self, Action, Event, ExportAttrs, Session, State};

const BGP_PORT: u16 = 179;
const BFD_PORT: u16 = 3784;
/// How long an outgoing connect may take. Short: with TCP MD5, a connect to a peer that is not
/// listening yet hangs on SYN retries (its unsigned reset is dropped).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the status snapshot is refreshed while things change.
const STATUS_EVERY: Duration = Duration::from_millis(100);
/// Routes listed in the status (all are counted).
const STATUS_ROUTES: usize = 1000;

enum Input {
    Accepted(TcpStream, SocketAddr),
    Connected {
        nbr: usize,
        attempt: u64,
        result: io::Result<TcpStream>,
    },
    Bytes {
        nbr: usize,
        conn: u64,
        data: Vec<u8>,
    },
    Closed {
        nbr: usize,
        conn: u64,
        error: Option<String>,
    },
    Bfd {
        from: IpAddr,
        data: Vec<u8>,
    },
    Reconfigure(Box<BgpSettings>),
    Stop(std::sync::mpsc::Sender<()>),
}

/// One TCP connection to a neighbour: its reader feeds the speaker, its writer drains `tx`.
struct Conn {
    id: u64,
    outgoing: bool,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
    local: SocketAddr,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // The writer ends by itself once `tx` is gone, after writing what is queued.
        self.reader.abort();
    }
}

struct Neighbor {
    cfg: NeighborSettings,
    session: Session,
    conn: Option<Conn>,
    /// A second connection waiting for the collision to be resolved, with what it has read.
    /// Our OPEN was sent on it, so that the peer can answer with its own.
    pending: Option<(Conn, Vec<u8>)>,
    /// A connection from the peer while Established: it replaces the session only if the peer
    /// sends an OPEN on it (it restarted); otherwise it is a stale attempt and is dropped.
    waiting: Option<(Conn, Vec<u8>)>,
    /// The outgoing connect in flight, if any (results of older attempts are ignored).
    attempt: Option<u64>,
    bfd: Option<xc_bfd::Session>,
    bfd_up: u64,
    bfd_down: u64,
    established_since: Option<Instant>,
    /// Why the session last went down (a NOTIFICATION, BFD, the connection lost).
    last_error: Option<SessionError>,
    /// Why the last attempt to connect failed; cleared once Established.
    connect_error: Option<String>,
}

/// A running speaker. Dropping it does not stop it: call [`Routing::stop`].
#[derive(Debug)]
pub struct Routing {
    tx: mpsc::UnboundedSender<Input>,
    status: Arc<Mutex<RoutingStatus>>,
    installed: Arc<Mutex<BTreeMap<IpNet, NextHops>>>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Input")
    }
}

fn describe(n: &Notification) -> String {
    let what = match (n.code, n.subcode) {
        (1, _) => "Message Header Error".to_owned(),
        (2, 2) => "OPEN Message Error / Bad Peer AS".to_owned(),
        (2, 3) => "OPEN Message Error / Bad BGP Identifier".to_owned(),
        (2, 7) => "OPEN Message Error / Unsupported Capability".to_owned(),
        (2, s) => format!("OPEN Message Error / subcode {s}"),
        (3, s) => format!("UPDATE Message Error / subcode {s}"),
        (4, _) => "Hold Timer Expired".to_owned(),
        (5, _) => "Finite State Machine Error".to_owned(),
        (6, 1) => {
            let limit = n
                .data
                .get(3..7)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            match limit {
                Some(l) => format!("Cease / Maximum Number of Prefixes Reached (limit {l})"),
                None => "Cease / Maximum Number of Prefixes Reached".to_owned(),
            }
        }
        (6, 2) => "Cease / Administrative Shutdown".to_owned(),
        (6, 3) => "Cease / Peer De-configured".to_owned(),
        (6, 4) => "Cease / Administrative Reset".to_owned(),
        (6, 5) => "Cease / Connection Rejected".to_owned(),
        (6, 6) => "Cease / Other Configuration Change".to_owned(),
        (6, 7) => "Cease / Connection Collision Resolution".to_owned(),
        (6, 8) => "Cease / Out of Resources".to_owned(),
        (6, 9) => "Cease / Hard Reset".to_owned(),
        (6, 10) => "Cease / BFD Down".to_owned(),
        (6, s) => format!("Cease / subcode {s}"),
        (c, s) => format!("error code {c} subcode {s}"),
    };
    format!("{what} ({}/{})", n.code, n.subcode)
}

fn bgp_state(s: State) -> BgpState {
    match s {
        State::Idle => BgpState::Idle,
        State::Connect => BgpState::Connect,
        State::OpenSent => BgpState::OpenSent,
        State::OpenConfirm => BgpState::OpenConfirm,
        State::Established => BgpState::Established,
    }
}

fn bfd_state(s: xc_bfd::State) -> BfdState {
    match s {
        xc_bfd::State::AdminDown => BfdState::AdminDown,
        xc_bfd::State::Down => BfdState::Down,
        xc_bfd::State::Init => BfdState::Init,
        xc_bfd::State::Up => BfdState::Up,
    }
}

fn bfd_diag(d: xc_bfd::Diag) -> BfdDiag {
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

fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
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

/// A listening socket on port 179 with the MD5 keys of the neighbours of its family.
fn listener(v6: bool, neighbors: &[NeighborSettings]) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if v6 {
        s.set_only_v6(true)?;
    }
    for n in neighbors {
        if let Some(k) = &n.md5_password
            && n.address.is_ipv6() == v6
        {
            md5::set_key(&s, n.address, k.as_bytes())?;
        }
    }
    let addr: SocketAddr = if v6 {
        (Ipv6Addr::UNSPECIFIED, BGP_PORT).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, BGP_PORT).into()
    };
    s.bind(&addr.into()).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen on TCP {addr} for BGP: {e} (port 179 needs root or CAP_NET_BIND_SERVICE, and no other BGP daemon in this network namespace)"),
        )
    })?;
    s.listen(128)?;
    s.set_nonblocking(true)?;
    TcpListener::from_std(s.into())
}

/// A UDP socket for BFD: the receiving one on port 3784, or a sending one on a source port in
/// 49152-65535 with TTL 255 (RFC 5881 4, 5).
fn bfd_socket(v6: bool, receive: bool) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    let ip: IpAddr = if v6 {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    };
    let ports: Vec<u16> = if receive {
        vec![BFD_PORT]
    } else {
        (49152..=65535).step_by(97).collect()
    };
    let mut last = None;
    for port in ports {
        let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        if v6 {
            s.set_only_v6(true)?;
            s.set_unicast_hops_v6(255)?;
        } else {
            s.set_ttl_v4(255)?;
        }
        match s.bind(&SocketAddr::new(ip, port).into()) {
            Ok(()) => {
                s.set_nonblocking(true)?;
                return UdpSocket::from_std(s.into());
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| io::Error::other("no port"));
    Err(io::Error::new(
        e.kind(),
        format!("cannot open the BFD socket: {e}"),
    ))
}

impl Routing {
    /// Starts the speaker on the current tokio runtime: binds port 179 (and 3784 for BFD),
    /// looks for routes left by a previous run, and begins connecting to every neighbour.
    pub async fn start(cfg: BgpSettings) -> io::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let kernel = Kernel::open()?;
        let leftovers = kernel.our_routes().await?;
        let restarting = cfg.graceful_restart_secs > 0 && !leftovers.is_empty();
        if restarting {
            tracing::info!(
                routes = leftovers.len(),
                "routes from a previous run are kept while the sessions come back (graceful restart)"
            );
        } else if !leftovers.is_empty() {
            let gone: Vec<(IpNet, NextHops)> =
                leftovers.iter().map(|p| (*p, NextHops::new())).collect();
            kernel::Batcher::open()?.apply(&gone);
        }
        let now = Instant::now();
        let installed: Arc<Mutex<BTreeMap<IpNet, NextHops>>> = Arc::default();
        let status = Arc::new(Mutex::new(RoutingStatus::default()));
        if let Ok(mut i) = installed.lock() {
            // Routes kept from a previous run are shown (without next hops) until replaced.
            *i = leftovers.iter().map(|p| (*p, NextHops::new())).collect();
        }
        let (ktx, krx) = std::sync::mpsc::channel();
        let (kdone_tx, kdone_rx) = tokio::sync::oneshot::channel::<()>();
        let batcher = kernel::Batcher::open()?;
        {
            let (installed, status) = (installed.clone(), status.clone());
            std::thread::Builder::new()
                .name("xc-kernel-routes".into())
                .spawn(move || {
                    kernel_thread(batcher, krx, installed, status);
                    let _ = kdone_tx.send(());
                })?;
        }
        let kernel_task = kdone_rx;
        let sweep_at =
            restarting.then(|| now + Duration::from_secs(u64::from(cfg.graceful_restart_secs)));
        let settings = cfg.neighbors.clone();
        let mut speaker = Speaker {
            cfg,
            neighbors: BTreeMap::new(),
            next_neighbor: 0,
            restarting,
            rib: LocRib::new(),
            changes: HashMap::new(),
            kernel: ktx,
            kernel_task: Some(kernel_task),
            listeners: HashMap::new(),
            bfd_tx: HashMap::new(),
            socket_tasks: Vec::new(),
            tx: tx.clone(),
            next_id: 1,
            status: status.clone(),
            installed: installed.clone(),
            leftovers: restarting.then_some(leftovers),
            sweep_at,
            last_status: now - STATUS_EVERY,
            dirty: true,
            readvertise: false,
        };
        for n in settings {
            speaker.add_neighbor(n, now)?;
        }
        tokio::spawn(speaker.run(rx));
        Ok(Self {
            tx,
            status,
            installed,
        })
    }

    /// Changes the configuration of the running speaker without disturbing what did not change:
    /// neighbours added or removed, import policies and prefix limits changed live (with
    /// ROUTE-REFRESH), announcements changed. A neighbour whose other settings change is
    /// restarted; a change of AS or router id restarts every session.
    pub fn reconfigure(&self, cfg: BgpSettings) {
        let _ = self.tx.send(Input::Reconfigure(Box::new(cfg)));
    }

    /// Closes every session (Cease / Administrative Shutdown), removes the routes from the
    /// kernel, and waits (at most 5 s) for it to be done. Callable from any non-async thread.
    pub fn stop(&self) {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        if self.tx.send(Input::Stop(done_tx)).is_ok() {
            let _ = done_rx.recv_timeout(Duration::from_secs(5));
        }
    }

    /// A fresh status: the speaker's last snapshot with the routes in the kernel now.
    pub fn status(&self) -> RoutingStatus {
        snapshot(&self.status, &self.installed)
    }

    /// A closure returning [`Routing::status`], for the admin server.
    pub fn status_source(&self) -> impl Fn() -> RoutingStatus + Send + Sync + 'static {
        let status = self.status.clone();
        let installed = self.installed.clone();
        move || snapshot(&status, &installed)
    }
}

fn snapshot(
    status: &Mutex<RoutingStatus>,
    installed: &Mutex<BTreeMap<IpNet, NextHops>>,
) -> RoutingStatus {
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

/// Forwarding changes handed to the kernel thread at once while a table is arriving.
const KERNEL_BATCH: usize = 4096;

/// Applies route changes in order and keeps the table of what is installed. Runs on its own thread: netlink
/// writes block.
fn kernel_thread(
    mut nl: kernel::Batcher,
    rx: std::sync::mpsc::Receiver<Vec<(IpNet, NextHops)>>,
    installed: Arc<Mutex<BTreeMap<IpNet, NextHops>>>,
    status: Arc<Mutex<RoutingStatus>>,
) {
    // Batches are applied in order (each prefix at most once per batch; a later batch's change
    // of a prefix replaces an earlier one in the kernel as it does here).
    while let Ok(changes) = rx.recv() {
        let failed = nl.apply(&changes);
        let failed_set: std::collections::HashSet<IpNet> = failed.iter().map(|(p, _)| *p).collect();
        if let Ok(mut i) = installed.lock() {
            for (p, hops) in changes {
                if failed_set.contains(&p) {
                    continue;
                }
                if hops.is_empty() {
                    i.remove(&p);
                } else {
                    i.insert(p, hops);
                }
            }
        }
        if let Some((p, e)) = failed.first() {
            tracing::warn!(prefix = %p, error = %e, failed = failed.len(), "route not installed");
            if let Ok(mut s) = status.lock() {
                s.kernel_errors += failed.len() as u64;
                s.last_kernel_error = Some(format!("{p}: {e}"));
            }
        }
    }
}

struct Speaker {
    cfg: BgpSettings,
    /// By a stable id (the Loc-RIB's peer key), so that neighbours come and go.
    neighbors: BTreeMap<usize, Neighbor>,
    next_neighbor: usize,
    rib: LocRib<usize>,
    /// Route changes for the kernel since the last flush.
    changes: HashMap<IpNet, NextHops>,
    kernel: std::sync::mpsc::Sender<Vec<(IpNet, NextHops)>>,
    kernel_task: Option<tokio::sync::oneshot::Receiver<()>>,
    /// The TCP 179 listeners, by family (true: IPv6).
    listeners: HashMap<bool, Arc<TcpListener>>,
    /// The BFD sending sockets, by family; the receiving ones live in their tasks.
    bfd_tx: HashMap<bool, Arc<UdpSocket>>,
    /// The accept and BFD receive tasks: stopped with the speaker, so that the ports are free
    /// for the next one.
    socket_tasks: Vec<JoinHandle<()>>,
    /// Started with routes of a previous run kept (graceful restart).
    restarting: bool,
    tx: mpsc::UnboundedSender<Input>,
    next_id: u64,
    status: Arc<Mutex<RoutingStatus>>,
    installed: Arc<Mutex<BTreeMap<IpNet, NextHops>>>,
    /// Routes left by a previous run, swept once the sessions are back (graceful restart).
    leftovers: Option<Vec<IpNet>>,
    sweep_at: Option<Instant>,
    last_status: Instant,
    dirty: bool,
    /// The Loc-RIB changed: neighbours with an export policy get their routes again.
    readvertise: bool,
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
            let l = Arc::new(listener(v6, std::slice::from_ref(n))?);
            self.listeners.insert(v6, l.clone());
            let tx = self.tx.clone();
            self.socket_tasks.push(tokio::spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, peer)) => {
                            if tx.send(Input::Accepted(s, peer)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "BGP accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }));
        }
        if n.bfd && !self.bfd_tx.contains_key(&v6) {
            let rx_sock = bfd_socket(v6, true)?;
            self.bfd_tx.insert(v6, Arc::new(bfd_socket(v6, false)?));
            let tx = self.tx.clone();
            self.socket_tasks.push(tokio::spawn(async move {
                let mut buf = [0u8; 512];
                loop {
                    match rx_sock.recv_from(&mut buf).await {
                        Ok((n, from)) => {
                            let data = buf[..n].to_vec();
                            let from = unmapped(from.ip());
                            if tx.send(Input::Bfd { from, data }).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "BFD receive failed");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            }));
        }
        Ok(())
    }

    fn add_neighbor(&mut self, s: NeighborSettings, now: Instant) -> io::Result<()> {
        self.ensure_sockets(&s)?;
        let id = self.next_neighbor;
        self.next_neighbor += 1;
        let mut session = Session::new(session_config(&self.cfg, &s, self.restarting));
        session.start(now);
        let bfd = s
            .bfd
            .then(|| xc_bfd::Session::new(bfd_config(&s), rand::random(), now));
        self.neighbors.insert(
            id,
            Neighbor {
                cfg: s,
                session,
                conn: None,
                pending: None,
                waiting: None,
                attempt: None,
                bfd,
                bfd_up: 0,
                bfd_down: 0,
                established_since: None,
                last_error: None,
                connect_error: None,
            },
        );
        self.originate(id);
        self.dirty = true;
        Ok(())
    }

    /// Stops a neighbour's session (Cease / Peer De-configured), withdraws its routes and
    /// forgets it.
    fn remove_neighbor(&mut self, id: usize, now: Instant) {
        let Some(n) = self.neighbors.get_mut(&id) else {
            return;
        };
        if matches!(
            n.session.state(),
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            // Peer De-configured rather than the Administrative Shutdown of `stop`.
            if let Some(c) = &n.conn {
                let m = Message::Notification(Notification {
                    code: 6,
                    subcode: 3,
                    data: vec![],
                });
                let _ = c.tx.send(m.encode());
            }
        }
        n.conn = None;
        n.session.disconnected(now);
        n.session.stop(now);
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
                        x.session.set_import(now, n.import.clone(), n.max_prefixes);
                        let export_change = x.cfg.export != n.export;
                        x.cfg = n.clone();
                        if export_change {
                            self.originate(*id);
                        }
                    }
                }
                _ => self.remove_neighbor(*id, now),
            }
        }
        self.cfg = new.clone();
        if announce_change {
            for id in self.ids() {
                self.originate(id);
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

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Input>) {
        self.tick();
        loop {
            let deadline = self.deadline();
            let input = tokio::select! {
                i = rx.recv() => i,
                _ = tokio::time::sleep_until(deadline.into()) => None,
            };
            let mut stop = None;
            let mut next = input;
            let mut budget = 256;
            while let Some(i) = next.take() {
                if let Input::Stop(done) = i {
                    stop = Some(done);
                    break;
                }
                self.handle(i);
                budget -= 1;
                if budget > 0 {
                    next = rx.try_recv().ok();
                }
            }
            if let Some(done) = stop {
                self.shutdown().await;
                let _ = done.send(());
                return;
            }
            self.tick();
        }
    }

    fn deadline(&self) -> Instant {
        let mut d = Instant::now() + Duration::from_secs(1);
        for n in self.neighbors.values() {
            if let Some(t) = n.session.poll_timeout() {
                d = d.min(t);
            }
            if let Some(t) = n.bfd.as_ref().and_then(|b| b.poll_timeout()) {
                d = d.min(t);
            }
        }
        if self.dirty {
            d = d.min(self.last_status + STATUS_EVERY);
        }
        if let Some(t) = self.sweep_at {
            d = d.min(t);
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
                n.session.originate(&announce);
            }
        }
    }

    /// Sends each neighbour that has an export policy what matches it: the announced prefixes
    /// and the best routes learned from the other neighbours (their AS path kept, this speaker's
    /// ASN put in front by the session, the next hop this end's address). A route learned from
    /// the neighbour itself is not sent back to it.
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
            let originated = ExportAttrs::originated();
            for p in self.cfg.announce.iter().filter(|p| filter.accepts(p)) {
                out.insert(*p, originated.clone());
            }
            for (p, best) in self.rib.iter_best() {
                if best.peer != i && filter.accepts(p) && !out.contains_key(p) {
                    out.insert(
                        *p,
                        Arc::new(ExportAttrs {
                            as_path: best.attrs.as_path.to_vec(),
                            origin: best.attrs.origin,
                            communities: Vec::new(),
                        }),
                    );
                }
            }
            n.session.set_exports(out);
            self.pump(i, now);
        }
    }

    fn open_conn(&mut self, nbr: usize, stream: TcpStream, outgoing: bool) -> io::Result<Conn> {
        let local = stream.local_addr()?;
        let _ = stream.set_nodelay(true);
        let (mut r, mut w) = stream.into_split();
        let id = self.next_id;
        self.next_id += 1;
        let (btx, mut brx) = mpsc::unbounded_channel::<Vec<u8>>();
        let writer = tokio::spawn(async move {
            while let Some(b) = brx.recv().await {
                if w.write_all(&b).await.is_err() {
                    return;
                }
            }
            let _ = w.shutdown().await;
        });
        let tx = self.tx.clone();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match r.read(&mut buf).await {
                    Ok(0) => {
                        let _ = tx.send(Input::Closed {
                            nbr,
                            conn: id,
                            error: None,
                        });
                        return;
                    }
                    Ok(n) => {
                        let data = buf[..n].to_vec();
                        if tx
                            .send(Input::Bytes {
                                nbr,
                                conn: id,
                                data,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Input::Closed {
                            nbr,
                            conn: id,
                            error: Some(e.to_string()),
                        });
                        return;
                    }
                }
            }
        });
        Ok(Conn {
            id,
            outgoing,
            tx: btx,
            reader,
            writer,
            local,
        })
    }

    /// Makes `conn` the session's connection: the session sends its OPEN (unless `open_sent`),
    /// and what was read on the connection meanwhile is handed over.
    fn adopt(&mut self, i: usize, conn: Conn, read: Vec<u8>) {
        self.adopt_with(i, conn, read, false);
    }

    fn adopt_with(&mut self, i: usize, conn: Conn, read: Vec<u8>, open_sent: bool) {
        let now = Instant::now();
        let Some(n) = self.neighbors.get_mut(&i) else {
            return;
        };
        n.attempt = None;
        let (v4, v6) = match conn.local.ip() {
            IpAddr::V4(a) => (Some(a), None),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(m) => (Some(m), None),
                None => (None, Some(a)),
            },
        };
        n.session.set_next_hops(v4, v6);
        n.conn = Some(conn);
        if open_sent {
            n.session.connected_after_open(now);
        } else {
            n.session.connected(now);
        }
        if !read.is_empty() {
            n.session.handle_bytes(now, &read);
        }
    }

    /// Sends Cease / Connection Collision Resolution on a connection and closes it.
    fn reject(conn: Conn) {
        let n = Message::Notification(Notification {
            code: 6,
            subcode: 7,
            data: vec![],
        });
        let _ = conn.tx.send(n.encode());
    }

    fn handle(&mut self, input: Input) {
        let now = Instant::now();
        self.dirty = true;
        match input {
            Input::Accepted(stream, peer) => {
                let ip = unmapped(peer.ip());
                let Some(i) = self
                    .neighbors
                    .iter()
                    .find(|(_, n)| n.cfg.address == ip)
                    .map(|(id, _)| *id)
                else {
                    tracing::info!(peer = %ip, "BGP connection from an address that is not a neighbour: closed");
                    return;
                };
                let conn = match self.open_conn(i, stream, false) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(peer = %ip, error = %e, "cannot use an accepted connection");
                        return;
                    }
                };
                self.incoming(i, conn, now);
            }
            Input::Connected {
                nbr,
                attempt,
                result,
            } => {
                let Some(n) = self.neighbors.get_mut(&nbr) else {
                    return;
                };
                if n.attempt != Some(attempt) {
                    return; // abandoned: an incoming connection was taken meanwhile
                }
                n.attempt = None;
                match result {
                    Err(e) => {
                        let msg = format!("connect to {}:{BGP_PORT}: {e}", n.cfg.address);
                        tracing::debug!(neighbor = %n.cfg.address, "{msg}");
                        if n.session.state() != State::Established {
                            n.connect_error = Some(msg);
                        }
                    }
                    Ok(stream) => {
                        let state = n.session.state();
                        if state == State::Idle || state == State::Established {
                            return; // not wanted (the peer drops it when it sees no OPEN)
                        }
                        let busy = n.conn.is_some();
                        let c = match self.open_conn(nbr, stream, true) {
                            Ok(c) => c,
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot use a connection");
                                return;
                            }
                        };
                        if busy {
                            // The peer's connection came first: a collision (RFC 4271 6.8).
                            self.second_connection(nbr, c, now);
                        } else {
                            self.adopt(nbr, c, Vec::new());
                        }
                    }
                }
            }
            Input::Bytes { nbr, conn, data } => {
                let Some(n) = self.neighbors.get_mut(&nbr) else {
                    return;
                };
                if n.conn.as_ref().is_some_and(|c| c.id == conn) {
                    n.session.handle_bytes(now, &data);
                    // What these bytes brought goes on at once (at most one read's worth of
                    // routes is held as events), and a large table reaches the kernel while
                    // the rest of it is still arriving.
                    self.pump(nbr, now);
                    if self.changes.len() >= KERNEL_BATCH {
                        self.flush_changes();
                    }
                } else if let Some((c, buf)) = &mut n.pending
                    && c.id == conn
                    && buf.len() < 64 * 1024
                {
                    buf.extend_from_slice(&data);
                } else if let Some((c, buf)) = &mut n.waiting
                    && c.id == conn
                    && buf.len() < 64 * 1024
                {
                    buf.extend_from_slice(&data);
                    let open = matches!(Message::peek_len(buf), Ok(Some(l)) if buf.len() >= l)
                        && buf.get(18) == Some(&1);
                    if open && let Some((c, read)) = n.waiting.take() {
                        tracing::info!(neighbor = %n.cfg.address, "the neighbour restarted: its new connection replaces the old one");
                        let old = n.conn.take();
                        n.session.disconnected(now);
                        drop(old);
                        self.pump(nbr, now);
                        self.adopt(nbr, c, read);
                    }
                }
            }
            Input::Closed { nbr, conn, error } => {
                let Some(n) = self.neighbors.get_mut(&nbr) else {
                    return;
                };
                if n.conn.as_ref().is_some_and(|c| c.id == conn) {
                    n.conn = None;
                    let was = n.session.state();
                    n.session.disconnected(now);
                    if was != State::Connect {
                        let why = error.unwrap_or_else(|| "closed by the peer".to_owned());
                        tracing::warn!(neighbor = %n.cfg.address, state = was.name(), "BGP connection lost: {why}");
                        let after_notification = n.last_error.as_ref().is_some_and(|e| {
                            matches!(
                                e.kind,
                                SessionErrorKind::NotificationSent
                                    | SessionErrorKind::NotificationReceived
                            )
                        });
                        if !after_notification {
                            n.last_error = Some(SessionError {
                                kind: SessionErrorKind::ConnectionLost,
                                notification: None,
                                message: format!("connection lost in {}: {why}", was.name()),
                            });
                        }
                    }
                    if let Some((c, read)) = n.pending.take() {
                        self.adopt_with(nbr, c, read, true);
                    } else if let Some((c, read)) = n.waiting.take() {
                        self.adopt(nbr, c, read);
                    }
                } else if n.pending.as_ref().is_some_and(|(c, _)| c.id == conn) {
                    n.pending = None;
                } else if n.waiting.as_ref().is_some_and(|(c, _)| c.id == conn) {
                    n.waiting = None;
                }
            }
            Input::Bfd { from, data } => {
                let Some(n) = self
                    .neighbors
                    .values_mut()
                    .find(|n| n.cfg.address == from && n.bfd.is_some())
                else {
                    return;
                };
                if let Some(b) = &mut n.bfd
                    && let Err(e) = b.handle_packet(now, &data)
                {
                    tracing::debug!(peer = %from, error = %e, "BFD packet refused");
                }
            }
            Input::Reconfigure(cfg) => self.reconfigure(*cfg, now),
            Input::Stop(_) => {}
        }
    }

    fn incoming(&mut self, i: usize, conn: Conn, now: Instant) {
        let Some(n) = self.neighbors.get_mut(&i) else {
            return;
        };
        match (n.session.state(), &n.conn) {
            (State::Idle, _) => Self::reject(conn),
            (_, None) => {
                n.attempt = None;
                self.adopt(i, conn, Vec::new());
            }
            (State::OpenSent | State::OpenConfirm, Some(c)) if c.outgoing => {
                self.second_connection(i, conn, now);
            }
            (State::Established, Some(_)) => {
                // RFC 4271 6.8: the established session stays; the new connection counts only
                // if an OPEN arrives on it.
                n.waiting = Some((conn, Vec::new()));
            }
            _ => {
                // A second incoming connection before Established: the peer gave up on the
                // first one.
                tracing::info!(neighbor = %n.cfg.address, "new connection from the neighbour replaces the old one");
                let old = n.conn.take();
                n.session.disconnected(now);
                drop(old);
                self.pump(i, now);
                self.adopt(i, conn, Vec::new());
            }
        }
    }

    /// Collision lost by our connection: it gets Cease / Connection Collision Resolution and
    /// the peer's connection takes over.
    fn replace_connection(
        &mut self,
        i: usize,
        conn: Conn,
        read: Vec<u8>,
        open_sent: bool,
        now: Instant,
    ) {
        let Some(n) = self.neighbors.get_mut(&i) else {
            return;
        };
        if let Some(old) = n.conn.take() {
            Self::reject(old);
        }
        n.session.disconnected(now);
        self.pump(i, now);
        self.adopt_with(i, conn, read, open_sent);
    }

    /// A second connection to a neighbour before Established (RFC 4271 6.8): our OPEN goes on
    /// it too, and the one opened by the speaker with the higher BGP identifier is kept, as soon
    /// as the peer's identifier is known (at once in OpenConfirm, else when its OPEN arrives).
    fn second_connection(&mut self, i: usize, conn: Conn, now: Instant) {
        let Some(n) = self.neighbors.get_mut(&i) else {
            return;
        };
        let _ = conn.tx.send(n.session.open_message());
        if let Some((old, _)) = n.pending.replace((conn, Vec::new())) {
            Self::reject(old);
        }
        if n.session.state() == State::OpenConfirm {
            self.resolve_collision(i, now);
        }
    }

    /// A pending collision is decided once the session knows the peer's identifier: the
    /// connection that the speaker with the higher identifier opened stays. A session that
    /// reached Established meanwhile (the peer's OPEN and KEEPALIVE read at once) keeps its
    /// connection, whatever the identifiers say (RFC 4271 6.8): the peer has accepted it too.
    fn resolve_collision(&mut self, i: usize, now: Instant) {
        let Some(n) = self.neighbors.get_mut(&i) else {
            return;
        };
        let Some(peer) = n.session.peer_router_id() else {
            return;
        };
        let Some((conn, read)) = n.pending.take() else {
            return;
        };
        if n.session.state() == State::Established {
            Self::reject(conn);
            return;
        }
        let we_win = self.cfg.router_id > peer;
        if conn.outgoing == we_win {
            self.replace_connection(i, conn, read, true, now);
        } else {
            Self::reject(conn);
        }
    }

    fn connect(&mut self, i: usize) {
        let Some(n) = self.neighbors.get_mut(&i) else {
            return;
        };
        if n.conn.is_some() || n.attempt.is_some() {
            return;
        }
        let attempt = self.next_id;
        self.next_id += 1;
        n.attempt = Some(attempt);
        let addr = n.cfg.address;
        let key = n.cfg.md5_password.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = async {
                let s = if addr.is_ipv4() {
                    TcpSocket::new_v4()?
                } else {
                    TcpSocket::new_v6()?
                };
                if let Some(k) = &key {
                    md5::set_key(&s, addr, k.as_bytes())?;
                }
                tokio::time::timeout(CONNECT_TIMEOUT, s.connect(SocketAddr::new(addr, BGP_PORT)))
                    .await
                    .map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::TimedOut,
                            "no answer within 3 s (with TCP MD5, a wrong or missing password on either side looks like this)",
                        )
                    })?
            }
            .await;
            let _ = tx.send(Input::Connected {
                nbr: i,
                attempt,
                result,
            });
        });
    }

    /// Timers, then everything the state machines want done.
    fn tick(&mut self) {
        let now = Instant::now();
        for i in self.ids() {
            let Some(n) = self.neighbors.get_mut(&i) else {
                continue;
            };
            if n.session.poll_timeout().is_some_and(|t| t <= now) {
                n.session.handle_timeout(now);
            }
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
            self.publish(now);
        }
    }

    /// Hands the pending forwarding changes to the kernel thread (each prefix once per batch;
    /// batches are applied in order).
    fn flush_changes(&mut self) {
        if !self.changes.is_empty() {
            let batch: Vec<(IpNet, NextHops)> = self.changes.drain().collect();
            let _ = self.kernel.send(batch);
        }
    }

    /// After a restart, every session is back and has sent its whole table (End-of-RIB for
    /// each family; a peer without graceful restart gets 5 s): route selection is no longer
    /// deferred (RFC 4724 4.1).
    fn sessions_back(&self) -> bool {
        self.leftovers.is_some()
            && self.neighbors.values().all(|n| {
                if n.session.peer_graceful_restart() {
                    n.session.end_of_rib_received()
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

    /// Drains a neighbour's BGP and BFD outputs until there are none.
    fn pump(&mut self, i: usize, now: Instant) {
        loop {
            let mut more = false;
            let Some(n) = self.neighbors.get_mut(&i) else {
                return;
            };
            while let Some(b) = n.session.poll_transmit() {
                if let Some(c) = &n.conn {
                    let _ = c.tx.send(b);
                }
            }
            let mut actions = Vec::new();
            while let Some(a) = n.session.poll_action() {
                actions.push(a);
            }
            let mut events = Vec::new();
            while let Some(e) = n.session.poll_event() {
                events.push(e);
            }
            let mut bfd_events = Vec::new();
            let mut bfd_out = Vec::new();
            if let Some(b) = &mut n.bfd {
                while let Some(p) = b.poll_transmit() {
                    bfd_out.push(p);
                }
                while let Some(e) = b.poll_event() {
                    bfd_events.push(e);
                }
            }
            let addr = n.cfg.address;
            if let Some(sock) = self.bfd_tx.get(&addr.is_ipv6()) {
                for p in bfd_out {
                    let _ = sock.try_send_to(&p, SocketAddr::new(addr, BFD_PORT));
                }
            }
            for a in actions {
                more = true;
                match a {
                    Action::Connect => self.connect(i),
                    Action::Close => {
                        let Some(n) = self.neighbors.get_mut(&i) else {
                            return;
                        };
                        n.conn = None;
                        if let Some((c, read)) = n.pending.take() {
                            // The pending connection is all that is left.
                            if n.session.state() == State::Connect {
                                self.adopt_with(i, c, read, true);
                            }
                        }
                    }
                }
            }
            for e in events {
                more = true;
                self.session_event(i, e, now);
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
                    n.session.liveness_lost(now);
                }
            }
            if !more {
                return;
            }
        }
    }

    fn session_event(&mut self, i: usize, e: Event, now: Instant) {
        let Some(n) = self.neighbors.get_mut(&i) else {
            return;
        };
        match e {
            Event::StateChange { from, to } => {
                tracing::info!(neighbor = %n.cfg.address, from = from.name(), to = to.name(), "BGP session");
                if to == State::Established {
                    n.established_since = Some(now);
                    n.connect_error = None;
                } else if from == State::Established {
                    n.established_since = None;
                }
                if to == State::OpenConfirm {
                    self.resolve_collision(i, now);
                }
            }
            Event::Routes(routes) => {
                self.readvertise = true;
                let peer_router_id = n.session.peer_router_id().unwrap_or(Ipv4Addr::UNSPECIFIED);
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
            Event::NotificationSent(m) => {
                let d = describe(&m);
                tracing::warn!(neighbor = %n.cfg.address, "NOTIFICATION sent: {d}");
                n.last_error = Some(SessionError {
                    kind: SessionErrorKind::NotificationSent,
                    notification: Some(NotificationCode {
                        code: m.code,
                        subcode: m.subcode,
                    }),
                    message: format!("NOTIFICATION sent: {d}"),
                });
            }
            Event::NotificationReceived(m) => {
                let d = describe(&m);
                tracing::warn!(neighbor = %n.cfg.address, "NOTIFICATION received: {d}");
                n.last_error = Some(SessionError {
                    kind: SessionErrorKind::NotificationReceived,
                    notification: Some(NotificationCode {
                        code: m.code,
                        subcode: m.subcode,
                    }),
                    message: format!("NOTIFICATION received: {d}"),
                });
            }
        }
    }

    fn publish(&mut self, now: Instant) {
        self.dirty = false;
        self.last_status = now;
        let neighbors = self
            .neighbors
            .values()
            .map(|n| {
                let c = n.session.counters();
                NeighborStatus {
                    address: n.cfg.address.to_string(),
                    remote_asn: n.cfg.remote_asn,
                    state: bgp_state(n.session.state()),
                    uptime_secs: n.established_since.map(|t| now.duration_since(t).as_secs()),
                    peer_router_id: n.session.peer_router_id().map(|r| r.to_string()),
                    hold_time_secs: n.session.negotiated_hold_time().as_secs(),
                    prefixes_received: n.session.prefixes_received(),
                    prefixes_accepted: n.session.prefixes_accepted(),
                    prefixes_sent: n.session.prefixes_sent(),
                    prefixes_refused_total: c.refused,
                    refused_prefixes: n
                        .session
                        .refused_prefixes()
                        .take(20)
                        .map(|p| p.to_string())
                        .collect(),
                    stale_routes: n.session.stale_routes(),
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
        if let Ok(mut s) = self.status.lock() {
            s.asn = self.cfg.asn;
            s.router_id = self.cfg.router_id.to_string();
            s.announced = self.cfg.announce.iter().map(|p| p.to_string()).collect();
            s.neighbors = neighbors;
            s.loc_rib = self.rib.len();
        }
    }

    async fn shutdown(&mut self) {
        let now = Instant::now();
        let mut writers = Vec::new();
        for i in self.ids() {
            let Some(n) = self.neighbors.get_mut(&i) else {
                continue;
            };
            n.session.stop(now);
            if let Some(b) = &mut n.bfd {
                b.set_admin_down(true, now);
            }
            // Keep the writer's handle: the NOTIFICATION must leave before we return.
            let conn = n.conn.take();
            while let Some(b) = n.session.poll_transmit() {
                if let Some(c) = &conn {
                    let _ = c.tx.send(b);
                }
            }
            if let Some(mut c) = conn {
                let (dead_tx, _) = mpsc::unbounded_channel();
                drop(std::mem::replace(&mut c.tx, dead_tx));
                let w = std::mem::replace(&mut c.writer, tokio::spawn(async {}));
                writers.push(w);
            }
            self.pump(i, now);
        }
        let all: Vec<(IpNet, NextHops)> = self
            .installed
            .lock()
            .map(|i| i.keys().map(|p| (*p, NextHops::new())).collect())
            .unwrap_or_default();
        let _ = self.kernel.send(all);
        let (dead, _) = std::sync::mpsc::channel();
        drop(std::mem::replace(&mut self.kernel, dead));
        let _ =
            tokio::time::timeout(Duration::from_secs(2), futures::future::join_all(writers)).await;
        if let Some(k) = self.kernel_task.take() {
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
