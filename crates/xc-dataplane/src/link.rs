//! One link: a TAP device, a UDP socket to the peer gateway, and the packet thread between them.

use crate::counters::{LinkCounters, add};
use crate::offload::{Coalescer, VNET_HDR_LEN};
use crate::policer::Policer;
use crate::segment::{self, Segmenter};
use crate::vxlan;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, sendmsg,
};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tun_rs::{DeviceBuilder, Layer, SyncDevice};
use xc_filter::Verdict;
use xc_macsec::{
    CipherSuite, Counters, RxSaConfig, Sci, SecY, SecYConfig, TxSaConfig, ValidateError,
};
use xc_types::filter::Direction;

/// How a link is built.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub name: String,
    pub tap_name: String,
    pub mac: [u8; 6],
    pub underlay_local: SocketAddr,
    pub underlay_remote: SocketAddr,
    pub vni: u32,
    pub cipher: CipherSuite,
    pub mtu: u16,
    /// Layer 3: the address (with prefix length) to put on the TAP.
    pub address: Option<ipnet::IpNet>,
    /// Police each direction at this rate.
    pub bandwidth_bps: Option<u64>,
    pub replay_window: u64,
    /// Where the link notes that it carried frames, when the gateway polls while idle
    /// ([`crate::idle_poll`]).
    pub idle_poll: Option<crate::idle_poll::Activity>,
    /// After a burst that carried frames, keep looking at the socket and TAP this long at most
    /// before sleeping ([`crate::busy_poll`]; zero: off).
    pub busy_poll: Duration,
    /// The TAP hands over up to 64 KiB of one flow per read (TSO, USO), segmented by the link;
    /// off, the kernel segments and each read is one frame.
    pub transmit_offload: bool,
    /// The attach point's filters (network ACL, security groups), shared by the gateway's links:
    /// frames from the TAP are judged before encryption, frames from the peer after decryption.
    pub filter: Option<Arc<xc_filter::Filter>>,
    /// The link's own subnets: the traffic between its two ends (BGP, BFD, probes) is never
    /// judged by `filter`.
    pub filter_exempt: Vec<xc_types::Prefix>,
    /// Keepalives and a dead link's carrier off ([`crate::liveness`]); none: off.
    pub liveness: Option<crate::liveness::LivenessConfig>,
    /// Cores the link uses: 1, 2, 4 or 8 workers, each with its own TAP queue, UDP socket and
    /// packet-number lanes (see [`lanes`]); anything else is taken as 1.
    pub lanes: u8,
}

impl LinkConfig {
    /// The SCI of this end: the TAP's MAC address and port 1.
    pub fn sci(&self) -> Sci {
        Sci::new(self.mac, 1)
    }
}

enum TxCmd {
    Sa(TxSaConfig),
    /// The shaper's rate changed: a read held for the old rate goes now.
    Rate,
}

enum RxCmd {
    Sa(RxSaConfig),
    Remove(Sci, u8),
    Liveness(Option<crate::liveness::LivenessConfig>),
}

/// What one worker (one core) of the link publishes.
#[derive(Default)]
struct LaneState {
    tx_next_pn: AtomicU64,
    rx_next_pn: AtomicU64,
    secy_tx: Mutex<Counters>,
    secy_rx: Mutex<Counters>,
}

/// A token bucket the link's workers share (a flow on one worker may use the whole rate);
/// `on` lets them skip the lock while there is no rate.
#[derive(Default)]
struct SharedPolicer {
    on: AtomicBool,
    bucket: Mutex<Option<Policer>>,
}

impl SharedPolicer {
    fn new(bps: Option<u64>) -> Self {
        Self {
            on: AtomicBool::new(bps.is_some()),
            bucket: Mutex::new(bps.map(Policer::new)),
        }
    }

    /// Moves to another rate, keeping the tokens saved so far (up to the new depth).
    fn set(&self, bps: Option<u64>) {
        if let Ok(mut b) = self.bucket.lock() {
            *b = match (b.take(), bps) {
                (Some(mut p), Some(bps)) => {
                    p.set_rate(bps, Instant::now());
                    Some(p)
                }
                (_, r) => r.map(Policer::new),
            };
            self.on.store(b.is_some(), Ordering::Relaxed);
        }
    }

    /// Whether `len` bytes conform now (and are counted); true without a rate.
    fn allow(&self, len: usize) -> bool {
        if !self.on.load(Ordering::Relaxed) {
            return true;
        }
        match self.bucket.lock() {
            Ok(mut b) => b.as_mut().is_none_or(|p| p.allow(Instant::now(), len)),
            Err(_) => true,
        }
    }

    /// How long until `len` bytes conform (zero now, or without a rate).
    fn wait_time(&self, len: usize) -> Duration {
        if !self.on.load(Ordering::Relaxed) {
            return Duration::ZERO;
        }
        match self.bucket.lock() {
            Ok(mut b) => b
                .as_mut()
                .map_or(Duration::ZERO, |p| p.wait_time(Instant::now(), len)),
            Err(_) => Duration::ZERO,
        }
    }
}

/// The rate the receive side polices a link's `bps` at: 2% over it. The sender shapes to `bps`,
/// so its first burst empties the receiver's bucket as well as its own, and then the underlay's
/// jitter (frames sent apart arriving together) would meet an empty bucket now and then; the
/// margin refills it (1 Mbit/s at 50) so that a sender shaped to the rate loses nothing here,
/// while one that is not is still held to the rate within 2%.
fn receive_rate(bps: u64) -> u64 {
    bps.saturating_add(bps / 50)
}

