//! The messages an attach point's gateways share new flows with (UDP from the underlay): any
//! bytes as received, and any bytes signed with the key (so that the fields behind the tag are
//! read too); what reads must write back the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xc_filter::sync::{decode, encode, sign};

const KEY: [u8; 32] = [7; 32];

fuzz_target!(|data: &[u8]| {
    let _ = decode(&KEY, data, 0);
    // The sending time is at bytes 6..14: the receiver's clock agrees with it.
    let now = data
        .get(6..14)
        .and_then(|b| b.try_into().ok())
        .map_or(0, i64::from_be_bytes);
    if let Ok(flows) = decode(&KEY, &sign(&KEY, data.to_vec()), now) {
        for m in encode(&KEY, &flows, now) {
            assert_eq!(decode(&KEY, &m, now).ok().as_deref(), Some(&flows[..]));
        }
    }
});
