//! TAP reads (a virtio-net header and a frame, as the kernel hands them over with transmit
//! offloads on) through the segmenter without a panic: what it emits never exceeds a segment's
//! headers and payload, and adds up to what the shaper counted for the read.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xc_dataplane::offload::VNET_HDR_LEN;
use xc_dataplane::segment::{Segmenter, wire_len};

fuzz_target!(|data: &[u8]| {
    let mut read = data.to_vec();
    let counted = wire_len(&read);
    let mut emitted = 0usize;
    let mut frames = 0usize;
    let result = Segmenter::new().segment(&mut read, &mut |f| {
        assert!(f.len() <= data.len().saturating_sub(VNET_HDR_LEN));
        emitted += f.len();
        frames += 1;
    });
    match result {
        Ok(n) => {
            assert_eq!(n, frames);
            assert_eq!(emitted, counted);
        }
        Err(_) => assert_eq!(frames, 0),
    }
});
