//! Two BGP speakers over an in-memory connection with a fake clock: they reach Established,
//! exchange prefixes through their import filters, and close with the right NOTIFICATION on a
//! max-prefix overflow, a wrong peer AS, garbage, or an expired hold timer.

use ipnet::IpNet;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use xc_bgp::Origin;
use xc_bgp::session::{Action, Config, Event, ExportAttrs, ImportFilter, Session, State};

/// What a session sends next: control messages first, then UPDATEs (as a driver asks for them
/// while its peer reads); every message within the RFC's size limit.
fn next_out(s: &mut Session) -> Option<Vec<u8>> {
    let m = s.poll_transmit().or_else(|| s.poll_update())?;
    assert!(m.len() <= 4096, "a message of {} bytes", m.len());
    Some(m)
}

fn net(s: &str) -> IpNet {
    s.parse().expect("prefix")
}

struct Pair {
    now: Instant,
    a: Session,
    b: Session,
    connected: bool,
    cut: bool,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
}

impl Pair {
    fn new(a: Config, b: Config) -> Self {
        let now = Instant::now();
        let mut p = Self {
            now,
            a: Session::new(a),
            b: Session::new(b),
            connected: false,
            cut: false,
            a_events: vec![],
            b_events: vec![],
        };
        p.a.start(now);
        p.b.start(now);
        p
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_millis(10);
            let now = self.now;
            for s in [&mut self.a, &mut self.b] {
                if s.poll_timeout().is_some_and(|t| t <= now) {
                    s.handle_timeout(now);
                }
            }
            // Actions: one TCP connection between the two.
            let mut connect = false;
            let mut close = false;
            for s in [&mut self.a, &mut self.b] {
                while let Some(act) = s.poll_action() {
                    match act {
                        Action::Connect => connect = true,
                        Action::Close => close = true,
                    }
                }
            }
            if close && self.connected {
                self.connected = false;
                // Deliver what was queued before the close (the NOTIFICATION), then drop.
                self.exchange(now);
                self.a.disconnected(now);
                self.b.disconnected(now);
            }
            if connect
                && !self.connected
                && !self.cut
                && self.a.state() == State::Connect
                && self.b.state() == State::Connect
            {
                self.connected = true;
                self.a.connected(now);
                self.b.connected(now);
            }
            self.exchange(now);
            while let Some(e) = self.a.poll_event() {
                self.a_events.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                self.b_events.push(e);
            }
        }
    }

    /// The connection breaks without a NOTIFICATION (a crash, a cable).
    fn break_connection(&mut self) {
        let now = self.now;
        self.connected = false;
        while next_out(&mut self.a).is_some() {}
        while next_out(&mut self.b).is_some() {}
        self.a.disconnected(now);
        self.b.disconnected(now);
    }

    fn exchange(&mut self, now: Instant) {
        for _ in 0..10 {
            let mut moved = false;
            while let Some(bytes) = next_out(&mut self.a) {
                moved = true;
                if !self.cut {
                    self.b.handle_bytes(now, &bytes);
                }
            }
            while let Some(bytes) = next_out(&mut self.b) {
                moved = true;
                if !self.cut {
                    self.a.handle_bytes(now, &bytes);
                }
            }
            if !moved {
                break;
            }
        }
    }
}

fn configs() -> (Config, Config) {
    let mut a = Config::new(64512, "10.0.0.1".parse().expect("ip"), 4_200_000_000);
    let mut b = Config::new(4_200_000_000, "10.0.0.2".parse().expect("ip"), 64512);
    a.hold_time = Duration::from_secs(9);
    b.hold_time = Duration::from_secs(30);
    (a, b)
}

