//! SecY behaviour beyond the vectors: round trips for every cipher suite and mode, the replay
//! window and its edges (including the 32-bit boundary under XPN), PN exhaustion, SCI handling,
//! and a decoder that never panics.

use proptest::prelude::*;
use xc_macsec::*;
use zeroize::Zeroizing;

const A: Sci = Sci([0x02, 0, 0, 0, 0, 0x0a, 0, 1]);

fn pair(cipher: CipherSuite, window: u64, first_pn: u64) -> (SecY, SecY) {
    pair_with(cipher, window, first_pn, true, true)
}

/// A transmitting and a receiving SecY sharing one SA; `conf` encrypts, `sci` carries the SCI
/// (otherwise ES is set and the SCI is implied by the source address, which `A` matches).
fn pair_with(
    cipher: CipherSuite,
    window: u64,
    first_pn: u64,
    conf: bool,
    sci: bool,
) -> (SecY, SecY) {
    let sak = Zeroizing::new(vec![0x42u8; cipher.key_len()]);
    let ssci = [0, 0, 0, 1];
    let salt = [7u8; 12];
    let mut tx_cfg = SecYConfig::new(cipher, A);
    tx_cfg.confidentiality = conf;
    tx_cfg.include_sci = sci;
    let mut tx = SecY::new(tx_cfg);
    tx.install_tx_sa(&TxSaConfig {
        an: 1,
        sak: sak.clone(),
        next_pn: first_pn,
        ssci,
        salt,
    })
    .expect("tx");
    let mut cfg = SecYConfig::new(cipher, Sci([0x02, 0, 0, 0, 0, 0x0b, 0, 1]));
    cfg.replay_window = window;
    let mut rx = SecY::new(cfg);
    rx.install_rx_sa(&RxSaConfig {
        sci: A,
        an: 1,
        sak,
        lowest_pn: first_pn,
        ssci,
        salt,
    })
    .expect("rx");
    (tx, rx)
}

fn frame(n: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00];
    f.extend((0..len).map(|i| (i as u8).wrapping_add(n)));
    f
}

fn protect_n(tx: &mut SecY, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut out = Vec::new();
            tx.protect(&frame(i as u8, 100), &mut out).expect("protect");
            out
        })
        .collect()
}

#[test]
fn replay_window_accepts_reordering_within_the_window_only() {
    let (mut tx, mut rx) = pair(CipherSuite::GcmAes128, 2, 1);
    let f = protect_n(&mut tx, 6); // PNs 1..=6
    let mut out = Vec::new();
    rx.validate(&f[4], &mut out).expect("pn 5");
    // nextPN = 6, window 2: lowest acceptable is 4.
    rx.validate(&f[3], &mut out).expect("pn 4 is in the window");
    assert_eq!(
        rx.validate(&f[2], &mut out),
        Err(ValidateError::Late),
        "pn 3 is below it"
    );
    rx.validate(&f[5], &mut out).expect("pn 6");
    assert_eq!(rx.counters().in_pkts_ok, 3);
    assert_eq!(rx.counters().in_pkts_late, 1);
}

#[test]
fn strict_ordering_with_window_zero() {
    let (mut tx, mut rx) = pair(CipherSuite::GcmAes256, 0, 1);
    let f = protect_n(&mut tx, 3);
    let mut out = Vec::new();
    rx.validate(&f[1], &mut out).expect("pn 2");
    assert_eq!(rx.validate(&f[0], &mut out), Err(ValidateError::Late));
    assert_eq!(
        rx.validate(&f[1], &mut out),
        Err(ValidateError::Late),
        "a duplicate"
    );
    rx.validate(&f[2], &mut out).expect("pn 3");
}

