//! What the filters read of a packet: addresses, protocol, ports or ICMP type and code, TCP
//! flags, whether it is a fragment, and for an ICMP error the flow of the packet it quotes.
//!
//! Input is outside input (a frame from the attach point's network or from the peer), so every
//! length is checked and every malformed packet is an error, never a panic. Non-IP frames (ARP,
//! LLDP) are not the filters' business and are reported as such.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERNET_HEADER: usize = 14;
/// The most IPv6 extension headers walked before a packet is refused as malformed.
const MAX_EXTENSION_HEADERS: usize = 8;

/// Why a packet could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the frame is shorter than its headers")]
    Truncated,
    #[error("the IP version does not match the EtherType")]
    BadVersion,
    #[error("an IP header length is invalid")]
    BadHeaderLength,
    #[error("too many IPv6 extension headers")]
    TooManyExtensions,
}

/// Which piece of a fragmented datagram a packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fragment {
    /// Not fragmented.
    Whole,
    /// The first fragment (offset 0): it carries the transport header.
    First { id: u32 },
    /// A later fragment: no transport header; it follows the first fragment's verdict.
    Later { id: u32 },
}

/// The transport part of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP or UDP ports, and TCP's flags (0 for UDP).
    Ports { src: u16, dst: u16, tcp_flags: u8 },
    /// An ICMP or ICMPv6 message; `echo_id` for echo requests and replies.
    Icmp {
        icmp_type: u8,
        code: u8,
        echo: Option<Echo>,
    },
    /// Another protocol, or a later fragment: nothing known beyond the IP header.
    Opaque,
}

impl Transport {
    /// The ports that tell a flow apart: TCP and UDP ports; an ICMP echo's identifier on both
    /// sides (so a reply matches its request); 0 for everything else.
    pub fn flow_ports(&self) -> (u16, u16) {
        match *self {
            Transport::Ports { src, dst, .. } => (src, dst),
            Transport::Icmp {
                echo: Some(Echo { id, .. }),
                ..
            } => (id, id),
            _ => (0, 0),
        }
    }
}

/// An ICMP echo request or reply, and its identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Echo {
    pub id: u16,
    pub request: bool,
}

/// TCP flags the connection table follows.
pub mod tcp {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// The header fields of one IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Headers {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The transport protocol (after IPv6 extension headers).
    pub protocol: u8,
    pub transport: Transport,
    pub fragment: Fragment,
    /// For an ICMP error: the packet it quotes, as that packet was sent (source, destination,
    /// protocol, ports), so the error can follow the verdict of the flow it belongs to.
    pub quoted: Option<Quoted>,
    /// The IP packet's length, header included.
    pub len: usize,
}

/// The quoted packet of an ICMP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quoted {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
}

/// What an Ethernet frame is, to the filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    Ip(Headers),
    /// Not IPv4 or IPv6 (ARP, LLDP, an MKPDU): the filters let it be.
    NotIp,
}

fn be16(b: &[u8], at: usize) -> Result<u16, ParseError> {
    b.get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or(ParseError::Truncated)
}

fn byte(b: &[u8], at: usize) -> Result<u8, ParseError> {
    b.get(at).copied().ok_or(ParseError::Truncated)
}

/// Reads an Ethernet frame (with at most one 802.1Q tag).
pub fn parse_frame(frame: &[u8]) -> Result<Frame, ParseError> {
    let mut ethertype = be16(frame, 12)?;
    let mut at = ETHERNET_HEADER;
    if ethertype == ETHERTYPE_VLAN {
        ethertype = be16(frame, 16)?;
        at += 4;
    }
    let payload = frame.get(at..).ok_or(ParseError::Truncated)?;
    match ethertype {
        ETHERTYPE_IPV4 => parse_ipv4(payload).map(Frame::Ip),
        ETHERTYPE_IPV6 => parse_ipv6(payload).map(Frame::Ip),
        _ => Ok(Frame::NotIp),
    }
}

/// Reads an IP packet of either version.
pub fn parse_ip(packet: &[u8]) -> Result<Headers, ParseError> {
    match byte(packet, 0)? >> 4 {
        4 => parse_ipv4(packet),
        6 => parse_ipv6(packet),
        _ => Err(ParseError::BadVersion),
    }
}

fn parse_ipv4(p: &[u8]) -> Result<Headers, ParseError> {
    let (mut h, rest) = ipv4_header(p)?;
    read_transport(&mut h, rest, false)?;
    Ok(h)
}

