//! The speaker's sockets: the TCP 179 listeners (with the neighbours' MD5 keys), outgoing
//! connects, one reader and one writer task per TCP connection, and the BFD sockets. Every task
//! hands what it gets to the speaker on its bounded input channel (awaiting room, so a busy
//! speaker slows the readers and TCP slows the peer); writers take from a bounded queue each and
//! give up on a peer that reads nothing for the send hold time (RFC 9687).

use super::events::Input;
use super::md5;
use crate::config::NeighborSettings;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use xc_bgp::peer::ConnId;

pub const BGP_PORT: u16 = 179;
pub const BFD_PORT: u16 = 3784;
/// How long an outgoing connect may take. Short: with TCP MD5, a connect to a peer that is not
/// listening yet hangs on SYN retries (its unsigned reset is dropped).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Messages a connection's writer holds; UPDATEs are made only while there is room for them and
/// a few more.
pub const WRITE_QUEUE: usize = 64;
/// Room kept in a writer's queue for the session's own messages (KEEPALIVE, NOTIFICATION).
pub const CONTROL_ROOM: usize = 8;
/// Bytes read at most in one go from a connection.
const READ_CHUNK: usize = 16 * 1024;

/// One TCP connection to a neighbour: its reader feeds the speaker, its writer drains `tx`.
/// Dropping it stops the reader; the writer writes what is queued and closes.
#[derive(Debug)]
pub struct Conn {
    pub tx: mpsc::Sender<Vec<u8>>,
    reader: JoinHandle<()>,
    writer: Option<JoinHandle<()>>,
}

impl Conn {
    /// Starts the tasks of a connection: `nbr` and `id` name it in what they report; a writer
    /// that cannot write for `send_hold` reports the connection closed; every completed write
    /// wakes `writable`.
    pub fn open(
        stream: TcpStream,
        nbr: usize,
        id: ConnId,
        inputs: mpsc::Sender<Input>,
        writable: Arc<Notify>,
        send_hold: Duration,
    ) -> io::Result<(Self, IpAddr)> {
        let local = stream.local_addr()?.ip();
        let _ = stream.set_nodelay(true);
        let (mut r, mut w) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
        let report = inputs.clone();
        let writer = tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                let error = match tokio::time::timeout(send_hold, w.write_all(&b)).await {
                    Ok(Ok(())) => {
                        writable.notify_one();
                        continue;
                    }
                    Ok(Err(e)) => format!("write failed: {e}"),
                    Err(_) => format!(
                        "send hold timer expired: the neighbour read nothing for {} s (RFC 9687)",
                        send_hold.as_secs()
                    ),
                };
                let _ = report
                    .send(Input::Closed {
                        nbr,
                        conn: id,
                        error: Some(error),
                    })
                    .await;
                return;
            }
            let _ = w.shutdown().await;
        });
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                let input = match r.read(&mut buf).await {
                    Ok(0) => Input::Closed {
                        nbr,
                        conn: id,
                        error: None,
                    },
                    Ok(n) => Input::Bytes {
                        nbr,
                        conn: id,
                        data: buf[..n].to_vec(),
                    },
                    Err(e) => Input::Closed {
                        nbr,
                        conn: id,
                        error: Some(e.to_string()),
                    },
                };
                let last = matches!(input, Input::Closed { .. });
                if inputs.send(input).await.is_err() || last {
                    return;
                }
            }
        });
        Ok((
            Self {
                tx,
                reader,
                writer: Some(writer),
            },
            local,
        ))
    }

    /// Closes the connection once what is queued is written; the writer, to wait for it.
    pub fn close(mut self) -> Option<JoinHandle<()>> {
        self.writer.take()
    }

    /// Whether the writer can take an UPDATE and still have room for the session's own
    /// messages.
    pub fn has_room(&self) -> bool {
        self.tx.capacity() > CONTROL_ROOM
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // The writer ends by itself once `tx` is gone, after writing what is queued.
        self.reader.abort();
    }
}

/// A listening socket on port 179 with the MD5 keys of the neighbours of its family.
pub fn listener(v6: bool, neighbors: &[NeighborSettings]) -> io::Result<TcpListener> {
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

/// Accepts connections on a listener and hands them to the speaker.
pub fn accept_task(l: Arc<TcpListener>, inputs: mpsc::Sender<Input>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match l.accept().await {
                Ok((s, peer)) => {
                    if inputs.send(Input::Accepted(s, peer)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "BGP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
}

/// Connects to a neighbour (with its MD5 key) and reports the result as attempt `attempt`.
pub fn connect_task(
    nbr: usize,
    attempt: u64,
    addr: IpAddr,
    key: Option<zeroize::Zeroizing<String>>,
    inputs: mpsc::Sender<Input>,
) {
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
        let _ = inputs
            .send(Input::Connected {
                nbr,
                attempt,
                result,
            })
            .await;
    });
}

/// A UDP socket for BFD: the receiving one on port 3784, or a sending one on a source port in
/// 49152-65535 with TTL 255 (RFC 5881 4, 5).
pub fn bfd_socket(v6: bool, receive: bool) -> io::Result<UdpSocket> {
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

/// Reads BFD packets and hands them to the speaker.
pub fn bfd_task(sock: UdpSocket, inputs: mpsc::Sender<Input>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            match sock.recv_from(&mut buf).await {
                Ok((n, from)) => {
                    let data = buf[..n].to_vec();
                    let from = unmapped(from.ip());
                    if inputs.send(Input::Bfd { from, data }).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "BFD receive failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    })
}

/// An IPv4 address that arrived IPv4-mapped on an IPv6 socket, as IPv4.
pub fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