#[test]
fn xpn_crosses_the_32_bit_boundary() {
    let start = (1u64 << 32) - 3;
    let (mut tx, mut rx) = pair(CipherSuite::GcmAesXpn256, 2, start);
    let f = protect_n(&mut tx, 6); // PNs 2^32-3 .. 2^32+2
    let mut out = Vec::new();
    for (i, fr) in f.iter().enumerate() {
        rx.validate(fr, &mut out)
            .unwrap_or_else(|e| panic!("frame {i}: {e}"));
        assert_eq!(out, frame(i as u8, 100));
    }
    assert_eq!(rx.rx_next_pn(&A, 1), Some((1 << 32) + 3));
    // Reordered across the boundary, inside the window.
    let (mut tx, mut rx) = pair(CipherSuite::GcmAesXpn128, 4, start);
    let f = protect_n(&mut tx, 6);
    rx.validate(&f[4], &mut out).expect("2^32+1 first");
    rx.validate(&f[2], &mut out)
        .expect("2^32-1 late but within the window");
    rx.validate(&f[3], &mut out).expect("2^32");
    // Out of the window on the far side: recovered into the next epoch, where its ICV fails.
    let (mut tx, mut rx) = pair(CipherSuite::GcmAesXpn128, 1, start);
    let f = protect_n(&mut tx, 6);
    rx.validate(&f[5], &mut out).expect("2^32+2");
    assert!(rx.validate(&f[0], &mut out).is_err());
}

#[test]
fn protect_append_keeps_what_precedes_the_frame() {
    for conf in [true, false] {
        let (mut a, _) = pair_with(CipherSuite::GcmAesXpn256, 0, 1, conf, true);
        let (mut b, mut rx) = pair_with(CipherSuite::GcmAesXpn256, 0, 1, conf, true);
        let mut plain = Vec::new();
        a.protect(&frame(3, 80), &mut plain).expect("protect");
        let mut appended = b"VXLANHDR".to_vec();
        b.protect_append(&frame(3, 80), &mut appended)
            .expect("protect_append");
        assert_eq!(&appended[..8], b"VXLANHDR");
        assert_eq!(&appended[8..], &plain[..], "conf={conf}");
        let mut out = Vec::new();
        rx.validate(&appended[8..], &mut out).expect("validates");
    }
}

#[test]
fn packet_numbers_run_out() {
    let (mut tx, _) = pair(CipherSuite::GcmAes128, 0, u64::from(u32::MAX));
    let mut out = Vec::new();
    tx.protect(&frame(0, 10), &mut out).expect("the last PN");
    assert_eq!(
        tx.protect(&frame(0, 10), &mut out),
        Err(ProtectError::PnExhausted)
    );
    let (mut tx, _) = pair(CipherSuite::GcmAesXpn128, 0, u64::from(u32::MAX));
    tx.protect(&frame(0, 10), &mut out).expect("XPN goes on");
    tx.protect(&frame(0, 10), &mut out).expect("XPN goes on");
    assert_eq!(tx.tx_state(), Some((1, (1 << 32) + 1)));
}

#[test]
fn unknown_sci_missing_sa_and_plain_frames_are_counted() {
    let (mut tx, mut rx) = pair(CipherSuite::GcmAes128, 0, 1);
    let mut f = Vec::new();
    tx.protect(&frame(0, 60), &mut f).expect("protect");
    let mut out = Vec::new();
    // Plain Ethernet.
    assert_eq!(
        rx.validate(&frame(0, 60), &mut out),
        Err(ValidateError::NoTag)
    );
    // Another peer's SCI.
    let mut other = f.clone();
    other[20] ^= 0xff;
    assert_eq!(
        rx.validate(&other, &mut out),
        Err(ValidateError::UnknownSci)
    );
    // An AN with no SA.
    let mut an = f.clone();
    an[14] = (an[14] & !3) | 2;
    assert_eq!(rx.validate(&an, &mut out), Err(ValidateError::NoSa));
    // Version bit.
    let mut v = f.clone();
    v[14] |= 0x80;
    assert!(matches!(
        rx.validate(&v, &mut out),
        Err(ValidateError::BadTag(_))
    ));
    let c = rx.counters();
    assert_eq!(
        (
            c.in_pkts_no_tag,
            c.in_pkts_no_sci,
            c.in_pkts_not_using_sa,
            c.in_pkts_bad_tag
        ),
        (1, 1, 1, 1)
    );
    rx.validate(&f, &mut out)
        .expect("the real one still passes");
}

