//! VXLAN (RFC 7348): an 8-octet header before the inner Ethernet frame, UDP port 4789.
//!
//! ```text
//!  flags(8: I=0x08) reserved(24) | VNI(24) reserved(8)
//! ```

pub const HEADER_LEN: usize = 8;
pub const PORT: u16 = 4789;
const FLAG_I: u8 = 0x08;
/// The largest VNI (24 bits).
pub const MAX_VNI: u32 = 0x00ff_ffff;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VxlanError {
    #[error("datagram shorter than a VXLAN header and an Ethernet header")]
    TooShort,
    #[error("the I flag is not set")]
    NoVni,
}

pub fn header(vni: u32) -> [u8; HEADER_LEN] {
    let v = (vni & MAX_VNI).to_be_bytes();
    [FLAG_I, 0, 0, 0, v[1], v[2], v[3], 0]
}

/// Splits a datagram into its VNI and the inner Ethernet frame. Reserved bits are ignored on
/// receipt, as RFC 7348 asks.
pub fn decode(datagram: &[u8]) -> Result<(u32, &[u8]), VxlanError> {
    if datagram.len() < HEADER_LEN + 14 {
        return Err(VxlanError::TooShort);
    }
    if datagram[0] & FLAG_I == 0 {
        return Err(VxlanError::NoVni);
    }
    let vni = u32::from_be_bytes([0, datagram[4], datagram[5], datagram[6]]);
    Ok((vni, &datagram[HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc7348_layout() {
        assert_eq!(header(0x123456), [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
        let mut d = header(101).to_vec();
        d.extend_from_slice(&[0xaa; 14]);
        assert_eq!(decode(&d), Ok((101, &[0xaa; 14][..])));
        d[0] = 0;
        assert_eq!(decode(&d), Err(VxlanError::NoVni));
        assert_eq!(decode(&d[..10]), Err(VxlanError::TooShort));
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&b);
        }

        #[test]
        fn vni_round_trip(vni in 0u32..=MAX_VNI) {
            let mut d = header(vni).to_vec();
            d.extend_from_slice(&[0; 14]);
            prop_assert_eq!(decode(&d).map(|(v, _)| v), Ok(vni));
        }
    }
}
