//! The gateway's BGP speaker against the routers people run: BIRD 2, FRR 8 and GoBGP 3, each as
//! the remote router in its own network namespace over a veth. Every test checks the session, the
//! prefixes both ways in the kernel tables, ping across, and one behaviour of the interop matrix
//! (IPv4, IPv6, TCP MD5, BFD, graceful restart). Needs root and the Debian packages bird2, frr,
//! gobgpd, iproute2 and iputils-ping (`.ci/run` installs them). Namespaces are removed by exact
//! name even when a test fails; each daemon runs in the foreground with its own config, socket
//! and pid paths and is stopped by its pid.

mod netns;

use netns::{ADDR4, ADDR6, Daemon, Pair, chown, frr_daemon, wait_for};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const GW: usize = 0;
const PEER: usize = 1;
/// Generous: sessions come up in about a second here.
const UP: Duration = Duration::from_secs(45);

/// A gateway in namespace A (AS 64512, announcing 10.0.0.0/16 and fd10::/48 from addresses on
/// its loopback) and a peer router in namespace B (announcing 10.50.0.0/24 and fd50::/48).
struct Lab {
    gw: Option<Daemon>,
    peers: Vec<Daemon>,
    pair: Pair,
}

/// One `[[bgp.neighbor]]` of the gateway's configuration.
fn neighbor(address: &str, asn: u32, extra: &str) -> String {
    format!(
        "[[bgp.neighbor]]\naddress = \"{address}\"\nremote_asn = {asn}\nimport = [\"10.50.0.0/16 le 24\", \"fd50::/32\"]\nhold_time = 90\nconnect_retry_secs = 1\n{extra}\n"
    )
}

impl Lab {
    fn new(tag: &str) -> Self {
        let pair = Pair::new(tag);
        for (side, v4, v6) in [
            (GW, "10.0.0.1/16", "fd10::1/48"),
            (PEER, "10.50.0.1/24", "fd50::1/48"),
        ] {
            pair.exec_ok(side, &["ip", "addr", "add", v4, "dev", "lo"]);
            pair.exec_ok(side, &["ip", "addr", "add", v6, "dev", "lo"]);
        }
        Lab {
            gw: None,
            peers: Vec::new(),
            pair,
        }
    }

    fn start_gateway(&mut self, neighbors: &str) {
        let cfg = self.pair.path("gw.toml");
        if !cfg.exists() {
            let text = format!(
                "[gateway]\nname = \"gw\"\nadmin_listen = \"127.0.0.1:7801\"\n\n[bgp]\nasn = 64512\nrouter_id = \"10.0.0.1\"\nannounce = [\"10.0.0.0/16\", \"fd10::/48\"]\n\n{neighbors}"
            );
            std::fs::write(&cfg, text).expect("gateway config");
        }
        let n = self.peers.len() + usize::from(self.gw.is_some());
        let gw = self.pair.spawn(
            GW,
            &format!("gateway-{n}"),
            &[
                env!("CARGO_BIN_EXE_xconnect"),
                "gateway",
                "run",
                "--config",
                &cfg.display().to_string(),
                "--log",
                "info,xc_gateway=debug",
            ],
        );
        self.gw = Some(gw);
    }

    fn status(&self) -> Value {
        let out = self.pair.exec(
            GW,
            &[
                env!("CARGO_BIN_EXE_xconnect"),
                "gateway",
                "status",
                "--output",
                "json",
            ],
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    fn neighbor(&self, address: &str) -> Value {
        self.status()["bgp"]["neighbors"]
            .as_array()
            .and_then(|l| l.iter().find(|n| n["address"] == address).cloned())
            .unwrap_or(Value::Null)
    }

    fn context(&self) -> String {
        let mut s = format!(
            "gateway status: {}\n",
            serde_json::to_string_pretty(&self.status()).unwrap_or_default()
        );
        for d in self.gw.iter().chain(self.peers.iter()) {
            let log = d.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            s += &format!(
                "--- {} (last lines, newest first)\n{}\n",
                d.name,
                tail.join("\n")
            );
        }
        if self.pair.path("bird.ctl").exists() {
            s += &format!(
                "--- birdc show protocols all\n{}\n--- birdc show bfd sessions\n{}\n",
                self.birdc("show protocols all"),
                self.birdc("show bfd sessions")
            );
        }
        s += &format!(
            "--- routes A\n{}{}--- routes B\n{}{}",
            self.pair.routes(GW, false),
            self.pair.routes(GW, true),
            self.pair.routes(PEER, false),
            self.pair.routes(PEER, true)
        );
        s
    }

    fn wait(&self, what: &str, deadline: Duration, f: impl FnMut() -> bool) -> Duration {
        wait_for(what, deadline, f, || self.context())
    }

    fn wait_state(&self, address: &str, state: &str) {
        self.wait(
            &format!("the session with {address} to be {state}"),
            UP,
            || self.neighbor(address)["state"] == state,
        );
    }

    /// Whether `side`'s kernel has a route to `prefix` whose line contains `via` (FRR's routes
    /// carry a nexthop id between the two).
    fn has_route(&self, side: usize, prefix: &str, via: &str) -> bool {
        self.pair
            .routes(side, prefix.contains(':'))
            .lines()
            .any(|l| l.starts_with(&format!("{prefix} ")) && l.contains(via))
    }

    /// Asserts that `f` stays true for 3 s, looking every 100 ms: an outcome that must hold, not
    /// a wait.
    fn holds(&self, what: &str, f: impl Fn() -> bool) {
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            assert!(f(), "{what}\n{}", self.context());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The peer went away without a NOTIFICATION: its route is kept, stale, and stays in the
    /// gateway's kernel.
    fn peer_route_kept_stale(&self) {
        self.wait("the routes to be kept as stale", UP, || {
            self.neighbor(ADDR4[PEER])["staleRoutes"] == 1
        });
        self.holds("the stale route stays in the kernel", || {
            self.has_route(GW, "10.50.0.0/24", "via 169.254.100.2")
        });
    }

    /// The gateway starts again from its file, as a restarting speaker, and finishes its
    /// restart (every session back with its table).
    fn restart_gateway_gracefully(&mut self) {
        self.start_gateway("");
        self.wait_state(ADDR4[PEER], "Established");
        self.wait("the gateway's restart to finish", UP, || {
            self.gw
                .as_ref()
                .is_some_and(|g| g.log_text().contains("graceful restart done"))
        });
    }

    /// Each side has the other's route in its kernel.
    fn routes_both_ways(&self) {
        for (side, prefix, via) in [
            (GW, "10.50.0.0/24", "via 169.254.100.2"),
            (PEER, "10.0.0.0/16", "via 169.254.100.1"),
        ] {
            assert!(
                self.has_route(side, prefix, via),
                "{prefix} {via}\n{}",
                self.context()
            );
        }
    }

    /// Waits until `side`'s kernel has (or has not) a route to `prefix` matching `via`.
    fn wait_route(&self, side: usize, prefix: &str, via: &str, present: bool) -> Duration {
        self.wait(
            &format!(
                "{prefix} {} the kernel of {}",
                if present { "in" } else { "gone from" },
                self.pair.ns[side]
            ),
            UP,
            || self.has_route(side, prefix, via) == present,
        )
    }

    fn ping(&self, from: &str, to: &str) {
        self.wait(&format!("ping {from} -> {to}"), UP, || {
            self.pair.ping(GW, from, to)
        });
    }
}

// ---------------------------------------------------------------------------------------------
// BIRD

struct BirdOpts<'a> {
    v4: bool,
    v6: bool,
    password: Option<&'a str>,
    /// A password for the IPv6 session only (to test a wrong one beside a right one).
    password6: Option<&'a str>,
    bfd: bool,
    graceful_restart: bool,
    /// Extra static routes BIRD announces (beyond 10.50.0.0/24).
    extra4: &'a [&'a str],
    /// A second IPv4 session over the second veth (169.254.101.0/30).
    second: bool,
}

impl Default for BirdOpts<'_> {
    fn default() -> Self {
        Self {
            v4: true,
            v6: false,
            password: None,
            password6: None,
            bfd: false,
            graceful_restart: false,
            extra4: &[],
            second: false,
        }
    }
}