#[test]
fn the_protected_length_of_a_macsec_frame_is_the_frame_before_protection() {
    for cipher in CipherSuite::ALL {
        for (conf, sci) in [(true, true), (true, false), (false, true), (false, false)] {
            let (mut tx, _) = pair_with(cipher, 0, 1, conf, sci);
            for len in [0, 1, 46, 1400, 8950] {
                let plain = frame(3, len);
                let mut out = Vec::new();
                tx.protect(&plain, &mut out).expect("protect");
                assert_eq!(
                    xc_macsec::sectag::protected_len(&out),
                    plain.len(),
                    "{cipher:?}, confidentiality {conf}, SCI {sci}, {len} bytes"
                );
            }
        }
    }
    assert_eq!(xc_macsec::sectag::protected_len(&[0u8; 14]), 0, "no TCI");
    assert_eq!(
        xc_macsec::sectag::protected_len(&[0u8; 20]),
        0,
        "no room for the ICV"
    );
}

#[test]
fn integrity_only_leaves_the_payload_readable() {
    let sak = Zeroizing::new(vec![1u8; 16]);
    let mut cfg = SecYConfig::new(CipherSuite::GcmAes128, A);
    cfg.confidentiality = false;
    let mut tx = SecY::new(cfg);
    tx.install_tx_sa(&TxSaConfig {
        an: 0,
        sak,
        next_pn: 1,
        ssci: [0; 4],
        salt: [0; 12],
    })
    .expect("tx");
    let mut out = Vec::new();
    let plain = frame(9, 64);
    tx.protect(&plain, &mut out).expect("protect");
    assert_eq!(
        &out[12 + 16..out.len() - 16],
        &plain[12..],
        "integrity-only carries the data in clear"
    );
    tx.protect(&plain, &mut out).expect("protect");
    let mut enc = SecY::new(SecYConfig::new(CipherSuite::GcmAes128, A));
    enc.install_tx_sa(&TxSaConfig {
        an: 0,
        sak: Zeroizing::new(vec![1u8; 16]),
        next_pn: 1,
        ssci: [0; 4],
        salt: [0; 12],
    })
    .expect("tx");
    enc.protect(&plain, &mut out).expect("protect");
    assert_ne!(
        &out[12 + 16..out.len() - 16],
        &plain[12..],
        "confidentiality hides it"
    );
}

proptest! {
    #[test]
    fn round_trip_every_suite_and_mode(len in 0usize..1600, conf in any::<bool>(), sci in any::<bool>(), suite in 0usize..4, seed in any::<u8>()) {
        let cipher = CipherSuite::ALL[suite];
        let (mut tx, mut rx) = pair_with(cipher, 0, 1, conf, sci);
        let mut out = Vec::new();
        let mut back = Vec::new();
        let f = frame(seed, len);
        tx.protect(&f, &mut out).expect("protect");
        prop_assert!(SecTag::parse(&out).is_ok());
        rx.validate(&out, &mut back).expect("validate");
        prop_assert_eq!(back, f);
    }

    #[test]
    fn validation_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), tagged in any::<bool>()) {
        let (_, mut rx) = pair(CipherSuite::GcmAesXpn256, 3, 1);
        let mut b = bytes;
        if tagged && b.len() > 14 {
            b[12] = 0x88;
            b[13] = 0xe5;
        }
        let mut out = Vec::new();
        let _ = rx.validate(&b, &mut out);
        let _ = SecTag::parse(&b);
    }
}

/// Two transmitters sharing one SA, each owning half of the packet-number lanes (the link's
/// cores), and a receiver that keeps one replay state per lane.
fn laned(cipher: CipherSuite, window: u64, rx_lanes: u8) -> ([SecY; 2], SecY) {
    let sak = Zeroizing::new(vec![0x42u8; cipher.key_len()]);
    let (ssci, salt) = ([0, 0, 0, 1], [7u8; 12]);
    let tx = |index: u8| {
        let mut cfg = SecYConfig::new(cipher, A);
        cfg.pn_lanes = 2;
        cfg.tx_lane = (index, 2);
        let mut s = SecY::new(cfg);
        s.install_tx_sa(&TxSaConfig {
            an: 1,
            sak: sak.clone(),
            next_pn: 1,
            ssci,
            salt,
        })
        .expect("tx");
        s
    };
    let mut cfg = SecYConfig::new(cipher, Sci([0x02, 0, 0, 0, 0, 0x0b, 0, 1]));
    cfg.replay_window = window;
    cfg.pn_lanes = rx_lanes;
    let mut rx = SecY::new(cfg);
    rx.install_rx_sa(&RxSaConfig {
        sci: A,
        an: 1,
        sak: sak.clone(),
        lowest_pn: 1,
        ssci,
        salt,
    })
    .expect("rx");
    ([tx(0), tx(1)], rx)
}

