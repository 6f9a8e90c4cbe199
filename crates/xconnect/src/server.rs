//! `xconnect server`: opens the data dir, the store and the catalog, makes sure the operator
//! account exists, and serves the APIs until SIGTERM or Ctrl-C.
//!
//! ```text
//!  main task ── xc_api::serve (accept loop: limits, timeouts; hyper, plain or rustls)
//!           │       └── router ── handlers ── Service ── Store writer thread
//!           └── lifecycle driver task (Service::run_lifecycle)
//!  shutdown signal ──► both stop; the store drains its queued writes
//! ```
//!
//! At start it raises its open-file limit to the hard limit, and sizes the connection limits to
//! what it got.

use anyhow::{Context, bail};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xc_control::{Catalog, Secrets, Service, ServiceConfig, SystemClock};
use xc_gateway::files::write_private;

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7700")]
    listen: std::net::SocketAddr,
    /// Where the database, the master key and the operator's credentials live.
    #[arg(long, default_value = "./.xconnect")]
    data_dir: PathBuf,
    /// The database: `sqlite:PATH` (the default is sqlite:DATA_DIR/xconnect.db) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DBNAME` (PostgreSQL 15 or later; the schema is
    /// created and migrated at start). Give a password through the environment, not the
    /// command line.
    #[arg(
        long,
        env = "XCONNECT_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    database: Option<xc_store::Database>,
    /// The master key (64 hex digits) that seals secrets and signs tokens: every replica on
    /// one database needs the same. Default: DATA_DIR/master.key, made at first start.
    #[arg(long, env = "XCONNECT_MASTER_KEY_FILE", value_name = "PATH")]
    master_key_file: Option<PathBuf>,
    /// The region this server answers for (signatures must be scoped to it).
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Catalog of facilities and environments (TOML; see examples/catalog.toml).
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// PEM certificate chain: serve HTTPS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The URL clients reach this server at, written into activation keys
    /// (default: derived from --listen).
    #[arg(long)]
    public_url: Option<String>,
    /// Log filter (as RUST_LOG).
    #[arg(long, env = "XCONNECT_LOG", default_value = "info")]
    log: String,
    /// Most client connections at once (default: from the open-file limit, at most 16384).
    #[arg(long)]
    max_connections: Option<usize>,
    /// Most connections from one address (default: a quarter of --max-connections).
    #[arg(long)]
    max_connections_per_address: Option<usize>,
    /// How long a request's headers (or a TLS handshake) may take once begun.
    #[arg(long, default_value = "10s", value_parser = crate::cli::parse_duration)]
    header_timeout: std::time::Duration,
    /// How long a request's body may take.
    #[arg(long, default_value = "30s", value_parser = crate::cli::parse_duration)]
    body_timeout: std::time::Duration,
    /// How long a connection may wait idle for its next request.
    #[arg(long, default_value = "60s", value_parser = crate::cli::parse_duration)]
    idle_timeout: std::time::Duration,
    /// A network webhooks may go to although it is not public (repeat for several), as
    /// 10.20.0.0/16; webhooks go to public addresses only otherwise (never to loopback,
    /// private, link-local or other special addresses).
    #[arg(long = "webhook-allow-network", value_name = "CIDR")]
    webhook_allow: Vec<ipnet::IpNet>,
    /// Read requests (Get, List, Describe) a second per access key; not throttled without it.
    #[arg(long, value_name = "PER_SECOND")]
    read_rate: Option<f64>,
    /// Reads an access key may send at once after a quiet spell (default: twice --read-rate).
    #[arg(long, value_name = "REQUESTS", requires = "read_rate")]
    read_burst: Option<f64>,
    /// Other requests (creates, changes, deletes) a second per access key; not throttled
    /// without it.
    #[arg(long, value_name = "PER_SECOND")]
    write_rate: Option<f64>,
    /// Writes an access key may send at once after a quiet spell (default: twice --write-rate).
    #[arg(long, value_name = "REQUESTS", requires = "write_rate")]
    write_burst: Option<f64>,
    /// How long audit records are kept (the oldest are removed once an hour).
    #[arg(long, default_value = "90d", value_parser = crate::cli::parse_duration)]
    audit_retention: std::time::Duration,
}

