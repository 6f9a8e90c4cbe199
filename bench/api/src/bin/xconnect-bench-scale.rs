//! `xconnect-bench-scale`: the control plane toward a provider's size.
//!
//! Starts `--replicas` servers on `--database` (or one on SQLite), makes two tenants with
//! `--gateways / 2` attach points each and one simulated gateway per attach point (it registers
//! and holds the blocking configuration query, `--watch-secs` at a time; no data plane, no
//! status reports), and
//! `--connections` connections between them (created by one tenant, accepted by the other,
//! without default alarms). Then it measures:
//! - how long until the leader's plan has reached every gateway (each has a link);
//! - ten times, how long one attach point's prefix change takes to reach every gateway whose
//!   configuration carries those prefixes (its own and its peers');
//! - the reconciler's pass time and the leader's CPU while idle, each server's memory per
//!   watcher, and the database's size.
//!
//! ```sh
//! bash bench/scale/run.sh     # builds, runs on PostgreSQL (three replicas), then on SQLite
//! ```

use anyhow::{Context, bail};
use clap::Parser;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xc_client::Client;
use xc_types::api::quotas::{QuotaName, SetQuotaRequest};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "./target/release/xconnect")]
    server: String,
    /// Where the servers keep their data (default: SQLite in a fresh data dir).
    #[arg(long)]
    database: Option<String>,
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// Simulated gateways (half on each tenant's attach points).
    #[arg(long, default_value_t = 5000)]
    gateways: usize,
    #[arg(long, default_value_t = 20000)]
    connections: usize,
    /// How long each simulated gateway's blocking query waits, in seconds. Each query tells
    /// the server the gateway is alive; 25 s keeps it heard from within the planner's 30 s, as
    /// a real gateway (a status report every 2 s) is. At 60 s each gateway is stale for half of
    /// each minute, and every pass rewrites thousands of connections' states (the first run in
    /// bench/RESULTS.md).
    #[arg(long, default_value_t = 25)]
    watch_secs: usize,
    /// API calls in flight while setting up.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

/// A simulated gateway's credential and what it last heard.
struct Watcher {
    endpoint: String,
    credential: String,
    /// The round of the prefix change it has seen (0: none).
    seen_round: AtomicUsize,
    has_links: std::sync::atomic::AtomicBool,
}

/// Runs `f(i)` for `i` in `0..n`, `concurrency` at a time; the results in order.
async fn par<T, F, Fut>(n: usize, concurrency: usize, f: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let f = Arc::new(f);
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let permit = permits.clone().acquire_owned().await?;
        let f = f.clone();
        set.spawn(async move {
            let r = f(i).await;
            drop(permit);
            r.map(|v| (i, v))
        });
    }
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        let (i, v) = r??;
        out[i] = Some(v);
    }
    Ok(out.into_iter().flatten().collect())
}

/// Retries `f` a few times (a busy server may answer 503 or throttle).
async fn retry<T, Fut>(what: &str, f: impl Fn() -> Fut) -> anyhow::Result<T>
where
    Fut: std::future::Future<Output = Result<T, xc_client::ClientError>>,
{
    let mut last = None;
    for attempt in 0..5u64 {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
            }
        }
    }
    bail!(
        "{what}: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )
}

/// The process's CPU time (user + system) so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    Duration::from_millis(ticks * 1000 / hz.max(1))
}