struct Shared {
    name: String,
    tap_name: String,
    sci: Sci,
    vni: u32,
    counters: LinkCounters,
    /// The first worker's socket: control frames leave through it.
    socket: UdpSocket,
    /// The peer's underlay address.
    remote: SocketAddr,
    /// Where datagrams are sent to: `None` when the sockets are connected to `remote` (one
    /// worker), `remote` when they share the local port (several, steered by packet number)
    /// and so are not connected.
    send_to: Option<SocketAddr>,
    /// Each worker's commands.
    tx_cmd: Vec<SyncSender<TxCmd>>,
    rx_cmd: Vec<SyncSender<RxCmd>>,
    lanes: Vec<LaneState>,
    tx_policer: SharedPolicer,
    rx_policer: SharedPolicer,
    stop: AtomicBool,
    idle_poll: Option<crate::idle_poll::Activity>,
    busy_poll: Duration,
    /// The link's liveness: 0 unknown (or off), 1 alive, 2 dead.
    liveness: std::sync::atomic::AtomicU8,
    /// A frame validated (on any worker) since the liveness last looked.
    heard: AtomicBool,
    /// What the last keepalive since then said: 0 nothing, 1 the peer does not hear this end,
    /// 2 it does.
    peer_hears: std::sync::atomic::AtomicU8,
    /// A keepalive since then said the peer's liveness is off.
    peer_off: AtomicBool,
}

/// A handle to a running link, cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct LinkHandle {
    inner: Arc<Shared>,
}

impl std::fmt::Debug for LinkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkHandle")
            .field("name", &self.inner.name)
            .field("vni", &self.inner.vni)
            .finish()
    }
}

/// A running link; dropping it stops its threads and removes the TAP.
#[derive(Debug)]
pub struct Link {
    handle: LinkHandle,
    threads: Vec<JoinHandle<()>>,
}

/// Socket buffers deep enough to absorb a burst at line rate (the default 208 KiB drops
/// datagrams, which TCP inside the link sees as loss).
const SOCKET_BUFFER: usize = 8 << 20;

/// Sets the socket's buffers, beyond `rmem_max`/`wmem_max` where we may (root), else as large as
/// the system allows.
fn set_buffers(socket: &UdpSocket, bytes: usize) {
    use nix::sys::socket::{setsockopt, sockopt};
    if setsockopt(socket, sockopt::RcvBufForce, &bytes).is_err() {
        let _ = setsockopt(socket, sockopt::RcvBuf, &bytes);
    }
    if setsockopt(socket, sockopt::SndBufForce, &bytes).is_err() {
        let _ = setsockopt(socket, sockopt::SndBuf, &bytes);
    }
}

/// Publish PNs and SecY counters every this many frames.
const PUBLISH_EVERY: u32 = 64;

impl LinkHandle {
    /// Sends a control frame (an MKPDU, or a path-MTU probe) to the peer, unprotected, inside
    /// VXLAN.
    pub fn send_control(&self, frame: &[u8]) -> io::Result<()> {
        let mut d = Vec::with_capacity(frame.len() + vxlan::HEADER_LEN);
        d.extend_from_slice(&vxlan::header(self.inner.vni));
        d.extend_from_slice(frame);
        send_datagram(&self.inner.socket, &d, self.inner.send_to)?;
        if !crate::pathmtu::is_probe(frame) {
            add(&self.inner.counters.mkpdus_tx, 1);
        }
        Ok(())
    }

    /// Installs the transmit SA on every worker (each protects with its own lanes' PNs).
    pub fn install_tx(&self, sa: TxSaConfig) {
        for c in &self.inner.tx_cmd {
            let _ = c.send(TxCmd::Sa(sa.clone()));
        }
    }

    pub fn install_rx(&self, sa: RxSaConfig) {
        for c in &self.inner.rx_cmd {
            let _ = c.send(RxCmd::Sa(sa.clone()));
        }
    }

    pub fn remove_rx(&self, sci: Sci, an: u8) {
        for c in &self.inner.rx_cmd {
            let _ = c.send(RxCmd::Remove(sci, an));
        }
    }

    /// Changes the policed rate of both directions without touching the link otherwise.
    pub fn set_bandwidth(&self, bps: Option<u64>) {
        self.inner.rx_policer.set(bps.map(receive_rate));
        self.set_egress(bps);
    }

    /// Turns the link's liveness on, off, or to other timers, without touching the link
    /// otherwise. Turned off, the link tells the peer in its last keepalives (so the peer stops
    /// expecting them) and its carrier is on. The first worker keeps the liveness.
    pub fn set_liveness(&self, cfg: Option<crate::liveness::LivenessConfig>) {
        if let Some(c) = self.inner.rx_cmd.first() {
            let _ = c.send(RxCmd::Liveness(cfg));
        }
    }

    /// Changes the rate the transmit side shapes to (its part of a bandwidth shared with other
    /// links), leaving the receive side's policer as it is.
    pub fn set_egress(&self, bps: Option<u64>) {
        self.inner.tx_policer.set(bps);
        for c in &self.inner.tx_cmd {
            let _ = c.send(TxCmd::Rate);
        }
    }

    pub fn counters(&self) -> crate::CounterSnapshot {
        self.inner.counters.snapshot()
    }

    /// The SecY counters of the transmit and the receive side (as of the last few frames), the
    /// workers' added up.
    pub fn secy_counters(&self) -> (Counters, Counters) {
        let (mut tx, mut rx) = (Counters::default(), Counters::default());
        for l in &self.inner.lanes {
            tx.add(&l.secy_tx.lock().map(|c| *c).unwrap_or_default());
            rx.add(&l.secy_rx.lock().map(|c| *c).unwrap_or_default());
        }
        (tx, rx)
    }

