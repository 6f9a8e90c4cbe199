//! `xconnect demo`: the whole product on one machine. Builds three sites in network namespaces,
//! starts a server and four managed gateways, creates a multicloud connection as one tenant and
//! accepts it as the other through the API, waits for it, and shows traffic crossing it; then an
//! on-premises site joins the aws VPC through a last-mile provider's two edges, its router BIRD.
//!
//! ```text
//!  xcdemo-aws-host 10.0.1.10 ─┐                                 ┌─ xcdemo-gcp-host 10.1.1.10
//!            (bridge in xcdemo-aws-vpc)                 (bridge in xcdemo-gcp-vpc)
//!      xcdemo-aws-gw1 (iad-eq-dc2) ──┐   xcdemo-underlay   ┌── xcdemo-gcp-gw1 (iad-eq-dc2)
//!      xcdemo-aws-gw2 (iad-cs-va1) ──┼── bridge 169.254.253.0/24 ─┼── xcdemo-gcp-gw2 (iad-cs-va1)
//!                                    └── server 169.254.253.1:7700 (this namespace, via a veth)
//!  4 links (each aws gateway to each gcp gateway), MACsec + VXLAN over the underlay, BGP + BFD;
//!  the hosts reach the other VPC through both of their gateways (ECMP).
//!
//!  last mile (lumen-chicago): xcdemo-lm-edge1 (chi-eq-ch1) and xcdemo-lm-edge2 (chi-350c) on
//!  the underlay, each a MACsec link to an aws gateway and, on its customer-facing `cust`, an
//!  802.1Q VLAN to xcdemo-onprem-rtr (BIRD, AS 65050), which serves
//!  xcdemo-onprem-host 10.50.1.10.
//! ```
//! Everything is removed on Ctrl-C, on error, and at the start of the next run if the demo was
//! killed. Needs root; installs iproute2, ping, traceroute and BIRD when they are missing.

use anyhow::{Context, anyhow, bail};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use xc_client::Client;
use xc_types::api::*;

const PREFIX: &str = "xcdemo-";
const SERVER_IP: &str = "169.254.253.1";
const ENVIRONMENT: &str = "gcp-us-east4";
const FACILITIES: [&str; 2] = ["iad-eq-dc2", "iad-cs-va1"];
const LAST_MILE: &str = "lumen-chicago";
const EDGE_FACILITIES: [&str; 2] = ["chi-eq-ch1", "chi-350c"];

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Run through once and exit: 0 only if traffic crossed the connection.
    #[arg(long)]
    check: bool,
    /// Where the server's data and the gateways' state go (default: a temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn sh(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .with_context(|| format!("cannot run {} (is it installed?)", args[0]))?;
    if !out.status.success() {
        bail!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ns(name: &str) -> String {
    format!("{PREFIX}{name}")
}

fn in_ns(name: &str, args: &[&str]) -> anyhow::Result<String> {
    let n = ns(name);
    let mut a = vec!["ip", "netns", "exec", n.as_str()];
    a.extend_from_slice(args);
    sh(&a)
}

/// Removes every namespace (and so every veth and bridge) of a demo, this one or a previous.
fn remove_all() {
    if let Ok(list) = sh(&["ip", "netns", "list"]) {
        for line in list.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            if name.starts_with(PREFIX) {
                let _ = sh(&["ip", "netns", "del", name]);
            }
        }
    }
    let _ = sh(&["ip", "link", "del", "xcdemo-srv"]);
}

/// Everything the demo started; dropping it stops the processes and removes the namespaces.
struct Demo {
    children: Vec<(String, Child)>,
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        for (_, c) in self.children.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .output();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for (_, c) in self.children.iter_mut().rev() {
            while Instant::now() < deadline {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        remove_all();
    }
}

impl Demo {
    fn spawn(&mut self, name: &str, netns: Option<&str>, args: &[&str]) -> anyhow::Result<()> {
        let exe = std::env::current_exe()?;
        let log = std::fs::File::create(self.dir.join(format!("{name}.log")))?;
        let mut cmd = match netns {
            Some(n) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &ns(n)]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let child = cmd
            .args(args)
            .env("XCONNECT_LOG", "warn")
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("start {name}"))?;
        self.children.push((name.to_owned(), child));
        Ok(())
    }

