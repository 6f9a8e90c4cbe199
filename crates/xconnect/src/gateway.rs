//! `xconnect gateway run|status`: the gateway agent in its standalone form (a static
//! configuration file) and its local status.
//!
//! ```text
//!  main (tokio) ── admin server (/status, /metrics)
//!       └── xc_gateway::Gateway: per link, the packet threads and the MKA thread
//!  SIGTERM / Ctrl-C ──► admin server stops, links stop, TAPs are removed
//! ```

use crate::output::Format;
use anyhow::{Context, bail};
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum GatewayCommand {
    /// Run the gateway: with a configuration file (see examples/gateway.toml), or managed by a
    /// control plane (register with a token once, then follow the configuration it hands out).
    Run {
        #[arg(long, conflicts_with_all = ["controller", "token"], required_unless_present = "controller")]
        config: Option<PathBuf>,
        /// The control plane's URL (managed mode). Several replicas: repeat the option or give
        /// the URLs comma-separated; the gateway uses one at a time and moves to the next when
        /// it cannot reach it.
        #[arg(long, requires = "underlay_address", value_delimiter = ',')]
        controller: Vec<String>,
        /// A registration token from `xconnect gateway token create` (needed once).
        #[arg(long, env = "XCONNECT_GATEWAY_TOKEN")]
        token: Option<String>,
        /// This gateway's address on the underlay, which peer gateways reach it at.
        #[arg(long)]
        underlay_address: Option<std::net::IpAddr>,
        /// The gateway's name (default: the host name).
        #[arg(long)]
        name: Option<String>,
        /// Where the credential and the last configuration are kept (one gateway per directory;
        /// default: /var/lib/xconnect/gateway as root, else $XDG_STATE_HOME/xconnect/gateway).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// The local admin endpoint (/status, /metrics) in managed mode.
        #[arg(long, default_value = "127.0.0.1:7801")]
        admin_listen: std::net::SocketAddr,
        /// A provider edge's customer-facing interface, where last-mile connections arrive as
        /// 802.1Q VLANs (needed to register a gateway of a facility).
        #[arg(long)]
        access_interface: Option<String>,
        /// Keep every core polling (at idle priority) for this many milliseconds after the links last
        /// carried a frame, so that frames do not wait for a halted CPU to wake up; 0 is off. In
        /// the file: `idle_poll_ms` in [gateway].
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=xc_gateway::config::MAX_IDLE_POLL_MS))]
        idle_poll_ms: u64,
        /// After a frame, a link keeps looking for the next (its answer) this many microseconds
        /// at most before it sleeps, adapting below that to how often one comes; 0 is off. In
        /// the file: `busy_poll_us` in [gateway].
        #[arg(long, default_value_t = xc_gateway::config::DEFAULT_BUSY_POLL_US, value_parser = clap::value_parser!(u64).range(0..=xc_gateway::config::MAX_BUSY_POLL_US))]
        busy_poll_us: u64,
        /// Where the flow logs' records are appended, as VPC Flow Logs version 2 text lines for
        /// local collectors (rotated to PATH.1 at 64 MiB; default: flow-log.txt in the state
        /// directory). In the file: `flow_log_file` in [gateway].
        #[arg(long)]
        flow_log_file: Option<PathBuf>,
        /// Most flows the filters' connection table holds (default 262,144): past it, new flows
        /// are refused (counted as `tableFull`) and none is evicted. In the file:
        /// `flow_table_size` in [gateway].
        #[arg(long, conflicts_with = "config", value_parser = clap::value_parser!(u64).range(1..=xc_gateway::config::MAX_FLOW_TABLE_SIZE))]
        flow_table_size: Option<u64>,
        /// Let the kernel segment what the links send, one frame per TAP read, instead of handing
        /// the link up to 64 KiB of a flow to segment itself (TSO/USO, the default). In the file:
        /// `transmit_offload = false` in [gateway].
        #[arg(long, conflicts_with = "config")]
        no_transmit_offload: bool,
        /// Cores each link uses: 1, 2, 4 or 8 workers, each with its own TAP queue, UDP socket
        /// and packet-number lanes, a flow staying on one of them. Give both ends of a link the
        /// same. In the file: `link_cores` in [gateway].
        #[arg(long, conflicts_with = "config", default_value_t = 1, value_parser = parse_link_cores)]
        link_cores: u8,
        /// Log filter (as RUST_LOG).
        #[arg(long, env = "XCONNECT_LOG", default_value = "info")]
        log: String,
    },
    /// Show a running gateway: links (MKA state, keys' age, counters), BGP neighbours, BFD,
    /// and the routes it installed.
    Status {
        /// The gateway's admin address.
        #[arg(long, default_value = "127.0.0.1:7801")]
        admin: String,
        #[arg(long, value_enum, default_value = "table")]
        output: Format,
    },
    /// Registration tokens for new gateways.
    Token {
        #[command(flatten)]
        common: crate::cli::Common,
        #[command(subcommand)]
        verb: TokenVerb,
    },
    /// The gateways registered with the control plane.
    List {
        #[command(flatten)]
        common: crate::cli::Common,
    },
    /// One registered gateway: its attach point or facility, version, last contact and links.
    Get {
        #[command(flatten)]
        common: crate::cli::Common,
        id: String,
    },
    /// Forget a gateway; its links are planned again on the attach point's other gateways.
    Delete {
        #[command(flatten)]
        common: crate::cli::Common,
        id: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenVerb {
    /// A single-use token (valid 24 hours) that registers one gateway for an attach point.
    Create {
        #[arg(long)]
        attach_point: Option<String>,
        /// The facility the gateway stands in (required for a provider edge).
        #[arg(long)]
        facility: Option<String>,
    },
}

fn init_logs(log: &str) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(log).context("--log")?)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

