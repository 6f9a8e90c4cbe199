//! TCP MD5 signatures (RFC 2385) through the kernel: `setsockopt(TCP_MD5SIG)` with the peer's
//! address and the key. Set on a listening socket, the key applies to connections accepted from
//! that peer; set before `connect`, to the outgoing one.

use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

/// `struct tcp_md5sig` of `<linux/tcp.h>`; `addr` is a `struct sockaddr_storage`.
#[repr(C, align(8))]
struct TcpMd5Sig {
    addr: [u8; 128],
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: i32,
    key: [u8; 80],
}

/// Sets (or, with an empty key, removes) the MD5 key for `peer` on `socket`.
pub fn set_key(socket: &impl AsRawFd, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    if key.len() > 80 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a TCP MD5 key is at most 80 bytes",
        ));
    }
    // sockaddr_in / sockaddr_in6: family (host order), port 0, then the address (for IPv6
    // after the 4-byte flow info).
    let mut addr = [0u8; 128];
    match peer {
        IpAddr::V4(a) => {
            addr[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            addr[4..8].copy_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            addr[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            addr[8..24].copy_from_slice(&a.octets());
        }
    }
    let mut sig = TcpMd5Sig {
        addr,
        flags: 0,
        prefixlen: 0,
        keylen: key.len() as u16,
        ifindex: 0,
        key: [0; 80],
    };
    sig.key[..key.len()].copy_from_slice(key);
    // SAFETY: `sig` is a fully initialised `struct tcp_md5sig` that outlives the call, and the
    // length passed is its size; the kernel only reads it. The descriptor is borrowed from a
    // live socket.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            std::ptr::from_ref(&sig).cast(),
            std::mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_struct_has_the_kernel_layout() {
        // sockaddr_storage (128) + flags, prefixlen, keylen (4) + ifindex (4) + key (80).
        assert_eq!(std::mem::size_of::<super::TcpMd5Sig>(), 216);
    }

    #[test]
    fn a_key_is_accepted_by_the_kernel_and_an_oversized_one_refused() {
        let s = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        super::set_key(&s, "127.0.0.1".parse().expect("ip"), b"secret").expect("setsockopt");
        let e =
            super::set_key(&s, "127.0.0.1".parse().expect("ip"), &[0; 81]).expect_err("too long");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }
}
