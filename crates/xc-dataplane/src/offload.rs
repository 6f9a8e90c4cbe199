//! Receive offload for the link's TAP: consecutive TCP segments of one flow, as they arrive from
//! the peer, are written to the TAP as one large frame (a GSO frame with a virtio-net header),
//! so that the kernel runs its TCP receive path once for many segments instead of once per
//! segment, as GRO does on a network card.
//!
//! The TAP is opened with `IFF_VNET_HDR`: every frame read or written starts with a 10-byte
//! virtio-net header. Its transmit offloads ([`set_tap_offloads`]) decide what a read brings:
//! with them on (as a link runs), up to 64 KiB of one flow that [`crate::segment`] cuts into
//! frames; with them off, ordinary frames with complete checksums behind an empty header.
//!
//! [`Coalescer`] is sans-IO: frames in, bytes to write out.
#![allow(unsafe_code)]

use crate::checksum;
use crate::segment::{F_NEEDS_CSUM, GSO_TCPV4, GSO_TCPV6, VnetHeader};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Bytes of the virtio-net header in front of every TAP frame (`struct virtio_net_hdr`).
pub const VNET_HDR_LEN: usize = 10;
const ETH_LEN: usize = 14;
/// Most bytes in one coalesced frame after the virtio-net header (an IPv4 packet is at most 64 KiB).
const MAX_FRAME: usize = ETH_LEN + 65_535;
/// Most segments in one coalesced frame.
const MAX_SEGMENTS: usize = 64;

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;
const TCP_URG: u8 = 0x20;

/// Sets the TAP's transmit offloads (`TUNSETOFFLOAD` with `TUN_F_*` flags): what the kernel may
/// hand the reader unsegmented (TSO, USO) or with its checksum left to complete (`TUN_F_CSUM`).
/// With none, every frame read is an ordinary frame with its checksums complete.
pub fn set_tap_offloads(fd: BorrowedFd<'_>, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: `fd` is a live descriptor for the duration of the call; TUNSETOFFLOAD takes its
    // argument by value (an unsigned int of TUN_F_* flags) and reads no memory of ours.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TUNSETOFFLOAD,
            libc::c_ulong::from(flags),
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Turns the TAP's carrier on or off (`TUNSETCARRIER`): off, the kernel treats the link as down
/// (its routes' next hops are `linkdown`), as it would a cable pulled.
pub fn set_tap_carrier(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let value: libc::c_int = on.into();
    // SAFETY: `fd` is a live descriptor for the duration of the call; TUNSETCARRIER reads one
    // int through the pointer, which points at `value`, alive until the call returns.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TUNSETCARRIER,
            &value as *const libc::c_int,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Makes the kernel act on a carrier change of the interface `name` now: its routes' next hops
/// through it are marked (or cleared) `linkdown` at once. The kernel applies a carrier change
/// through its link watch, which holds a carrier-off event for up to a second after the last
/// one it handled, anywhere on the machine: a second link found dead right after a first would
/// keep its routes for that long. Asking for the link state (`ETHTOOL_GLINK`, on any socket of
/// the interface's network namespace) runs the pending event for that interface first.
pub fn sync_link_state(sock: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    const ETHTOOL_GLINK: u32 = 0x0000_000a;
    let bytes = name.as_bytes();
    // SAFETY: `ifreq` is plain old data; all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    if bytes.len() >= ifr.ifr_name.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    for (d, s) in ifr.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let mut value = EthtoolValue {
        cmd: ETHTOOL_GLINK,
        data: 0,
    };
    ifr.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
    // SAFETY: `sock` is a live descriptor for the duration of the call; SIOCETHTOOL reads the
    // interface name and the pointer from `ifr`, and writes one `EthtoolValue` through the
    // pointer, which points at `value`, alive until the call returns.
    let rc = unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            libc::SIOCETHTOOL as _,
            &mut ifr as *mut libc::ifreq,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Where the headers of a TCP frame are, when it can join a coalesced frame.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// IPv6 (else IPv4).
    v6: bool,
    /// Offset of the TCP header.
    tcp: usize,
    /// Offset of the payload.
    payload: usize,
    seq: u32,
    flags: u8,
}

/// A TCP segment with data and only ACK (and maybe PSH) set, without padding: IPv4
/// unfragmented, or IPv6 without extension headers. The only kind that is coalesced.
fn segment(f: &[u8]) -> Option<Segment> {
    if f.len() < ETH_LEN + 20 {
        return None;
    }
    let ip = &f[ETH_LEN..];
    let (v6, tcp) = match f[12..14] {
        [0x08, 0x00] => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            if ip[0] >> 4 != 4 || ihl < 20 || ip[9] != 6 {
                return None;
            }
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            // More fragments, or a fragment offset: not coalesced.
            if total != ip.len() || u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
                return None;
            }
            (false, ETH_LEN + ihl)
        }
        [0x86, 0xdd] => {
            if ip.len() < 40 || ip[0] >> 4 != 6 || ip[6] != 6 {
                return None;
            }
            let payload = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            if payload + 40 != ip.len() {
                return None;
            }
            (true, ETH_LEN + 40)
        }
        _ => return None,
    };
    if f.len() < tcp + 20 {
        return None;
    }
    let doff = usize::from(f[tcp + 12] >> 4) * 4;
    let flags = f[tcp + 13];
    let payload = tcp + doff;
    if doff < 20
        || payload >= f.len()
        || flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_URG) != 0
        || flags & TCP_ACK == 0
        || f[tcp + 12] & 0x0f != 0
    {
        return None;
    }
    Some(Segment {
        v6,
        tcp,
        payload,
        seq: u32::from_be_bytes([f[tcp + 4], f[tcp + 5], f[tcp + 6], f[tcp + 7]]),
        flags,
    })
}