#[test]
fn established_and_routes_exchanged_through_import_filters() {
    let (mut a, b) = configs();
    a.import = ImportFilter::within(&[net("10.1.0.0/16"), net("2001:db8:1::/48")]);
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    assert_eq!(
        (p.a.state(), p.b.state()),
        (State::Established, State::Established)
    );
    p.a.set_next_hops(Some("169.254.0.0".parse().expect("ip")), None);
    p.a.originate(&[net("10.0.0.0/16")]);
    p.b.set_next_hops(
        Some("169.254.0.1".parse().expect("ip")),
        Some("fe80::1".parse().expect("ip")),
    );
    p.b.originate(&[
        net("10.1.0.0/16"),
        net("10.1.5.0/24"),
        net("192.168.0.0/24"),
        net("2001:db8:1::/48"),
    ]);
    p.run(Duration::from_millis(100));
    let a_routes: Vec<String> = p.a.routes().map(|r| r.prefix.to_string()).collect();
    assert_eq!(a_routes, ["10.1.0.0/16", "10.1.5.0/24", "2001:db8:1::/48"]);
    assert_eq!(
        p.a.refused(),
        1,
        "192.168.0.0/24 is outside the import filter"
    );
    assert!(p.a_events.contains(&Event::Refused(net("192.168.0.0/24"))));
    let v6 =
        p.a.routes()
            .find(|r| r.prefix == net("2001:db8:1::/48"))
            .expect("IPv6 route");
    assert_eq!(v6.next_hop.to_string(), "fe80::1");
    let b_route = p.b.routes().next().expect("B learned A's prefix");
    assert_eq!(
        (b_route.prefix, b_route.attrs.as_path.to_vec()),
        (net("10.0.0.0/16"), vec![64512])
    );
    assert_eq!(b_route.next_hop.to_string(), "169.254.0.0");
    // Keepalives keep the session up well past the hold time (9 s negotiated).
    p.run(Duration::from_secs(30));
    assert_eq!(
        (p.a.state(), p.b.state()),
        (State::Established, State::Established)
    );
}

#[test]
fn max_prefix_closes_with_cease_and_withdraws() {
    let (mut a, b) = configs();
    a.max_prefixes = 2;
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    p.b.set_next_hops(Some("169.254.0.1".parse().expect("ip")), None);
    p.b.originate(&[net("10.1.0.0/24"), net("10.1.1.0/24")]);
    p.run(Duration::from_millis(50));
    assert_eq!(p.a.routes().count(), 2);
    p.b.originate(&[net("10.1.0.0/24"), net("10.1.1.0/24"), net("10.1.2.0/24")]);
    p.run(Duration::from_millis(50));
    let sent = p.a_events.iter().find_map(|e| {
        if let Event::NotificationSent(n) = e {
            Some(n.clone())
        } else {
            None
        }
    });
    let sent = sent.expect("A sent a NOTIFICATION");
    assert_eq!(
        (sent.code, sent.subcode),
        (6, 1),
        "Cease / Maximum Number of Prefixes Reached"
    );
    assert_eq!(sent.data, vec![0, 1, 1, 0, 0, 0, 2]);
    assert!(
        p.b_events
            .iter()
            .any(|e| matches!(e, Event::NotificationReceived(n) if n.code == 6 && n.subcode == 1))
    );
    assert_eq!(p.a.routes().count(), 0, "routes are gone with the session");
    assert!(
        p.a_events
            .iter()
            .any(|e| matches!(e, Event::Withdrawn(w) if w.len() == 2))
    );
    // A holds the session down for a while (B keeps announcing too much), then tries again:
    // the session comes back and closes again while B is unchanged, and stays up once B
    // announces within the limit.
    p.run(xc_bgp::session::MAX_PREFIX_HOLD - Duration::from_secs(1));
    assert_eq!(p.a.state(), State::Idle, "held down");
    p.b.originate(&[net("10.1.0.0/24")]);
    p.run(Duration::from_secs(8));
    assert_eq!(p.a.state(), State::Established, "back after the hold");
    assert_eq!(p.a.routes().count(), 1);
}

#[test]
fn wrong_peer_as_is_refused() {
    let (a, mut b) = configs();
    b.remote_asn = 65000;
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    let sent = p.b_events.iter().find_map(|e| {
        if let Event::NotificationSent(n) = e {
            Some((n.code, n.subcode))
        } else {
            None
        }
    });
    assert_eq!(sent, Some((2, 2)), "OPEN Message Error / Bad Peer AS");
    assert_ne!(p.b.state(), State::Established);
}

#[test]
fn hold_timer_expiry_and_garbage() {
    let (a, b) = configs();
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    assert_eq!(p.a.state(), State::Established);
    p.cut = true;
    p.run(Duration::from_secs(10));
    let sent = p.a_events.iter().find_map(|e| {
        if let Event::NotificationSent(n) = e {
            Some(n.code)
        } else {
            None
        }
    });
    assert_eq!(sent, Some(4), "Hold Timer Expired after the negotiated 9 s");
    assert_eq!(p.a.state(), State::Connect);

    let (a, b) = configs();
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    let now = p.now;
    p.a.handle_bytes(now, &[0u8; 19]);
    let sent = p.a.poll_event();
    assert!(p.a.state() == State::Connect, "{sent:?}");
    let n = std::iter::once(sent)
        .flatten()
        .chain(std::iter::from_fn(|| p.a.poll_event()))
        .find_map(|e| {
            if let Event::NotificationSent(n) = e {
                Some((n.code, n.subcode))
            } else {
                None
            }
        });
    assert_eq!(
        n,
        Some((1, 1)),
        "Message Header Error / Connection Not Synchronized"
    );
}

