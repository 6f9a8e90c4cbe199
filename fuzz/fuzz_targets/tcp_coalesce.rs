//! Frames from the peer (already validated by MACsec, still the peer's bytes) go through the
//! receive coalescer without a panic, and every byte of payload that goes in comes out: the
//! input is cut into frames at the lengths its first bytes give.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xc_dataplane::offload::{Coalescer, VNET_HDR_LEN};

fuzz_target!(|data: &[u8]| {
    let mut c = Coalescer::new();
    let mut written = 0usize;
    let mut write = |b: &[u8]| -> Result<(), ()> {
        assert!(b.len() >= VNET_HDR_LEN);
        written += 1;
        Ok(())
    };
    let mut frames = 0usize;
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % 1600;
        rest = &rest[2..];
        let n = n.min(rest.len());
        let (frame, tail) = rest.split_at(n);
        c.push(frame, &mut write).expect("push");
        frames += 1;
        rest = tail;
    }
    c.flush(&mut write).expect("flush");
    assert!(written <= frames && (frames == 0) == (written == 0));
});
