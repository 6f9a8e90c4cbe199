//! End to end in network namespaces: two gateways joined by a veth underlay, each running
//! `xconnect gateway run` with one link. Needs root and iproute2, ping, iperf3, tcpdump and python3
//! (`.ci/run` installs them). Namespaces are created per test and removed by exact name, even
//! when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CAK: &str = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f";

fn run(args: &[&str]) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| {
            panic!("{args:?}: {e} (this test needs root, iproute2, ping, iperf3, tcpdump)")
        })
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two namespaces `<tag>-a` and `<tag>-b` with a veth between them (10.200.0.1/2 and
/// fd00:200::1/2), and the gateways started in them. Everything is removed on drop.
struct Topo {
    ns: [String; 2],
    gateways: Vec<Child>,
    dir: tempfile::TempDir,
    /// Lines added to both gateways' [gateway] section.
    gateway_extra: String,
    /// Tables added at the end of side b's file (its `[filters]`).
    filters_b: String,
    /// Servers started in the namespaces, killed on drop.
    servers: Vec<Child>,
    /// The link's underlay over IPv6 (VXLAN over UDP/IPv6) instead of IPv4.
    underlay6: bool,
    /// A namespace between the two, bridging their underlay (a switch), when there is one.
    middle: Option<String>,
}

impl Topo {
    fn new(tag: &str) -> Self {
        Self::build(tag, false)
    }

    /// Two gateways whose underlay crosses a switch: a bridge in namespace `xct-<tag>-m`, port
    /// `<tag>-ma` towards a and `<tag>-mb` towards b.
    fn switched(tag: &str) -> Self {
        Self::build(tag, true)
    }

    fn build(tag: &str, switched: bool) -> Self {
        assert!(
            ok(&["id", "-u"]).trim() == "0",
            "this test needs root (it creates network namespaces)"
        );
        let ns = [format!("xct-{tag}-a"), format!("xct-{tag}-b")];
        let middle = switched.then(|| format!("xct-{tag}-m"));
        for n in ns.iter().chain(&middle) {
            let _ = run(&["ip", "netns", "del", n]);
        }
        let t = Topo {
            ns: ns.clone(),
            gateways: Vec::new(),
            dir: tempfile::tempdir().expect("tempdir"),
            gateway_extra: String::new(),
            filters_b: String::new(),
            servers: Vec::new(),
            underlay6: false,
            middle: middle.clone(),
        };
        ok(&["ip", "netns", "add", &ns[0]]);
        ok(&["ip", "netns", "add", &ns[1]]);
        let (va, vb) = (format!("{tag}-va"), format!("{tag}-vb"));
        match &middle {
            None => {
                ok(&[
                    "ip", "link", "add", &va, "netns", &ns[0], "type", "veth", "peer", "name", &vb,
                    "netns", &ns[1],
                ]);
            }
            Some(m) => {
                ok(&["ip", "netns", "add", m]);
                ok(&["ip", "-n", m, "link", "add", "br0", "type", "bridge"]);
                for (n, v, port) in [(&ns[0], &va, "ma"), (&ns[1], &vb, "mb")] {
                    let port = format!("{tag}-{port}");
                    ok(&[
                        "ip", "link", "add", v, "netns", n, "type", "veth", "peer", "name", &port,
                        "netns", m,
                    ]);
                    ok(&["ip", "-n", m, "link", "set", &port, "master", "br0", "up"]);
                }
                ok(&["ip", "-n", m, "link", "set", "br0", "up"]);
            }
        }
        for (n, dev, addr) in [
            (&ns[0], &va, "10.200.0.1/24"),
            (&ns[1], &vb, "10.200.0.2/24"),
        ] {
            ok(&["ip", "-n", n, "addr", "add", addr, "dev", dev]);
            let addr6 = if n == &ns[0] {
                "fd00:200::1/64"
            } else {
                "fd00:200::2/64"
            };
            ok(&["ip", "-n", n, "addr", "add", addr6, "dev", dev, "nodad"]);
            ok(&["ip", "-n", n, "link", "set", dev, "up"]);
            ok(&["ip", "-n", n, "link", "set", "lo", "up"]);
        }
        t
    }

    fn config(&self, side: usize, cak: &str, extra: &str) -> PathBuf {
        let (local, remote, addr) = match (side, self.underlay6) {
            (0, false) => ("10.200.0.1", "10.200.0.2", "169.254.0.0/31"),
            (_, false) => ("10.200.0.2", "10.200.0.1", "169.254.0.1/31"),
            (0, true) => ("[fd00:200::1]", "[fd00:200::2]", "169.254.0.0/31"),
            (_, true) => ("[fd00:200::2]", "[fd00:200::1]", "169.254.0.1/31"),
        };
        let text = format!(
            "[gateway]\nname = \"gw-{side}\"\nadmin_listen = \"127.0.0.1:7801\"\n{}\n{extra_gw}\n[[link]]\nname = \"l1\"\nunderlay_local = \"{local}:4789\"\nunderlay_remote = \"{remote}:4789\"\nvni = 101\nckn = \"00112233445566778899aabbccddeeff\"\ncak = \"{cak}\"\naddress = \"{addr}\"\n{extra}\n{filters}\n",
            self.gateway_extra,
            filters = if side == 1 {
                self.filters_b.as_str()
            } else {
                ""
            },
            extra_gw = if side == 0 {
                format!(
                    "keylog_file = \"{}\"",
                    self.dir.path().join("keys.log").display()
                )
            } else {
                String::new()
            },
        );
        let p = self.dir.path().join(format!("gw-{side}.toml"));
        std::fs::write(&p, text).expect("write config");
        p
    }

    fn start(&mut self, cak_a: &str, cak_b: &str, extra: &str) {
        self.start_each([(cak_a, extra), (cak_b, extra)]);
    }

    /// Both gateways, each with its CAK and the lines added to its link.
    fn start_each(&mut self, sides: [(&str, &str); 2]) {
        for (side, (cak, extra)) in sides.into_iter().enumerate() {
            let cfg = self.config(side, cak, extra);
            let log =
                std::fs::File::create(self.dir.path().join(format!("gw-{side}.log"))).expect("log");
            let child = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &self.ns[side],
                    env!("CARGO_BIN_EXE_xconnect"),
                    "gateway",
                    "run",
                    "--config",
                ])
                .arg(&cfg)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start gateway");
            self.gateways.push(child);
        }
    }

    fn exec(&self, side: usize, args: &[&str]) -> std::process::Output {
        let mut a = vec!["ip", "netns", "exec", &self.ns[side]];
        a.extend_from_slice(args);
        run(&a)
    }

    fn status(&self, side: usize) -> serde_json::Value {
        let out = self.exec(
            side,
            &[
                env!("CARGO_BIN_EXE_xconnect"),
                "gateway",
                "status",
                "--output",
                "json",
            ],
        );
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }

    fn wait_for(&self, what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(
                start.elapsed() < deadline,
                "timed out after {deadline:?} waiting for {what}; logs in {}",
                self.dir.path().display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_secured(&self) {
        self.wait_for("MKA to secure both ends", Duration::from_secs(30), || {
            (0..2).all(|s| self.status(s)["links"][0]["mka"]["state"] == "secured")
        });
    }

    /// Waits for both ends' path-MTU check to end in `state`.
    fn wait_path_mtu(&self, state: &str) {
        self.wait_for(
            &format!("the path-MTU check to end {state}"),
            Duration::from_secs(30),
            || (0..2).all(|s| self.status(s)["links"][0]["pathMtu"]["state"] == state),
        );
    }

    fn ping(&self, count: &str, pattern: Option<&str>) -> bool {
        let mut args = vec!["ping", "-c", count, "-i", "0.2", "-W", "1"];
        if let Some(p) = pattern {
            args.extend_from_slice(&["-p", p]);
        }
        args.push("169.254.0.1");
        self.exec(0, &args).status.success()
    }

    /// Whether 3 pings of `size` bytes of ICMP payload, with DF set, cross the link from a.
    fn ping_df(&self, size: &str) -> bool {
        let args = [
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "1",
            "-M",
            "do",
            "-s",
            size,
            "169.254.0.1",
        ];
        self.exec(0, &args).status.success()
    }

    /// Checks that the link's MTU is `mtu` as status shows it and as packets find it: once a
    /// small ping crosses, a DF packet of exactly `mtu` bytes crosses and one byte more does not.
    fn assert_link_mtu(&self, mtu: u64) {
        let st = self.status(0);
        assert_eq!(st["links"][0]["mtu"], mtu, "{st}");
        self.wait_for("a ping across", Duration::from_secs(30), || {
            self.ping_df("56")
        });
        // ICMP payload behind 28 bytes of IPv4 and ICMP headers.
        let (fits, over) = ((mtu - 28).to_string(), (mtu - 27).to_string());
        assert!(
            self.ping_df(&fits),
            "a {mtu}-byte packet did not cross\n{}",
            self.logs()
        );
        assert!(
            !self.ping_df(&over),
            "a packet of {} bytes crossed a {mtu}-byte link",
            mtu + 1
        );
    }

    fn logs(&self) -> String {
        (0..2)
            .map(|s| {
                std::fs::read_to_string(self.dir.path().join(format!("gw-{s}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
        for c in &mut self.gateways {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        for c in &mut self.gateways {
            let start = Instant::now();
            while c.try_wait().ok().flatten().is_none() && start.elapsed() < Duration::from_secs(5)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in self.ns.iter().chain(&self.middle) {
            let _ = run(&["ip", "netns", "del", n]);
        }
    }
}

fn iperf(t: &Topo, secs: &str) -> serde_json::Value {
    iperf_with(t, &["-t", secs])
}

/// iperf3 from side a to side b's link address with `args`: its JSON report.
fn iperf_with(t: &Topo, args: &[&str]) -> serde_json::Value {
    let mut server = Command::new("ip")
        .args([
            "netns",
            "exec",
            &t.ns[1],
            "iperf3",
            "-s",
            "-1",
            "-B",
            "169.254.0.1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 server");
    let mut out = None;
    for _ in 0..50 {
        let mut a = vec!["iperf3", "-c", "169.254.0.1", "-J"];
        a.extend_from_slice(args);
        let o = t.exec(0, &a);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        // The server may not be listening yet on the first try.
        if v["error"].as_str().is_some_and(|e| e.contains("connect")) {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        out = Some(v);
        break;
    }
    let _ = server.kill();
    let _ = server.wait();
    out.expect("iperf3 ran")
}

/// UDP payloads to or from port 4789 in a pcap file.
fn vxlan_payloads(pcap: &Path) -> Vec<Vec<u8>> {
    let v = vxlan_payloads_if_any(pcap);
    assert!(!v.is_empty(), "empty capture");
    v
}

fn vxlan_payloads_if_any(pcap: &Path) -> Vec<Vec<u8>> {
    let b = std::fs::read(pcap).unwrap_or_default();
    if b.len() < 24 {
        return Vec::new();
    }
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= b.len() {
        let incl = u32::from_le_bytes([b[at + 8], b[at + 9], b[at + 10], b[at + 11]]) as usize;
        let frame = &b[at + 16..(at + 16 + incl).min(b.len())];
        at += 16 + incl;
        if frame.len() < 42 || frame[12..14] != [0x08, 0x00] {
            continue;
        }
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        if frame[23] != 17 || frame.len() < 14 + ihl + 8 {
            continue;
        }
        let udp = &frame[14 + ihl..];
        let (sport, dport) = (
            u16::from_be_bytes([udp[0], udp[1]]),
            u16::from_be_bytes([udp[2], udp[3]]),
        );
        if sport == 4789 || dport == 4789 {
            out.push(udp[8..].to_vec());
        }
    }
    out
}

#[test]
fn ping_iperf_and_a_capture_that_shows_only_macsec() {
    let mut t = Topo::new("e2e1");
    t.start(CAK, CAK, "");
    t.wait_secured();
    // Capture the underlay while pinging with a recognisable payload.
    let pcap = t.dir.path().join("underlay.pcap");
    let cap_log = t.dir.path().join("tcpdump.log");
    let mut cap = Command::new("ip")
        .args([
            "netns", "exec", &t.ns[1], "tcpdump", "-i", "e2e1-vb", "-U", "-s", "0", "-w",
        ])
        .arg(&pcap)
        .arg("udp port 4789")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&cap_log).expect("log"))
        .spawn()
        .expect("tcpdump");
    t.wait_for("tcpdump to listen", Duration::from_secs(10), || {
        std::fs::read_to_string(&cap_log).is_ok_and(|l| l.contains("listening on"))
    });
    assert!(
        t.ping("10", Some("c0ffeec0ffee")),
        "ping across the link; logs:\n{}",
        t.logs()
    );
    t.wait_for(
        "the capture to hold the pings",
        Duration::from_secs(10),
        || {
            vxlan_payloads_if_any(&pcap)
                .iter()
                .filter(|p| p.len() > 22 && p[8 + 12..8 + 14] == [0x88, 0xe5])
                .count()
                >= 20
        },
    );
    let _ = Command::new("kill")
        .args(["-INT", &cap.id().to_string()])
        .status();
    let _ = cap.wait();
    let payloads = vxlan_payloads(&pcap);
    assert!(
        payloads.len() >= 20,
        "{} VXLAN datagrams captured",
        payloads.len()
    );
    let mut macsec = 0;
    for p in &payloads {
        assert!(p.len() > 22 && p[0] & 0x08 != 0, "VXLAN with the I flag");
        let inner = &p[8..];
        let ethertype = [inner[12], inner[13]];
        assert!(
            ethertype == [0x88, 0xe5] || ethertype == [0x88, 0x8e] || ethertype == [0x88, 0xb5],
            "only MACsec, MKA and path-MTU probes inside VXLAN, saw {ethertype:02x?}"
        );
        if ethertype == [0x88, 0xb5] {
            // A path-MTU probe: its header (magic, version, kind, length, nonce), then zeros:
            // nothing of the traffic.
            assert!(
                inner.len() >= 34
                    && &inner[14..18] == b"XCPM"
                    && inner[34..].iter().all(|&b| b == 0),
                "a path-MTU probe carries nothing but its header: {inner:02x?}"
            );
        }
        if ethertype == [0x88, 0xe5] {
            macsec += 1;
        }
        assert!(
            !p.windows(6)
                .any(|w| w == [0xc0, 0xff, 0xee, 0xc0, 0xff, 0xee]),
            "the ping payload must not appear in clear"
        );
    }
    assert!(
        macsec >= 20,
        "{macsec} MACsec frames: ten echo requests and ten replies"
    );

    let v = iperf(&t, "3");
    let bps = v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(bps > 1e6, "iperf3 across the link: {v}");
    let st = t.status(0);
    assert!(
        st["links"][0]["counters"]["txPackets"]
            .as_u64()
            .unwrap_or(0)
            > 1000,
        "{st}"
    );
    // The keylog (DANGEROUS, enabled on side A only) has the tx and rx SAKs in the issue's format.
    let keys = std::fs::read_to_string(t.dir.path().join("keys.log")).expect("keylog");
    let lines: Vec<&str> = keys.lines().collect();
    assert!(
        lines.iter().any(|l| l.starts_with("MACSEC l1 tx "))
            && lines.iter().any(|l| l.starts_with("MACSEC l1 rx ")),
        "{keys}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l.split(' ').count() == 9 && l.contains(" gcm-aes-xpn-256 ")),
        "{keys}"
    );
}

/// A link over an IPv6 underlay (VXLAN over UDP/IPv6): MKA secures it, its MTU is 20 bytes below
/// an IPv4 underlay's (1500 less 40 for IPv6, 8 UDP, 8 VXLAN, 14 Ethernet, 32 MACsec), a ping of
/// exactly that size crosses with Don't Fragment set, one a byte larger does not, and TCP flows.
#[test]
fn an_ipv6_underlay_carries_a_link() {
    let mut t = Topo::new("u6");
    t.underlay6 = true;
    t.start(CAK, CAK, "");
    t.wait_secured();
    let sockets = String::from_utf8_lossy(&t.exec(0, &["ss", "-uan"]).stdout).into_owned();
    assert!(sockets.contains("[fd00:200::1]:4789"), "{sockets}");
    t.assert_link_mtu(1398);
    let report = iperf(&t, "2");
    let bytes = report["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
    assert!(
        report["error"].is_null() && bytes > 1_000_000,
        "iperf3 over the IPv6 underlay: {report}"
    );
}

#[test]
fn different_caks_pass_nothing_and_status_says_why() {
    let mut t = Topo::new("e2e2");
    let other = "ff0102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f";
    t.start(CAK, other, "");
    t.wait_for(
        "both gateways to report the CAK mismatch",
        Duration::from_secs(30),
        || {
            (0..2).all(|s| {
                t.status(s)["links"][0]["mka"]["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("different CAK"))
            })
        },
    );
    assert!(!t.ping("3", None), "no frame may pass without agreed keys");
    for s in 0..2 {
        let st = t.status(s);
        let link = &st["links"][0];
        assert_eq!(link["mka"]["state"], "no-peer", "{st}");
        assert_eq!(link["mka"]["condition"], "peerCakMismatch", "{st}");
        assert!(
            link["mka"]["mkpdusBadIcv"].as_u64().unwrap_or(0) > 0,
            "{st}"
        );
        assert_eq!(link["counters"]["rxPackets"], 0, "{st}");
    }
}

#[test]
fn sak_rotation_during_iperf_loses_no_tcp_connection() {
    let mut t = Topo::new("e2e3");
    t.start(CAK, CAK, "rekey_interval_secs = 2");
    t.wait_secured();
    let v = iperf(&t, "8");
    assert!(v["error"].is_null(), "iperf3 failed during rotations: {v}");
    let bytes = v["end"]["sum_received"]["bytes"].as_f64().unwrap_or(0.0);
    assert!(bytes > 1e6, "{v}");
    let rotations = (0..2)
        .map(|s| {
            t.status(s)["links"][0]["mka"]["rotations"]
                .as_u64()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0);
    assert!(
        rotations >= 3,
        "at least three SAK rotations during the transfer, saw {rotations}"
    );
    assert!(t.ping("3", None), "still forwarding after the rotations");
}

#[test]
fn bandwidth_is_policed_in_each_direction() {
    let mut t = Topo::new("e2e4");
    t.start(CAK, CAK, "bandwidth = \"50Mbps\"");
    t.wait_secured();
    // 8 s: longer than the receiving end's bucket (100 ms at the rate, 625 KB) lasts when each
    // frame is counted 2% larger there than at the sender (as it was, with the SecTAG and ICV).
    let v = iperf(&t, "8");
    let bps = v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or(0.0);
    eprintln!("TCP across a 50 Mbit/s link: {:.1} Mbit/s", bps / 1e6);
    // The transmit side shapes to the rate: TCP gets it, and no more.
    assert!(
        (bps - 50e6).abs() <= 5e6,
        "TCP across a 50 Mbit/s link: {:.1} Mbit/s",
        bps / 1e6
    );
    let st = t.status(0);
    let link = &st["links"][0];
    assert_eq!(link["bandwidth"], "50Mbps", "{st}");
    assert!(
        link["counters"]["txShaped"].as_u64().unwrap_or(0) > 0,
        "the shaper held the excess back: {st}"
    );
    // The far end polices at the rate (2% over it) what the sender shaped to it: nothing is
    // dropped (both count the frames as they are before protection).
    let far = t.status(1);
    assert_eq!(
        far["links"][0]["counters"]["rxDroppedPolicer"], 0,
        "the receiving end's policer dropped frames that the sender shaped to the rate: {far}"
    );
}

/// Each thread of a process: its name and the fields of its `stat` after the name (the first
/// is field 3, the state).
fn threads(pid: u32) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields = stat[close + 2..].split_whitespace().map(str::to_owned);
        out.push((comm.trim().to_owned(), fields.collect()));
    }
    out
}

/// Scheduling policy (field 41 of stat) and state (field 3) of each idle-polling thread of a
/// process.
fn idle_pollers(pid: u32) -> Vec<(u32, char)> {
    threads(pid)
        .into_iter()
        .filter(|(comm, _)| comm.starts_with("xc-idle-poll"))
        .filter_map(|(_, f)| {
            let (st, policy) = (f.first()?, f.get(38)?);
            Some((
                policy.parse().unwrap_or(u32::MAX),
                st.chars().next().unwrap_or('?'),
            ))
        })
        .collect()
}

#[test]
fn idle_polling_spins_at_idle_priority_only_while_traffic_flows() {
    let mut t = Topo::new("e2e5");
    t.gateway_extra = "idle_poll_ms = 300".into();
    t.start(CAK, CAK, "");
    t.wait_secured();
    let st = t.status(0);
    assert_eq!(st["idlePollMs"], 300, "{st}");
    let text = String::from_utf8_lossy(
        &t.exec(0, &[env!("CARGO_BIN_EXE_xconnect"), "gateway", "status"])
            .stdout,
    )
    .into_owned();
    assert!(
        text.contains("Idle polling: the cores poll for 300 ms"),
        "{text}"
    );
    let cores = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Cpus_allowed_list:")
                .map(str::trim)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let n_cores: usize = cores
        .split(',')
        .filter_map(|r| match r.split_once('-') {
            Some((a, b)) => Some(b.parse::<usize>().ok()? - a.parse::<usize>().ok()? + 1),
            None => r.parse::<usize>().ok().map(|_| 1),
        })
        .sum();
    let pid = t.gateways[0].id();
    let pollers = idle_pollers(pid);
    assert_eq!(
        pollers.len(),
        n_cores,
        "one idle-polling thread per core ({cores}): {pollers:?}"
    );
    assert!(
        pollers.iter().all(|(policy, _)| *policy == 5),
        "SCHED_IDLE (5): {pollers:?}"
    );
    // Traffic: the pollers spin (running, R) while it flows, and every ping is answered.
    let ping = Command::new("ip")
        .args(["netns", "exec", &t.ns[0], "ping", "-c", "300", "-i", "0.01"])
        .args(["-W", "1", "169.254.0.1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("ping");
    t.wait_for("a poller to spin", Duration::from_secs(10), || {
        idle_pollers(pid).iter().any(|(_, s)| *s == 'R')
    });
    let out = ping.wait_with_output().expect("ping ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Idle again: after the window they sleep, burning nothing (MKA's hellos every 2 s wake
    // them briefly, so wait for a moment when all sleep).
    t.wait_for("the pollers to sleep", Duration::from_secs(20), || {
        idle_pollers(pid).iter().all(|(_, s)| *s == 'S')
    });
}

/// CPU time (clock ticks, user and system) of each worker thread of link `link` in a process,
/// by thread name (`xc-link-<link>-<worker>`).
fn worker_ticks(pid: u32, link: &str) -> std::collections::BTreeMap<String, u64> {
    let prefix = format!("xc-link-{link}-");
    threads(pid)
        .into_iter()
        .filter(|(comm, _)| comm.starts_with(&prefix))
        .map(|(comm, f)| {
            // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            (comm, ticks(11) + ticks(12))
        })
        .collect()
}

/// What each worker of a's link spent while `f` ran, most first.
fn spent_by_workers(t: &Topo, f: impl FnOnce()) -> Vec<u64> {
    let pid = t.gateways[0].id();
    let before = worker_ticks(pid, "l1");
    f();
    let after = worker_ticks(pid, "l1");
    assert_eq!(
        (before.len(), after.len()),
        (2, 2),
        "two worker threads: {after:?}"
    );
    let mut spent: Vec<u64> = after
        .iter()
        .map(|(name, a)| a - before.get(name).copied().unwrap_or(0))
        .collect();
    spent.sort_unstable_by(|a, b| b.cmp(a));
    spent
}

#[test]
fn a_link_on_two_cores_keeps_a_flow_on_one_worker_and_spreads_many() {
    let mut t = Topo::new("e2lc");
    t.gateway_extra = "link_cores = 2".into();
    t.start(CAK, CAK, "");
    t.wait_secured();
    for side in 0..2 {
        let st = t.status(side);
        assert_eq!(st["links"][0]["workers"], 2, "{st}");
    }
    assert!(t.ping("5", None), "ping across a link on two cores");
    let bps = |v: &serde_json::Value| {
        v["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .unwrap_or(0.0)
    };
    // One TCP stream: one worker carries it (its data one way, its ACKs back, at both ends);
    // the other only wakes now and then.
    let spent = spent_by_workers(&t, || {
        let v = iperf_with(&t, &["-t", "3"]);
        assert!(bps(&v) > 1e6, "one stream: {v}");
    });
    eprintln!("one stream: clock ticks of the workers {spent:?}");
    assert!(
        spent[1] * 5 <= spent[0],
        "one flow on one worker: ticks {spent:?}"
    );
    // Sixteen streams: the kernel spreads their flows over the TAP's two queues, so both
    // workers carry some.
    let spent = spent_by_workers(&t, || {
        let v = iperf_with(&t, &["-t", "3", "-P", "16"]);
        assert!(bps(&v) > 1e6, "sixteen streams: {v}");
    });
    eprintln!("sixteen streams: clock ticks of the workers {spent:?}");
    assert!(
        spent[1] * 10 >= spent[0] && spent[1] >= 10,
        "sixteen flows on both workers: ticks {spent:?}"
    );
    // Nothing refused at either end: each worker's packet-number lanes arrive at the peer's
    // worker of those lanes, whose replay state is its own.
    for side in 0..2 {
        let st = t.status(side);
        let l = &st["links"][0];
        for (what, v) in [
            ("late", &l["secy"]["inPktsLate"]),
            ("not valid", &l["secy"]["inPktsNotValid"]),
            ("replay drops", &l["counters"]["rxDroppedReplay"]),
        ] {
            assert_eq!(v.as_u64(), Some(0), "side {side}: {what}: {st}");
        }
        assert!(
            l["secy"]["inPktsOk"].as_u64().unwrap_or(0) > 10_000,
            "side {side}: {st}"
        );
    }
}

/// Side b's filters: ssh (tcp/22) and tcp/5202 in from side a's network, everything out; its
/// network ACL denies tcp/5202 (rule 100) before allowing everything (rule 200). The networks
/// are behind the link ([`Topo::networks`]): traffic between the link's own addresses is never
/// filtered.
const FILTERS_B: &str = r#"
[[filters.securityGroups]]
groupId = "sg-00000000000000b1"

[[filters.securityGroups.rules]]
ruleId = "sgr-00000000000000b1"
direction = "inbound"
ipProtocol = "tcp"
fromPort = 22
cidrIp = "10.0.0.1/32"

[[filters.securityGroups.rules]]
ruleId = "sgr-00000000000000b2"
direction = "inbound"
ipProtocol = "tcp"
fromPort = 5202
cidrIp = "10.0.0.0/24"

[[filters.securityGroups.rules]]
ruleId = "sgr-00000000000000b3"
direction = "outbound"
ipProtocol = "all"
cidrIp = "0.0.0.0/0"

[filters.networkAcl]
aclId = "acl-00000000000000b1"

[[filters.networkAcl.rules]]
ruleNumber = 100
ruleAction = "deny"
direction = "inbound"
ipProtocol = "tcp"
fromPort = 5202
cidrIp = "0.0.0.0/0"

[[filters.networkAcl.rules]]
ruleNumber = 200
ruleAction = "allow"
direction = "inbound"
ipProtocol = "all"
cidrIp = "0.0.0.0/0"

[[filters.networkAcl.rules]]
ruleNumber = 100
ruleAction = "allow"
direction = "outbound"
ipProtocol = "all"
cidrIp = "0.0.0.0/0"
"#;

impl Topo {
    /// A network behind each end of the link: 10.0.0.1 in a, 10.1.0.1 in b, routed over the
    /// link with those as the sources.
    fn networks(&self) {
        for (side, own, other, via) in [
            (0, "10.0.0.1", "10.1.0.1/32", "169.254.0.1"),
            (1, "10.1.0.1", "10.0.0.1/32", "169.254.0.0"),
        ] {
            let add = self.exec(
                side,
                &["ip", "addr", "add", &format!("{own}/32"), "dev", "lo"],
            );
            assert!(add.status.success(), "{add:?}");
            let route = self.exec(side, &["ip", "route", "add", other, "via", via, "src", own]);
            assert!(route.status.success(), "{route:?}");
        }
    }

    /// Whether a ping from a's network to b's gets an answer.
    fn ping_network(&self) -> bool {
        self.exec(
            0,
            &[
                "ping", "-c", "2", "-i", "0.2", "-W", "1", "-I", "10.0.0.1", "10.1.0.1",
            ],
        )
        .status
        .success()
    }

    /// An iperf3 server for one test on `port` in side `side`'s namespace.
    fn iperf_server(&mut self, side: usize, port: &str) {
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns[side],
                "iperf3",
                "-s",
                "-1",
                "-p",
                port,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("iperf3 server");
        self.servers.push(child);
        let addr = format!(":{port}");
        self.wait_for(
            "the iperf3 server to listen",
            Duration::from_secs(10),
            || String::from_utf8_lossy(&self.exec(side, &["ss", "-ltn"]).stdout).contains(&addr),
        );
    }

    /// Whether a one-second iperf3 test from side `side` to `target`:`port` succeeds.
    fn iperf_to(&self, side: usize, target: &str, port: &str) -> bool {
        self.exec(
            side,
            &[
                "iperf3",
                "-c",
                target,
                "-p",
                port,
                "-t",
                "1",
                "--connect-timeout",
                "2000",
            ],
        )
        .status
        .success()
    }
}

#[test]
fn filters_let_ssh_in_refuse_the_rest_and_pass_the_replies_of_outbound_flows() {
    let mut t = Topo::new("e2e6");
    // b logs its link's flows (10-second windows) to a file.
    let flow_log = t.dir.path().join("flow-log.txt");
    t.gateway_extra = format!("flow_log_file = \"{}\"", flow_log.display());
    t.filters_b = format!(
        "{FILTERS_B}\n[filters.flowLogs.l1]\naccountId = \"111122223333\"\ninterfaceId = \"l1\"\naggregationSecs = 10\n"
    );
    t.start(CAK, CAK, "");
    t.wait_secured();
    t.networks();
    // No rule lets ICMP in at b: a's ping is dropped after decryption (ARP passes: not IP).
    assert!(!t.ping_network(), "ping into b passed without a rule");
    // The link's own addresses are the link's business (BGP, BFD, probes): never filtered.
    assert!(
        t.ping("2", None),
        "a ping between the link's ends was filtered"
    );
    t.iperf_server(1, "22");
    assert!(
        t.iperf_to(0, "10.1.0.1", "22"),
        "tcp/22 into b is allowed; logs:\n{}",
        t.logs()
    );
    t.iperf_server(1, "23");
    assert!(
        !t.iperf_to(0, "10.1.0.1", "23"),
        "tcp/23 into b has no rule"
    );
    t.iperf_server(1, "5202");
    assert!(
        !t.iperf_to(0, "10.1.0.1", "5202"),
        "the ACL denies tcp/5202 before the group allows it"
    );
    // b's own flow out: its replies come back in without an inbound rule.
    t.iperf_server(0, "5201");
    assert!(
        t.iperf_to(1, "10.0.0.1", "5201"),
        "the replies of b's outbound flow came back"
    );

    let st = t.status(1);
    let f = &st["filters"];
    assert_eq!(f["securityGroups"], 1, "{st}");
    assert_eq!(f["networkAcl"], "acl-00000000000000b1", "{st}");
    assert!(
        f["drops"]["noRule"].as_u64().unwrap_or(0) > 0,
        "ping and tcp/23 counted: {f}"
    );
    assert!(
        f["drops"]["aclDeny"].as_u64().unwrap_or(0) > 0,
        "tcp/5202 counted: {f}"
    );
    let hits = |rule: &str| {
        f["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["rule"] == rule)
            .and_then(|r| r["hits"].as_u64())
            .unwrap_or(0)
    };
    assert!(
        hits("sgr-00000000000000b1") >= 1,
        "the ssh rule admitted the flow: {f}"
    );
    assert!(
        hits("sgr-00000000000000b3") >= 1,
        "the outbound rule admitted b's flow: {f}"
    );
    assert!(
        hits("acl-00000000000000b1/inbound/100") >= 1,
        "the deny rule decided: {f}"
    );
    assert!(
        st["links"][0]["counters"]["rxDroppedFilter"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "the link counts what its filters dropped: {st}"
    );
    assert_eq!(
        t.status(0)["filters"],
        serde_json::Value::Null,
        "a has no filters and reports none"
    );
    let metrics = String::from_utf8_lossy(
        &t.exec(
            1,
            &[
                "python3",
                "-c",
                "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:7801/metrics').read().decode())",
            ],
        )
        .stdout,
    )
    .into_owned();
    assert!(
        metrics.contains("xconnect_filter_drops_total{gateway=\"gw-1\",cause=\"no_rule\"}"),
        "{metrics}"
    );
    // `gateway status` for people: the filters, their drops and every rule's hits.
    let text = String::from_utf8_lossy(
        &t.exec(1, &[env!("CARGO_BIN_EXE_xconnect"), "gateway", "status"])
            .stdout,
    )
    .into_owned();
    assert!(
        text.contains("Filters: 1 security group(s), network ACL acl-00000000000000b1;")
            && text.contains("sgr-00000000000000b1"),
        "{text}"
    );
    // b's flow log: the refused tcp/23 attempt (REJECT) and the ssh flow (ACCEPT), a's
    // addresses to b's, on the link.
    let fields = |l: &str| l.split(' ').map(str::to_owned).collect::<Vec<_>>();
    let logged = |port: &str, action: &str| {
        std::fs::read_to_string(&flow_log)
            .unwrap_or_default()
            .lines()
            .map(fields)
            .any(|f| {
                f.len() == 14
                    && f[..5] == ["2", "111122223333", "l1", "10.0.0.1", "10.1.0.1"]
                    && f[6] == port
                    && f[7] == "6"
                    && f[12] == action
                    && f[13] == "OK"
            })
    };
    t.wait_for(
        "b's flow log to have the refused telnet and the ssh flow",
        Duration::from_secs(60),
        || logged("23", "REJECT") && logged("22", "ACCEPT"),
    );
}

/// A full connection table (two flows here, `flow_table_size = 2`) refuses new flows, counted
/// as `tableFull`, and keeps carrying the flows it holds.
#[test]
fn a_full_connection_table_refuses_new_flows_and_keeps_the_old_ones() {
    let mut t = Topo::new("e2e7");
    t.filters_b = FILTERS_B.to_owned();
    t.gateway_extra = "flow_table_size = 2".to_owned();
    t.start(CAK, CAK, "");
    t.wait_secured();
    t.networks();
    t.iperf_server(1, "22");
    t.iperf_server(0, "5201");
    let long = std::thread::scope(|s| {
        // One iperf3 test from a fills b's table: its control and its data connection ...
        let long = s.spawn(|| {
            t.exec(
                0,
                &[
                    "iperf3", "-c", "10.1.0.1", "-p", "22", "-t", "5", "-b", "20M",
                ],
            )
        });
        t.wait_for(
            "b's table to hold the test's two flows",
            Duration::from_secs(20),
            || t.status(1)["filters"]["flows"] == 2,
        );
        // ... so a new flow, one the rules allow (b's own, outbound), is refused while it runs.
        assert!(
            !t.iperf_to(1, "10.0.0.1", "5201"),
            "a new flow got through a full table"
        );
        long.join().expect("the long test")
    });
    assert!(
        long.status.success(),
        "the flows the table held were cut: {}\n{}",
        String::from_utf8_lossy(&long.stdout),
        t.logs()
    );
    let f = t.status(1)["filters"].clone();
    assert!(
        f["drops"]["tableFull"].as_u64().unwrap_or(0) > 0,
        "the refusals counted: {f}"
    );
    assert_eq!(f["flowCapacity"], 2, "{f}");
}

/// Runs `tests/scripts/offload_sizes.py MODE ARGS` on one side.
fn offload_script(t: &Topo, side: usize, args: &[&str]) -> Command {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/offload_sizes.py"
    );
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &t.ns[side], "python3", script])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Starts a receiver of the script and waits for its "ready" line.
fn offload_receiver(t: &Topo, args: &[&str]) -> Child {
    use std::io::BufRead;
    let mut child = offload_script(t, 1, args).spawn().expect("receiver");
    let mut line = String::new();
    let stdout = child.stdout.as_mut().expect("stdout");
    let mut reader = std::io::BufReader::new(stdout);
    reader.read_line(&mut line).expect("receiver output");
    assert_eq!(line.trim(), "ready", "receiver did not start");
    child
}

fn last_json_line(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// Sends BYTES over TCP from a to TARGET:PORT in b and checks that b read exactly them.
fn tcp_through(t: &Topo, target: &str, port: &str, bytes: &str) {
    let rx = offload_receiver(t, &["tcp-recv", target, port]);
    let sent = offload_script(t, 0, &["tcp-send", target, port, bytes])
        .output()
        .expect("tcp sender");
    assert_eq!(
        last_json_line(&rx.wait_with_output().expect("receiver")),
        last_json_line(&sent),
        "what arrived at {target} is not what was sent"
    );
}

#[test]
fn segmentation_offload_carries_every_size_class_intact_and_in_order() {
    let mut t = Topo::new("tso");
    t.start(CAK, CAK, "");
    t.wait_secured();
    t.wait_for("a ping across", Duration::from_secs(30), || {
        t.ping("1", None)
    });
    let counters = |side: usize| t.status(side)["links"][0]["counters"].clone();
    let before = counters(0);
    let mtu = t.status(0)["links"][0]["mtu"]
        .as_u64()
        .expect("the link's MTU");
    let mtu_arg = mtu.to_string();

    // UDP GSO bursts (one send of up to 64 datagrams each): every datagram arrives, in order,
    // byte for byte.
    let rx = offload_receiver(&t, &["udp-recv", "169.254.0.1", "9100", "3", &mtu_arg]);
    let sent = offload_script(&t, 0, &["udp-send", "169.254.0.1", "9100", &mtu_arg])
        .output()
        .expect("udp sender");
    assert!(sent.status.success(), "{sent:?}");
    let report = last_json_line(&rx.wait_with_output().expect("receiver"));
    for burst in report.as_array().expect("bursts") {
        assert_eq!(burst["received"], burst["sent"], "{report}");
        assert_eq!(burst["in_order"], true, "{report}");
        assert_eq!(burst["intact"], true, "{report}");
    }
    let after_udp = counters(0);
    let segmented = |c: &serde_json::Value| c["txSegmented"].as_u64().unwrap_or(0);
    assert!(
        segmented(&after_udp) > segmented(&before),
        "no UDP burst reached the link as one read: {after_udp}"
    );

    // 64 MiB over TCP in 256 KiB writes: the kernel hands the link 64 KiB frames; the far end
    // reads exactly what was sent.
    tcp_through(&t, "169.254.0.1", "9101", "67108864");
    let after = counters(0);
    let reads = segmented(&after) - segmented(&after_udp);
    let frames =
        after["txPackets"].as_u64().unwrap_or(0) - after_udp["txPackets"].as_u64().unwrap_or(0);
    assert!(
        reads > 0 && frames > 2 * reads,
        "TCP did not go through the link as segmentation-offload reads: {reads} reads, {frames} frames"
    );
    assert_eq!(after["txDroppedOffload"], 0, "{after}");

    // The same over IPv6, between the link's link-local addresses (TCPv6 segmented on one side,
    // coalesced on the other).
    let mut ll = String::new();
    t.wait_for(
        "side b's link-local address",
        Duration::from_secs(10),
        || {
            let out = t.exec(
                1,
                &[
                    "ip", "-6", "-o", "addr", "show", "dev", "xc-l1", "scope", "link",
                ],
            );
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            ll = text
                .split_whitespace()
                .skip_while(|w| *w != "inet6")
                .nth(1)
                .and_then(|a| a.split('/').next())
                .unwrap_or_default()
                .to_owned();
            !ll.is_empty() && !text.contains("tentative")
        },
    );
    let target = format!("{ll}%xc-l1");
    tcp_through(&t, &target, "9103", "67108864");
    let after6 = counters(0);
    assert!(
        segmented(&after6) > segmented(&after),
        "TCPv6 did not go through the link as segmentation-offload reads: {after6}"
    );
    // Big pings (not offloaded, checksummed by the kernel) still cross at the link's MTU.
    t.assert_link_mtu(mtu);
}

#[test]
fn a_jumbo_underlay_gives_the_link_a_jumbo_mtu() {
    let mut t = Topo::new("jmb");
    for (side, dev) in [(0, "jmb-va"), (1, "jmb-vb")] {
        ok(&["ip", "-n", &t.ns[side], "link", "set", dev, "mtu", "9000"]);
    }
    t.start(CAK, CAK, "");
    t.wait_secured();
    // Both ends find that the underlay carries the full size.
    t.wait_path_mtu("verified");
    for side in 0..2 {
        assert_eq!(
            t.status(side)["links"][0]["pathMtu"],
            serde_json::json!({"state": "verified", "configured": 8918, "verified": 8918})
        );
    }
    t.assert_link_mtu(9000 - 82);
    // TCP with segments of the jumbo MSS, handed to the link 64 KiB at a time.
    tcp_through(&t, "169.254.0.1", "9102", "33554432");
}

/// Jumbo underlay interfaces at both gateways, but the switch between them forwards 1500-byte
/// frames only and drops larger ones silently, as switches do: a black hole for every packet
/// of the MTU the interfaces promise. The link's path-MTU check finds it at start, lowers the
/// link's MTU to what crosses, and says so; a big TCP transfer then completes instead of
/// hanging.
#[test]
fn an_underlay_that_drops_large_packets_lowers_the_link_mtu_and_says_so() {
    let mut t = Topo::switched("pmt");
    let m = t.middle.clone().expect("the switch's namespace");
    for (ns, dev, mtu) in [
        (&t.ns[0], "pmt-va", "9000"),
        (&t.ns[1], "pmt-vb", "9000"),
        (&m, "pmt-ma", "9000"),
        (&m, "pmt-mb", "1500"),
    ] {
        ok(&["ip", "-n", ns, "link", "set", dev, "mtu", mtu]);
    }
    // Each underlay packet leaves as one frame, as from a physical NIC (a veth would hand a
    // UDP GSO batch through the bridge whole, whatever the port's MTU).
    for side in 0..2 {
        let dev = ["pmt-va", "pmt-vb"][side];
        ok(&[
            "ip",
            "-n",
            &t.ns[side],
            "link",
            "set",
            dev,
            "gso_max_segs",
            "1",
        ]);
    }
    t.start(CAK, CAK, "");
    t.wait_secured();
    t.wait_path_mtu("reduced");
    for side in 0..2 {
        assert_eq!(
            t.status(side)["links"][0]["pathMtu"],
            serde_json::json!({"state": "reduced", "configured": 8918, "verified": 1418}),
            "side {side}"
        );
    }
    t.assert_link_mtu(1418);
    let table = t.exec(0, &[env!("CARGO_BIN_EXE_xconnect"), "gateway", "status"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("reduced from 8918"), "{table}");
    // With the interfaces' MTU, TCP's MSS would be 8878 and no full segment would cross.
    tcp_through(&t, "169.254.0.1", "9104", "33554432");
    assert!(
        t.logs().contains("link MTU lowered"),
        "the gateway logs the change\n{}",
        t.logs()
    );
}

/// With liveness on (10 ms keepalives, dead after 3), an idle link keeps itself known alive by
/// keepalives, which go no further than the link; when the underlay drops what a sends, b finds
/// the link dead and turns its TAP's carrier off (the kernel stops using its routes), and a,
/// which still hears b but is told by b's keepalives that b hears nothing, turns its own off
/// too; once healed both carriers come back on.
#[test]
fn a_dead_link_turns_its_carrier_off_and_back_on_when_it_lives_again() {
    let mut t = Topo::new("live");
    t.start(
        CAK,
        CAK,
        "liveness_interval_ms = 10\nliveness_multiplier = 3",
    );
    t.wait_secured();
    let counter = |side: usize, name: &str| {
        t.status(side)["links"][0]["counters"][name]
            .as_u64()
            .unwrap_or(0)
    };
    t.wait_for("keepalives both ways", Duration::from_secs(30), || {
        (0..2).all(|s| counter(s, "keepalivesRx") > 10 && t.status(s)["links"][0]["alive"] == true)
    });
    assert!(t.ping("3", None), "traffic crosses\n{}", t.logs());
    assert_eq!(counter(1, "carrierDowns"), 0, "no flap while idle");
    let carrier = |side: usize| {
        let shown =
            String::from_utf8_lossy(&t.exec(side, &["ip", "-o", "link", "show", "xc-l1"]).stdout)
                .into_owned();
        !shown.contains("NO-CARRIER")
    };
    assert!(carrier(0) && carrier(1));
    // b stops receiving from a.
    let o = t.exec(
        1,
        &[
            "nft",
            "table inet cut { chain i { type filter hook input priority 0; udp dport 4789 drop; }; }",
        ],
    );
    assert!(
        o.status.success(),
        "nft: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    t.wait_for("b to find the link dead", Duration::from_secs(30), || {
        !carrier(1) && t.status(1)["links"][0]["alive"] == false
    });
    assert!(counter(1, "carrierDowns") >= 1);
    t.wait_for(
        "a, told that b hears nothing, to find it dead too",
        Duration::from_secs(30),
        || !carrier(0) && t.status(0)["links"][0]["alive"] == false,
    );
    let o = t.exec(1, &["nft", "delete", "table", "inet", "cut"]);
    assert!(
        o.status.success(),
        "nft: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    t.wait_for("both carriers back", Duration::from_secs(30), || {
        (0..2).all(|s| carrier(s) && t.status(s)["links"][0]["alive"] == true)
    });
    assert!(t.ping("3", None), "traffic crosses again\n{}", t.logs());
    assert!(
        t.logs().contains("carrier off") && t.logs().contains("carrier on"),
        "the gateway logs both\n{}",
        t.logs()
    );
}

/// Liveness on at one end only (the other's configuration leaves it out, as an older gateway's
/// would): the end that has it never hears a keepalive, so it never arms, never finds the idle
/// link dead between two frames and leaves the carrier on; traffic crosses.
#[test]
fn liveness_at_one_end_only_never_takes_the_link_down() {
    let mut t = Topo::new("live1");
    t.start_each([
        (CAK, "liveness_interval_ms = 5\nliveness_multiplier = 2"),
        (CAK, ""),
    ]);
    t.wait_secured();
    let counter = |name: &str| {
        t.status(0)["links"][0]["counters"][name]
            .as_u64()
            .unwrap_or(0)
    };
    // Its keepalives go out (and validate at b, which drops them: nothing reaches b's TAP).
    t.wait_for("a's keepalives", Duration::from_secs(30), || {
        counter("keepalivesTx") > 200
    });
    assert!(t.ping("3", None), "traffic crosses\n{}", t.logs());
    // A second of idle link after: with 10 ms to find it dead, an armed end would have.
    let idle_from = counter("keepalivesTx");
    t.wait_for(
        "another second of keepalives",
        Duration::from_secs(30),
        || counter("keepalivesTx") > idle_from + 200,
    );
    assert_eq!(counter("keepalivesRx"), 0, "b sends none");
    assert_eq!(counter("carrierDowns"), 0, "never found dead\n{}", t.logs());
    assert_eq!(
        t.status(0)["links"][0]["alive"],
        serde_json::Value::Null,
        "neither alive nor dead"
    );
    let shown = String::from_utf8_lossy(&t.exec(0, &["ip", "-o", "link", "show", "xc-l1"]).stdout)
        .into_owned();
    assert!(!shown.contains("NO-CARRIER"), "{shown}");
    assert!(t.ping("3", None), "traffic still crosses\n{}", t.logs());
}

/// A machine that stalls (its vCPUs descheduled by the host, as a busy VM's are) stops every
/// link thread at once, both ends' when they share it: here both gateways are stopped together
/// for 200 ms, many times the 30 ms detection time. What the threads did not watch is not
/// silence: no link is found dead when they run again.
#[test]
fn a_stall_of_the_whole_machine_is_not_a_dead_link() {
    let mut t = Topo::new("stall");
    t.start(
        CAK,
        CAK,
        "liveness_interval_ms = 10\nliveness_multiplier = 3",
    );
    t.wait_secured();
    t.wait_for("both ends alive", Duration::from_secs(30), || {
        (0..2).all(|s| t.status(s)["links"][0]["alive"] == true)
    });
    let downs = |side: usize| {
        t.status(side)["links"][0]["counters"]["carrierDowns"]
            .as_u64()
            .unwrap_or(u64::MAX)
    };
    assert_eq!((downs(0), downs(1)), (0, 0));
    let pids: Vec<String> = t.gateways.iter().map(|c| c.id().to_string()).collect();
    let signal = |sig: &str| {
        let o = Command::new("kill")
            .arg(sig)
            .args(&pids)
            .output()
            .expect("kill");
        assert!(
            o.status.success(),
            "kill {sig}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    for _ in 0..5 {
        signal("-STOP");
        std::thread::sleep(Duration::from_millis(200));
        signal("-CONT");
        // Both ends send and hear keepalives again before the next stall.
        let rx = |side: usize| {
            t.status(side)["links"][0]["counters"]["keepalivesRx"]
                .as_u64()
                .unwrap_or(0)
        };
        let (a, b) = (rx(0), rx(1));
        t.wait_for(
            "keepalives after the stall",
            Duration::from_secs(30),
            || rx(0) > a + 5 && rx(1) > b + 5,
        );
    }
    assert_eq!(
        (downs(0), downs(1)),
        (0, 0),
        "a stall is not a dead link\n{}",
        t.logs()
    );
    assert!(t.ping("3", None), "traffic crosses\n{}", t.logs());
}
