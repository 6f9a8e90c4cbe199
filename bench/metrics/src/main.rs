//! `xconnect-bench-metrics`: the control plane's side of metrics at scale. It starts `xconnect
//! server` on a fresh SQLite data dir, makes `--pairs` pairs of attach points (two gateways each)
//! and `--connections` connections spread over them (four links each, as the planner places
//! them), and plays every gateway: a status report every 10 s, with each closed minute's sample
//! for all its links (at most 2,000 link-minutes a report, as a real gateway sends). It measures:
//!
//! - ingestion of a backfilled day (every link's 1,440 minutes), and the store's bytes per
//!   connection per day from it;
//! - the server's CPU (user + system, from `/proc`) over `--steady-minutes` of live reports, with
//!   the default alarms (three per connection) evaluated meanwhile;
//! - the latency of `GET /v1/connections/{id}/metrics` for one metric over 24 hours at 1-minute
//!   periods (1,440 points), as a tenant, one after another.
//!
//! ```sh
//! cargo build --release -p xconnect -p xconnect-bench-metrics
//! ./target/release/xconnect-bench-metrics --server ./target/release/xconnect
//! ```

use anyhow::{Context, bail};
use clap::Parser;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xc_client::{Client, GatewayClient};
use xc_types::api::metrics::MetricsQuery;
use xc_types::api::{
    AcceptConnectionRequest, CreateAttachPointRequest, CreateConnectionRequest, Credentials,
};
use xc_types::gateway::{
    DropCounts, GatewayStatus, LinkSample, MetricSample, RegisterRequest, ReportRequest, RttStats,
    TokenRequest,
};

#[derive(Debug, Parser)]
struct Args {
    /// The xconnect binary to start.
    #[arg(long, default_value = "./target/release/xconnect")]
    server: String,
    #[arg(long, default_value_t = 1_000)]
    connections: usize,
    /// Pairs of attach points the connections are spread over (two gateways each).
    #[arg(long, default_value_t = 10)]
    pairs: usize,
    /// Minutes of live reports for the CPU measurement.
    #[arg(long, default_value_t = 10)]
    steady_minutes: u64,
    /// The server's log filter (its `--log`).
    #[arg(long, default_value = "warn")]
    server_log: String,
    /// 24-hour queries measured.
    #[arg(long, default_value_t = 200)]
    queries: usize,
}

/// Most link-minutes in one report (what `xc-gateway`'s sampler sends at most).
const MAX_LINK_MINUTES: usize = 2_000;

struct Gateway {
    client: GatewayClient,
    name: String,
    links: Vec<u64>,
    boot: u64,
    seq: u64,
    /// Reports sent again after a transport error.
    retries: usize,
}

impl Gateway {
    fn sample(&mut self, minute: i64) -> MetricSample {
        self.seq += 1;
        let links = self
            .links
            .iter()
            .map(|&id| {
                let bytes = 60 * 12_500_000 / 8 * (1 + id % 7); // 12.5 to 87.5 Mbit/s
                LinkSample {
                    id,
                    secs: 60,
                    tx_packets: bytes / 1_000,
                    tx_bytes: bytes,
                    rx_packets: bytes / 2_000,
                    rx_bytes: bytes / 2,
                    drops: DropCounts {
                        policer: id % 3,
                        ..DropCounts::default()
                    },
                    probes_sent: 60,
                    probes_answered: 60 - (id % 2) as u32,
                    rtt: Some(RttStats {
                        min_us: 400,
                        avg_us: 500 + id % 100,
                        p99_us: 900,
                        max_us: 1_200,
                        jitter_us: 30,
                    }),
                    secured: true,
                    bgp_established: true,
                    prefixes_accepted: 1,
                    prefixes_advertised: 1,
                }
            })
            .collect();
        MetricSample {
            seq: self.seq,
            minute,
            links,
        }
    }

    fn status(&self) -> GatewayStatus {
        GatewayStatus {
            name: self.name.clone(),
            keylog_enabled: false,
            idle_poll_ms: 0,
            busy_poll_us: 0,
            links: Vec::new(),
            bgp: None,
            access: Vec::new(),
            filters: None,
        }
    }

