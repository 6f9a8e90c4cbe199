//! STAMP test packets (RFC 8762, unauthenticated mode), sans-IO: the session-sender's test
//! packet, the session-reflector's answer to it, and what a round trip measures.
//!
//! Each gateway sends one test packet a second over each link, from its link address to the
//! peer's on [`PORT`]; the peer's reflector answers in stateless mode (its sequence number is the
//! sender's). The sender times the round trip on its own monotonic clock and takes away the time
//! the reflector held the packet (its transmit minus its receive timestamp, both on the
//! reflector's clock), so the two clocks need not agree.
//!
//! Decoding never panics: anything shorter than a test packet, or with a zero error-estimate
//! multiplier (RFC 8762 4.2.1 forbids it), is an error.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The STAMP session-reflector's port (RFC 8762 4.1).
pub const PORT: u16 = 862;
/// A test packet, sent or reflected, in unauthenticated mode.
pub const PACKET_LEN: usize = 44;
/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// Error estimate: not synchronised (S = 0), NTP format (Z = 0), scale 0, multiplier 1.
const ERROR_ESTIMATE: u16 = 0x0001;

/// A 64-bit NTP timestamp: seconds since 1900 in the high half, the fraction in the low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn from_system(t: SystemTime) -> Self {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs().wrapping_add(NTP_UNIX_OFFSET) & 0xffff_ffff;
        let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        Self((secs << 32) | frac)
    }

    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
    }

    /// The time from `earlier` to this one (zero if it is not later; the 32-bit seconds wrap
    /// in 2036 is taken care of by the wrapping difference).
    pub fn since(self, earlier: Timestamp) -> Duration {
        let diff = self.0.wrapping_sub(earlier.0);
        if diff >= 1 << 63 {
            return Duration::ZERO;
        }
        let secs = diff >> 32;
        let nanos = ((diff & 0xffff_ffff) * 1_000_000_000) >> 32;
        Duration::new(secs, nanos as u32)
    }
}

/// Why bytes are not a STAMP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StampError {
    /// Shorter than a test packet.
    Short(usize),
    /// The error estimate's multiplier is zero.
    ZeroMultiplier,
}

impl std::fmt::Display for StampError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Short(n) => write!(f, "{n} bytes, shorter than a STAMP packet ({PACKET_LEN})"),
            Self::ZeroMultiplier => write!(f, "the error estimate's multiplier is zero"),
        }
    }
}

impl std::error::Error for StampError {}

/// A session-sender's test packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestPacket {
    pub seq: u32,
    pub timestamp: Timestamp,
}

/// A session-reflector's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reflected {
    /// The reflector's sequence number (the sender's, in stateless mode).
    pub seq: u32,
    /// When the reflector sent the answer, on its clock.
    pub transmitted: Timestamp,
    /// When the reflector received the test packet, on its clock.
    pub received: Timestamp,
    pub sender_seq: u32,
    pub sender_timestamp: Timestamp,
}

impl Reflected {
    /// How long the reflector held the packet.
    pub fn reflector_delay(&self) -> Duration {
        self.transmitted.since(self.received)
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

fn check(b: &[u8]) -> Result<(), StampError> {
    if b.len() < PACKET_LEN {
        return Err(StampError::Short(b.len()));
    }
    if b[13] == 0 {
        return Err(StampError::ZeroMultiplier);
    }
    Ok(())
}

/// The session-sender's test packet (RFC 8762 4.2.1): sequence number, timestamp, error
/// estimate, and zeros.
pub fn encode_test(p: &TestPacket) -> [u8; PACKET_LEN] {
    let mut b = [0u8; PACKET_LEN];
    b[0..4].copy_from_slice(&p.seq.to_be_bytes());
    b[4..12].copy_from_slice(&p.timestamp.0.to_be_bytes());
    b[12..14].copy_from_slice(&ERROR_ESTIMATE.to_be_bytes());
    b
}

pub fn parse_test(b: &[u8]) -> Result<TestPacket, StampError> {
    check(b)?;
    Ok(TestPacket {
        seq: u32_at(b, 0),
        timestamp: Timestamp(u64_at(b, 4)),
    })
}

/// The session-reflector's answer to `test` (RFC 8762 4.3.1), stateless: its sequence number
/// is the sender's. The sender's TTL is not read from the socket and left zero.
pub fn reflect(
    b: &[u8],
    received: Timestamp,
    transmitted: Timestamp,
) -> Result<[u8; PACKET_LEN], StampError> {
    check(b)?;
    let mut r = [0u8; PACKET_LEN];
    r[0..4].copy_from_slice(&b[0..4]);
    r[4..12].copy_from_slice(&transmitted.0.to_be_bytes());
    r[12..14].copy_from_slice(&ERROR_ESTIMATE.to_be_bytes());
    r[16..24].copy_from_slice(&received.0.to_be_bytes());
    // The sender's sequence number, timestamp and error estimate.
    r[24..28].copy_from_slice(&b[0..4]);
    r[28..36].copy_from_slice(&b[4..12]);
    r[36..38].copy_from_slice(&b[12..14]);
    Ok(r)
}

pub fn parse_reflected(b: &[u8]) -> Result<Reflected, StampError> {
    check(b)?;
    Ok(Reflected {
        seq: u32_at(b, 0),
        transmitted: Timestamp(u64_at(b, 4)),
        received: Timestamp(u64_at(b, 16)),
        sender_seq: u32_at(b, 24),
        sender_timestamp: Timestamp(u64_at(b, 28)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_packet_goes_there_and_back() {
        let t1 = Timestamp::from_system(UNIX_EPOCH + Duration::from_millis(1_700_000_000_250));
        let test = encode_test(&TestPacket {
            seq: 7,
            timestamp: t1,
        });
        assert_eq!(
            parse_test(&test),
            Ok(TestPacket {
                seq: 7,
                timestamp: t1
            })
        );
        let t2 = Timestamp::from_system(UNIX_EPOCH + Duration::from_millis(1_700_000_000_300));
        let t3 = Timestamp::from_system(UNIX_EPOCH + Duration::from_micros(1_700_000_000_300_150));
        let answer = reflect(&test, t2, t3).expect("reflected");
        let r = parse_reflected(&answer).expect("parsed");
        assert_eq!((r.seq, r.sender_seq, r.sender_timestamp), (7, 7, t1));
        let held = r.reflector_delay();
        assert!(
            held >= Duration::from_micros(149) && held <= Duration::from_micros(151),
            "{held:?}"
        );
    }

    #[test]
    fn ntp_timestamps() {
        // The Unix epoch is 2,208,988,800 s after the NTP epoch; half a second is 2^31.
        let t = Timestamp::from_system(UNIX_EPOCH + Duration::from_millis(500));
        assert_eq!(t.0, (2_208_988_800u64 << 32) | (1 << 31));
        assert_eq!(t.since(Timestamp(t.0 + (1 << 32))), Duration::ZERO);
        assert_eq!(Timestamp(t.0 + (3 << 32)).since(t), Duration::from_secs(3));
    }

    #[test]
    fn short_or_malformed_packets_are_errors() {
        assert_eq!(parse_test(&[0; 43]), Err(StampError::Short(43)));
        assert_eq!(parse_test(&[0; 44]), Err(StampError::ZeroMultiplier));
        assert!(reflect(&[0; 10], Timestamp(0), Timestamp(0)).is_err());
        assert!(parse_reflected(&[]).is_err());
    }
}
