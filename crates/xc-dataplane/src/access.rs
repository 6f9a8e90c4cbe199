//! An 802.1Q VLAN sub-interface made in user space: a TAP device that stands for one VLAN of a
//! customer-facing interface (`eth1.101` is VLAN 101 of `eth1`), as the kernel's own VLAN
//! devices would, on kernels that have none.
//!
//! ```text
//!  RX thread: packet socket on the parent ─► frames of this VLAN (tag taken off) ─► TAP write
//!  TX thread: TAP read ─► tag pushed ─► packet socket on the parent
//! ```
//! Untagged frames and other VLANs are left to the kernel and to the other sub-interfaces.

use crate::dot1q;
use crate::packet::PacketSocket;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::Duration;
use tun_rs::{DeviceBuilder, InterruptEvent, Layer, SyncDevice};

/// How a sub-interface is built.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    /// The TAP's name, by convention `<parent>.<vlan>`.
    pub tap_name: String,
    /// The customer-facing interface that carries the tagged frames.
    pub parent: String,
    pub vlan: u16,
    pub mac: [u8; 6],
    pub mtu: u16,
}

/// Counters of one sub-interface.
#[derive(Debug, Default)]
pub struct AccessCounters {
    /// Frames from the TAP sent tagged on the parent.
    pub tx_packets: AtomicU64,
    pub tx_bytes: AtomicU64,
    /// Frames of this VLAN received on the parent and written to the TAP.
    pub rx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    /// Malformed frames dropped (too short to carry a tag).
    pub rx_malformed: AtomicU64,
    pub io_errors: AtomicU64,
}

/// A point-in-time copy of [`AccessCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AccessSnapshot {
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub rx_malformed: u64,
    pub io_errors: u64,
}

struct Shared {
    cfg: AccessConfig,
    counters: AccessCounters,
    stop: AtomicBool,
    interrupt: InterruptEvent,
}

/// A running sub-interface; dropping it stops its threads and removes the TAP.
pub struct Access {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("tap", &self.shared.cfg.tap_name)
            .field("vlan", &self.shared.cfg.vlan)
            .finish()
    }
}

const POLL: Duration = Duration::from_millis(200);

impl Access {
    /// Creates the TAP and the packet socket on the parent and starts the two threads.
    pub fn start(cfg: AccessConfig) -> io::Result<Access> {
        dot1q::valid_vid(cfg.vlan)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let socket = Arc::new(PacketSocket::open(&cfg.parent, POLL)?);
        let tap = Arc::new(
            DeviceBuilder::new()
                .name(cfg.tap_name.clone())
                .layer(Layer::L2)
                .mac_addr(cfg.mac)
                .mtu(cfg.mtu)
                .build_sync()?,
        );
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            counters: AccessCounters::default(),
            stop: AtomicBool::new(false),
            interrupt: InterruptEvent::new()?,
        });
        let rx = {
            let (shared, socket, tap) = (shared.clone(), socket.clone(), tap.clone());
            std::thread::Builder::new()
                .name(format!("xc-vrx-{}", cfg.vlan))
                .spawn(move || rx_loop(&shared, &socket, &tap))?
        };
        let tx = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("xc-vtx-{}", cfg.vlan))
                .spawn(move || tx_loop(&shared, &socket, &tap))?
        };
        tracing::info!(tap = %cfg.tap_name, parent = %cfg.parent, vlan = cfg.vlan, "VLAN sub-interface started");
        Ok(Access {
            shared,
            threads: vec![rx, tx],
        })
    }

    pub fn config(&self) -> &AccessConfig {
        &self.shared.cfg
    }

    pub fn counters(&self) -> AccessSnapshot {
        let c = &self.shared.counters;
        AccessSnapshot {
            tx_packets: c.tx_packets.load(Relaxed),
            tx_bytes: c.tx_bytes.load(Relaxed),
            rx_packets: c.rx_packets.load(Relaxed),
            rx_bytes: c.rx_bytes.load(Relaxed),
            rx_malformed: c.rx_malformed.load(Relaxed),
            io_errors: c.io_errors.load(Relaxed),
        }
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Relaxed);
        let _ = self.shared.interrupt.trigger();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Access {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn rx_loop(shared: &Shared, socket: &PacketSocket, tap: &SyncDevice) {
    let c = &shared.counters;
    let vlan = shared.cfg.vlan;
    let mut buf = vec![0u8; 65536];
    let mut untagged = Vec::with_capacity(65536);
    while !shared.stop.load(Relaxed) {
        let r = match socket.recv(&mut buf) {
            Ok(r) => r,
            Err(e) if crate::nothing_yet(&e) => {
                continue;
            }
            Err(e) => {
                tracing::debug!(tap = %shared.cfg.tap_name, error = %e, "frame dropped");
                c.io_errors.fetch_add(1, Relaxed);
                continue;
            }
        };
        if r.outgoing {
            continue;
        }
        let frame = &buf[..r.len];
        let out: &[u8] = match r.vlan {
            // The kernel took the tag off already.
            Some(v) if v == vlan => frame,
            Some(_) => continue,
            None => match dot1q::pop(frame, &mut untagged) {
                Ok(Some(t)) if t.vid == vlan => &untagged,
                Ok(_) => continue,
                Err(_) => {
                    c.rx_malformed.fetch_add(1, Relaxed);
                    continue;
                }
            },
        };
        match tap.send(out) {
            Ok(_) => {
                c.rx_packets.fetch_add(1, Relaxed);
                c.rx_bytes.fetch_add(out.len() as u64, Relaxed);
            }
            Err(_) => {
                c.io_errors.fetch_add(1, Relaxed);
            }
        }
    }
}

fn tx_loop(shared: &Shared, socket: &PacketSocket, tap: &SyncDevice) {
    let c = &shared.counters;
    let mut buf = vec![0u8; 65536];
    let mut tagged = Vec::with_capacity(65536 + dot1q::TAG_LEN);
    while !shared.stop.load(Relaxed) {
        let n = match tap.recv_intr(&mut buf, &shared.interrupt) {
            Ok(n) => n,
            Err(e) if crate::nothing_yet(&e) => {
                continue;
            }
            Err(e) => {
                tracing::warn!(tap = %shared.cfg.tap_name, error = %e, "TAP read failed");
                c.io_errors.fetch_add(1, Relaxed);
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if dot1q::push(&buf[..n], shared.cfg.vlan, &mut tagged).is_err() {
            continue;
        }
        match socket.send(&tagged) {
            Ok(()) => {
                c.tx_packets.fetch_add(1, Relaxed);
                c.tx_bytes.fetch_add(n as u64, Relaxed);
            }
            Err(_) => {
                c.io_errors.fetch_add(1, Relaxed);
            }
        }
    }
}
