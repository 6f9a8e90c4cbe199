//! Transmit segmentation offload for the link's TAP: the kernel hands the link up to 64 KiB of
//! one TCP flow (TSO) or one UDP socket's burst (USO) as a single frame behind a virtio-net
//! header, and the link cuts it here into the MTU-sized frames that go on the wire, as a
//! network card would, instead of the kernel doing it frame by frame before each TAP read.
//!
//! What the segments look like is what the kernel's own software segmentation makes of the same
//! frame (`tcp_gso_segment`, `__udp_gso_segment`, `inet_gso_segment`, `ipv6_gso_segment`):
//! - every segment carries the headers of the first, with the IPv4 total length or the IPv6
//!   payload length, the UDP length and the transport checksum of its own; IPv4 identifiers
//!   count up from the first segment's;
//! - TCP: sequence numbers advance by the segment size; FIN and PSH only on the last segment,
//!   CWR only on the first (ECN's "congestion window reduced" is said once);
//! - a checksum that comes out zero is sent as `0xffff` (the kernel's `CSUM_MANGLED_0`).
//!
//! A frame that asks only for its checksum (no segmentation) gets it completed in place: the
//! kernel has put the pseudo-header's sum in the checksum field, and the sum from `csum_start`
//! to the end of the frame, complemented, is the checksum.
//!
//! [`Segmenter`] is sans-IO: a TAP read in, frames out through a callback. Anything it cannot
//! carry out is an error (the caller counts and drops the frame), never a panic.

use crate::checksum;
use crate::offload::VNET_HDR_LEN;

/// `virtio_net_hdr.flags`: the checksum from `csum_start` is left to the receiver of the frame.
pub const F_NEEDS_CSUM: u8 = 1;
/// `virtio_net_hdr.gso_type` values (`VIRTIO_NET_HDR_GSO_*`).
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_TCPV6: u8 = 4;
pub const GSO_UDP_L4: u8 = 5;
/// Flag in `gso_type`: the TCP header has CWR set (on the first segment only).
pub const GSO_ECN: u8 = 0x80;