/// The IPv4 header's fields, and the bytes after it (within the total length when the packet
/// holds it all; a quoted packet in an ICMP error is cut short, and that is fine).
fn ipv4_header(p: &[u8]) -> Result<(Headers, &[u8]), ParseError> {
    let first = byte(p, 0)?;
    if first >> 4 != 4 {
        return Err(ParseError::BadVersion);
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 {
        return Err(ParseError::BadHeaderLength);
    }
    let header = p.get(..ihl).ok_or(ParseError::Truncated)?;
    let total = usize::from(be16(header, 2)?);
    if total < ihl {
        return Err(ParseError::BadHeaderLength);
    }
    let id = u32::from(be16(header, 4)?);
    let flags_offset = be16(header, 6)?;
    let more = flags_offset & 0x2000 != 0;
    let offset = flags_offset & 0x1fff;
    let fragment = match (offset, more) {
        (0, false) => Fragment::Whole,
        (0, true) => Fragment::First { id },
        _ => Fragment::Later { id },
    };
    let src = Ipv4Addr::from([header[12], header[13], header[14], header[15]]);
    let dst = Ipv4Addr::from([header[16], header[17], header[18], header[19]]);
    let end = total.min(p.len());
    let rest = p.get(ihl..end).unwrap_or_default();
    Ok((
        Headers {
            src: IpAddr::V4(src),
            dst: IpAddr::V4(dst),
            protocol: header[9],
            transport: Transport::Opaque,
            fragment,
            quoted: None,
            len: total,
        },
        rest,
    ))
}

fn parse_ipv6(p: &[u8]) -> Result<Headers, ParseError> {
    let (mut h, rest) = ipv6_header(p)?;
    read_transport(&mut h, rest, false)?;
    Ok(h)
}

fn ipv6_addr(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

/// The IPv6 header's fields after walking its extension headers, and the transport bytes.
fn ipv6_header(p: &[u8]) -> Result<(Headers, &[u8]), ParseError> {
    let header = p.get(..40).ok_or(ParseError::Truncated)?;
    if header[0] >> 4 != 6 {
        return Err(ParseError::BadVersion);
    }
    let payload_len = usize::from(be16(header, 4)?);
    let end = (40 + payload_len).min(p.len());
    let mut next = header[6];
    let mut rest = p.get(40..end).unwrap_or_default();
    let mut fragment = Fragment::Whole;
    for _ in 0..=MAX_EXTENSION_HEADERS {
        match next {
            // Hop-by-hop, routing, destination options: length in 8-octet units after the first 8.
            0 | 43 | 60 => {
                let len = (usize::from(byte(rest, 1)?) + 1) * 8;
                next = byte(rest, 0)?;
                rest = rest.get(len..).ok_or(ParseError::Truncated)?;
            }
            // Fragment header: 8 octets.
            44 => {
                let offset_flags = be16(rest, 2)?;
                let id_bytes = rest.get(4..8).ok_or(ParseError::Truncated)?;
                let id = u32::from_be_bytes([id_bytes[0], id_bytes[1], id_bytes[2], id_bytes[3]]);
                let offset = offset_flags >> 3;
                let more = offset_flags & 1 != 0;
                fragment = match (offset, more) {
                    (0, false) => Fragment::Whole,
                    (0, true) => Fragment::First { id },
                    _ => Fragment::Later { id },
                };
                next = byte(rest, 0)?;
                rest = rest.get(8..).ok_or(ParseError::Truncated)?;
            }
            // Authentication header: length in 4-octet units, plus 2.
            51 => {
                let len = (usize::from(byte(rest, 1)?) + 2) * 4;
                next = byte(rest, 0)?;
                rest = rest.get(len..).ok_or(ParseError::Truncated)?;
            }
            _ => {
                return Ok((
                    Headers {
                        src: IpAddr::V6(ipv6_addr(&header[8..24])),
                        dst: IpAddr::V6(ipv6_addr(&header[24..40])),
                        protocol: next,
                        transport: Transport::Opaque,
                        fragment,
                        quoted: None,
                        len: 40 + payload_len,
                    },
                    rest,
                ));
            }
        }
    }
    Err(ParseError::TooManyExtensions)
}

/// Whether an ICMP message is an error that quotes a packet.
fn is_icmp_error(protocol: u8, icmp_type: u8) -> bool {
    match protocol {
        1 => matches!(icmp_type, 3 | 4 | 5 | 11 | 12),
        58 => matches!(icmp_type, 1..=4),
        _ => false,
    }
}

fn echo(protocol: u8, icmp_type: u8, b: &[u8]) -> Result<Option<Echo>, ParseError> {
    let request = match (protocol, icmp_type) {
        (1, 8) | (58, 128) => true,
        (1, 0) | (58, 129) => false,
        _ => return Ok(None),
    };
    Ok(Some(Echo {
        id: be16(b, 4)?,
        request,
    }))
}

/// Reads the transport header into `h`. A quoted packet (`quoted` true) needs only its first
/// 8 octets, the ports, and never quotes another.
fn read_transport(h: &mut Headers, b: &[u8], quoted: bool) -> Result<(), ParseError> {
    if matches!(h.fragment, Fragment::Later { .. }) {
        return Ok(());
    }
    match h.protocol {
        6 | 17 => {
            let tcp_flags = if h.protocol == 6 && !quoted {
                byte(b, 13)?
            } else {
                0
            };
            h.transport = Transport::Ports {
                src: be16(b, 0)?,
                dst: be16(b, 2)?,
                tcp_flags,
            };
        }
        1 | 58 => {
            let icmp_type = byte(b, 0)?;
            let code = byte(b, 1)?;
            h.transport = Transport::Icmp {
                icmp_type,
                code,
                echo: echo(h.protocol, icmp_type, b)?,
            };
            if !quoted && is_icmp_error(h.protocol, icmp_type) {
                h.quoted = read_quoted(b.get(8..).ok_or(ParseError::Truncated)?);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The flow of the packet an ICMP error quotes; `None` when too little of it is quoted.
fn read_quoted(b: &[u8]) -> Option<Quoted> {
    let (mut h, rest) = match byte(b, 0).ok()? >> 4 {
        4 => ipv4_header(b).ok()?,
        6 => ipv6_header(b).ok()?,
        _ => return None,
    };
    read_transport(&mut h, rest, true).ok()?;
    let (src_port, dst_port) = h.transport.flow_ports();
    Some(Quoted {
        src: h.src,
        dst: h.dst,
        protocol: h.protocol,
        src_port,
        dst_port,
    })
}

#[cfg(test)]
pub(crate) mod build {
    //! Packets for tests: an Ethernet frame around an IPv4 or IPv6 packet.
    use std::net::IpAddr;

    pub fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// An IP packet from `src` to `dst` carrying `transport` (a transport header and payload).
    pub fn ip(src: IpAddr, dst: IpAddr, protocol: u8, transport: &[u8]) -> Vec<u8> {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = 20 + transport.len();
                let mut p = vec![0x45, 0];
                p.extend_from_slice(&(total as u16).to_be_bytes());
                p.extend_from_slice(&[0, 1, 0, 0, 64, protocol, 0, 0]);
                p.extend_from_slice(&s.octets());
                p.extend_from_slice(&d.octets());
                p.extend_from_slice(transport);
                p
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let mut p = vec![0x60, 0, 0, 0];
                p.extend_from_slice(&(transport.len() as u16).to_be_bytes());
                p.extend_from_slice(&[protocol, 64]);
                p.extend_from_slice(&s.octets());
                p.extend_from_slice(&d.octets());
                p.extend_from_slice(transport);
                p
            }
            _ => panic!("mixed families"),
        }
    }

    pub fn frame(packet: &[u8]) -> Vec<u8> {
        let ethertype = if packet[0] >> 4 == 4 { 0x0800 } else { 0x86dd };
        ether(ethertype, packet)
    }

    /// A TCP header (20 octets) with `flags`.
    pub fn tcp(src: u16, dst: u16, flags: u8) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&src.to_be_bytes());
        t.extend_from_slice(&dst.to_be_bytes());
        t.extend_from_slice(&[0; 8]);
        t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        t
    }

    pub fn udp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&src.to_be_bytes());
        t.extend_from_slice(&dst.to_be_bytes());
        t.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        t.extend_from_slice(&[0, 0]);
        t.extend_from_slice(payload);
        t
    }

    pub fn icmp(icmp_type: u8, code: u8, rest: &[u8]) -> Vec<u8> {
        let mut t = vec![icmp_type, code, 0, 0];
        t.extend_from_slice(rest);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    fn addr(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn tcp_over_ipv4() {
        let p = ip(
            addr("10.0.0.1"),
            addr("10.1.0.2"),
            6,
            &tcp(40000, 22, tcp::SYN),
        );
        let Frame::Ip(h) = parse_frame(&frame(&p)).expect("parses") else {
            panic!("not ip");
        };
        assert_eq!(
            (h.src, h.dst, h.protocol),
            (addr("10.0.0.1"), addr("10.1.0.2"), 6)
        );
        assert_eq!(
            h.transport,
            Transport::Ports {
                src: 40000,
                dst: 22,
                tcp_flags: tcp::SYN
            }
        );
        assert_eq!(h.fragment, Fragment::Whole);
        assert_eq!(h.len, 40);
    }

    #[test]
    fn udp_over_ipv6_behind_a_hop_by_hop_header_and_a_fragment_header() {
        let mut t = vec![44, 0, 0, 0, 0, 0, 0, 0]; // hop-by-hop, next: fragment
        t.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 7]); // fragment: offset 0, more, id 7
        t.extend_from_slice(&udp(5353, 53, b"q"));
        let p = ip(addr("2001:db8::1"), addr("2001:db8::2"), 0, &t);
        let h = parse_ip(&p).expect("parses");
        assert_eq!(h.protocol, 17);
        assert_eq!(h.fragment, Fragment::First { id: 7 });
        assert_eq!(
            h.transport,
            Transport::Ports {
                src: 5353,
                dst: 53,
                tcp_flags: 0
            }
        );
    }

    #[test]
    fn a_later_fragment_has_no_transport() {
        let mut p = ip(addr("10.0.0.1"), addr("10.0.0.2"), 6, &[0xde, 0xad]);
        p[6] = 0x00;
        p[7] = 0x10; // offset 16 octets, no more fragments
        let h = parse_ip(&p).expect("parses");
        assert_eq!(h.fragment, Fragment::Later { id: 1 });
        assert_eq!(h.transport, Transport::Opaque);
    }

    #[test]
    fn an_icmp_error_quotes_its_flow() {
        let quoted = ip(addr("10.1.0.2"), addr("10.0.0.1"), 17, &udp(33434, 53, b""));
        let mut body = vec![0, 0, 0, 0];
        body.extend_from_slice(&quoted[..28]);
        let p = ip(addr("10.0.0.254"), addr("10.1.0.2"), 1, &icmp(3, 4, &body));
        let h = parse_ip(&p).expect("parses");
        assert_eq!(
            h.quoted,
            Some(Quoted {
                src: addr("10.1.0.2"),
                dst: addr("10.0.0.1"),
                protocol: 17,
                src_port: 33434,
                dst_port: 53
            })
        );
    }

    #[test]
    fn echo_requests_carry_their_id_and_arp_is_not_ip() {
        let p = ip(
            addr("10.0.0.1"),
            addr("10.0.0.2"),
            1,
            &icmp(8, 0, &[0, 9, 0, 1]),
        );
        let h = parse_ip(&p).expect("parses");
        assert_eq!(
            h.transport,
            Transport::Icmp {
                icmp_type: 8,
                code: 0,
                echo: Some(Echo {
                    id: 9,
                    request: true
                })
            }
        );
        assert_eq!(parse_frame(&ether(0x0806, &[0; 28])), Ok(Frame::NotIp));
    }

    #[test]
    fn short_and_lying_packets_are_errors() {
        let p = ip(addr("10.0.0.1"), addr("10.0.0.2"), 6, &tcp(1, 2, 0));
        for cut in 0..p.len() {
            if cut < 20 {
                assert!(parse_ip(&p[..cut]).is_err(), "cut at {cut}");
            }
        }
        let mut bad_ihl = p.clone();
        bad_ihl[0] = 0x44;
        assert_eq!(parse_ip(&bad_ihl), Err(ParseError::BadHeaderLength));
        let mut endless = ip(addr("2001:db8::1"), addr("2001:db8::2"), 60, &[]);
        for _ in 0..20 {
            endless.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
        }
        let len = (endless.len() - 40) as u16;
        endless[4..6].copy_from_slice(&len.to_be_bytes());
        assert_eq!(parse_ip(&endless), Err(ParseError::TooManyExtensions));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_frame(&bytes);
            let _ = parse_ip(&bytes);
        }
    }
}