fn bird_conf(o: &BirdOpts<'_>) -> String {
    let statics: String = std::iter::once("10.50.0.0/24")
        .chain(o.extra4.iter().copied())
        .map(|r| format!("route {r} blackhole; "))
        .collect();
    let common = |pw: Option<&str>| {
        let mut s =
            String::from("connect retry time 1; connect delay time 1; error wait time 1, 2;");
        if let Some(p) = pw {
            s += &format!(" password \"{p}\";");
        }
        if o.bfd {
            s += " bfd on;";
        }
        if o.graceful_restart {
            s += " graceful restart on;";
        }
        s
    };
    let mut c = format!(
        "router id {};\nprotocol device {{ }}\nprotocol static originate4 {{ ipv4; {statics}}}\nprotocol static originate6 {{ ipv6; route fd50::/48 blackhole; }}\nprotocol kernel kernel4 {{ ipv4 {{ import none; export where source = RTS_BGP; }}; }}\nprotocol kernel kernel6 {{ ipv6 {{ import none; export where source = RTS_BGP; }}; }}\n",
        ADDR4[PEER]
    );
    if o.bfd {
        c += "protocol bfd { interface \"*\" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }\n";
    }
    if o.v4 {
        c += &format!(
            "protocol bgp cpe4 {{ local {} as 65010; neighbor {} as 64512; {} ipv4 {{ import all; export where source = RTS_STATIC; }}; }}\n",
            ADDR4[PEER],
            ADDR4[GW],
            common(o.password)
        );
    }
    if o.second {
        c += &format!(
            "protocol bgp cpe4b {{ local 169.254.101.2 as 65010; neighbor 169.254.101.1 as 64512; {} ipv4 {{ import all; export where source = RTS_STATIC; }}; }}\n",
            common(o.password)
        );
    }
    if o.v6 {
        c += &format!(
            "protocol bgp cpe6 {{ local {} as 65010; neighbor {} as 64512; {} ipv6 {{ import all; export where source = RTS_STATIC; }}; }}\n",
            ADDR6[PEER],
            ADDR6[GW],
            common(o.password6.or(o.password))
        );
    }
    c
}

impl Lab {
    fn start_bird(&mut self, o: &BirdOpts<'_>, recovering: bool) {
        let conf = self.pair.path("bird.conf");
        std::fs::write(&conf, bird_conf(o)).expect("bird.conf");
        let ctl = self.pair.path("bird.ctl").display().to_string();
        let pid = self.pair.path("bird.pid").display().to_string();
        let conf = conf.display().to_string();
        let mut args = vec!["bird", "-f", "-c", &conf, "-s", &ctl, "-P", &pid];
        if recovering {
            args.push("-R"); // graceful restart recovery
        }
        let n = self.peers.len();
        let d = self.pair.spawn(PEER, &format!("bird-{n}"), &args);
        self.peers.push(d);
        self.wait("BIRD's control socket", UP, || {
            self.pair.path("bird.ctl").exists()
        });
    }

    fn birdc(&self, cmd: &str) -> String {
        let ctl = self.pair.path("bird.ctl").display().to_string();
        let mut args = vec!["birdc", "-s", &ctl];
        args.extend(cmd.split(' '));
        String::from_utf8_lossy(&netns::run(&args).stdout).into_owned()
    }

    fn bird_established(&self, proto: &str) -> bool {
        self.birdc(&format!("show protocols all {proto}"))
            .contains("BGP state:          Established")
    }
}

