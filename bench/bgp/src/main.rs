//! How fast a BGP speaker takes in a large table. A sender holding the table pre-encoded in
//! memory (so that it is never the bottleneck) feeds the same 100,000 IPv4 prefixes to
//! xconnect's gateway, to BIRD and to FRR, each in its own network namespace over a veth; the
//! bench measures, from the moment the session is Established, when all prefixes are in the
//! receiver's RIB and when they are all in its kernel, and the receiver's peak resident memory.
//!
//! Two profiles: `single` (one UPDATE per prefix, each prefix with its own AS_PATH) and
//! `packed` (about 1,000 prefixes per UPDATE sharing attributes).
//!
//! ```text
//! sudo cargo run --release -p xconnect-bench-bgp -- run [--record]
//! ```
//! Needs root, bird2 and frr. Namespaces are `xcbb-s` (sender) and `xcbb-r` (receiver), removed
//! on exit.

use anyhow::{Context, bail};
use clap::Parser;
use ipnet::Ipv4Net;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use xc_bgp::message::{AFI_IPV4, SAFI_UNICAST};
use xc_bgp::{AsPathSegment, Attribute, Capability, Message, Open, Origin, Update};

const SENDER_NS: &str = "xcbb-s";
const RECEIVER_NS: &str = "xcbb-r";
const SENDER_IP: &str = "169.254.200.1";
const RECEIVER_IP: &str = "169.254.200.2";
const SENDER_AS: u32 = 65001;
const RECEIVER_AS: u32 = 64512;

#[derive(Parser, Debug)]
enum Cli {
    /// Runs every receiver with both profiles and prints a table.
    Run {
        #[arg(long, default_value_t = 100_000)]
        prefixes: u32,
        /// Runs per receiver and profile (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Only these receivers (gateway, bird, frr).
        #[arg(long, value_delimiter = ',', default_value = "gateway,bird,frr")]
        receivers: Vec<String>,
        /// Appends the table to bench/RESULTS.md.
        #[arg(long)]
        record: bool,
    },
    /// The sender (run inside the sender's namespace by `run`).
    Send {
        #[arg(long)]
        prefixes: u32,
        #[arg(long)]
        per_update: u32,
    },
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn prefix(i: u32) -> Ipv4Net {
    // 16.0.0.0/24 upwards: one /24 per prefix.
    Ipv4Net::new(Ipv4Addr::from(0x1000_0000 + (i << 8)), 24).expect("valid length")
}

/// The whole table, encoded once.
fn encode_table(prefixes: u32, per_update: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut group = 0u32;
    while i < prefixes {
        let n = per_update.min(prefixes - i);
        let nlri: Vec<Ipv4Net> = (i..i + n).map(prefix).collect();
        // Each UPDATE its own AS_PATH (in `single`, each prefix its own).
        let path = vec![SENDER_AS, 4_200_000_000 + group];
        let u = Message::Update(Update {
            withdrawn: vec![],
            attributes: vec![
                Attribute::Origin(Origin::Igp),
                Attribute::AsPath(vec![AsPathSegment::Sequence(path)]),
                Attribute::NextHop(SENDER_IP.parse().expect("ip")),
            ],
            nlri,
            malformed: None,
        });
        out.extend_from_slice(&u.encode());
        i += n;
        group += 1;
    }
    out.extend_from_slice(&Message::Update(Update::default()).encode()); // End-of-RIB
    out
}

fn read_message(s: &mut impl Read) -> anyhow::Result<Message> {
    let mut head = [0u8; 19];
    s.read_exact(&mut head)?;
    let len = usize::from(u16::from_be_bytes([head[16], head[17]]));
    let mut body = vec![0u8; len.saturating_sub(19)];
    s.read_exact(&mut body)?;
    let mut all = head.to_vec();
    all.extend_from_slice(&body);
    Ok(Message::decode(&all)?)
}

/// Accepts one session on port 179, brings it up, writes the table, and keeps it alive.
fn send(prefixes: u32, per_update: u32) -> anyhow::Result<()> {
    let table = encode_table(prefixes, per_update);
    let listener = TcpListener::bind(("0.0.0.0", 179)).context("listen on 179")?;
    println!("listening");
    let (mut s, _) = listener.accept()?;
    s.set_nodelay(true)?;
    let open = Message::Open(Open {
        version: 4,
        asn: SENDER_AS,
        hold_time: 240,
        router_id: SENDER_IP.parse()?,
        capabilities: vec![
            Capability::Multiprotocol {
                afi: AFI_IPV4,
                safi: SAFI_UNICAST,
            },
            Capability::FourOctetAs(SENDER_AS),
        ],
    });
    s.write_all(&open.encode())?;
    loop {
        match read_message(&mut s)? {
            Message::Open(_) => s.write_all(&Message::Keepalive.encode())?,
            Message::Keepalive => break,
            Message::Notification(n) => bail!("NOTIFICATION {}/{}", n.code, n.subcode),
            _ => {}
        }
    }
    println!("established {}", now_ns());
    std::io::stdout().flush()?;
    s.write_all(&table)?;
    println!("sent {}", now_ns());
    std::io::stdout().flush()?;
    // Keep the session up: discard what arrives, send keepalives.
    let mut r = s.try_clone()?;
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while matches!(r.read(&mut buf), Ok(n) if n > 0) {}
    });
    loop {
        std::thread::sleep(Duration::from_secs(20));
        s.write_all(&Message::Keepalive.encode())?;
    }
}