/// Raises the soft open-file limit to the hard one; returns the limit in force.
fn raise_open_files() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(e) => {
                tracing::warn!(soft, hard, error = %e, "cannot raise the open-file limit");
                soft
            }
        },
        Ok((soft, _)) => soft,
        Err(_) => 1024,
    }
}

impl ServerArgs {
    fn rate_limits(&self) -> anyhow::Result<xc_control::rate::RateLimits> {
        let limit = |flag: &str, rate: Option<f64>, burst: Option<f64>| {
            let Some(rate) = rate else {
                return Ok(None);
            };
            let burst = burst.unwrap_or(2.0 * rate);
            if !(rate.is_finite() && rate > 0.0 && burst.is_finite() && burst >= 1.0) {
                bail!("--{flag}-rate is more than 0 and its burst at least 1");
            }
            Ok(Some(xc_control::rate::Limit { rate, burst }))
        };
        Ok(xc_control::rate::RateLimits {
            read: limit("read", self.read_rate, self.read_burst)?,
            write: limit("write", self.write_rate, self.write_burst)?,
        })
    }

    fn limits(&self, open_files: u64) -> anyhow::Result<xc_api::serve::Limits> {
        let mut l = xc_api::serve::Limits::for_open_files(open_files);
        if let Some(n) = self.max_connections {
            l.max_connections = n;
            l.max_per_address = (n / 4).max(1);
        }
        if let Some(n) = self.max_connections_per_address {
            l.max_per_address = n;
        }
        if l.max_connections == 0 || l.max_per_address == 0 {
            bail!("--max-connections and --max-connections-per-address are at least 1");
        }
        for (flag, d) in [
            ("--header-timeout", self.header_timeout),
            ("--body-timeout", self.body_timeout),
            ("--idle-timeout", self.idle_timeout),
        ] {
            if d.is_zero() {
                bail!("{flag} is at least 1s");
            }
        }
        l.header = self.header_timeout;
        l.body = self.body_timeout;
        l.idle = self.idle_timeout;
        Ok(l)
    }
}

/// Fails, naming the directory, when nothing can ever be written in it (a read-only mount, no
/// permission): better at start than as a failed write later. A full disk is only warned of:
/// reads are served meanwhile, and writes answer 503 until there is room.
fn writable(dir: &Path) -> anyhow::Result<()> {
    let probe = dir.join(".xconnect-write-test");
    match std::fs::write(&probe, b"ok").and_then(|()| std::fs::remove_file(&probe)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {
            let _ = std::fs::remove_file(&probe);
            tracing::warn!(
                "the disk holding the data dir {} is full: reads are served, writes are refused (503) until there is room",
                dir.display()
            );
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("the data dir {} is not writable", dir.display())),
    }
}

/// The `meta` key under which the database keeps its master key's check value.
const MASTER_KEY_CHECK: &str = "master_key_check";

