//! Managed connections end to end, in network namespaces: a server, two tenants ("aws" and
//! "gcp") with one managed gateway each, registered with tokens. A connection created by one and
//! accepted by the other becomes `available` once the gateways have the link up (MACsec
//! secured, BGP Established, routes installed), and traffic flows between the two networks.
//! Stopping the server leaves traffic flowing; deleting from the remote side takes the links
//! and routes away on both gateways; the console (Chromium, Playwright) shows the connection
//! available. Needs root, iproute2, ping, Node.js with `playwright-core` and Chromium (`.ci/run`
//! installs them).

mod common;
mod netns;

use netns::{ADDR4, ADDR6, Daemon, Pair, wait_for};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

const AWS: usize = 0;
const GCP: usize = 1;
const UP: Duration = Duration::from_secs(90);

struct Lab {
    gateways: Vec<Daemon>,
    server: Option<Daemon>,
    pair: Pair,
    endpoint: String,
    /// The gateways' underlay addresses are the pair's IPv6 ones (the control plane stays on
    /// IPv4).
    underlay6: bool,
    /// What the gateways are given as `--controller` (default: the endpoint).
    controllers: Option<String>,
}

#[derive(Clone)]
struct Creds {
    key: String,
    secret: String,
}

impl Lab {
    fn new(tag: &str) -> Self {
        let pair = Pair::new(tag);
        pair.exec_ok(AWS, &["ip", "addr", "add", "10.0.0.1/16", "dev", "lo"]);
        pair.exec_ok(GCP, &["ip", "addr", "add", "10.1.0.1/16", "dev", "lo"]);
        let endpoint = format!("http://{}:7700", ADDR4[AWS]);
        Lab {
            gateways: Vec::new(),
            server: None,
            pair,
            endpoint,
            underlay6: false,
            controllers: None,
        }
    }

    fn start_server(&mut self) {
        self.start_server_on(7700);
    }

    /// The server on `port` (its data directory is always the same); the CLI talks to it.
    fn start_server_on(&mut self, port: u16) {
        self.endpoint = format!("http://{}:{port}", ADDR4[AWS]);
        let data = self.pair.path("server");
        let n = self.gateways.len();
        let d = self.pair.spawn(
            AWS,
            &format!("server-{n}"),
            &[
                env!("CARGO_BIN_EXE_xconnect"),
                "server",
                "--listen",
                &format!("{}:{port}", ADDR4[AWS]),
                "--data-dir",
                &data.display().to_string(),
            ],
        );
        self.server = Some(d);
        wait_for(
            "the server to listen",
            UP,
            || {
                self.pair
                    .exec(
                        AWS,
                        &[
                            "bash",
                            "-c",
                            &format!("exec 3<>/dev/tcp/{}/{port}", ADDR4[AWS]),
                        ],
                    )
                    .status
                    .success()
            },
            || self.context(),
        );
    }

    fn operator(&self) -> Creds {
        let text = std::fs::read_to_string(self.pair.path("server/operator-credentials.json"))
            .expect("operator credentials");
        let v: Value = serde_json::from_str(&text).expect("json");
        Creds {
            key: v["accessKeyId"].as_str().expect("key").to_owned(),
            secret: v["secretAccessKey"].as_str().expect("secret").to_owned(),
        }
    }

    /// Runs the CLI (in the aws namespace, where the server is) and returns its JSON output.
    fn cli(&self, who: &Creds, args: &[&str]) -> Result<Value, String> {
        netns::cli_json(
            &self.pair.ns[AWS],
            &self.endpoint,
            &who.key,
            &who.secret,
            args,
        )
    }

    /// `security-group authorize GROUP --direction inbound --protocol P [--port N] --cidr C`.
    fn allow_in(
        &self,
        who: &Creds,
        group: &str,
        protocol: &str,
        port: Option<&str>,
        cidr: &str,
    ) -> Value {
        let mut args = vec![
            "security-group",
            "authorize",
            group,
            "--direction",
            "inbound",
            "--protocol",
            protocol,
        ];
        if let Some(p) = port {
            args.extend(["--port", p]);
        }
        args.extend(["--cidr", cidr]);
        self.ok(who, &args)
    }

    fn ok(&self, who: &Creds, args: &[&str]) -> Value {
        self.cli(who, args)
            .unwrap_or_else(|e| panic!("xconnect {args:?}: {e}\n{}", self.context()))
    }

    fn start_gateway(&mut self, side: usize, token: Option<&str>) {
        let name = if side == AWS { "aws-gw1" } else { "gcp-gw1" };
        let state = self
            .pair
            .path(&format!("{name}-state"))
            .display()
            .to_string();
        let controllers = self.controllers.clone().unwrap_or(self.endpoint.clone());
        let mut args = vec![
            env!("CARGO_BIN_EXE_xconnect"),
            "gateway",
            "run",
            "--controller",
            &controllers,
            "--underlay-address",
            if self.underlay6 {
                ADDR6[side]
            } else {
                ADDR4[side]
            },
            "--name",
            name,
            "--state-dir",
            &state,
            "--log",
            "info,xc_gateway=debug",
        ];
        if let Some(t) = token {
            args.push("--token");
            args.push(t);
        }
        let n = self.gateways.len();
        let d = self.pair.spawn(side, &format!("{name}-{n}"), &args);
        self.gateways.push(d);
    }

    fn context(&self) -> String {
        let mut s = String::new();
        for d in self.server.iter().chain(self.gateways.iter()) {
            let log = d.log_text();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            s += &format!("--- {} (newest first)\n{}\n", d.name, tail.join("\n"));
        }
        s += &format!(
            "--- routes aws\n{}--- routes gcp\n{}",
            self.pair.routes(AWS, false),
            self.pair.routes(GCP, false)
        );
        s
    }

    fn ping(&self) -> bool {
        self.pair.ping(AWS, "10.0.0.1", "10.1.0.1")
    }

    /// The operator, two tenants ("aws" and "gcp") and an attach point each.
    fn tenants(&self) -> Tenants {
        let op = self.operator();
        let creds = |v: Value| Creds {
            key: v["accessKeyId"].as_str().expect("key").to_owned(),
            secret: v["secretAccessKey"].as_str().expect("secret").to_owned(),
        };
        let aws_acct = self.ok(&op, &["account", "create", "--name", "aws"]);
        let gcp_acct = self.ok(&op, &["account", "create", "--name", "gcp"]);
        let gcp_id = gcp_acct["accountId"].as_str().expect("id").to_owned();
        let (aws, gcp) = (creds(aws_acct), creds(gcp_acct));
        let ap = |who: &Creds, prefix: &str, asn: &str| {
            self.ok(
                who,
                &[
                    "attach-point",
                    "create",
                    "--name",
                    "vpc",
                    "--prefixes",
                    prefix,
                    "--asn",
                    asn,
                ],
            )["id"]
                .as_str()
                .expect("id")
                .to_owned()
        };
        let ap_aws = ap(&aws, "10.0.0.0/16", "64512");
        let ap_gcp = ap(&gcp, "10.1.0.0/16", "64513");
        Tenants {
            op,
            aws,
            gcp,
            gcp_id,
            ap_aws,
            ap_gcp,
        }
    }

    /// Registers a gateway for each tenant with a single-use token; returns the aws token.
    fn start_gateways(&mut self, t: &Tenants) -> String {
        let token = |who: &Creds, ap: &str| {
            self.ok(who, &["gateway", "token", "create", "--attach-point", ap])["token"]
                .as_str()
                .expect("token")
                .to_owned()
        };
        let (t_aws, t_gcp) = (token(&t.aws, &t.ap_aws), token(&t.gcp, &t.ap_gcp));
        self.start_gateway(AWS, Some(&t_aws));
        self.start_gateway(GCP, Some(&t_gcp));
        wait_for(
            "both gateways to register",
            UP,
            || {
                self.cli(&t.op, &["gateway", "list"])
                    .ok()
                    .and_then(|v| v["gateways"].as_array().map(Vec::len))
                    == Some(2)
            },
            || self.context(),
        );
        t_aws
    }

