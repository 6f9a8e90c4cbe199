//! The Internet checksum (RFC 1071): the one's-complement sum of 16-bit big-endian words.
//!
//! The sum is taken over native-endian words, eight bytes at a time, and turned into the
//! big-endian sum at the end: one's-complement addition is the same in either byte order up to
//! a swap of the result's two bytes (RFC 1071, 2.B).

/// The one's-complement sum of `data` (as big-endian 16-bit words; an odd last byte is the high
/// byte of a word padded with zero), added to the partial sum `init`, folded to 16 bits.
pub fn sum(data: &[u8], init: u16) -> u16 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let v = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        acc += (v & 0xffff_ffff) + (v >> 32);
    }
    let mut tail = words.remainder();
    while tail.len() >= 2 {
        acc += u64::from(u16::from_ne_bytes([tail[0], tail[1]]));
        tail = &tail[2..];
    }
    if let [last] = tail {
        acc += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    let native = fold(acc);
    add(u16::from_be(native), init)
}

/// One's-complement addition of two partial sums.
pub fn add(a: u16, b: u16) -> u16 {
    let s = u32::from(a) + u32::from(b);
    ((s & 0xffff) + (s >> 16)) as u16
}

/// Folds a wide one's-complement accumulator to 16 bits.
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The partial sum of a TCP or UDP pseudo-header: the IP source and destination (4 or 16 bytes
/// each, as they stand in the header), the protocol and the transport length.
pub fn pseudo_header(addresses: &[u8], protocol: u8, length: u32) -> u16 {
    let s = sum(addresses, 0);
    let s = add(s, u16::from(protocol));
    let s = add(s, (length >> 16) as u16);
    add(s, length as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sum as RFC 1071 defines it, word by word.
    fn reference(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for c in data.chunks(2) {
            let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
            s += u32::from(w);
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    #[test]
    fn the_rfc_1071_example() {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        assert_eq!(
            sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0),
            0xddf2
        );
    }

    #[test]
    fn every_length_and_alignment_matches_the_word_by_word_sum() {
        let data: Vec<u8> = (0..1031u32)
            .map(|i| (i * 7919 % 251) as u8 ^ 0xa5)
            .collect();
        for start in 0..9 {
            for len in 0..(data.len() - start) {
                let d = &data[start..start + len];
                assert_eq!(sum(d, 0), reference(d), "start {start} len {len}");
            }
        }
        assert_eq!(sum(&[0xff; 64], 0xffff), 0xffff);
    }

    #[test]
    fn a_pseudo_header_adds_its_parts() {
        let addrs = [10, 0, 0, 1, 10, 0, 0, 2];
        let expect = reference(&[10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 40]);
        assert_eq!(pseudo_header(&addrs, 6, 40), expect);
    }
}