const ETH_LEN: usize = 14;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// The virtio-net header in front of every frame read from the TAP (`struct virtio_net_hdr`,
/// the legacy layout in the host's byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VnetHeader {
    pub flags: u8,
    pub gso_type: u8,
    /// Length of the headers (the kernel's hint; the segmenter reads the headers itself).
    pub hdr_len: u16,
    /// Payload bytes of each segment.
    pub gso_size: u16,
    /// Where the checksummed part starts (the transport header), from the Ethernet header.
    pub csum_start: u16,
    /// Where the checksum field is, from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHeader {
    /// Reads the header at the start of a TAP read; `None` when the read is shorter.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let h = b.get(..VNET_HDR_LEN)?;
        let u16_at = |i: usize| u16::from_ne_bytes([h[i], h[i + 1]]);
        Some(Self {
            flags: h[0],
            gso_type: h[1],
            hdr_len: u16_at(2),
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        })
    }

    /// The header's bytes (what the receive coalescer puts in front of a frame it joined).
    pub fn encode(&self) -> [u8; VNET_HDR_LEN] {
        let mut h = [0u8; VNET_HDR_LEN];
        h[0] = self.flags;
        h[1] = self.gso_type;
        h[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        h[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        h[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        h[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        h
    }
}

/// Why a TAP read could not be cut into frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("the read is shorter than a virtio-net header and an Ethernet header")]
    Short,
    #[error("GSO type {0:#04x} was not offered to the TAP")]
    GsoType(u8),
    #[error("the checksum position lies outside the frame")]
    ChecksumOutside,
    #[error("not an IPv4 or IPv6 packet of the GSO type's family")]
    Network,
    #[error("the transport header is cut short, misplaced or of another protocol")]
    Transport,
    #[error("a segment size of zero")]
    SegmentSize,
}

/// Which segmentation a frame asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tcp,
    Udp,
}

/// Where the headers of a frame to segment are.
#[derive(Debug, Clone, Copy)]
struct Layout {
    kind: Kind,
    /// Offset of the IP header, and whether it is IPv4.
    l3: usize,
    v4: bool,
    /// Offset of the transport header, and of the payload behind it.
    l4: usize,
    payload: usize,
}

/// Cuts TAP reads into frames; keeps one segment's buffer between calls.
#[derive(Debug, Default)]
pub struct Segmenter {
    seg: Vec<u8>,
}

impl Segmenter {
    pub fn new() -> Self {
        Self {
            seg: Vec::with_capacity(16 * 1024),
        }
    }

    /// Takes one TAP read (virtio-net header, then the frame) and hands each frame it makes to
    /// `emit`, in order: the frame itself when it is plain, the frame with its checksum completed
    /// when it asks for one, or its segments. Returns how many frames it emitted; on an error it
    /// emitted none.
    pub fn segment(
        &mut self,
        read: &mut [u8],
        emit: &mut impl FnMut(&[u8]),
    ) -> Result<usize, SegmentError> {
        let hdr = VnetHeader::parse(read).ok_or(SegmentError::Short)?;
        let frame = &mut read[VNET_HDR_LEN..];
        if frame.len() < ETH_LEN {
            return Err(SegmentError::Short);
        }
        let kind = match hdr.gso_type & !GSO_ECN {
            GSO_NONE => {
                if hdr.flags & F_NEEDS_CSUM != 0 {
                    complete_checksum(frame, &hdr)?;
                }
                emit(frame);
                return Ok(1);
            }
            GSO_TCPV4 | GSO_TCPV6 => Kind::Tcp,
            GSO_UDP_L4 => Kind::Udp,
            other => return Err(SegmentError::GsoType(other)),
        };
        let layout = layout(frame, &hdr, kind)?;
        let mss = usize::from(hdr.gso_size);
        if mss == 0 {
            return Err(SegmentError::SegmentSize);
        }
        let payload_len = frame.len() - layout.payload;
        let count = payload_len.div_ceil(mss).max(1);
        for i in 0..count {
            let from = layout.payload + i * mss;
            let to = (from + mss).min(frame.len());
            self.seg.clear();
            self.seg.extend_from_slice(&frame[..layout.payload]);
            self.seg.extend_from_slice(&frame[from..to]);
            fix_segment(&mut self.seg, &layout, i, count, mss);
            emit(&self.seg);
        }
        Ok(count)
    }
}

/// The bytes of the frames a TAP read becomes (each segment's headers counted): what the
/// transmit shaper must have tokens for before the read goes out. A read that does not segment
/// counts as it is.
pub fn wire_len(read: &[u8]) -> usize {
    let frame_len = read.len().saturating_sub(VNET_HDR_LEN);
    let Some(hdr) = VnetHeader::parse(read) else {
        return frame_len;
    };
    let kind = match hdr.gso_type & !GSO_ECN {
        GSO_TCPV4 | GSO_TCPV6 => Kind::Tcp,
        GSO_UDP_L4 => Kind::Udp,
        _ => return frame_len,
    };
    let frame = &read[VNET_HDR_LEN..];
    match layout(frame, &hdr, kind) {
        Ok(l) if hdr.gso_size > 0 => {
            let count = (frame.len() - l.payload)
                .div_ceil(usize::from(hdr.gso_size))
                .max(1);
            frame.len() + (count - 1) * l.payload
        }
        _ => frame_len,
    }
}

/// Completes the checksum of a frame that asks for it without segmentation.
fn complete_checksum(frame: &mut [u8], hdr: &VnetHeader) -> Result<(), SegmentError> {
    let start = usize::from(hdr.csum_start);
    let at = start + usize::from(hdr.csum_offset);
    if at + 2 > frame.len() {
        return Err(SegmentError::ChecksumOutside);
    }
    let c = mangled(!checksum::sum(&frame[start..], 0));
    frame[at..at + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// A transport checksum that comes out zero is sent as all ones (the same in one's complement;
/// zero means "no checksum" to UDP over IPv4).
fn mangled(c: u16) -> u16 {
    if c == 0 { 0xffff } else { c }
}

/// Finds and checks the headers of a frame to segment.
fn layout(frame: &[u8], hdr: &VnetHeader, kind: Kind) -> Result<Layout, SegmentError> {
    if frame.len() < ETH_LEN {
        return Err(SegmentError::Short);
    }
    let mut l3 = ETH_LEN;
    let mut ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    // 802.1Q and 802.1ad tags between the addresses and the EtherType.
    while matches!(ethertype, 0x8100 | 0x88a8) {
        if frame.len() < l3 + 4 {
            return Err(SegmentError::Network);
        }
        ethertype = u16::from_be_bytes([frame[l3 + 2], frame[l3 + 3]]);
        l3 += 4;
    }
    let family = hdr.gso_type & !GSO_ECN;
    let protocol = if kind == Kind::Tcp { 6 } else { 17 };
    let (v4, l4) = match ethertype {
        0x0800 if family != GSO_TCPV6 => {
            let first = *frame.get(l3).ok_or(SegmentError::Network)?;
            let ihl = usize::from(first & 0x0f) * 4;
            if first >> 4 != 4 || ihl < 20 || frame.len() < l3 + ihl {
                return Err(SegmentError::Network);
            }
            if frame[l3 + 9] != protocol {
                return Err(SegmentError::Transport);
            }
            (true, l3 + ihl)
        }
        0x86dd if family != GSO_TCPV4 => {
            if frame.len() < l3 + 40 || frame[l3] >> 4 != 6 {
                return Err(SegmentError::Network);
            }
            // Behind extension headers the transport header is where the checksum starts.
            let l4 = if hdr.flags & F_NEEDS_CSUM != 0 {
                usize::from(hdr.csum_start)
            } else {
                l3 + 40
            };
            if l4 < l3 + 40 || (l4 == l3 + 40 && frame[l3 + 6] != protocol) {
                return Err(SegmentError::Transport);
            }
            (false, l4)
        }
        _ => return Err(SegmentError::Network),
    };
    if hdr.flags & F_NEEDS_CSUM != 0 && usize::from(hdr.csum_start) != l4 {
        return Err(SegmentError::Transport);
    }
    let l4_len = match kind {
        Kind::Tcp => {
            let doff = frame.get(l4 + 12).map_or(0, |b| usize::from(b >> 4) * 4);
            if doff < 20 {
                return Err(SegmentError::Transport);
            }
            doff
        }
        Kind::Udp => 8,
    };
    if frame.len() < l4 + l4_len {
        return Err(SegmentError::Transport);
    }
    Ok(Layout {
        kind,
        l3,
        v4,
        l4,
        payload: l4 + l4_len,
    })
}

/// Makes the `i`th of `count` segments (headers copied from the first, its payload behind them)
/// a frame of its own: lengths, identifiers, sequence number, flags and checksums.
fn fix_segment(seg: &mut [u8], at: &Layout, i: usize, count: usize, mss: usize) {
    let (l3, l4) = (at.l3, at.l4);
    let addresses = if at.v4 {
        let total = (seg.len() - l3) as u16;
        seg[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
        let id = u16::from_be_bytes([seg[l3 + 4], seg[l3 + 5]]).wrapping_add(i as u16);
        seg[l3 + 4..l3 + 6].copy_from_slice(&id.to_be_bytes());
        seg[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
        let ihl = l4 - l3;
        let c = !checksum::sum(&seg[l3..l3 + ihl], 0);
        seg[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        l3 + 12..l3 + 20
    } else {
        let payload = (seg.len() - l3 - 40) as u16;
        seg[l3 + 4..l3 + 6].copy_from_slice(&payload.to_be_bytes());
        l3 + 8..l3 + 40
    };
    let (protocol, field) = match at.kind {
        Kind::Tcp => {
            let seq = u32::from_be_bytes([seg[l4 + 4], seg[l4 + 5], seg[l4 + 6], seg[l4 + 7]])
                .wrapping_add((i * mss) as u32);
            seg[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
            if i + 1 < count {
                seg[l4 + 13] &= !(TCP_FIN | TCP_PSH);
            }
            if i > 0 {
                seg[l4 + 13] &= !TCP_CWR;
            }
            (6, l4 + 16)
        }
        Kind::Udp => {
            let len = (seg.len() - l4) as u16;
            seg[l4 + 4..l4 + 6].copy_from_slice(&len.to_be_bytes());
            (17, l4 + 6)
        }
    };
    seg[field..field + 2].copy_from_slice(&[0, 0]);
    let pseudo = checksum::pseudo_header(&seg[addresses], protocol, (seg.len() - l4) as u32);
    let c = mangled(!checksum::sum(&seg[l4..], pseudo));
    seg[field..field + 2].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests;