    /// aws creates a connection, gcp accepts it; its id.
    fn connect(&self, t: &Tenants) -> String {
        let conn = self.ok(
            &t.aws,
            &[
                "connection",
                "create",
                "--environment",
                "gcp-us-east4",
                "--bandwidth",
                "1Gbps",
                "--attach-point",
                &t.ap_aws,
                "--remote-account",
                &t.gcp_id,
            ],
        );
        let id = conn["id"].as_str().expect("id").to_owned();
        let key = conn["activationKey"].as_str().expect("key").to_owned();
        self.ok(
            &t.gcp,
            &[
                "connection",
                "accept",
                "--activation-key",
                &key,
                "--attach-point",
                &t.ap_gcp,
            ],
        );
        id
    }

    /// Waits for a connection to be available with the CLI's own wait.
    fn wait_available(&self, who: &Creds, id: &str) {
        let waited = self.cli(
            who,
            &[
                "connection",
                "wait",
                "--state",
                "available",
                "--timeout",
                "90s",
                id,
            ],
        );
        let waited = waited.unwrap_or_else(|e| panic!("wait: {e}\n{}", self.context()));
        assert_eq!(waited["state"], "available");
    }

    /// A connection made as `connect` does, waited for until available and carrying traffic.
    fn connect_and_ping(&self, t: &Tenants) -> String {
        let id = self.connect(t);
        self.wait_available(&t.aws, &id);
        wait_for(
            "ping across the connection",
            UP,
            || self.ping(),
            || self.context(),
        );
        id
    }

    /// A lab with its server, two tenants and their gateways (given `controllers`, if any),
    /// gcp holding 10.2.0.1 too (outside its attach point for now), and a connection carrying
    /// traffic: the lab, the tenants, the connection's id.
    fn connected_with_a_second_gcp_network(
        tag: &str,
        controllers: Option<String>,
    ) -> (Lab, Tenants, String) {
        let mut lab = Lab::new(tag);
        lab.controllers = controllers;
        lab.start_server();
        let t = lab.tenants();
        lab.start_gateways(&t);
        lab.pair
            .exec_ok(GCP, &["ip", "addr", "add", "10.2.0.1/16", "dev", "lo"]);
        let id = lab.connect_and_ping(&t);
        (lab, t, id)
    }

