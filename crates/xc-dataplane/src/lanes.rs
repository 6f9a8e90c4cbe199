//! Several cores per link: how the workers share one link.
//!
//! A link of `n` workers (1, 2, 4 or 8) has a multi-queue TAP with one queue per worker, and one
//! UDP socket per worker, all bound to the link's underlay address with `SO_REUSEPORT`. Each
//! worker owns packet-number lanes of the transmit SA: worker `i` uses only the PNs congruent
//! to `i` modulo `n` (`xc_macsec::SecYConfig::tx_lane`), so no two workers ever use one PN, and
//! none waits for another. The receiver steers each datagram to the socket of its lane with a
//! classic BPF program on the reuseport group ([`steering_program`]): the PN is in clear in the
//! SecTAG, at a fixed offset of the UDP payload. A flow stays on one worker at each end: the
//! kernel keeps a flow on one TAP queue (its flow hash), the queue's worker sends it on its own
//! lanes, and the peer's worker of those lanes writes it to its own TAP queue.
//!
//! The receiver keeps one replay state per lane (`xc_macsec::SecYConfig::pn_lanes`, always
//! [`xc_macsec::MAX_PN_LANES`] on a link), so a lane that lags the others (a worker with less
//! traffic) is not refused as late; the replay window applies within each lane. See
//! ARCHITECTURE.md ("Several cores per link") for the choice against 802.1AE's rules.

use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrStorage, bind, setsockopt, socket, sockopt,
};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};

/// The workers a link runs for `asked` (1, 2, 4 or 8; anything else is 1).
pub fn workers(asked: u8) -> usize {
    if asked.is_power_of_two() && asked <= xc_macsec::MAX_PN_LANES {
        usize::from(asked)
    } else {
        1
    }
}

/// Where the SecTAG's PN starts in a link's UDP payload: the VXLAN header (8), the destination
/// and source addresses (12), the MACsec EtherType (2), TCI/AN and SL (2).
pub const PN_OFFSET: u32 = 8 + 12 + 2 + 2;

// Classic BPF opcodes (linux/bpf_common.h): load a word at an absolute offset, AND with a
// constant, return the accumulator.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_ALU_AND_K: u16 = 0x54;
const BPF_RET_A: u16 = 0x16;