    /// The workers (cores) the link runs on.
    pub fn lanes(&self) -> usize {
        self.inner.lanes.len()
    }

    /// This end's SCI.
    pub fn sci(&self) -> Sci {
        self.inner.sci
    }

    /// The next PN of the transmit SA: the highest of the workers'.
    pub fn tx_next_pn(&self) -> u64 {
        let pns = self.inner.lanes.iter();
        pns.map(|l| l.tx_next_pn.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }

    /// Whether the peer's traffic arrives, with liveness on: `None` until the peer's first
    /// keepalive (or with liveness off).
    pub fn alive(&self) -> Option<bool> {
        match self.inner.liveness.load(Ordering::Relaxed) {
            1 => Some(true),
            2 => Some(false),
            _ => None,
        }
    }

    /// The next PN expected on the receive SA: the highest of the workers'.
    pub fn rx_next_pn(&self) -> u64 {
        let pns = self.inner.lanes.iter();
        pns.map(|l| l.rx_next_pn.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }
}

impl Link {
    /// Creates the TAP and the socket and starts the packet thread. Control frames (MKPDUs)
    /// received from the peer arrive on the returned channel.
    pub fn start(cfg: LinkConfig) -> io::Result<(Link, Receiver<Vec<u8>>)> {
        let lanes = crate::lanes::workers(cfg.lanes);
        let mut builder = DeviceBuilder::new()
            .name(cfg.tap_name.clone())
            .layer(Layer::L2)
            .mac_addr(cfg.mac)
            .mtu(cfg.mtu)
            .multi_queue(lanes > 1);
        if let Some(ipnet::IpNet::V4(a)) = cfg.address {
            builder = builder.ipv4(a.addr(), a.prefix_len(), None);
        }
        if let Some(ipnet::IpNet::V6(a)) = cfg.address {
            builder = builder.ipv6(a.addr(), a.prefix_len());
        }
        // With virtio-net headers: segments from the peer are written as one frame (receive
        // offload), and the kernel hands over up to 64 KiB of a flow in one read, which the link
        // segments itself (transmit offload).
        let first = builder.offload(true).build_sync()?;
        // One queue per worker; the kernel keeps a flow on one queue.
        let mut taps = vec![Arc::new(first)];
        for _ in 1..lanes {
            let q = taps[0].try_clone()?;
            taps.push(Arc::new(q));
        }
        // The offloads are the device's, set once all queues are there (a new queue sets its
        // own).
        if cfg.transmit_offload {
            enable_transmit_offload(&taps[0], &cfg.name)?;
        } else {
            crate::offload::set_tap_offloads(taps[0].as_fd(), 0)?;
        }
        let sockets = crate::lanes::sockets(cfg.underlay_local, cfg.underlay_remote, lanes)?;
        for s in &sockets {
            set_buffers(s, SOCKET_BUFFER);
            s.set_nonblocking(true)?;
        }
        let (mut tx_cmds, mut tx_rxs, mut rx_cmds, mut rx_rxs) = (vec![], vec![], vec![], vec![]);
        for _ in 0..lanes {
            let (t, r) = mpsc::sync_channel(64);
            tx_cmds.push(t);
            tx_rxs.push(r);
            let (t, r) = mpsc::sync_channel(64);
            rx_cmds.push(t);
            rx_rxs.push(r);
        }
        let (control_tx, control_rx) = mpsc::sync_channel(256);
        let shared = Arc::new(Shared {
            name: cfg.name.clone(),
            tap_name: cfg.tap_name.clone(),
            sci: cfg.sci(),
            vni: cfg.vni,
            counters: LinkCounters::default(),
            socket: sockets[0].try_clone()?,
            remote: cfg.underlay_remote,
            send_to: (lanes > 1).then_some(cfg.underlay_remote),
            tx_cmd: tx_cmds,
            rx_cmd: rx_cmds,
            lanes: (0..lanes).map(|_| LaneState::default()).collect(),
            tx_policer: SharedPolicer::new(cfg.bandwidth_bps),
            rx_policer: SharedPolicer::new(cfg.bandwidth_bps.map(receive_rate)),
            stop: AtomicBool::new(false),
            idle_poll: cfg.idle_poll.clone(),
            busy_poll: cfg.busy_poll,
            liveness: std::sync::atomic::AtomicU8::new(0),
            heard: AtomicBool::new(false),
            peer_hears: std::sync::atomic::AtomicU8::new(0),
            peer_off: AtomicBool::new(false),
        });
        let mut threads = Vec::with_capacity(lanes);
        let work = sockets
            .into_iter()
            .zip(taps)
            .zip(tx_rxs.into_iter().zip(rx_rxs));
        for (lane, ((socket, tap), (tx_rx, rx_rx))) in work.enumerate() {
            let mut secy_cfg = SecYConfig::new(cfg.cipher, cfg.sci());
            secy_cfg.replay_window = cfg.replay_window;
            // Whatever this end's workers, the peer's may be several: a replay state per lane.
            secy_cfg.pn_lanes = xc_macsec::MAX_PN_LANES;
            secy_cfg.tx_lane = (lane as u8, lanes as u8);
            let (shared, filter) = (shared.clone(), cfg.filter.clone());
            let exempt = cfg.filter_exempt.clone();
            let name = cfg.name.clone();
            // The first worker keeps the liveness.
            let liveness = cfg.liveness.filter(|_| lane == 0);
            let control = control_tx.clone();
            // One thread carries both directions of its queue: a frame written to the TAP whose
            // answer the kernel queues at once (a ping's reply, a TCP ACK) is read and sent
            // without a thread wake-up.
            let thread = std::thread::Builder::new()
                .name(format!("xc-link-{}-{lane}", cfg.name))
                .spawn(move || {
                    let view = || {
                        filter
                            .as_ref()
                            .map(|f| f.view().exempting(exempt.clone()).for_link(&name))
                    };
                    let tx = Tx {
                        read: vec![0u8; TAP_READ_MAX],
                        segmenter: Segmenter::new(),
                        held: None,
                        out: TxOut {
                            shared: &shared,
                            lane,
                            sock: &socket,
                            secy: SecY::new(secy_cfg.clone()),
                            batch: GsoBatch::new(shared.send_to),
                            n_since: 0,
                            filter: view(),
                            now_ms: 0,
                        },
                    };
                    let rx = Rx {
                        shared: &shared,
                        tap: &tap,
                        secy: SecY::new(secy_cfg),
                        out: Vec::with_capacity(65536),
                        coalescer: Coalescer::new(),
                        control,
                        validated: 0,
                        filter: view(),
                        now_ms: 0,
                    };
                    let liveness =
                        liveness.map(|c| crate::liveness::Liveness::new(c, Instant::now()));
                    io_loop(&shared, lane, &tap, &socket, tx, rx, tx_rx, rx_rx, liveness);
                })?;
            threads.push(thread);
        }
        tracing::info!(link = %cfg.name, tap = %cfg.tap_name, vni = cfg.vni, mtu = cfg.mtu, workers = lanes, "link started");
        Ok((
            Link {
                handle: LinkHandle { inner: shared },
                threads,
            },
            control_rx,
        ))
    }

    pub fn handle(&self) -> LinkHandle {
        self.handle.clone()
    }

    /// Stops the packet thread (within 100 ms); the TAP goes away with the last reference to it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.handle.inner.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The TAP's transmit offloads: checksums, TCP segmentation in both families (with ECN's CWR
/// left to the segmenter), and UDP segmentation where the kernel has it (6.2 and later).
fn enable_transmit_offload(tap: &SyncDevice, link: &str) -> io::Result<()> {
    let tcp = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;
    let udp = libc::TUN_F_USO4 | libc::TUN_F_USO6;
    if crate::offload::set_tap_offloads(tap.as_fd(), tcp | udp).is_err() {
        tracing::info!(link, "UDP segmentation offload unavailable; TCP only");
        crate::offload::set_tap_offloads(tap.as_fd(), tcp)?;
    }
    Ok(())
}

/// The largest TAP read: a virtio-net header and a frame of up to 64 KiB of IP packet, with
/// room to spare for link-layer tags.
const TAP_READ_MAX: usize = VNET_HDR_LEN + 14 + 65_535 + 64;

/// Most reads from the TAP before the batch is sent.
const TX_BATCH: usize = 48;
/// The longest the transmit shaper waits for one frame.
const MAX_SHAPING_WAIT: Duration = Duration::from_millis(50);

/// Most bytes in one UDP GSO send (the kernel's limit is 64 KiB).
const GSO_MAX_BYTES: usize = 60 * 1024;

/// Datagrams of equal size waiting to leave in one `sendmsg` with UDP_SEGMENT (the last may be
/// shorter). Falls back to one send per datagram where the kernel has no UDP GSO.
struct GsoBatch {
    buf: Vec<u8>,
    /// Holds a datagram while the batch before it is sent (allocated once).
    spill: Vec<u8>,
    seg: usize,
    count: usize,
    gso: bool,
    /// Where the datagrams go when the socket is not connected (a worker of several).
    to: Option<SocketAddr>,
}

impl GsoBatch {
    fn new(to: Option<SocketAddr>) -> Self {
        Self {
            buf: Vec::with_capacity(GSO_MAX_BYTES + 65536),
            spill: Vec::with_capacity(65536),
            seg: 0,
            count: 0,
            gso: true,
            to,
        }
    }

    fn flush(&mut self, sock: &UdpSocket, c: &LinkCounters) {
        if self.count == 0 {
            return;
        }
        if self.count > 1 && self.gso {
            let seg = self.seg as u16;
            let iov = [std::io::IoSlice::new(&self.buf)];
            let cmsg = [ControlMessage::UdpGsoSegments(&seg)];
            let to = self.to.map(SockaddrStorage::from);
            match sendmsg(
                sock.as_raw_fd(),
                &iov,
                &cmsg,
                MsgFlags::empty(),
                to.as_ref(),
            ) {
                Ok(_) => {}
                Err(
                    nix::errno::Errno::EIO
                    | nix::errno::Errno::EINVAL
                    | nix::errno::Errno::ENOPROTOOPT,
                ) => {
                    self.gso = false;
                    tracing::info!("UDP GSO unavailable; sending datagrams one by one");
                    self.send_each(sock, c);
                }
                Err(_) => add(&c.io_errors, 1),
            }
        } else {
            self.send_each(sock, c);
        }
        self.buf.clear();
        self.count = 0;
    }

    fn send_each(&self, sock: &UdpSocket, c: &LinkCounters) {
        for d in self.buf.chunks(self.seg.max(1)) {
            if send_datagram(sock, d, self.to).is_err() {
                add(&c.io_errors, 1);
            }
        }
    }
}

/// Sends one datagram on `sock`: to its connected peer, or to `to` when it is not connected.
fn send_datagram(sock: &UdpSocket, d: &[u8], to: Option<SocketAddr>) -> io::Result<usize> {
    match to {
        Some(to) => sock.send_to(d, to),
        None => sock.send(d),
    }
}

/// What the transmit path keeps between TAP reads: each read cut into frames (segmentation
/// offload), each frame protected and sent to the peer.
struct Tx<'a> {
    /// The TAP read (virtio-net header, then up to 64 KiB of one flow).
    read: Vec<u8>,
    segmenter: Segmenter,
    /// A read (its length in `read`) the shaper holds until then.
    held: Option<(usize, Instant)>,
    out: TxOut<'a>,
}

/// The transmit path past the segmenter: one frame at a time.
struct TxOut<'a> {
    shared: &'a Shared,
    /// Which of the link's workers this is.
    lane: usize,
    sock: &'a UdpSocket,
    secy: SecY,
    batch: GsoBatch,
    n_since: u32,
    filter: Option<xc_filter::View>,
    /// The filters' clock ([`now_ms`]), read once per turn of the loop rather than per frame.
    now_ms: u64,
}

impl Tx<'_> {
    fn command(&mut self, cmd: TxCmd) {
        let out = &mut self.out;
        match cmd {
            TxCmd::Sa(sa) => {
                if let Err(e) = out.secy.install_tx_sa(&sa) {
                    tracing::error!(link = %out.shared.name, error = %e, "cannot install transmit SA");
                }
                if let Some((_, pn)) = out.secy.tx_state() {
                    out.shared.lanes[out.lane]
                        .tx_next_pn
                        .store(pn, Ordering::Relaxed);
                }
            }
            TxCmd::Rate => {
                if let Some((n, _)) = self.held.take() {
                    self.send_read(n);
                    self.out
                        .batch
                        .flush(self.out.sock, &self.out.shared.counters);
                }
            }
        }
    }