    /// The link TAPs in a side's namespace.
    fn taps(&self, side: usize) -> Vec<String> {
        let out = self.pair.exec(side, &["ip", "-o", "link", "show"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .filter(|n| n.starts_with("xc-"))
            .map(|n| n.split('@').next().unwrap_or(n).to_owned())
            .collect()
    }
}

struct Tenants {
    op: Creds,
    aws: Creds,
    gcp: Creds,
    gcp_id: String,
    ap_aws: String,
    ap_gcp: String,
}

#[test]
fn accepted_connection_becomes_available_and_carries_traffic() {
    let mut lab = Lab::new("mgd1");
    lab.start_server();
    let t = lab.tenants();
    let t_aws = lab.start_gateways(&t);
    let (aws, gcp) = (t.aws.clone(), t.gcp.clone());
    // A used token is refused.
    let reuse = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.pair.ns[AWS],
            env!("CARGO_BIN_EXE_xconnect"),
        ])
        .args([
            "gateway",
            "run",
            "--controller",
            &lab.endpoint,
            "--underlay-address",
            ADDR4[AWS],
        ])
        .args(["--token", &t_aws, "--state-dir"])
        .arg(lab.pair.path("reuse"))
        .args(["--admin-listen", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert!(!reuse.status.success());
    assert!(
        String::from_utf8_lossy(&reuse.stderr).contains("already used"),
        "{}",
        String::from_utf8_lossy(&reuse.stderr)
    );
    // aws creates, gcp accepts.
    let id = lab.connect(&t);
    // The AWS CLI's waiter, started while the connection is still pending.
    let mut aws_waiter = Command::new("ip")
        .args(["netns", "exec", &lab.pair.ns[AWS]])
        .arg(common::aws_cli())
        .args(["--endpoint-url", &lab.endpoint, "--region", common::REGION])
        .args([
            "interconnect",
            "wait",
            "connection-available",
            "--identifier",
            &id,
        ])
        .env("AWS_ACCESS_KEY_ID", &aws.key)
        .env("AWS_SECRET_ACCESS_KEY", &aws.secret)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("aws interconnect wait");
    lab.wait_available(&aws, &id);
    let mut waiter_done = None;
    wait_for(
        "the AWS CLI waiter to return",
        UP,
        || {
            waiter_done = aws_waiter.try_wait().ok().flatten();
            waiter_done.is_some()
        },
        || lab.context(),
    );
    assert!(
        waiter_done.is_some_and(|s| s.success()),
        "aws interconnect wait connection-available failed"
    );
    wait_for(
        "ping across the connection",
        UP,
        || lab.ping(),
        || lab.context(),
    );
    // The console shows it available, its link up (Chromium in the aws namespace, where the
    // server listens).
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/console/available.mjs");
    let shots = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/console-screenshots"
    );
    let console = Command::new("ip")
        .args(["netns", "exec", &lab.pair.ns[AWS], "node", script])
        .env("XC_ENDPOINT", &lab.endpoint)
        .env("XC_KEY", &aws.key)
        .env("XC_SECRET", &aws.secret)
        .env("XC_CONNECTION", &id)
        .env("XC_SHOTS", shots)
        .output()
        .expect("run node");
    assert!(
        console.status.success(),
        "{}{}",
        String::from_utf8_lossy(&console.stdout),
        String::from_utf8_lossy(&console.stderr)
    );
    // (Polled: in one CI run the route was missing right after the console's run, which takes
    // both cores; see the closing note of 2026-12-04.)
    wait_for(
        "the other side's prefix in aws's kernel through the link",
        UP,
        || {
            lab.pair
                .routes(AWS, false)
                .contains("10.1.0.0/16 via 169.254.")
        },
        || lab.context(),
    );
    assert!(
        lab.pair
            .routes(GCP, false)
            .contains("10.0.0.0/16 via 169.254.")
    );
    // A connectivity test run by the aws gateway, from the aws network, through the connection.
    // Polled: in one CI run, with both cores taken by other tests, the route was away for a
    // moment and the test answered "Network is unreachable" (cause not found; the link's 30 ms
    // liveness is the suspect). Each test that misses a probe is printed.
    let tested = std::cell::RefCell::new(Value::Null);
    wait_for(
        "a connectivity test with every probe back",
        UP,
        || {
            let t = lab.ok(
                &aws,
                &[
                    "connection",
                    "test",
                    &id,
                    "--target",
                    "10.1.0.1",
                    "--count",
                    "3",
                ],
            );
            let all = t["received"].as_u64() == Some(3);
            if !all {
                eprintln!("a connectivity test that did not get every probe back: {t}");
            }
            *tested.borrow_mut() = t;
            all
        },
        || format!("{}\n{}", tested.borrow(), lab.context()),
    );
    let t = tested.into_inner();
    assert_eq!(
        (t["sent"].as_u64(), t["received"].as_u64()),
        (Some(3), Some(3)),
        "{t}"
    );
    assert_eq!(t["source"], "10.0.0.1", "{t}");
    assert!(t["rttAvgMs"].as_f64().is_some_and(|r| r > 0.0), "{t}");
    assert_eq!(
        t["hops"]
            .as_array()
            .and_then(|h| h.last())
            .and_then(|h| h.as_str()),
        Some("10.1.0.1"),
        "{t}"
    );
    // The plumbing is visible.
    let links = lab.ok(&aws, &["connection", "links", &id]);
    let l = &links["links"][0];
    assert_eq!(l["state"], "up", "{links}");
    assert_eq!(l["ends"][0]["mka"]["state"], "secured", "{links}");
    assert_eq!(l["ends"][1]["bgp"]["state"], "Established", "{links}");
    // Routes each way: each end has the other side's prefix in its kernel through the link.
    assert_eq!(l["ends"][0]["routes"], json!(["10.1.0.0/16"]), "{links}");
    assert_eq!(l["ends"][1]["routes"], json!(["10.0.0.0/16"]), "{links}");
    // The CAK never leaves for anyone but the gateways.
    assert!(!links.to_string().contains("\"cak\""), "{links}");
    // Static stability: the server stops, traffic keeps flowing.
    lab.server.as_mut().expect("server").stop();
    for _ in 0..5 {
        assert!(
            lab.ping(),
            "traffic with the server stopped\n{}",
            lab.context()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    lab.start_server();
    wait_for(
        "the state to be available after the restart",
        UP,
        || {
            lab.cli(&aws, &["connection", "get", &id])
                .is_ok_and(|v| v["state"] == "available")
        },
        || lab.context(),
    );
    // Deleting from the remote side takes links and routes away on both sides.
    lab.ok(&gcp, &["connection", "delete", &id]);
    wait_for(
        "both gateways to drop the link and its routes",
        UP,
        || {
            let (a, g) = (lab.pair.routes(AWS, false), lab.pair.routes(GCP, false));
            !a.contains("10.1.0.0/16") && !g.contains("10.0.0.0/16") && !a.contains("169.254.0.")
        },
        || lab.context(),
    );
    assert!(!lab.ping());
}

/// Several replicas: the gateways are given two controller URLs (comma-separated). The server
/// stops and comes back at the other URL (same store, as a second replica would serve it): the
/// gateways move there by themselves, their watch resuming, so a change made through it reaches
/// the kernels; and back again when it returns to the first.
#[test]
fn gateways_move_to_another_controller_url_when_theirs_goes_away() {
    let (mut lab, t, id) = Lab::connected_with_a_second_gcp_network(
        "mgd9",
        Some(format!("http://{a}:7700,http://{a}:7701", a = ADDR4[AWS])),
    );
    for (port, prefixes, want) in [
        (7701, "10.1.0.0/16,10.2.0.0/16", true),
        (7700, "10.1.0.0/16", false),
    ] {
        lab.server.as_mut().expect("server").stop();
        lab.start_server_on(port);
        lab.change(
            &t.gcp,
            &["attach-point", "update", &t.ap_gcp, "--prefixes", prefixes],
            AWS,
            &[("10.1.0.0/16", true), ("10.2.0.0/16", want)],
        );
        // Both gateways report to it: each link end's gateway was heard from just now.
        wait_for(
            "both gateways to report to the server at the other URL",
            UP,
            || {
                lab.cli(&t.aws, &["connection", "links", &id])
                    .is_ok_and(|v| {
                        v["links"][0]["ends"].as_array().is_some_and(|es| {
                            es.len() == 2
                                && es.iter().all(|e| {
                                    e["lastContactAgeSecs"].as_i64().is_some_and(|a| a < 3)
                                })
                        })
                    })
            },
            || lab.context(),
        );
        assert!(lab.ping(), "traffic at port {port}\n{}", lab.context());
    }
    let c = lab.ok(&t.aws, &["connection", "get", &id]);
    assert_eq!(c["state"], "available", "{c}");
    let moved = lab
        .gateways
        .iter()
        .filter(|d| d.log_text().contains("moving to the next"))
        .count();
    assert_eq!(moved, 2, "each gateway says it moved\n{}", lab.context());
}

/// Links come and go without using up numbers: fifty times, a connection is created, its link
/// set up by the two gateways, and deleted; every link took the same VNI and UDP port from the
/// pools, and after all that a connection still becomes available and carries traffic.
#[test]
fn a_connection_over_an_ipv6_underlay() {
    let mut lab = Lab::new("mgd6u");
    lab.underlay6 = true;
    lab.start_server();
    let t = lab.tenants();
    lab.start_gateways(&t);
    let id = lab.connect_and_ping(&t);
    // Both ends of the link are on the IPv6 underlay, written as [address]:port.
    let links = lab.ok(&t.aws, &["connection", "links", &id]);
    let link = &links["links"][0];
    for (end, addr) in [(0, ADDR6[AWS]), (1, ADDR6[GCP])] {
        let underlay = link["ends"][end]["underlay"].as_str().unwrap_or_default();
        assert!(
            underlay.starts_with(&format!("[{addr}]:")),
            "end {end}: {underlay}\n{links}"
        );
    }
    let sockets = String::from_utf8_lossy(&lab.pair.exec(AWS, &["ss", "-uan"]).stdout).into_owned();
    assert!(sockets.contains(&format!("[{}]:", ADDR6[AWS])), "{sockets}");
    // The link's MTU is the IPv6 underlay's (1500 - 102): a packet of exactly that size crosses
    // with DF set from host to host, one byte more does not.
    let taps = lab.taps(AWS);
    let tap = taps.first().expect("a link TAP");
    let shown = String::from_utf8_lossy(
        &lab.pair
            .exec(AWS, &["ip", "-o", "link", "show", tap])
            .stdout,
    )
    .into_owned();
    assert!(shown.contains("mtu 1398 "), "{shown}");
    let ping = |size: &str| {
        lab.pair
            .exec(
                AWS,
                &[
                    "ping", "-c", "2", "-W", "1", "-M", "do", "-s", size, "-I", "10.0.0.1",
                    "10.1.0.1",
                ],
            )
            .status
            .success()
    };
    assert!(
        ping("1370"),
        "a 1398-byte packet did not cross\n{}",
        lab.context()
    );
    assert!(!ping("1371"), "a 1399-byte packet crossed a 1398-byte link");
}

#[test]
fn fifty_deletes_and_recreations_reuse_a_small_set_of_vnis() {
    let mut lab = Lab::new("mgd2");
    lab.start_server();
    let t = lab.tenants();
    lab.start_gateways(&t);
    let mut numbers = std::collections::BTreeSet::new();
    let mut ids = std::collections::BTreeSet::new();
    for round in 0..50 {
        let id = lab.connect(&t);
        let mut seen = None;
        wait_for(
            &format!("round {round}: both gateways to run the link"),
            UP,
            || {
                let links = lab.ok(&t.aws, &["connection", "links", &id]);
                let l = &links["links"][0];
                seen = Some((l["vni"].clone(), l["ends"][0]["underlay"].clone()));
                l["ends"][0]["mka"].is_object() && l["ends"][1]["mka"].is_object()
            },
            || lab.context(),
        );
        let (vni, underlay) = seen.expect("a link");
        let port = underlay
            .as_str()
            .and_then(|u| u.rsplit_once(':'))
            .map(|(_, p)| p.to_owned())
            .expect("port");
        numbers.insert((vni.as_u64().expect("vni"), port));
        ids.insert(id.clone());
        lab.ok(&t.gcp, &["connection", "delete", &id]);
        wait_for(
            &format!("round {round}: the connection to be deleted"),
            UP,
            || lab.ok(&t.aws, &["connection", "get", &id])["state"] == "deleted",
            || lab.context(),
        );
    }
    assert_eq!(ids.len(), 50);
    assert!(
        numbers.len() <= 2,
        "fifty links took the same few numbers: {numbers:?}"
    );
    lab.connect_and_ping(&t);
    for side in [AWS, GCP] {
        assert_eq!(
            lab.taps(side).len(),
            1,
            "no TAP left over: {:?}",
            lab.taps(side)
        );
    }
}

/// What must not change while a connection's routing does: per end, how often its BGP session
/// has become Established, and the MKA state; per side, each link TAP with its interface index.
#[derive(Debug, PartialEq)]
struct Steady {
    transitions: Vec<Value>,
    mka: Vec<Value>,
    taps: Vec<String>,
}

impl Lab {
    fn steady(&self, who: &Creds, id: &str) -> Steady {
        let links = self.ok(who, &["connection", "links", id]);
        let ends = links["links"][0]["ends"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let taps = [AWS, GCP]
            .into_iter()
            .flat_map(|side| {
                let out = self.pair.exec(side, &["ip", "-o", "link", "show"]);
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| l.contains(": xc-"))
                    // "12: xc-l100: <BROADCAST,..." -> "12: xc-l100"
                    .map(|l| l.split('@').next().unwrap_or(l))
                    .map(|l| format!("{side}:{}", l.split(": <").next().unwrap_or(l)))
                    .collect::<Vec<_>>()
            })
            .collect();
        Steady {
            transitions: ends
                .iter()
                .map(|e| e["bgp"]["establishedTransitions"].clone())
                .collect(),
            mka: ends.iter().map(|e| e["mka"]["state"].clone()).collect(),
            taps,
        }
    }

    /// Runs a CLI command that changes routing, then waits until `side`'s kernel routes satisfy
    /// `want` (each prefix: present through a link, or absent); prints how long that took from
    /// the command's start.
    fn change(&self, who: &Creds, args: &[&str], side: usize, want: &[(&str, bool)]) {
        let start = std::time::Instant::now();
        self.ok(who, args);
        let what = format!(
            "{want:?} in the kernel of side {side} after `{}`",
            args.join(" ")
        );
        wait_for(
            &what,
            UP,
            || {
                let routes = self.pair.routes(side, false);
                want.iter()
                    .all(|(p, present)| routes.contains(&format!("{p} via 169.254.")) == *present)
            },
            || self.context(),
        );
        println!("{what}: {:?}", start.elapsed());
    }
}

/// Live changes: an attach point's prefixes changed through the API, and a routing policy
/// switched between automatic and manual on either side, reach the other side's kernel while
/// the link and its BGP session stay up (same TAPs, no new Established transition, MKA secured).
/// The time each change took is printed; bench/ measures it, this test does not time it.
/// Then the links' liveness is turned off and on again, live.
#[test]
fn prefixes_and_routing_policy_change_live_without_a_flap() {
    let (lab, t, id) = Lab::connected_with_a_second_gcp_network("mgd3", None);
    let before = lab.steady(&t.aws, &id);
    assert_eq!(
        before.mka,
        [json!("secured"), json!("secured")],
        "{before:?}"
    );
    assert_eq!(before.taps.len(), 2, "{before:?}");

    // gcp's network grows: aws learns the new prefix and reaches it.
    lab.change(
        &t.gcp,
        &[
            "attach-point",
            "update",
            &t.ap_gcp,
            "--prefixes",
            "10.1.0.0/16,10.2.0.0/16",
        ],
        AWS,
        &[("10.1.0.0/16", true), ("10.2.0.0/16", true)],
    );
    wait_for(
        "ping to the new prefix",
        UP,
        || lab.pair.ping(AWS, "10.0.0.1", "10.2.0.1"),
        || lab.context(),
    );
    assert_eq!(
        lab.steady(&t.aws, &id),
        before,
        "a prefix change flapped the link"
    );
    // gcp announces only the new prefix, by hand.
    let manual = |announce: &str, accept: &str| {
        [
            "connection",
            "update",
            &id,
            "--routing-policy",
            "manual",
            "--announce",
            announce,
            "--accept",
            accept,
        ]
        .map(str::to_owned)
    };
    let args = manual("10.2.0.0/16", "10.0.0.0/16");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.change(
        &t.gcp,
        &args,
        AWS,
        &[("10.1.0.0/16", false), ("10.2.0.0/16", true)],
    );
    // aws accepts only the old prefix, by hand: nothing of gcp's is left in its kernel.
    let args = manual("10.0.0.0/16", "10.1.0.0/16");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.change(
        &t.aws,
        &args,
        AWS,
        &[("10.1.0.0/16", false), ("10.2.0.0/16", false)],
    );
    // Back to automatic: gcp announces both prefixes again, of which aws still accepts one; then
    // aws accepts both.
    let automatic = ["connection", "update", &id, "--routing-policy", "automatic"];
    lab.change(
        &t.gcp,
        &automatic,
        AWS,
        &[("10.1.0.0/16", true), ("10.2.0.0/16", false)],
    );
    lab.change(
        &t.aws,
        &automatic,
        AWS,
        &[("10.1.0.0/16", true), ("10.2.0.0/16", true)],
    );
    lab.change(
        &t.aws,
        &["connection", "get", &id],
        GCP,
        &[("10.0.0.0/16", true)],
    );
    // gcp's network shrinks: the prefix leaves aws's kernel.
    lab.change(
        &t.gcp,
        &[
            "attach-point",
            "update",
            &t.ap_gcp,
            "--prefixes",
            "10.1.0.0/16",
        ],
        AWS,
        &[("10.1.0.0/16", true), ("10.2.0.0/16", false)],
    );
    assert!(lab.ping(), "traffic after the changes\n{}", lab.context());
    assert_eq!(
        lab.steady(&t.aws, &id),
        before,
        "a routing policy change flapped the link"
    );
    // The links' liveness, on by default, goes off and then comes back slower, live: both ends
    // say so, traffic keeps crossing and nothing flaps.
    let liveness = |want: serde_json::Value| {
        let links = lab.ok(&t.aws, &["connection", "links", &id]);
        links["links"].as_array().is_some_and(|ls| {
            ls.iter().all(|l| {
                l["ends"]
                    .as_array()
                    .is_some_and(|es| es.len() == 2 && es.iter().all(|e| e["alive"] == want))
            })
        })
    };
    wait_for(
        "the links alive by default",
        UP,
        || liveness(json!(true)),
        || lab.context(),
    );
    let c = lab.ok(&t.aws, &["connection", "get", &id]);
    assert_eq!(
        c["linkLiveness"],
        json!({"intervalMs": 10, "multiplier": 3}),
        "{c}"
    );
    lab.ok(
        &t.aws,
        &["connection", "update", &id, "--liveness-interval", "off"],
    );
    wait_for(
        "the links' liveness off",
        UP,
        || liveness(serde_json::Value::Null),
        || lab.context(),
    );
    assert!(lab.ping(), "traffic with liveness off\n{}", lab.context());
    let c = lab.ok(
        &t.aws,
        &[
            "connection",
            "update",
            &id,
            "--liveness-interval",
            "20ms",
            "--liveness-multiplier",
            "5",
        ],
    );
    assert_eq!(
        c["linkLiveness"],
        json!({"intervalMs": 20, "multiplier": 5}),
        "{c}"
    );
    wait_for(
        "the links alive again",
        UP,
        || liveness(json!(true)),
        || lab.context(),
    );
    let refused = lab.cli(
        &t.gcp,
        &["connection", "update", &id, "--liveness-multiplier", "4"],
    );
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("link liveness")),
        "only the owner changes it: {refused:?}"
    );
    assert!(
        lab.ping(),
        "traffic after the liveness changes\n{}",
        lab.context()
    );
    assert_eq!(
        lab.steady(&t.aws, &id),
        before,
        "a liveness change flapped the link"
    );
    let c = lab.ok(&t.aws, &["connection", "get", &id]);
    assert_eq!(c["state"], "available", "{c}");
}

/// A gateway's state directory: one gateway at a time (a second one stops at once, saying
/// why); a credential the controller no longer knows (the gateway was deleted) is replaced by
/// the registration of a new token given at restart, and without a token the log says what to
/// do.
#[test]
fn a_new_token_replaces_a_refused_credential_and_state_dirs_are_not_shared() {
    let mut lab = Lab::new("mgd4");
    lab.start_server();
    let t = lab.tenants();
    lab.start_gateways(&t);
    let gateway_id = |lab: &Lab| -> Option<String> {
        lab.cli(&t.gcp, &["gateway", "list"])
            .ok()
            .and_then(|v| v["gateways"][0]["id"].as_str().map(str::to_owned))
    };
    let first = gateway_id(&lab).expect("gcp's gateway");
    // A second gateway on gcp's state directory stops at once.
    let state = lab.pair.path("gcp-gw1-state");
    let second = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.pair.ns[GCP],
            env!("CARGO_BIN_EXE_xconnect"),
        ])
        .args([
            "gateway",
            "run",
            "--controller",
            &lab.endpoint,
            "--underlay-address",
            ADDR4[GCP],
        ])
        .arg("--state-dir")
        .arg(&state)
        .args(["--admin-listen", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("another gateway") && err.contains(&state.display().to_string()),
        "{err}"
    );

    // gcp's gateway is deleted while it is stopped; restarted without a token, it says what
    // to do.
    lab.gateways[GCP].stop();
    lab.ok(&t.gcp, &["gateway", "delete", &first]);
    lab.start_gateway(GCP, None);
    let restarted = lab.gateways.len() - 1;
    wait_for(
        "the refused credential to be explained",
        UP,
        || {
            let log = lab.gateways[restarted].log_text();
            log.contains("GATEWAY_CREDENTIAL_REFUSED") && log.contains("restart with --token")
        },
        || lab.context(),
    );
    lab.gateways[restarted].stop();
    // With a new token, it registers again, as a new gateway, and gets to work.
    let token = lab.ok(
        &t.gcp,
        &["gateway", "token", "create", "--attach-point", &t.ap_gcp],
    )["token"]
        .as_str()
        .expect("token")
        .to_owned();
    lab.start_gateway(GCP, Some(&token));
    wait_for(
        "gcp's gateway to register again",
        UP,
        || gateway_id(&lab).is_some_and(|id| id != first),
        || lab.context(),
    );
    let id = lab.connect_and_ping(&t);
    let c = lab.ok(&t.aws, &["connection", "get", &id]);
    assert_eq!(c["state"], "available", "{c}");
}