/// The master key at `path`, and whether it was made now (it did not exist and `make` allows).
fn master_key(path: &Path, make: bool) -> anyhow::Result<([u8; 32], bool)> {
    match std::fs::read_to_string(path) {
        Ok(s) => {
            let mut key = [0u8; 32];
            hex::decode_to_slice(s.trim(), &mut key)
                .with_context(|| format!("{} is not 64 hex digits", path.display()))?;
            Ok((key, false))
        }
        Err(e) if make && e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            write_private(path, format!("{}\n", hex::encode(key)).as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok((key, true))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&args.log).context("--log")?)
        .with_writer(std::io::stderr)
        .init();

    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data dir {}", args.data_dir.display()))?;
    writable(&args.data_dir)?;
    std::fs::set_permissions(&args.data_dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make data dir {} private", args.data_dir.display()))?;
    let catalog = match &args.catalog {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read catalog {}", p.display()))?;
            Catalog::parse(&text).with_context(|| format!("catalog {}", p.display()))?
        }
        None => Catalog::default_catalog(),
    };
    let key_path = args
        .master_key_file
        .clone()
        .unwrap_or_else(|| args.data_dir.join("master.key"));
    let (master, made) = master_key(&key_path, args.master_key_file.is_none())?;
    let secrets = Secrets::from_master(&master);
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| xc_store::Database::Sqlite(args.data_dir.join("xconnect.db")));
    let store = Arc::new(
        xc_store::Store::connect(&database)
            .with_context(|| format!("cannot open database {database}"))?,
    );
    tracing::info!(%database, "database open");
    // Every server on one database seals with one master key: a server given another is refused
    // before it seals anything the others could not unseal (or fails to unseal theirs).
    let check = Secrets::key_check(&master).to_vec();
    let same = store
        .write(move |db| match db.meta_get(MASTER_KEY_CHECK)? {
            Some(known) => Ok::<_, xc_store::StoreError>(known == check),
            None => db.meta_put(MASTER_KEY_CHECK, &check).map(|()| true),
        })
        .await
        .context("checking the master key against the database")?;
    if !same {
        // A key made just now sealed nothing: take it away again, so that the key copied in
        // next is the one found.
        let made_now = if made && std::fs::remove_file(&key_path).is_ok() {
            " (this data dir had no master key: the new one made for it is removed again)"
        } else {
            ""
        };
        bail!(
            "the master key {} is not the one {database} was set up with{made_now}: every server \
             on one database needs the same key (copy the first server's master.key into this \
             data dir, or pass --master-key-file)",
            key_path.display()
        );
    }
    let tls = args.tls_cert.is_some();
    let scheme = if tls { "https" } else { "http" };
    // Bind first, so `--listen 127.0.0.1:0` reports (and signs keys with) the real port.
    let listener = std::net::TcpListener::bind(args.listen)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{local}"));
    let config = ServiceConfig {
        region: args.region.clone(),
        endpoint: public_url.clone(),
        key_lifetime_secs: xc_control::DEFAULT_KEY_LIFETIME_SECS,
        webhook_allow: args.webhook_allow.clone(),
        rate_limits: args.rate_limits()?,
        audit_retention_secs: i64::try_from(args.audit_retention.as_secs()).unwrap_or(i64::MAX),
    };
    let service = Service::new(
        store.clone(),
        catalog,
        secrets,
        config,
        Arc::new(SystemClock),
    )
    .await?;

    let creds_path = args.data_dir.join("operator-credentials.json");
    if let Some(creds) = service.ensure_operator().await? {
        write_private(
            &creds_path,
            format!("{}\n", serde_json::to_string_pretty(&creds)?).as_bytes(),
        )
        .with_context(|| format!("cannot write {}", creds_path.display()))?;
        println!(
            "created the operator account 000000000000; its access key is in {}",
            creds_path.display()
        );
    } else {
        println!("operator credentials: {}", creds_path.display());
    }

    if !tls && !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "serving plain HTTP on a non-loopback address; pass --tls-cert and --tls-key");
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Any number of replicas may share the database: this one does the leader's work only while
    // it holds the lease.
    service.lead_by_lease();
    // A change committed through another replica wakes this one's waiters (LISTEN/NOTIFY).
    service
        .listen_to_replicas()
        .context("listening to the other replicas")?;
    let membership = tokio::spawn(
        service
            .clone()
            .run_membership(public_url.clone(), stop_rx.clone()),
    );
    tracing::info!(replica = service.replica_id(), "replica started");
    let lifecycle = {
        let mut rx = stop_rx.clone();
        tokio::spawn(service.clone().run_lifecycle(async move {
            let _ = rx.wait_for(|s| *s).await;
        }))
    };
    let webhooks = tokio::spawn(xc_api::webhooks::run(service.clone(), stop_rx.clone()));
    let open_files = raise_open_files();
    let limits = args.limits(open_files)?;
    tracing::info!(
        open_files,
        max_connections = limits.max_connections,
        max_per_address = limits.max_per_address,
        "connection limits"
    );
    let router = xc_api::router(service.clone(), &limits);
    let shutdown = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(xc_api::tls_config(cert, key).context("--tls-cert/--tls-key")?)
        }
        _ => None,
    };
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    println!(
        "xconnect server listening on {public_url}{}, region {}",
        if tls.is_some() { " (TLS)" } else { "" },
        args.region
    );
    let served = xc_api::serve::serve(listener, router, tls, limits, shutdown).await;
    // The last requests' audit records, before the store closes.
    if tokio::time::timeout(std::time::Duration::from_secs(10), service.flush_audit())
        .await
        .is_err()
    {
        tracing::error!("audit records were still being written at shutdown");
    }
    let _ = lifecycle.await;
    let _ = webhooks.await;
    let _ = membership.await;
    drop(service);
    store.close();
    if let Err(e) = served {
        bail!("server stopped: {e}");
    }
    println!("xconnect server stopped");
    Ok(())
}