    /// Sends the held read once its time has come, then what the TAP has queued (up to a
    /// batch); returns whether it sent or dropped anything.
    fn burst(&mut self, tap: &SyncDevice) -> bool {
        let c = &self.out.shared.counters;
        let mut any = false;
        if let Some((n, at)) = self.held {
            let now = Instant::now();
            if now < at {
                return false;
            }
            // A wait is cut at MAX_SHAPING_WAIT (so that commands are seen): a read of 64 KiB
            // at a few Mbit/s may need several before its tokens are all there.
            let policer = &self.out.shared.tx_policer;
            let wait = policer.wait_time(segment::wire_len(&self.read[..n]));
            if !wait.is_zero() {
                self.held = Some((n, now + wait.min(MAX_SHAPING_WAIT)));
                return false;
            }
            self.held = None;
            self.send_read(n);
            any = true;
        }
        for _ in 0..TX_BATCH {
            let n = match tap.recv(&mut self.read) {
                Ok(n) => n,
                Err(e) if crate::nothing_yet(&e) => {
                    break;
                }
                Err(e) => {
                    tracing::warn!(link = %self.out.shared.name, error = %e, "TAP read failed");
                    add(&c.io_errors, 1);
                    std::thread::sleep(Duration::from_millis(10));
                    break;
                }
            };
            any = true;
            // Each frame comes behind a virtio-net header.
            if n < VNET_HDR_LEN + 14 {
                continue;
            }
            // Shape: send what is batched and hold this read until the tokens for all its
            // frames are there; the TAP's queue holds the backlog meanwhile.
            let policer = &self.out.shared.tx_policer;
            let wait = policer.wait_time(segment::wire_len(&self.read[..n]));
            if !wait.is_zero() {
                add(&c.tx_shaped, 1);
                self.held = Some((n, Instant::now() + wait.min(MAX_SHAPING_WAIT)));
                break;
            }
            self.send_read(n);
        }
        let out = &mut self.out;
        out.batch.flush(out.sock, c);
        if out.n_since >= PUBLISH_EVERY {
            out.n_since = 0;
            let lane = &out.shared.lanes[out.lane];
            if let Some((_, pn)) = out.secy.tx_state() {
                lane.tx_next_pn.store(pn, Ordering::Relaxed);
            }
            if let Ok(mut s) = lane.secy_tx.lock() {
                *s = *out.secy.counters();
            }
        }
        any
    }

