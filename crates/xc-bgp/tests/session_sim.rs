//! Two BGP speakers over an in-memory connection with a fake clock: they reach Established,
//! exchange prefixes through their import filters, and close with the right NOTIFICATION on a
//! max-prefix overflow, a wrong peer AS, garbage, or an expired hold timer.

use ipnet::IpNet;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use xc_bgp::Origin;
use xc_bgp::session::{Action, Config, Event, ExportAttrs, ImportFilter, Session, State};

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
        while self.a.poll_transmit().is_some() {}
        while self.b.poll_transmit().is_some() {}
        self.a.disconnected(now);
        self.b.disconnected(now);
    }

    fn exchange(&mut self, now: Instant) {
        for _ in 0..10 {
            let mut moved = false;
            while let Some(bytes) = self.a.poll_transmit() {
                moved = true;
                if !self.cut {
                    self.b.handle_bytes(now, &bytes);
                }
            }
            while let Some(bytes) = self.b.poll_transmit() {
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
    nh(&mut p);
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