fn sh(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .with_context(|| format!("{args:?}"))?;
    if !out.status.success() {
        bail!("{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn in_ns(ns: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut a = vec!["ip", "netns", "exec", ns];
    a.extend_from_slice(args);
    sh(&a)
}

struct Topology;

impl Topology {
    fn new() -> anyhow::Result<Self> {
        Self::remove();
        sh(&["ip", "netns", "add", SENDER_NS])?;
        sh(&["ip", "netns", "add", RECEIVER_NS])?;
        sh(&[
            "ip",
            "link",
            "add",
            "xcbb-s",
            "netns",
            SENDER_NS,
            "type",
            "veth",
            "peer",
            "name",
            "xcbb-r",
            "netns",
            RECEIVER_NS,
        ])?;
        for (ns, dev, addr) in [
            (SENDER_NS, "xcbb-s", SENDER_IP),
            (RECEIVER_NS, "xcbb-r", RECEIVER_IP),
        ] {
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/30"),
                "dev",
                dev,
            ])?;
            sh(&["ip", "-n", ns, "link", "set", dev, "up"])?;
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(Self)
    }
    fn remove() {
        for ns in [SENDER_NS, RECEIVER_NS] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        Self::remove();
    }
}

struct Proc(Vec<Child>);

impl Drop for Proc {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(ns: &str, args: &[&str], log: &Path) -> anyhow::Result<Child> {
    let f = std::fs::File::create(log)?;
    Ok(Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stdout(f.try_clone()?)
        .stderr(f)
        .spawn()?)
}

/// Peak resident memory (VmHWM) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn pids_of(pattern: &str) -> Vec<u32> {
    sh(&["pgrep", "-f", pattern])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    rib: Duration,
    kernel: Duration,
    peak_mib: f64,
}

fn kernel_count(proto: &str) -> usize {
    in_ns(RECEIVER_NS, &["ip", "-4", "route", "show", "proto", proto])
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// Reads how many prefixes the receiver has in its RIB.
type Counter = Box<dyn Fn() -> usize>;
/// The receiver's processes, for their peak memory.
type Pids = Box<dyn Fn() -> Vec<u32>>;

fn one_run(
    receiver: &str,
    prefixes: u32,
    per_update: u32,
    dir: &Path,
    xconnect: &Path,
) -> anyhow::Result<Sample> {
    let _topo = Topology::new()?;
    let me = std::env::current_exe()?;
    let mut procs = Proc(Vec::new());
    // The receiver first: it connects to the sender as soon as the sender listens.
    let (rib_count, proto, pids): (Counter, &str, Pids) = match receiver {
        "gateway" => {
            let cfg = dir.join("gw.toml");
            std::fs::write(
                &cfg,
                format!(
                    "[gateway]\nname = \"bench\"\nadmin_listen = \"127.0.0.1:7801\"\n[bgp]\nasn = {RECEIVER_AS}\nrouter_id = \"{RECEIVER_IP}\"\n[[bgp.neighbor]]\naddress = \"{SENDER_IP}\"\nremote_asn = {SENDER_AS}\nimport = \"any\"\nmax_prefixes = 1000000\nconnect_retry_secs = 1\n"
                ),
            )?;
            let c = spawn(
                RECEIVER_NS,
                &[
                    &xconnect.display().to_string(),
                    "gateway",
                    "run",
                    "--config",
                    &cfg.display().to_string(),
                    "--log",
                    "warn",
                ],
                &dir.join("gw.log"),
            )?;
            let pid = c.id();
            procs.0.push(c);
            let x = xconnect.to_path_buf();
            (
                Box::new(move || {
                    in_ns(
                        RECEIVER_NS,
                        &[
                            &x.display().to_string(),
                            "gateway",
                            "status",
                            "--output",
                            "json",
                        ],
                    )
                    .ok()
                    .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                    .and_then(|v| v["bgp"]["locRib"].as_u64())
                    .unwrap_or(0) as usize
                }),
                "bgp",
                Box::new(move || vec![pid]),
            )
        }
        "bird" => {
            let conf = dir.join("bird.conf");
            std::fs::write(
                &conf,
                format!(
                    "router id {RECEIVER_IP};\nprotocol device {{ }}\nprotocol kernel {{ ipv4 {{ import none; export all; }}; merge paths on; }}\nprotocol bgp sender {{ local {RECEIVER_IP} as {RECEIVER_AS}; neighbor {SENDER_IP} as {SENDER_AS}; connect delay time 1; ipv4 {{ import all; export none; }}; }}\n"
                ),
            )?;
            let ctl = dir.join("bird.ctl").display().to_string();
            let c = spawn(
                RECEIVER_NS,
                &[
                    "bird",
                    "-f",
                    "-c",
                    &conf.display().to_string(),
                    "-s",
                    &ctl,
                    "-P",
                    &dir.join("bird.pid").display().to_string(),
                ],
                &dir.join("bird.log"),
            )?;
            let pid = c.id();
            procs.0.push(c);
            (
                Box::new(move || {
                    sh(&["birdc", "-s", &ctl, "show", "route", "count"])
                        .ok()
                        .and_then(|s| {
                            s.lines()
                                .find(|l| l.contains("of"))
                                .and_then(|l| l.split_whitespace().next())
                                .and_then(|n| n.parse().ok())
                        })
                        .unwrap_or(0)
                }),
                "bird",
                Box::new(move || vec![pid]),
            )
        }
        "frr" => {
            let d = dir.join("frr");
            std::fs::create_dir_all(d.join("vty"))?;
            std::fs::write(d.join("zebra.conf"), "hostname r\n")?;
            std::fs::write(
                d.join("bgpd.conf"),
                format!(
                    "hostname r\nroute-map ALL permit 10\n!\nrouter bgp {RECEIVER_AS}\n bgp router-id {RECEIVER_IP}\n neighbor {SENDER_IP} remote-as {SENDER_AS}\n neighbor {SENDER_IP} timers connect 1\n address-family ipv4 unicast\n  neighbor {SENDER_IP} route-map ALL in\n  neighbor {SENDER_IP} route-map ALL out\n exit-address-family\n!\n"
                ),
            )?;
            sh(&["chown", "-R", "frr:frr", &d.display().to_string()])?;
            let ds = d.display().to_string();
            for daemon in ["zebra", "bgpd"] {
                let c = spawn(
                    RECEIVER_NS,
                    &[
                        &format!("/usr/lib/frr/{daemon}"),
                        "-u",
                        "frr",
                        "-g",
                        "frr",
                        "--vty_socket",
                        &format!("{ds}/vty"),
                        "-z",
                        &format!("{ds}/zserv.api"),
                        "-P",
                        "0",
                        "-f",
                        &format!("{ds}/{daemon}.conf"),
                        "-i",
                        &format!("{ds}/{daemon}.pid"),
                    ],
                    &dir.join(format!("{daemon}.log")),
                )?;
                procs.0.push(c);
                std::thread::sleep(Duration::from_millis(300));
            }
            let vty = format!("{ds}/vty");
            (
                Box::new(move || {
                    in_ns(
                        RECEIVER_NS,
                        &[
                            "vtysh",
                            "--vty_socket",
                            &vty,
                            "-c",
                            "show bgp ipv4 unicast summary json",
                        ],
                    )
                    .ok()
                    .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                    .and_then(|v| v["peers"][SENDER_IP]["pfxRcd"].as_u64())
                    .unwrap_or(0) as usize
                }),
                "bgp",
                Box::new(move || {
                    let mut p = pids_of("/usr/lib/frr/zebra -u frr");
                    p.extend(pids_of("/usr/lib/frr/bgpd -u frr"));
                    p
                }),
            )
        }
        other => bail!("unknown receiver {other}"),
    };
    let sender_log = dir.join("sender.log");
    let mut sender = Command::new("ip")
        .args(["netns", "exec", SENDER_NS])
        .arg(&me)
        .args([
            "send",
            "--prefixes",
            &prefixes.to_string(),
            "--per-update",
            &per_update.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&sender_log)?)
        .spawn()?;
    let out = sender.stdout.take().context("sender stdout")?;
    procs.0.push(sender);
    let mut lines = BufReader::new(out).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let established: u128 = loop {
        let Some(line) = lines.next() else {
            bail!(
                "the sender stopped: {}",
                std::fs::read_to_string(&sender_log)?
            );
        };
        let line = line?;
        if let Some(t) = line.strip_prefix("established ") {
            break t.parse()?;
        }
        if Instant::now() > deadline {
            bail!("no session within 60 s");
        }
    };
    let since = |t: u128| Duration::from_nanos(t.saturating_sub(established) as u64);
    let want = prefixes as usize;
    let mut rib_at = None;
    let mut kernel_at = None;
    let mut last_kernel = Instant::now() - Duration::from_secs(1);
    let limit = Instant::now() + Duration::from_secs(120);
    while rib_at.is_none() || kernel_at.is_none() {
        if Instant::now() > limit {
            bail!(
                "{receiver}: not done in 120 s (RIB {}, kernel {})",
                rib_count(),
                kernel_count(proto)
            );
        }
        if rib_at.is_none() && rib_count() >= want {
            rib_at = Some(since(now_ns()));
        }
        if kernel_at.is_none() && last_kernel.elapsed() >= Duration::from_millis(100) {
            last_kernel = Instant::now();
            if kernel_count(proto) >= want {
                kernel_at = Some(since(now_ns()));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let peak: u64 = pids().iter().map(|p| peak_rss_kib(*p)).sum();
    Ok(Sample {
        rib: rib_at.unwrap_or_default(),
        kernel: kernel_at.unwrap_or_default(),
        peak_mib: peak as f64 / 1024.0,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() -> anyhow::Result<()> {
    match Cli::parse() {
        Cli::Send {
            prefixes,
            per_update,
        } => send(prefixes, per_update),
        Cli::Run {
            prefixes,
            runs,
            receivers,
            record,
        } => {
            if sh(&["id", "-u"])?.trim() != "0" {
                bail!("bench/bgp needs root (network namespaces, port 179)");
            }
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            // XC_BENCH_XCONNECT runs another binary (or a wrapper script, for a profiler).
            let xconnect: PathBuf = std::env::var_os("XC_BENCH_XCONNECT")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target/release/xconnect"));
            if !xconnect.exists() {
                bail!("build it first: cargo build --release -p xconnect");
            }
            let dir = tempfile::tempdir()?;
            let mut table = String::from(
                "| receiver | profile | to Loc-RIB (s) | to kernel (s) | peak RSS (MiB) |\n|---|---|---|---|---|\n",
            );
            for (profile, per_update) in [("single", 1), ("packed", 1000)] {
                for r in &receivers {
                    let mut samples = Vec::new();
                    for i in 0..runs {
                        let s = one_run(r, prefixes, per_update, dir.path(), &xconnect)
                            .with_context(|| format!("{r} {profile} run {i}"))?;
                        eprintln!(
                            "{r:8} {profile:6} run {i}: RIB {:.2} s, kernel {:.2} s, peak {:.0} MiB",
                            s.rib.as_secs_f64(),
                            s.kernel.as_secs_f64(),
                            s.peak_mib
                        );
                        samples.push(s);
                    }
                    table += &format!(
                        "| {r} | {profile} | {:.2} | {:.2} | {:.0} |\n",
                        median(samples.iter().map(|s| s.rib.as_secs_f64()).collect()),
                        median(samples.iter().map(|s| s.kernel.as_secs_f64()).collect()),
                        median(samples.iter().map(|s| s.peak_mib).collect()),
                    );
                }
            }
            println!("{table}");
            if record {
                let date = time::OffsetDateTime::now_utc().date();
                let host = sh(&["uname", "-srm"])?.trim().to_owned();
                let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
                let text = format!(
                    "\n## bench/bgp: {prefixes} IPv4 prefixes from a pre-encoded sender ({date}, {cpus} cores, {host})\n\nMedian of {runs} runs; times from Established; `single` = one UPDATE per prefix with its own AS_PATH, `packed` = 1,000 prefixes per UPDATE. FRR's memory is bgpd + zebra.\n\n{table}"
                );
                let path = root.join("bench/RESULTS.md");
                let mut f = std::fs::OpenOptions::new().append(true).open(&path)?;
                f.write_all(text.as_bytes())?;
                eprintln!("recorded in {}", path.display());
            }
            Ok(())
        }
    }
}