    /// Cuts the read in `read[..n]` into frames and sends each.
    fn send_read(&mut self, n: usize) {
        let Self {
            read,
            segmenter,
            out,
            ..
        } = self;
        let shared = out.shared;
        let c = &shared.counters;
        let gso = segment::VnetHeader::parse(read).is_some_and(|h| h.gso_type != segment::GSO_NONE);
        match segmenter.segment(&mut read[..n], &mut |f| out.send_frame(f)) {
            Ok(_) if gso => add(&c.tx_segmented, 1),
            Ok(_) => {}
            Err(e) => {
                add(&c.tx_dropped_offload, 1);
                tracing::debug!(link = %shared.name, error = %e, "TAP read not sent");
            }
        }
    }
}

impl TxOut<'_> {
    /// Protects a keepalive and sends it at once (nothing else is going out); false without a
    /// transmit SA.
    fn send_keepalive(&mut self, hears: bool) -> bool {
        self.send_keepalive_frame(&crate::liveness::keepalive(self.shared.sci.mac(), hears))
    }

    /// The keepalive that says this end's liveness is off.
    fn send_keepalive_off(&mut self) -> bool {
        self.send_keepalive_frame(&crate::liveness::keepalive_off(self.shared.sci.mac()))
    }

    fn send_keepalive_frame(&mut self, frame: &[u8]) -> bool {
        let c = &self.shared.counters;
        let Some(start) = self.protect(frame) else {
            return false;
        };
        add(&c.keepalives_tx, 1);
        push_datagram(&mut self.batch, start, self.sock, c);
        self.batch.flush(self.sock, c);
        true
    }

    /// Appends the VXLAN header and the protected frame to the batch's buffer: where the
    /// datagram starts, or none (nothing appended) without a transmit SA.
    fn protect(&mut self, frame: &[u8]) -> Option<usize> {
        let start = self.batch.buf.len();
        self.batch
            .buf
            .extend_from_slice(&vxlan::header(self.shared.vni));
        if self
            .secy
            .protect_append(frame, &mut self.batch.buf)
            .is_err()
        {
            self.batch.buf.truncate(start);
            return None;
        }
        Some(start)
    }

    /// Protects one frame and adds it to the batch. Only a frame that still does not fit the
    /// rate after its wait is dropped.
    fn send_frame(&mut self, frame: &[u8]) {
        let c = &self.shared.counters;
        if let Some(f) = &mut self.filter
            && f.check(Direction::Outbound, frame, self.now_ms) != Verdict::Pass
        {
            add(&c.tx_dropped_filter, 1);
            return;
        }
        if !self.shared.tx_policer.allow(frame.len()) {
            add(&c.tx_dropped_policer, 1);
            return;
        }
        let Some(start) = self.protect(frame) else {
            add(&c.tx_dropped_no_sa, 1);
            return;
        };
        add(&c.tx_packets, 1);
        add(&c.tx_bytes, frame.len() as u64);
        push_datagram(&mut self.batch, start, self.sock, c);
        self.n_since += 1;
    }
}

