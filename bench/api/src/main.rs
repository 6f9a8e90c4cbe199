//! `xconnect-bench-api`: measures GetConnection and CreateConnection over the AWS JSON protocol
//! (signed with SigV4, as the AWS CLI sends them) at several concurrencies, against a server it
//! starts on a fresh data dir (SQLite, or `--database URL`; or `--endpoint` with
//! `--credentials`). With `--replicas N` it starts N servers on one `--database` and sends the
//! requests to them in turn (a client-side round robin).
//!
//! ```sh
//! cargo build --release -p xconnect -p xconnect-bench-api
//! ./target/release/xconnect-bench-api --server ./target/release/xconnect
//! ```

use anyhow::{Context, bail};
use clap::Parser;
use std::sync::Arc;
use std::time::{Duration, Instant};
use xc_types::api::Credentials;

#[derive(Debug, Parser)]
struct Args {
    /// The xconnect binary to start (ignored with --endpoint).
    #[arg(long, default_value = "./target/release/xconnect")]
    server: String,
    /// Measure an already running server instead.
    #[arg(long, requires = "credentials")]
    endpoint: Option<String>,
    /// The operator credentials file of --endpoint.
    #[arg(long)]
    credentials: Option<String>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    concurrency: Vec<usize>,
    /// The started server's `--database` (default: SQLite in its fresh data dir).
    #[arg(long)]
    database: Option<String>,
    /// Servers to start on `--database` (each with the first one's master key), taking the
    /// requests in turn.
    #[arg(long, default_value_t = 1, requires = "database")]
    replicas: usize,
}

struct Target {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    creds: Credentials,
}

impl Target {
    async fn call(&self, op: &str, body: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let body = serde_json::to_vec(body)?;
        let target = format!("Interconnect.{op}");
        let headers = [
            ("host", self.host.as_str()),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", target.as_str()),
        ];
        let added = xc_sigv4::sign(
            &xc_sigv4::Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body: &body,
            },
            self.creds.access_key_id.as_str(),
            self.creds.secret_access_key.as_bytes(),
            "us-east-1",
            "interconnect",
            time::OffsetDateTime::now_utc(),
        );
        let mut req = self.http.post(format!("{}/", self.endpoint));
        for (k, v) in headers
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .chain(added)
        {
            req = req.header(k, v);
        }
        let resp = req.body(body).send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            bail!("{op}: HTTP {status}: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(serde_json::from_slice(&bytes)?)
    }
}

struct Outcome {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

async fn measure<F, Fut>(concurrency: usize, seconds: u64, make: F) -> Outcome
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let make = Arc::new(make);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(50_000);
            let mut errors = 0;
            let mut n = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                match make(worker, n).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
                n += 1;
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.expect("worker");
        all.extend(lat);
        errors += e;
    }
    let elapsed = start.elapsed();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Outcome {
        requests: all.len(),
        errors,
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tmp = tempfile::tempdir()?;
    let mut children = Vec::new();
    let (endpoints, operator): (Vec<String>, Credentials) = match &args.endpoint {
        Some(e) => {
            let path = args.credentials.as_deref().context("--credentials")?;
            (
                vec![e.clone()],
                serde_json::from_str(&std::fs::read_to_string(path)?)?,
            )
        }
        None => {
            let (c, endpoints, creds) = xconnect_bench_api::start_replicas(
                &args.server,
                tmp.path(),
                args.database.as_deref(),
                args.replicas,
                &[],
            )?;
            children = c;
            (endpoints, creds)
        }
    };
    let endpoint = endpoints[0].clone();
    let op = xc_client::Client::new(
        &endpoint,
        operator.access_key_id.as_str(),
        &operator.secret_access_key,
        "us-east-1",
    )?;
    let suffix = std::process::id();
    let a = op.create_account(&format!("bench-a-{suffix}")).await?;
    let b = op.create_account(&format!("bench-b-{suffix}")).await?;
    // More connections than an account's default quotas allow.
    for quota in [
        xc_types::api::quotas::QuotaName::ConnectionsPerEnvironment,
        xc_types::api::quotas::QuotaName::BandwidthMbps,
    ] {
        op.set_quota(&xc_types::api::quotas::SetQuotaRequest {
            account_id: a.account_id.to_string(),
            quota,
            value: Some(1_000_000_000),
        })
        .await?;
    }
    let a_client = xc_client::Client::new(
        &endpoint,
        a.access_key_id.as_str(),
        &a.secret_access_key,
        "us-east-1",
    )?;
    let ap = a_client
        .create_attach_point(&xc_types::api::CreateAttachPointRequest {
            name: "bench".into(),
            prefixes: vec!["10.0.0.0/8".into()],
            asn: None,
        })
        .await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let targets: Arc<Vec<Target>> = Arc::new(
        endpoints
            .iter()
            .map(|e| Target {
                http: http.clone(),
                endpoint: e.clone(),
                host: e.trim_start_matches("http://").to_owned(),
                creds: a.clone(),
            })
            .collect(),
    );
    let target = &targets[0];
    let create_body = serde_json::json!({
        "environmentId": "gcp-us-east4", "bandwidth": "1Gbps",
        "attachPoint": { "directConnectGateway": ap.id }, "remoteAccount": { "identifier": b.account_id },
    });
    let created = target.call("CreateConnection", &create_body).await?;
    let id = created["connection"]["id"]
        .as_str()
        .context("id")?
        .to_owned();

    println!("| operation | clients | requests/s | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for &c in &args.concurrency {
        for op in ["GetConnection", "CreateConnection"] {
            let targets = targets.clone();
            let get = serde_json::json!({ "identifier": id });
            let create = create_body.clone();
            let o = measure(c, args.seconds, move |worker, n| {
                let targets = targets.clone();
                let body = if op == "GetConnection" {
                    get.clone()
                } else {
                    create.clone()
                };
                async move {
                    let t = &targets[(worker + n) % targets.len()];
                    t.call(op, &body).await.map(|_| ())
                }
            })
            .await;
            println!(
                "| {op} | {c} | {:.0} | {:.2} | {:.2} | {} |",
                o.requests as f64 / o.elapsed.as_secs_f64(),
                o.p50.as_secs_f64() * 1e3,
                o.p99.as_secs_f64() * 1e3,
                o.errors
            );
        }
    }
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    Ok(())
}