#[test]
fn bird_ipv4_routes_both_ways_refusal_withdrawal_and_notification() {
    let mut lab = Lab::new("bgpb4");
    lab.start_bird(
        &BirdOpts {
            extra4: &["192.168.77.0/24"],
            ..BirdOpts::default()
        },
        false,
    );
    lab.start_gateway(&neighbor(ADDR4[PEER], 65010, ""));
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait("BIRD to see Established", UP, || {
        lab.bird_established("cpe4")
    });
    lab.wait_route(
        GW,
        "10.50.0.0/24",
        "via 169.254.100.2 dev bgpb4-a proto bgp",
        true,
    );
    lab.wait_route(PEER, "10.0.0.0/16", "via 169.254.100.1", true);
    lab.ping("10.0.0.1", "10.50.0.1");
    // What an operator reads: the neighbour table and the routes.
    let table = lab
        .pair
        .exec_ok(GW, &[env!("CARGO_BIN_EXE_xconnect"), "gateway", "status"]);
    assert!(
        table.contains("169.254.100.2")
            && table.contains("Established")
            && table.contains("10.50.0.0/24  169.254.100.2"),
        "{table}"
    );
    // The prefix outside the import filter is refused, counted and reported.
    let n = lab.neighbor(ADDR4[PEER]);
    assert_eq!(n["prefixesReceived"], 2, "{n}");
    assert_eq!(n["prefixesAccepted"], 1, "{n}");
    assert_eq!(n["prefixesSent"], 1, "only IPv4 is negotiated: {n}");
    assert_eq!(n["refusedPrefixes"][0], "192.168.77.0/24", "{n}");
    assert!(!lab.pair.routes(GW, false).contains("192.168.77.0"));
    // Withdrawal: BIRD stops announcing; the route leaves the kernel; and comes back.
    lab.birdc("disable originate4");
    lab.wait_route(GW, "10.50.0.0/24", "proto bgp", false);
    lab.birdc("enable originate4");
    lab.wait_route(GW, "10.50.0.0/24", "proto bgp", true);
    // A NOTIFICATION from the peer: BIRD shuts the session down administratively.
    lab.birdc("disable cpe4");
    lab.wait("the NOTIFICATION to be reported", UP, || {
        lab.neighbor(ADDR4[PEER])["lastError"]["message"]
            .as_str()
            .is_some_and(|e| e.contains("NOTIFICATION received: Cease / Administrative Shutdown"))
    });
    lab.wait_route(GW, "10.50.0.0/24", "proto bgp", false);
    assert_ne!(lab.neighbor(ADDR4[PEER])["state"], "Established");
    // Metrics carry the session.
    let metrics = lab.pair.exec_ok(GW, &["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/7801; printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3"]);
    assert!(
        metrics.contains(
            "xconnect_bgp_session_established{gateway=\"gw\",neighbor=\"169.254.100.2\"} 0"
        ),
        "{metrics}"
    );
}

#[test]
fn bird_ipv6_session() {
    let mut lab = Lab::new("bgpb6");
    lab.start_bird(
        &BirdOpts {
            v4: false,
            v6: true,
            ..BirdOpts::default()
        },
        false,
    );
    lab.start_gateway(&neighbor(ADDR6[PEER], 65010, ""));
    lab.wait_state(ADDR6[PEER], "Established");
    lab.wait_route(
        GW,
        "fd50::/48",
        "via fd00:100::2 dev bgpb6-a proto bgp",
        true,
    );
    lab.wait_route(PEER, "fd10::/48", "via fd00:100::1", true);
    lab.ping("fd10::1", "fd50::1");
    let n = lab.neighbor(ADDR6[PEER]);
    assert_eq!(
        (n["prefixesAccepted"].as_u64(), n["prefixesSent"].as_u64()),
        (Some(1), Some(1)),
        "{n}\n{}",
        lab.context()
    );
}

#[test]
fn bird_md5_with_the_right_and_a_wrong_password() {
    let mut lab = Lab::new("bgpbm");
    lab.start_bird(
        &BirdOpts {
            v6: true,
            password: Some("s3cret-4"),
            password6: Some("birds-password"),
            ..BirdOpts::default()
        },
        false,
    );
    lab.start_gateway(&format!(
        "{}{}",
        neighbor(ADDR4[PEER], 65010, "md5_password = \"s3cret-4\""),
        neighbor(ADDR6[PEER], 65010, "md5_password = \"not-birds-password\"")
    ));
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait_route(GW, "10.50.0.0/24", "proto bgp", true);
    lab.ping("10.0.0.1", "10.50.0.1");
    assert_eq!(lab.neighbor(ADDR4[PEER])["md5"], true);
    // The wrong password: no session, and the reason is reported.
    lab.wait("the failed MD5 session to be reported", UP, || {
        lab.neighbor(ADDR6[PEER])["connectError"]
            .as_str()
            .is_some_and(|e| e.contains("TCP MD5"))
    });
    std::thread::sleep(Duration::from_secs(3)); // an outcome that must stay true, not a wait
    assert_ne!(
        lab.neighbor(ADDR6[PEER])["state"],
        "Established",
        "{}",
        lab.context()
    );
    assert!(!lab.bird_established("cpe6"));
    assert!(!lab.pair.routes(GW, true).contains("fd50::/48"));
}

#[test]
fn bird_bfd_takes_the_route_out_when_the_link_is_cut() {
    let mut lab = Lab::new("bgpbf");
    lab.start_bird(
        &BirdOpts {
            bfd: true,
            ..BirdOpts::default()
        },
        false,
    );
    // Hold time 90 s: only BFD can take the route out within the deadline below.
    lab.start_gateway(&neighbor(ADDR4[PEER], 65010, "bfd = true"));
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait("BFD Up", UP, || {
        lab.neighbor(ADDR4[PEER])["bfd"]["state"] == "Up"
    });
    lab.wait_route(GW, "10.50.0.0/24", "proto bgp", true);
    lab.wait("BIRD's BFD session Up", UP, || {
        lab.birdc("show bfd sessions").contains(" Up ")
    });
    lab.pair.link(PEER, false);
    let took = lab.wait_route(GW, "10.50.0.0/24", "proto bgp", false);
    eprintln!("route gone from the kernel {took:?} after the link was cut (BFD 100 ms x 3)");
    assert!(
        took < Duration::from_secs(30),
        "BFD, not the 90 s hold timer"
    );
    lab.wait("the BFD failure to be reported", UP, || {
        let n = lab.neighbor(ADDR4[PEER]);
        n["bfd"]["downTransitions"] == 1
            && n["lastError"]["message"]
                .as_str()
                .is_some_and(|e| e.contains("BFD"))
    });
}