    /// Reports the samples of `minutes` (none: a status alone), split so that no report holds
    /// more than [`MAX_LINK_MINUTES`].
    async fn report(&mut self, minutes: &[i64]) -> anyhow::Result<()> {
        let per_report = (MAX_LINK_MINUTES / self.links.len().max(1)).clamp(1, 60);
        let mut chunks: Vec<&[i64]> = minutes.chunks(per_report).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for chunk in chunks {
            let samples = chunk.iter().map(|&m| self.sample(m)).collect();
            let req = ReportRequest {
                version: "bench".into(),
                status: self.status(),
                boot: self.boot,
                samples,
                flow_logs: Vec::new(),
            };
            // As a gateway does, a report that did not get through is sent again.
            let ack = match self.client.report(&req).await {
                Err(xc_client::ClientError::Transport { .. }) => {
                    self.retries += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    self.client.report(&req).await?
                }
                r => r?,
            };
            if !chunk.is_empty() && ack.samples_through != Some(self.seq) {
                bail!(
                    "{}: samples held through {:?}, sent {}",
                    self.name,
                    ack.samples_through,
                    self.seq
                );
            }
        }
        Ok(())
    }
}

fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // After the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').context("stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok(f[11].parse::<u64>()? + f[12].parse::<u64>()?)
}

/// The server's rollup lag of 5-minute rows, from its Prometheus exposition (none: not yet).
async fn rollup_lag(endpoint: &str, operator: &Credentials) -> anyhow::Result<Option<i64>> {
    let text = reqwest::Client::new()
        .get(format!("{endpoint}/metrics"))
        .basic_auth(
            operator.access_key_id.as_str(),
            Some(&operator.secret_access_key),
        )
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("xconnect_metrics_rollup_lag_seconds{span=\"300\"} "))
        .and_then(|v| v.trim().parse().ok()))
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tmp = tempfile::tempdir()?;
    let mut child = Command::new(&args.server)
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--log",
            &args.server_log,
            "--data-dir",
        ])
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", args.server))?;
    let pid = child.id();
    let stdout = child.stdout.take().context("stdout")?;
    let mut endpoint = None;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(rest) = line.split("listening on ").nth(1) {
            endpoint = rest.split([',', ' ']).next().map(str::to_owned);
            break;
        }
    }
    let endpoint = endpoint.context("the server did not start")?;
    let result = run(&args, &endpoint, tmp.path(), pid).await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