    /// Starts a program other than xconnect in a namespace.
    fn spawn_program(&mut self, name: &str, netns: &str, args: &[&str]) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log")))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &ns(netns)])
            .args(args)
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("start {name}"))?;
        self.children.push((name.to_owned(), child));
        Ok(())
    }

    fn print_logs(&self) {
        for (name, _) in &self.children {
            eprintln!("--- {name} log (last lines):");
            let log = self.log(name);
            let lines: Vec<&str> = log.lines().rev().take(10).collect();
            for l in lines.into_iter().rev() {
                eprintln!("    {l}");
            }
        }
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }
}

/// The namespaces, bridges and veths.
fn build_topology() -> anyhow::Result<()> {
    for n in [
        "underlay",
        "aws-vpc",
        "gcp-vpc",
        "aws-host",
        "gcp-host",
        "aws-gw1",
        "aws-gw2",
        "gcp-gw1",
        "gcp-gw2",
        "lm-edge1",
        "lm-edge2",
        "onprem-rtr",
        "onprem-host",
    ] {
        sh(&["ip", "netns", "add", &ns(n)])?;
        in_ns(n, &["ip", "link", "set", "lo", "up"])?;
    }
    for fabric in ["underlay", "aws-vpc", "gcp-vpc"] {
        in_ns(fabric, &["ip", "link", "add", "br0", "type", "bridge"])?;
        in_ns(fabric, &["ip", "link", "set", "br0", "up"])?;
    }
    // A veth from `inside` (named `dev` there) to the bridge of `fabric`.
    let attach = |inside: &str, dev: &str, fabric: &str, port: &str| -> anyhow::Result<()> {
        sh(&[
            "ip",
            "link",
            "add",
            dev,
            "netns",
            &ns(inside),
            "type",
            "veth",
            "peer",
            "name",
            port,
            "netns",
            &ns(fabric),
        ])?;
        in_ns(fabric, &["ip", "link", "set", port, "master", "br0"])?;
        in_ns(fabric, &["ip", "link", "set", port, "up"])?;
        in_ns(inside, &["ip", "link", "set", dev, "up"])?;
        Ok(())
    };
    // The server's side: a veth from here to the underlay bridge.
    sh(&[
        "ip",
        "link",
        "add",
        "xcdemo-srv",
        "type",
        "veth",
        "peer",
        "name",
        "p-srv",
        "netns",
        &ns("underlay"),
    ])?;
    in_ns("underlay", &["ip", "link", "set", "p-srv", "master", "br0"])?;
    in_ns("underlay", &["ip", "link", "set", "p-srv", "up"])?;
    sh(&[
        "ip",
        "addr",
        "add",
        &format!("{SERVER_IP}/24"),
        "dev",
        "xcdemo-srv",
    ])?;
    sh(&["ip", "link", "set", "xcdemo-srv", "up"])?;
    for (side, vpc_net) in [("aws", 0), ("gcp", 1)] {
        for (i, gw) in ["gw1", "gw2"].iter().enumerate() {
            let name = format!("{side}-{gw}");
            let underlay_ip = format!("169.254.253.{}", 11 + 10 * vpc_net + i);
            attach(&name, "underlay", "underlay", &format!("u-{name}"))?;
            in_ns(
                &name,
                &[
                    "ip",
                    "addr",
                    "add",
                    &format!("{underlay_ip}/24"),
                    "dev",
                    "underlay",
                ],
            )?;
            attach(&name, "vpc", &format!("{side}-vpc"), &format!("v-{gw}"))?;
            in_ns(
                &name,
                &[
                    "ip",
                    "addr",
                    "add",
                    &format!("10.{vpc_net}.1.{}/24", i + 1),
                    "dev",
                    "vpc",
                ],
            )?;
            in_ns(&name, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
            // The VPC's router in miniature: a gateway that has lost its links reaches the other
            // networks through its sibling (the BGP routes, metric 0, win while they exist).
            let mut others = vec![format!("10.{}.0.0/16", 1 - vpc_net)];
            if side == "aws" {
                others.push("10.50.0.0/16".into());
            }
            for other in &others {
                in_ns(
                    &name,
                    &[
                        "ip",
                        "route",
                        "add",
                        other,
                        "via",
                        &format!("10.{vpc_net}.1.{}", 2 - i),
                        "metric",
                        "1000",
                    ],
                )?;
            }
        }
        let host = format!("{side}-host");
        attach(&host, "eth0", &format!("{side}-vpc"), "v-host")?;
        in_ns(
            &host,
            &[
                "ip",
                "addr",
                "add",
                &format!("10.{vpc_net}.1.10/24"),
                "dev",
                "eth0",
            ],
        )?;
        // The VPC router: the other networks through both gateways.
        let mut others = vec![format!("10.{}.0.0/16", 1 - vpc_net)];
        if side == "aws" {
            others.push("10.50.0.0/16".into());
        }
        for other in &others {
            in_ns(
                &host,
                &[
                    "ip",
                    "route",
                    "add",
                    other,
                    "nexthop",
                    "via",
                    &format!("10.{vpc_net}.1.1"),
                    "nexthop",
                    "via",
                    &format!("10.{vpc_net}.1.2"),
                ],
            )?;
        }
    }
    // The last-mile provider's edges: on the underlay, and facing the customer's router.
    for i in 1..=2 {
        let edge = format!("lm-edge{i}");
        attach(&edge, "underlay", "underlay", &format!("u-{edge}"))?;
        in_ns(
            &edge,
            &[
                "ip",
                "addr",
                "add",
                &format!("169.254.253.3{i}/24"),
                "dev",
                "underlay",
            ],
        )?;
        in_ns(&edge, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        sh(&[
            "ip",
            "link",
            "add",
            "cust",
            "netns",
            &ns(&edge),
            "type",
            "veth",
            "peer",
            "name",
            &format!("up{i}"),
            "netns",
            &ns("onprem-rtr"),
        ])?;
        in_ns(&edge, &["ip", "link", "set", "cust", "up"])?;
        in_ns(
            "onprem-rtr",
            &["ip", "link", "set", &format!("up{i}"), "up"],
        )?;
    }
    // The on-premises site: a router and a host on its LAN.
    sh(&[
        "ip",
        "link",
        "add",
        "lan",
        "netns",
        &ns("onprem-rtr"),
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &ns("onprem-host"),
    ])?;
    in_ns(
        "onprem-rtr",
        &["ip", "addr", "add", "10.50.1.1/24", "dev", "lan"],
    )?;
    in_ns("onprem-rtr", &["ip", "link", "set", "lan", "up"])?;
    in_ns("onprem-rtr", &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
    in_ns(
        "onprem-host",
        &["ip", "addr", "add", "10.50.1.10/24", "dev", "eth0"],
    )?;
    in_ns("onprem-host", &["ip", "link", "set", "eth0", "up"])?;
    in_ns(
        "onprem-host",
        &["ip", "route", "add", "default", "via", "10.50.1.1"],
    )?;
    Ok(())
}

/// What the demo runs itself (the gateways need none of it), and the Debian package of each:
/// namespaces and veths, ping and traceroute from the hosts, BIRD as the on-premises router.
const TOOLS: [(&str, &str); 4] = [
    ("ip", "iproute2"),
    ("ping", "iputils-ping"),
    ("traceroute", "traceroute"),
    ("bird", "bird2"),
];

/// Installs what the demo runs when it is missing (with apt-get, as on Debian).
fn ensure_tools() -> anyhow::Result<()> {
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let missing: Vec<&str> = TOOLS
        .iter()
        .filter(|(tool, _)| !have(tool))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!(
        "installing what the demo runs: apt-get install {}",
        missing.join(" ")
    ));
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(&missing);
    let ok = apt(&["update", "-q"]) && apt(&install);
    let still: Vec<&str> = TOOLS
        .iter()
        .filter(|(tool, _)| !have(tool))
        .map(|(tool, _)| *tool)
        .collect();
    if !ok || !still.is_empty() {
        bail!(
            "the demo runs {} and could not install them (Debian: apt-get install {})",
            still.join(", "),
            missing.join(" ")
        );
    }
    Ok(())
}

async fn wait_listening(endpoint: &str, demo: &Demo) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if reqwest::get(format!("{endpoint}/healthz")).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the server did not start: {}", demo.log("server"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Pings and traces `target` from the host namespace `host`, printing both; true if a reply came.
fn ping_and_trace(host: &str, target: &str) -> anyhow::Result<bool> {
    let ping = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns(host),
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            target,
        ])
        .output()?;
    print!("{}", String::from_utf8_lossy(&ping.stdout));
    let trace = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns(host),
            "traceroute",
            "-n",
            "-w",
            "1",
            "-q",
            "1",
            target,
        ])
        .output()?;
    print!("{}", String::from_utf8_lossy(&trace.stdout));
    Ok(ping.status.success())
}

