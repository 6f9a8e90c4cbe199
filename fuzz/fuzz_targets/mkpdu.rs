//! MKPDU decoding and ICV checking, and a participant processing the frame.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::time::Instant;
use xc_macsec::mka::{MkaConfig, Participant, mkpdu};
use xc_macsec::{CipherSuite, Sci};
use zeroize::Zeroizing;

fuzz_target!(|data: &[u8]| {
    let _ = mkpdu::Mkpdu::decode(data);
    let _ = mkpdu::verify_icv(data, &[0u8; 16]);
    let cfg = MkaConfig::new(Zeroizing::new(vec![0; 16]), b"ckn".to_vec(), Sci([2, 0, 0, 0, 0, 1, 0, 1]), CipherSuite::GcmAes128);
    if let Ok(mut p) = Participant::new(cfg, [0; 32], Instant::now()) {
        let _ = p.handle_mkpdu(Instant::now(), data);
    }
});
