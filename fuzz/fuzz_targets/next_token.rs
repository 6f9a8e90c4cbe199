//! Pagination tokens.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xc_control::{Secrets, tokens};

fuzz_target!(|data: &[u8]| {
    let secrets = Secrets::from_master(&[7; 32]);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = tokens::decode_page_token(&secrets, s);
    }
});
