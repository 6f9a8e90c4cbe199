//! BFD control packets: decoding, and a session processing them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::time::Instant;

fuzz_target!(|data: &[u8]| {
    let _ = xc_bfd::Packet::decode(data);
    let now = Instant::now();
    let mut s = xc_bfd::Session::new(xc_bfd::Config::default(), [0; 32], now);
    let _ = s.handle_packet(now, data);
    s.handle_timeout(now);
    while s.poll_transmit().is_some() {}
});