/// Adds the datagram at `start..` to the batch, sending the batch first when the datagram cannot
/// join it (a larger size, or the batch is full).
fn push_datagram(batch: &mut GsoBatch, start: usize, sock: &UdpSocket, c: &LinkCounters) {
    let len = batch.buf.len() - start;
    let fits = batch.buf.len() <= GSO_MAX_BYTES && batch.count < 64;
    if batch.count == 0 {
        batch.seg = len;
        batch.count = 1;
    } else if len == batch.seg && fits {
        batch.count += 1;
    } else if len < batch.seg && fits {
        // A shorter datagram may end a GSO batch.
        batch.count += 1;
        batch.flush(sock, c);
    } else {
        // Send the datagrams before this one, then start the next batch with it.
        batch.spill.clear();
        batch.spill.extend_from_slice(&batch.buf[start..]);
        batch.buf.truncate(start);
        batch.flush(sock, c);
        batch.buf.extend_from_slice(&batch.spill);
        batch.seg = len;
        batch.count = 1;
    }
}

/// What the receive path keeps between datagrams.
struct Rx<'a> {
    shared: &'a Shared,
    tap: &'a SyncDevice,
    secy: SecY,
    out: Vec<u8>,
    /// Frames of a burst on their way to the TAP, TCP segments of one flow joined.
    coalescer: Coalescer,
    control: SyncSender<Vec<u8>>,
    validated: u32,
    filter: Option<xc_filter::View>,
    /// The filters' clock ([`now_ms`]), read once per turn of the loop rather than per frame.
    now_ms: u64,
}

impl Rx<'_> {
    fn datagram(&mut self, d: &[u8]) {
        let c = &self.shared.counters;
        let frame = match vxlan::decode(d) {
            Ok((vni, f)) if vni == self.shared.vni => f,
            _ => {
                add(&c.rx_dropped_vxlan, 1);
                return;
            }
        };
        if frame[12..14] == [0x88, 0x8e] {
            add(&c.mkpdus_rx, 1);
            let _ = self.control.try_send(frame.to_vec());
            return;
        }
        if crate::pathmtu::is_probe(frame) {
            let _ = self.control.try_send(frame.to_vec());
            return;
        }
        // The bytes the sender's shaper counted (the frame before protection), so that a link
        // shaped to its rate at one end conforms at the other: with the SecTAG and ICV counted
        // too (2% of a full frame), a flow at the whole rate would lose a frame in fifty here.
        if !self
            .shared
            .rx_policer
            .allow(xc_macsec::sectag::protected_len(frame))
        {
            add(&c.rx_dropped_policer, 1);
            return;
        }
        self.validated += 1;
        match self.secy.validate(frame, &mut self.out) {
            Ok(()) => {
                let shared = self.shared;
                if !shared.heard.load(Ordering::Relaxed) {
                    shared.heard.store(true, Ordering::Relaxed);
                }
                if crate::liveness::is_keepalive(&self.out) {
                    add(&c.keepalives_rx, 1);
                    if crate::liveness::keepalive_says_off(&self.out) {
                        shared.peer_off.store(true, Ordering::Relaxed);
                        shared.peer_hears.store(0, Ordering::Relaxed);
                    } else if let Some(h) = crate::liveness::keepalive_hears(&self.out) {
                        shared.peer_hears.store(1 + u8::from(h), Ordering::Relaxed);
                    }
                    return;
                }
                if let Some(f) = &mut self.filter
                    && f.check(Direction::Inbound, &self.out, self.now_ms) != Verdict::Pass
                {
                    add(&c.rx_dropped_filter, 1);
                    return;
                }
                add(&c.rx_packets, 1);
                add(&c.rx_bytes, self.out.len() as u64);
                let tap = self.tap;
                if self
                    .coalescer
                    .push(&self.out, &mut |b| tap_write(tap, b))
                    .is_err()
                {
                    add(&c.io_errors, 1);
                }
            }
            Err(ValidateError::Late) => add(&c.rx_dropped_replay, 1),
            Err(ValidateError::NotValid) => add(&c.rx_dropped_icv, 1),
            Err(_) => add(&c.rx_dropped_invalid, 1),
        }
    }

    /// Writes what the coalescer still holds: at the end of each burst, so nothing waits.
    fn flush(&mut self) {
        let tap = self.tap;
        if self.coalescer.flush(&mut |b| tap_write(tap, b)).is_err() {
            add(&self.shared.counters.io_errors, 1);
        }
    }
}