#[test]
fn bird_restarting_gracefully_keeps_its_routes_in_the_kernel() {
    let mut lab = Lab::new("bgpbg");
    let opts = BirdOpts {
        graceful_restart: true,
        ..BirdOpts::default()
    };
    lab.start_bird(&opts, false);
    lab.start_gateway(&neighbor(ADDR4[PEER], 65010, ""));
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait_route(GW, "10.50.0.0/24", "proto bgp", true);
    // BIRD crashes: its connection closes without a NOTIFICATION; the route stays, stale.
    let mut bird = lab.peers.pop().expect("bird");
    bird.crash();
    let _ = std::fs::remove_file(lab.pair.path("bird.ctl"));
    lab.peers.push(bird);
    lab.peer_route_kept_stale();
    lab.ping("10.0.0.1", "10.50.0.1");
    // BIRD comes back in graceful-restart recovery and sends its table and End-of-RIB.
    lab.start_bird(&opts, true);
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait("End-of-RIB to clear the stale mark", UP, || {
        lab.neighbor(ADDR4[PEER])["staleRoutes"] == 0
    });
    assert!(
        lab.pair
            .routes(GW, false)
            .contains("10.50.0.0/24 via 169.254.100.2"),
        "{}",
        lab.context()
    );
    lab.ping("10.0.0.1", "10.50.0.1");
}

#[test]
fn gateway_restarting_gracefully_keeps_traffic_flowing() {
    let mut lab = Lab::new("bgpgr");
    lab.start_bird(
        &BirdOpts {
            graceful_restart: true,
            ..BirdOpts::default()
        },
        false,
    );
    lab.start_gateway(&neighbor(ADDR4[PEER], 65010, ""));
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait_route(GW, "10.50.0.0/24", "proto bgp", true);
    lab.wait_route(PEER, "10.0.0.0/16", "via 169.254.100.1", true);
    // The gateway crashes: BIRD keeps its routes (graceful restart, receiving side) and the
    // gateway's routes stay in its kernel.
    lab.gw.as_mut().expect("gateway").crash();
    std::thread::sleep(Duration::from_secs(2)); // an outcome that must stay true, not a wait
    assert!(
        lab.pair
            .routes(PEER, false)
            .contains("10.0.0.0/16 via 169.254.100.1")
    );
    assert!(
        lab.pair
            .routes(GW, false)
            .contains("10.50.0.0/24 via 169.254.100.2")
    );
    lab.ping("10.0.0.1", "10.50.0.1");
    // It comes back as a restarting speaker (Restart State, Forwarding State) and keeps the
    // routes it learns again.
    lab.restart_gateway_gracefully();
    let log = lab.gw.as_ref().map(|g| g.log_text()).unwrap_or_default();
    assert!(log.contains("kept while the sessions come back"), "{log}");
    lab.routes_both_ways();
    lab.ping("10.0.0.1", "10.50.0.1");
}

#[test]
fn two_sessions_to_one_network_form_one_multipath_route() {
    let mut lab = Lab::new("bgpec");
    // A second veth between the two namespaces: two links to the same router.
    let (c, d) = ("bgpec-c", "bgpec-d");
    netns::ok(&[
        "ip",
        "link",
        "add",
        c,
        "netns",
        &lab.pair.ns[GW],
        "type",
        "veth",
        "peer",
        "name",
        d,
        "netns",
        &lab.pair.ns[PEER],
    ]);
    for (side, dev, addr) in [(GW, c, "169.254.101.1/30"), (PEER, d, "169.254.101.2/30")] {
        lab.pair
            .exec_ok(side, &["ip", "addr", "add", addr, "dev", dev]);
        lab.pair.exec_ok(side, &["ip", "link", "set", dev, "up"]);
    }
    lab.start_bird(
        &BirdOpts {
            second: true,
            ..BirdOpts::default()
        },
        false,
    );
    // A short hold time detects the cut below (BFD has its own tests).
    lab.start_gateway(
        &format!(
            "{}{}",
            neighbor(ADDR4[PEER], 65010, ""),
            neighbor("169.254.101.2", 65010, "")
        )
        .replace("hold_time = 90", "hold_time = 3"),
    );
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait_state("169.254.101.2", "Established");
    let multipath = || {
        let r = lab.pair.routes(GW, false);
        r.contains("10.50.0.0/24 proto bgp")
            && r.contains("nexthop via 169.254.100.2 dev bgpec-a")
            && r.contains("nexthop via 169.254.101.2 dev bgpec-c")
    };
    lab.wait("one route with both next hops", UP, multipath);
    lab.ping("10.0.0.1", "10.50.0.1");
    let st = lab.status();
    assert_eq!(
        st["bgp"]["routes"][0]["nextHops"].as_array().map(Vec::len),
        Some(2),
        "{st}"
    );
    // One link cut: its session expires and its next hop leaves; traffic continues on the
    // other.
    netns::ok(&["ip", "-n", &lab.pair.ns[PEER], "link", "set", d, "down"]);
    lab.wait("the route to keep only the live next hop", UP, || {
        lab.pair
            .routes(GW, false)
            .contains("10.50.0.0/24 via 169.254.100.2 dev bgpec-a proto bgp")
    });
    lab.ping("10.0.0.1", "10.50.0.1");
}

#[test]
fn more_prefixes_than_the_limit_close_the_session_with_cease() {
    let mut lab = Lab::new("bgpmx");
    lab.start_bird(
        &BirdOpts {
            extra4: &["10.50.1.0/24", "10.50.2.0/24"],
            ..BirdOpts::default()
        },
        false,
    );
    lab.start_gateway(&neighbor(ADDR4[PEER], 65010, "max_prefixes = 2"));
    lab.wait("the max-prefix Cease to be reported", UP, || {
        lab.neighbor(ADDR4[PEER])["lastError"]["message"]
            .as_str()
            .is_some_and(|e| {
                e.contains(
                    "NOTIFICATION sent: Cease / Maximum Number of Prefixes Reached (limit 2)",
                )
            })
    });
    lab.wait("BIRD to see the NOTIFICATION", UP, || {
        lab.birdc("show protocols all cpe4")
            .contains("Maximum number of prefixes reached")
    });
    assert!(
        !lab.pair.routes(GW, false).contains("10.50."),
        "{}",
        lab.context()
    );
}