fn nh(p: &mut Pair) {
    p.a.set_next_hops(Some("169.254.0.0".parse().expect("ip")), None);
    p.b.set_next_hops(Some("169.254.0.1".parse().expect("ip")), None);
}

fn prefixes(s: &Session) -> Vec<String> {
    s.routes().map(|r| r.prefix.to_string()).collect()
}

#[test]
fn graceful_restart_keeps_routes_until_end_of_rib() {
    // (A restarting peer that did not keep its forwarding state loses its stale routes as soon
    // as its OPEN says so: see a_restart_without_forwarding_state_drops_stale_routes.)
    let (a, b) = configs();
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    nh(&mut p);
    p.b.originate(&[net("10.1.0.0/24"), net("10.1.1.0/24")]);
    p.run(Duration::from_millis(50));
    assert_eq!(prefixes(&p.a), ["10.1.0.0/24", "10.1.1.0/24"]);
    // B restarts: the connection breaks without a NOTIFICATION.
    p.cut = true;
    p.break_connection();
    assert!(p.a.poll_event().is_some_and(|e| matches!(
        e,
        Event::GracefulRestart { stale: 2, restart_time } if restart_time == Duration::from_secs(120)
    )));
    assert_eq!(
        prefixes(&p.a),
        ["10.1.0.0/24", "10.1.1.0/24"],
        "kept, stale"
    );
    assert_eq!(p.a.stale_routes(), 2);
    p.run(Duration::from_secs(10));
    assert_eq!(
        p.a.routes().count(),
        2,
        "still kept within the restart time"
    );
    // B comes back (a new process that kept its forwarding state) announcing one of the two;
    // after its End-of-RIB the other is gone.
    let mut restarted = configs().1;
    restarted.restarting = true;
    p.b = Session::new(restarted);
    let now = p.now;
    p.b.start(now);
    p.b.set_next_hops(Some("169.254.0.1".parse().expect("ip")), None);
    p.b.originate(&[net("10.1.0.0/24")]);
    p.a_events.clear();
    p.cut = false;
    p.run(Duration::from_secs(6));
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(prefixes(&p.a), ["10.1.0.0/24"]);
    assert_eq!(p.a.stale_routes(), 0);
    assert!(p.a.end_of_rib_received() && p.a.peer_graceful_restart());
    assert!(
        p.a_events
            .iter()
            .any(|e| *e == Event::Withdrawn(vec![net("10.1.1.0/24")])),
        "{:?}",
        p.a_events
    );
}

#[test]
fn stale_routes_go_when_the_restart_time_runs_out() {
    let (a, mut b) = configs();
    b.graceful_restart = Some(Duration::from_secs(30));
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    nh(&mut p);
    p.b.originate(&[net("10.1.0.0/24")]);
    p.run(Duration::from_millis(50));
    p.cut = true;
    p.break_connection();
    p.run(Duration::from_secs(29));
    assert_eq!(p.a.routes().count(), 1);
    p.run(Duration::from_secs(2));
    assert_eq!(p.a.routes().count(), 0, "B's 30 s restart time ran out");
}

#[test]
fn a_notification_is_not_a_graceful_restart() {
    let (a, b) = configs();
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    nh(&mut p);
    p.b.originate(&[net("10.1.0.0/24")]);
    p.run(Duration::from_millis(50));
    let now = p.now;
    p.b.stop(now);
    p.run(Duration::from_millis(50));
    assert_eq!(p.a.routes().count(), 0);
    assert!(
        p.a_events
            .iter()
            .any(|e| matches!(e, Event::NotificationReceived(n) if (n.code, n.subcode) == (6, 2)))
    );
    assert_eq!(
        p.b.state(),
        State::Idle,
        "a stopped session does not reconnect"
    );
}