/// IPv6 across a managed connection: attach points with an IPv6 prefix beside their IPv4 one
/// get a second BGP session per link, between the link's IPv6 addresses (its /127 from the
/// gateway's pool), which carries the IPv6 prefixes. Hosts' IPv6 addresses ping each other and
/// carry a TCP exchange; an IPv6 prefix added to one attach point reaches the other side live;
/// a security group filters IPv6 as it does IPv4, and never the link's own IPv6 traffic.
#[test]
fn ipv6_prefixes_cross_a_connection_and_change_live_and_are_filtered() {
    let mut lab = Lab::new("mgd5");
    lab.start_server();
    let t = lab.tenants();
    lab.start_gateways(&t);
    lab.pair
        .exec_ok(AWS, &["ip", "addr", "add", "fd00:a::1/48", "dev", "lo"]);
    lab.pair
        .exec_ok(GCP, &["ip", "addr", "add", "fd00:b::1/48", "dev", "lo"]);
    for (who, ap, prefixes) in [
        (&t.aws, &t.ap_aws, "10.0.0.0/16,fd00:a::/48"),
        (&t.gcp, &t.ap_gcp, "10.1.0.0/16,fd00:b::/48"),
    ] {
        lab.ok(who, &["attach-point", "update", ap, "--prefixes", prefixes]);
    }
    let id = lab.connect_and_ping(&t);
    let routes6 = |side: usize| lab.pair.routes(side, true);
    let context6 = || {
        format!(
            "{}--- ipv6 routes aws\n{}--- ipv6 routes gcp\n{}",
            lab.context(),
            routes6(AWS),
            routes6(GCP)
        )
    };
    wait_for(
        "ping over IPv6 across the connection",
        UP,
        || lab.pair.ping(AWS, "fd00:a::1", "fd00:b::1"),
        context6,
    );
    assert!(
        routes6(AWS).contains("fd00:b::/48 via fd58:"),
        "{}",
        routes6(AWS)
    );
    assert!(
        routes6(GCP).contains("fd00:a::/48 via fd58:"),
        "{}",
        routes6(GCP)
    );

    // The links view shows both families: each end's IPv6 address, its IPv6 session, and the
    // routes it has through the link in both.
    wait_for(
        "both ends' IPv6 sessions reported Established",
        UP,
        || {
            let links = lab.ok(&t.aws, &["connection", "links", &id]);
            let ends = &links["links"][0]["ends"];
            [0, 1]
                .iter()
                .all(|&i| ends[i]["bgp6"]["state"] == "Established")
        },
        context6,
    );
    let links = lab.ok(&t.aws, &["connection", "links", &id]);
    let ends = &links["links"][0]["ends"];
    for (i, theirs) in [
        (0, ["10.1.0.0/16", "fd00:b::/48"]),
        (1, ["10.0.0.0/16", "fd00:a::/48"]),
    ] {
        assert!(
            ends[i]["address6"]
                .as_str()
                .is_some_and(|a| a.starts_with("fd58:")),
            "{links}"
        );
        assert_eq!(ends[i]["routes"], json!(theirs), "{links}");
    }

    // TCP over IPv6: a listener in gcp answers what aws sends.
    let mut listener = lab.pair.spawn(
        GCP,
        "tcp6-listener",
        &[
            "python3",
            "-c",
            "import socket\n\
             s = socket.socket(socket.AF_INET6)\n\
             s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('fd00:b::1', 7001)); s.listen(1)\n\
             c, _ = s.accept(); c.settimeout(30)\n\
             c.sendall(b'echo:' + c.recv(64)); c.close()",
        ],
    );
    wait_for(
        "a TCP exchange over IPv6",
        UP,
        || {
            let out = lab.pair.exec(
                AWS,
                &[
                    "timeout",
                    "15",
                    "bash",
                    "-c",
                    "exec 3<>/dev/tcp/fd00:b::1/7001 && printf hello >&3 && timeout 10 cat <&3",
                ],
            );
            String::from_utf8_lossy(&out.stdout).contains("echo:hello")
        },
        || format!("{}\n{}", context6(), listener.log_text()),
    );
    listener.stop();

    // aws's network grows by an IPv6 prefix: gcp learns it and reaches it, the link staying up.
    lab.pair
        .exec_ok(AWS, &["ip", "addr", "add", "fd00:c::1/48", "dev", "lo"]);
    lab.ok(
        &t.aws,
        &[
            "attach-point",
            "update",
            &t.ap_aws,
            "--prefixes",
            "10.0.0.0/16,fd00:a::/48,fd00:c::/48",
        ],
    );
    wait_for(
        "the new IPv6 prefix in gcp's kernel, and a ping to it",
        UP,
        || {
            routes6(GCP).contains("fd00:c::/48 via fd58:")
                && lab.pair.ping(GCP, "fd00:b::1", "fd00:c::1")
        },
        context6,
    );
    assert!(lab.ping(), "IPv4 still crosses");

    // Filters over IPv6: a group at gcp refuses aws's ping and lets gcp's own out (its replies
    // return on its flow); an icmpv6 rule from aws's IPv6 prefix lets aws's in. Neighbour
    // discovery and the IPv6 session between the link's ends are never filtered: the sessions
    // stay Established, with no new transition.
    let sessions6 = || {
        let links = lab.ok(&t.aws, &["connection", "links", &id]);
        let ends = links["links"][0]["ends"].clone();
        [0, 1].map(|i| {
            (
                ends[i]["bgp6"]["state"].clone(),
                ends[i]["bgp6"]["establishedTransitions"].clone(),
            )
        })
    };
    let before = sessions6();
    let g = lab.ok(
        &t.gcp,
        &[
            "security-group",
            "create",
            "--name",
            "v6",
            "--attach-point",
            &t.ap_gcp,
        ],
    );
    let group = g["securityGroupId"].as_str().expect("id").to_owned();
    wait_for(
        "aws's IPv6 ping to be refused at gcp's edge",
        UP,
        || !lab.pair.ping(AWS, "fd00:a::1", "fd00:b::1"),
        context6,
    );
    assert!(
        lab.pair.ping(GCP, "fd00:b::1", "fd00:a::1"),
        "gcp's own IPv6 ping was refused\n{}",
        context6()
    );
    lab.ok(
        &t.gcp,
        &[
            "security-group",
            "authorize",
            &group,
            "--direction",
            "inbound",
            "--protocol",
            "icmpv6",
            "--cidr",
            "fd00:a::/48",
        ],
    );
    wait_for(
        "aws's IPv6 ping to be let in",
        UP,
        || lab.pair.ping(AWS, "fd00:a::1", "fd00:b::1"),
        context6,
    );
    let check = lab.ok(
        &t.aws,
        &[
            "attach-point",
            "check",
            &t.ap_aws,
            "--from",
            "fd00:a::1",
            "--to",
            "fd00:b::1",
            "--protocol",
            "icmpv6",
        ],
    );
    assert_eq!(check["allowed"], true, "{check}");
    assert_eq!(
        check["sides"][1]["decidedBy"], "securityGroupRule",
        "{check}"
    );
    assert_eq!(
        sessions6(),
        before,
        "the filters disturbed the IPv6 sessions"
    );
}