async fn run(args: &Args, endpoint: &str, dir: &std::path::Path, pid: u32) -> anyhow::Result<()> {
    let operator: Credentials = serde_json::from_str(&std::fs::read_to_string(
        dir.join("operator-credentials.json"),
    )?)?;
    let client = |c: &Credentials| {
        Client::new(
            endpoint,
            c.access_key_id.as_str(),
            &c.secret_access_key,
            "us-east-1",
        )
    };
    let op = client(&operator)?;
    let a_creds = op.create_account("bench-a").await?;
    let b_creds = op.create_account("bench-b").await?;
    // More connections than an account's default quotas allow, on both sides.
    for account in [&a_creds.account_id, &b_creds.account_id] {
        for quota in [
            xc_types::api::quotas::QuotaName::ConnectionsPerEnvironment,
            xc_types::api::quotas::QuotaName::BandwidthMbps,
        ] {
            op.set_quota(&xc_types::api::quotas::SetQuotaRequest {
                account_id: account.to_string(),
                quota,
                value: Some(1_000_000_000),
            })
            .await?;
        }
    }
    let (a, b) = (client(&a_creds)?, client(&b_creds)?);

    // Attach points and their gateways.
    let began = Instant::now();
    let mut pairs = Vec::new();
    let mut gateways = Vec::new();
    for p in 0..args.pairs {
        let mut aps = Vec::new();
        for (who, side, octet) in [(&a, "a", p), (&b, "b", 100 + p)] {
            let ap = who
                .create_attach_point(&CreateAttachPointRequest {
                    name: format!("bench-{side}{p}"),
                    prefixes: vec![format!("10.{octet}.0.0/16")],
                    asn: None,
                })
                .await?;
            for g in 0..2 {
                let token = who
                    .create_gateway_token(&TokenRequest {
                        attach_point_id: Some(ap.id.to_string()),
                        facility: None,
                    })
                    .await?;
                let name = format!("gw-{side}{p}-{g}");
                let reg = GatewayClient::new(endpoint)?
                    .register(&RegisterRequest {
                        token: token.token,
                        name: name.clone(),
                        underlay_address: format!("10.250.{}.{}", octet, g + 1),
                        version: "bench".into(),
                        access_interface: None,
                    })
                    .await?;
                gateways.push(Gateway {
                    client: GatewayClient::new(endpoint)?
                        .with_credential(&reg.gateway_id, &reg.secret),
                    name,
                    links: Vec::new(),
                    boot: rand::random(),
                    seq: 0,
                    retries: 0,
                });
            }
            aps.push(ap.id.to_string());
        }
        pairs.push(aps);
    }
    for g in &mut gateways {
        g.report(&[]).await?;
    }
    // The connections, accepted.
    let mut connections = Vec::new();
    for i in 0..args.connections {
        let pair = &pairs[i % pairs.len()];
        let c = a
            .create_connection(&CreateConnectionRequest {
                environment_id: "gcp-us-east4".into(),
                bandwidth: "1Gbps".into(),
                attach_point: pair[0].clone(),
                remote_account: Some(b_creds.account_id.to_string()),
                description: None,
                tags: None,
                routing_policy: None,
                client_token: None,
                last_mile: None,
                default_alarms: None,
            })
            .await?;
        b.accept_connection(&AcceptConnectionRequest {
            activation_key: c.activation_key.clone().context("activation key")?,
            attach_point: pair[1].clone(),
            routing_policy: None,
            description: None,
            tags: None,
            client_token: None,
            default_alarms: None,
        })
        .await?;
        connections.push(c.id.to_string());
    }
    // Until every gateway's configuration holds its links.
    let want = args.connections * 4 * 2;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let mut total = 0;
        for g in &mut gateways {
            let cfg = g.client.config(None, Duration::ZERO).await?;
            g.links = cfg.value.config.link.iter().filter_map(|l| l.id).collect();
            total += g.links.len();
            // (Reports keep the gateways live for the planner.)
            g.report(&[]).await?;
        }
        if total >= want {
            break;
        }
        if Instant::now() > deadline {
            bail!("{total} of {want} link ends planned after 10 minutes");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!(
        "set up: {} connections, {} gateways, {} link ends in {:.0} s",
        args.connections,
        gateways.len(),
        want,
        began.elapsed().as_secs_f64()
    );

    // A day of minutes, backfilled, ending with the last whole minute.
    let this_minute = now() - now().rem_euclid(60);
    let day: Vec<i64> = (1..=1_440).rev().map(|k| this_minute - 60 * k).collect();
    let before = dir_bytes(dir);
    let ticks = cpu_ticks(pid)?;
    let began = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut g in gateways.drain(..) {
        let day = day.clone();
        tasks.spawn(async move { g.report(&day).await.map(|()| g) });
    }
    while let Some(g) = tasks.join_next().await {
        gateways.push(g??);
    }
    let took = began.elapsed().as_secs_f64();
    let link_minutes = want as f64 * 1_440.0;
    let cpu = (cpu_ticks(pid)? - ticks) as f64 / 100.0;
    let grown = dir_bytes(dir).saturating_sub(before);
    println!(
        "backfill: {link_minutes:.0} link-minutes in {took:.0} s ({:.0}/s, server CPU {cpu:.0} s); store grew {:.1} MB: {:.0} KB per connection per day",
        link_minutes / took,
        grown as f64 / 1e6,
        grown as f64 / args.connections as f64 / 1e3
    );

    // The server rolls the backfilled day up into 5-minute and hourly rows (as after a first
    // start over stored minutes): wait for it, so the steady state below is steady.
    let began = Instant::now();
    let ticks = cpu_ticks(pid)?;
    let lag = || rollup_lag(endpoint, &operator);
    while lag().await?.is_none_or(|l| l > 900) {
        if began.elapsed() > Duration::from_secs(1_800) {
            bail!("the rollups did not catch up in 30 minutes");
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let grown = dir_bytes(dir).saturating_sub(before);
    println!(
        "rollups of the day caught up in {:.0} s (server CPU {:.0} s); store grew {:.1} MB with them: {:.0} KB per connection per day",
        began.elapsed().as_secs_f64(),
        (cpu_ticks(pid)? - ticks) as f64 / 100.0,
        grown as f64 / 1e6,
        grown as f64 / args.connections as f64 / 1e3
    );

    // Live: every gateway reports every 10 s, with each minute as it closes.
    let ticks = cpu_ticks(pid)?;
    let began = Instant::now();
    let mut last = this_minute - 60;
    let end = began + Duration::from_secs(args.steady_minutes * 60);
    let mut reports = 0usize;
    while Instant::now() < end {
        let closed = now() - now().rem_euclid(60) - 60;
        let minutes: Vec<i64> = if closed > last {
            let m = ((last + 60)..=closed).step_by(60).collect();
            last = closed;
            m
        } else {
            Vec::new()
        };
        let round = Instant::now();
        for g in &mut gateways {
            g.report(&minutes).await?;
            reports += 1;
        }
        tokio::time::sleep(Duration::from_secs(10).saturating_sub(round.elapsed())).await;
    }
    let secs = began.elapsed().as_secs_f64();
    let cpu = (cpu_ticks(pid)? - ticks) as f64 / 100.0;
    println!(
        "steady: {reports} reports in {secs:.0} s ({} sent again); server CPU {cpu:.1} s = {:.1}% of one core",
        gateways.iter().map(|g| g.retries).sum::<usize>(),
        cpu / secs * 100.0
    );

    // A request that reads one row, for what HTTP, signing and the store cost every request.
    let mut base = Vec::with_capacity(args.queries);
    for i in 0..args.queries {
        let id = &connections[(i * 7919) % connections.len()];
        let t = Instant::now();
        a.get_connection(id).await?;
        base.push(t.elapsed());
    }
    base.sort();
    let pct = |lat: &[Duration], p: f64| {
        lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1].as_secs_f64() * 1e3
    };
    println!(
        "get connection: p50 {:.1} ms, p99 {:.1} ms over {} requests",
        pct(&base, 0.50),
        pct(&base, 0.99),
        base.len()
    );

    // 24-hour, 1-minute queries of one metric, one after another: the day up to this minute.
    let end_minute = now() - now().rem_euclid(60);
    let text = |t: i64| -> anyhow::Result<String> {
        Ok(time::OffsetDateTime::from_unix_timestamp(t)?
            .format(&time::format_description::well_known::Rfc3339)?)
    };
    let (start, end) = (text(end_minute - 86_400)?, text(end_minute)?);
    let mut lat = Vec::with_capacity(args.queries);
    let mut points = 0;
    for i in 0..args.queries {
        let id = &connections[(i * 7919) % connections.len()];
        let q = MetricsQuery {
            metric: Some("ConnectionBpsEgress".into()),
            start: Some(start.clone()),
            end: Some(end.clone()),
            period: Some(60),
            ..MetricsQuery::default()
        };
        let t = Instant::now();
        let r = a.connection_metrics(id, &q).await?;
        lat.push(t.elapsed());
        points = r.metrics[0].points.len();
    }
    lat.sort();
    println!(
        "query (24 h, 1-minute periods, {points} points): p50 {:.1} ms, p99 {:.1} ms over {} queries",
        pct(&lat, 0.50),
        pct(&lat, 0.99),
        lat.len()
    );
    println!(
        "store: {:.1} MB in the data dir",
        dir_bytes(dir) as f64 / 1e6
    );
    Ok(())
}