/// One instruction of a classic BPF program without jumps.
fn insn(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// The reuseport program of a link with `workers` sockets (a power of two): the socket index
/// is the PN's low bits. A datagram too short to hold a PN (the load fails) ends the program
/// with 0: the first socket. Control frames (MKPDUs, probes) land on any worker, each of which
/// hands them to the gateway.
pub fn steering_program(workers: usize) -> [libc::sock_filter; 3] {
    let mask = (workers.max(1) - 1) as u32;
    [
        insn(BPF_LD_W_ABS, PN_OFFSET),
        insn(BPF_ALU_AND_K, mask),
        insn(BPF_RET_A, 0),
    ]
}

/// Whether a datagram's source is the peer: its address and port, whatever else the kernel
/// filled in (an IPv6 source carries the interface's scope id when link-local, which the
/// configured peer address may leave out).
pub fn from_peer(from: Option<&SockaddrStorage>, peer: SocketAddr) -> bool {
    let Some(from) = from else {
        return false;
    };
    match peer {
        SocketAddr::V4(p) => from
            .as_sockaddr_in()
            .is_some_and(|a| a.ip() == *p.ip() && a.port() == p.port()),
        SocketAddr::V6(p) => from
            .as_sockaddr_in6()
            .is_some_and(|a| a.ip() == *p.ip() && a.port() == p.port()),
    }
}

/// `SO_ATTACH_REUSEPORT_CBPF` (asm-generic/socket.h; the same on every architecture the gateway
/// builds for).
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;

/// The link's sockets: one connected to the peer for one worker; for several, one per worker,
/// bound to `local` in one reuseport group (in worker order) and steered by PN.
pub fn sockets(
    local: SocketAddr,
    remote: SocketAddr,
    workers: usize,
) -> io::Result<Vec<UdpSocket>> {
    if workers <= 1 {
        let s = UdpSocket::bind(local)?;
        s.connect(remote)?;
        return Ok(vec![s]);
    }
    let family = match local {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let mut out = Vec::with_capacity(workers);
    for i in 0..workers {
        let fd: OwnedFd = socket(family, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
        setsockopt(&fd, sockopt::ReusePort, &true)?;
        if i == 0 {
            attach_steering(&fd, workers)?;
        }
        bind(fd.as_raw_fd(), &SockaddrStorage::from(local))?;
        out.push(UdpSocket::from(fd));
    }
    Ok(out)
}

/// Attaches the steering program to the reuseport group of `fd` (before it is bound: the group
/// takes the program of its first socket).
fn attach_steering(fd: &OwnedFd, workers: usize) -> io::Result<()> {
    let mut prog = steering_program(workers);
    let fprog = libc::sock_fprog {
        len: prog.len() as libc::c_ushort,
        filter: prog.as_mut_ptr(),
    };
    #[allow(unsafe_code)]
    // SAFETY: `fd` is a live socket; the kernel copies the program that `fprog` points at
    // (alive, with `len` instructions, until the call returns) and keeps no pointer to it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_peer_is_its_address_and_port_whatever_the_scope() {
        let peer: SocketAddr = "[fe80::2]:4789".parse().expect("addr");
        let scoped = std::net::SocketAddrV6::new("fe80::2".parse().expect("ip"), 4789, 0, 3);
        let from = SockaddrStorage::from(SocketAddr::V6(scoped));
        assert!(
            from_peer(Some(&from), peer),
            "a link-local source with its scope id"
        );
        let v4: SocketAddr = "10.0.0.2:4789".parse().expect("addr");
        assert!(from_peer(Some(&SockaddrStorage::from(v4)), v4));
        for other in ["10.0.0.3:4789", "10.0.0.2:4790", "[fe80::2]:4790"] {
            let o: SocketAddr = other.parse().expect("addr");
            assert!(!from_peer(Some(&SockaddrStorage::from(o)), v4), "{other}");
            assert!(!from_peer(Some(&SockaddrStorage::from(o)), peer), "{other}");
        }
        assert!(!from_peer(None, v4), "no source");
    }

    #[test]
    fn workers_are_a_power_of_two_up_to_the_lanes() {
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 8, 9, 16].map(workers),
            [1, 1, 2, 1, 4, 1, 8, 1, 1]
        );
    }

    /// A datagram as a link sends it: VXLAN, the addresses, a SecTAG with `pn`, a payload.
    fn datagram(pn: u32) -> Vec<u8> {
        let mut d = crate::vxlan::header(7).to_vec();
        d.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0xe5, 0x2c, 0]);
        d.extend_from_slice(&pn.to_be_bytes());
        d.extend_from_slice(&[0u8; 40]);
        assert_eq!(
            &d[PN_OFFSET as usize..PN_OFFSET as usize + 4],
            &pn.to_be_bytes()
        );
        d
    }

    /// Which of `socks` receives each datagram sent to their address.
    fn receiver_of(socks: &[UdpSocket], from: &UdpSocket, d: &[u8]) -> usize {
        from.send_to(d, socks[0].local_addr().expect("addr"))
            .expect("send");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 256];
        loop {
            for (i, s) in socks.iter().enumerate() {
                if let Ok(n) = s.recv(&mut buf) {
                    assert_eq!(&buf[..n], d);
                    return i;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no socket received the datagram"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn each_datagram_reaches_the_worker_of_its_packet_number_lane() {
        for n in [2usize, 4, 8] {
            let peer = UdpSocket::bind("127.0.0.1:0").expect("peer");
            let port = UdpSocket::bind("127.0.0.1:0")
                .and_then(|s| s.local_addr())
                .expect("a free port")
                .port();
            let local: SocketAddr = ([127, 0, 0, 1], port).into();
            let socks = sockets(local, peer.local_addr().expect("addr"), n).expect("sockets");
            for s in &socks {
                s.set_nonblocking(true).expect("nonblocking");
            }
            // From one source address and port, as a peer sends: only the PN steers.
            for pn in [1u32, 2, 3, 4, 5, 6, 7, 8, 9, 1000, 1001, u32::MAX] {
                let got = receiver_of(&socks, &peer, &datagram(pn));
                assert_eq!(got, pn as usize % n, "PN {pn} with {n} workers");
            }
            // Too short to hold a PN: the first worker.
            assert_eq!(receiver_of(&socks, &peer, &[0u8; 12]), 0);
        }
    }
}