/// The process's resident memory, in bytes.
fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The reconciler's passes so far: their total time and count, from the server's `/metrics`
/// (tried a few times: a busy server may drop a pooled connection).
async fn reconciler_passes(
    http: &reqwest::Client,
    endpoint: &str,
    op: &xc_types::api::Credentials,
) -> (f64, f64) {
    for _ in 0..5 {
        match scrape_passes(http, endpoint, op).await {
            Ok(v) => return v,
            Err(e) => {
                eprintln!("scraping {endpoint}/metrics: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    (f64::NAN, f64::NAN)
}

async fn scrape_passes(
    http: &reqwest::Client,
    endpoint: &str,
    op: &xc_types::api::Credentials,
) -> anyhow::Result<(f64, f64)> {
    let text = http
        .get(format!("{endpoint}/metrics"))
        .basic_auth(op.access_key_id.as_str(), Some(&op.secret_access_key))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((
        value("xconnect_reconciler_pass_duration_seconds_sum"),
        value("xconnect_reconciler_pass_duration_seconds_count"),
    ))
}

fn prefix_of(side: usize, i: usize) -> String {
    match side {
        0 => format!("10.{}.{}.0/24", i >> 8, i & 255),
        _ => format!("172.{}.{}.0/24", 16 + (i >> 8), i & 255),
    }
}

/// The database's size in bytes: PostgreSQL's own count, or the SQLite files'.
fn database_size(database: Option<&str>, dir: &std::path::Path) -> anyhow::Result<u64> {
    match database {
        Some(url) => {
            let url = url.to_owned();
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let mut c = postgres::Client::connect(&url, postgres::NoTls)?;
                let row = c.query_one("SELECT pg_database_size(current_database())", &[])?;
                Ok(u64::try_from(row.get::<_, i64>(0))?)
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the size query panicked"))?
        }
        None => {
            let mut total = 0;
            for name in ["xconnect.db", "xconnect.db-wal"] {
                total += std::fs::metadata(dir.join("replica0").join(name)).map_or(0, |m| m.len());
            }
            Ok(total)
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.gateways < 2 || args.connections == 0 {
        bail!("--gateways is at least 2 and --connections at least 1");
    }
    // Each watcher holds a connection open: raise this process's file limit.
    if let Ok((_, hard)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
    {
        let _ =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
    }
    let tmp = tempfile::tempdir()?;
    let most = (args.gateways * 2 + 1000).to_string();
    let (mut children, endpoints, op) = xconnect_bench_api::start_replicas(
        &args.server,
        tmp.path(),
        args.database.as_deref(),
        args.replicas,
        &[
            "--max-connections",
            &most,
            "--max-connections-per-address",
            &most,
        ],
    )?;
    let pids: Vec<u32> = children.iter().map(std::process::Child::id).collect();
    let result = measure(&args, tmp.path(), &endpoints, &op, &pids).await;
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    result
}

/// Everything after the servers started (they are stopped whatever this answers).
async fn measure(
    args: &Args,
    dir: &std::path::Path,
    endpoints: &[String],
    op: &xc_types::api::Credentials,
    pids: &[u32],
) -> anyhow::Result<()> {
    let client_of = |endpoint: &str, c: &xc_types::api::Credentials| {
        Client::new(
            endpoint,
            c.access_key_id.as_str(),
            &c.secret_access_key,
            "us-east-1",
        )
    };
    let operator = client_of(&endpoints[0], op)?;
    let began = Instant::now();
    let a = operator.create_account("scale-a").await?;
    let b = operator.create_account("scale-b").await?;
    for acct in [&a, &b] {
        for quota in [
            QuotaName::ConnectionsPerEnvironment,
            QuotaName::BandwidthMbps,
            QuotaName::AttachPoints,
        ] {
            operator
                .set_quota(&SetQuotaRequest {
                    account_id: acct.account_id.to_string(),
                    quota,
                    value: Some(1_000_000_000),
                })
                .await?;
        }
    }
    let tenants: Arc<Vec<Vec<Client>>> = Arc::new(
        [&a, &b]
            .iter()
            .map(|t| endpoints.iter().map(|e| client_of(e, t)).collect())
            .collect::<Result<_, _>>()?,
    );
    let per_side = args.gateways / 2;
    let n_replicas = endpoints.len();

    // Attach points: side 0 (tenant a) then side 1 (tenant b).
    let aps: Vec<String> = {
        let tenants = tenants.clone();
        par(per_side * 2, args.concurrency, move |k| {
            let tenants = tenants.clone();
            async move {
                let (side, i) = (k / per_side, k % per_side);
                let c = &tenants[side][k % n_replicas];
                let req = xc_types::api::CreateAttachPointRequest {
                    name: format!("ap-{side}-{i}"),
                    prefixes: vec![prefix_of(side, i)],
                    asn: None,
                };
                let ap = retry("attach point", || c.create_attach_point(&req)).await?;
                Ok(ap.id.to_string())
            }
        })
        .await?
    };
    eprintln!(
        "{} attach points in {:.1} s",
        aps.len(),
        began.elapsed().as_secs_f64()
    );

    // A gateway per attach point, registered through the replicas in turn.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.gateways + 100)
        .build()?;
    let t = Instant::now();
    let watchers: Vec<Arc<Watcher>> = {
        let (tenants, aps, endpoints, http) = (
            tenants.clone(),
            Arc::new(aps.clone()),
            Arc::new(endpoints.to_vec()),
            http.clone(),
        );
        par(per_side * 2, args.concurrency, move |k| {
            let (tenants, aps, endpoints, http) = (
                tenants.clone(),
                aps.clone(),
                endpoints.clone(),
                http.clone(),
            );
            async move {
                let side = k / per_side;
                let c = &tenants[side][k % n_replicas];
                let req = xc_types::gateway::TokenRequest {
                    attach_point_id: Some(aps[k].clone()),
                    facility: None,
                };
                let token = retry("gateway token", || c.create_gateway_token(&req)).await?;
                let endpoint = endpoints[k % n_replicas].clone();
                let resp = http
                    .post(format!("{endpoint}/v1/gateway/register"))
                    .json(&xc_types::gateway::RegisterRequest {
                        token: token.token,
                        name: format!("gw-{k}"),
                        underlay_address: format!("10.255.{}.{}", k >> 8, (k & 255).max(1)),
                        version: "scale".into(),
                        access_interface: None,
                    })
                    .send()
                    .await?
                    .error_for_status()?;
                let creds: xc_types::gateway::RegisterResponse = resp.json().await?;
                Ok(Arc::new(Watcher {
                    endpoint,
                    credential: format!("{}.{}", creds.gateway_id, creds.secret),
                    seen_round: AtomicUsize::new(0),
                    has_links: Default::default(),
                }))
            }
        })
        .await?
    };
    eprintln!(
        "{} gateways registered in {:.1} s",
        watchers.len(),
        t.elapsed().as_secs_f64()
    );

    // Memory before the watches.
    let rss_before: Vec<u64> = pids.iter().map(|&p| rss(p)).collect();
    // The prefix change's marker: a watcher that sees it in its configuration notes the round.
    let watch_secs = args.watch_secs;
    let marker: Arc<Mutex<(usize, String)>> = Arc::new(Mutex::new((0, String::new())));
    let watching = Arc::new(AtomicUsize::new(0));
    for w in &watchers {
        let (w, http, marker, watching) =
            (w.clone(), http.clone(), marker.clone(), watching.clone());
        tokio::spawn(async move {
            let mut index: Option<String> = None;
            let mut counted = false;
            loop {
                let mut url = format!("{}/v1/gateway/config?wait={watch_secs}", w.endpoint);
                if let Some(i) = &index {
                    url.push_str(&format!("&index={i}"));
                }
                let answer = http
                    .get(url)
                    .bearer_auth(&w.credential)
                    .timeout(Duration::from_secs(90))
                    .send()
                    .await;
                let body = match answer {
                    Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
                    _ => {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                };
                if !counted {
                    watching.fetch_add(1, Ordering::Relaxed);
                    counted = true;
                }
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                index = v["index"].as_str().map(str::to_owned);
                if v["config"]["link"]
                    .as_array()
                    .is_some_and(|l| !l.is_empty())
                {
                    w.has_links.store(true, Ordering::Relaxed);
                }
                let (round, text) = marker.lock().map(|m| m.clone()).unwrap_or_default();
                if round > 0 && body.contains(&text) {
                    w.seen_round.store(round, Ordering::Relaxed);
                }
            }
        });
    }
    let wait_until = |what: &'static str, within: Duration, done: Box<dyn Fn() -> bool>| async move {
        let deadline = Instant::now() + within;
        while !done() {
            if Instant::now() > deadline {
                bail!("{what}: not within {} s", within.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    };
    {
        let (watching, n) = (watching.clone(), watchers.len());
        wait_until(
            "every watcher answered once",
            Duration::from_secs(300),
            Box::new(move || watching.load(Ordering::Relaxed) >= n),
        )
        .await?;
    }
    // Let the replicas settle before reading their memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after: Vec<u64> = pids.iter().map(|&p| rss(p)).collect();

    // Connections: a's attach point k % per_side to b's (k * 7 + k / per_side) % per_side.
    let peer = move |k: usize| (k % per_side, (k * 7 + k / per_side) % per_side);
    let t = Instant::now();
    {
        let (tenants, aps) = (tenants.clone(), Arc::new(aps.clone()));
        let remote = b.account_id.to_string();
        par(args.connections, args.concurrency, move |k| {
            let (tenants, aps, remote) = (tenants.clone(), aps.clone(), remote.clone());
            async move {
                let (i, j) = peer(k);
                let (ca, cb) = (
                    &tenants[0][k % n_replicas],
                    &tenants[1][(k + 1) % n_replicas],
                );
                let req = xc_types::api::CreateConnectionRequest {
                    default_alarms: Some(false),
                    environment_id: "gcp-us-east4".into(),
                    bandwidth: "1Gbps".into(),
                    attach_point: aps[i].clone(),
                    remote_account: Some(remote),
                    description: None,
                    tags: None,
                    client_token: Some(format!("scale-{k}")),
                    routing_policy: None,
                    last_mile: None,
                };
                let created = retry("create", || ca.create_connection(&req)).await?;
                let key = created.activation_key.context("an activation key")?;
                let accept = xc_types::api::AcceptConnectionRequest {
                    default_alarms: Some(false),
                    activation_key: key,
                    attach_point: aps[per_side + j].clone(),
                    routing_policy: None,
                    description: None,
                    tags: None,
                    client_token: Some(format!("scale-accept-{k}")),
                };
                retry("accept", || cb.accept_connection(&accept)).await?;
                Ok(())
            }
        })
        .await?;
    }
    let made = t.elapsed();
    eprintln!(
        "{} connections created and accepted in {:.1} s",
        args.connections,
        made.as_secs_f64()
    );
    {
        let watchers = watchers.clone();
        wait_until(
            "the plan at every gateway",
            Duration::from_secs(1800),
            Box::new(move || watchers.iter().all(|w| w.has_links.load(Ordering::Relaxed))),
        )
        .await?;
    }
    let planned = t.elapsed();
    eprintln!(
        "every gateway has its links {:.1} s after the first create",
        planned.as_secs_f64()
    );

    // The leader.
    let leader = if n_replicas > 1 {
        let status = retry("cluster status", || operator.cluster_status()).await?;
        let id = status.leader.context("a leader")?;
        let address = status
            .replicas
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.address.clone())
            .context("the leader's address")?;
        endpoints
            .iter()
            .position(|e| *e == address)
            .context("the leader is one of ours")?
    } else {
        0
    };

    // Idle: the reconciler's passes and the leader's CPU over 10 s.
    let (sum0, count0) = reconciler_passes(&http, &endpoints[leader], op).await;
    let cpu0 = cpu_time(pids[leader]);
    let idle = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cpu_idle = (cpu_time(pids[leader]) - cpu0).as_secs_f64() / idle.elapsed().as_secs_f64();
    let (sum1, count1) = reconciler_passes(&http, &endpoints[leader], op).await;
    let pass_ms = if count1 > count0 {
        (sum1 - sum0) / (count1 - count0) * 1e3
    } else {
        f64::NAN
    };

    // Ten prefix changes of a's first attach point, each through the next replica.
    let affected: Vec<usize> = std::iter::once(0)
        .chain(
            (0..args.connections)
                .filter(|&k| peer(k).0 == 0)
                .map(|k| per_side + peer(k).1),
        )
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut times = Vec::new();
    for round in 1..=10 {
        let added = format!("10.250.{round}.0/24");
        if let Ok(mut m) = marker.lock() {
            *m = (round, format!("\"{added}"));
        }
        let t = Instant::now();
        let change = xc_types::api::UpdateAttachPointRequest {
            name: None,
            prefixes: Some(vec![prefix_of(0, 0), added]),
        };
        let client = &tenants[0][round % n_replicas];
        retry("prefix change", || {
            client.update_attach_point(&aps[0], &change)
        })
        .await?;
        let (watchers, affected) = (watchers.clone(), affected.clone());
        wait_until(
            "a prefix change at every gateway it concerns",
            Duration::from_secs(120),
            Box::new(move || {
                affected
                    .iter()
                    .all(|&g| watchers[g].seen_round.load(Ordering::Relaxed) >= round)
            }),
        )
        .await?;
        times.push(t.elapsed());
    }
    times.sort();
    let db_size = database_size(args.database.as_deref(), dir)?;

    println!(
        "| backend | replicas | gateways | connections | create+accept/s | plan at every gateway s | prefix change to {} gateways: median ms | max ms | reconciler pass ms | leader CPU idle % | memory per watcher KiB | database MiB |",
        affected.len()
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let per_watcher: Vec<String> = rss_before
        .iter()
        .zip(&rss_after)
        .map(|(b, a)| {
            let watchers_here = watchers.len().div_ceil(n_replicas) as f64;
            format!(
                "{:.1}",
                a.saturating_sub(*b) as f64 / 1024.0 / watchers_here
            )
        })
        .collect();
    println!(
        "| {} | {} | {} | {} | {:.0} | {:.1} | {:.0} | {:.0} | {:.1} | {:.1} | {} | {:.1} |",
        if args.database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        n_replicas,
        watchers.len(),
        args.connections,
        args.connections as f64 / made.as_secs_f64(),
        planned.as_secs_f64(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        pass_ms,
        cpu_idle * 100.0,
        per_watcher.join(" / "),
        db_size as f64 / (1024.0 * 1024.0),
    );
    Ok(())
}