/// Coalesces the frames of a burst; see the module documentation.
#[derive(Debug)]
pub struct Coalescer {
    /// The virtio-net header space, then the frame being built.
    buf: Vec<u8>,
    /// The frame in `buf` (if any), when more may join it.
    open: Option<Open>,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    seg: Segment,
    /// Payload bytes of each segment (the last may be shorter, and then closes the frame).
    mss: usize,
    next_seq: u32,
    segments: usize,
    /// No more segments may join (a shorter one or PSH came).
    closed: bool,
}

impl Default for Coalescer {
    fn default() -> Self {
        Self::new()
    }
}

impl Coalescer {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(VNET_HDR_LEN + MAX_FRAME),
            open: None,
        }
    }

    /// Takes one frame: it joins the frame being built, or that one is written (`write`) and
    /// this one starts the next. `write` gets whole TAP writes, virtio-net header included.
    pub fn push<E>(
        &mut self,
        frame: &[u8],
        write: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let seg = segment(frame);
        if let (Some(open), Some(s)) = (&mut self.open, seg)
            && !open.closed
        {
            let len = frame.len() - s.payload;
            let first = &self.buf[VNET_HDR_LEN..];
            if s.seq == open.next_seq
                && len <= open.mss
                && open.segments < MAX_SEGMENTS
                && self.buf.len() - VNET_HDR_LEN + len <= MAX_FRAME
                && same_flow(first, &open.seg, frame, &s)
            {
                self.buf.extend_from_slice(&frame[s.payload..]);
                open.next_seq = open.next_seq.wrapping_add(len as u32);
                open.segments += 1;
                if s.flags & TCP_PSH != 0 {
                    let at = VNET_HDR_LEN + open.seg.tcp + 13;
                    self.buf[at] |= TCP_PSH;
                }
                open.closed = len < open.mss || s.flags & TCP_PSH != 0;
                return Ok(());
            }
        }
        self.flush(write)?;
        self.buf.clear();
        self.buf.extend_from_slice(&[0; VNET_HDR_LEN]);
        self.buf.extend_from_slice(frame);
        self.open = Some(match seg {
            Some(s) => Open {
                seg: s,
                mss: frame.len() - s.payload,
                next_seq: s.seq.wrapping_add((frame.len() - s.payload) as u32),
                segments: 1,
                closed: s.flags & TCP_PSH != 0,
            },
            // Not TCP data: written as it is, alone.
            None => Open {
                seg: Segment {
                    v6: false,
                    tcp: 0,
                    payload: 0,
                    seq: 0,
                    flags: 0,
                },
                mss: 0,
                next_seq: 0,
                segments: 1,
                closed: true,
            },
        });
        Ok(())
    }

    /// Writes the frame being built, if any.
    pub fn flush<E>(&mut self, write: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        if open.segments > 1 {
            self.finish(&open);
        }
        write(&self.buf)
    }

    /// Makes the frame in `buf` one GSO frame: the IPv4 total length and header checksum or
    /// the IPv6 payload length, the TCP checksum field holding the pseudo-header sum (the kernel
    /// completes it), and the virtio-net header describing the segments.
    fn finish(&mut self, open: &Open) {
        let f = &mut self.buf[VNET_HDR_LEN..];
        let ip_len = f.len() - ETH_LEN;
        let ihl = open.seg.tcp - ETH_LEN;
        let tcp_len = (ip_len - ihl) as u32;
        let addresses = if open.seg.v6 {
            f[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&(tcp_len as u16).to_be_bytes());
            ETH_LEN + 8..ETH_LEN + 40
        } else {
            f[ETH_LEN + 2..ETH_LEN + 4].copy_from_slice(&(ip_len as u16).to_be_bytes());
            f[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&[0, 0]);
            let ip_sum = !checksum::sum(&f[ETH_LEN..ETH_LEN + ihl], 0);
            f[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&ip_sum.to_be_bytes());
            ETH_LEN + 12..ETH_LEN + 20
        };
        let pseudo = checksum::pseudo_header(&f[addresses], 6, tcp_len);
        let t = open.seg.tcp;
        f[t + 16..t + 18].copy_from_slice(&pseudo.to_be_bytes());
        let hdr = VnetHeader {
            flags: F_NEEDS_CSUM,
            gso_type: if open.seg.v6 { GSO_TCPV6 } else { GSO_TCPV4 },
            hdr_len: open.seg.payload as u16,
            gso_size: open.mss as u16,
            csum_start: t as u16,
            csum_offset: 16,
        };
        self.buf[..VNET_HDR_LEN].copy_from_slice(&hdr.encode());
    }
}

