//! Deterministic simulation of two MKA participants wired back to back, each driving a real SecY,
//! with a fake clock (no sleeps): election, SAK distribution, rotation under traffic with no frame
//! lost, PN-driven rotation, a wrong CAK never installing a SAK, MKPDU loss, and peer loss and
//! recovery.

use std::collections::VecDeque;
use std::time::{Duration, Instant};
use xc_macsec::mka::{Event, MkaConfig, Participant, Problem};
use xc_macsec::*;
use zeroize::Zeroizing;

const TICK: Duration = Duration::from_millis(5);
const LATENCY: Duration = Duration::from_millis(1);

struct Node {
    mka: Participant,
    secy: SecY,
    mac: [u8; 6],
    secured: Vec<(u32, u8)>,
    peer_lost: u32,
    rx_installs: u32,
    sent: u64,
    received: u64,
    invalid: u64,
}

fn config(n: u8, cak: u8, cipher: CipherSuite) -> MkaConfig {
    let sci = Sci::new([0x02, 0, 0, 0, 0, n], 1);
    MkaConfig::new(
        Zeroizing::new(vec![cak; cipher.key_len().min(32)]),
        b"link-101".to_vec(),
        sci,
        cipher,
    )
}

impl Node {
    fn new(cfg: MkaConfig, seed: u8, now: Instant) -> Self {
        let mac = cfg.sci.mac();
        let secy = SecY::new(SecYConfig::new(cfg.cipher, cfg.sci));
        Self {
            mka: Participant::new(cfg, [seed; 32], now).expect("participant"),
            secy,
            mac,
            secured: Vec::new(),
            peer_lost: 0,
            rx_installs: 0,
            sent: 0,
            received: 0,
            invalid: 0,
        }
    }

    fn apply_events(&mut self) {
        while let Some(e) = self.mka.poll_event() {
            match e {
                Event::InstallRx(c) => {
                    self.secy.install_rx_sa(&c).expect("rx sa");
                    self.rx_installs += 1;
                }
                Event::InstallTx(c) => self.secy.install_tx_sa(&c).expect("tx sa"),
                Event::RemoveRx { sci, an } => self.secy.remove_rx_sa(&sci, an),
                Event::Secured { kn, an } => self.secured.push((kn, an)),
                Event::PeerLost { .. } => self.peer_lost += 1,
                Event::PeerLive { .. } | Event::KeyServer { .. } => {}
            }
        }
    }
}

struct Sim {
    now: Instant,
    a: Node,
    b: Node,
    ab: VecDeque<(Instant, Vec<u8>)>,
    ba: VecDeque<(Instant, Vec<u8>)>,
    /// Drop every Nth MKPDU (0: none).
    drop_every: u64,
    mkpdus: u64,
    cut: bool,
    traffic: bool,
}

fn data_frame(from: [u8; 6], n: u64) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0xff];
    f.extend_from_slice(&from);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&n.to_be_bytes());
    f.extend_from_slice(&[0x5a; 100]);
    f
}

impl Sim {
    fn new(a: MkaConfig, b: MkaConfig) -> Self {
        let now = Instant::now();
        Self {
            now,
            a: Node::new(a, 1, now),
            b: Node::new(b, 2, now),
            ab: VecDeque::new(),
            ba: VecDeque::new(),
            drop_every: 0,
            mkpdus: 0,
            cut: false,
            traffic: false,
        }
    }

    fn step_node(
        node: &mut Node,
        now: Instant,
        wire: &mut VecDeque<(Instant, Vec<u8>)>,
        drop_every: u64,
        mkpdus: &mut u64,
        cut: bool,
        traffic: bool,
    ) {
        if node.mka.poll_timeout().is_some_and(|t| t <= now) {
            node.mka.handle_timeout(now);
        }
        if let Some((_, pn)) = node.secy.tx_state() {
            node.mka.report_pn(now, pn, 1);
        }
        node.apply_events();
        while let Some(f) = node.mka.poll_transmit() {
            *mkpdus += 1;
            if cut || (drop_every > 0 && (*mkpdus).is_multiple_of(drop_every)) {
                continue;
            }
            wire.push_back((now + LATENCY, f));
        }
        if traffic && node.secy.tx_state().is_some() {
            let mut out = Vec::new();
            node.secy
                .protect(&data_frame(node.mac, node.sent), &mut out)
                .expect("protect");
            node.sent += 1;
            if !cut {
                wire.push_back((now + LATENCY, out));
            }
        }
    }

