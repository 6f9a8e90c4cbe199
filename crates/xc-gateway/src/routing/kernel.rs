//! Routes in the kernel through rtnetlink: every learned prefix with its next hops (one
//! multipath route when there are several), in the main table, marked with protocol `bgp`
//! (RTPROT_BGP, 186) so that the gateway finds its own routes again and touches no other.
//!
//! Changes are written in batches ([`Batcher`]): hundreds of RTM_NEWROUTE / RTM_DELROUTE
//! messages in one `send`, without asking for acknowledgements: the kernel handles rtnetlink
//! requests synchronously within `send`, so when it returns, the error replies of the batch (the
//! only replies) are already queued on the socket and are read back without waiting, matched by
//! sequence number. A full table reaches the kernel about as fast as the kernel takes it. The dump of the
//! routes left by a previous run uses the rtnetlink crate's requests.

use futures::StreamExt;
use ipnet::IpNet;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteProtocol};
use rtnetlink::{RouteMessageBuilder, RouteNextHopBuilder};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use xc_bgp::rib::NextHops;

/// Route messages written in one `send`.
const BATCH: usize = 1024;

#[derive(Debug, Clone)]
pub struct Kernel {
    handle: rtnetlink::Handle,
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e.to_string())
}

fn message(prefix: &IpNet, hops: &[IpAddr]) -> io::Result<RouteMessage> {
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(prefix.network(), prefix.prefix_len())
        .map_err(invalid)?
        .protocol(RouteProtocol::Bgp);
    match hops {
        [] => {}
        [one] => b = b.gateway(*one).map_err(invalid)?,
        many => {
            let mut list = Vec::with_capacity(many.len());
            for h in many {
                let nh = match prefix {
                    IpNet::V4(_) => RouteNextHopBuilder::new_ipv4(),
                    IpNet::V6(_) => RouteNextHopBuilder::new_ipv6(),
                };
                list.push(nh.via(*h).map_err(invalid)?.build());
            }
            b = b.multipath(list);
        }
    }
    Ok(b.build())
}

fn destination(m: &RouteMessage) -> Option<IpNet> {
    m.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(RouteAddress::Inet(a)) => {
            IpNet::new(IpAddr::V4(*a), m.header.destination_prefix_length).ok()
        }
        RouteAttribute::Destination(RouteAddress::Inet6(a)) => {
            IpNet::new(IpAddr::V6(*a), m.header.destination_prefix_length).ok()
        }
        _ => None,
    })
}

impl Kernel {
    /// Opens a netlink socket in the current network namespace.
    pub fn open() -> io::Result<Self> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Self { handle })
    }

    /// The `bgp` routes of the main table (left by this gateway, or by its previous run).
    pub async fn our_routes(&self) -> io::Result<Vec<IpNet>> {
        let mut out = Vec::new();
        for m in [
            RouteMessageBuilder::<Ipv4Addr>::new().build(),
            RouteMessageBuilder::<Ipv6Addr>::new().build(),
        ] {
            let mut s = self.handle.route().get(m).execute();
            while let Some(r) = s.next().await {
                let r = r.map_err(io::Error::other)?;
                if r.header.protocol == RouteProtocol::Bgp
                    && r.header.table == RouteMessageBuilder::<IpAddr>::new().build().header.table
                    && let Some(d) = destination(&r)
                {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }
}

/// A netlink socket that writes route changes in batches.
#[derive(Debug)]
pub struct Batcher {
    sock: rtnetlink::sys::Socket,
    seq: u32,
    tx: Vec<u8>,
    rx: Vec<u8>,
}

impl Batcher {
    pub fn open() -> io::Result<Self> {
        let mut sock = rtnetlink::sys::Socket::new(rtnetlink::sys::protocols::NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&rtnetlink::sys::SocketAddr::new(0, 0))?;
        sock.set_rx_buf_sz(1 << 20)?;
        Ok(Self {
            sock,
            seq: 1,
            tx: Vec::with_capacity(BATCH * 128),
            rx: Vec::with_capacity(1 << 16),
        })
    }

    /// Installs (replacing) or removes (no next hops) each route; returns those that failed
    /// with the reason. A removal of a route that is not there is not a failure.
    pub fn apply(&mut self, changes: &[(IpNet, NextHops)]) -> Vec<(IpNet, String)> {
        let mut failed = Vec::new();
        for chunk in changes.chunks(BATCH) {
            if let Err(e) = self.apply_chunk(chunk, &mut failed) {
                failed.extend(chunk.iter().map(|(p, _)| (*p, e.to_string())));
            }
        }
        failed
    }

    fn apply_chunk(
        &mut self,
        chunk: &[(IpNet, NextHops)],
        failed: &mut Vec<(IpNet, String)>,
    ) -> io::Result<()> {
        use rtnetlink::packet_core::{
            NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
        };
        use rtnetlink::packet_route::RouteNetlinkMessage;
        self.tx.clear();
        let first = self.seq;
        let mut sent = 0usize;
        for (prefix, hops) in chunk {
            let m = match message(prefix, hops) {
                Ok(m) => m,
                Err(e) => {
                    failed.push((*prefix, e.to_string()));
                    self.seq = self.seq.wrapping_add(1);
                    continue;
                }
            };
            let (payload, flags) = if hops.is_empty() {
                (RouteNetlinkMessage::DelRoute(m), NLM_F_REQUEST)
            } else {
                (
                    RouteNetlinkMessage::NewRoute(m),
                    NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE,
                )
            };
            let mut nl = NetlinkMessage::from(payload);
            nl.header.flags = flags;
            nl.header.sequence_number = self.seq;
            self.seq = self.seq.wrapping_add(1);
            nl.finalize();
            let at = self.tx.len();
            self.tx.resize(at + nl.buffer_len(), 0);
            nl.serialize(&mut self.tx[at..]);
            sent += 1;
        }
        if sent == 0 {
            return Ok(());
        }
        self.sock.send(&self.tx, 0)?;
        // The errors of this batch, if any, are queued already.
        loop {
            self.rx.clear();
            match self.sock.recv(&mut self.rx, libc::MSG_DONTWAIT) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
            let mut off = 0;
            while off + 16 <= self.rx.len() {
                let len = u32::from_ne_bytes([
                    self.rx[off],
                    self.rx[off + 1],
                    self.rx[off + 2],
                    self.rx[off + 3],
                ]) as usize;
                if len < 16 || off + len > self.rx.len() {
                    break;
                }
                let msg =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.rx[off..off + len]);
                off += len.next_multiple_of(4);
                let Ok(msg) = msg else { continue };
                if let NetlinkPayload::Error(e) = msg.payload {
                    let i = msg.header.sequence_number.wrapping_sub(first) as usize;
                    if let (Some(code), Some((p, hops))) = (e.code, chunk.get(i))
                        && !(hops.is_empty() && code.get() == -libc::ESRCH)
                    {
                        failed.push((*p, io::Error::from_raw_os_error(-code.get()).to_string()));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Batches of forwarding changes waiting for the kernel thread at most; the speaker keeps what
/// does not fit (each prefix's latest change) and offers it again.
pub const QUEUE: usize = 16;

/// Applies route changes in order and keeps the table of what is installed. Runs on its own
/// thread (netlink writes block) until the speaker drops its sender.
pub fn kernel_thread(
    mut nl: Batcher,
    rx: std::sync::mpsc::Receiver<Vec<(IpNet, NextHops)>>,
    installed: super::Installed,
    status: std::sync::Arc<std::sync::Mutex<crate::status::RoutingStatus>>,
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
