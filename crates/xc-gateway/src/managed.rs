//! The managed gateway: registers with the control plane once (a single-use token buys a
//! per-gateway credential, kept in the state directory), then watches its configuration with
//! blocking queries and applies each new one through the same path as a static file, and
//! reports its status every few seconds.
//!
//! Static stability: the last configuration is kept in the state directory and applied at start
//! before the control plane answers; while the control plane is unreachable the gateway keeps
//! forwarding with what it has and retries.
//!
//! Several replicas: given several controller URLs (the replicas of one control plane), the
//! gateway talks to one at a time and moves to the next when it cannot reach it ([`Controllers`]);
//! its blocking query resumes there from the index it has.
//!
//! ```text
//!  state dir: credential.json (0600)   config.json (last configuration, 0600: it holds CAKs)
//!  watch loop:  GET /v1/gateway/config?index=I&wait=30 ──► apply (links, then BGP) ──► save
//!  report loop: POST /v1/gateway/status every 2 s, with the closed minutes (`samples`) the
//!               controller has not acknowledged yet, and a last one at shutdown
//!               and the flow logs' records (also appended to --flow-log-file)
//!  link probes: a STAMP probe a second per link (`linkprobe`)
//! ```

use crate::config::GatewayConfig;
use crate::demand::DemandMeter;
use crate::files::write_private;
use crate::flowlog::{FlowLogFile, Pending};
use crate::linkprobe::Probes;
use crate::runtime::{Gateway, apply};
use crate::samples::Sampler;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use xc_client::GatewayClient;
use xc_types::gateway::{ConfigResponse, MetricSample, RegisterRequest, ReportRequest};

/// How long a blocking query waits before the server answers with the same configuration.
const WATCH_WAIT: Duration = Duration::from_secs(30);
const REPORT_EVERY: Duration = Duration::from_secs(2);
/// How often the links' demand is measured: a link that turns `limited` (or stops being) is
/// reported at once, not at the next regular report, so its part moves within a second.
const DEMAND_EVERY: Duration = Duration::from_millis(250);
/// The shortest gap between two reports.
const REPORT_GAP: Duration = Duration::from_millis(500);
const RETRY_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct ManagedOptions {
    /// The control plane's URLs: one, or one per replica (tried in turn).
    pub controllers: Vec<String>,
    pub token: Option<String>,
    pub underlay_address: IpAddr,
    pub name: String,
    pub state_dir: PathBuf,
    pub admin_listen: SocketAddr,
    /// A provider edge's customer-facing interface.
    pub access_interface: Option<String>,
    /// Keep the cores polling this long after the links last carried a frame (0: off).
    pub idle_poll_ms: u64,
    /// A link thread's busy poll after a frame, in microseconds (0: off).
    pub busy_poll_us: u64,
    /// Where the flow logs' records are appended as text (none: only sent to the controller).
    pub flow_log_file: Option<PathBuf>,
    /// Most flows the filters' connection table holds.
    pub flow_table_size: usize,
    /// The links take segmentation-offload frames from their TAPs.
    pub transmit_offload: bool,
    /// Cores (workers) each link uses: 1, 2, 4 or 8.
    pub link_cores: u8,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credential {
    controller: String,
    gateway_id: String,
    secret: String,
}

/// Holds the state directory for this process: a second gateway started on the same one stops
/// at once instead of fighting over its credential and configuration.
fn lock_state_dir(dir: &Path) -> io::Result<nix::fcntl::Flock<std::fs::File>> {
    use std::io::{Read as _, Seek as _, Write as _};
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    let mut lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(mut file, errno)| {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "another gateway{} runs with the state directory {}: give each gateway its own --state-dir ({errno})",
                    if holder.is_empty() { String::new() } else { format!(" (pid {holder})") },
                    dir.display()
                ),
            )
        })?;
    lock.set_len(0)?;
    lock.rewind()?;
    write!(lock, "{}", std::process::id())?;
    Ok(lock)
}