    fn deliver(node: &mut Node, now: Instant, wire: &mut VecDeque<(Instant, Vec<u8>)>) {
        while wire.front().is_some_and(|(t, _)| *t <= now) {
            let (_, f) = wire.pop_front().expect("front");
            if f[12..14] == [0x88, 0x8e] {
                let _ = node.mka.handle_mkpdu(now, &f);
                node.apply_events();
            } else {
                let mut out = Vec::new();
                match node.secy.validate(&f, &mut out) {
                    Ok(()) => node.received += 1,
                    Err(_) => node.invalid += 1,
                }
            }
        }
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += TICK;
            let now = self.now;
            Self::deliver(&mut self.b, now, &mut self.ab);
            Self::deliver(&mut self.a, now, &mut self.ba);
            Self::step_node(
                &mut self.a,
                now,
                &mut self.ab,
                self.drop_every,
                &mut self.mkpdus,
                self.cut,
                self.traffic,
            );
            Self::step_node(
                &mut self.b,
                now,
                &mut self.ba,
                self.drop_every,
                &mut self.mkpdus,
                self.cut,
                self.traffic,
            );
        }
    }

    /// Stops traffic and lets frames in flight arrive.
    fn settle(&mut self) {
        self.traffic = false;
        self.run(Duration::from_millis(50));
    }
}

#[test]
fn election_and_distribution_secure_both_directions() {
    let mut a = config(1, 0x11, CipherSuite::GcmAesXpn256);
    a.key_server_priority = 32;
    let b = config(2, 0x11, CipherSuite::GcmAesXpn256);
    let mut sim = Sim::new(a, b);
    sim.run(Duration::from_secs(3));
    // B has the better (lower) priority value and becomes key server.
    let ks = sim.a.mka.status().key_server.expect("elected");
    assert_eq!(ks, Sci::new([0x02, 0, 0, 0, 0, 2], 1));
    assert!(sim.b.mka.status().is_key_server && !sim.a.mka.status().is_key_server);
    assert_eq!(sim.a.secured, sim.b.secured, "both install the same key");
    assert_eq!(sim.a.secured.len(), 1);
    sim.traffic = true;
    sim.run(Duration::from_secs(1));
    sim.settle();
    assert!(sim.a.sent > 100 && sim.b.sent > 100);
    assert_eq!((sim.b.received, sim.b.invalid), (sim.a.sent, 0));
    assert_eq!((sim.a.received, sim.a.invalid), (sim.b.sent, 0));
}

#[test]
fn equal_priority_elects_the_lower_sci() {
    let mut sim = Sim::new(
        config(9, 0x11, CipherSuite::GcmAes128),
        config(3, 0x11, CipherSuite::GcmAes128),
    );
    sim.run(Duration::from_secs(3));
    assert_eq!(
        sim.a.mka.status().key_server,
        Some(Sci::new([0x02, 0, 0, 0, 0, 3], 1))
    );
    assert_eq!(
        sim.b.mka.status().key_server,
        Some(Sci::new([0x02, 0, 0, 0, 0, 3], 1))
    );
}

