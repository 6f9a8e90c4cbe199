//! ICMP and ICMPv6 for the connectivity test, sans-IO: echo requests to send, and what came back
//! (an echo reply, or an error that quotes one of our echo requests: Time Exceeded for each hop
//! of a trace, Destination Unreachable). Decoding never panics and answers `None` for anything
//! that is not about our echoes.
//!
//! As the raw sockets deliver them: IPv4 packets with their IP header, ICMPv6 messages without
//! (the kernel fills in the ICMPv6 checksum, RFC 3542 3.1).

use std::net::IpAddr;

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const UNREACHABLE_V4: u8 = 3;
const TIME_EXCEEDED_V4: u8 = 11;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
const UNREACHABLE_V6: u8 = 1;
const TIME_EXCEEDED_V6: u8 = 3;
const IPV6_HEADER: usize = 40;

/// What arrived about one of our echo requests (`id`, `seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    EchoReply {
        id: u16,
        seq: u16,
    },
    /// A router on the way dropped it (its TTL or hop limit ran out).
    TimeExceeded {
        id: u16,
        seq: u16,
    },
    /// It cannot be delivered (`code` as the router said).
    Unreachable {
        id: u16,
        seq: u16,
        code: u8,
    },
}

impl Answer {
    pub fn id(&self) -> u16 {
        match self {
            Self::EchoReply { id, .. }
            | Self::TimeExceeded { id, .. }
            | Self::Unreachable { id, .. } => *id,
        }
    }
    pub fn seq(&self) -> u16 {
        match self {
            Self::EchoReply { seq, .. }
            | Self::TimeExceeded { seq, .. }
            | Self::Unreachable { seq, .. } => *seq,
        }
    }
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request of the family of `to`, ready for a raw socket.
pub fn echo_request(to: IpAddr, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let kind = if to.is_ipv4() {
        ECHO_REQUEST_V4
    } else {
        ECHO_REQUEST_V6
    };
    let mut m = vec![kind, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(payload);
    if to.is_ipv4() {
        let c = checksum(&m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
    }
    m
}

/// The id and sequence of an echo request at the start of `b`.
fn quoted_echo(b: &[u8], request: u8) -> Option<(u16, u16)> {
    let h = b.get(..8)?;
    (h[0] == request).then(|| {
        (
            u16::from_be_bytes([h[4], h[5]]),
            u16::from_be_bytes([h[6], h[7]]),
        )
    })
}

/// An IPv4 packet's payload, if it is ICMP.
fn ipv4_icmp(p: &[u8]) -> Option<&[u8]> {
    let first = *p.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 || *p.get(9)? != 1 {
        return None;
    }
    p.get(ihl..)
}

/// What an IPv4 packet (with its header, as a raw ICMP socket gives it) says about our echoes.
pub fn parse_v4(packet: &[u8]) -> Option<Answer> {
    let icmp = ipv4_icmp(packet)?;
    let (kind, code) = (*icmp.first()?, *icmp.get(1)?);
    match kind {
        ECHO_REPLY_V4 => {
            let (id, seq) = quoted_echo(icmp, ECHO_REPLY_V4)?;
            Some(Answer::EchoReply { id, seq })
        }
        TIME_EXCEEDED_V4 | UNREACHABLE_V4 => {
            // The offending packet: its IP header and the first 8 bytes of our echo request.
            let inner = ipv4_icmp(icmp.get(8..)?)?;
            let (id, seq) = quoted_echo(inner, ECHO_REQUEST_V4)?;
            Some(if kind == TIME_EXCEEDED_V4 {
                Answer::TimeExceeded { id, seq }
            } else {
                Answer::Unreachable { id, seq, code }
            })
        }
        _ => None,
    }
}

/// What an ICMPv6 message (as a raw ICMPv6 socket gives it) says about our echoes.
pub fn parse_v6(message: &[u8]) -> Option<Answer> {
    let (kind, code) = (*message.first()?, *message.get(1)?);
    match kind {
        ECHO_REPLY_V6 => {
            let (id, seq) = quoted_echo(message, ECHO_REPLY_V6)?;
            Some(Answer::EchoReply { id, seq })
        }
        TIME_EXCEEDED_V6 | UNREACHABLE_V6 => {
            // The offending packet: its IPv6 header (next header ICMPv6, without extension
            // headers for our echoes) and our echo request.
            let inner = message.get(8..)?;
            if inner.first()? >> 4 != 6 || *inner.get(6)? != 58 {
                return None;
            }
            let (id, seq) = quoted_echo(inner.get(IPV6_HEADER..)?, ECHO_REQUEST_V6)?;
            Some(if kind == TIME_EXCEEDED_V6 {
                Answer::TimeExceeded { id, seq }
            } else {
                Answer::Unreachable { id, seq, code }
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ipv4(src: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
        h.extend_from_slice(&src);
        h.extend_from_slice(&[10, 0, 0, 1]);
        let total = (h.len() + payload.len()) as u16;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }

    #[test]
    fn echo_request_has_a_valid_checksum() {
        let m = echo_request("10.1.0.1".parse().expect("ip"), 0x1234, 7, b"xconnect");
        assert_eq!(&m[..2], &[8, 0]);
        assert_eq!(checksum(&m), 0, "a correct checksum sums to zero");
        let m6 = echo_request("fd00::1".parse().expect("ip"), 0x1234, 7, b"");
        assert_eq!(m6, [128, 0, 0, 0, 0x12, 0x34, 0, 7]);
    }

    #[test]
    fn replies_and_errors_about_our_echoes() {
        let req = echo_request("10.1.0.1".parse().expect("ip"), 0xbeef, 3, b"abc");
        let mut reply = req.clone();
        reply[0] = ECHO_REPLY_V4;
        assert_eq!(
            parse_v4(&ipv4([10, 1, 0, 1], &reply)),
            Some(Answer::EchoReply { id: 0xbeef, seq: 3 })
        );
        // A router's Time Exceeded quotes our packet: its IP header and 8 bytes of ICMP.
        let quoted = ipv4([10, 0, 0, 1], &req[..8]);
        let mut te = vec![TIME_EXCEEDED_V4, 0, 0, 0, 0, 0, 0, 0];
        te.extend_from_slice(&quoted);
        assert_eq!(
            parse_v4(&ipv4([169, 254, 0, 3], &te)),
            Some(Answer::TimeExceeded { id: 0xbeef, seq: 3 })
        );
        te[0] = UNREACHABLE_V4;
        te[1] = 1;
        assert_eq!(
            parse_v4(&ipv4([169, 254, 0, 3], &te)),
            Some(Answer::Unreachable {
                id: 0xbeef,
                seq: 3,
                code: 1
            })
        );
        // Someone else's echo request is not an answer.
        assert_eq!(parse_v4(&ipv4([10, 1, 0, 1], &req)), None);
        // ICMPv6: Time Exceeded quoting the IPv6 header and our echo request.
        let req6 = echo_request("fd00::1".parse().expect("ip"), 9, 4, b"");
        let mut inner = vec![0x60, 0, 0, 0, 0, 8, 58, 1];
        inner.extend_from_slice(&[0; 32]);
        inner.extend_from_slice(&req6);
        let mut te6 = vec![TIME_EXCEEDED_V6, 0, 0, 0, 0, 0, 0, 0];
        te6.extend_from_slice(&inner);
        assert_eq!(parse_v6(&te6), Some(Answer::TimeExceeded { id: 9, seq: 4 }));
        let mut reply6 = req6.clone();
        reply6[0] = ECHO_REPLY_V6;
        assert_eq!(parse_v6(&reply6), Some(Answer::EchoReply { id: 9, seq: 4 }));
    }

    proptest! {
        #[test]
        fn decoding_never_panics(b in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_v4(&b);
            let _ = parse_v6(&b);
        }
    }
}