/// RFC 4271 6.8, the race seen with BIRD under load: a collision is pending when the peer's OPEN
/// and KEEPALIVE arrive together on the first connection. That connection is Established on
/// both ends by then and must stay, though the peer's higher identifier would pick the other.
#[test]
fn a_collision_decided_after_established_keeps_the_established_connection() {
    let mut lab = Lab::new("bgpcx");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/bgp_collision_peer.py"
    );
    let peer = lab
        .pair
        .spawn(PEER, "peer", &["python3", script, ADDR4[PEER], ADDR4[GW]]);
    lab.peers.push(peer);
    lab.wait("the scripted peer to listen", UP, || {
        lab.peers[0].log_text().contains("listening")
    });
    lab.start_gateway(&neighbor(ADDR4[PEER], 65010, ""));
    lab.wait(
        "the scripted peer to see the collision resolved",
        UP,
        || {
            let log = lab.peers[0].log_text();
            log.contains("ok\n") || log.contains("FAIL")
        },
    );
    assert!(
        !lab.peers[0].log_text().contains("FAIL"),
        "{}",
        lab.context()
    );
    lab.wait_state(ADDR4[PEER], "Established");
    let n = lab.neighbor(ADDR4[PEER]);
    assert_eq!(n["establishedTransitions"], 1, "{}", lab.context());
    assert!(n["lastError"].is_null(), "{}", lab.context());
}

/// Memory a process holds (VmRSS), in MiB.
fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// A neighbour that stops reading while the gateway has a large table for it, and another that
/// announces and withdraws 100,000 prefixes over and over (all passed on to the first): what
/// waits for the silent neighbour is the table, not its history, so the gateway's memory stays
/// flat however long the churn goes on; the silent session is closed once it has read nothing for
/// its send hold time (RFC 9687), and the other session is untouched.
#[test]
fn a_neighbour_that_never_reads_costs_bounded_memory_and_is_noticed() {
    let mut lab = Lab::new("bgpslow");
    let (gw_dev, peer_dev) = (lab.pair.dev[GW].clone(), lab.pair.dev[PEER].clone());
    lab.pair.exec_ok(
        GW,
        &["ip", "addr", "add", "169.254.101.1/30", "dev", &gw_dev],
    );
    lab.pair.exec_ok(
        PEER,
        &["ip", "addr", "add", "169.254.101.2/30", "dev", &peer_dev],
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/bgp_slow_peer.py"
    );
    let peers = lab.pair.spawn(
        PEER,
        "scripted",
        &[
            "python3",
            script,
            ADDR4[PEER],
            "169.254.101.2",
            "100000",
            "45",
        ],
    );
    lab.peers.push(peers);
    let feeder = format!(
        "[[bgp.neighbor]]\naddress = \"{}\"\nremote_asn = 65010\nimport = \"any\"\nmax_prefixes = 200000\nconnect_retry_secs = 1\n",
        ADDR4[PEER]
    );
    let slow = "[[bgp.neighbor]]\naddress = \"169.254.101.2\"\nremote_asn = 65020\nimport = \"any\"\nexport = \"any\"\nconnect_retry_secs = 1\nsend_hold_time = 10\n";
    lab.start_gateway(&format!("{feeder}{slow}"));
    lab.wait("both scripted neighbours to be established", UP, || {
        let log = lab.peers[0].log_text();
        log.contains("slow established") && log.contains("round 2")
    });
    let pid = lab.gw.as_ref().expect("gateway").pid();
    // The churn goes on; the memory the gateway holds is sampled each second.
    let mut samples = Vec::new();
    for _ in 0..40 {
        samples.push(rss_mib(pid));
        std::thread::sleep(Duration::from_secs(1));
    }
    let rounds = lab.peers[0].log_text().matches("round ").count();
    assert!(
        rounds >= 4,
        "the table churned: {rounds} rounds\n{}",
        lab.context()
    );
    eprintln!("gateway RSS (MiB) each second: {samples:?}; {rounds} rounds of 100,000 prefixes");
    // What the table itself needs (Loc-RIB, Adj-RIBs, the kernel's copy, the neighbour's
    // pending changes) is reached early and stays: the second half of the churn adds no more
    // than the allocator's slack, and the whole stays under a fixed bound.
    let mean = |s: &[u64]| s.iter().sum::<u64>() / s.len() as u64;
    let (middle, last) = (mean(&samples[15..25]), mean(&samples[30..]));
    let peak = samples.iter().copied().max().unwrap_or(0);
    assert!(
        last <= middle + 96 && peak < 384,
        "the gateway's memory grew with the churn: {samples:?} MiB\n{}",
        lab.context()
    );
    lab.wait(
        "the silent session to be closed by the send hold timer",
        UP,
        || {
            let n = lab.neighbor("169.254.101.2");
            n["lastError"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("send hold timer expired"))
                && n["lastError"]["kind"] == "connectionLost"
        },
    );
    let f = lab.neighbor(ADDR4[PEER]);
    assert_eq!(f["state"], "Established", "{f}");
    assert_eq!(f["establishedTransitions"], 1, "{f}");
}

// ---------------------------------------------------------------------------------------------
// FRR

