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
    /// Show a running gateway: links (MKA state, keys' age, counters), BGP neighbours, BFD,
    /// and the routes it installed.
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
            let (mut gateway, cfg) = gateway;
            if let Some(bgp) = cfg.bgp.clone() {
                match xc_gateway::routing::Routing::start(bgp).await {
                    Ok(r) => gateway.attach_routing(r),
                    Err(e) => {
                        tokio::task::spawn_blocking(move || drop(gateway)).await?;
                        return Err(anyhow::anyhow!(e).context("cannot start BGP"));
                    }
                }
            }
            println!(
                "xconnect gateway {} running {} link(s) and {} BGP neighbour(s); status at http://{admin}/status",
                cfg.name,
                cfg.links.len(),
                cfg.bgp.as_ref().map_or(0, |b| b.neighbors.len())
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
            if matches!(output, Format::Json) {
                return print_list(output, &st, &[], &[]);
            }
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
            if !st.links.is_empty() || st.bgp.is_none() {
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
                )?;
            }
            if let Some(bgp) = &st.bgp {
                println!(
                    "\nBGP AS {} router id {}, announcing {}",
                    bgp.asn,
                    bgp.router_id,
                    bgp.announced.join(", ")
                );
                let rows: Vec<serde_json::Value> = bgp
                    .neighbors
                    .iter()
                    .map(|n| {
                        serde_json::json!({
                            "neighbor": n.address, "as": n.remote_asn, "state": n.state,
                            "uptime": n.uptime_secs.map(|s| format!("{s}s")),
                            "received": n.prefixes_received, "accepted": n.prefixes_accepted,
                            "sent": n.prefixes_sent, "refused": n.prefixes_refused_total,
                            "bfd": n.bfd.as_ref().map(|b| b.state.clone()),
                            "md5": if n.md5 { "yes" } else { "no" },
                            "lastError": n.last_error.clone().or(n.connect_error.clone()),
                        })
                    })
                    .collect();
                print_list(
                    output,
                    &st,
                    &rows,
                    &[
                        "neighbor",
                        "as",
                        "state",
                        "uptime",
                        "received",
                        "accepted",
                        "sent",
                        "refused",
                        "bfd",
                        "md5",
                        "lastError",
                    ],
                )?;
                println!(
                    "\nRoutes in the kernel: {} ({} prefixes in the Loc-RIB){}",
                    bgp.routes_installed,
                    bgp.loc_rib,
                    if bgp.routes_installed > bgp.routes.len() {
                        format!(", first {} shown", bgp.routes.len())
                    } else {
                        String::new()
                    }
                );
                let rows: Vec<serde_json::Value> = bgp
                    .routes
                    .iter()
                    .map(|r| serde_json::json!({ "prefix": r.prefix, "nextHops": r.next_hops }))
                    .collect();
                print_list(output, &st, &rows, &["prefix", "nextHops"])?;
            }
            Ok(())
        }
    }
}
