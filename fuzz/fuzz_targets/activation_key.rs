//! Activation keys: arbitrary strings, and arbitrary payload bytes behind a valid signature (so
//! the payload parser is reached too).
#![no_main]
use libfuzzer_sys::fuzz_target;
use xc_control::{Secrets, tokens};

fuzz_target!(|data: &[u8]| {
    let secrets = Secrets::from_master(&[7; 32]);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = tokens::decode_activation_key(&secrets, s);
    }
    let signed = tokens::encode_raw_activation_key(&secrets, data);
    let _ = tokens::decode_activation_key(&secrets, &signed);
});
