//! The connection table shared between an attach point's gateways: each gateway tells the
//! others of every flow it starts tracking, so that a reply that comes back through another
//! gateway (the other side's network and ECMP choose the way back, not us) finds its flow there.
//!
//! Asynchronous, as conntrackd and pfsync (without `defer`) are: a new flow is sent to the other
//! gateways when it is tracked, before its first packet goes on; the reply has to cross the
//! connection and the other side's network and come back, which takes longer than one datagram
//! between two gateways on one underlay. Should the reply win anyway, it is refused once and its
//! retransmission passes.
//!
//! A message is authenticated (HMAC-SHA256 under a key only the attach point's gateways hold, 16
//! bytes of tag): a forged "outbound flow" would otherwise open the way in for its replies. It
//! carries its sending time, and one older or newer than [`MAX_AGE_MS`] is refused, so a replay is
//! good for that long at most; and the receiver adopts a flow only when its own policy would have
//! admitted the flow's first packet, so a message never lets in what the rules do not.
//!
//! ```text
//!  "XCFS" version:1 count:1  sent_ms:8
//!  count x ( family:1 (4|6) protocol:1 origin:1 (0 in, 1 out)  src:4|16 dst:4|16 sport:2 dport:2 )
//!  tag:16 = HMAC-SHA256(key, everything before)[..16]
//! ```

use crate::conntrack::FlowKey;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use xc_types::filter::Direction;

const MAGIC: &[u8; 4] = b"XCFS";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 4 + 1 + 1 + 8;
const TAG_LEN: usize = 16;
/// Most flows in one message (a datagram under 1,400 bytes with IPv6 addresses).
pub const MAX_FLOWS_PER_MESSAGE: usize = 32;
/// How far a message's sending time may be from the receiver's clock.
pub const MAX_AGE_MS: i64 = 30_000;
/// The UDP port the gateways of an attach point exchange flows on (their underlay addresses).
pub const PORT: u16 = 7802;

/// A flow another gateway tracks: as its first packet went, and which way that crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncedFlow {
    pub key: FlowKey,
    pub origin: Direction,
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("too short")]
    Truncated,
    #[error("not a flow-sync message of a version this gateway knows")]
    NotSync,
    #[error("the tag does not verify (another key, or altered)")]
    BadTag,
    #[error("sent too long ago, or in the future")]
    Stale,
    #[error("a field out of range")]
    Invalid,
}

type HmacSha256 = Hmac<Sha256>;

fn tag(key: &[u8; 32], data: &[u8]) -> [u8; TAG_LEN] {
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(key).expect("an HMAC takes a key of any length");
    mac.update(data);
    let full = mac.finalize().into_bytes();
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&full[..TAG_LEN]);
    t
}

