//! The cipher's limit on this machine, as a link meets it: how many Gbit/s of MTU-sized frames one
//! core protects, and how many it validates, with the SecY and cipher suite a link uses
//! (GCM-AES-XPN-256, confidentiality on, eight packet-number lanes). `bench/link/profile.sh`
//! runs it to say how close the link comes to the cipher.
//!
//! ```text
//! cargo run --release -p xc-macsec --example cipher_speed [SECONDS] [FRAME_BYTES]
//! ```
//!
//! Prints one line: `protect <Gbit/s> validate <Gbit/s>`, counting the plain frames' bytes.

use std::hint::black_box;
use std::time::{Duration, Instant};
use xc_macsec::*;
use zeroize::Zeroizing;

const TX: Sci = Sci([0x02, 0, 0, 0, 0, 0x0a, 0, 1]);
const RX: Sci = Sci([0x02, 0, 0, 0, 0, 0x0b, 0, 1]);
/// Frames protected, then validated, per round.
const BATCH: usize = 1024;

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args
        .next()
        .map_or(3.0, |s| s.parse().expect("SECONDS is a number"));
    let len: usize = args
        .next()
        .map_or(1514, |s| s.parse().expect("FRAME_BYTES is a number"));
    assert!(len >= 14, "FRAME_BYTES is at least an Ethernet header (14)");

    let cipher = CipherSuite::GcmAesXpn256;
    let sak = Zeroizing::new(vec![0x42u8; cipher.key_len()]);
    let (ssci, salt) = ([0, 0, 0, 1], [7u8; 12]);
    let mut cfg = SecYConfig::new(cipher, TX);
    cfg.pn_lanes = MAX_PN_LANES;
    let mut tx = SecY::new(cfg);
    tx.install_tx_sa(&TxSaConfig {
        an: 1,
        sak: sak.clone(),
        next_pn: 1,
        ssci,
        salt,
    })
    .expect("a 256-bit key for a 256-bit suite");
    let mut cfg = SecYConfig::new(cipher, RX);
    cfg.pn_lanes = MAX_PN_LANES;
    let mut rx = SecY::new(cfg);
    rx.install_rx_sa(&RxSaConfig {
        sci: TX,
        an: 1,
        sak,
        lowest_pn: 1,
        ssci,
        salt,
    })
    .expect("a 256-bit key for a 256-bit suite");

    let mut frame = vec![0u8; len];
    frame[..14].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00]);
    for (i, b) in frame[14..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let mut wire: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(len + 64)).collect();
    let mut plain = Vec::with_capacity(len);
    let (mut protecting, mut validating, mut frames) = (Duration::ZERO, Duration::ZERO, 0u64);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < deadline {
        let t = Instant::now();
        for out in &mut wire {
            tx.protect(black_box(&frame), out)
                .expect("the SA has PNs left");
        }
        protecting += t.elapsed();
        let t = Instant::now();
        for w in &wire {
            rx.validate(black_box(w), &mut plain)
                .expect("a frame just protected validates");
        }
        validating += t.elapsed();
        frames += BATCH as u64;
    }
    assert_eq!(plain, frame, "the last frame came back as it was sent");
    let gbits = |d: Duration| (frames * len as u64 * 8) as f64 / d.as_secs_f64() / 1e9;
    println!(
        "protect {:.2} validate {:.2}",
        gbits(protecting),
        gbits(validating)
    );
}
