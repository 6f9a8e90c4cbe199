//! BGP messages: framing and every message type's decoder; what decodes re-encodes and decodes
//! to the same message.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = xc_bgp::Message::peek_len(data);
    if let Ok(m) = xc_bgp::Message::decode(data) {
        assert_eq!(xc_bgp::Message::decode(&m.encode()), Ok(m));
    }
});
