//! The gateway's BGP speaker and BFD: the drivers around the sans-IO `xc-bgp` (sessions, and
//! each neighbour's connections with their collisions and restarts) and `xc-bfd`.
//!
//! ```text
//!  network.rs: TCP 179 listener(s) ─┐ connect tasks ─┐ per connection: reader ─┐ BFD readers ─┐
//!                                   └────────────────┴─────────────────────────┴─────────────┴─► Input
//!                                                                   (bounded: the tasks wait for room)
//!  instance.rs: speaker task (one; owns every Peer, BFD session and the Loc-RIB) ◄─┘
//!     ├─► per connection: writer (bounded queue; UPDATEs made only while it has room; gives up
//!     │   after the send hold time) ──wakes──► the speaker when it has written
//!     ├─► BFD packets (UDP, source port 49152.., TTL 255)
//!     └─► kernel.rs: kernel thread (bounded queue of batches; rtnetlink, protocol bgp)
//!  mod.rs (Routing): configuration (latest wins) and stop, by watch channels; status.rs: the
//!  snapshot the admin endpoint and the control plane read
//! ```
//!
//! All state lives in the speaker task, which reacts to one input at a time and to its timers;
//! nothing is shared but the status snapshot and the table of installed routes. A BFD session
//! going down closes the BGP session at once (Cease / BFD Down) and its routes leave the kernel
//! in the same pass.

mod events;
mod instance;
pub mod kernel;
pub mod md5;
mod network;
mod status;

use crate::config::BgpSettings;
use crate::status::RoutingStatus;
use ipnet::IpNet;
use kernel::Kernel;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};
use xc_bgp::rib::{LocRib, NextHops};

/// The routes in the kernel, as the kernel thread last installed them.
pub(crate) type Installed = Arc<Mutex<BTreeMap<IpNet, NextHops>>>;

/// A running speaker. Dropping it does not stop it: call [`Routing::stop`].
#[derive(Debug)]
pub struct Routing {
    config: watch::Sender<BgpSettings>,
    stop: watch::Sender<bool>,
    /// Dropped by the speaker when it is done.
    done: std::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
    status: Arc<Mutex<RoutingStatus>>,
    installed: Installed,
}

impl Routing {
    /// Starts the speaker on the current tokio runtime: binds port 179 (and 3784 for BFD),
    /// looks for routes left by a previous run, and begins connecting to every neighbour.
    pub async fn start(cfg: BgpSettings) -> io::Result<Self> {
        let (tx, rx) = mpsc::channel(events::INPUT_QUEUE);
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
        let installed: Installed = Arc::default();
        let status = Arc::new(Mutex::new(RoutingStatus::default()));
        if let Ok(mut i) = installed.lock() {
            // Routes kept from a previous run are shown (without next hops) until replaced.
            *i = leftovers.iter().map(|p| (*p, NextHops::new())).collect();
        }
        let (ktx, krx) = std::sync::mpsc::sync_channel(kernel::QUEUE);
        let (kdone_tx, kdone_rx) = tokio::sync::oneshot::channel::<()>();
        let batcher = kernel::Batcher::open()?;
        {
            let (installed, status) = (installed.clone(), status.clone());
            std::thread::Builder::new()
                .name("xc-kernel-routes".into())
                .spawn(move || {
                    kernel::kernel_thread(batcher, krx, installed, status);
                    let _ = kdone_tx.send(());
                })?;
        }
        let sweep_at =
            restarting.then(|| now + Duration::from_secs(u64::from(cfg.graceful_restart_secs)));
        let settings = cfg.neighbors.clone();
        let (config_tx, config_rx) = watch::channel(cfg.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let mut speaker = instance::Speaker {
            cfg,
            neighbors: BTreeMap::new(),
            next_neighbor: 0,
            restarting,
            rib: LocRib::new(),
            changes: HashMap::new(),
            kernel: ktx,
            kernel_done: Some(kdone_rx),
            listeners: HashMap::new(),
            bfd_tx: HashMap::new(),
            socket_tasks: Vec::new(),
            inputs: tx,
            writable: Arc::new(Notify::new()),
            next_conn: 1,
            status: status.clone(),
            installed: installed.clone(),
            leftovers: restarting.then_some(leftovers),
            sweep_at,
            last_status: now - Duration::from_secs(1),
            dirty: true,
            readvertise: false,
        };
        for n in settings {
            speaker.add_neighbor(n, now)?;
        }
        let control = instance::Control {
            config: config_rx,
            stop: stop_rx,
        };
        tokio::spawn(async move {
            speaker.run(rx, control).await;
            drop(done_tx);
        });
        Ok(Self {
            config: config_tx,
            stop: stop_tx,
            done: std::sync::Mutex::new(Some(done_rx)),
            status,
            installed,
        })
    }

    /// Changes the configuration of the running speaker without disturbing what did not change:
    /// neighbours added or removed, import policies and prefix limits changed live (with
    /// ROUTE-REFRESH), announcements changed. A neighbour whose other settings change is
    /// restarted; a change of AS or router id restarts every session. The latest configuration
    /// wins when several arrive before the speaker looks.
    pub fn reconfigure(&self, cfg: BgpSettings) {
        self.config.send_replace(cfg);
    }

    /// Closes every session (Cease / Administrative Shutdown), removes the routes from the
    /// kernel, and waits (at most 5 s) for it to be done. Callable from any non-async thread.
    pub fn stop(&self) {
        self.stop.send_replace(true);
        let done = self.done.lock().ok().and_then(|mut d| d.take());
        if let Some(mut done) = done {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                match done.try_recv() {
                    Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    _ => return,
                }
            }
        }
    }

    /// A fresh status: the speaker's last snapshot with the routes in the kernel now.
    pub fn status(&self) -> RoutingStatus {
        status::snapshot(&self.status, &self.installed)
    }

    /// A closure returning [`Routing::status`], for the admin server.
    pub fn status_source(&self) -> impl Fn() -> RoutingStatus + Send + Sync + 'static {
        let status = self.status.clone();
        let installed = self.installed.clone();
        move || status::snapshot(&status, &installed)
    }
}
