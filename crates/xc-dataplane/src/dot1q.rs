//! IEEE 802.1Q VLAN tags: reading, adding and removing the 4-byte tag after the MAC addresses.
//!
//! ```text
//!  untagged: | dst (6) | src (6) | EtherType (2) | payload ...
//!  tagged:   | dst (6) | src (6) | 0x8100 (2) | PCP:3 DEI:1 VID:12 (2) | EtherType (2) | payload ...
//! ```
//! Frames come from a wire that anyone on the access network can write to, so nothing here
//! panics on a short or odd frame: it is an error, and the frame is dropped and counted.

use thiserror::Error;

/// The Tag Protocol Identifier of a customer VLAN tag (C-TAG).
pub const TPID: u16 = 0x8100;
/// Bytes an 802.1Q tag adds to a frame.
pub const TAG_LEN: usize = 4;
const MACS: usize = 12;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum Dot1qError {
    #[error("frame of {0} bytes is shorter than an Ethernet header")]
    Short(usize),
    #[error("VLAN id {0} is outside 1..=4094")]
    BadVid(u16),
}

/// A tag's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    pub vid: u16,
    pub pcp: u8,
}

/// Checks that a VLAN id can be configured: 0 means "priority tag only" and 4095 is reserved.
pub fn valid_vid(vid: u16) -> Result<u16, Dot1qError> {
    if (1..=4094).contains(&vid) {
        Ok(vid)
    } else {
        Err(Dot1qError::BadVid(vid))
    }
}

/// The frame's outer tag, if it has one.
pub fn tag(frame: &[u8]) -> Result<Option<Tag>, Dot1qError> {
    if frame.len() < MACS + 2 {
        return Err(Dot1qError::Short(frame.len()));
    }
    if u16::from_be_bytes([frame[MACS], frame[MACS + 1]]) != TPID {
        return Ok(None);
    }
    if frame.len() < MACS + TAG_LEN + 2 {
        return Err(Dot1qError::Short(frame.len()));
    }
    let tci = u16::from_be_bytes([frame[MACS + 2], frame[MACS + 3]]);
    Ok(Some(Tag {
        vid: tci & 0x0fff,
        pcp: (tci >> 13) as u8,
    }))
}

/// Writes `frame` (untagged) to `out` with a tag for `vid` (priority 0).
pub fn push(frame: &[u8], vid: u16, out: &mut Vec<u8>) -> Result<(), Dot1qError> {
    if frame.len() < MACS + 2 {
        return Err(Dot1qError::Short(frame.len()));
    }
    valid_vid(vid)?;
    out.clear();
    out.reserve(frame.len() + TAG_LEN);
    out.extend_from_slice(&frame[..MACS]);
    out.extend_from_slice(&TPID.to_be_bytes());
    out.extend_from_slice(&vid.to_be_bytes());
    out.extend_from_slice(&frame[MACS..]);
    Ok(())
}

/// Writes `frame` without its outer tag to `out`; returns the tag (`None`: untagged, `out`
/// untouched).
pub fn pop(frame: &[u8], out: &mut Vec<u8>) -> Result<Option<Tag>, Dot1qError> {
    let Some(t) = tag(frame)? else {
        return Ok(None);
    };
    out.clear();
    out.extend_from_slice(&frame[..MACS]);
    out.extend_from_slice(&frame[MACS + TAG_LEN..]);
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arp_frame() -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0x08, 0x06]);
        f.extend_from_slice(&[0u8; 28]);
        f
    }

    #[test]
    fn push_then_pop_gives_the_frame_back() {
        let f = arp_frame();
        let mut tagged = Vec::new();
        push(&f, 101, &mut tagged).expect("push");
        assert_eq!(tagged.len(), f.len() + TAG_LEN);
        assert_eq!(&tagged[12..16], &[0x81, 0x00, 0x00, 101]);
        assert_eq!(tag(&tagged), Ok(Some(Tag { vid: 101, pcp: 0 })));
        let mut back = Vec::new();
        assert_eq!(pop(&tagged, &mut back), Ok(Some(Tag { vid: 101, pcp: 0 })));
        assert_eq!(back, f);
    }

    #[test]
    fn priority_bits_are_not_part_of_the_vid() {
        let mut f = arp_frame();
        f.splice(12..12, [0x81, 0x00, 0xa0 | 0x0f, 0xfe]);
        assert_eq!(tag(&f), Ok(Some(Tag { vid: 0xffe, pcp: 5 })));
    }

    #[test]
    fn untagged_short_and_bad_inputs() {
        assert_eq!(tag(&arp_frame()), Ok(None));
        assert_eq!(tag(&[0; 13]), Err(Dot1qError::Short(13)));
        let mut cut = arp_frame()[..14].to_vec();
        cut[12..14].copy_from_slice(&[0x81, 0x00]);
        assert_eq!(tag(&cut), Err(Dot1qError::Short(14)));
        let mut out = Vec::new();
        assert_eq!(push(&arp_frame(), 0, &mut out), Err(Dot1qError::BadVid(0)));
        assert_eq!(
            push(&arp_frame(), 4095, &mut out),
            Err(Dot1qError::BadVid(4095))
        );
    }

    proptest! {
        #[test]
        fn never_panics(frame in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            let _ = pop(&frame, &mut out);
            let _ = push(&frame, 7, &mut out);
        }

        #[test]
        fn roundtrip(body in proptest::collection::vec(any::<u8>(), 14..200), vid in 1u16..=4094) {
            let mut body = body;
            body[12] = 0x08; // not a tag already
            let mut tagged = Vec::new();
            push(&body, vid, &mut tagged).expect("push");
            let mut back = Vec::new();
            prop_assert_eq!(pop(&tagged, &mut back), Ok(Some(Tag { vid, pcp: 0 })));
            prop_assert_eq!(back, body);
        }
    }
}