#[test]
fn narrowing_and_widening_the_import_filter_live() {
    let (a, b) = configs();
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    nh(&mut p);
    p.b.originate(&[net("10.1.0.0/24"), net("10.2.0.0/24")]);
    p.run(Duration::from_millis(50));
    assert_eq!(p.a.routes().count(), 2);
    let now = p.now;
    p.a.set_import(now, ImportFilter::within(&[net("10.1.0.0/16")]), 100);
    p.run(Duration::from_millis(50));
    assert_eq!(prefixes(&p.a), ["10.1.0.0/24"]);
    assert_eq!(
        p.a.prefixes_received(),
        2,
        "10.2.0.0/24 came again and was refused"
    );
    let now = p.now;
    p.a.set_import(now, ImportFilter::Any, 100);
    p.run(Duration::from_millis(50));
    assert_eq!(
        prefixes(&p.a),
        ["10.1.0.0/24", "10.2.0.0/24"],
        "the ROUTE-REFRESH brought it back"
    );
    assert_eq!(p.a.state(), State::Established);
}

#[test]
fn communities_set_local_preference_and_prepends_lengthen_the_path() {
    let (a, mut b) = configs();
    b.prepend = 2;
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    p.a.set_next_hops(None, Some("fd00::1".parse().expect("ip")));
    p.b.set_next_hops(
        Some("169.254.0.1".parse().expect("ip")),
        Some("fd00::2".parse().expect("ip")),
    );
    let attrs = Arc::new(ExportAttrs {
        as_path: vec![],
        origin: Origin::Igp,
        communities: vec![(7224 << 16) | 7300],
    });
    p.b.set_exports(BTreeMap::from([(net("10.1.0.0/24"), attrs)]));
    p.run(Duration::from_millis(50));
    let r = p.a.routes().next().expect("route");
    assert_eq!(r.attrs.local_pref, 200, "7224:7300 is high preference");
    assert_eq!(r.attrs.as_path.to_vec(), vec![4_200_000_000; 3]);
}

#[test]
fn a_malformed_attribute_withdraws_instead_of_resetting() {
    let (a, b) = configs();
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    nh(&mut p);
    p.b.originate(&[net("10.1.0.0/24")]);
    p.run(Duration::from_millis(50));
    assert_eq!(p.a.routes().count(), 1);
    // An UPDATE for 10.1.0.0/24 whose ORIGIN is 5 (there is no such origin).
    let mut m = vec![0xff; 16];
    let body = [0, 0, 0, 7, 0x40, 1, 1, 5, 0x40, 2, 0, 24, 10, 1, 0];
    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    m.push(2);
    m.extend_from_slice(&body);
    let now = p.now;
    p.a.handle_bytes(now, &m);
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(p.a.routes().count(), 0);
    assert_eq!(p.a.counters().treated_as_withdraw, 1);
}

#[test]
fn a_large_table_is_packed_into_few_updates() {
    let (mut a, b) = configs();
    a.max_prefixes = 100_000;
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    nh(&mut p);
    let table: Vec<IpNet> = (0..20_000u32)
        .map(|i| IpNet::V4(ipnet::Ipv4Net::new((0x0a00_0000 + (i << 8)).into(), 24).expect("len")))
        .collect();
    let before = p.b.counters().updates_sent;
    p.b.originate(&table);
    p.run(Duration::from_millis(50));
    assert_eq!(p.a.routes().count(), 20_000);
    let updates = p.b.counters().updates_sent - before;
    // 4 bytes per /24 and about 4,050 bytes of NLRI per UPDATE: 20 UPDATEs.
    assert!(updates <= 21, "{updates} UPDATEs");
    p.b.originate(&table[..10]);
    p.run(Duration::from_millis(50));
    assert_eq!(p.a.routes().count(), 10);
}

#[test]
fn a_restart_without_forwarding_state_drops_stale_routes() {
    let (a, b) = configs();
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    nh(&mut p);
    p.b.originate(&[net("10.1.0.0/24")]);
    p.run(Duration::from_millis(50));
    p.break_connection();
    assert_eq!(p.a.stale_routes(), 1);
    p.a_events.clear();
    p.run(Duration::from_secs(6));
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(
        p.a_events
            .iter()
            .filter(|e| matches!(e, Event::Withdrawn(_)))
            .count(),
        1,
        "withdrawn at B's OPEN (no Forwarding State bit), then learned again"
    );
    assert_eq!(prefixes(&p.a), ["10.1.0.0/24"]);
}