impl Lab {
    /// zebra, bgpd and bfdd in namespace B, with their own sockets under the test's directory.
    fn start_frr(&mut self, bgpd: &str, bfdd: Option<&str>) -> PathBuf {
        let dir = self.pair.path("frr");
        std::fs::create_dir_all(dir.join("vty")).expect("frr dir");
        std::fs::write(dir.join("zebra.conf"), "hostname peer\n").expect("zebra.conf");
        std::fs::write(dir.join("bgpd.conf"), bgpd).expect("bgpd.conf");
        std::fs::write(dir.join("bfdd.conf"), bfdd.unwrap_or("")).expect("bfdd.conf");
        chown(&dir, "frr");
        let d = dir.display().to_string();
        let common = |daemon: &str| frr_daemon(&dir, daemon);
        let args = common("zebra");
        let zebra = self.pair.spawn(
            PEER,
            "zebra",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        self.peers.push(zebra);
        self.wait("zebra's socket", UP, || dir.join("zserv.api").exists());
        if bfdd.is_some() {
            let mut args = common("bfdd");
            args.push("--bfdctl".into());
            args.push(format!("{d}/bfdd.sock"));
            let bfdd = self.pair.spawn(
                PEER,
                "bfdd",
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            self.peers.push(bfdd);
        }
        let args = common("bgpd");
        let bgpd = self.pair.spawn(
            PEER,
            "bgpd",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        self.peers.push(bgpd);
        self.wait("bgpd's vty", UP, || dir.join("vty/bgpd.vty").exists());
        dir
    }

    /// bgpd dies without a word (SIGKILL: no NOTIFICATION); zebra stays.
    fn crash_frr_bgpd(&mut self) {
        let bgpd = self
            .peers
            .iter_mut()
            .find(|d| d.name == "bgpd")
            .expect("bgpd runs");
        bgpd.crash();
        let _ = std::fs::remove_file(self.pair.path("frr/vty/bgpd.vty"));
    }

    /// bgpd again, with the same configuration (graceful restart, forwarding state preserved).
    fn restart_frr_bgpd(&mut self) {
        let dir = self.pair.path("frr");
        let args = frr_daemon(&dir, "bgpd");
        let bgpd = self.pair.spawn(
            PEER,
            "bgpd-restarted",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        self.peers.push(bgpd);
        self.wait("bgpd's vty", UP, || dir.join("vty/bgpd.vty").exists());
    }

    fn vtysh(&self, cmds: &[&str]) -> String {
        let vty = self.pair.path("frr/vty").display().to_string();
        let mut args = vec!["vtysh", "--vty_socket", &vty];
        for c in cmds {
            args.push("-c");
            args.push(c);
        }
        String::from_utf8_lossy(&self.pair.exec(PEER, &args).stdout).into_owned()
    }
}

fn frr_bgpd(neighbor: &str, family: &str, network: &str, extra: &str) -> String {
    format!(
        "hostname peer\nroute-map ALL permit 10\n!\nrouter bgp 65020\n bgp router-id {}\n no bgp default ipv4-unicast\n no bgp network import-check\n neighbor {neighbor} remote-as 64512\n neighbor {neighbor} timers connect 1\n{extra}\n address-family {family} unicast\n  network {network}\n  neighbor {neighbor} activate\n  neighbor {neighbor} route-map ALL in\n  neighbor {neighbor} route-map ALL out\n exit-address-family\n!\n",
        ADDR4[PEER]
    )
}

#[test]
fn frr_ipv4_with_md5_bfd_withdrawal_and_notification() {
    let mut lab = Lab::new("bgpf4");
    let peer = ADDR4[GW];
    lab.start_frr(
        &frr_bgpd(
            peer,
            "ipv4",
            "10.50.0.0/24",
            &format!(" neighbor {peer} password s3cret-frr\n"),
        ),
        Some(&format!(
            "bfd\n peer {peer} local-address {}\n  receive-interval 100\n  transmit-interval 100\n  detect-multiplier 3\n !\n!\n",
            ADDR4[PEER]
        )),
    );
    lab.start_gateway(&neighbor(
        ADDR4[PEER],
        65020,
        "md5_password = \"s3cret-frr\"\nbfd = true",
    ));
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait_route(
        GW,
        "10.50.0.0/24",
        "via 169.254.100.2 dev bgpf4-a proto bgp",
        true,
    );
    lab.wait_route(PEER, "10.0.0.0/16", "via 169.254.100.1", true);
    lab.ping("10.0.0.1", "10.50.0.1");
    let summary = lab.vtysh(&["show bgp ipv4 unicast summary json"]);
    assert!(summary.contains("\"Established\""), "{summary}");
    lab.wait("BFD Up", UP, || {
        lab.neighbor(ADDR4[PEER])["bfd"]["state"] == "Up"
    });
    // Withdrawal and re-announcement.
    lab.vtysh(&[
        "configure terminal",
        "router bgp 65020",
        "address-family ipv4 unicast",
        "no network 10.50.0.0/24",
    ]);
    lab.wait_route(GW, "10.50.0.0/24", "proto bgp", false);
    lab.vtysh(&[
        "configure terminal",
        "router bgp 65020",
        "address-family ipv4 unicast",
        "network 10.50.0.0/24",
    ]);
    lab.wait_route(GW, "10.50.0.0/24", "proto bgp", true);
    // BFD (bfdd's static peer) detects the cut link; hold time is 90 s.
    lab.pair.link(PEER, false);
    let took = lab.wait_route(GW, "10.50.0.0/24", "proto bgp", false);
    eprintln!("route gone from the kernel {took:?} after the link was cut");
    assert!(took < Duration::from_secs(30), "BFD, not the hold timer");
    lab.pair.link(PEER, true);
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait_route(GW, "10.50.0.0/24", "proto bgp", true);
    // A NOTIFICATION from FRR: the neighbour is shut down.
    lab.vtysh(&[
        "configure terminal",
        "router bgp 65020",
        &format!("neighbor {peer} shutdown"),
    ]);
    lab.wait("the NOTIFICATION to be reported", UP, || {
        lab.neighbor(ADDR4[PEER])["lastError"]["message"]
            .as_str()
            .is_some_and(|e| e.contains("NOTIFICATION received: Cease"))
    });
    lab.wait_route(GW, "10.50.0.0/24", "proto bgp", false);
}

#[test]
fn frr_ipv6_session() {
    let mut lab = Lab::new("bgpf6");
    lab.start_frr(&frr_bgpd(ADDR6[GW], "ipv6", "fd50::/48", ""), None);
    lab.start_gateway(&neighbor(ADDR6[PEER], 65020, ""));
    lab.wait_state(ADDR6[PEER], "Established");
    lab.wait_route(
        GW,
        "fd50::/48",
        "via fd00:100::2 dev bgpf6-a proto bgp",
        true,
    );
    lab.wait_route(PEER, "fd10::/48", "via fd00:100::1", true);
    lab.ping("fd10::1", "fd50::1");
}

#[test]
fn frr_with_a_wrong_md5_password_gets_no_session() {
    let mut lab = Lab::new("bgpfm");
    let peer = ADDR4[GW];
    lab.start_frr(
        &frr_bgpd(
            peer,
            "ipv4",
            "10.50.0.0/24",
            &format!(" neighbor {peer} password frr-side\n"),
        ),
        None,
    );
    lab.start_gateway(&neighbor(
        ADDR4[PEER],
        65020,
        "md5_password = \"gateway-side\"",
    ));
    lab.wait("the failed MD5 session to be reported", UP, || {
        lab.neighbor(ADDR4[PEER])["connectError"]
            .as_str()
            .is_some_and(|e| e.contains("TCP MD5"))
    });
    std::thread::sleep(Duration::from_secs(3)); // an outcome that must stay true, not a wait
    assert_ne!(lab.neighbor(ADDR4[PEER])["state"], "Established");
    assert!(!lab.pair.routes(GW, false).contains("10.50.0.0/24"));
}

/// Graceful restart with FRR, both ways: FRR's bgpd crashes and the gateway keeps its routes in
/// the kernel until bgpd is back and has sent End-of-RIB; then the gateway crashes and FRR keeps
/// the gateway's routes in its kernel until the gateway is back.
#[test]
fn frr_graceful_restart_both_ways() {
    let mut lab = Lab::new("bgpfg");
    let peer = ADDR4[GW];
    lab.start_frr(
        &frr_bgpd(
            peer,
            "ipv4",
            "10.50.0.0/24",
            " bgp graceful-restart\n bgp graceful-restart preserve-fw-state\n",
        ),
        None,
    );
    lab.start_gateway(&neighbor(ADDR4[PEER], 65020, ""));
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait_route(GW, "10.50.0.0/24", "via 169.254.100.2", true);
    lab.wait_route(PEER, "10.0.0.0/16", "via 169.254.100.1", true);

    // FRR restarts: its routes are kept, stale, in the gateway's kernel.
    lab.crash_frr_bgpd();
    lab.peer_route_kept_stale();
    lab.ping("10.0.0.1", "10.50.0.1");
    lab.restart_frr_bgpd();
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait("End-of-RIB to clear the stale mark", UP, || {
        lab.neighbor(ADDR4[PEER])["staleRoutes"] == 0
    });
    lab.wait_route(GW, "10.50.0.0/24", "via 169.254.100.2", true);
    lab.wait_route(PEER, "10.0.0.0/16", "via 169.254.100.1", true);

    // The gateway restarts: FRR, the receiving speaker, keeps the gateway's route.
    lab.gw.as_mut().expect("gateway").crash();
    lab.holds("FRR keeps the restarting gateway's route", || {
        lab.has_route(PEER, "10.0.0.0/16", "via 169.254.100.1")
    });
    lab.ping("10.0.0.1", "10.50.0.1");
    lab.restart_gateway_gracefully();
    lab.routes_both_ways();
    lab.ping("10.0.0.1", "10.50.0.1");
}

// ---------------------------------------------------------------------------------------------
// GoBGP

impl Lab {
    fn start_gobgp(&mut self, toml: &str) {
        self.start_gobgp_with(toml, &[]);
    }

    fn start_gobgp_with(&mut self, toml: &str, flags: &[&str]) {
        let conf = self.pair.path("gobgpd.toml");
        std::fs::write(&conf, toml).expect("gobgpd.toml");
        let sock = format!("unix://{}", self.pair.path("gobgpd.sock").display());
        let conf = conf.display().to_string();
        let mut args = vec![
            "gobgpd",
            "-f",
            &conf,
            "-t",
            "toml",
            "-p",
            "--api-hosts",
            &sock,
            "--pprof-disable",
        ];
        args.extend_from_slice(flags);
        let name = if flags.is_empty() {
            "gobgpd"
        } else {
            "gobgpd-restarted"
        };
        let d = self.pair.spawn(PEER, name, &args);
        self.peers.push(d);
        self.wait("gobgpd's API socket", UP, || {
            self.pair.path("gobgpd.sock").exists()
        });
    }

    /// gobgpd again after a crash, as a restarting speaker (`-r`).
    fn start_gobgp_restarting(&mut self, toml: &str) {
        self.start_gobgp_with(toml, &["-r"]);
    }

    fn gobgp(&self, args: &str) -> String {
        let sock = format!("unix://{}", self.pair.path("gobgpd.sock").display());
        let mut a = vec!["gobgp", "--target", &sock];
        a.extend(args.split(' '));
        let out = self.pair.exec(PEER, &a);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

#[test]
fn gobgp_ipv4_and_ipv6_with_md5_withdrawal_and_notification() {
    let mut lab = Lab::new("bgpgo");
    lab.start_gobgp(&format!(
        r#"[global.config]
as = 65030
router-id = "{}"
port = 179

[[neighbors]]
[neighbors.config]
neighbor-address = "{}"
peer-as = 64512
auth-password = "s3cret-go"
[[neighbors.afi-safis]]
[neighbors.afi-safis.config]
afi-safi-name = "ipv4-unicast"

[[neighbors]]
[neighbors.config]
neighbor-address = "{}"
peer-as = 64512
[[neighbors.afi-safis]]
[neighbors.afi-safis.config]
afi-safi-name = "ipv6-unicast"
"#,
        ADDR4[PEER], ADDR4[GW], ADDR6[GW]
    ));
    lab.gobgp("global rib add 10.50.0.0/24 -a ipv4");
    lab.gobgp("global rib add fd50::/48 -a ipv6");
    lab.start_gateway(&format!(
        "{}{}",
        neighbor(ADDR4[PEER], 65030, "md5_password = \"s3cret-go\""),
        neighbor(ADDR6[PEER], 65030, "")
    ));
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait_state(ADDR6[PEER], "Established");
    lab.wait_route(
        GW,
        "10.50.0.0/24",
        "via 169.254.100.2 dev bgpgo-a proto bgp",
        true,
    );
    lab.wait_route(
        GW,
        "fd50::/48",
        "via fd00:100::2 dev bgpgo-a proto bgp",
        true,
    );
    // GoBGP has no kernel side of its own: it shows the routes in its RIB, and the return
    // path is a static route.
    lab.wait("GoBGP to learn 10.0.0.0/16", UP, || {
        lab.gobgp("global rib -a ipv4").contains("10.0.0.0/16")
    });
    lab.wait("GoBGP to learn fd10::/48", UP, || {
        lab.gobgp("global rib -a ipv6").contains("fd10::/48")
    });
    lab.pair.exec_ok(
        PEER,
        &["ip", "route", "add", "10.0.0.0/16", "via", ADDR4[GW]],
    );
    lab.pair.exec_ok(
        PEER,
        &["ip", "-6", "route", "add", "fd10::/48", "via", ADDR6[GW]],
    );
    lab.ping("10.0.0.1", "10.50.0.1");
    lab.ping("fd10::1", "fd50::1");
    // Withdrawal.
    lab.gobgp("global rib del 10.50.0.0/24 -a ipv4");
    lab.wait_route(GW, "10.50.0.0/24", "proto bgp", false);
    // A NOTIFICATION from GoBGP: the neighbour is administratively disabled.
    lab.gobgp(&format!("neighbor {} disable", ADDR6[GW]));
    lab.wait("the NOTIFICATION to be reported", UP, || {
        lab.neighbor(ADDR6[PEER])["lastError"]["message"]
            .as_str()
            .is_some_and(|e| e.contains("NOTIFICATION received: Cease"))
    });
    lab.wait_route(GW, "fd50::/48", "proto bgp", false);
}

/// GoBGP's configuration: AS 65030 with one IPv4 neighbour (the gateway), and optionally a
/// password and graceful restart (both as helper and as restarting speaker).
fn gobgp_conf(password: Option<&str>, graceful_restart: bool) -> String {
    let mut c = format!(
        "[global.config]\nas = 65030\nrouter-id = \"{}\"\nport = 179\n\n[[neighbors]]\n[neighbors.config]\nneighbor-address = \"{}\"\npeer-as = 64512\n",
        ADDR4[PEER], ADDR4[GW]
    );
    if let Some(p) = password {
        c += &format!("auth-password = \"{p}\"\n");
    }
    if graceful_restart {
        c += "[neighbors.graceful-restart.config]\nenabled = true\nrestart-time = 120\n";
    }
    c +=
        "[[neighbors.afi-safis]]\n[neighbors.afi-safis.config]\nafi-safi-name = \"ipv4-unicast\"\n";
    if graceful_restart {
        c += "[neighbors.afi-safis.mp-graceful-restart.config]\nenabled = true\n";
    }
    c
}

#[test]
fn gobgp_with_a_wrong_md5_password_gets_no_session() {
    let mut lab = Lab::new("bgpgm");
    lab.start_gobgp(&gobgp_conf(Some("gobgp-side"), false));
    lab.gobgp("global rib add 10.50.0.0/24 -a ipv4");
    lab.start_gateway(&neighbor(
        ADDR4[PEER],
        65030,
        "md5_password = \"gateway-side\"",
    ));
    lab.wait("the failed MD5 session to be reported", UP, || {
        lab.neighbor(ADDR4[PEER])["connectError"]
            .as_str()
            .is_some_and(|e| e.contains("TCP MD5"))
    });
    std::thread::sleep(Duration::from_secs(3)); // an outcome that must stay true, not a wait
    assert_ne!(lab.neighbor(ADDR4[PEER])["state"], "Established");
    assert!(!lab.pair.routes(GW, false).contains("10.50.0.0/24"));
    assert!(!lab.gobgp("global rib -a ipv4").contains("10.0.0.0/16"));
}

/// Graceful restart with GoBGP, both ways: gobgpd crashes and the gateway keeps its route in the
/// kernel until gobgpd is back (`-r`, restarting) and has sent End-of-RIB; then the gateway
/// crashes and GoBGP keeps the gateway's route in its RIB until the gateway is back.
#[test]
fn gobgp_graceful_restart_both_ways() {
    let mut lab = Lab::new("bgpgg");
    let conf = gobgp_conf(None, true);
    lab.start_gobgp(&conf);
    lab.gobgp("global rib add 10.50.0.0/24 -a ipv4");
    lab.start_gateway(&neighbor(ADDR4[PEER], 65030, ""));
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait_route(GW, "10.50.0.0/24", "via 169.254.100.2", true);
    lab.wait("GoBGP to learn 10.0.0.0/16", UP, || {
        lab.gobgp("global rib -a ipv4").contains("10.0.0.0/16")
    });

    // gobgpd restarts: its route is kept, stale, in the gateway's kernel.
    let gobgpd = lab
        .peers
        .iter_mut()
        .find(|d| d.name == "gobgpd")
        .expect("gobgpd runs");
    gobgpd.crash();
    let _ = std::fs::remove_file(lab.pair.path("gobgpd.sock"));
    lab.peer_route_kept_stale();
    lab.start_gobgp_restarting(&conf);
    lab.gobgp("global rib add 10.50.0.0/24 -a ipv4");
    lab.wait_state(ADDR4[PEER], "Established");
    lab.wait("End-of-RIB to clear the stale mark", UP, || {
        lab.neighbor(ADDR4[PEER])["staleRoutes"] == 0
    });
    lab.wait_route(GW, "10.50.0.0/24", "via 169.254.100.2", true);

    // The gateway restarts: GoBGP, the receiving speaker, keeps the gateway's route.
    lab.wait("GoBGP to learn 10.0.0.0/16 again", UP, || {
        lab.gobgp("global rib -a ipv4").contains("10.0.0.0/16")
    });
    lab.gw.as_mut().expect("gateway").crash();
    lab.holds("GoBGP keeps the restarting gateway's route", || {
        lab.gobgp("global rib -a ipv4").contains("10.0.0.0/16")
    });
    lab.restart_gateway_gracefully();
    assert!(
        lab.pair
            .routes(GW, false)
            .contains("10.50.0.0/24 via 169.254.100.2"),
        "{}",
        lab.context()
    );
    assert!(lab.gobgp("global rib -a ipv4").contains("10.0.0.0/16"));
}