fn put_addr(out: &mut Vec<u8>, a: IpAddr) {
    match a {
        IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
}

/// The messages that carry `flows` (at most [`MAX_FLOWS_PER_MESSAGE`] each), sent at `now_ms`
/// (Unix milliseconds). A flow whose addresses are not of one family is left out.
pub fn encode(key: &[u8; 32], flows: &[SyncedFlow], now_ms: i64) -> Vec<Vec<u8>> {
    flows
        .chunks(MAX_FLOWS_PER_MESSAGE)
        .map(|chunk| {
            let mut out = Vec::with_capacity(HEADER_LEN + chunk.len() * 40 + TAG_LEN);
            out.extend_from_slice(MAGIC);
            out.push(VERSION);
            out.push(0);
            out.extend_from_slice(&now_ms.to_be_bytes());
            let mut n = 0u8;
            for f in chunk {
                let k = &f.key;
                let family = match (k.src, k.dst) {
                    (IpAddr::V4(_), IpAddr::V4(_)) => 4,
                    (IpAddr::V6(_), IpAddr::V6(_)) => 6,
                    _ => continue,
                };
                out.push(family);
                out.push(k.protocol);
                out.push(match f.origin {
                    Direction::Inbound => 0,
                    Direction::Outbound => 1,
                });
                put_addr(&mut out, k.src);
                put_addr(&mut out, k.dst);
                out.extend_from_slice(&k.src_port.to_be_bytes());
                out.extend_from_slice(&k.dst_port.to_be_bytes());
                n += 1;
            }
            out[5] = n;
            sign(key, out)
        })
        .collect()
}

/// `body` with its tag under `key` after it.
pub fn sign(key: &[u8; 32], mut body: Vec<u8>) -> Vec<u8> {
    let t = tag(key, &body);
    body.extend_from_slice(&t);
    body
}

/// A cursor over a message's bytes.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SyncError> {
        if self.b.len() < n {
            return Err(SyncError::Truncated);
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
    fn byte(&mut self) -> Result<u8, SyncError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, SyncError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn addr(&mut self, family: u8) -> Result<IpAddr, SyncError> {
        Ok(match family {
            4 => {
                let mut o = [0u8; 4];
                o.copy_from_slice(self.take(4)?);
                IpAddr::V4(Ipv4Addr::from(o))
            }
            _ => {
                let mut o = [0u8; 16];
                o.copy_from_slice(self.take(16)?);
                IpAddr::V6(Ipv6Addr::from(o))
            }
        })
    }
}

/// Reads a message received at `now_ms` (Unix milliseconds): its flows, if it verifies under
/// `key` and is fresh.
pub fn decode(key: &[u8; 32], msg: &[u8], now_ms: i64) -> Result<Vec<SyncedFlow>, SyncError> {
    if msg.len() < HEADER_LEN + TAG_LEN {
        return Err(SyncError::Truncated);
    }
    if &msg[..4] != MAGIC || msg[4] != VERSION {
        return Err(SyncError::NotSync);
    }
    let (body, given) = msg.split_at(msg.len() - TAG_LEN);
    let expected = tag(key, body);
    if !constant_time_eq(&expected, given) {
        return Err(SyncError::BadTag);
    }
    let mut r = Reader { b: &body[4..] };
    r.take(1)?;
    let count = usize::from(r.byte()?);
    let mut sent = [0u8; 8];
    sent.copy_from_slice(r.take(8)?);
    let sent = i64::from_be_bytes(sent);
    if now_ms.saturating_sub(sent).unsigned_abs() > MAX_AGE_MS.unsigned_abs() {
        return Err(SyncError::Stale);
    }
    if count > MAX_FLOWS_PER_MESSAGE {
        return Err(SyncError::Invalid);
    }
    let mut flows = Vec::with_capacity(count);
    for _ in 0..count {
        let family = r.byte()?;
        if family != 4 && family != 6 {
            return Err(SyncError::Invalid);
        }
        let protocol = r.byte()?;
        let origin = match r.byte()? {
            0 => Direction::Inbound,
            1 => Direction::Outbound,
            _ => return Err(SyncError::Invalid),
        };
        let src = r.addr(family)?;
        let dst = r.addr(family)?;
        let src_port = r.u16()?;
        let dst_port = r.u16()?;
        flows.push(SyncedFlow {
            key: FlowKey {
                protocol,
                src,
                dst,
                src_port,
                dst_port,
            },
            origin,
        });
    }
    if !r.b.is_empty() {
        return Err(SyncError::Invalid);
    }
    Ok(flows)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(src: &str, dst: &str, sport: u16, dport: u16, origin: Direction) -> SyncedFlow {
        SyncedFlow {
            key: FlowKey {
                protocol: 6,
                src: src.parse().expect("addr"),
                dst: dst.parse().expect("addr"),
                src_port: sport,
                dst_port: dport,
            },
            origin,
        }
    }

    #[test]
    fn flows_cross_in_authenticated_fresh_messages() {
        let key = [7u8; 32];
        let flows: Vec<SyncedFlow> = (0..40)
            .map(|i| {
                if i % 2 == 0 {
                    flow("10.0.0.1", "10.1.0.1", 40_000 + i, 22, Direction::Outbound)
                } else {
                    flow("fd00::1", "fd01::1", 40_000 + i, 443, Direction::Inbound)
                }
            })
            .collect();
        let msgs = encode(&key, &flows, 1_000_000);
        assert_eq!(msgs.len(), 2);
        assert!(msgs.iter().all(|m| m.len() < 1_400));
        let mut back = Vec::new();
        for m in &msgs {
            back.extend(decode(&key, m, 1_010_000).expect("decodes"));
        }
        assert_eq!(back, flows);

        let m = &msgs[0];
        assert_eq!(decode(&[8u8; 32], m, 1_000_000), Err(SyncError::BadTag));
        let mut altered = m.clone();
        altered[20] ^= 1;
        assert_eq!(decode(&key, &altered, 1_000_000), Err(SyncError::BadTag));
        assert_eq!(
            decode(&key, m, 1_000_000 + MAX_AGE_MS + 1),
            Err(SyncError::Stale)
        );
        assert_eq!(
            decode(&key, m, 1_000_000 - MAX_AGE_MS - 1),
            Err(SyncError::Stale)
        );
        assert_eq!(decode(&key, &m[..10], 1_000_000), Err(SyncError::Truncated));
        // Clocks at their extremes are stale, not a panic.
        for (sent, now) in [(i64::MAX, i64::MIN), (i64::MIN, i64::MAX), (0, i64::MIN)] {
            let m = encode(&key, &flows[..1], sent).remove(0);
            assert_eq!(decode(&key, &m, now), Err(SyncError::Stale));
        }
        assert_eq!(
            decode(&key, b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n", 0),
            Err(SyncError::NotSync)
        );
    }

    #[test]
    fn a_message_that_verifies_but_lies_about_its_count_is_refused() {
        let key = [7u8; 32];
        let mut body = encode(
            &key,
            &[flow("10.0.0.1", "10.1.0.1", 1, 2, Direction::Outbound)],
            0,
        )
        .remove(0);
        body.truncate(body.len() - TAG_LEN);
        body[5] = 2;
        assert_eq!(
            decode(&key, &sign(&key, body), 0),
            Err(SyncError::Truncated)
        );
    }
}