/// The credential kept in the state directory, if there is one.
fn stored_credential(opts: &ManagedOptions) -> io::Result<Option<Credential>> {
    let path = opts.state_dir.join("credential.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let c: Credential = serde_json::from_str(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })?;
    Ok(Some(c))
}

/// The control plane's replicas, as given: the gateway talks to one at a time (the watch, the
/// reports and the answers alike) and moves on to the next when it cannot reach it. Every
/// replica serves the same store, so the credential and the configuration's index hold on any.
struct Controllers {
    bases: Vec<GatewayClient>,
    at: std::sync::atomic::AtomicUsize,
    /// `<gatewayId>`, `<secret>`: replaced when the gateway registers again.
    credential: std::sync::RwLock<Option<(String, String)>>,
    /// Woken when the gateway moves to another replica: a blocking query held by the replica
    /// left behind is given up.
    moved: tokio::sync::Notify,
}

impl Controllers {
    fn new(urls: &[String]) -> io::Result<Self> {
        if urls.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no controller URL given",
            ));
        }
        let bases = urls
            .iter()
            .map(|u| GatewayClient::new(u).map_err(io::Error::other))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self {
            bases,
            at: std::sync::atomic::AtomicUsize::new(0),
            credential: std::sync::RwLock::new(None),
            moved: tokio::sync::Notify::new(),
        })
    }

    fn set_credential(&self, c: &Credential) {
        let mut w = self.credential.write().unwrap_or_else(|e| e.into_inner());
        *w = Some((c.gateway_id.clone(), c.secret.clone()));
    }

    /// The replica in use (its position, for [`Controllers::unreachable`]) and a client for it.
    fn current(&self) -> (usize, GatewayClient) {
        let at = self.at.load(std::sync::atomic::Ordering::Relaxed);
        let base = self.bases[at % self.bases.len()].clone();
        let credential = self.credential.read().unwrap_or_else(|e| e.into_inner());
        match &*credential {
            Some((id, secret)) => (at, base.with_credential(id, secret)),
            None => (at, base),
        }
    }

    /// The replica at `at` could not be reached: the next one from now on (unless another task
    /// moved already). False when there is no other.
    fn unreachable(&self, at: usize) -> bool {
        use std::sync::atomic::Ordering;
        let n = self.bases.len();
        if n < 2 {
            return false;
        }
        let next = (at + 1) % n;
        if self
            .at
            .compare_exchange(at, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            tracing::warn!(
                from = self.bases[at % n].endpoint(),
                to = self.bases[next].endpoint(),
                "cannot reach the controller; moving to the next"
            );
            self.moved.notify_waiters();
        }
        true
    }

    fn len(&self) -> usize {
        self.bases.len()
    }
}

/// Whether an error means the replica could not be reached (rather than an answer from it).
fn unreachable_error(e: &xc_client::ClientError) -> bool {
    matches!(e, xc_client::ClientError::Transport { .. })
}

