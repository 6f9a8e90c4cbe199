//! `xconnect demo`: the whole product on one machine. Builds two sites in network namespaces,
//! starts a server and four managed gateways, creates a multicloud connection as one tenant and
//! accepts it as the other through the API, waits for it, and shows traffic crossing it.
//!
//! ```text
//!  xcdemo-aws-host 10.0.1.10 ─┐                                 ┌─ xcdemo-gcp-host 10.1.1.10
//!            (bridge in xcdemo-aws-vpc)                 (bridge in xcdemo-gcp-vpc)
//!      xcdemo-aws-gw1 (iad-eq-dc2) ──┐   xcdemo-underlay   ┌── xcdemo-gcp-gw1 (iad-eq-dc2)
//!      xcdemo-aws-gw2 (iad-cs-va1) ──┼── bridge 169.254.253.0/24 ─┼── xcdemo-gcp-gw2 (iad-cs-va1)
//!                                    └── server 169.254.253.1:7700 (this namespace, via a veth)
//!  4 links (each aws gateway to each gcp gateway), MACsec + VXLAN over the underlay, BGP + BFD;
//!  the hosts reach the other VPC through both of their gateways (ECMP).
//! ```
//! Everything is removed on Ctrl-C, on error, and at the start of the next run if the demo was
//! killed. Needs root, iproute2, ping and traceroute.

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

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }
}

/// The namespaces, bridges and veths.
fn build_topology() -> anyhow::Result<()> {
    for n in [
        "underlay", "aws-vpc", "gcp-vpc", "aws-host", "gcp-host", "aws-gw1", "aws-gw2", "gcp-gw1",
        "gcp-gw2",
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
            // VPC through its sibling (the BGP routes, metric 0, win while they exist).
            in_ns(
                &name,
                &[
                    "ip",
                    "route",
                    "add",
                    &format!("10.{}.0.0/16", 1 - vpc_net),
                    "via",
                    &format!("10.{vpc_net}.1.{}", 2 - i),
                    "metric",
                    "1000",
                ],
            )?;
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
        // The VPC router: the other VPC through both gateways.
        let other = 1 - vpc_net;
        in_ns(
            &host,
            &[
                "ip",
                "route",
                "add",
                &format!("10.{other}.0.0/16"),
                "nexthop",
                "via",
                &format!("10.{vpc_net}.1.1"),
                "nexthop",
                "via",
                &format!("10.{vpc_net}.1.2"),
            ],
        )?;
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

fn step(msg: &str) {
    println!("\n==> {msg}");
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if sh(&["id", "-u"])?.trim() != "0" {
        bail!("the demo builds network namespaces: run it as root (sudo)");
    }
    for tool in ["ip", "ping", "traceroute"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            bail!(
                "the demo needs `{tool}` (Debian: apt-get install iproute2 iputils-ping traceroute)"
            );
        }
    }
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
    step("building two VPCs and an underlay in network namespaces (xcdemo-*)");
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
    let waited = crate::cli::wait_for_state(&aws, &id, "available", Duration::from_secs(120)).await;
    if let Err(e) = waited {
        for (name, _) in &demo.children {
            eprintln!("--- {name} log (last lines):");
            for l in demo
                .log(name)
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                eprintln!("    {l}");
            }
        }
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
    let ping = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns("aws-host"),
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            "10.1.1.10",
        ])
        .output()?;
    print!("{}", String::from_utf8_lossy(&ping.stdout));
    let trace = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns("aws-host"),
            "traceroute",
            "-n",
            "-w",
            "1",
            "-q",
            "1",
            "10.1.1.10",
        ])
        .output()?;
    print!("{}", String::from_utf8_lossy(&trace.stdout));
    let flowed = ping.status.success();
    if args.check {
        drop(demo);
        if flowed {
            println!("\ndemo check passed: traffic crossed the connection");
            return Ok(());
        }
        bail!("demo check failed: no reply across the connection");
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
        "          aws --endpoint-url $XCONNECT_ENDPOINT interconnect get-connection --identifier {id}"
    );
    println!(
        "    a shell in the aws host: sudo ip netns exec {}aws-host bash",
        PREFIX
    );
    println!("    logs: {}", dir.display());
    println!("\nCtrl-C stops everything and removes the namespaces.");
    crate::server::shutdown_signal().await;
    step("stopping");
    drop(demo);
    println!("    done: the namespaces are removed");
    Ok(())
}