#[test]
fn rotation_under_traffic_loses_no_frame() {
    for cipher in CipherSuite::ALL {
        let mut a = config(1, 0x22, cipher);
        a.rekey_interval = Some(Duration::from_secs(5));
        let mut b = config(2, 0x22, cipher);
        b.rekey_interval = Some(Duration::from_secs(5));
        let mut sim = Sim::new(a, b);
        sim.run(Duration::from_secs(3));
        sim.traffic = true;
        sim.run(Duration::from_secs(40));
        sim.settle();
        let ks = if sim.a.mka.status().is_key_server {
            &sim.a
        } else {
            &sim.b
        };
        assert!(
            ks.mka.status().rotations >= 6,
            "{cipher:?}: {} rotations",
            ks.mka.status().rotations
        );
        assert!(sim.a.secured.len() >= 7, "{cipher:?}: {:?}", sim.a.secured);
        assert_eq!(sim.a.secured, sim.b.secured, "{cipher:?}");
        assert_eq!(
            (sim.b.received, sim.b.invalid),
            (sim.a.sent, 0),
            "{cipher:?}: frames lost A->B"
        );
        assert_eq!(
            (sim.a.received, sim.a.invalid),
            (sim.b.sent, 0),
            "{cipher:?}: frames lost B->A"
        );
        assert!(sim.a.sent > 7000, "{cipher:?}: {}", sim.a.sent);
    }
}

#[test]
fn packet_number_threshold_triggers_rotation() {
    let mut a = config(1, 0x33, CipherSuite::GcmAes128);
    a.pn_threshold = 500;
    let mut b = config(2, 0x33, CipherSuite::GcmAes128);
    b.pn_threshold = 500;
    let mut sim = Sim::new(a, b);
    sim.run(Duration::from_secs(3));
    sim.traffic = true;
    sim.run(Duration::from_secs(20)); // 4000 frames each way
    sim.settle();
    assert!(sim.a.secured.len() >= 6, "{:?}", sim.a.secured);
    assert_eq!(sim.b.invalid + sim.a.invalid, 0);
    assert_eq!(sim.b.received, sim.a.sent);
    assert!(
        sim.a.secy.tx_state().expect("tx").1 <= 600,
        "never runs far past the threshold"
    );
}

#[test]
fn a_wrong_cak_never_installs_a_sak() {
    let mut sim = Sim::new(
        config(1, 0x44, CipherSuite::GcmAesXpn256),
        config(2, 0x45, CipherSuite::GcmAesXpn256),
    );
    sim.run(Duration::from_secs(20));
    for n in [&sim.a, &sim.b] {
        assert!(n.secured.is_empty());
        assert_eq!(n.rx_installs, 0);
        assert!(n.secy.tx_state().is_none());
        let st = n.mka.status();
        assert!(st.mkpdus_bad_icv >= 5, "{st:?}");
        assert!(st.live_peers.is_empty());
        assert_eq!(st.last_error, Some(Problem::IcvMismatch), "{st:?}");
        assert!(
            st.last_error
                .is_some_and(|e| e.to_string().contains("different CAK")),
            "{st:?}"
        );
    }
}

#[test]
fn converges_despite_lost_mkpdus() {
    let mut sim = Sim::new(
        config(1, 0x55, CipherSuite::GcmAes256),
        config(2, 0x55, CipherSuite::GcmAes256),
    );
    sim.drop_every = 3;
    sim.run(Duration::from_secs(15));
    assert_eq!(sim.a.secured.len(), 1, "{:?}", sim.a.secured);
    assert_eq!(sim.a.secured, sim.b.secured);
}

#[test]
fn peer_loss_and_recovery() {
    let mut sim = Sim::new(
        config(1, 0x66, CipherSuite::GcmAesXpn128),
        config(2, 0x66, CipherSuite::GcmAesXpn128),
    );
    sim.run(Duration::from_secs(3));
    assert_eq!(sim.a.secured.len(), 1);
    // The link is cut for longer than the MKA lifetime: both sides lose their peer.
    sim.cut = true;
    sim.run(Duration::from_secs(8));
    assert_eq!((sim.a.peer_lost, sim.b.peer_lost), (1, 1));
    assert!(sim.a.mka.status().live_peers.is_empty());
    // B restarts (a new participant, new member identifier) and the link comes back.
    let now = sim.now;
    sim.b = Node::new(config(2, 0x66, CipherSuite::GcmAesXpn128), 7, now);
    sim.ab.clear();
    sim.ba.clear();
    sim.cut = false;
    sim.run(Duration::from_secs(4));
    assert_eq!(
        sim.a.secured.len(),
        2,
        "a fresh key after recovery: {:?}",
        sim.a.secured
    );
    assert_eq!(sim.b.secured.last(), sim.a.secured.last());
    sim.traffic = true;
    sim.run(Duration::from_secs(1));
    sim.settle();
    assert_eq!((sim.b.received, sim.b.invalid), (sim.a.sent, 0));
}