fn tap_write(tap: &SyncDevice, b: &[u8]) -> io::Result<()> {
    tap.send(b).map(|_| ())
}

/// Receives one datagram, or with UDP GRO several coalesced ones: returns the bytes and the
/// segment size they split at.
fn recv_gro(
    sock: &UdpSocket,
    buf: &mut [u8],
    cmsg: &mut Vec<u8>,
) -> io::Result<(usize, usize, Option<SockaddrStorage>)> {
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(sock.as_raw_fd(), &mut iov, Some(cmsg), MsgFlags::empty())
        .map_err(io::Error::from)?;
    let (n, from) = (msg.bytes, msg.address);
    let mut seg = n;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::UdpGroSegments(s) = c
                && s > 0
            {
                seg = s as usize;
            }
        }
    }
    Ok((n, seg.max(1), from))
}

/// Datagrams received (each possibly several coalesced by GRO) before the loop turns to the TAP.
const RX_BURST: usize = 16;
/// How long the loop sleeps with nothing to do before it looks at its commands and the stop flag.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// The link's one thread: datagrams from the peer to the TAP, frames from the TAP to the peer,
/// in bounded bursts so that neither direction starves the other; it sleeps in `poll` only
/// when neither has anything.
/// Milliseconds on the link threads' monotonic clock (the filters' time): what anything else
/// that hands the filters a time (the shared connection table) must use too.
pub fn now_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// The Unix time in milliseconds, for the flow logs' records.
fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The link's liveness after a burst: what validated, then the detection time (the carrier off
/// when it passes, on again at the next frame), and a keepalive when due.
fn look_alive(
    shared: &Shared,
    tap: &SyncDevice,
    out: &mut TxOut<'_>,
    l: &mut crate::liveness::Liveness,
) {
    use crate::liveness::{Change, State};
    let now = Instant::now();
    let change = if shared.peer_off.swap(false, Ordering::Relaxed) {
        tracing::info!(link = %shared.name, "the peer's liveness is off: this end no longer expects its keepalives");
        l.disarm()
    } else if shared.heard.swap(false, Ordering::Relaxed) {
        let hears = match shared.peer_hears.swap(0, Ordering::Relaxed) {
            0 => None,
            h => Some(h == 2),
        };
        l.received(now, hears)
    } else {
        l.check(now)
    };
    if let Some(change) = change {
        let on = change == Change::Revived;
        if on {
            tracing::info!(link = %shared.name, "the peer's traffic arrives again: carrier on");
        } else {
            add(&shared.counters.carrier_downs, 1);
            tracing::warn!(link = %shared.name, hears_peer = l.hears(now), "the link is dead (nothing from the peer validated within the detection time, or the peer hears nothing from here): carrier off, its routes unused");
        }
        set_carrier(shared, tap, on);
    }
    let state = match l.state() {
        State::Unknown => 0,
        State::Alive => 1,
        State::Dead => 2,
    };
    shared.liveness.store(state, Ordering::Relaxed);
    if l.keepalive_due(now) {
        // Without a transmit SA there is nothing to protect it with: again an interval later.
        out.send_keepalive(l.hears(now));
        l.sent(now);
    }
}

/// The TAP's carrier on or off, and the kernel's routes following at once.
fn set_carrier(shared: &Shared, tap: &SyncDevice, on: bool) {
    if let Err(e) = crate::offload::set_tap_carrier(tap.as_fd(), on) {
        tracing::warn!(link = %shared.name, error = %e, "cannot set the TAP's carrier");
        return;
    }
    if let Err(e) = crate::offload::sync_link_state(shared.socket.as_fd(), &shared.tap_name) {
        tracing::warn!(link = %shared.name, error = %e, "cannot make the kernel apply the carrier change now (it will within a second)");
    }
}

/// The link's liveness turned on, off or to other timers: a dead link's carrier goes on again,
/// and a link whose liveness goes off tells the peer (three times: one may be lost).
fn change_liveness(
    shared: &Shared,
    tap: &SyncDevice,
    out: &mut TxOut<'_>,
    liveness: &mut Option<crate::liveness::Liveness>,
    cfg: Option<crate::liveness::LivenessConfig>,
) {
    if liveness.as_ref().map(|l| l.state()) == Some(crate::liveness::State::Dead) {
        set_carrier(shared, tap, true);
    }
    if liveness.is_some() && cfg.is_none() {
        for _ in 0..3 {
            out.send_keepalive_off();
        }
    }
    tracing::info!(link = %shared.name, liveness = ?cfg, "liveness changed");
    *liveness = cfg.map(|c| crate::liveness::Liveness::new(c, Instant::now()));
    shared.liveness.store(0, Ordering::Relaxed);
}