fn step(msg: &str) {
    println!("\n==> {msg}");
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if sh(&["id", "-u"])?.trim() != "0" {
        bail!("the demo builds network namespaces: run it as root (sudo)");
    }
    ensure_tools()?;
    remove_all();
    let (dir, tmp) = match args.dir {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            (d, None)
        }
        None => {
            let t = tempfile::tempdir()?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let mut demo = Demo {
        children: Vec::new(),
        dir: dir.clone(),
        _tmp: tmp,
    };
    step("building two VPCs, an on-premises site and an underlay in network namespaces (xcdemo-*)");
    build_topology()?;
    let endpoint = format!("http://{SERVER_IP}:7700");
    step(&format!("starting the control plane at {endpoint}"));
    let data = dir.join("server");
    demo.spawn(
        "server",
        None,
        &[
            "server",
            "--listen",
            &format!("{SERVER_IP}:7700"),
            "--data-dir",
            &data.display().to_string(),
            // So a webhook receiver on this machine can be tried.
            "--webhook-allow-network",
            "127.0.0.0/8",
        ],
    )?;
    wait_listening(&endpoint, &demo).await?;
    let op: Credentials = serde_json::from_str(&std::fs::read_to_string(
        data.join("operator-credentials.json"),
    )?)?;
    let operator = Client::new(
        &endpoint,
        op.access_key_id.as_str(),
        &op.secret_access_key,
        "us-east-1",
    )?;
    step("creating the tenants aws and gcp, each with an attach point");
    let aws_creds = operator.create_account("aws").await?;
    let gcp_creds = operator.create_account("gcp").await?;
    let client = |c: &Credentials| {
        Client::new(
            &endpoint,
            c.access_key_id.as_str(),
            &c.secret_access_key,
            "us-east-1",
        )
    };
    let (aws, gcp) = (client(&aws_creds)?, client(&gcp_creds)?);
    let ap_aws = aws
        .create_attach_point(&CreateAttachPointRequest {
            name: "aws-vpc".into(),
            prefixes: vec!["10.0.0.0/16".into()],
            asn: Some(64512),
        })
        .await?;
    let ap_gcp = gcp
        .create_attach_point(&CreateAttachPointRequest {
            name: "gcp-vpc".into(),
            prefixes: vec!["10.1.0.0/16".into()],
            asn: Some(64513),
        })
        .await?;
    step("registering four gateways (two per VPC, in two facilities)");
    for (side, c, ap) in [("aws", &aws, &ap_aws), ("gcp", &gcp, &ap_gcp)] {
        for (i, facility) in FACILITIES.iter().enumerate() {
            let t = c
                .create_gateway_token(&xc_types::gateway::TokenRequest {
                    attach_point_id: Some(ap.id.to_string()),
                    facility: Some((*facility).to_owned()),
                })
                .await?;
            let name = format!("{side}-gw{}", i + 1);
            let underlay = format!(
                "169.254.253.{}",
                11 + if side == "aws" { 0 } else { 10 } + i
            );
            let state = dir.join(format!("{name}-state")).display().to_string();
            demo.spawn(
                &name,
                Some(&name),
                &[
                    "gateway",
                    "run",
                    "--controller",
                    &endpoint,
                    "--token",
                    &t.token,
                    "--underlay-address",
                    &underlay,
                    "--name",
                    &name,
                    "--state-dir",
                    &state,
                ],
            )?;
            println!("    {name} in {facility}, underlay {underlay}");
        }
    }
    step(&format!(
        "aws requests a 1 Gbps connection through {ENVIRONMENT}; gcp accepts it with the activation key"
    ));
    let conn = aws
        .create_connection(&CreateConnectionRequest {
            default_alarms: None,
            environment_id: ENVIRONMENT.into(),
            bandwidth: "1Gbps".into(),
            attach_point: ap_aws.id.to_string(),
            remote_account: Some(gcp_creds.account_id.to_string()),
            description: Some("xconnect demo".into()),
            tags: None,
            routing_policy: None,
            client_token: None,
            last_mile: None,
        })
        .await?;
    let key = conn
        .activation_key
        .clone()
        .ok_or_else(|| anyhow!("no activation key on the new connection"))?;
    println!(
        "    {} {} (activation key {}...)",
        conn.id,
        conn.state,
        &key[..key.len().min(24)]
    );
    let accept_start = Instant::now();
    gcp.accept_connection(&AcceptConnectionRequest {
        default_alarms: None,
        activation_key: key,
        attach_point: ap_gcp.id.to_string(),
        routing_policy: None,
        description: None,
        tags: None,
        client_token: None,
    })
    .await?;
    step("waiting for the connection to be available");
    let id = conn.id.to_string();
    let waited = crate::cli::wait_for_state(
        &aws,
        &id,
        xc_types::ConnectionState::Available,
        Duration::from_secs(120),
    )
    .await;
    if let Err(e) = waited {
        demo.print_logs();
        return Err(e);
    }
    println!(
        "    available {:.1} s after the accept",
        accept_start.elapsed().as_secs_f64()
    );
    let links = aws.connection_links(&id).await?;
    for l in &links.links {
        let ends: Vec<String> = l
            .ends
            .iter()
            .map(|e| {
                format!(
                    "{} ({})",
                    e.gateway_name,
                    e.facility.as_deref().unwrap_or("-")
                )
            })
            .collect();
        println!(
            "    link {} (VNI {}): {} <-> {}: {}",
            l.name, l.vni, ends[0], ends[1], l.state
        );
    }
    step("ping and traceroute from the aws host (10.0.1.10) to the gcp host (10.1.1.10)");
    let flowed = ping_and_trace("aws-host", "10.1.1.10")?;
    let lm_id = last_mile(
        &mut demo,
        &endpoint,
        &operator,
        &aws,
        &ap_aws.id.to_string(),
        &dir,
    )
    .await?;
    let lm_flowed = ping_and_trace("onprem-host", "10.0.1.10")?;
    if args.check {
        drop(demo);
        if flowed && lm_flowed {
            println!("\ndemo check passed: traffic crossed both connections");
            return Ok(());
        }
        bail!(
            "demo check failed: no reply across the {} connection",
            if flowed { "last-mile" } else { "multicloud" }
        );
    }
    step("the demo is running");
    let write_env = |name: &str, c: &Credentials| -> anyhow::Result<PathBuf> {
        let p = dir.join(format!("{name}.env"));
        std::fs::write(
            &p,
            format!(
                "export XCONNECT_ENDPOINT={endpoint}\nexport AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_REGION=us-east-1\n",
                c.access_key_id, c.secret_access_key
            ),
        )?;
        Ok(p)
    };
    let aws_env = write_env("aws", &aws_creds)?;
    let gcp_env = write_env("gcp", &gcp_creds)?;
    println!("    API: {endpoint} (AWS Interconnect at /, native at /v1)");
    println!("    as the aws tenant:  source {}", aws_env.display());
    println!("    as the gcp tenant:  source {}", gcp_env.display());
    println!("    then: xconnect connection get {id}; xconnect connection links {id}");
    println!("          xconnect connection test {id} --target 10.1.1.10");
    println!(
        "          xconnect connection links {lm_id}   (the last mile: edges, VLAN, customer sessions)"
    );
    println!(
        "          aws --endpoint-url $XCONNECT_ENDPOINT interconnect get-connection --identifier {id}"
    );
    println!(
        "    a shell in the aws host: sudo ip netns exec {}aws-host bash",
        PREFIX
    );
    println!(
        "    the on-premises router:  sudo birdc -s {} show protocols",
        dir.join("bird.ctl").display()
    );
    println!("    logs: {}", dir.display());
    println!("\nCtrl-C stops everything and removes the namespaces.");
    crate::server::shutdown_signal().await;
    step("stopping");
    drop(demo);
    println!("    done: the namespaces are removed");
    Ok(())
}

/// The last mile: the provider's edges register (operator tokens for its two facilities), aws
/// orders a connection to its on-premises site, the provider accepts it, and the customer's
/// router is configured from what the connection shows (VLAN, addresses). Returns its id.
async fn last_mile(
    demo: &mut Demo,
    endpoint: &str,
    operator: &Client,
    aws: &Client,
    ap_aws: &str,
    dir: &std::path::Path,
) -> anyhow::Result<String> {
    step(&format!(
        "last mile: the provider Lumen runs two edges in {LAST_MILE} ({})",
        EDGE_FACILITIES.join(", ")
    ));
    let lumen_creds = operator.create_account("lumen").await?;
    let lumen = Client::new(
        endpoint,
        lumen_creds.access_key_id.as_str(),
        &lumen_creds.secret_access_key,
        "us-east-1",
    )?;
    for (i, facility) in EDGE_FACILITIES.iter().enumerate() {
        let t = operator
            .create_gateway_token(&xc_types::gateway::TokenRequest {
                attach_point_id: None,
                facility: Some((*facility).to_owned()),
            })
            .await?;
        let name = format!("lm-edge{}", i + 1);
        let underlay = format!("169.254.253.3{}", i + 1);
        let state = dir.join(format!("{name}-state")).display().to_string();
        demo.spawn(
            &name,
            Some(&name),
            &[
                "gateway",
                "run",
                "--controller",
                endpoint,
                "--token",
                &t.token,
                "--underlay-address",
                &underlay,
                "--name",
                &name,
                "--state-dir",
                &state,
                "--access-interface",
                "cust",
            ],
        )?;
        println!("    {name} in {facility}, underlay {underlay}, customer-facing interface cust");
    }
    step(
        "aws orders a last-mile connection to its on-premises site (10.50.0.0/16, AS 65050); Lumen accepts it",
    );
    let conn = aws
        .create_connection(&CreateConnectionRequest {
            default_alarms: None,
            environment_id: LAST_MILE.into(),
            bandwidth: "1Gbps".into(),
            attach_point: ap_aws.to_owned(),
            remote_account: Some(lumen_creds.account_id.to_string()),
            description: Some("xconnect demo on-premises site".into()),
            tags: None,
            routing_policy: None,
            client_token: None,
            last_mile: Some(LastMileRequest {
                circuit_id: "LUMEN-CHI-DEMO-1".into(),
                redundancy: Some(2),
                customer_asn: 65050,
                on_premises_prefixes: vec!["10.50.0.0/16".into()],
                max_prefixes: None,
                layer: Some(3),
                peerings: Vec::new(),
                md5_password: None,
            }),
        })
        .await?;
    let site = conn
        .last_mile
        .clone()
        .ok_or_else(|| anyhow!("the last-mile connection shows no site"))?;
    lumen
        .accept_connection(&AcceptConnectionRequest {
            default_alarms: None,
            activation_key: conn.activation_key.clone().unwrap_or_default(),
            attach_point: String::new(),
            routing_policy: None,
            description: None,
            tags: None,
            client_token: None,
        })
        .await?;
    println!(
        "    {} accepted: VLAN {}, sessions {}",
        conn.id,
        site.vlan,
        site.peerings
            .iter()
            .map(|p| format!("{} <-> {}", p.provider_address, p.customer_address))
            .collect::<Vec<_>>()
            .join(", ")
    );
    step("the on-premises router: VLAN sub-interfaces on its two uplinks, and BIRD");
    let mut vlans =
        "[gateway]\nname = \"onprem-vlans\"\nadmin_listen = \"127.0.0.1:7801\"\n".to_owned();
    let mut bird =
        "router id 10.50.1.1;\nprotocol device { }\nprotocol direct { ipv4; interface \"lan\"; }\n\
        protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; merge paths on; }\n\
        protocol static { ipv4; route 10.50.0.0/16 blackhole; }\n"
            .to_owned();
    for (i, p) in site.peerings.iter().enumerate() {
        vlans += &format!(
            "[[access]]\ninterface = \"up{}\"\nvlan = {}\naddresses = [\"{}/{}\"]\n",
            i + 1,
            site.vlan,
            p.customer_address,
            p.provider_address.prefix_len()
        );
        bird += &format!(
            "protocol bgp lumen{} {{ local {} as 65050; neighbor {} as {}; connect retry time 2; ipv4 {{ import all; export where source = RTS_STATIC; }}; }}\n",
            i + 1,
            p.customer_address,
            p.provider_address.addr(),
            64999
        );
    }
    let vlans_path = dir.join("onprem-vlans.toml");
    std::fs::write(&vlans_path, vlans)?;
    demo.spawn(
        "onprem-vlans",
        Some("onprem-rtr"),
        &[
            "gateway",
            "run",
            "--config",
            &vlans_path.display().to_string(),
        ],
    )?;
    // The router starts once its VLAN sub-interfaces have their addresses.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let addrs = in_ns("onprem-rtr", &["ip", "-o", "addr", "show"])?;
        if site
            .peerings
            .iter()
            .all(|p| addrs.contains(&format!("{}/", p.customer_address)))
        {
            break;
        }
        if Instant::now() > deadline {
            demo.print_logs();
            bail!("the on-premises router's VLAN sub-interfaces did not come up");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bird_conf = dir.join("bird.conf");
    std::fs::write(&bird_conf, bird)?;
    let ctl = dir.join("bird.ctl").display().to_string();
    demo.spawn_program(
        "bird",
        "onprem-rtr",
        &[
            "bird",
            "-f",
            "-c",
            &bird_conf.display().to_string(),
            "-s",
            &ctl,
        ],
    )?;
    step("waiting for the last-mile connection to be available");
    let id = conn.id.to_string();
    let start = Instant::now();
    if let Err(e) = crate::cli::wait_for_state(
        aws,
        &id,
        xc_types::ConnectionState::Available,
        Duration::from_secs(120),
    )
    .await
    {
        demo.print_logs();
        return Err(e);
    }
    println!(
        "    available {:.1} s after the accept",
        start.elapsed().as_secs_f64()
    );
    for l in aws.connection_links(&id).await?.links {
        if let Some(c) = &l.customer {
            println!(
                "    link {}: {} <-> {} ({}), VLAN {} on {}, BGP with the customer router {}: {}",
                l.name,
                l.ends[0].gateway_name,
                c.edge,
                c.facility.as_deref().unwrap_or("-"),
                c.vlan,
                c.interface.as_deref().unwrap_or("-"),
                c.customer_address,
                c.bgp.as_ref().map_or("-".into(), |b| b.state.to_string())
            );
        }
    }
    step("ping and traceroute from the on-premises host (10.50.1.10) to the aws host (10.0.1.10)");
    Ok(id)
}