/// Registers with `token` and keeps the credential it buys in the state directory (replacing
/// any other).
async fn register(
    opts: &ManagedOptions,
    controllers: &Controllers,
    token: &str,
) -> io::Result<Credential> {
    let req = RegisterRequest {
        token: token.to_owned(),
        name: opts.name.clone(),
        underlay_address: opts.underlay_address.to_string(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        access_interface: opts.access_interface.clone(),
    };
    let mut tried = 0usize;
    let (resp, endpoint) = loop {
        let (at, client) = controllers.current();
        match client.register(&req).await {
            Ok(r) => break (r, client.endpoint().to_owned()),
            Err(e @ xc_client::ClientError::Api { .. }) => {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("registration refused: {e}"),
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach the controller to register");
                tried += 1;
                // Every replica tried: a pause before the next round.
                if !controllers.unreachable(at) || tried.is_multiple_of(controllers.len()) {
                    tokio::time::sleep(RETRY_EVERY).await;
                }
            }
        }
    };
    let c = Credential {
        controller: endpoint,
        gateway_id: resp.gateway_id,
        secret: resp.secret,
    };
    let path = opts.state_dir.join("credential.json");
    write_private(
        &path,
        &serde_json::to_vec_pretty(&c).map_err(io::Error::other)?,
    )?;
    tracing::info!(gateway = %c.gateway_id, "registered; credential kept in {}", path.display());
    Ok(c)
}

/// The gateway's identity at start: the stored credential (so that a restart forwards with its
/// last configuration before the controller answers), unless it was issued by another
/// controller (none of those given) and a token is given; else a registration with the token.
async fn credential(opts: &ManagedOptions, controllers: &Controllers) -> io::Result<Credential> {
    let path = opts.state_dir.join("credential.json");
    let ours = |url: &str| {
        opts.controllers
            .iter()
            .any(|c| c.trim_end_matches('/') == url.trim_end_matches('/'))
    };
    match (stored_credential(opts)?, &opts.token) {
        (Some(c), Some(token)) if !ours(&c.controller) => {
            tracing::info!(stored = %c.controller, "the stored credential is another controller's; registering with the token");
            register(opts, controllers, token).await
        }
        (Some(c), _) => {
            tracing::info!(gateway = %c.gateway_id, "using the credential in {}", path.display());
            Ok(c)
        }
        (None, Some(token)) => register(opts, controllers, token).await,
        (None, None) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} does not exist: give --token (from `xconnect gateway token create`) to register",
                path.display()
            ),
        )),
    }
}

/// Whether the controller refused the gateway's credential (it does not know the gateway).
fn credential_refused(e: &xc_client::ClientError) -> bool {
    matches!(e, xc_client::ClientError::Api { reason: Some(r), .. }
        if xc_types::StateReasonCode::parse(r) == Ok(xc_types::StateReasonCode::GatewayCredentialRefused))
}

/// The control plane's document with this machine's settings, checked as a file would be.
/// Which of the tracked flows a dry run's policy would cut.
fn dry_run(
    filter: &xc_filter::Filter,
    d: &xc_types::gateway::DryRunRequest,
) -> xc_types::gateway::DryRunAnswer {
    let now = xc_dataplane::link::now_ms();
    let cut = filter
        .would_cut(&d.policy, now)
        .map(|a| a.cut)
        .unwrap_or_default();
    xc_types::gateway::DryRunAnswer {
        id: d.id.clone(),
        total: cut.len() as u64,
        flows: cut
            .iter()
            .take(xc_types::gateway::MAX_CUT_FLOWS)
            .map(|f| xc_types::gateway::CutFlow {
                protocol: f.key.protocol,
                srcaddr: f.key.src,
                dstaddr: f.key.dst,
                srcport: f.key.src_port,
                dstport: f.key.dst_port,
                direction: f.origin,
                idle_secs: now.saturating_sub(f.last_seen) / 1000,
            })
            .collect(),
    }
}

fn to_config(resp: &ConfigResponse, admin: SocketAddr) -> Result<GatewayConfig, String> {
    let mut doc = resp.config.clone();
    doc.gateway.admin_listen = Some(admin.to_string());
    GatewayConfig::from_doc(&doc, None).map_err(|e| e.to_string())
}

/// Says once what this gateway cannot understand of a newer control plane's configuration:
/// the members it ignores, by name, and a newer schema.
#[derive(Debug, Default)]
struct Newer {
    said: std::collections::BTreeSet<String>,
}

impl Newer {
    fn note(&mut self, resp: &xc_client::Lenient<ConfigResponse>) {
        let schema = resp.value.config.schema;
        if schema > xc_types::gateway::SCHEMA_VERSION
            && self.said.insert(format!("schema {schema}"))
        {
            tracing::warn!(
                schema,
                known = xc_types::gateway::SCHEMA_VERSION,
                "the controller writes a newer configuration schema: what this gateway does not know is ignored (upgrade the gateway)"
            );
        }
        for m in &resp.ignored {
            if self.said.insert(m.clone()) {
                tracing::warn!(member = %m, "the controller's configuration has a member this gateway does not know: ignored");
            }
        }
    }
}