#[allow(clippy::too_many_arguments)]
fn io_loop(
    shared: &Shared,
    lane: usize,
    tap: &SyncDevice,
    sock: &UdpSocket,
    mut tx: Tx<'_>,
    mut rx: Rx<'_>,
    tx_cmds: Receiver<TxCmd>,
    rx_cmds: Receiver<RxCmd>,
    mut liveness: Option<crate::liveness::Liveness>,
) {
    use nix::poll::{PollFd, PollFlags, ppoll};
    use nix::sys::time::TimeSpec;
    let mut buf = vec![0u8; 65536];
    let mut cmsg = nix::cmsg_space!(i32);
    if let Err(e) = tap.set_nonblocking(true) {
        tracing::warn!(link = %shared.name, error = %e, "TAP stays blocking");
    }
    if nix::sys::socket::setsockopt(sock, nix::sys::socket::sockopt::UdpGroSegment, &true).is_err()
    {
        tracing::info!(link = %shared.name, "UDP GRO unavailable; receiving datagrams one by one");
    }
    let c = &shared.counters;
    let mut current: Option<(Sci, u8)> = None;
    let mut last_publish = Instant::now();
    let mut busy_poll = crate::busy_poll::BusyPoll::new(shared.busy_poll);
    while !shared.stop.load(Ordering::Relaxed) {
        loop {
            match tx_cmds.try_recv() {
                Ok(cmd) => tx.command(cmd),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        loop {
            match rx_cmds.try_recv() {
                Ok(RxCmd::Sa(sa)) => {
                    current = Some((sa.sci, sa.an));
                    if let Err(e) = rx.secy.install_rx_sa(&sa) {
                        tracing::error!(link = %shared.name, error = %e, "cannot install receive SA");
                    }
                }
                Ok(RxCmd::Remove(sci, an)) => rx.secy.remove_rx_sa(&sci, an),
                Ok(RxCmd::Liveness(cfg)) => {
                    change_liveness(shared, tap, &mut tx.out, &mut liveness, cfg);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        if rx.validated >= PUBLISH_EVERY || last_publish.elapsed() > Duration::from_millis(100) {
            rx.validated = 0;
            last_publish = Instant::now();
            let mine = &shared.lanes[lane];
            if let Some((sci, an)) = current
                && let Some(pn) = rx.secy.rx_next_pn(&sci, an)
            {
                mine.rx_next_pn.store(pn, Ordering::Relaxed);
            }
            if let Ok(mut s) = mine.secy_rx.lock() {
                *s = *rx.secy.counters();
            }
            let (now, unix) = (now_ms(), unix_ms());
            if let Some(f) = &mut rx.filter {
                f.filter().tick(now);
                f.tick(now, unix);
            }
            if let Some(f) = &mut tx.out.filter {
                f.tick(now, unix);
            }
        }
        if rx.filter.is_some() || tx.out.filter.is_some() {
            let now = now_ms();
            (rx.now_ms, tx.out.now_ms) = (now, now);
        }
        // From the peer first: what it brings to the TAP may be answered at once, and the
        // answer is then on the TAP for the transmit burst right after.
        let mut busy = false;
        for _ in 0..RX_BURST {
            match recv_gro(sock, &mut buf, &mut cmsg) {
                Ok((n, seg, from)) => {
                    busy = true;
                    // A socket shared by the workers is not connected: only the peer's
                    // datagrams count.
                    if shared.send_to.is_some()
                        && !crate::lanes::from_peer(from.as_ref(), shared.remote)
                    {
                        add(&c.rx_dropped_vxlan, 1);
                        continue;
                    }
                    for d in buf[..n].chunks(seg) {
                        rx.datagram(d);
                    }
                }
                Err(e) if crate::nothing_yet(&e) => {
                    break;
                }
                // ECONNREFUSED from an ICMP unreachable while the peer is not up yet.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => {
                    tracing::warn!(link = %shared.name, error = %e, "underlay receive failed");
                    add(&c.io_errors, 1);
                    std::thread::sleep(Duration::from_millis(10));
                    break;
                }
            }
        }
        rx.flush();
        busy |= tx.burst(tap);
        if let Some(l) = &mut liveness {
            look_alive(shared, tap, &mut tx.out, l);
        }
        if busy {
            busy_poll.frame(Instant::now());
            if let Some(a) = &shared.idle_poll {
                a.note();
            }
            continue;
        }
        // Shortly after a frame, its answer may be on its way: look again instead of sleeping
        // (not while the shaper holds a frame, whose wait is known).
        if tx.held.is_none() && busy_poll.spin(Instant::now()) {
            // Give the core to anything else runnable on it (the peer's thread, the process
            // that answers) between two looks.
            std::thread::yield_now();
            continue;
        }
        // Nothing to do: sleep until the peer or the TAP has something (not the TAP while the
        // shaper holds a frame: only until its time, to the microsecond, as a frame's wait at
        // tens of Mbit/s is well under a millisecond).
        let timeout = match tx.held {
            Some((_, at)) => at
                .saturating_duration_since(Instant::now())
                .min(POLL_TIMEOUT),
            None => POLL_TIMEOUT,
        };
        let timeout = match &liveness {
            Some(l) => timeout.min(l.deadline().saturating_duration_since(Instant::now())),
            None => timeout,
        };
        let mut fds = [
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(tap.as_fd(), PollFlags::POLLIN),
        ];
        let watched = if tx.held.is_some() { 1 } else { 2 };
        let _ = ppoll(
            &mut fds[..watched],
            Some(TimeSpec::from_duration(timeout)),
            None,
        );
    }
}
