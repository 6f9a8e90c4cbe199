//! The BFD Control packet (RFC 5880 4.1), without authentication.
//!
//! ```text
//!  Vers(3) Diag(5) | Sta(2) P F C A D M | Detect Mult | Length
//!  My Discriminator | Your Discriminator
//!  Desired Min TX Interval | Required Min RX Interval | Required Min Echo RX Interval   (µs)
//! ```

pub const LEN: usize = 24;
pub const VERSION: u8 = 1;
/// UDP port of single-hop BFD control packets (RFC 5881).
pub const PORT: u16 = 3784;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    AdminDown = 0,
    Down = 1,
    Init = 2,
    Up = 3,
}

impl State {
    fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => Self::AdminDown,
            1 => Self::Down,
            2 => Self::Init,
            _ => Self::Up,
        }
    }
}

/// Diagnostic codes (RFC 5880 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Diag {
    None = 0,
    ControlDetectionTimeExpired = 1,
    EchoFailed = 2,
    NeighborSignaledDown = 3,
    ForwardingPlaneReset = 4,
    PathDown = 5,
    ConcatenatedPathDown = 6,
    AdministrativelyDown = 7,
    ReverseConcatenatedPathDown = 8,
    Other = 31,
}

impl Diag {
    fn from_bits(b: u8) -> Self {
        match b & 0x1f {
            0 => Self::None,
            1 => Self::ControlDetectionTimeExpired,
            2 => Self::EchoFailed,
            3 => Self::NeighborSignaledDown,
            4 => Self::ForwardingPlaneReset,
            5 => Self::PathDown,
            6 => Self::ConcatenatedPathDown,
            7 => Self::AdministrativelyDown,
            8 => Self::ReverseConcatenatedPathDown,
            _ => Self::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub diag: Diag,
    pub state: State,
    pub poll: bool,
    pub final_: bool,
    pub control_plane_independent: bool,
    pub demand: bool,
    pub detect_mult: u8,
    pub my_disc: u32,
    pub your_disc: u32,
    pub desired_min_tx_us: u32,
    pub required_min_rx_us: u32,
    pub required_min_echo_rx_us: u32,
}

/// Why a received packet is discarded (RFC 5880 6.8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("shorter than a BFD control packet")]
    TooShort,
    #[error("BFD version {0} (expected 1)")]
    Version(u8),
    #[error("length field {0} is invalid for this packet")]
    Length(u8),
    #[error("detect multiplier is zero")]
    ZeroDetectMult,
    #[error("multipoint bit set")]
    Multipoint,
    #[error("my discriminator is zero")]
    ZeroMyDiscriminator,
    #[error("authentication is not supported")]
    Authentication,
}

impl Packet {
    pub fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = (VERSION << 5) | (self.diag as u8 & 0x1f);
        b[1] = ((self.state as u8) << 6)
            | (u8::from(self.poll) << 5)
            | (u8::from(self.final_) << 4)
            | (u8::from(self.control_plane_independent) << 3)
            | (u8::from(self.demand) << 1);
        b[2] = self.detect_mult;
        b[3] = LEN as u8;
        b[4..8].copy_from_slice(&self.my_disc.to_be_bytes());
        b[8..12].copy_from_slice(&self.your_disc.to_be_bytes());
        b[12..16].copy_from_slice(&self.desired_min_tx_us.to_be_bytes());
        b[16..20].copy_from_slice(&self.required_min_rx_us.to_be_bytes());
        b[20..24].copy_from_slice(&self.required_min_echo_rx_us.to_be_bytes());
        b
    }

    /// Decodes and applies the packet-level discard rules of RFC 5880 6.8.6 (the rules that need
    /// session state are the session's).
    pub fn decode(b: &[u8]) -> Result<Packet, DecodeError> {
        if b.len() < LEN {
            return Err(DecodeError::TooShort);
        }
        let version = b[0] >> 5;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let auth = b[1] & 0x04 != 0;
        let len = b[3];
        if usize::from(len) < LEN || usize::from(len) > b.len() {
            return Err(DecodeError::Length(len));
        }
        if auth {
            return Err(DecodeError::Authentication);
        }
        if b[2] == 0 {
            return Err(DecodeError::ZeroDetectMult);
        }
        if b[1] & 0x01 != 0 {
            return Err(DecodeError::Multipoint);
        }
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let p = Packet {
            diag: Diag::from_bits(b[0]),
            state: State::from_bits(b[1] >> 6),
            poll: b[1] & 0x20 != 0,
            final_: b[1] & 0x10 != 0,
            control_plane_independent: b[1] & 0x08 != 0,
            demand: b[1] & 0x02 != 0,
            detect_mult: b[2],
            my_disc: u32_at(4),
            your_disc: u32_at(8),
            desired_min_tx_us: u32_at(12),
            required_min_rx_us: u32_at(16),
            required_min_echo_rx_us: u32_at(20),
        };
        if p.my_disc == 0 {
            return Err(DecodeError::ZeroMyDiscriminator);
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bytes() {
        let p = Packet {
            diag: Diag::None,
            state: State::Up,
            poll: true,
            final_: false,
            control_plane_independent: false,
            demand: false,
            detect_mult: 3,
            my_disc: 1,
            your_disc: 2,
            desired_min_tx_us: 100_000,
            required_min_rx_us: 100_000,
            required_min_echo_rx_us: 0,
        };
        let b = p.encode();
        assert_eq!(b[..4], [0x20, 0xe0, 3, 24]);
        assert_eq!(b[12..16], 100_000u32.to_be_bytes());
        assert_eq!(Packet::decode(&b), Ok(p));
        let mut v = b;
        v[0] = 0x40;
        assert_eq!(Packet::decode(&v), Err(DecodeError::Version(2)));
        let mut z = b;
        z[2] = 0;
        assert_eq!(Packet::decode(&z), Err(DecodeError::ZeroDetectMult));
        let mut a = b;
        a[1] |= 0x04;
        assert_eq!(Packet::decode(&a), Err(DecodeError::Authentication));
        assert_eq!(Packet::decode(&b[..20]), Err(DecodeError::TooShort));
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Packet::decode(&b);
        }

        #[test]
        fn round_trip(state in 0u8..4, diag in 0u8..9, mult in 1u8.., my in 1u32.., your in any::<u32>(), tx in any::<u32>(), rx in any::<u32>()) {
            let p = Packet {
                diag: Diag::from_bits(diag),
                state: State::from_bits(state),
                poll: false,
                final_: true,
                control_plane_independent: false,
                demand: false,
                detect_mult: mult,
                my_disc: my,
                your_disc: your,
                desired_min_tx_us: tx,
                required_min_rx_us: rx,
                required_min_echo_rx_us: 0,
            };
            prop_assert_eq!(Packet::decode(&p.encode()), Ok(p));
        }
    }
}
