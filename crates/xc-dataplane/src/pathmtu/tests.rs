use super::*;
use proptest::prelude::*;

const V4: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

/// Two ends of a link over an underlay that drops frames longer than `carries` (and
/// everything while `cut`), run on a simulated clock in 10 ms steps with 1 ms of delay.
struct Wire {
    a: PathMtuCheck,
    b: PathMtuCheck,
    carries: usize,
    cut: bool,
    now: Instant,
    /// Frames sent by each end, and how many of them the underlay dropped.
    sent: usize,
    dropped: usize,
}

impl Wire {
    fn new(mtu_a: u16, mtu_b: u16, carries: usize) -> Self {
        let now = Instant::now();
        Self {
            a: PathMtuCheck::new(mtu_a, V4, MAC_A, 1, now),
            b: PathMtuCheck::new(mtu_b, V4, MAC_B, 2, now),
            carries,
            cut: false,
            now,
            sent: 0,
            dropped: 0,
        }
    }

    fn step(&mut self) {
        self.now += Duration::from_millis(10);
        for end in [&mut self.a, &mut self.b] {
            if end.poll_timeout() <= self.now {
                end.handle_timeout(self.now);
            }
        }
        // Each end's frames, delivered to the other (answers go out on the next step).
        for _ in 0..4 {
            let from_a: Vec<_> = std::iter::from_fn(|| self.a.poll_transmit()).collect();
            let from_b: Vec<_> = std::iter::from_fn(|| self.b.poll_transmit()).collect();
            if from_a.is_empty() && from_b.is_empty() {
                break;
            }
            let at = self.now + Duration::from_millis(1);
            for (frames, to) in [(from_a, &mut self.b), (from_b, &mut self.a)] {
                for f in frames {
                    self.sent += 1;
                    if self.cut || f.len() > self.carries {
                        self.dropped += 1;
                        continue;
                    }
                    to.handle_frame(&f, at).expect("a probe");
                }
            }
        }
    }

    fn run(&mut self, d: Duration) {
        let until = self.now + d;
        while self.now < until {
            self.step();
        }
    }
}

#[test]
fn frames_round_trip_and_answers_keep_the_length() {
    let f = encode(Kind::Request, 0x0102_0304_0506_0708, 9000, MAC_A);
    assert_eq!(f.len(), 9000);
    assert!(is_probe(&f));
    assert_eq!(
        parse(&f),
        Ok(Probe {
            kind: Kind::Request,
            nonce: 0x0102_0304_0506_0708,
            len: 9000
        })
    );
    let a = answer(&f, MAC_B).expect("answered");
    assert_eq!(a.len(), 9000);
    assert_eq!(&a[6..12], &MAC_B);
    assert_eq!(
        parse(&a).map(|p| (p.kind, p.nonce)),
        Ok((Kind::Answer, 0x0102_0304_0506_0708))
    );
    assert_eq!(answer(&a, MAC_A), Err(ProbeError::NotRequest));
    // Too short a length is the header's.
    assert_eq!(encode(Kind::Request, 1, 3, MAC_A).len(), HEADER_LEN);
}

#[test]
fn malformed_frames_are_errors() {
    let f = encode(Kind::Request, 7, 100, MAC_A);
    assert_eq!(parse(&f[..20]), Err(ProbeError::Short(20)));
    assert_eq!(
        parse(&f[..99]),
        Err(ProbeError::Length { said: 100, got: 99 }),
        "a truncated probe is not an answer to a full one"
    );
    let mut g = f.clone();
    g[12] = 0x08;
    assert_eq!(parse(&g), Err(ProbeError::NotProbe));
    let mut g = f.clone();
    g[14] = b'Y';
    assert_eq!(parse(&g), Err(ProbeError::NotProbe));
    let mut g = f.clone();
    g[18] = 2;
    assert_eq!(parse(&g), Err(ProbeError::Version(2)));
    let mut g = f;
    g[19] = 9;
    assert_eq!(parse(&g), Err(ProbeError::Kind(9)));
}

#[test]
fn the_ladder_goes_down_to_a_1500_byte_underlay_and_to_1280() {
    let v6: IpAddr = "fd00::1".parse().expect("ip");
    assert_eq!(ladder(8918, V4), vec![8918, 1418, 1280]);
    assert_eq!(ladder(8898, v6), vec![8898, 1398, 1280]);
    assert_eq!(ladder(1418, V4), vec![1418, 1280]);
    assert_eq!(ladder(1300, V4), vec![1300, 1280]);
    assert_eq!(ladder(1280, V4), vec![1280]);
    assert_eq!(ladder(1000, V4), vec![1000]);
    // The probe for an MTU is as long as the protected frame that carries a packet of it.
    assert_eq!(frame_len_for(1418) + 8 + 8 + 20, 1500);
}

#[test]
fn a_path_that_carries_the_full_size_is_verified() {
    let mut w = Wire::new(8918, 8918, usize::MAX);
    w.run(Duration::from_secs(1));
    for end in [&w.a, &w.b] {
        assert_eq!(
            end.status(),
            PathMtuStatus {
                state: PathMtuState::Verified,
                configured: 8918,
                verified: Some(8918)
            }
        );
        assert_eq!(end.mtu(), 8918);
    }
    assert_eq!(w.dropped, 0);
    // Checked again a minute later, with one small and one full-size probe each way and their
    // answers: 8 frames.
    let before = w.sent;
    w.run(RECHECK);
    assert_eq!(w.sent - before, 8);
}