/// Applies a configuration, logging what could not be applied; returns the prefixes of the
/// gateway's own network (connectivity tests probe from one of them).
async fn apply_logged(gw: &Arc<Mutex<Gateway>>, cfg: &GatewayConfig) -> Vec<ipnet::IpNet> {
    for e in apply(gw, cfg).await {
        tracing::warn!("{e}");
    }
    cfg.bgp
        .as_ref()
        .map(|b| b.announce.clone())
        .unwrap_or_default()
}

/// A managed gateway, running until `shutdown` resolves.
pub async fn run(
    opts: ManagedOptions,
    on_ready: impl FnOnce(&Gateway, &str),
    shutdown: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    std::fs::create_dir_all(&opts.state_dir)?;
    let _lock = lock_state_dir(&opts.state_dir)?;
    let controllers = Arc::new(Controllers::new(&opts.controllers)?);
    let cred = credential(&opts, &controllers).await?;
    let id = cred.gateway_id.clone();
    controllers.set_credential(&cred);
    let empty = GatewayConfig {
        name: opts.name.clone(),
        admin_listen: opts.admin_listen,
        keylog_file: None,
        idle_poll_ms: opts.idle_poll_ms,
        busy_poll_us: opts.busy_poll_us,
        transmit_offload: opts.transmit_offload,
        link_cores: opts.link_cores,
        flow_table_size: opts.flow_table_size,
        flow_log_file: None,
        links: Vec::new(),
        bgp: None,
        access: Vec::new(),
        filters: xc_types::filter::FilterPolicy::default(),
        flow_sync: None,
    };
    let gw = tokio::task::spawn_blocking(move || Gateway::start(&empty))
        .await
        .map_err(io::Error::other)??;
    let gw = Arc::new(Mutex::new(gw));
    let saved = opts.state_dir.join("config.json");
    let mut index: Option<String> = None;
    // The prefixes of this gateway's own network: connectivity tests probe from one of them.
    let mut announced: Vec<ipnet::IpNet> = Vec::new();
    // Static stability: the last configuration first, before the controller answers.
    if let Ok(text) = std::fs::read_to_string(&saved)
        && let Ok(resp) =
            xc_client::decode_json_lenient::<ConfigResponse>(text.as_bytes()).map(|r| r.value)
    {
        match to_config(&resp, opts.admin_listen) {
            Ok(cfg) => {
                tracing::info!(
                    links = cfg.links.len(),
                    "applying the last configuration while the controller is asked"
                );
                announced = apply_logged(&gw, &cfg).await;
                index = Some(resp.index.clone());
            }
            Err(e) => tracing::warn!("the saved configuration is not usable: {e}"),
        }
    }
    if let Ok(g) = gw.lock() {
        on_ready(&g, &id);
    }
    // The minute samples and the link probes they read; the boot number tells the controller
    // that sequence numbers start again.
    let (source, links_source, targets, filter) = match gw.lock() {
        Ok(g) => (
            g.status_source(),
            g.links_source(),
            g.probe_targets(),
            g.filter(),
        ),
        Err(_) => return Err(io::Error::other("the gateway's state is poisoned")),
    };
    let probes = match Probes::start(targets.clone()).await {
        Ok(p) => Some(Arc::new(p)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot probe the links: no RTT or loss will be reported");
            None
        }
    };
    let boot: u64 = rand::random();
    let sampler = Arc::new(Mutex::new(Sampler::new()));
    let sample = {
        let (source, probes, sampler) = (source.clone(), probes.clone(), sampler.clone());
        move |last: bool| {
            let status = source();
            let peers: BTreeMap<u64, String> = targets()
                .iter()
                .map(|t| (t.id, t.peer.to_string()))
                .collect();
            let mut take = |id: u64| probes.as_ref().map(|p| p.take(id)).unwrap_or_default();
            let now = unix_now();
            let mut s = sampler.lock().unwrap_or_else(|e| e.into_inner());
            if last {
                s.flush(now, &status, &peers, &mut take);
            } else {
                s.tick(now, &status, &peers, &mut take);
            }
            (status, s.pending())
        }
    };
    // The flow logs' records: to the file as they come, and to the controller with the reports.
    let flow_logs = Arc::new(Mutex::new((
        opts.flow_log_file.as_deref().map(FlowLogFile::new),
        Pending::default(),
    )));
    let report = {
        let (controllers, sampler, gw) = (controllers.clone(), sampler.clone(), gw.clone());
        move |status: crate::status::GatewayStatus, samples: Vec<MetricSample>| {
            let (controllers, sampler, gw) = (controllers.clone(), sampler.clone(), gw.clone());
            let (filter, flow_logs) = (filter.clone(), flow_logs.clone());
            async move {
                let records = {
                    let mut f = flow_logs.lock().unwrap_or_else(|e| e.into_inner());
                    let (file, pending) = &mut *f;
                    pending.add(crate::flowlog::drain(&filter, file.as_mut()));
                    pending.next()
                };
                let sent = records.len();
                let req = ReportRequest {
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    status,
                    boot,
                    samples,
                    flow_logs: records,
                };
                let (at, client) = controllers.current();
                let ack = match client.report(&req).await {
                    Ok(a) => a,
                    Err(e) => {
                        // A replica gone away is noticed by the next report, within seconds,
                        // even while the watch waits on it.
                        if unreachable_error(&e) {
                            controllers.unreachable(at);
                        }
                        return Err(e);
                    }
                };
                flow_logs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .1
                    .sent(sent);
                if let Some(through) = ack.samples_through {
                    sampler
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .acknowledge(through);
                }
                if !ack.egress.is_empty()
                    && let Ok(mut g) = gw.lock()
                {
                    g.set_egress(&ack.egress);
                }
                Ok::<_, xc_client::ClientError>(())
            }
        }
    };
    // Every REPORT_EVERY, and sooner when a link's demand turns (see DEMAND_EVERY).
    let reporter = {
        let (sample, report) = (sample.clone(), report.clone());
        tokio::spawn(async move {
            let mut meter = DemandMeter::new();
            let mut reported: Option<(tokio::time::Instant, BTreeSet<u64>)> = None;
            loop {
                meter.tick(std::time::Instant::now(), &links_source());
                let now = tokio::time::Instant::now();
                let due = match &reported {
                    None => true,
                    Some((at, limited)) => {
                        let since = now.duration_since(*at);
                        since >= REPORT_EVERY
                            || (since >= REPORT_GAP && *limited != meter.limited())
                    }
                };
                if due {
                    let (mut status, samples) = sample(false);
                    meter.fill(&mut status.links);
                    reported = Some((now, meter.limited()));
                    if let Err(e) = report(status, samples).await {
                        tracing::debug!(error = %e, "status report failed");
                    }
                }
                tokio::time::sleep(DEMAND_EVERY).await;
            }
        })
    };
    let watch = async {
        let mut failing = false;
        let mut newer = Newer::default();
        // The token, until it is used: it replaces a credential the controller refuses.
        let mut token = opts.token.clone();
        let mut refused_said: Option<tokio::time::Instant> = None;
        // Replicas that could not be reached in a row: a pause once every one was tried.
        let mut unreached = 0usize;
        loop {
            let moved = controllers.moved.notified();
            tokio::pin!(moved);
            let (at, client) = controllers.current();
            let fetched = tokio::select! {
                r = client.config(index.as_deref(), WATCH_WAIT) => r,
                // Another task found this replica gone: ask the next one at once.
                () = &mut moved => continue,
            };
            match fetched {
                Ok(fetched) => {
                    unreached = 0;
                    newer.note(&fetched);
                    let resp = fetched.value;
                    if failing {
                        tracing::info!("controller reachable again");
                        failing = false;
                    }
                    for t in &resp.tests {
                        let (t, client) = (t.clone(), client.clone());
                        let prefixes = announced.clone();
                        tokio::spawn(async move {
                            tracing::info!(target = %t.target, "connectivity test");
                            let r = crate::probe::run(&t, &prefixes).await;
                            if let Err(e) = client.test_result(&r).await {
                                tracing::warn!(error = %e, "cannot return a test result");
                            }
                        });
                    }
                    for d in &resp.dry_runs {
                        let answer = match gw.lock() {
                            Ok(g) => dry_run(&g.filter(), d),
                            Err(_) => continue,
                        };
                        let client = client.clone();
                        tokio::spawn(async move {
                            if let Err(e) = client.dry_run_answer(&answer).await {
                                tracing::warn!(error = %e, "cannot return a dry run's answer");
                            }
                        });
                    }
                    if index.as_deref() == Some(resp.index.as_str()) {
                        continue;
                    }
                    match to_config(&resp, opts.admin_listen) {
                        Ok(cfg) => {
                            tracing::info!(
                                index = %resp.index,
                                links = cfg.links.len(),
                                neighbors = cfg.bgp.as_ref().map_or(0, |b| b.neighbors.len()),
                                "new configuration"
                            );
                            announced = apply_logged(&gw, &cfg).await;
                            if let Ok(bytes) = serde_json::to_vec(&resp)
                                && let Err(e) = write_private(&saved, &bytes)
                            {
                                tracing::warn!(error = %e, "cannot save the configuration");
                            }
                            index = Some(resp.index);
                        }
                        Err(e) => {
                            tracing::error!("the controller's configuration is refused: {e}");
                            tokio::time::sleep(RETRY_EVERY).await;
                        }
                    }
                }
                Err(e) if credential_refused(&e) => match token.take() {
                    Some(t) => {
                        tracing::warn!(gateway = %id, "the controller refuses the stored credential; registering again with the token given");
                        match register(&opts, &controllers, &t).await {
                            Ok(c) => {
                                controllers.set_credential(&c);
                                index = None;
                            }
                            Err(e) => {
                                tracing::error!("{e}");
                                tokio::time::sleep(RETRY_EVERY).await;
                            }
                        }
                    }
                    None => {
                        if refused_said.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                            tracing::error!(
                                gateway = %id,
                                "the controller refuses this gateway's credential (GATEWAY_CREDENTIAL_REFUSED): the gateway was deleted, or {} was issued by another controller; create a token (`xconnect gateway token create --attach-point AP`) and restart with --token TOKEN, which replaces it; forwarding with the last configuration meanwhile",
                                opts.state_dir.join("credential.json").display()
                            );
                            refused_said = Some(tokio::time::Instant::now());
                        }
                        tokio::time::sleep(RETRY_EVERY).await;
                    }
                },
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot reach the controller; forwarding with the last configuration, retrying");
                        failing = true;
                    }
                    unreached += 1;
                    let moved_on = unreachable_error(&e) && controllers.unreachable(at);
                    if !moved_on || unreached.is_multiple_of(controllers.len()) {
                        tokio::time::sleep(RETRY_EVERY).await;
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = watch => {}
        _ = shutdown => {}
    }
    reporter.abort();
    let _ = reporter.await;
    // The minute so far, closed before the links go.
    let (status, samples) = sample(true);
    drop(probes);
    let _ = tokio::task::spawn_blocking(move || drop(gw)).await;
    // A last report, so that the controller knows at once that this gateway carries nothing
    // (rather than trusting its last report until it goes stale).
    let last = crate::status::GatewayStatus {
        name: status.name,
        ..crate::status::GatewayStatus::default()
    };
    if tokio::time::timeout(Duration::from_secs(2), report(last, samples))
        .await
        .is_err()
    {
        tracing::debug!("the controller did not take the last report");
    }
    Ok(())
}

/// Now, in Unix seconds.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
