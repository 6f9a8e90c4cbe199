//! awsJson1_0 request bodies: JSON parse, then the typed decode of the input members.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = xc_api::aws::decode_input(v);
    }
    // The native API's bodies go through serde with deny_unknown_fields.
    let _ = serde_json::from_slice::<xc_types::api::CreateConnectionRequest>(data);
});