#[test]
fn an_underlay_that_drops_large_packets_gets_the_largest_size_that_crosses() {
    // Jumbo interfaces at both ends; something between them carries 1500-byte packets only
    // (the VXLAN datagram's payload: 1500 less IPv4 and UDP headers).
    let mut w = Wire::new(8918, 8918, 1500 - 28);
    w.run(Duration::from_millis(300));
    assert_eq!(w.a.status().state, PathMtuState::Checking);
    assert_eq!(w.a.mtu(), 8918, "nothing changes before the check ends");
    // Three full-size probes lost (each waited for 200 ms: four round trips of 2 ms is less),
    // then 1418 answered.
    w.run(Duration::from_secs(2));
    for end in [&w.a, &w.b] {
        assert_eq!(
            end.status(),
            PathMtuStatus {
                state: PathMtuState::Reduced,
                configured: 8918,
                verified: Some(1418)
            }
        );
        assert_eq!(end.mtu(), 1418);
    }
    // The underlay mended: the next check finds the full size again.
    w.carries = usize::MAX;
    w.run(RECHECK + Duration::from_secs(1));
    assert_eq!(w.a.status().state, PathMtuState::Verified);
    assert_eq!(w.a.mtu(), 8918);
}

#[test]
fn one_jumbo_end_facing_a_1500_byte_end_is_reduced_and_the_other_verified() {
    // Only a's interface is jumbo; b's underlay interface is 1500 bytes and drops the rest.
    let mut w = Wire::new(8918, 1418, 1500 - 28);
    w.run(Duration::from_secs(3));
    assert_eq!(w.a.status().state, PathMtuState::Reduced);
    assert_eq!(w.a.mtu(), 1418);
    assert_eq!(w.b.status().state, PathMtuState::Verified);
    assert_eq!(w.b.mtu(), 1418);
}

#[test]
fn nothing_crossing_beyond_small_probes_leaves_the_smallest_size() {
    let mut w = Wire::new(8918, 8918, 1200);
    w.run(Duration::from_secs(5));
    assert_eq!(
        w.a.status(),
        PathMtuStatus {
            state: PathMtuState::Reduced,
            configured: 8918,
            verified: None
        }
    );
    assert_eq!(w.a.mtu(), 1280);
}

#[test]
fn a_peer_that_never_answers_leaves_the_mtu_alone() {
    let mut w = Wire::new(8918, 8918, usize::MAX);
    w.cut = true;
    w.run(Duration::from_secs(10));
    assert_eq!(w.a.status().state, PathMtuState::Unanswered);
    assert_eq!(w.a.mtu(), 8918);
    // One small probe a second while it does not answer, and only that.
    assert!((9..=11).contains(&(w.sent / 2)), "{} frames", w.sent);
    // Once it answers, the check goes on.
    w.cut = false;
    w.run(Duration::from_secs(2));
    assert_eq!(w.a.status().state, PathMtuState::Verified);
}

#[test]
fn answers_that_are_not_for_the_pending_probe_change_nothing() {
    let now = Instant::now();
    let mut c = PathMtuCheck::new(8918, V4, MAC_A, 5, now);
    c.handle_timeout(now);
    let probe = c.poll_transmit().expect("a small probe");
    let p = parse(&probe).expect("parsed");
    // Wrong nonce, then right nonce and wrong length: ignored.
    c.handle_frame(&encode(Kind::Answer, p.nonce ^ 1, p.len, MAC_B), now)
        .expect("a probe");
    c.handle_frame(&encode(Kind::Answer, p.nonce, p.len + 1, MAC_B), now)
        .expect("a probe");
    assert!(c.poll_transmit().is_none());
    c.handle_timeout(now + Duration::from_millis(10));
    assert!(
        c.poll_transmit().is_none(),
        "still waiting for the small probe"
    );
    // The right answer moves it to the full size at once.
    c.handle_frame(&answer(&probe, MAC_B).expect("answer"), now)
        .expect("a probe");
    c.handle_timeout(now + Duration::from_millis(20));
    let big = c.poll_transmit().expect("a full-size probe");
    assert_eq!(big.len(), frame_len_for(8918));
}

#[test]
fn requests_are_answered_at_a_bounded_rate() {
    let now = Instant::now();
    let mut c = PathMtuCheck::new(1418, V4, MAC_A, 5, now);
    let req = encode(Kind::Request, 1, 1500, MAC_B);
    for _ in 0..100 {
        c.handle_frame(&req, now).expect("a probe");
    }
    let answers = std::iter::from_fn(|| c.poll_transmit()).count();
    assert_eq!(answers, ANSWERS_PER_SECOND as usize);
    for _ in 0..5 {
        c.handle_frame(&req, now + Duration::from_secs(1))
            .expect("a probe");
    }
    assert_eq!(std::iter::from_fn(|| c.poll_transmit()).count(), 5);
}

proptest! {
    #[test]
    fn parsing_any_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse(&b);
        let _ = answer(&b, MAC_A);
    }

    #[test]
    fn any_length_round_trips(len in HEADER_LEN..10_000usize, nonce in any::<u64>()) {
        let f = encode(Kind::Request, nonce, len, MAC_A);
        prop_assert_eq!(parse(&f), Ok(Probe { kind: Kind::Request, nonce, len }));
    }
}

/// The caller sleeps until `poll_timeout`: it must always lie ahead once what was due is done,
/// or the caller spins. Checked through every phase: reaching a silent peer, sizes, idle.
#[test]
fn the_next_timeout_is_always_ahead_after_handling_it() {
    for (carries, cut) in [(usize::MAX, true), (1500 - 28, false), (usize::MAX, false)] {
        let mut w = Wire::new(8918, 8918, carries);
        w.cut = cut;
        for _ in 0..1000 {
            w.step();
            for end in [&w.a, &w.b] {
                assert!(
                    end.poll_timeout() > w.now,
                    "a timeout already past after handling it: {:?} ({carries}, cut {cut})",
                    end.status()
                );
            }
        }
    }
}