/// The key server restarts (a new participant with the same SCI) while its former self is still
/// live at the peer: the new key it distributes may take the same association number as the
/// former key, and when the former self's lifetime runs out at the peer, retiring the former key
/// must not remove the receive SA that the new key now holds. Traffic passes both ways after.
#[test]
fn a_key_server_restarted_within_its_lifetime_is_secured_for_good() {
    let mut sim = Sim::new(
        config(1, 0x66, CipherSuite::GcmAesXpn256),
        config(2, 0x66, CipherSuite::GcmAesXpn256),
    );
    sim.run(Duration::from_secs(3));
    assert!(sim.a.mka.status().is_key_server);
    let now = sim.now;
    sim.a = Node::new(config(1, 0x66, CipherSuite::GcmAesXpn256), 9, now);
    sim.ab.clear();
    sim.ba.clear();
    // Past the former self's lifetime at B (6 s), with traffic flowing all along.
    sim.traffic = true;
    sim.run(Duration::from_secs(10));
    sim.settle();
    let (a_sent, b_sent) = (sim.a.sent, sim.b.sent);
    let (a_received, b_received) = (sim.a.received, sim.b.received);
    sim.traffic = true;
    sim.run(Duration::from_secs(1));
    sim.settle();
    assert_eq!(
        (sim.b.received - b_received, sim.a.received - a_received),
        (sim.a.sent - a_sent, sim.b.sent - b_sent),
        "after the former key server's lifetime, every frame passes both ways (B invalid {}, A invalid {})",
        sim.b.invalid,
        sim.a.invalid
    );
}

#[test]
fn a_cut_link_is_secured_again_when_it_heals() {
    let mut sim = Sim::new(
        config(1, 0x66, CipherSuite::GcmAesXpn256),
        config(2, 0x66, CipherSuite::GcmAesXpn256),
    );
    sim.run(Duration::from_secs(3));
    assert_eq!(sim.a.secured.len(), 1);
    sim.cut = true;
    sim.run(Duration::from_secs(8));
    assert_eq!((sim.a.peer_lost, sim.b.peer_lost), (1, 1));
    // The same two participants hear each other again: secured again (with the key both
    // still hold), and traffic passes.
    sim.ab.clear();
    sim.ba.clear();
    sim.cut = false;
    sim.run(Duration::from_secs(4));
    assert!(sim.a.secured.len() >= 2, "{:?}", sim.a.secured);
    assert!(sim.b.secured.len() >= 2, "{:?}", sim.b.secured);
    assert!(!sim.a.mka.status().live_peers.is_empty());
    sim.traffic = true;
    sim.run(Duration::from_secs(1));
    sim.settle();
    assert_eq!((sim.b.received, sim.b.invalid), (sim.a.sent, 0));
}

#[test]
fn replayed_mkpdus_are_ignored() {
    let now = Instant::now();
    let mut a = Participant::new(config(1, 0x77, CipherSuite::GcmAes128), [1; 32], now).expect("a");
    let mut b = Participant::new(config(2, 0x77, CipherSuite::GcmAes128), [2; 32], now).expect("b");
    a.handle_timeout(now);
    let first = a.poll_transmit().expect("hello");
    b.handle_mkpdu(now, &first).expect("first");
    let received = b.status().mkpdus_received;
    b.handle_mkpdu(now, &first)
        .expect("a replay is not an error");
    assert_eq!(
        b.status().mkpdus_received,
        received,
        "but it is not processed"
    );
    assert_eq!(b.status().mkpdus_replayed, 1);
}