// ---------------------------------------------------------------------------------------------
// One neighbour and its connections ([`xc_bgp::peer::Peer`]) against a scripted peer: the
// messages a real peer would send, written by hand with the codec.

mod scripted {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};
    use xc_bgp::message::codes::CeaseSubcode;
    use xc_bgp::message::{AFI_IPV4, SAFI_UNICAST};
    use xc_bgp::peer::{ConnId, Output, Peer, PeerEvent};
    use xc_bgp::{Capability, Message, Notification, Open};

    const OURS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(169, 254, 0, 2));
    const A: ConnId = 1;
    const B: ConnId = 2;
    const C: ConnId = 3;

    /// The scripted peer's OPEN: AS 65002, identifier `id`, graceful restart if `gr`.
    fn open(id: Ipv4Addr, gr: bool) -> Vec<u8> {
        let mut capabilities = vec![
            Capability::Multiprotocol {
                afi: AFI_IPV4,
                safi: SAFI_UNICAST,
            },
            Capability::RouteRefresh,
            Capability::FourOctetAs(65_002),
        ];
        if gr {
            capabilities.push(Capability::GracefulRestart {
                restarting: true,
                time: 120,
                families: vec![(AFI_IPV4, SAFI_UNICAST, true)],
            });
        }
        Message::Open(Open {
            version: 4,
            asn: 65_002,
            hold_time: 90,
            router_id: id,
            capabilities,
        })
        .encode()
    }

    fn keepalive() -> Vec<u8> {
        Message::Keepalive.encode()
    }

    fn cease(sub: CeaseSubcode) -> Vec<u8> {
        Message::Notification(Notification::cease(sub)).encode()
    }

    struct Sim {
        now: Instant,
        peer: Peer,
        out: Vec<Output>,
        events: Vec<PeerEvent>,
    }

    impl Sim {
        fn new(gr: bool) -> Self {
            let now = Instant::now();
            let mut cfg = Config::new(65_001, OURS, 65_002);
            cfg.graceful_restart = gr.then(|| Duration::from_secs(120));
            let mut s = Self {
                now,
                peer: Peer::new(cfg, now),
                out: Vec::new(),
                events: Vec::new(),
            };
            s.peer.start(now);
            s.drain();
            s
        }

        fn drain(&mut self) {
            loop {
                let mut more = false;
                while let Some(o) = self.peer.poll_output() {
                    self.out.push(o);
                    more = true;
                }
                while let Some((c, u)) = self.peer.poll_update() {
                    self.out.push(Output::Send(c, u));
                    more = true;
                }
                while let Some(e) = self.peer.poll_event() {
                    self.events.push(e);
                    more = true;
                }
                if !more {
                    return;
                }
            }
        }

        fn take(&mut self) -> Vec<Output> {
            std::mem::take(&mut self.out)
        }

        fn bytes(&mut self, c: ConnId, data: &[u8]) {
            self.now += Duration::from_millis(10);
            self.peer.bytes(self.now, c, data);
            self.drain();
        }

        /// We connect (attempt 1 gives connection `A`) and send our OPEN on it.
        fn connect_a(&mut self) {
            assert_eq!(self.take(), vec![Output::Connect { attempt: 1 }]);
            self.peer.connect_done(self.now, 1, Ok((A, LOCAL)));
            self.drain();
            let out = self.take();
            assert!(
                matches!(&out[..], [Output::Send(A, m)] if m[18] == 1),
                "{out:?}"
            );
        }

        fn state(&self) -> State {
            self.peer.session().state()
        }
    }

    fn sent_on(out: &[Output], c: ConnId, msg: &[u8]) -> bool {
        out.iter()
            .any(|o| matches!(o, Output::Send(x, m) if *x == c && m == msg))
    }

    fn closed(out: &[Output], c: ConnId) -> bool {
        out.contains(&Output::Close(c))
    }

    /// The race that once failed CI with BIRD: a collision is pending when the peer's OPEN and
    /// KEEPALIVE arrive together on the first connection. That connection is Established on both
    /// ends by then and stays, though the peer's higher identifier would pick the other.
    #[test]
    fn a_collision_decided_after_established_keeps_the_established_connection() {
        let mut s = Sim::new(false);
        s.connect_a();
        s.peer.accepted(s.now, B, LOCAL);
        s.drain();
        let out = s.take();
        assert!(
            matches!(&out[..], [Output::Send(B, m)] if m[18] == 1),
            "our OPEN on B: {out:?}"
        );
        let higher = Ipv4Addr::new(10, 0, 0, 9);
        s.bytes(A, &[open(higher, false), keepalive()].concat());
        let out = s.take();
        assert_eq!(s.state(), State::Established);
        assert_eq!(s.peer.connection(), Some(A));
        assert!(sent_on(&out, A, &keepalive()), "{out:?}");
        assert!(
            sent_on(&out, B, &cease(CeaseSubcode::ConnectionCollisionResolution))
                && closed(&out, B),
            "{out:?}"
        );
        assert!(!closed(&out, A));
        assert!(
            s.events
                .contains(&PeerEvent::CollisionResolved { kept: A, closed: B })
        );
    }

    /// RFC 4271 6.8 by the identifiers: the connection opened by the speaker with the higher one
    /// stays.
    #[test]
    fn a_collision_keeps_the_connection_of_the_higher_identifier() {
        for (theirs, keep) in [
            (Ipv4Addr::new(10, 0, 0, 9), B),
            (Ipv4Addr::new(10, 0, 0, 0), A),
        ] {
            let mut s = Sim::new(false);
            s.connect_a();
            s.peer.accepted(s.now, B, LOCAL);
            s.drain();
            s.take();
            // The peer's OPEN on A gives its identifier: the collision is decided at once.
            s.bytes(A, &open(theirs, false));
            let out = s.take();
            let lose = if keep == A { B } else { A };
            assert!(
                sent_on(
                    &out,
                    lose,
                    &cease(CeaseSubcode::ConnectionCollisionResolution)
                ) && closed(&out, lose),
                "{theirs}: {out:?}"
            );
            assert_eq!(s.peer.connection(), Some(keep), "{theirs}");
            // The session goes on on the connection kept: on A the peer's OPEN was read already,
            // on B it comes now.
            if keep == B {
                s.bytes(B, &open(theirs, false));
            }
            s.bytes(keep, &keepalive());
            assert_eq!(s.state(), State::Established, "{theirs}: {:?}", s.events);
        }
    }

    /// A peer that restarted opens a new session while ours is Established: recognised from the
    /// OPEN on the new connection, which replaces the old one; with graceful restart the routes
    /// stay, stale, until the peer sends them again.
    #[test]
    fn a_restarting_peer_is_recognised_from_its_open() {
        let mut s = Sim::new(true);
        s.connect_a();
        let theirs = Ipv4Addr::new(10, 0, 0, 9);
        s.bytes(A, &[open(theirs, true), keepalive()].concat());
        assert_eq!(s.state(), State::Established);
        let update = Message::Update(xc_bgp::Update {
            attributes: vec![
                xc_bgp::Attribute::Origin(Origin::Igp),
                xc_bgp::Attribute::AsPath(vec![xc_bgp::AsPathSegment::Sequence(vec![65_002])]),
                xc_bgp::Attribute::NextHop(Ipv4Addr::new(169, 254, 0, 3)),
            ],
            nlri: vec!["10.9.0.0/16".parse().expect("net")],
            ..xc_bgp::Update::default()
        })
        .encode();
        s.bytes(A, &update);
        assert_eq!(s.peer.session().prefixes_accepted(), 1);
        s.take();
        // A new connection: nothing happens until it says what it is.
        s.peer.accepted(s.now, C, LOCAL);
        s.drain();
        assert!(s.take().is_empty());
        assert_eq!(s.peer.connection(), Some(A));
        let o = open(theirs, true);
        s.bytes(C, &o[..10]);
        assert_eq!(s.peer.connection(), Some(A), "half an OPEN decides nothing");
        s.bytes(C, &o[10..]);
        assert!(s.events.contains(&PeerEvent::Restarted { graceful: true }));
        let out = s.take();
        assert!(closed(&out, A), "{out:?}");
        assert_eq!(s.peer.connection(), Some(C));
        assert_eq!(s.peer.session().stale_routes(), 1, "kept, stale");
        assert_eq!(s.state(), State::OpenConfirm, "the peer's OPEN was read");
        assert!(
            out.iter()
                .any(|o| matches!(o, Output::Send(C, m) if m[18] == 1)),
            "our OPEN on C"
        );
        s.bytes(C, &keepalive());
        assert_eq!(s.state(), State::Established);
    }

    /// A connection from the peer while Established that starts with anything but an OPEN is not
    /// a new session: it is closed and the session stays.
    #[test]
    fn a_second_connection_without_an_open_is_closed() {
        let mut s = Sim::new(false);
        s.connect_a();
        s.bytes(
            A,
            &[open(Ipv4Addr::new(10, 0, 0, 9), false), keepalive()].concat(),
        );
        s.take();
        s.peer.accepted(s.now, C, LOCAL);
        s.bytes(C, &keepalive());
        let out = s.take();
        assert_eq!(out, vec![Output::Close(C)]);
        assert_eq!(s.peer.connection(), Some(A));
        assert_eq!(s.state(), State::Established);
    }

    /// A connection while the session is stopped is refused with Cease / Connection Rejected;
    /// a connect that completes after an incoming connection was taken is closed unused.
    #[test]
    fn refused_and_abandoned_connections() {
        let mut s = Sim::new(false);
        s.peer.stop(s.now);
        s.drain();
        s.take();
        s.peer.accepted(s.now, B, LOCAL);
        s.drain();
        let out = s.take();
        assert!(sent_on(&out, B, &cease(CeaseSubcode::ConnectionRejected)) && closed(&out, B));

        let mut s = Sim::new(false);
        assert_eq!(s.take(), vec![Output::Connect { attempt: 1 }]);
        s.peer.accepted(s.now, B, LOCAL);
        s.drain();
        s.take();
        s.peer.connect_done(s.now, 1, Ok((A, LOCAL)));
        s.drain();
        assert_eq!(s.take(), vec![Output::Close(A)]);
        assert_eq!(s.peer.connection(), Some(B));
    }
}