/// Filters made with the CLI reach the managed gateway of their attach point and act on the
/// link at once: gcp attaches a security group (all outbound, nothing inbound), so aws's ping
/// is refused (counted on the link) while gcp's own ping to aws still works (its reply returns
/// on the flow gcp opened); authorizing ICMP from aws's prefix lets aws's ping in again, and
/// `attach-point check` names that rule. Rules changed live while an allowed iperf3 flow runs do
/// not reset it. The link itself is never disturbed (same TAPs, no new BGP Established
/// transition, MKA secured): the filters judge the networks' traffic, never the BGP, BFD and
/// probes between the link's ends.
#[test]
fn filters_from_the_cli_act_on_the_managed_link_without_disturbing_it() {
    let mut lab = Lab::new("mgdf");
    lab.start_server();
    let t = lab.tenants();
    lab.start_gateways(&t);
    let id = lab.connect_and_ping(&t);
    let before = lab.steady(&t.aws, &id);
    // gcp logs the flows at its edge, in 10-second windows.
    let on = lab.ok(
        &t.gcp,
        &["flow-log", "enable", &id, "--aggregation-interval", "10"],
    );
    assert_eq!(on["sides"][0]["enabled"], true, "{on}");

    let g = lab.ok(
        &t.gcp,
        &[
            "security-group",
            "create",
            "--name",
            "gcp-edge",
            "--attach-point",
            &t.ap_gcp,
        ],
    );
    let group = g["securityGroupId"].as_str().expect("id").to_owned();
    wait_for(
        "aws's ping to be refused at gcp's edge",
        UP,
        || !lab.ping(),
        || lab.context(),
    );
    assert!(
        lab.pair.ping(GCP, "10.1.0.1", "10.0.0.1"),
        "gcp's own ping (outbound, its reply tracked) is refused\n{}",
        lab.context()
    );
    // The refusals, counted on gcp's end of the link (as its next report brings them).
    wait_for(
        "gcp's end to count the refused pings",
        UP,
        || {
            let links = lab.ok(&t.gcp, &["connection", "links", &id]);
            let refused: u64 = links["links"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|l| l["ends"].as_array().cloned().unwrap_or_default())
                .filter_map(|e| e["counters"]["rxDroppedFilter"].as_u64())
                .sum();
            refused > 0
        },
        || lab.context(),
    );

    let g = lab.allow_in(&t.gcp, &group, "icmp", None, "10.0.0.0/16");
    let rule = g["rules"][2]["ruleId"]
        .as_str()
        .expect("rule id")
        .to_owned();

    // ssh is let in, telnet is not: the refused connection attempt is in gcp's flow log as a
    // REJECT with its 5-tuple, in the controller and in the gateway's file.
    lab.allow_in(&t.gcp, &group, "tcp", Some("22"), "10.0.0.0/16");
    let connect = |port: u16| {
        lab.pair.exec(
            AWS,
            &[
                "python3",
                "-c",
                &format!(
                    "import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('10.0.0.1', 40{port:03}))\ns.settimeout(2)\ns.connect(('10.1.0.1', {port}))"
                ),
            ],
        )
    };
    let _sshd = lab.pair.spawn(
        GCP,
        "ssh-like-server",
        &["python3", "-c", "import socket,time\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('10.1.0.1', 22))\ns.listen()\ntime.sleep(600)"],
    );
    wait_for(
        "an ssh-like connection to get through",
        UP,
        || connect(22).status.success(),
        || lab.context(),
    );
    assert!(
        !connect(23).status.success(),
        "telnet got through\n{}",
        lab.context()
    );
    let rejected = |v: &Value| {
        v["records"].as_array().into_iter().flatten().any(|r| {
            r["srcaddr"] == "10.0.0.1"
                && r["dstaddr"] == "10.1.0.1"
                && r["srcport"] == 40023
                && r["dstport"] == 23
                && r["protocol"] == 6
                && r["action"] == "REJECT"
                && r["logStatus"] == "OK"
                && r["packets"].as_u64().is_some_and(|p| p >= 1)
        })
    };
    wait_for(
        "the refused telnet attempt in gcp's flow log",
        UP,
        || {
            lab.cli(
                &t.gcp,
                &[
                    "flow-log", "query", &id, "--since", "10m", "--action", "REJECT",
                ],
            )
            .is_ok_and(|v| rejected(&v))
        },
        || lab.context(),
    );
    // aws sees nothing of gcp's log.
    let theirs = lab.ok(&t.aws, &["flow-log", "query", &id, "--since", "10m"]);
    assert_eq!(theirs["records"], json!([]), "{theirs}");
    let file = lab.pair.path("gcp-gw1-state").join("flow-log.txt");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        text.starts_with(xc_types::flowlog::HEADER)
            && text
                .lines()
                .any(|l| l.contains(" 10.0.0.1 10.1.0.1 40023 23 6 ") && l.ends_with(" REJECT OK")),
        "{}:\n{text}",
        file.display()
    );
    wait_for(
        "aws's ping to be let in again",
        UP,
        || lab.ping(),
        || lab.context(),
    );
    let check = lab.ok(
        &t.aws,
        &[
            "attach-point",
            "check",
            &t.ap_aws,
            "--from",
            "10.0.0.1",
            "--to",
            "10.1.0.1",
            "--protocol",
            "icmp",
        ],
    );
    assert_eq!(check["allowed"], true, "{check}");
    assert_eq!(
        check["sides"][1]["attachPointId"],
        json!(t.ap_gcp),
        "{check}"
    );
    assert_eq!(check["sides"][1]["ruleId"], json!(rule), "{check}");

    // Live changes while an allowed TCP flow runs: the flow is not reset.
    lab.allow_in(&t.gcp, &group, "tcp", Some("5201"), "10.0.0.0/16");
    let _server = lab.pair.spawn(
        GCP,
        "iperf3-server",
        &["iperf3", "-s", "-1", "-p", "5201", "-B", "10.1.0.1"],
    );
    wait_for(
        "the iperf3 server to listen",
        UP,
        || {
            String::from_utf8_lossy(&lab.pair.exec(GCP, &["ss", "-ltn"]).stdout)
                .contains("10.1.0.1:5201")
        },
        || lab.context(),
    );
    let run = std::thread::scope(|scope| {
        let client = scope.spawn(|| {
            lab.pair.exec(
                AWS,
                &[
                    "iperf3", "-c", "10.1.0.1", "-B", "10.0.0.1", "-p", "5201", "-t", "6", "-b",
                    "50M", "-J",
                ],
            )
        });
        // Once it runs (its control and data connections established at gcp), a rule added
        // and another revoked on the group that admits it.
        wait_for(
            "the iperf3 flow to be under way",
            UP,
            || {
                let out = lab.pair.exec(GCP, &["ss", "-Htn", "state", "established"]);
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| l.contains("10.1.0.1:5201"))
                    .count()
                    >= 2
            },
            || lab.context(),
        );
        // A dry run of revoking the rule that admits it: gcp's gateway lists the iperf3 flows
        // it would cut, and nothing changes.
        let dry = lab.ok(
            &t.gcp,
            &[
                "security-group",
                "revoke",
                &group,
                "--direction",
                "inbound",
                "--protocol",
                "tcp",
                "--port",
                "5201",
                "--cidr",
                "10.0.0.0/16",
                "--dry-run",
            ],
        );
        let gateways = dry["dryRun"]["gateways"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            gateways.len() == 1
                && gateways[0]["answered"] == true
                && gateways[0]["flows"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|f| {
                        f["dstport"] == 5201
                            && f["dstaddr"] == "10.1.0.1"
                            && f["direction"] == "inbound"
                    }),
            "the dry run lists the iperf3 flows: {dry}"
        );
        let still = lab.ok(&t.gcp, &["security-group", "get", &group]);
        assert!(
            still["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["fromPort"] == 5201),
            "a dry run changes nothing: {still}"
        );
        lab.allow_in(&t.gcp, &group, "udp", Some("53"), "10.0.0.0/16");
        lab.ok(
            &t.gcp,
            &["security-group", "revoke", &group, "--rule-id", &rule],
        );
        client.join().expect("iperf3 client")
    });
    let report: Value = serde_json::from_slice(&run.stdout).unwrap_or(Value::Null);
    assert!(
        run.status.success() && report["error"].is_null(),
        "the allowed flow was cut by a live change: {report}\n{}",
        lab.context()
    );
    let received = report["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
    assert!(
        received > 10_000_000,
        "{received} bytes in 6 s at 50 Mbit/s"
    );
    // The data stream's records in gcp's flow log (inbound, accepted) add up to what iperf3
    // carried, plus the TCP/IP headers (at most 8% more with this link's MTU).
    let port = report["start"]["connected"][0]["local_port"]
        .as_u64()
        .expect("the data stream's port");
    let logged = || -> u64 {
        let v = lab.ok(
            &t.gcp,
            &[
                "flow-log", "query", &id, "--since", "10m", "--src", "10.0.0.1", "--port", "5201",
                "--action", "ACCEPT",
            ],
        );
        v["records"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["srcport"] == port && r["dstport"] == 5201)
            .filter_map(|r| r["bytes"].as_u64())
            .sum()
    };
    wait_for(
        "the iperf3 stream's bytes in gcp's flow log",
        UP,
        || logged() >= received,
        || lab.context(),
    );
    let logged = logged();
    assert!(
        logged <= received + received / 12,
        "the flow log has {logged} bytes of a stream that carried {received}"
    );
    // The revoked ICMP rule is gone from the gateway: aws's ping is refused again.
    wait_for(
        "aws's ping to be refused after the revoke",
        UP,
        || !lab.ping(),
        || lab.context(),
    );

    assert_eq!(
        lab.steady(&t.aws, &id),
        before,
        "the filters disturbed the link"
    );
    let c = lab.ok(&t.aws, &["connection", "get", &id]);
    assert_eq!(c["state"], "available", "{c}");
}

