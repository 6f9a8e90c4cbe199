//! Two BFD sessions back to back with a fake clock: three-way handshake, the fast rate once Up,
//! detection of a cut link within the detection time, recovery, a peer going administratively
//! down, and the poll sequence that announces the rate change.

use std::collections::VecDeque;
use std::time::{Duration, Instant};
use xc_bfd::{Config, Diag, Event, Packet, Session, State};

const TICK: Duration = Duration::from_millis(1);

struct Sim {
    now: Instant,
    start: Instant,
    a: Session,
    b: Session,
    ab: VecDeque<(Instant, [u8; 24])>,
    ba: VecDeque<(Instant, [u8; 24])>,
    cut: bool,
    a_events: Vec<(Duration, Event)>,
    b_events: Vec<(Duration, Event)>,
    /// (time, packet) sent by A.
    a_sent: Vec<(Duration, Packet)>,
}

/// Runs one session's timers and collects what it sends and reports.
fn step(
    s: &mut Session,
    wire: &mut VecDeque<(Instant, [u8; 24])>,
    events: &mut Vec<(Duration, Event)>,
    mut sent: Option<&mut Vec<(Duration, Packet)>>,
    now: Instant,
    at: Duration,
    cut: bool,
) {
    if s.poll_timeout().is_some_and(|t| t <= now) {
        s.handle_timeout(now);
    }
    while let Some(p) = s.poll_transmit() {
        if let Some(log) = sent.as_deref_mut() {
            log.push((at, Packet::decode(&p).expect("own packet")));
        }
        if !cut {
            wire.push_back((now + Duration::from_millis(1), p));
        }
    }
    while let Some(e) = s.poll_event() {
        events.push((at, e));
    }
}

impl Sim {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            now,
            start: now,
            a: Session::new(Config::default(), [1; 32], now),
            b: Session::new(Config::default(), [2; 32], now),
            ab: VecDeque::new(),
            ba: VecDeque::new(),
            cut: false,
            a_events: Vec::new(),
            b_events: Vec::new(),
            a_sent: Vec::new(),
        }
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += TICK;
            let (now, at) = (self.now, self.now - self.start);
            while self.ab.front().is_some_and(|(t, _)| *t <= now) {
                let (_, p) = self.ab.pop_front().expect("front");
                self.b.handle_packet(now, &p).expect("valid packet");
            }
            while self.ba.front().is_some_and(|(t, _)| *t <= now) {
                let (_, p) = self.ba.pop_front().expect("front");
                self.a.handle_packet(now, &p).expect("valid packet");
            }
            step(
                &mut self.a,
                &mut self.ab,
                &mut self.a_events,
                Some(&mut self.a_sent),
                now,
                at,
                self.cut,
            );
            step(
                &mut self.b,
                &mut self.ba,
                &mut self.b_events,
                None,
                now,
                at,
                self.cut,
            );
        }
    }
}

fn went(events: &[(Duration, Event)], to: State) -> Option<(Duration, Diag)> {
    events
        .iter()
        .rev()
        .find_map(|(t, Event::StateChange { to: s, diag, .. })| (*s == to).then_some((*t, *diag)))
}

#[test]
fn three_way_handshake_then_fast_rate() {
    let mut sim = Sim::new();
    sim.run(Duration::from_secs(3));
    assert_eq!((sim.a.state(), sim.b.state()), (State::Up, State::Up));
    let (up_at, _) = went(&sim.a_events, State::Up).expect("A came up");
    assert!(up_at < Duration::from_millis(1100), "up after {up_at:?}");
    // Before Up: one packet a second at most; once Up: every 75-100 ms, without Poll after the
    // poll sequence completed.
    let before: Vec<_> = sim
        .a_sent
        .iter()
        .filter(|(t, p)| *t < up_at && !p.final_)
        .collect();
    for w in before.windows(2) {
        assert!(
            w[1].0 - w[0].0 >= Duration::from_millis(700) || w[1].1.state != w[0].1.state,
            "{w:?}"
        );
    }
    let steady: Vec<_> = sim
        .a_sent
        .iter()
        .filter(|(t, _)| *t > up_at + Duration::from_millis(500))
        .collect();
    assert!(steady.len() > 15, "{}", steady.len());
    for w in steady.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(
            gap >= Duration::from_millis(74) && gap <= Duration::from_millis(101),
            "gap {gap:?}"
        );
        assert!(!w[1].1.poll, "the poll sequence ended");
    }
    assert!(
        sim.a_sent.iter().any(|(_, p)| p.poll),
        "the rate change was announced with Poll"
    );
    assert_eq!(steady[0].1.desired_min_tx_us, 100_000);
}

#[test]
fn a_cut_link_is_detected_within_the_detection_time_and_recovers() {
    let mut sim = Sim::new();
    sim.run(Duration::from_secs(3));
    let cut_at = sim.now - sim.start;
    sim.cut = true;
    sim.run(Duration::from_secs(1));
    for events in [&sim.a_events, &sim.b_events] {
        let (down_at, diag) = went(events, State::Down).expect("went down");
        assert_eq!(diag, Diag::ControlDetectionTimeExpired);
        let took = down_at - cut_at;
        assert!(
            took <= Duration::from_millis(305),
            "detected after {took:?} (3 x 100 ms)"
        );
    }
    sim.cut = false;
    sim.run(Duration::from_secs(3));
    assert_eq!(
        (sim.a.state(), sim.b.state()),
        (State::Up, State::Up),
        "back up once packets flow"
    );
}

#[test]
fn admin_down_is_signalled_to_the_peer() {
    let mut sim = Sim::new();
    sim.run(Duration::from_secs(3));
    let now = sim.now;
    sim.a.set_admin_down(true, now);
    sim.run(Duration::from_millis(50));
    assert_eq!(sim.a.state(), State::AdminDown);
    assert_eq!(
        went(&sim.b_events, State::Down).map(|(_, d)| d),
        Some(Diag::NeighborSignaledDown)
    );
    let now = sim.now;
    sim.a.set_admin_down(false, now);
    sim.run(Duration::from_secs(3));
    assert_eq!((sim.a.state(), sim.b.state()), (State::Up, State::Up));
}

#[test]
fn packets_for_another_session_or_malformed_are_refused() {
    let now = Instant::now();
    let mut s = Session::new(Config::default(), [5; 32], now);
    let mut p = Packet {
        diag: Diag::None,
        state: State::Up,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_disc: 7,
        your_disc: 0,
        desired_min_tx_us: 100_000,
        required_min_rx_us: 100_000,
        required_min_echo_rx_us: 0,
    };
    // Up with no "your discriminator" is not valid.
    assert!(s.handle_packet(now, &p.encode()).is_err());
    // Someone else's discriminator: ignored, no state change.
    p.your_disc = s.local_discriminator().wrapping_add(1);
    s.handle_packet(now, &p.encode()).expect("ignored");
    assert_eq!(s.state(), State::Down);
    assert!(s.handle_packet(now, &[0u8; 10]).is_err());
}