/// A table that changes many times while the peer reads nothing is sent once, as it is when
/// the peer reads again: the UPDATEs are made when asked for, so nothing piles up meanwhile.
#[test]
fn changes_while_the_peer_does_not_read_are_sent_once() {
    let (mut a, b) = configs();
    a.max_prefixes = 200_000;
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    nh(&mut p);
    let table: Vec<IpNet> = (0..100_000u32)
        .map(|i| IpNet::V4(ipnet::Ipv4Net::new((0x0a00_0000 + (i << 8)).into(), 24).expect("len")))
        .collect();
    let before = p.b.counters().updates_sent;
    for round in 0..10 {
        // B's table changes; A reads nothing meanwhile (B's UPDATEs are not asked for).
        p.b.originate(&table[..table.len() - round]);
        assert_eq!(p.b.counters().updates_sent, before, "nothing made yet");
    }
    p.run(Duration::from_millis(50));
    assert_eq!(p.a.routes().count(), 100_000 - 9);
    let updates = p.b.counters().updates_sent - before;
    // About 1,000 /24s per UPDATE: the final table once, not ten times.
    assert!(updates <= 110, "{updates} UPDATEs");
}

/// Long AS paths, many communities and IPv6: every UPDATE stays within 4,096 bytes (checked on
/// every message by `next_out`) and every prefix arrives.
#[test]
fn large_attributes_still_fit_in_a_message() {
    let (mut a, mut b) = configs();
    a.max_prefixes = 10_000;
    b.prepend = 60;
    a.import = ImportFilter::Any;
    let mut p = Pair::new(a, b);
    p.run(Duration::from_millis(100));
    p.a.set_next_hops(None, Some("fd00::1".parse().expect("ip")));
    p.b.set_next_hops(
        Some("169.254.0.1".parse().expect("ip")),
        Some("fd00::2".parse().expect("ip")),
    );
    let attrs = Arc::new(ExportAttrs {
        as_path: (1..=300).collect(),
        origin: Origin::Igp,
        communities: (0..200).map(|i| (64_000 << 16) | i).collect(),
    });
    let mut exports = BTreeMap::new();
    for i in 0..3_000u32 {
        let v4 = IpNet::V4(ipnet::Ipv4Net::new((0x0b00_0000 + (i << 8)).into(), 24).expect("len"));
        let v6 = IpNet::V6(
            ipnet::Ipv6Net::new(
                std::net::Ipv6Addr::from((0x2001_0db8_u128 << 96) | (u128::from(i) << 64)),
                64,
            )
            .expect("len"),
        );
        exports.insert(v4, attrs.clone());
        exports.insert(v6, attrs.clone());
    }
    p.b.set_exports(exports);
    p.run(Duration::from_millis(100));
    assert_eq!(p.a.routes().count(), 6_000);
}