#[test]
fn transmitters_on_their_own_lanes_never_share_a_packet_number() {
    for cipher in CipherSuite::ALL {
        let ([mut even, mut odd], _) = laned(cipher, 0, 2);
        protect_n(&mut even, 5);
        protect_n(&mut odd, 3);
        // The even lane's first PN is 2 (PN 0 is never used), the odd lane's 1.
        assert_eq!(even.tx_state(), Some((1, 12)), "{cipher:?}");
        assert_eq!(odd.tx_state(), Some((1, 7)), "{cipher:?}");
    }
}

#[test]
fn a_lane_far_behind_the_other_is_accepted_in_order_and_refused_when_replayed() {
    for cipher in CipherSuite::ALL {
        let ([mut even, mut odd], mut rx) = laned(cipher, 0, 2);
        let ahead = protect_n(&mut even, 1000); // PNs 2..=2000
        let behind = protect_n(&mut odd, 3); // PNs 1, 3, 5
        let mut out = Vec::new();
        for f in &ahead {
            rx.validate(f, &mut out).expect("the busy lane");
        }
        for (i, f) in behind.iter().enumerate() {
            rx.validate(f, &mut out)
                .unwrap_or_else(|e| panic!("{cipher:?}: the quiet lane's frame {i}: {e}"));
            assert_eq!(out, frame(i as u8, 100));
        }
        assert_eq!(rx.rx_next_pn(&A, 1), Some(2001));
        for f in [&ahead[999], &behind[2], &behind[0]] {
            // Under XPN a PN below the lane's lowest is taken as the next 2^32 block's, whose
            // ICV does not match.
            let refused = match cipher.is_xpn() {
                false => Err(ValidateError::Late),
                true => Err(ValidateError::NotValid),
            };
            assert_eq!(
                rx.validate(f, &mut out),
                refused,
                "{cipher:?}: a replay within its lane"
            );
        }
        assert_eq!(rx.counters().in_pkts_ok, 1003);
    }
}

#[test]
fn one_replay_state_for_all_lanes_refuses_the_lane_behind() {
    // Why the receiver keeps a state per lane: with 802.1AE's one sequence and a window of 64,
    // the quiet lane's frames are far below the busy lane's and are refused as late.
    let ([mut even, mut odd], mut rx) = laned(CipherSuite::GcmAes256, 64, 1);
    let mut out = Vec::new();
    for f in protect_n(&mut even, 1000) {
        rx.validate(&f, &mut out).expect("the busy lane");
    }
    let behind = protect_n(&mut odd, 1);
    assert_eq!(rx.validate(&behind[0], &mut out), Err(ValidateError::Late));
}

#[test]
fn lanes_that_are_not_a_power_of_two_are_one_sequence() {
    let mut cfg = SecYConfig::new(CipherSuite::GcmAes128, A);
    cfg.pn_lanes = 3;
    cfg.tx_lane = (1, 3);
    let mut tx = SecY::new(cfg);
    assert_eq!(tx.config().pn_lanes, 1);
    assert_eq!(tx.config().tx_lane, (0, 1));
    tx.install_tx_sa(&TxSaConfig {
        an: 0,
        sak: Zeroizing::new(vec![1; 16]),
        next_pn: 1,
        ssci: [0; 4],
        salt: [0; 12],
    })
    .expect("tx");
    protect_n(&mut tx, 2);
    assert_eq!(tx.tx_state(), Some((0, 3)));
    assert!(MAX_PN_LANES.is_power_of_two());
}
