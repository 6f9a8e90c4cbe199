//! `xconnect gateway run|status`: the gateway agent in its standalone form (a static
//! configuration file) and its local status.
//!
//! ```text
//!  main (tokio) ── admin server (/status, /metrics)
//!       └── xc_gateway::Gateway: per link, the packet threads and the MKA thread
//!  SIGTERM / Ctrl-C ──► admin server stops, links stop, TAPs are removed
//! ```

use crate::output::{Format, print_list};
use anyhow::{Context, bail};
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum GatewayCommand {
    /// Run the gateway with a configuration file (see examples/gateway.toml).
    Run {
        #[arg(long)]
        config: PathBuf,
        /// Log filter (as RUST_LOG).
        #[arg(long, env = "XCONNECT_LOG", default_value = "info")]
        log: String,
    },
    /// Show the links of a running gateway: MKA state, keys' age, counters.
    Status {
        /// The gateway's admin address.
        #[arg(long, default_value = "127.0.0.1:7801")]
        admin: String,
        #[arg(long, value_enum, default_value = "table")]
        output: Format,
    },
}

pub async fn run(cmd: GatewayCommand) -> anyhow::Result<()> {
    match cmd {
        GatewayCommand::Run { config, log } => {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::try_new(&log).context("--log")?)
                .with_writer(std::io::stderr)
                .init();
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
            let gateway = tokio::task::spawn_blocking(move || {
                xc_gateway::Gateway::start(&cfg).map(|g| (g, cfg))
            })
            .await??;
            let (gateway, cfg) = gateway;
            println!(
                "xconnect gateway {} running {} link(s); status at http://{admin}/status",
                cfg.name,
                cfg.links.len()
            );
            let source = gateway.status_source();
            xc_gateway::admin::serve(listener, source, crate::server::shutdown_signal()).await?;
            tokio::task::spawn_blocking(move || drop(gateway)).await?;
            println!("xconnect gateway stopped");
            Ok(())
        }
        GatewayCommand::Status { admin, output } => {
            let url = format!("http://{admin}/status");
            let resp = reqwest::get(&url)
                .await
                .with_context(|| format!("cannot reach the gateway at {url}"))?;
            if !resp.status().is_success() {
                bail!("{url} answered HTTP {}", resp.status());
            }
            let st: xc_gateway::status::GatewayStatus = resp.json().await?;
            let rows: Vec<serde_json::Value> = st
                .links
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "link": l.name, "tap": l.tap, "mtu": l.mtu, "cipher": l.cipher,
                        "mka": l.mka.state,
                        "keyServer": if l.mka.key_server { "self" } else { "peer" },
                        "an": l.mka.current_an, "keyAge": l.mka.key_age_secs.map(|s| format!("{s}s")),
                        "rotations": l.mka.rotations,
                        "txPackets": l.counters.get("tx_packets"), "rxPackets": l.counters.get("rx_packets"),
                        "reason": l.mka.reason,
                    })
                })
                .collect();
            print_list(
                output,
                &st,
                &rows,
                &[
                    "link",
                    "tap",
                    "mtu",
                    "cipher",
                    "mka",
                    "keyServer",
                    "an",
                    "keyAge",
                    "rotations",
                    "txPackets",
                    "rxPackets",
                    "reason",
                ],
            )
        }
    }
}
