//! The filters' connection table shared with the attach point's other gateways
//! (`xc_filter::sync`): a thread sends each flow this gateway starts tracking to the others, in
//! batches as they come, from this gateway's `[flow_sync] listen` address; another takes theirs
//! on that address, from the configured peers only, and adopts what verifies and what this
//! gateway's own policy admits.

use crate::config::FlowSync;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;
use xc_filter::Filter;
use xc_filter::sync::{SyncedFlow, decode, encode};

/// New flows waiting to be sent; past it, they are dropped and counted.
const QUEUE: usize = 65_536;
/// Most flows sent in one go (several messages).
const BATCH: usize = 1_024;
/// How often the threads look at their stop flag (a gateway that stops waits this long at most).
const POLL: Duration = Duration::from_millis(100);

type Settings = Arc<RwLock<Option<FlowSync>>>;

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn current(settings: &Settings) -> Option<FlowSync> {
    settings
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// The two threads, and what they share.
#[derive(Debug)]
pub struct FlowSharing {
    filter: Arc<Filter>,
    settings: Settings,
    stop: Arc<AtomicBool>,
    sender: Option<JoinHandle<()>>,
    receiver: Option<(SocketAddr, Arc<AtomicBool>, JoinHandle<()>)>,
}

impl FlowSharing {
    /// Shares nothing yet: [`FlowSharing::configure`] starts the threads its settings need.
    pub fn new(filter: Arc<Filter>) -> Self {
        Self {
            filter,
            settings: Arc::default(),
            stop: Arc::new(AtomicBool::new(false)),
            sender: None,
            receiver: None,
        }
    }

    /// Puts `sync` in force: the peers and key at once, the listening address (re)bound. The
    /// first time it names peers, `filter` starts handing its new flows to a sending thread
    /// (until then, tracking a flow costs nothing more).
    pub fn configure(&mut self, sync: Option<&FlowSync>) -> std::io::Result<()> {
        *self
            .settings
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = sync.cloned();
        if self.sender.is_none() && sync.is_some_and(|s| !s.peers.is_empty()) {
            let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
            let (settings, stop) = (self.settings.clone(), self.stop.clone());
            self.sender = Some(
                std::thread::Builder::new()
                    .name("xc-flow-sync-tx".into())
                    .spawn(move || send_loop(&rx, &settings, &stop))?,
            );
            self.filter.share_flows(tx);
        }
        let listen = sync.map(|s| s.listen);
        if self.receiver.as_ref().map(|r| r.0) == listen {
            return Ok(());
        }
        if let Some((_, stop, handle)) = self.receiver.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
        if let Some(addr) = listen {
            let sock = UdpSocket::bind(addr)?;
            sock.set_read_timeout(Some(POLL))?;
            let stop = Arc::new(AtomicBool::new(false));
            let handle = {
                let (filter, settings, stop) =
                    (self.filter.clone(), self.settings.clone(), stop.clone());
                std::thread::Builder::new()
                    .name("xc-flow-sync-rx".into())
                    .spawn(move || receive_loop(&sock, &filter, &settings, &stop))?
            };
            tracing::info!(%addr, "sharing the connection table with the attach point's other gateways");
            self.receiver = Some((addr, stop, handle));
        }
        Ok(())
    }
}

impl Drop for FlowSharing {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some((_, stop, handle)) = self.receiver.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
        if let Some(h) = self.sender.take() {
            let _ = h.join();
        }
    }
}

fn send_loop(rx: &Receiver<SyncedFlow>, settings: &Settings, stop: &AtomicBool) {
    // The socket, bound to the listening address's IP so that peers know where it comes from.
    let mut sock: Option<(IpAddr, UdpSocket)> = None;
    while !stop.load(Ordering::Relaxed) {
        let first = match rx.recv_timeout(POLL) {
            Ok(f) => f,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = vec![first];
        while batch.len() < BATCH
            && let Ok(f) = rx.try_recv()
        {
            batch.push(f);
        }
        let Some(s) = current(settings).filter(|s| !s.peers.is_empty()) else {
            continue;
        };
        let ip = s.listen.ip();
        if sock.as_ref().is_none_or(|(bound, _)| *bound != ip) {
            sock = match UdpSocket::bind(SocketAddr::new(ip, 0)) {
                Ok(u) => Some((ip, u)),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot send flows to the other gateways");
                    None
                }
            };
        }
        let Some((_, u)) = &sock else { continue };
        for msg in encode(&s.key, &batch, unix_ms()) {
            for peer in &s.peers {
                if let Err(e) = u.send_to(&msg, peer) {
                    tracing::debug!(error = %e, %peer, "a flow-sync message was not sent");
                }
            }
        }
    }
}

fn receive_loop(sock: &UdpSocket, filter: &Filter, settings: &Settings, stop: &AtomicBool) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(r) => r,
            Err(_) => continue,
        };
        let Some(s) = current(settings) else { continue };
        if !s.peers.iter().any(|p| p.ip() == from.ip()) {
            tracing::debug!(%from, "a flow-sync message from a stranger, ignored");
            continue;
        }
        match decode(&s.key, &buf[..n], unix_ms()) {
            Ok(flows) => {
                filter.adopt(&flows, xc_dataplane::link::now_ms());
            }
            Err(e) => tracing::debug!(%from, error = %e, "a flow-sync message refused"),
        }
    }
}