/// Whether `b` belongs to the same flow and carries the same headers as `a` (all but the
/// fields that differ between consecutive segments: IP length, IPv4 id and checksum, TCP
/// sequence number, PSH and checksum).
fn same_flow(a: &[u8], sa: &Segment, b: &[u8], sb: &Segment) -> bool {
    if sa.v6 != sb.v6 || sa.tcp != sb.tcp || sa.payload != sb.payload {
        return false;
    }
    let ip = ETH_LEN;
    let t = sa.tcp;
    let same_ip = if sa.v6 {
        // Version, traffic class, flow label; next header, hop limit, addresses.
        a[..ip + 4] == b[..ip + 4] && a[ip + 6..t] == b[ip + 6..t]
    } else {
        a[..ip + 2] == b[..ip + 2]
            && a[ip + 6..ip + 10] == b[ip + 6..ip + 10]
            && a[ip + 12..t] == b[ip + 12..t]
    };
    same_ip
        && a[t..t + 4] == b[t..t + 4]
        && a[t + 8..t + 13] == b[t + 8..t + 13]
        && a[t + 13] & !TCP_PSH == b[t + 13] & !TCP_PSH
        && a[t + 14..t + 16] == b[t + 14..t + 16]
        && a[t + 18..sa.payload] == b[t + 18..sb.payload]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet + IPv4 + TCP frame with `payload` bytes, valid checksums.
    fn frame(seq: u32, payload: &[u8], flags: u8, ip_id: u16) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = (20 + 20 + payload.len()) as u16;
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&ip_id.to_be_bytes());
        ip.extend_from_slice(&[0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        let c = !checksum::sum(&ip, 0);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let mut tcp = vec![0x13, 0x89, 0xc3, 0x50];
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&7u32.to_be_bytes());
        tcp.extend_from_slice(&[0x50, flags, 0x01, 0xf5, 0, 0, 0, 0]);
        tcp.extend_from_slice(payload);
        let pseudo = checksum::pseudo_header(&ip[12..20], 6, tcp.len() as u32);
        let c = !checksum::sum(&tcp, pseudo);
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&tcp);
        f
    }

    /// The same over IPv6 (fd00::1 to fd00::2).
    fn frame6(seq: u32, payload: &[u8], flags: u8) -> Vec<u8> {
        let v4 = frame(seq, payload, flags, 0);
        let tcp = &v4[34..];
        let mut f = vec![
            2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd, 0x60, 0, 0, 0,
        ];
        f.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        f.extend_from_slice(&[6, 64]);
        let mut addrs = [0u8; 32];
        addrs[..2].copy_from_slice(&[0xfd, 0]);
        addrs[15] = 1;
        addrs[16..18].copy_from_slice(&[0xfd, 0]);
        addrs[31] = 2;
        f.extend_from_slice(&addrs);
        let mut tcp = tcp.to_vec();
        tcp[16..18].copy_from_slice(&[0, 0]);
        let pseudo = checksum::pseudo_header(&addrs, 6, tcp.len() as u32);
        let c = !checksum::sum(&tcp, pseudo);
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&tcp);
        f
    }

    fn run(frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut c = Coalescer::new();
        let mut out = Vec::new();
        let mut w = |b: &[u8]| -> Result<(), ()> {
            out.push(b.to_vec());
            Ok(())
        };
        for f in frames {
            c.push(f, &mut w).expect("push");
        }
        c.flush(&mut w).expect("flush");
        out
    }

    #[test]
    fn consecutive_segments_become_one_gso_frame() {
        let a = frame(1000, &[1; 100], TCP_ACK, 1);
        let b = frame(1100, &[2; 100], TCP_ACK, 2);
        let c = frame(1200, &[3; 40], TCP_ACK | TCP_PSH, 3);
        let out = run(&[a.clone(), b, c]);
        assert_eq!(out.len(), 1);
        let w = &out[0];
        let (h, f) = w.split_at(VNET_HDR_LEN);
        assert_eq!(h[0], F_NEEDS_CSUM);
        assert_eq!(h[1], GSO_TCPV4);
        assert_eq!(u16::from_ne_bytes([h[2], h[3]]), 54); // headers
        assert_eq!(u16::from_ne_bytes([h[4], h[5]]), 100); // segment size
        assert_eq!(u16::from_ne_bytes([h[6], h[7]]), 34); // checksum start
        assert_eq!(u16::from_ne_bytes([h[8], h[9]]), 16);
        assert_eq!(f.len(), 54 + 240);
        // The first segment's headers, with the new IPv4 length.
        assert_eq!(&f[..16], &a[..16]);
        assert_eq!(u16::from_be_bytes([f[16], f[17]]), 20 + 20 + 240);
        assert_eq!(&f[26..47], &a[26..47]);
        assert_eq!(&f[48..50], &a[48..50]);
        // The IPv4 header checksum is right for the new length.
        assert_eq!(checksum::sum(&f[14..34], 0), 0xffff);
        // PSH of the last segment is on the whole; the payloads follow each other.
        assert_eq!(f[47] & TCP_PSH, TCP_PSH);
        assert_eq!(&f[54..154], &[1; 100][..]);
        assert_eq!(&f[254..294], &[3; 40][..]);
        // The TCP checksum field holds the pseudo-header sum, not complemented.
        let pseudo = checksum::pseudo_header(&f[26..34], 6, 20 + 240);
        assert_eq!(u16::from_be_bytes([f[50], f[51]]), pseudo);
    }

    #[test]
    fn consecutive_ipv6_segments_become_one_gso_frame_and_families_never_mix() {
        let a = frame6(1000, &[1; 100], TCP_ACK);
        let b = frame6(1100, &[2; 100], TCP_ACK);
        let c = frame6(1200, &[3; 40], TCP_ACK | TCP_PSH);
        let out = run(&[a.clone(), b, c]);
        assert_eq!(out.len(), 1);
        let (h, f) = out[0].split_at(VNET_HDR_LEN);
        assert_eq!((h[0], h[1]), (F_NEEDS_CSUM, GSO_TCPV6));
        assert_eq!(u16::from_ne_bytes([h[2], h[3]]), 74); // headers
        assert_eq!(u16::from_ne_bytes([h[4], h[5]]), 100); // segment size
        assert_eq!(u16::from_ne_bytes([h[6], h[7]]), 54); // checksum start
        assert_eq!(f.len(), 74 + 240);
        assert_eq!(
            u16::from_be_bytes([f[18], f[19]]),
            20 + 240,
            "payload length"
        );
        assert_eq!(&f[..18], &a[..18]);
        assert_eq!(&f[20..67], &a[20..67]);
        assert_eq!(&f[68..70], &a[68..70]);
        assert_eq!(f[67] & TCP_PSH, TCP_PSH);
        assert_eq!(&f[74..174], &[1; 100][..]);
        let pseudo = checksum::pseudo_header(&f[22..54], 6, 20 + 240);
        assert_eq!(u16::from_be_bytes([f[70], f[71]]), pseudo);
        // An IPv4 segment that follows in sequence starts a frame of its own, and an IPv6 one
        // with another flow label too.
        let v6 = frame6(1000, &[1; 100], TCP_ACK);
        let v4 = frame(1100, &[2; 100], TCP_ACK, 1);
        let mut labelled = frame6(1200, &[3; 100], TCP_ACK);
        labelled[17] = 7;
        assert_eq!(run(&[v6, v4, labelled]).len(), 3);
    }

    #[test]
    fn a_gap_another_flow_or_a_lone_segment_is_written_as_it_came() {
        let a = frame(1000, &[1; 100], TCP_ACK, 1);
        let gap = frame(1300, &[2; 100], TCP_ACK, 2);
        let mut other = frame(1400, &[3; 100], TCP_ACK, 3);
        other[14 + 19] = 3; // another destination address
        let out = run(&[a.clone(), gap.clone(), other.clone()]);
        assert_eq!(out.len(), 3);
        for (w, f) in out.iter().zip([&a, &gap, &other]) {
            assert_eq!(&w[..VNET_HDR_LEN], &[0; VNET_HDR_LEN]);
            assert_eq!(&w[VNET_HDR_LEN..], &f[..]);
        }
    }

    #[test]
    fn nothing_joins_after_psh_a_shorter_segment_or_a_larger_one() {
        let a = frame(1000, &[1; 100], TCP_ACK | TCP_PSH, 1);
        let b = frame(1100, &[2; 100], TCP_ACK, 2);
        assert_eq!(run(&[a, b]).len(), 2);
        let a = frame(1000, &[1; 100], TCP_ACK, 1);
        let short = frame(1100, &[2; 50], TCP_ACK, 2);
        let after = frame(1150, &[3; 50], TCP_ACK, 3);
        assert_eq!(run(&[a, short, after]).len(), 2);
        let a = frame(1000, &[1; 100], TCP_ACK, 1);
        let larger = frame(1100, &[2; 200], TCP_ACK, 2);
        assert_eq!(run(&[a, larger]).len(), 2);
    }

    #[test]
    fn control_segments_and_other_protocols_pass_alone() {
        let syn = frame(1000, &[], TCP_SYN, 1);
        let ack = frame(1000, &[], TCP_ACK, 2);
        let mut udp = frame(1000, &[1; 100], TCP_ACK, 3);
        udp[14 + 9] = 17;
        let arp = vec![0xff; 42];
        let out = run(&[syn, ack.clone(), ack, udp, arp]);
        assert_eq!(out.len(), 5);
        assert!(out.iter().all(|w| w[..VNET_HDR_LEN] == [0; VNET_HDR_LEN]));
    }

    #[test]
    fn any_bytes_are_taken_without_a_panic() {
        let mut c = Coalescer::new();
        let mut n = 0;
        let mut w = |_: &[u8]| -> Result<(), ()> {
            n += 1;
            Ok(())
        };
        let base = frame(1000, &[1; 100], TCP_ACK, 1);
        for cut in 0..base.len() {
            c.push(&base[..cut], &mut w).expect("push");
            let mut bad = base.clone();
            bad[14] = (cut as u8) | 0x40;
            bad[14 + 32] = cut as u8;
            c.push(&bad, &mut w).expect("push");
        }
        c.flush(&mut w).expect("flush");
        assert!(n > 0);
    }
}
