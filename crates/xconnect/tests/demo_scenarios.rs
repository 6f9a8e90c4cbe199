//! Failure and change scenarios on the demo's topology (two VPCs, two gateways each in two
//! facilities, four links): ECMP in the gateways' kernels; one link cut (traffic continues, the
//! link is reported, the connection stays available); every link cut (`down` with a reason, then
//! `available` again); bandwidth changed live (iperf3 measures the policer); the server stopped
//! (traffic continues, state catches up); a gateway killed and restarted (its links come back);
//! delete from the remote side (links and routes gone on all gateways); the metrics the gateways
//! measure (traffic, loss), and an alarm with a webhook as every link is cut and restored;
//! security groups, a network ACL, flow logs and dry runs over the four links in IPv4 and IPv6
//! with paths that are not symmetric, and a full connection table.
//!
//! Runs `xconnect demo` (not `--check`) and drives it from outside. Needs root, iproute2, ping,
//! traceroute, iperf3 and nftables (`.ci/run` installs them). Shares the demo's namespace names
//! with `demo.rs`: `.config/nextest.toml` runs the two one at a time.

mod netns;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const UP: Duration = Duration::from_secs(90);
const ENDPOINT: &str = "http://169.254.253.1:7700";

fn run(args: &[&str]) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn in_ns(ns: &str, args: &[&str]) -> std::process::Output {
    let mut a = vec!["ip", "netns", "exec", ns];
    a.extend_from_slice(args);
    run(&a)
}

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct Env {
    key: String,
    secret: String,
}

fn read_env(path: &Path) -> Env {
    let text = std::fs::read_to_string(path).expect("tenant env file");
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {k}=")))
            .unwrap_or_default()
            .to_owned()
    };
    Env {
        key: get("AWS_ACCESS_KEY_ID"),
        secret: get("AWS_SECRET_ACCESS_KEY"),
    }
}

/// The running demo and what the test started beside it; stopped in that order on drop.
struct Demo {
    extra: Vec<Child>,
    demo: Child,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        for c in &mut self.extra {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = run(&["kill", "-TERM", &self.demo.id().to_string()]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.demo.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.demo.kill();
        let _ = self.demo.wait();
    }
}

impl Demo {
    fn start() -> Self {
        assert_eq!(out(&run(&["id", "-u"])).trim(), "0", "this test needs root");
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("demo.out");
        let f = std::fs::File::create(&log).expect("log");
        let demo = Command::new(env!("CARGO_BIN_EXE_xconnect"))
            .args(["demo", "--dir"])
            .arg(dir.path().join("run"))
            .stdout(f.try_clone().expect("log"))
            .stderr(f)
            .stdin(Stdio::null())
            .spawn()
            .expect("start the demo");
        let d = Demo {
            extra: Vec::new(),
            demo,
            log,
            dir,
        };
        d.wait("the demo to be running", Duration::from_secs(240), || {
            d.output().contains("the demo is running")
        });
        d
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    fn context(&self) -> String {
        let mut s = format!("--- demo output\n{}\n", self.output());
        for name in [
            "server",
            "server-2",
            "aws-gw1",
            "aws-gw1-2",
            "gcp-gw1",
            "gcp-gw2",
        ] {
            let log = std::fs::read_to_string(self.run_dir().join(format!("{name}.log")))
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            s += &format!("--- {name} (newest first)\n{}\n", tail.join("\n"));
        }
        s
    }

    fn wait(&self, what: &str, deadline: Duration, f: impl FnMut() -> bool) -> Duration {
        netns::wait_for(what, deadline, f, || self.context())
    }

    fn connection_id(&self) -> String {
        self.output()
            .lines()
            .find_map(|l| l.trim().strip_prefix("then: xconnect connection get "))
            .and_then(|r| r.split(';').next())
            .expect("the connection id in the demo's output")
            .to_owned()
    }

    fn cli(&self, who: &str, args: &[&str]) -> Result<Value, String> {
        let env = read_env(&self.run_dir().join(format!("{who}.env")));
        let o = Command::new(env!("CARGO_BIN_EXE_xconnect"))
            .args(args)
            .args(["--output", "json"])
            .env("AWS_ACCESS_KEY_ID", env.key)
            .env("AWS_SECRET_ACCESS_KEY", env.secret)
            .env("XCONNECT_ENDPOINT", ENDPOINT)
            .output()
            .expect("cli");
        if o.status.success() {
            serde_json::from_slice(&o.stdout).map_err(|e| e.to_string())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).into_owned())
        }
    }