pub async fn run(cmd: GatewayCommand) -> anyhow::Result<()> {
    match cmd {
        GatewayCommand::Run {
            config: Some(config),
            log,
            ..
        } => {
            init_logs(&log)?;
            let cfg = xc_gateway::GatewayConfig::load(&config)?;
            let listener = tokio::net::TcpListener::bind(cfg.admin_listen)
                .await
                .with_context(|| {
                    format!(
                        "cannot listen on {} (gateway.admin_listen)",
                        cfg.admin_listen
                    )
                })?;
            let admin = listener.local_addr()?;
            let mut empty = cfg.clone();
            empty.links.clear();
            empty.access.clear();
            empty.bgp = None;
            let gateway =
                tokio::task::spawn_blocking(move || xc_gateway::Gateway::start(&empty)).await??;
            let gateway = std::sync::Arc::new(std::sync::Mutex::new(gateway));
            let errors = xc_gateway::runtime::apply(&gateway, &cfg).await;
            if !errors.is_empty() {
                let g = gateway.clone();
                tokio::task::spawn_blocking(move || drop(g)).await?;
                bail!("{}", errors.join("; "));
            }
            println!(
                "xconnect gateway {} running {} link(s), {} VLAN sub-interface(s) and {} BGP neighbour(s); status at http://{admin}/status",
                cfg.name,
                cfg.links.len(),
                cfg.access.len(),
                cfg.bgp.as_ref().map_or(0, |b| b.neighbors.len())
            );
            let (source, filter) = {
                let g = gateway
                    .lock()
                    .map_err(|_| anyhow::anyhow!("gateway state poisoned"))?;
                (g.status_source(), g.filter())
            };
            // The flow logs' records go to the file (or nowhere: a file gateway has no
            // controller to send them to).
            let mut file = cfg
                .flow_log_file
                .as_deref()
                .map(xc_gateway::flowlog::FlowLogFile::new);
            let drain = {
                let filter = filter.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                        xc_gateway::flowlog::drain(&filter, file.as_mut());
                    }
                })
            };
            xc_gateway::admin::serve(listener, source, crate::server::shutdown_signal()).await?;
            drain.abort();
            tokio::task::spawn_blocking(move || drop(gateway)).await?;
            // What the links' windows held when they stopped.
            let mut file = cfg
                .flow_log_file
                .as_deref()
                .map(xc_gateway::flowlog::FlowLogFile::new);
            xc_gateway::flowlog::drain(&filter, file.as_mut());
            println!("xconnect gateway stopped");
            Ok(())
        }
        GatewayCommand::Run {
            config: None,
            controller,
            token,
            underlay_address,
            name,
            state_dir,
            admin_listen,
            access_interface,
            idle_poll_ms,
            busy_poll_us,
            flow_log_file,
            flow_table_size,
            no_transmit_offload,
            link_cores,
            log,
        } => {
            init_logs(&log)?;
            let (false, Some(underlay)) = (controller.is_empty(), underlay_address) else {
                bail!("give --config FILE, or --controller URL --underlay-address IP [--token T]");
            };
            if let Some(bad) = controller.iter().find(|c| c.trim().is_empty()) {
                bail!("--controller: an empty URL ({bad:?}) in the list");
            }
            let name = name.unwrap_or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_owned())
                    .unwrap_or_else(|_| "gateway".into())
            });
            let listener = tokio::net::TcpListener::bind(admin_listen)
                .await
                .with_context(|| format!("cannot listen on {admin_listen} (--admin-listen)"))?;
            let admin = listener.local_addr()?;
            let state_dir = match state_dir {
                Some(d) => d,
                None => default_state_dir()?,
            };
            let opts = xc_gateway::managed::ManagedOptions {
                controllers: controller.clone(),
                token,
                underlay_address: underlay,
                name,
                state_dir: state_dir.clone(),
                admin_listen: admin,
                access_interface,
                idle_poll_ms,
                busy_poll_us,
                flow_log_file: Some(
                    flow_log_file.unwrap_or_else(|| state_dir.join("flow-log.txt")),
                ),
                flow_table_size: flow_table_size
                    .map_or(xc_gateway::config::DEFAULT_FLOW_TABLE_SIZE, |n| n as usize),
                transmit_offload: !no_transmit_offload,
                link_cores,
            };
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let mut admin_task = None;
            let run = xc_gateway::managed::run(
                opts,
                |g, id| {
                    println!(
                        "xconnect gateway {id} managed by {}; status at http://{admin}/status",
                        controller.join(", ")
                    );
                    let source = g.status_source();
                    let mut rx = stop_rx.clone();
                    admin_task = Some(tokio::spawn(xc_gateway::admin::serve(
                        listener,
                        source,
                        async move {
                            let _ = rx.wait_for(|s| *s).await;
                        },
                    )));
                },
                crate::server::shutdown_signal(),
            );
            let r = run.await;
            let _ = stop_tx.send(true);
            if let Some(t) = admin_task {
                let _ = t.await;
            }
            r?;
            println!("xconnect gateway stopped");
            Ok(())
        }
        GatewayCommand::Token { common, verb } => {
            let c = crate::cli::client(&common)?;
            match verb {
                TokenVerb::Create {
                    attach_point,
                    facility,
                } => crate::cli::gateway::token(&c, common.output, attach_point, facility).await,
            }
        }
        GatewayCommand::List { common } => {
            crate::cli::gateway::list(&crate::cli::client(&common)?, common.output).await
        }
        GatewayCommand::Get { common, id } => {
            crate::cli::gateway::get(&crate::cli::client(&common)?, common.output, &id).await
        }
        GatewayCommand::Delete { common, id } => {
            crate::cli::gateway::delete(&crate::cli::client(&common)?, common.output, &id).await
        }
        GatewayCommand::Status { admin, output } => {
            crate::cli::gateway::status(&admin, output).await
        }
    }
}

/// Where a managed gateway keeps its state unless told: the system's place as root, the user's
/// otherwise.
fn default_state_dir() -> anyhow::Result<PathBuf> {
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from("/var/lib/xconnect/gateway"));
    }
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".local/state"),
            None => bail!("give --state-dir: neither XDG_STATE_HOME nor HOME is set"),
        },
    };
    Ok(base.join("xconnect/gateway"))
}

/// `--link-cores`: 1, 2, 4 or 8.
fn parse_link_cores(s: &str) -> Result<u8, String> {
    match s.parse::<u8>() {
        Ok(n) if xc_gateway::config::valid_link_cores(n) => Ok(n),
        _ => Err(format!("{s:?}: give 1, 2, 4 or 8")),
    }
}
