//! Interface work through rtnetlink (no `ip` tool): addresses on the links' TAPs and VLAN
//! sub-interfaces, bridges for layer 2, interfaces up, into a bridge, or gone. One thread with its
//! own single-threaded runtime and netlink connection serves blocking calls from the gateway's
//! threads, one at a time, over a bounded queue; every failure is a [`NetlinkError`] that says
//! what was asked of which interface.
//!
//! ```text
//!  gateway threads ──Request (bounded)──► xc-netlink thread: rtnetlink request ──► reply
//! ```

use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags};
use rtnetlink::{Handle, LinkBridge, LinkUnspec};
use std::io;
use std::sync::mpsc;

/// Requests waiting for the netlink thread at most.
const QUEUE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("there is no interface {0}")]
    NoSuchInterface(String),
    #[error("{what} on {interface}: {detail}")]
    Refused {
        what: &'static str,
        interface: String,
        /// The kernel's answer (errno), when it gave one.
        errno: Option<i32>,
        detail: String,
    },
    #[error("the netlink thread is gone")]
    Gone,
    #[error("cannot open a netlink socket: {0}")]
    Open(#[source] io::Error),
}

impl From<NetlinkError> for io::Error {
    fn from(e: NetlinkError) -> Self {
        let kind = match &e {
            NetlinkError::NoSuchInterface(_) => io::ErrorKind::NotFound,
            NetlinkError::Refused { errno: Some(n), .. } => io::Error::from_raw_os_error(*n).kind(),
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

enum Op {
    /// Adds an address; an IPv6 one without duplicate address detection (the gateway's
    /// subnets are point-to-point: no one else to collide with).
    AddAddress {
        interface: String,
        address: IpNet,
    },
    Up {
        interface: String,
    },
    Mtu {
        interface: String,
        mtu: u32,
    },
    /// Puts `interface` in `bridge`.
    Master {
        interface: String,
        bridge: String,
    },
    AddBridge {
        name: String,
    },
    Delete {
        name: String,
    },
    Exists {
        name: String,
    },
}

struct Request {
    op: Op,
    reply: mpsc::SyncSender<Result<bool, NetlinkError>>,
}

/// A handle on the netlink thread; cloned freely, calls block until the kernel answered.
#[derive(Debug, Clone)]
pub struct Netlink {
    tx: mpsc::SyncSender<Request>,
}

impl Netlink {
    /// Starts the netlink thread (in the current network namespace).
    pub fn start() -> Result<Self, NetlinkError> {
        let (tx, rx) = mpsc::sync_channel::<Request>(QUEUE);
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), NetlinkError>>(1);
        std::thread::Builder::new()
            .name("xc-netlink".into())
            .spawn(move || serve(rx, ready_tx))
            .map_err(NetlinkError::Open)?;
        ready_rx.recv().map_err(|_| NetlinkError::Gone)??;
        Ok(Self { tx })
    }

    fn call(&self, op: Op) -> Result<bool, NetlinkError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.tx
            .send(Request { op, reply })
            .map_err(|_| NetlinkError::Gone)?;
        answer.recv().map_err(|_| NetlinkError::Gone)?
    }

    pub fn add_address(&self, interface: &str, address: IpNet) -> Result<(), NetlinkError> {
        self.call(Op::AddAddress {
            interface: interface.to_owned(),
            address,
        })
        .map(drop)
    }

    pub fn set_up(&self, interface: &str) -> Result<(), NetlinkError> {
        self.call(Op::Up {
            interface: interface.to_owned(),
        })
        .map(drop)
    }

    pub fn set_mtu(&self, interface: &str, mtu: u32) -> Result<(), NetlinkError> {
        self.call(Op::Mtu {
            interface: interface.to_owned(),
            mtu,
        })
        .map(drop)
    }

    pub fn set_master(&self, interface: &str, bridge: &str) -> Result<(), NetlinkError> {
        self.call(Op::Master {
            interface: interface.to_owned(),
            bridge: bridge.to_owned(),
        })
        .map(drop)
    }

    /// Creates a bridge, up.
    pub fn add_bridge(&self, name: &str) -> Result<(), NetlinkError> {
        self.call(Op::AddBridge {
            name: name.to_owned(),
        })
        .map(drop)
    }

    pub fn delete(&self, name: &str) -> Result<(), NetlinkError> {
        self.call(Op::Delete {
            name: name.to_owned(),
        })
        .map(drop)
    }

    pub fn exists(&self, name: &str) -> Result<bool, NetlinkError> {
        self.call(Op::Exists {
            name: name.to_owned(),
        })
    }
}

fn serve(rx: mpsc::Receiver<Request>, ready: mpsc::SyncSender<Result<(), NetlinkError>>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(NetlinkError::Open(e)));
            return;
        }
    };
    let handle = match rt.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok::<_, io::Error>(handle)
    }) {
        Ok(h) => h,
        Err(e) => {
            let _ = ready.send(Err(NetlinkError::Open(e)));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    while let Ok(r) = rx.recv() {
        let result = rt.block_on(run(&handle, r.op));
        let _ = r.reply.send(result);
    }
}

fn refused(what: &'static str, interface: &str, e: rtnetlink::Error) -> NetlinkError {
    let errno = match &e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    };
    let detail = match errno {
        Some(n) => io::Error::from_raw_os_error(n).to_string(),
        None => e.to_string(),
    };
    NetlinkError::Refused {
        what,
        interface: interface.to_owned(),
        errno,
        detail,
    }
}