    fn state(&self, id: &str) -> (String, String) {
        match self.cli("aws", &["connection", "get", id]) {
            Ok(v) => (
                v["state"].as_str().unwrap_or_default().to_owned(),
                v["stateReason"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ),
            Err(e) => ("?".into(), e),
        }
    }

    /// Stops the server (SIGTERM) and waits until it is gone.
    fn stop_server(&self) {
        let server_pid = pid_of("server --listen 169.254.253.1:7700");
        let _ = run(&["kill", "-TERM", &server_pid]);
        self.wait("the server to stop", UP, || {
            // (It stays a zombie until the demo reaps it: look at its state, not its pid.)
            std::fs::read_to_string(format!("/proc/{server_pid}/stat"))
                .map_or(true, |st| st.split_whitespace().nth(2) == Some("Z"))
        });
    }

    /// Starts the server again on its data directory.
    fn start_server_again(&mut self) {
        let log = std::fs::File::create(self.run_dir().join("server-2.log")).expect("log");
        let server = Command::new(env!("CARGO_BIN_EXE_xconnect"))
            .args(["server", "--listen", "169.254.253.1:7700", "--data-dir"])
            .arg(self.run_dir().join("server"))
            .args(["--webhook-allow-network", "127.0.0.0/8"])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("restart the server");
        self.extra.push(server);
    }

    /// Kills aws-gw1 (SIGKILL), waits for its links to be reported down, restarts it from its
    /// state directory (with `extra` arguments) and waits for all four links to be up again.
    fn restart_aws_gw1(&mut self, id: &str, extra: &[&str]) {
        // By its state directory, which is this demo's alone (other tests run gateways named
        // aws-gw1 meanwhile).
        let state_dir = self.run_dir().join("aws-gw1-state");
        let gw_pid = pid_of(&state_dir.display().to_string());
        let _ = run(&["kill", "-KILL", &gw_pid]);
        self.wait("aws-gw1's links to be reported down", UP, || {
            self.links(id)
                .iter()
                .filter(|l| gateway_of(&l["ends"][0]) == "aws-gw1")
                .all(|l| l["state"] == "down")
        });
        let log = std::fs::File::create(self.run_dir().join("aws-gw1-2.log")).expect("log");
        let gw = Command::new("ip")
            .args([
                "netns",
                "exec",
                "xcdemo-aws-gw1",
                env!("CARGO_BIN_EXE_xconnect"),
            ])
            .args(["gateway", "run", "--controller", ENDPOINT])
            .args([
                "--underlay-address",
                "169.254.253.11",
                "--name",
                "aws-gw1",
                "--state-dir",
            ])
            .arg(&state_dir)
            .args(extra)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("restart the gateway");
        self.extra.push(gw);
        self.wait_four_links_up(id);
    }

    /// `connection metrics` as aws sees it: the series of `metric` (for `link`), from `start`.
    /// Runs a console script of `tests/console` against the demo's server as the AWS tenant.
    fn console(&self, script: &str, id: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console");
        assert!(
            dir.join("node_modules/playwright-core").exists(),
            "npm's playwright-core is missing: run `npm ci` in {} (scripts/test.sh does)",
            dir.display()
        );
        let env = read_env(&self.run_dir().join("aws.env"));
        let o = Command::new("node")
            .arg(dir.join(script))
            .env("XC_ENDPOINT", ENDPOINT)
            .env("XC_KEY", env.key)
            .env("XC_SECRET", env.secret)
            .env("XC_CONNECTION", id)
            .env(
                "XC_SHOTS",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots"),
            )
            .output()
            .expect("run node");
        assert!(
            o.status.success(),
            "{script}: {}{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            self.context()
        );
    }

    fn metric(&self, id: &str, metric: &str, link: Option<u64>, start: i64) -> Vec<(i64, f64)> {
        let start = time_text(start);
        let link = link.map(|l| l.to_string());
        let mut args = vec![
            "connection",
            "metrics",
            id,
            "--metric",
            metric,
            "--start",
            &start,
        ];
        if let Some(l) = &link {
            args.extend(["--link", l]);
        }
        let v = self
            .cli("aws", &args)
            .unwrap_or_else(|e| panic!("metrics: {e}\n{}", self.context()));
        v["metrics"][0]["points"]
            .as_array()
            .expect("points")
            .iter()
            .map(|p| {
                (
                    unix_of(p["timestamp"].as_str().expect("timestamp")),
                    p["value"].as_f64().expect("value"),
                )
            })
            .collect()
    }

    /// Waits until every link's minute starting at `minute` is stored (each gateway reports a
    /// minute once it closes, a few seconds apart).
    fn wait_for_minute(&self, id: &str, minute: i64) {
        let links: Vec<u64> = self
            .links(id)
            .iter()
            .filter_map(|l| l["id"].as_u64())
            .collect();
        assert_eq!(links.len(), 4, "four links");
        // Until the minute is over, and two more for the reports.
        let deadline = (minute + 60 - now()).max(0) as u64 + 120;
        self.wait(
            &format!("every link's minute {} to be stored", time_text(minute)),
            Duration::from_secs(deadline),
            || {
                // (From a minute ago at the latest: a query's start is in the past.)
                links.iter().all(|&l| {
                    self.metric(id, "ConnectionState", Some(l), minute.min(now() - 60))
                        .iter()
                        .any(|&(t, _)| t >= minute)
                })
            },
        );
    }

    /// Waits until the connection has its four links, all up.
    fn wait_four_links_up(&self, id: &str) {
        self.wait("four links up", UP, || {
            let l = self.links(id);
            l.len() == 4 && l.iter().all(|x| x["state"] == "up")
        });
    }

    fn links(&self, id: &str) -> Vec<Value> {
        self.cli("aws", &["connection", "links", id])
            .ok()
            .and_then(|v| v["links"].as_array().cloned())
            .unwrap_or_default()
    }

    fn ping(&self) -> bool {
        in_ns(
            "xcdemo-aws-host",
            &["ping", "-c", "1", "-W", "1", "10.1.1.10"],
        )
        .status
        .success()
    }

    /// Drops a gateway's UDP traffic on the given ports (a link cut that leaves the control
    /// plane reachable).
    fn cut(&self, gw: &str, ports: &str) {
        let ns = format!("xcdemo-{gw}");
        let rules = format!(
            "table inet xct {{ chain i {{ type filter hook input priority 0; udp dport {ports} drop; }}; chain o {{ type filter hook output priority 0; udp dport {ports} drop; }}; }}"
        );
        let o = in_ns(&ns, &["nft", &rules]);
        assert!(
            o.status.success(),
            "nft: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn heal(&self, gw: &str) {
        let _ = in_ns(
            &format!("xcdemo-{gw}"),
            &["nft", "delete", "table", "inet", "xct"],
        );
    }

    /// iperf3 from the aws host to the gcp host (a fresh server on `port`) for 5 s after 2 s
    /// that are not counted (the links' parts of the bandwidth move to the flow meanwhile);
    /// bits per second received.
    fn iperf(&self, port: u16) -> f64 {
        self.iperf_with(port, &["-t", "5", "-O", "2"])["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .expect("bits per second")
    }

    /// iperf3 from the aws host to the gcp host for `secs` seconds: its JSON report.
    fn iperf_json(&self, port: u16, secs: u32) -> Value {
        self.iperf_with(port, &["-t", &secs.to_string()])
    }

    /// iperf3 from the aws host to the gcp host with `args`: its JSON report.
    fn iperf_with(&self, port: u16, args: &[&str]) -> Value {
        let p = port.to_string();
        let mut server = Command::new("ip")
            .args([
                "netns",
                "exec",
                "xcdemo-gcp-host",
                "iperf3",
                "-s",
                "-1",
                "-p",
                &p,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("iperf3 server");
        let mut last = String::new();
        let mut result = None;
        for _ in 0..50 {
            let mut command = vec!["iperf3", "-c", "10.1.1.10", "-p", &p, "-J"];
            command.extend(args);
            let o = in_ns("xcdemo-aws-host", &command);
            let v = serde_json::from_slice::<Value>(&o.stdout).ok();
            if let Some(v) = v.filter(|v| v["end"]["sum_received"]["bytes"].is_u64()) {
                result = Some(v);
                break;
            }
            last = format!("{}{}", out(&o), String::from_utf8_lossy(&o.stderr));
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = server.kill();
        let _ = server.wait();
        result.unwrap_or_else(|| panic!("iperf3 failed: {last}\n{}", self.context()))
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn minute_of(t: i64) -> i64 {
    t - t.rem_euclid(60)
}

/// Unix seconds as RFC 3339 (UTC), with `date`'s help.
fn time_text(t: i64) -> String {
    out(&run(&[
        "date",
        "-u",
        "-d",
        &format!("@{t}"),
        "+%Y-%m-%dT%H:%M:%SZ",
    ]))
    .trim()
    .to_owned()
}

/// RFC 3339 as Unix seconds, with `date`'s help.
fn unix_of(s: &str) -> i64 {
    out(&run(&["date", "-u", "-d", s, "+%s"]))
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("a time: {s}"))
}

/// The pid of the first process whose command line matches `pattern`.
fn pid_of(pattern: &str) -> String {
    out(&run(&["pgrep", "-f", pattern]))
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no process matches `{pattern}`"))
        .trim()
        .to_owned()
}

fn gateway_of(end: &Value) -> String {
    end["gatewayName"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn failures_and_changes_on_the_demo_topology() {
    let mut d = Demo::start();
    let id = d.connection_id();
    // Four links over two facilities, all up; ECMP in each gateway's kernel.
    d.wait_four_links_up(&id);
    d.wait("an ECMP route in aws-gw1", UP, || {
        let r = out(&in_ns(
            "xcdemo-aws-gw1",
            &["ip", "route", "show", "10.1.0.0/16", "proto", "bgp"],
        ));
        r.matches("nexthop via 169.254.").count() == 2
    });
    assert!(d.ping());

    // One link cut: reported, traffic continues, the connection stays available.
    let links = d.links(&id);
    let victim = links
        .iter()
        .find(|l| gateway_of(&l["ends"][1]) == "gcp-gw2")
        .expect("a link to gcp-gw2");
    let port = victim["ends"][1]["underlay"]
        .as_str()
        .and_then(|u| u.rsplit_once(':'))
        .map(|(_, p)| p.to_owned())
        .expect("the link's UDP port");
    let name = victim["name"].as_str().expect("name").to_owned();
    d.cut("gcp-gw2", &port);
    d.wait("the cut link to be reported down", UP, || {
        d.links(&id).iter().any(|l| {
            l["name"] == name.as_str() && l["state"] == "down" && l["reason"]["code"].is_string()
        })
    });
    for _ in 0..5 {
        assert!(d.ping(), "traffic with one link cut\n{}", d.context());
    }
    assert_eq!(d.state(&id).0, "available");
    d.heal("gcp-gw2");
    d.wait("the link to come back", UP, || {
        d.links(&id).iter().all(|l| l["state"] == "up")
    });
    // The account's events tell it: the link went down with its reason, then up again.
    let link_id = victim["id"].as_u64().expect("link id");
    let turns: Vec<(String, String)> = d
        .cli("aws", &["events", "--since", "1h"])
        .unwrap_or_else(|e| panic!("events: {e}"))["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "link.stateChange" && e["detail"]["linkId"] == link_id)
        .map(|e| {
            (
                e["detail"]["state"].as_str().unwrap_or_default().to_owned(),
                e["detail"]["reasonCode"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert!(
        turns.len() >= 2
            && turns[turns.len() - 2].0 == "down"
            && !turns[turns.len() - 2].1.is_empty()
            && turns[turns.len() - 1] == ("up".to_owned(), String::new()),
        "the cut link's events: {turns:?}"
    );

    // Every link cut: down with a reason; back when restored.
    d.cut("gcp-gw1", "10000-10999");
    d.cut("gcp-gw2", "10000-10999");
    d.wait("the connection to be down", UP, || d.state(&id).0 == "down");
    let (_, reason) = d.state(&id);
    assert!(!reason.is_empty(), "down carries a reason");
    assert!(!d.ping());
    d.heal("gcp-gw1");
    d.heal("gcp-gw2");
    d.wait("available again", UP, || d.state(&id).0 == "available");
    d.wait("traffic again", UP, || d.ping());

    // Bandwidth changed live: the policers follow, links are not re-created.
    let taps_before = out(&in_ns("xcdemo-aws-gw1", &["ip", "-o", "link", "show"]));
    let link_names: Vec<String> = d
        .links(&id)
        .iter()
        .filter_map(|l| l["name"].as_str().map(str::to_owned))
        .collect();
    for (bw, bps, port) in [("100Mbps", 100e6, 5301), ("200Mbps", 200e6, 5302)] {
        d.cli("aws", &["connection", "update", &id, "--bandwidth", bw])
            .unwrap_or_else(|e| panic!("update: {e}"));
        d.wait("the update to be applied", UP, || {
            d.cli("aws", &["connection", "get", &id])
                .is_ok_and(|v| v["bandwidth"] == bw && v["state"] == "available")
        });
        d.wait("the gateways to police at the new rate", UP, || {
            let st = out(&in_ns(
                "xcdemo-aws-gw1",
                &[
                    env!("CARGO_BIN_EXE_xconnect"),
                    "gateway",
                    "status",
                    "--output",
                    "json",
                ],
            ));
            // (aws-gw1 also carries the demo's last-mile connection: only this one's links.)
            serde_json::from_str::<Value>(&st).is_ok_and(|v| {
                v["links"].as_array().is_some_and(|l| {
                    let mine: Vec<&Value> = l
                        .iter()
                        .filter(|x| link_names.iter().any(|n| x["name"] == n.as_str()))
                        .collect();
                    !mine.is_empty() && mine.iter().all(|x| x["bandwidth"] == bw)
                })
            })
        });
        let got = d.iperf(port);
        eprintln!("iperf3 through a {bw} connection: {:.1} Mbit/s", got / 1e6);
        assert!(
            (got - bps).abs() <= bps * 0.10,
            "{bw}: measured {:.1} Mbit/s\n{}",
            got / 1e6,
            d.context()
        );
    }
    let taps_after = out(&in_ns("xcdemo-aws-gw1", &["ip", "-o", "link", "show"]));
    let ifindex = |s: &str, tap: &str| {
        s.lines()
            .find(|l| l.contains(tap))
            .and_then(|l| l.split(':').next())
            .map(str::to_owned)
    };
    let mut compared = 0;
    for tap in taps_before
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
    {
        if tap.starts_with("xc-l") {
            compared += 1;
            let t = tap.trim_end_matches(':');
            assert_eq!(
                ifindex(&taps_before, t),
                ifindex(&taps_after, t),
                "{t} was not re-created by the bandwidth change"
            );
        }
    }
    assert!(
        compared >= 2,
        "aws-gw1's link TAPs were found: {taps_before}"
    );

    // The server stops: traffic continues; it restarts and the state catches up.
    d.stop_server();
    for _ in 0..5 {
        assert!(d.ping(), "traffic with the server stopped\n{}", d.context());
        std::thread::sleep(Duration::from_millis(300));
    }
    d.start_server_again();
    d.wait("the state after the restart", UP, || {
        d.state(&id).0 == "available"
    });

    // A gateway is killed and restarted from its state directory: its links come back.
    d.restart_aws_gw1(&id, &[]);

    // Deleted from the remote side: links and routes gone on every gateway.
    d.cli("gcp", &["connection", "delete", &id])
        .unwrap_or_else(|e| panic!("delete: {e}"));
    d.wait("the links and routes to be gone", UP, || {
        ["aws-gw1", "aws-gw2", "gcp-gw1", "gcp-gw2"]
            .iter()
            .all(|g| {
                // (The aws gateways keep the last-mile connection's links and routes.)
                let ns = format!("xcdemo-{g}");
                let routes = out(&in_ns(&ns, &["ip", "route", "show", "proto", "bgp"]));
                let taps = out(&in_ns(&ns, &["ip", "-o", "link", "show"]));
                !routes.contains("10.1.0.0/16")
                    && !link_names
                        .iter()
                        .any(|n| taps.contains(&format!("xc-{n}:")))
            })
    });
    assert_eq!(d.state(&id).0, "deleted");
}

/// The bandwidth bought is the connection's, not each link's: at 500 Mbit/s over four links,
/// sixteen TCP streams spread over all four links carry 500 Mbit/s together (+-10%), and one
/// stream, on one link, also carries 500 (the links' parts follow their demand: that link's
/// part grows to nearly all of it). Each link alone would let up to 500 through.
#[test]
fn a_connection_over_four_links_carries_its_bandwidth_whatever_the_streams() {
    let d = Demo::start();
    let id = d.connection_id();
    d.wait_four_links_up(&id);
    d.cli(
        "aws",
        &["connection", "update", &id, "--bandwidth", "500Mbps"],
    )
    .unwrap_or_else(|e| panic!("update: {e}"));
    d.wait("the update to be applied", UP, || {
        d.cli("aws", &["connection", "get", &id])
            .is_ok_and(|v| v["bandwidth"] == "500Mbps" && v["state"] == "available")
    });
    // Idle, every aws end's part settles near the floor, a sixteenth of 500 Mbit/s (they send
    // only BGP, BFD and probes): the new bandwidth is in force, and what the links do not use
    // is left to the others. (At 1 Gbit/s the floor would be 62.5 Mbit/s.)
    d.wait(
        "each idle aws end's part to settle near the floor",
        UP,
        || {
            let l = d.links(&id);
            l.len() == 4
                && l.iter().all(|x| {
                    x["ends"][0]["egressBps"]
                        .as_u64()
                        .is_some_and(|b| (31_250_000..35_000_000).contains(&b))
                })
        },
    );
    // Flows are spread by their ports: at the aws host over both gateways, at each gateway over
    // its two links.
    for ns in ["xcdemo-aws-host", "xcdemo-aws-gw1", "xcdemo-aws-gw2"] {
        let o = in_ns(
            ns,
            &["sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1"],
        );
        assert!(o.status.success(), "sysctl in {ns}: {}", out(&o));
    }
    let sent = |links: &[Value]| -> Vec<(u64, u64)> {
        links
            .iter()
            .map(|l| {
                (
                    l["id"].as_u64().expect("link id"),
                    l["ends"][0]["counters"]["txBytes"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    };
    let within = |what: &str, bps: f64| {
        eprintln!("{what}: {:.1} Mbit/s", bps / 1e6);
        assert!(
            (bps - 500e6).abs() <= 500e6 * 0.10,
            "{what}: {:.1} Mbit/s through a 500 Mbit/s connection\n{}",
            bps / 1e6,
            d.context()
        );
    };

    // Sixteen streams, for 10 s after 3 that are not counted. The hash may leave a link without
    // a stream: then the streams go again (other source ports), up to three times.
    let mut spread = false;
    for (attempt, port) in [5321u16, 5322, 5323].into_iter().enumerate() {
        let before = sent(&d.links(&id));
        let report = d.iperf_with(port, &["-P", "16", "-t", "10", "-O", "3"]);
        let after = sent(&d.links(&id));
        let carried: Vec<u64> = after
            .iter()
            .map(|(l, b)| b - before.iter().find(|(x, _)| x == l).map_or(0, |(_, a)| *a))
            .collect();
        let total: u64 = carried.iter().sum();
        eprintln!("attempt {attempt}: bytes sent over each link: {carried:?}");
        within(
            "sixteen streams",
            report["end"]["sum_received"]["bits_per_second"]
                .as_f64()
                .expect("bits per second"),
        );
        if carried.len() == 4 && carried.iter().all(|&b| b * 20 >= total) {
            spread = true;
            break;
        }
    }
    assert!(
        spread,
        "in three tries the streams never used all four links\n{}",
        d.context()
    );

    // One stream: one link carries it, and while it runs that link's part grows to (nearly)
    // the whole bandwidth.
    let before = sent(&d.links(&id));
    let grown = |links: &[Value]| {
        links.iter().find_map(|l| {
            l["ends"][0]["egressBps"]
                .as_u64()
                .filter(|&b| b >= 450_000_000)
                .and(l["id"].as_u64())
        })
    };
    let (report, grew) = std::thread::scope(|s| {
        let run = s.spawn(|| d.iperf_with(5324, &["-t", "10", "-O", "3"]));
        let mut grew = None;
        d.wait("one link's part to grow to the stream", UP, || {
            grew = grown(&d.links(&id));
            grew.is_some()
        });
        let parts: Vec<Value> = d
            .links(&id)
            .iter()
            .map(|l| l["ends"][0]["egressBps"].clone())
            .collect();
        eprintln!("the aws ends' parts while one stream runs: {parts:?}");
        (run.join().expect("iperf3"), grew)
    });
    let after = sent(&d.links(&id));
    within(
        "one stream",
        report["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .expect("bits per second"),
    );
    let (busiest, _) = after
        .iter()
        .map(|(l, b)| {
            let a = before.iter().find(|(x, _)| x == l).map_or(0, |(_, a)| *a);
            (*l, b - a)
        })
        .max_by_key(|&(_, n)| n)
        .expect("links");
    assert_eq!(
        grew,
        Some(busiest),
        "the link whose part grew is the one that carried the stream"
    );
}

/// The traffic metrics as the gateways measure them: iperf3's bytes and the stored egress agree;
/// a server restart keeps every stored point; a gateway restart (its counters from zero again)
/// makes no spike.
#[test]
fn metrics_count_the_traffic_and_survive_restarts() {
    let mut d = Demo::start();
    let id = d.connection_id();
    d.wait_four_links_up(&id);
    // A first whole minute with the links up, so the traffic's minutes are whole too.
    let first = minute_of(now()) + 60;
    d.wait_for_minute(&id, first);

    // iperf3 for 30 s: the bytes the egress metric says crossed are iperf3's, with each
    // segment's headers (Ethernet, IP, TCP with timestamps: 66 bytes), within 5%.
    let began = minute_of(now());
    let report = d.iperf_json(5311, 30);
    let ended = minute_of(now());
    let received = report["end"]["sum_received"]["bytes"]
        .as_u64()
        .expect("bytes") as f64;
    let retransmits = report["end"]["sum_sent"]["retransmits"]
        .as_u64()
        .unwrap_or(0) as f64;
    let mss = report["start"]["tcp_mss_default"].as_u64().expect("mss") as f64;
    let expected = received + ((received / mss).ceil() + retransmits) * 66.0 + retransmits * mss;
    d.wait_for_minute(&id, ended);
    let egress = d.metric(&id, "ConnectionBpsEgress", None, began);
    let stored: f64 = egress
        .iter()
        .filter(|&&(t, _)| t <= ended)
        .map(|&(_, bps)| bps * 60.0 / 8.0)
        .sum();
    eprintln!(
        "iperf3 received {received} bytes ({retransmits} retransmits, MSS {mss}); the links carried {stored:.0} bytes by the egress metric, {expected:.0} expected"
    );
    assert!(
        (stored - expected).abs() <= expected * 0.05,
        "stored {stored:.0} bytes against {expected:.0} expected: {egress:?}\n{}",
        d.context()
    );

    // The console charts that traffic and creates an alarm (Chromium on the host, where the
    // demo's server listens); screenshots to target/console-screenshots.
    d.console("charts.mjs", &id);

    // A server restart keeps every stored point.
    let before = d.metric(&id, "ConnectionBpsEgress", None, first);
    d.stop_server();
    d.start_server_again();
    d.wait("the server to answer again", UP, || {
        d.cli("aws", &["connection", "get", &id]).is_ok()
    });
    let after = d.metric(&id, "ConnectionBpsEgress", None, first);
    assert_eq!(
        after[..before.len()],
        before[..],
        "stored points survive a restart"
    );

    // A gateway restarted (its counters from zero again) makes no spike: the minutes after it,
    // without traffic, stay near the background (BGP, BFD, probes).
    d.restart_aws_gw1(&id, &[]);
    let restarted = minute_of(now());
    d.wait_for_minute(&id, restarted + 60);
    let quiet = d.metric(&id, "ConnectionBpsEgress", None, restarted);
    assert!(
        quiet.iter().all(|&(_, bps)| bps < 1e6),
        "no spike after the restart: {quiet:?}"
    );
}

/// The probes' metrics: a link whose underlay loses 5% of its datagrams at one end shows that
/// loss over four whole minutes, and the other links none; every round trip is a namespace's.
#[test]
fn metrics_show_the_loss_of_a_lossy_link() {
    let d = Demo::start();
    let id = d.connection_id();
    d.wait_four_links_up(&id);
    let links = d.links(&id);
    let victim = links
        .iter()
        .find(|l| gateway_of(&l["ends"][1]) == "gcp-gw2")
        .expect("a link to gcp-gw2");
    let victim_id = victim["id"].as_u64().expect("link id");
    let port = victim["ends"][1]["underlay"]
        .as_str()
        .and_then(|u| u.rsplit_once(':'))
        .map(|(_, p)| p.to_owned())
        .expect("the link's UDP port");
    let rules = format!(
        "table inet xct {{ chain i {{ type filter hook input priority 0; udp dport {port} numgen random mod 100 < 5 drop; }}; }}"
    );
    let o = in_ns("xcdemo-gcp-gw2", &["nft", &rules]);
    assert!(
        o.status.success(),
        "nft: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Four whole minutes with the loss (240 probes a link: about 12 lost on the victim).
    let from = minute_of(now()) + 60;
    let to = from + 4 * 60;
    d.wait_for_minute(&id, to - 60);
    d.heal("gcp-gw2");
    let mean = |v: &[(i64, f64)]| {
        let w: Vec<f64> = v
            .iter()
            .filter(|&&(t, _)| t < to)
            .map(|&(_, x)| x)
            .collect();
        assert_eq!(w.len(), 4, "four minutes of loss: {v:?}");
        w.iter().sum::<f64>() / w.len() as f64
    };
    for l in &links {
        let lid = l["id"].as_u64().expect("link id");
        let loss = mean(&d.metric(&id, "ConnectionPacketLossPercent", Some(lid), from));
        eprintln!("link {lid}: {loss:.2}% of its probes lost");
        if lid == victim_id {
            assert!((0.5..=12.0).contains(&loss), "the lossy link: {loss}%");
        } else {
            assert!(loss <= 0.5, "link {lid} lost {loss}% of its probes");
        }
    }
    let rtt = d.metric(&id, "ConnectionRttMilliseconds", None, from);
    assert!(
        rtt.iter().all(|&(_, ms)| ms > 0.0 && ms < 100.0),
        "round trips in namespaces: {rtt:?}"
    );

    // An alarm on the connection's state with a webhook: every link cut moves it to ALARM
    // within two of its periods, the receiver gets the transition signed with the webhook's
    // secret, and restoring the links brings it back to OK.
    let receiver = Receiver::start();
    let secret_file = d.run_dir().join("webhook-secret");
    let secret = "a-webhook-secret-of-the-test";
    std::fs::write(&secret_file, format!("{secret}\n")).expect("secret file");
    let hook = d
        .cli(
            "aws",
            &[
                "webhook",
                "create",
                "--url",
                &receiver.url(),
                "--secret-file",
                &secret_file.display().to_string(),
            ],
        )
        .unwrap_or_else(|e| panic!("webhook create: {e}"));
    let hook_id = hook["id"].as_str().expect("webhook id").to_owned();
    assert!(hook.get("secret").is_none(), "a given secret is not shown");
    let alarm = d
        .cli(
            "aws",
            &[
                "alarm",
                "create",
                "--name",
                "demo-down",
                "--connection",
                &id,
                "--metric",
                "ConnectionState",
                "--stat",
                "Minimum",
                "--period",
                "60",
                "--comparison",
                "LessThanThreshold",
                "--threshold",
                "1",
                "--evaluation-periods",
                "1",
                "--missing-data",
                "missing",
                "--webhook",
                &hook_id,
            ],
        )
        .unwrap_or_else(|e| panic!("alarm create: {e}"));
    let alarm_id = alarm["id"].as_str().expect("alarm id").to_owned();
    let alarm_state = |d: &Demo| {
        d.cli("aws", &["alarm", "get", &alarm_id])
            .map(|a| a["state"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    d.wait(
        "the alarm to be OK with the links up",
        Duration::from_secs(180),
        || alarm_state(&d) == "OK",
    );
    let cut_at = now();
    d.cut("gcp-gw1", "10000-10999");
    d.cut("gcp-gw2", "10000-10999");
    d.wait("the alarm to be in ALARM", Duration::from_secs(240), || {
        alarm_state(&d) == "ALARM"
    });
    let a = d.cli("aws", &["alarm", "get", &alarm_id]).expect("alarm");
    let alarmed_at = unix_of(a["stateUpdatedAt"].as_str().expect("stateUpdatedAt"));
    eprintln!(
        "every link cut: ALARM {} s later ({})",
        alarmed_at - cut_at,
        a["stateReason"]
    );
    assert!(
        alarmed_at - cut_at <= 2 * 60,
        "ALARM within two periods of the cut: {} s\n{a}",
        alarmed_at - cut_at
    );
    // The connection's own default alarm says the same.
    let down = d
        .cli("aws", &["alarm", "list", "--connection", &id])
        .expect("alarm list");
    let default_down = down["alarms"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|a| a["name"] == format!("{id}-down").as_str())
        })
        .cloned()
        .expect("the default down alarm");
    let default_id = default_down["id"].as_str().expect("id").to_owned();
    d.wait(
        "the default down alarm to be in ALARM",
        Duration::from_secs(60),
        || {
            d.cli("aws", &["alarm", "get", &default_id])
                .is_ok_and(|a| a["state"] == "ALARM")
        },
    );
    d.wait("the ALARM notification", Duration::from_secs(60), || {
        receiver.bodies().iter().any(|b| b["newState"] == "ALARM")
    });
    d.heal("gcp-gw1");
    d.heal("gcp-gw2");
    d.wait("the alarm to be OK again", Duration::from_secs(240), || {
        alarm_state(&d) == "OK"
    });
    d.wait("the OK notification", Duration::from_secs(60), || {
        receiver
            .bodies()
            .iter()
            .any(|b| b["oldState"] == "ALARM" && b["newState"] == "OK")
    });
    for (headers, body) in receiver.received() {
        receiver::verify(&headers, &body, secret.as_bytes())
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
    }
    let deliveries = d
        .cli("aws", &["webhook", "deliveries", &hook_id])
        .expect("deliveries");
    let delivered = deliveries["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter(|x| x["state"] == "delivered" && x["attempts"][0]["statusCode"] == 204)
        .count();
    assert!(delivered >= 2, "{deliveries}");
    let history = d
        .cli("aws", &["alarm", "history", &alarm_id])
        .expect("history");
    let states: Vec<&str> = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["newState"].as_str())
        .collect();
    assert!(
        states.starts_with(&["OK", "ALARM", "OK"]),
        "newest first: {states:?}"
    );
}

mod receiver {
    //! A webhook receiver on loopback: keeps what is posted to `/hook`, answers 204.

    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    use std::sync::{Arc, Mutex};

    type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

    pub struct Receiver {
        addr: std::net::SocketAddr,
        got: Received,
        _rt: tokio::runtime::Runtime,
    }

    impl Receiver {
        pub fn start() -> Self {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            let listener = rt
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let got = Received::default();
            let keep = got.clone();
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                    let keep = keep.clone();
                    async move {
                        keep.lock().expect("lock").push((headers, body));
                        StatusCode::NO_CONTENT
                    }
                }),
            );
            rt.spawn(async move { axum::serve(listener, app).await });
            Self { addr, got, _rt: rt }
        }

        pub fn url(&self) -> String {
            format!("http://{}/hook", self.addr)
        }

        pub fn received(&self) -> Vec<(HeaderMap, Bytes)> {
            self.got.lock().expect("lock").clone()
        }

        pub fn bodies(&self) -> Vec<serde_json::Value> {
            self.received()
                .iter()
                .filter_map(|(_, b)| serde_json::from_slice(b).ok())
                .collect()
        }
    }

    /// Checks a notification as a receiver would: `X-Xconnect-Signature: t=<t>,v1=<hex>` is
    /// HMAC-SHA256 of "<t>.<body>" under the secret, and `t` is within five minutes of now.
    pub fn verify(headers: &HeaderMap, body: &[u8], secret: &[u8]) -> Result<(), String> {
        let sig = headers
            .get("x-xconnect-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or("no X-Xconnect-Signature")?;
        let (t, v1) = sig
            .split_once(',')
            .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
            .ok_or_else(|| format!("a signature of another form: {sig}"))?;
        let t: i64 = t.parse().map_err(|_| format!("t is not a number: {sig}"))?;
        if (super::now() - t).abs() > 300 {
            return Err(format!("t is far from now: {sig}"));
        }
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|e| e.to_string())?;
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        let want = hex::decode(v1).map_err(|_| format!("v1 is not hex: {sig}"))?;
        mac.verify_slice(&want)
            .map_err(|_| format!("the signature does not match: {sig}"))?;
        if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
            return Err("not JSON".into());
        }
        Ok(())
    }
}

use receiver::Receiver;

/// One address family of the four-link filter test: the hosts, their networks, and the bytes of
/// a TCP data segment's headers (IP, then TCP with timestamps).
struct Family {
    name: &'static str,
    aws_host: &'static str,
    gcp_host: &'static str,
    gcp_net: &'static str,
    headers: u64,
    /// The iperf3 port, one per family.
    iperf: u16,
}

const V4: Family = Family {
    name: "IPv4",
    aws_host: "10.0.1.10",
    gcp_host: "10.1.1.10",
    gcp_net: "10.1.0.0/16",
    headers: 20 + 32,
    iperf: 5201,
};

const V6: Family = Family {
    name: "IPv6",
    aws_host: "fd00:a:0:1::10",
    gcp_host: "fd00:b:0:1::10",
    gcp_net: "fd00:b::/48",
    headers: 40 + 32,
    iperf: 5202,
};

/// `xconnect gateway status --output json` of the gateway in namespace `ns` (null if it does not
/// answer).
fn gateway_status(ns: &str) -> Value {
    let o = in_ns(
        ns,
        &[
            env!("CARGO_BIN_EXE_xconnect"),
            "gateway",
            "status",
            "--output",
            "json",
        ],
    );
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

/// An address and port as `ss` shows them (`10.1.1.10:22`, `[fd00::1]:22`).
fn socket(addr: &str, port: u16) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

/// Python: a server on `addr` that greets every connection on each of `ports` and closes it.
fn greeter(addr: &str, ports: &[u16]) -> String {
    format!(
        "import socket, selectors\nsel = selectors.DefaultSelector()\nfor p in {ports:?}:\n    s = socket.socket(socket.AF_INET6 if ':' in '{addr}' else socket.AF_INET)\n    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n    s.bind(('{addr}', p))\n    s.listen(64)\n    sel.register(s, selectors.EVENT_READ)\nwhile True:\n    for key, _ in sel.select():\n        c, _ = key.fileobj.accept()\n        c.sendall(b'hello')\n        c.close()"
    )
}

/// Python: connections from `src` (ports `first`..`first + n`) to `dst`:`port`, one line each:
/// the source port, then `True` if it was greeted or the error.
fn callers(src: &str, first: u16, n: u16, dst: &str, port: u16) -> String {
    format!(
        "import socket\nfor i in range({n}):\n    s = socket.socket(socket.AF_INET6 if ':' in '{src}' else socket.AF_INET)\n    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n    s.bind(('{src}', {first} + i))\n    s.settimeout(3)\n    try:\n        s.connect(('{dst}', {port}))\n        print({first} + i, s.recv(5) == b'hello')\n    except OSError as e:\n        print({first} + i, e)\n    s.close()"
    )
}

/// Filters over the demo's four links, in both address families, with paths that are not
/// symmetric: aws's host sends through aws-gw1 only, gcp's host through gcp-gw2 only, and gcp-gw2
/// spreads its traffic over its links to both aws gateways by ports. aws's side has a security
/// group (all out; in: what is authorized) and a network ACL, and logs its flows. In each family:
/// with no group, traffic flows; with the group, gcp's ping is refused while every connection
/// aws opens completes (the replies that come back through aws-gw2 find their flows there, told
/// by aws-gw1, as aws's flow log shows); ssh is let in and telnet refused, counted on the rule
/// and logged as a REJECT with its 5-tuple; an ACL deny with a lower number beats an allow with a
/// higher one; a dry run of revoking the rule an iperf3 flow runs on lists it, both gateways
/// answering, and live changes do not reset it; its flow-log records add up to iperf3's bytes.
/// Then a full connection table (aws-gw1 restarted with `--flow-table-size 30`) refuses new
/// flows and keeps carrying the ones it holds.
#[test]
fn filters_on_four_links_in_both_families_with_asymmetric_paths() {
    let d = Demo::start();
    let id = d.connection_id();
    d.wait_four_links_up(&id);
    let ok = |who: &str, args: &[&str]| {
        d.cli(who, args)
            .unwrap_or_else(|e| panic!("xconnect {args:?}: {e}\n{}", d.context()))
    };
    let ap_of = |who: &str| {
        ok(who, &["attach-point", "list"])["attachPoints"][0]["id"]
            .as_str()
            .expect("an attach point")
            .to_owned()
    };
    let (ap, ap_gcp) = (ap_of("aws"), ap_of("gcp"));
    let must = |ns: &str, args: &[&str]| {
        let o = in_ns(ns, args);
        assert!(
            o.status.success(),
            "{ns}: {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };

    // IPv6 beside IPv4: the VPCs' subnets, the attach points' prefixes. The paths: out of aws
    // through aws-gw1, out of gcp through gcp-gw2, which hashes on ports (both families).
    for (side, n) in [("aws", "a"), ("gcp", "b")] {
        for i in 1..=2 {
            let gw = format!("xcdemo-{side}-gw{i}");
            let addr = format!("fd00:{n}:0:1::{i}/64");
            must(
                &gw,
                &["ip", "-6", "addr", "add", &addr, "dev", "vpc", "nodad"],
            );
            must(&gw, &["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
        }
        let host = format!("xcdemo-{side}-host");
        let addr = format!("fd00:{n}:0:1::10/64");
        must(
            &host,
            &["ip", "-6", "addr", "add", &addr, "dev", "eth0", "nodad"],
        );
    }
    for (ns, args) in [
        (
            "xcdemo-aws-host",
            vec!["ip", "route", "replace", "10.1.0.0/16", "via", "10.0.1.1"],
        ),
        (
            "xcdemo-gcp-host",
            vec!["ip", "route", "replace", "10.0.0.0/16", "via", "10.1.1.2"],
        ),
        (
            "xcdemo-aws-host",
            vec![
                "ip",
                "-6",
                "route",
                "replace",
                "fd00:b::/48",
                "via",
                "fd00:a:0:1::1",
            ],
        ),
        (
            "xcdemo-gcp-host",
            vec![
                "ip",
                "-6",
                "route",
                "replace",
                "fd00:a::/48",
                "via",
                "fd00:b:0:1::2",
            ],
        ),
        (
            "xcdemo-gcp-gw2",
            vec!["sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1"],
        ),
        (
            "xcdemo-gcp-gw2",
            vec!["sysctl", "-qw", "net.ipv6.fib_multipath_hash_policy=1"],
        ),
    ] {
        must(ns, &args);
    }
    ok(
        "aws",
        &[
            "attach-point",
            "update",
            &ap,
            "--prefixes",
            "10.0.0.0/16,fd00:a::/48",
        ],
    );
    ok(
        "gcp",
        &[
            "attach-point",
            "update",
            &ap_gcp,
            "--prefixes",
            "10.1.0.0/16,fd00:b::/48",
        ],
    );
    let ping = |ns: &str, to: &str| {
        in_ns(ns, &["ping", "-c", "1", "-W", "1", to])
            .status
            .success()
    };
    // With no group, traffic flows both ways in both families.
    for f in [&V4, &V6] {
        d.wait(&format!("{} pings both ways", f.name), UP, || {
            ping("xcdemo-aws-host", f.gcp_host) && ping("xcdemo-gcp-host", f.aws_host)
        });
    }

    ok(
        "aws",
        &["flow-log", "enable", &id, "--aggregation-interval", "10"],
    );
    let g = ok(
        "aws",
        &[
            "security-group",
            "create",
            "--name",
            "edge",
            "--attach-point",
            &ap,
        ],
    );
    let group = g["securityGroupId"].as_str().expect("group id").to_owned();
    // The ACL: everything out and in (rules 200 and up), the denies below come and go.
    let acl = ok(
        "aws",
        &[
            "network-acl",
            "create",
            "--name",
            "edge",
            "--attach-point",
            &ap,
        ],
    );
    let acl = acl["networkAclId"].as_str().expect("ACL id").to_owned();
    for (direction, number, cidr) in [
        ("outbound", "200", "0.0.0.0/0"),
        ("outbound", "201", "::/0"),
        ("inbound", "200", "0.0.0.0/0"),
        ("inbound", "201", "::/0"),
    ] {
        ok(
            "aws",
            &[
                "network-acl",
                "add-rule",
                &acl,
                "--number",
                number,
                "--direction",
                direction,
                "--action",
                "allow",
                "--protocol",
                "all",
                "--cidr",
                cidr,
            ],
        );
    }
    let allow_in = |protocol: &str, port: &str, cidr: &str| {
        ok(
            "aws",
            &[
                "security-group",
                "authorize",
                &group,
                "--direction",
                "inbound",
                "--protocol",
                protocol,
                "--port",
                port,
                "--cidr",
                cidr,
            ],
        )
    };
    let flow_log = |args: &[&str]| {
        let mut all = vec!["flow-log", "query", &id, "--since", "10m"];
        all.extend(args);
        d.cli("aws", &all).unwrap_or_default()["records"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let links = d.links(&id);
    let gateway_of_link = |link: &str| {
        links
            .iter()
            .find(|l| l["id"].as_u64().map(|i| i.to_string()).as_deref() == Some(link))
            .map(|l| gateway_of(&l["ends"][0]))
            .unwrap_or_default()
    };
    let mut servers: Vec<Child> = Vec::new();
    let mut spawn = |ns: &str, args: &[&str]| {
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        servers.push(child);
    };

    for f in [&V4, &V6] {
        let fam = f.name;
        // The group reaches both aws gateways: a ping from gcp's host is refused.
        d.wait(
            &format!("{fam}: gcp's ping into aws to be refused"),
            UP,
            || !ping("xcdemo-gcp-host", f.aws_host),
        );

        // Thirty connections that aws's host opens, each of which must get its greeting.
        spawn(
            "xcdemo-gcp-host",
            &["python3", "-c", &greeter(f.gcp_host, &[8022])],
        );
        spawn(
            "xcdemo-aws-host",
            &["python3", "-c", &greeter(f.aws_host, &[22, 23])],
        );
        d.wait(&format!("{fam}: the servers to listen"), UP, || {
            out(&in_ns("xcdemo-gcp-host", &["ss", "-ltn"])).contains(&socket(f.gcp_host, 8022))
                && out(&in_ns("xcdemo-aws-host", &["ss", "-ltn"])).contains(&socket(f.aws_host, 23))
        });
        let o = in_ns(
            "xcdemo-aws-host",
            &[
                "python3",
                "-c",
                &callers(f.aws_host, 41000, 30, f.gcp_host, 8022),
            ],
        );
        let report = out(&o);
        assert_eq!(
            report.lines().filter(|l| l.ends_with(" True")).count(),
            30,
            "{fam}: every connection gets its greeting:\n{report}{}\n{}",
            String::from_utf8_lossy(&o.stderr),
            d.context()
        );
        d.wait(
            &format!("{fam}: replies through aws-gw2 in aws's flow log"),
            UP,
            || {
                flow_log(&["--src", f.gcp_host, "--port", "8022"])
                    .iter()
                    .any(|r| {
                        r["action"] == "ACCEPT"
                            && gateway_of_link(r["interfaceId"].as_str().unwrap_or_default())
                                == "aws-gw2"
                    })
            },
        );

        // ssh in from gcp's network, telnet not: both listen on aws's host.
        let g = allow_in("tcp", "22", f.gcp_net);
        let ssh_rule = g["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| {
                r["fromPort"] == 22
                    && r["cidrIp"].as_str().or(r["cidrIpv6"].as_str()) == Some(f.gcp_net)
            })
            .and_then(|r| r["ruleId"].as_str())
            .expect("the ssh rule")
            .to_owned();
        let next_port = std::cell::Cell::new(42000u16);
        let connect = |port: u16| {
            let from = next_port.get();
            next_port.set(from + 1);
            let o = in_ns(
                "xcdemo-gcp-host",
                &[
                    "python3",
                    "-c",
                    &callers(f.gcp_host, from, 1, f.aws_host, port),
                ],
            );
            out(&o).trim_end().ends_with(" True")
        };
        d.wait(&format!("{fam}: ssh from gcp to get through"), UP, || {
            connect(22)
        });
        let telnet = in_ns(
            "xcdemo-gcp-host",
            &[
                "python3",
                "-c",
                &callers(f.gcp_host, 40023, 1, f.aws_host, 23),
            ],
        );
        assert!(
            !out(&telnet).trim_end().ends_with(" True"),
            "{fam}: telnet got through: {}",
            out(&telnet)
        );
        d.wait(
            &format!("{fam}: the refused telnet attempt in aws's flow log"),
            UP,
            || {
                flow_log(&["--action", "REJECT", "--port", "23"])
                    .iter()
                    .any(|r| {
                        r["srcaddr"] == f.gcp_host
                            && r["dstaddr"] == f.aws_host
                            && r["srcport"] == 40023
                            && r["dstport"] == 23
                            && r["protocol"] == 6
                            && r["logStatus"] == "OK"
                    })
            },
        );
        // Counted on the rule, at whichever aws gateway the connection crossed.
        let hits = |rule: &str| -> u64 {
            ["xcdemo-aws-gw1", "xcdemo-aws-gw2"]
                .iter()
                .map(|ns| {
                    gateway_status(ns)["filters"]["rules"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|r| r["rule"] == rule)
                        .filter_map(|r| r["hits"].as_u64())
                        .sum::<u64>()
                })
                .sum()
        };
        assert!(hits(&ssh_rule) >= 1, "{fam}: the ssh rule counted no hit");

        // The ACL: deny tcp/22 at 100 beats allow-all at 200; without it ssh passes again.
        ok(
            "aws",
            &[
                "network-acl",
                "add-rule",
                &acl,
                "--number",
                "100",
                "--direction",
                "inbound",
                "--action",
                "deny",
                "--protocol",
                "tcp",
                "--port-range",
                "22-22",
                "--cidr",
                f.gcp_net,
            ],
        );
        d.wait(&format!("{fam}: the ACL's deny to refuse ssh"), UP, || {
            !connect(22)
        });
        assert!(
            hits(&format!("{acl}/inbound/100")) >= 1,
            "{fam}: the ACL's deny counted no hit"
        );
        ok(
            "aws",
            &[
                "network-acl",
                "remove-rule",
                &acl,
                "--number",
                "100",
                "--direction",
                "inbound",
            ],
        );
        d.wait(&format!("{fam}: ssh again without the deny"), UP, || {
            connect(22)
        });

        // An allowed iperf3 flow from gcp, under live changes, and a dry run on the way.
        let port = f.iperf.to_string();
        allow_in("tcp", &port, f.gcp_net);
        spawn(
            "xcdemo-aws-host",
            &["iperf3", "-s", "-1", "-p", &port, "-B", f.aws_host],
        );
        d.wait(&format!("{fam}: the iperf3 server to listen"), UP, || {
            out(&in_ns("xcdemo-aws-host", &["ss", "-ltn"])).contains(&socket(f.aws_host, f.iperf))
        });
        let run = std::thread::scope(|scope| {
            let client = scope.spawn(|| {
                in_ns(
                    "xcdemo-gcp-host",
                    &[
                        "iperf3", "-c", f.aws_host, "-B", f.gcp_host, "-p", &port, "-t", "6", "-b",
                        "50M", "-J",
                    ],
                )
            });
            d.wait(
                &format!("{fam}: the iperf3 flow to be under way"),
                UP,
                || {
                    out(&in_ns(
                        "xcdemo-aws-host",
                        &["ss", "-Htn", "state", "established"],
                    ))
                    .lines()
                    .filter(|l| l.contains(&format!("{} ", socket(f.aws_host, f.iperf))))
                    .count()
                        >= 2
                },
            );
            let dry = ok(
                "aws",
                &[
                    "security-group",
                    "revoke",
                    &group,
                    "--direction",
                    "inbound",
                    "--protocol",
                    "tcp",
                    "--port",
                    &port,
                    "--cidr",
                    f.gcp_net,
                    "--dry-run",
                ],
            );
            let gateways = dry["dryRun"]["gateways"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                gateways.len() == 2
                    && gateways.iter().all(|g| g["answered"] == true)
                    && gateways.iter().any(|g| {
                        g["flows"].as_array().into_iter().flatten().any(|c| {
                            c["dstport"] == f.iperf
                                && c["dstaddr"] == f.aws_host
                                && c["direction"] == "inbound"
                        })
                    }),
                "{fam}: both aws gateways answer and one lists the iperf3 flows: {dry}"
            );
            allow_in("udp", "53", f.gcp_net);
            ok(
                "aws",
                &["security-group", "revoke", &group, "--rule-id", &ssh_rule],
            );
            client.join().expect("iperf3 client")
        });
        let report: Value = serde_json::from_slice(&run.stdout).unwrap_or(Value::Null);
        assert!(
            run.status.success() && report["error"].is_null(),
            "{fam}: the allowed flow was cut by a live change: {report}\n{}",
            d.context()
        );
        let received = report["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
        assert!(
            received > 10_000_000,
            "{fam}: {received} bytes in 6 s at 50 Mbit/s"
        );
        // The data stream's records (inbound at aws, accepted), on whichever links it took:
        // their bytes less a header per packet are iperf3's bytes (and its 37-byte cookie, and
        // any retransmission).
        let data_port = report["start"]["connected"][0]["local_port"]
            .as_u64()
            .expect("the data stream's port");
        let logged = || -> (u64, u64) {
            flow_log(&["--src", f.gcp_host, "--port", &port, "--action", "ACCEPT"])
                .iter()
                .filter(|r| r["srcport"] == data_port && r["dstport"] == f.iperf)
                .fold((0, 0), |(b, p), r| {
                    (
                        b + r["bytes"].as_u64().unwrap_or(0),
                        p + r["packets"].as_u64().unwrap_or(0),
                    )
                })
        };
        let payload = |(bytes, packets): (u64, u64)| bytes.saturating_sub(packets * f.headers);
        d.wait(
            &format!("{fam}: the iperf3 stream's bytes in aws's flow log"),
            UP,
            || payload(logged()) >= received,
        );
        let (bytes, packets) = logged();
        assert!(
            payload((bytes, packets)) <= received + received / 50 + 4096,
            "{fam}: the flow log has {bytes} bytes in {packets} packets of a stream that carried {received}"
        );
    }

    // A full connection table refuses new flows and keeps the old ones: aws-gw1 (which every
    // connection aws's host opens goes through) restarted with room for 30 flows. Connections
    // are opened and held until three in a row are refused (`tableFull` at aws-gw1); every one
    // held still carries data afterwards. (Right after its restart, aws-gw1's links may go down
    // once more as the gcp gateways forget its former self; while they are, its traffic takes
    // aws-gw2 and nothing is refused: the run is then tried again.)
    let echo = "import socket, threading\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('10.1.1.10', 9000))\ns.listen(128)\ndef serve(c):\n    while True:\n        d = c.recv(64)\n        if not d:\n            return\n        c.sendall(d)\nwhile True:\n    c, _ = s.accept()\n    threading.Thread(target=serve, args=(c,), daemon=True).start()";
    servers.push(
        Command::new("ip")
            .args(["netns", "exec", "xcdemo-gcp-host", "python3", "-c", echo])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("an echo server on gcp's host"),
    );
    let mut d = d;
    d.restart_aws_gw1(&id, &["--flow-table-size", "30"]);
    d.wait("the echo server to listen", UP, || {
        out(&in_ns("xcdemo-gcp-host", &["ss", "-ltn"])).contains("10.1.1.10:9000")
    });
    let holder = |first: u16| {
        format!(
            "import socket\nheld, refused, row = [], 0, 0\nfor i in range(100):\n    if row == 3:\n        break\n    s = socket.socket()\n    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n    s.bind(('10.0.1.10', {first} + i))\n    s.settimeout(1.5)\n    try:\n        s.connect(('10.1.1.10', 9000))\n        held.append(s)\n        row = 0\n    except OSError:\n        refused += 1\n        row += 1\n        s.close()\nalive = 0\nfor s in held:\n    try:\n        s.sendall(b'ping')\n        alive += s.recv(4) == b'ping'\n    except OSError:\n        pass\nprint(len(held), refused, alive)"
        )
    };
    let table_full = || {
        gateway_status("xcdemo-aws-gw1")["filters"]["drops"]["tableFull"]
            .as_u64()
            .unwrap_or(0)
    };
    let run = std::cell::Cell::new(0u16);
    let last = std::cell::RefCell::new(String::new());
    d.wait("a run of connections to fill aws-gw1's table", UP, || {
        let first = 43000 + 100 * run.get();
        run.set(run.get() + 1);
        let o = in_ns("xcdemo-aws-host", &["python3", "-c", &holder(first)]);
        *last.borrow_mut() = format!("{}{}", out(&o), String::from_utf8_lossy(&o.stderr));
        let counts: Vec<u64> = out(&o)
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        counts.get(1).is_some_and(|&refused| refused >= 3) && table_full() > 0
    });
    let last = last.into_inner();
    let counts: Vec<u64> = last
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        matches!(counts[..], [held, _, alive] if (1..=30).contains(&held) && alive == held),
        "held, refused, alive through a table of 30: {last}\n{}",
        d.context()
    );

    for mut c in servers {
        let _ = c.kill();
        let _ = c.wait();
    }
    let l = d.links(&id);
    assert!(
        l.len() == 4 && l.iter().all(|x| x["state"] == "up"),
        "the filters disturbed the links: {l:?}"
    );
}
