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

use netns::{ADDR4, Daemon, Pair, wait_for};
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
        }
    }

    fn start_server(&mut self) {
        let data = self.pair.path("server");
        let n = self.gateways.len();
        let d = self.pair.spawn(
            AWS,
            &format!("server-{n}"),
            &[
                env!("CARGO_BIN_EXE_xconnect"),
                "server",
                "--listen",
                &format!("{}:7700", ADDR4[AWS]),
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
                            &format!("exec 3<>/dev/tcp/{}/7700", ADDR4[AWS]),
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
        let mut args = vec![
            env!("CARGO_BIN_EXE_xconnect"),
            "gateway",
            "run",
            "--controller",
            &self.endpoint,
            "--underlay-address",
            ADDR4[side],
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
}

#[test]
fn accepted_connection_becomes_available_and_carries_traffic() {
    let mut lab = Lab::new("mgd1");
    lab.start_server();
    let op = lab.operator();
    let creds = |v: Value| Creds {
        key: v["accessKeyId"].as_str().expect("key").to_owned(),
        secret: v["secretAccessKey"].as_str().expect("secret").to_owned(),
    };
    let aws_acct = lab.ok(&op, &["account", "create", "--name", "aws"]);
    let gcp_acct = lab.ok(&op, &["account", "create", "--name", "gcp"]);
    let gcp_id = gcp_acct["accountId"].as_str().expect("id").to_owned();
    let (aws, gcp) = (creds(aws_acct), creds(gcp_acct));
    let ap_aws = lab.ok(
        &aws,
        &[
            "attach-point",
            "create",
            "--name",
            "vpc",
            "--prefixes",
            "10.0.0.0/16",
            "--asn",
            "64512",
        ],
    )["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let ap_gcp = lab.ok(
        &gcp,
        &[
            "attach-point",
            "create",
            "--name",
            "vpc",
            "--prefixes",
            "10.1.0.0/16",
            "--asn",
            "64513",
        ],
    )["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Gateways register with single-use tokens.
    let t_aws = lab.ok(
        &aws,
        &["gateway", "token", "create", "--attach-point", &ap_aws],
    );
    let t_gcp = lab.ok(
        &gcp,
        &["gateway", "token", "create", "--attach-point", &ap_gcp],
    );
    let t_aws = t_aws["token"].as_str().expect("token").to_owned();
    lab.start_gateway(AWS, Some(&t_aws));
    lab.start_gateway(GCP, t_gcp["token"].as_str());
    wait_for(
        "both gateways to register",
        UP,
        || {
            lab.cli(&op, &["gateway", "list"])
                .ok()
                .and_then(|v| v["gateways"].as_array().map(Vec::len))
                == Some(2)
        },
        || lab.context(),
    );
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
    let conn = lab.ok(
        &aws,
        &[
            "connection",
            "create",
            "--environment",
            "gcp-us-east4",
            "--bandwidth",
            "1Gbps",
            "--attach-point",
            &ap_aws,
            "--remote-account",
            &gcp_id,
        ],
    );
    let id = conn["id"].as_str().expect("id").to_owned();
    let key = conn["activationKey"].as_str().expect("key").to_owned();
    lab.ok(
        &gcp,
        &[
            "connection",
            "accept",
            "--activation-key",
            &key,
            "--attach-point",
            &ap_gcp,
        ],
    );
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
    let waited = lab.cli(
        &aws,
        &[
            "connection",
            "wait",
            "--state",
            "available",
            "--timeout",
            "90s",
            &id,
        ],
    );
    let waited = waited.unwrap_or_else(|e| panic!("wait: {e}\n{}", lab.context()));
    assert_eq!(waited["state"], "available");
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
    assert!(
        lab.pair
            .routes(AWS, false)
            .contains("10.1.0.0/16 via 169.254.")
    );
    assert!(
        lab.pair
            .routes(GCP, false)
            .contains("10.0.0.0/16 via 169.254.")
    );
    // A connectivity test run by the aws gateway, from the aws network, through the connection.
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
