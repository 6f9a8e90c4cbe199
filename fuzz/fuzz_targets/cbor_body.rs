//! smithy-rpc-v2-cbor request bodies: CBOR decode, then the typed decode of the input members.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = xc_api::cbor::decode(data) {
        let _ = xc_api::aws::decode_input(v);
    }
});