/// A random rule for `security-group authorize` or `network-acl add-rule` (`acl`: with a number
/// and an action), matching a peer among `peers` and destination ports around 1000..1100.
fn random_rule(
    rng: &mut impl rand::Rng,
    direction: &str,
    peers: &[&str],
    acl: Option<u16>,
) -> Vec<String> {
    let mut args = vec!["--direction".to_owned(), direction.to_owned()];
    if let Some(number) = acl {
        let action = if rng.gen_bool(0.6) { "allow" } else { "deny" };
        args.extend([
            "--number".into(),
            number.to_string(),
            "--action".into(),
            action.into(),
        ]);
    }
    let protocol = ["tcp", "udp", "udp", "icmp", "all"][rng.gen_range(0..5)];
    args.extend(["--protocol".into(), protocol.into()]);
    if matches!(protocol, "tcp" | "udp") {
        let from = rng.gen_range(1000..1100u16);
        let to = (from + rng.gen_range(0..40)).min(1099);
        args.extend(["--port-range".into(), format!("{from}-{to}")]);
    }
    args.extend(["--cidr".into(), peers[rng.gen_range(0..peers.len())].into()]);
    args
}

/// "Would this pass?" against real packets: random rule sets on both sides (aws's outbound, gcp's
/// inbound; groups and ACLs), and for each a sample of random packets from aws's network to
/// gcp's, each asked of `attach-point check` and sent for real; both sides' flow logs say what
/// each side's gateway did with it, which must be what the check said, side by side.
#[test]
fn would_this_pass_agrees_with_real_packets_at_both_edges() {
    use rand::{Rng, SeedableRng};
    let mut lab = Lab::new("mgdc");
    lab.start_server();
    let t = lab.tenants();
    lab.start_gateways(&t);
    let id = lab.connect_and_ping(&t);
    for who in [&t.aws, &t.gcp] {
        lab.ok(
            who,
            &["flow-log", "enable", &id, "--aggregation-interval", "10"],
        );
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261203);
    // (Which side refused, and which passed, over all rounds: both must have happened.)
    let mut outcomes = std::collections::BTreeSet::new();
    for round in 0..2u16 {
        // The rules: a group and an ACL on each side, replacing the last round's.
        let mut made = Vec::new();
        for (who, ap, direction, peers) in [
            (
                &t.aws,
                &t.ap_aws,
                "outbound",
                [
                    "10.1.0.0/16",
                    "10.1.0.0/24",
                    "10.1.128.0/17",
                    "10.0.0.0/8",
                    "192.0.2.0/24",
                ],
            ),
            (
                &t.gcp,
                &t.ap_gcp,
                "inbound",
                [
                    "10.0.0.0/16",
                    "10.0.0.0/24",
                    "10.0.128.0/17",
                    "10.0.0.0/8",
                    "192.0.2.0/24",
                ],
            ),
        ] {
            let name = format!("r{round}");
            let g = lab.ok(
                who,
                &[
                    "security-group",
                    "create",
                    "--name",
                    &name,
                    "--attach-point",
                    ap,
                ],
            );
            let group = g["securityGroupId"].as_str().expect("group").to_owned();
            if direction == "outbound" {
                // Not AWS's all-outbound default: the random rules decide.
                for r in g["rules"].as_array().expect("rules") {
                    let rid = r["ruleId"].as_str().expect("rule id");
                    lab.ok(who, &["security-group", "revoke", &group, "--rule-id", rid]);
                }
            }
            for _ in 0..rng.gen_range(2..5) {
                let rule = random_rule(&mut rng, direction, &peers, None);
                let mut args = vec!["security-group", "authorize", group.as_str()];
                args.extend(rule.iter().map(String::as_str));
                // A duplicate of an earlier rule is refused: skip it.
                let _ = lab.cli(who, &args);
            }
            // What the gateway will say it has: every rule of the group and of the ACL.
            let mut rules: Vec<String> = lab.ok(who, &["security-group", "get", &group])["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["ruleId"].as_str().map(str::to_owned))
                .collect();
            let a = lab.ok(
                who,
                &[
                    "network-acl",
                    "create",
                    "--name",
                    &name,
                    "--attach-point",
                    ap,
                ],
            );
            let acl = a["networkAclId"].as_str().expect("acl").to_owned();
            let mut numbers: Vec<u16> = (1..200).collect();
            for _ in 0..rng.gen_range(2..5) {
                let n = numbers.swap_remove(rng.gen_range(0..numbers.len()));
                let rule = random_rule(&mut rng, direction, &peers, Some(n));
                let mut args = vec!["network-acl", "add-rule", acl.as_str()];
                args.extend(rule.iter().map(String::as_str));
                lab.ok(who, &args);
                rules.push(format!("{acl}/{direction}/{n}"));
            }
            made.push((who, group, acl, rules));
        }
        // The packets: what the check says of each, then the packet itself.
        let mut packets = Vec::new();
        for i in 0..24u16 {
            let sport = 30_000 + round * 100 + i;
            let (protocol, dport) = match (i, rng.gen_range(0..3)) {
                (0, _) => ("icmp", 0),
                (_, 0) => ("tcp", rng.gen_range(1000..1100u16)),
                _ => ("udp", rng.gen_range(1000..1100u16)),
            };
            let mut args = vec![
                "attach-point".to_owned(),
                "check".into(),
                t.ap_aws.clone(),
                "--from".into(),
                "10.0.0.1".into(),
                "--to".into(),
                "10.1.0.1".into(),
                "--protocol".into(),
                protocol.into(),
            ];
            if protocol != "icmp" {
                args.extend(["--port".into(), dport.to_string()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let check = lab.ok(&t.aws, &args);
            let said = (
                check["sides"][0]["allowed"]
                    .as_bool()
                    .expect("aws's verdict"),
                check["sides"][1]["allowed"]
                    .as_bool()
                    .expect("gcp's verdict"),
            );
            packets.push((protocol, sport, dport, said));
        }
        // Sent once each gateway reports every rule of the round in force.
        for (who, _, _, rules) in &made {
            wait_for(
                "the round's rules on the gateway",
                UP,
                || {
                    lab.cli(who, &["gateway", "list"]).is_ok_and(|v| {
                        v["gateways"].as_array().into_iter().flatten().any(|g| {
                            let have: Vec<&str> = g["status"]["filters"]["rules"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|r| r["rule"].as_str())
                                .collect();
                            rules.iter().all(|r| have.contains(&r.as_str()))
                        })
                    })
                },
                || lab.context(),
            );
        }
        // (This round's records only: an ICMP record has no ports to tell rounds apart.)
        let sent_at = (time::OffsetDateTime::now_utc() - time::Duration::seconds(1))
            .format(&time::format_description::well_known::Rfc3339)
            .expect("a time");
        let script: String = packets
            .iter()
            .map(|(protocol, sport, dport, _)| match *protocol {
                "udp" => format!("u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nu.bind(('10.0.0.1', {sport}))\nu.sendto(b'x', ('10.1.0.1', {dport}))\nu.close()\n"),
                "tcp" => format!("s = socket.socket()\ns.bind(('10.0.0.1', {sport}))\ns.setblocking(False)\ntry:\n    s.connect(('10.1.0.1', {dport}))\nexcept OSError:\n    pass\nheld.append(s)\n"),
                _ => String::new(),
            })
            .collect();
        let o = lab.pair.exec(
            AWS,
            &[
                "python3",
                "-c",
                &format!("import socket, time\nheld = []\n{script}time.sleep(0.5)\n"),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        lab.pair.ping(AWS, "10.0.0.1", "10.1.0.1");
        // What each side did, from its flow log.
        let verdicts = |who: &Creds| -> Vec<Value> {
            lab.cli(
                who,
                &[
                    "flow-log", "query", &id, "--since", &sent_at, "--src", "10.0.0.1",
                ],
            )
            .ok()
            .and_then(|v| v["records"].as_array().cloned())
            .unwrap_or_default()
        };
        let action = |records: &[Value], protocol: &str, sport: u16, dport: u16| {
            let number = match protocol {
                "tcp" => 6,
                "udp" => 17,
                _ => 1,
            };
            records
                .iter()
                .filter(|r| {
                    r["protocol"] == number
                        && (number == 1 || (r["srcport"] == sport && r["dstport"] == dport))
                })
                .map(|r| r["action"] == "ACCEPT")
                .reduce(|a, b| a || b)
        };
        let seen = std::cell::RefCell::new(Vec::new());
        wait_for(
            "every packet in the flow logs of the sides that saw it",
            UP,
            || {
                let (aws, gcp) = (verdicts(&t.aws), verdicts(&t.gcp));
                *seen.borrow_mut() = packets
                    .iter()
                    .map(|&(p, s, d, said)| {
                        (p, s, d, said, action(&aws, p, s, d), action(&gcp, p, s, d))
                    })
                    .collect();
                seen.borrow().iter().all(|(_, _, _, _, a, g)| match a {
                    Some(true) => g.is_some(),
                    Some(false) => true,
                    None => false,
                })
            },
            || format!("{:?}\n{}", seen.borrow(), lab.context()),
        );
        let seen = seen.into_inner();
        for (protocol, sport, dport, (aws_said, gcp_said), aws, gcp) in &seen {
            assert_eq!(
                *aws,
                Some(*aws_said),
                "{protocol} {sport}->{dport} at aws: the check said {aws_said}\n{seen:?}"
            );
            if *aws_said {
                assert_eq!(
                    *gcp,
                    Some(*gcp_said),
                    "{protocol} {sport}->{dport} at gcp: the check said {gcp_said}\n{seen:?}"
                );
                outcomes.insert(("gcp", *gcp_said));
            }
            outcomes.insert(("aws", *aws_said));
        }
        for (who, group, acl, _) in made {
            lab.ok(who, &["security-group", "delete", &group]);
            lab.ok(who, &["network-acl", "delete", &acl]);
        }
    }
    assert_eq!(
        outcomes.len(),
        4,
        "packets passed and were refused at both sides: {outcomes:?}"
    );
}

/// Three replicas on one PostgreSQL database (reached through its Unix socket: the servers run
/// in the aws namespace, which does not share the test's loopback), the gateways given all
/// three URLs. While a ping crosses an available connection every 50 ms, a second connection
/// is accepted and the leader SIGKILLed as soon as the accept returns, while the new
/// connection's plan is under way (its link cannot be up yet; the kill may fall before or after
/// the leader wrote the plan): another replica takes the lease, the second connection becomes
/// available, and not one ping is lost. Needs PostgreSQL's programs besides the above.
#[test]
fn a_leader_killed_while_it_plans_loses_no_traffic_and_the_plan_completes() {
    let pg = xc_store::testing::TestPostgres::start_private();
    let db = pg.socket_database();
    let mut lab = Lab::new("mgdha");
    let urls: Vec<String> = (1..=3)
        .map(|i| format!("http://{}:770{i}", ADDR4[AWS]))
        .collect();
    lab.controllers = Some(urls.join(","));
    // The first replica's data dir is the lab's `server` (its operator credentials); the others
    // have its master key.
    let mut replicas: Vec<Daemon> = Vec::new();
    for i in 1..=3 {
        let dir = if i == 1 {
            lab.pair.path("server")
        } else {
            let dir = lab.pair.path(&format!("replica{i}"));
            std::fs::create_dir_all(&dir).expect("data dir");
            std::fs::copy(lab.pair.path("server/master.key"), dir.join("master.key"))
                .expect("copy the master key");
            dir
        };
        let listen = format!("{}:770{i}", ADDR4[AWS]);
        replicas.push(lab.pair.spawn(
            AWS,
            &format!("replica{i}"),
            &[
                env!("CARGO_BIN_EXE_xconnect"),
                "server",
                "--listen",
                &listen,
                "--data-dir",
                &dir.display().to_string(),
                "--database",
                &db.url,
            ],
        ));
        wait_for(
            &format!("replica {i} to listen"),
            UP,
            || {
                lab.pair
                    .exec(
                        AWS,
                        &[
                            "bash",
                            "-c",
                            &format!("exec 3<>/dev/tcp/{}/770{i}", ADDR4[AWS]),
                        ],
                    )
                    .status
                    .success()
            },
            || replicas.iter().map(Daemon::log_text).collect(),
        );
    }
    lab.endpoint = urls[0].clone();
    let t = lab.tenants();
    lab.start_gateways(&t);
    let first = lab.connect_and_ping(&t);

    // From here on, a ping every 50 ms (-O: a missing reply is reported as the next goes out).
    let mut ping = lab.pair.spawn(
        AWS,
        "ping-50ms",
        &["ping", "-i", "0.05", "-O", "-I", "10.0.0.1", "10.1.0.1"],
    );
    let status = lab.ok(&t.op, &["cluster", "status"]);
    let leader_id = status["leader"].as_str().expect("a leader").to_owned();
    let leader_url = status["replicas"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["id"] == leader_id.as_str()))
        .and_then(|r| r["address"].as_str())
        .expect("the leader's address")
        .to_owned();
    let leader = urls
        .iter()
        .position(|u| *u == leader_url)
        .expect("the leader is one of ours");
    // Ask a replica that stays.
    lab.endpoint = urls[(leader + 1) % 3].clone();
    let second = lab.connect(&t);
    replicas[leader].crash();
    let killed = std::time::Instant::now();
    wait_for(
        "another replica to lead",
        UP,
        || {
            lab.cli(&t.op, &["cluster", "status"])
                .is_ok_and(|s| s["leader"].as_str().is_some_and(|l| l != leader_id))
        },
        || lab.context(),
    );
    eprintln!("another leader after {} ms", killed.elapsed().as_millis());
    lab.wait_available(&t.aws, &second);
    let c = lab.ok(&t.aws, &["connection", "get", &first]);
    assert_eq!(c["state"], "available", "{c}");

    ping.signal("INT");
    wait_for(
        "ping's summary",
        UP,
        || ping.log_text().contains("packets transmitted"),
        || ping.log_text(),
    );
    let log = ping.log_text();
    let summary = log
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .expect("summary");
    let numbers: Vec<u64> = summary
        .split([',', ' '])
        .filter_map(|w| w.parse().ok())
        .collect();
    let (sent, received) = (numbers[0], numbers[1]);
    eprintln!("ping every 50 ms: {summary}");
    assert!(sent >= 20, "the ping ran through the test: {summary}");
    assert!(
        !log.contains("no answer yet"),
        "a ping was lost:\n{log}\n{}",
        lab.context()
    );
    // The one on its way when ping was interrupted may be counted unanswered.
    assert!(sent - received <= 1, "{summary}\n{}", lab.context());
    ping.crash();
    for r in &mut replicas {
        r.stop();
    }
}
