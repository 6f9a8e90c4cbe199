//! Path-MTU probe frames, as a link's control channel receives them from the underlay.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::time::Instant;
use xc_dataplane::pathmtu::{self, PathMtuCheck};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = pathmtu::parse(data) {
        assert_eq!(p.len, data.len());
    }
    if let Ok(a) = pathmtu::answer(data, [2, 0, 0, 0, 0, 1]) {
        assert_eq!(a.len(), data.len(), "an answer is as long as its request");
    }
    let now = Instant::now();
    let mut c = PathMtuCheck::new(8918, "10.0.0.1".parse().expect("ip"), [2; 6], 7, now);
    c.handle_timeout(now);
    let _ = c.handle_frame(data, now);
    while c.poll_transmit().is_some() {}
    assert!(c.mtu() <= 8918);
});
