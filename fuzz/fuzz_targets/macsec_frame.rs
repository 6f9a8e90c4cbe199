//! MACsec frame validation: SecTAG decoding, SCI lookup, XPN PN recovery, replay check and ICV
//! verification, on a SecY with receive SAs installed for the fuzzer's favourite SCI.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xc_macsec::{CipherSuite, RxSaConfig, Sci, SecY, SecYConfig};
use zeroize::Zeroizing;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else { return };
    let cipher = CipherSuite::ALL[usize::from(sel & 3)];
    let peer = Sci([0x02, 0, 0, 0, 0, 0x0a, 0, 1]);
    let mut cfg = SecYConfig::new(cipher, Sci([0x02, 0, 0, 0, 0, 0x0b, 0, 1]));
    cfg.replay_window = u64::from((sel >> 2) & 0x1f);
    // One replay state, or one per packet-number lane (a link's).
    cfg.pn_lanes = if sel & 0x80 != 0 { xc_macsec::MAX_PN_LANES } else { 1 };
    let mut secy = SecY::new(cfg);
    for an in 0..4 {
        let sa = RxSaConfig { sci: peer, an, sak: Zeroizing::new(vec![an; cipher.key_len()]), lowest_pn: 1, ssci: [0, 0, 0, 1], salt: [0; 12] };
        let _ = secy.install_rx_sa(&sa);
    }
    let mut out = Vec::new();
    let _ = secy.validate(frame, &mut out);
});
