//! Routes in the kernel through rtnetlink: every learned prefix with its next hops (one
//! multipath route when there are several), in the main table, marked with protocol `bgp`
//! (RTPROT_BGP, 186) so that the gateway finds its own routes again and touches no other.

use futures::StreamExt;
use ipnet::IpNet;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteProtocol};
use rtnetlink::{RouteMessageBuilder, RouteNextHopBuilder};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How many netlink requests are in flight at once.
const IN_FLIGHT: usize = 64;

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

    /// Installs (replacing) or removes (no next hops) each route; returns those that failed
    /// with the reason. A removal of a route that is not there is not a failure.
    pub async fn apply(&self, changes: Vec<(IpNet, Vec<IpAddr>)>) -> Vec<(IpNet, String)> {
        futures::stream::iter(changes)
            .map(|(prefix, hops)| {
                let h = self.handle.clone();
                async move {
                    let m = match message(&prefix, &hops) {
                        Ok(m) => m,
                        Err(e) => return Some((prefix, e.to_string())),
                    };
                    let r = if hops.is_empty() {
                        match h.route().del(m).execute().await {
                            Err(rtnetlink::Error::NetlinkError(e))
                                if e.raw_code() == -libc::ESRCH =>
                            {
                                Ok(())
                            }
                            other => other,
                        }
                    } else {
                        h.route().add(m).replace().execute().await
                    };
                    r.err().map(|e| (prefix, e.to_string()))
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .filter_map(|x| async move { x })
            .collect()
            .await
    }
}