/// The index of an interface, if there is one by that name.
async fn index(h: &Handle, name: &str) -> Result<Option<u32>, NetlinkError> {
    let found = h
        .link()
        .get()
        .match_name(name.to_owned())
        .execute()
        .try_next()
        .await;
    match found {
        Ok(m) => Ok(m.map(|m| m.header.index)),
        // ENODEV: no such interface.
        Err(rtnetlink::Error::NetlinkError(m)) if m.code.is_some_and(|c| c.get() == -19) => {
            Ok(None)
        }
        Err(e) => Err(refused("looking up", name, e)),
    }
}

async fn existing(h: &Handle, name: &str) -> Result<u32, NetlinkError> {
    index(h, name)
        .await?
        .ok_or_else(|| NetlinkError::NoSuchInterface(name.to_owned()))
}

async fn run(h: &Handle, op: Op) -> Result<bool, NetlinkError> {
    match op {
        Op::AddAddress { interface, address } => {
            let i = existing(h, &interface).await?;
            let mut req = h.address().add(i, address.addr(), address.prefix_len());
            if address.addr().is_ipv6() {
                let m = req.message_mut();
                m.header.flags |= AddressHeaderFlags::Nodad;
                m.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
            req.execute()
                .await
                .map_err(|e| refused("adding an address", &interface, e))?;
        }
        Op::Up { interface } => {
            let i = existing(h, &interface).await?;
            h.link()
                .set(LinkUnspec::new_with_index(i).up().build())
                .execute()
                .await
                .map_err(|e| refused("setting up", &interface, e))?;
        }
        Op::Mtu { interface, mtu } => {
            let i = existing(h, &interface).await?;
            h.link()
                .set(LinkUnspec::new_with_index(i).mtu(mtu).build())
                .execute()
                .await
                .map_err(|e| refused("setting the MTU", &interface, e))?;
        }
        Op::Master { interface, bridge } => {
            let i = existing(h, &interface).await?;
            let b = existing(h, &bridge).await?;
            h.link()
                .set(LinkUnspec::new_with_index(i).controller(b).build())
                .execute()
                .await
                .map_err(|e| refused("joining a bridge", &interface, e))?;
        }
        Op::AddBridge { name } => {
            h.link()
                .add(LinkBridge::new(&name).build())
                .execute()
                .await
                .map_err(|e| refused("creating a bridge", &name, e))?;
        }
        Op::Delete { name } => {
            let i = existing(h, &name).await?;
            h.link()
                .del(i)
                .execute()
                .await
                .map_err(|e| refused("removing", &name, e))?;
        }
        Op::Exists { name } => return Ok(index(h, &name).await?.is_some()),
    }
    Ok(true)
}
