//! The gateway's local admin endpoint: `GET /status` (JSON) and `GET /metrics` (Prometheus text).

use crate::status::GatewayStatus;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use std::fmt::Write as _;
use std::sync::Arc;

type Source = Arc<dyn Fn() -> GatewayStatus + Send + Sync>;

pub fn router(source: Source) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(source)
}

async fn status(State(s): State<Source>) -> impl IntoResponse {
    axum::Json(s())
}

/// Writes one metric family with a value per link.
fn family(
    out: &mut String,
    st: &GatewayStatus,
    name: &str,
    kind: &str,
    help: &str,
    value: impl Fn(&crate::status::LinkStatus) -> u64,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for l in &st.links {
        let _ = writeln!(
            out,
            "{name}{{gateway=\"{}\",link=\"{}\"}} {}",
            st.name,
            l.name,
            value(l)
        );
    }
}

/// What a link counter counts (`LinkCounters`).
fn counter_help(name: &str) -> &'static str {
    match name {
        "tx_packets" => "Frames sent protected to the peer (each segment of an offloaded frame).",
        "tx_bytes" => "Bytes of the frames sent (inner Ethernet frames, before protection).",
        "rx_packets" => "Frames from the peer validated and written to the TAP.",
        "rx_bytes" => "Bytes of the frames received (inner Ethernet frames).",
        "tx_dropped_policer" => "Frames dropped on transmit over the bandwidth.",
        "tx_shaped" => "Frames the transmit shaper held back until the bandwidth allowed them.",
        "rx_dropped_policer" => "Frames dropped by the ingress policer.",
        "tx_dropped_no_sa" => "Frames not sent: no transmit SA yet (MKA not secured).",
        "rx_dropped_invalid" => "Received frames that failed MACsec validation.",
        "rx_dropped_replay" => "Received frames dropped as replays.",
        "rx_dropped_icv" => "Received frames whose ICV did not verify.",
        "rx_dropped_vxlan" => "Datagrams that were not VXLAN for this link's VNI.",
        "tx_dropped_filter" => {
            "Frames from the attach point's network refused by its filters (network ACL, security groups)."
        }
        "rx_dropped_filter" => "Frames from the peer refused by the attach point's filters.",
        "tx_dropped_offload" => {
            "TAP reads whose offload request (segmentation, checksum) could not be carried out."
        }
        "tx_segmented" => "TAP reads of a TSO or USO frame that the link cut into segments.",
        "mkpdus_tx" => "MKPDUs sent on the link.",
        "mkpdus_rx" => "MKPDUs received on the link.",
        "io_errors" => "Errors writing to the TAP or the socket.",
        "keepalives_tx" => "Keepalives sent on the link (liveness on: one every interval).",
        "keepalives_rx" => "Keepalives from the peer that validated.",
        "carrier_downs" => {
            "Times the link was found dead (nothing validated for the detection time): its carrier went off."
        }
        _ => "A link counter.",
    }
}

/// Renders the status as Prometheus text exposition.
pub fn render_metrics(st: &GatewayStatus) -> String {
    let mut out = String::new();
    family(
        &mut out,
        st,
        "xconnect_link_mka_secured",
        "gauge",
        "1 when MKA has keys installed both ways on the link.",
        |l| u64::from(l.mka.state == crate::status::MkaState::Secured),
    );
    family(
        &mut out,
        st,
        "xconnect_link_mka_rotations_total",
        "counter",
        "SAK rotations on the link.",
        |l| l.mka.rotations,
    );
    family(
        &mut out,
        st,
        "xconnect_link_egress_limit_bytes_per_second",
        "gauge",
        "The rate the link's transmit side shapes to: its bandwidth, or its part of the bandwidth it shares with its connection's other links (0: not shaped).",
        |l| l.egress_bps.unwrap_or(0) / 8,
    );
    let names = crate::status::LinkCounters::default()
        .fields()
        .map(|(n, _)| n);
    for (i, n) in names.iter().enumerate() {
        let _ = writeln!(out, "# HELP xconnect_link_{n}_total {}", counter_help(n));
        let _ = writeln!(out, "# TYPE xconnect_link_{n}_total counter");
        for l in &st.links {
            let v = l.counters.fields()[i].1;
            let _ = writeln!(
                out,
                "xconnect_link_{n}_total{{gateway=\"{}\",link=\"{}\"}} {v}",
                st.name, l.name
            );
        }
    }
    if let Some(bgp) = &st.bgp {
        render_bgp(&mut out, &st.name, bgp);
    }
    if let Some(f) = &st.filters {
        render_filters(&mut out, &st.name, f);
    }
    out
}

/// The filters: drops by cause, hits per rule, the connection table's occupancy.
fn render_filters(out: &mut String, gateway: &str, f: &crate::status::FilterStatus) {
    let _ = writeln!(
        out,
        "# HELP xconnect_filter_drops_total Packets the attach point's filters dropped, by cause."
    );
    let _ = writeln!(out, "# TYPE xconnect_filter_drops_total counter");
    let d = &f.drops;
    for (cause, n) in [
        ("acl_deny", d.acl_deny),
        ("no_rule", d.no_rule),
        ("table_full", d.table_full),
        ("fragment", d.fragment),
        ("malformed", d.malformed),
    ] {
        let _ = writeln!(
            out,
            "xconnect_filter_drops_total{{gateway=\"{gateway}\",cause=\"{cause}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP xconnect_filter_rule_hits_total Packets a rule decided (a security group rule: the flows it admitted)."
    );
    let _ = writeln!(out, "# TYPE xconnect_filter_rule_hits_total counter");
    for r in &f.rules {
        let _ = writeln!(
            out,
            "xconnect_filter_rule_hits_total{{gateway=\"{gateway}\",rule=\"{}\",action=\"{}\"}} {}",
            r.rule,
            r.action.as_str(),
            r.hits
        );
    }
    for (name, help, v) in [
        (
            "xconnect_filter_flows",
            "Flows in the connection table.",
            f.flows,
        ),
        (
            "xconnect_filter_flow_capacity",
            "The connection table's size limit.",
            f.flow_capacity,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name}{{gateway=\"{gateway}\"}} {v}");
    }
    let name = "xconnect_filter_flows_shared_total";
    let _ = writeln!(
        out,
        "# HELP {name} Flows shared with the attach point's other gateways, by event: sent, dropped (queue full), adopted, refused (not admitted here)."
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    let s = &f.shared;
    for (event, v) in [
        ("sent", s.sent),
        ("dropped", s.dropped),
        ("adopted", s.adopted),
        ("refused", s.refused),
    ] {
        let _ = writeln!(out, "{name}{{gateway=\"{gateway}\",event=\"{event}\"}} {v}");
    }
}

/// BGP and BFD per neighbour, and the routes in the kernel.
fn render_bgp(out: &mut String, gateway: &str, bgp: &crate::status::RoutingStatus) {
    type Value = fn(&crate::status::NeighborStatus) -> u64;
    let families: [(&str, &str, &str, Value); 6] = [
        (
            "xconnect_bgp_session_established",
            "gauge",
            "1 when the BGP session is Established.",
            |n| u64::from(n.state == crate::status::BgpState::Established),
        ),
        (
            "xconnect_bgp_prefixes_received",
            "gauge",
            "Prefixes the neighbour announces now.",
            |n| n.prefixes_received as u64,
        ),
        (
            "xconnect_bgp_prefixes_accepted",
            "gauge",
            "Prefixes accepted by the import filter.",
            |n| n.prefixes_accepted as u64,
        ),
        (
            "xconnect_bgp_prefixes_sent",
            "gauge",
            "Prefixes announced to the neighbour.",
            |n| n.prefixes_sent as u64,
        ),
        (
            "xconnect_bgp_prefixes_refused_total",
            "counter",
            "Prefixes refused by the import filter.",
            |n| n.prefixes_refused_total,
        ),
        (
            "xconnect_bgp_established_transitions_total",
            "counter",
            "Times the session reached Established.",
            |n| n.established_transitions,
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for n in &bgp.neighbors {
            let _ = writeln!(
                out,
                "{name}{{gateway=\"{gateway}\",neighbor=\"{}\"}} {}",
                n.address,
                value(n)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP xconnect_bfd_session_up 1 when the BFD session is Up."
    );
    let _ = writeln!(out, "# TYPE xconnect_bfd_session_up gauge");
    for n in &bgp.neighbors {
        if let Some(b) = &n.bfd {
            let _ = writeln!(
                out,
                "xconnect_bfd_session_up{{gateway=\"{gateway}\",neighbor=\"{}\"}} {}",
                n.address,
                u64::from(b.state == crate::status::BfdState::Up)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP xconnect_routes_installed Routes this gateway installed in the kernel."
    );
    let _ = writeln!(out, "# TYPE xconnect_routes_installed gauge");
    let _ = writeln!(
        out,
        "xconnect_routes_installed{{gateway=\"{gateway}\"}} {}",
        bgp.routes_installed
    );
}

async fn metrics(State(s): State<Source>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        render_metrics(&s()),
    )
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    source: Source,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(source))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{BfdState, BgpState, LinkCounters, LinkStatus, MkaState, MkaStatus};

    #[test]
    fn metrics_exposition() {
        let st = GatewayStatus {
            name: "gw".into(),
            keylog_enabled: false,
            idle_poll_ms: 0,
            busy_poll_us: 100,
            links: vec![LinkStatus {
                name: "l1".into(),
                mka: MkaStatus {
                    state: MkaState::Secured,
                    rotations: 3,
                    ..MkaStatus::default()
                },
                counters: LinkCounters {
                    tx_packets: 42,
                    ..LinkCounters::default()
                },
                egress_bps: Some(250_000_000),
                ..LinkStatus::default()
            }],
            bgp: Some(crate::status::RoutingStatus {
                neighbors: vec![crate::status::NeighborStatus {
                    address: "169.254.0.1".into(),
                    state: BgpState::Established,
                    prefixes_accepted: 7,
                    bfd: Some(crate::status::BfdStatus {
                        state: BfdState::Up,
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                routes_installed: 7,
                ..Default::default()
            }),
            access: vec![],
            filters: Some(xc_types::gateway::FilterStatus {
                security_groups: 1,
                network_acl: Some("acl-00000000000000b1".into()),
                flows: 5,
                flow_capacity: 100,
                drops: xc_types::gateway::FilterDrops {
                    no_rule: 9,
                    ..Default::default()
                },
                rules: vec![xc_types::gateway::RuleHits {
                    rule: "sgr-00000000000000b1".into(),
                    action: xc_types::filter::RuleAction::Allow,
                    hits: 4,
                }],
                shared: xc_types::gateway::FlowSharing {
                    adopted: 2,
                    ..Default::default()
                },
            }),
        };
        let text = render_metrics(&st);
        assert!(
            text.contains("xconnect_link_mka_secured{gateway=\"gw\",link=\"l1\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "xconnect_link_egress_limit_bytes_per_second{gateway=\"gw\",link=\"l1\"} 31250000\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("xconnect_link_mka_rotations_total{gateway=\"gw\",link=\"l1\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE xconnect_link_tx_packets_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("xconnect_link_tx_packets_total{gateway=\"gw\",link=\"l1\"} 42\n"),
            "{text}"
        );
        for line in [
            "xconnect_bgp_session_established{gateway=\"gw\",neighbor=\"169.254.0.1\"} 1\n",
            "xconnect_bgp_prefixes_accepted{gateway=\"gw\",neighbor=\"169.254.0.1\"} 7\n",
            "xconnect_bfd_session_up{gateway=\"gw\",neighbor=\"169.254.0.1\"} 1\n",
            "xconnect_routes_installed{gateway=\"gw\"} 7\n",
            "xconnect_filter_drops_total{gateway=\"gw\",cause=\"no_rule\"} 9\n",
            "xconnect_filter_rule_hits_total{gateway=\"gw\",rule=\"sgr-00000000000000b1\",action=\"allow\"} 4\n",
            "xconnect_filter_flows{gateway=\"gw\"} 5\n",
            "xconnect_filter_flows_shared_total{gateway=\"gw\",event=\"adopted\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        // Every family has its HELP and TYPE (promtool checks the text: `tests/metrics.rs`).
        let families = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!(
            text.lines().filter(|l| l.starts_with("# HELP ")).count(),
            families
        );
    }
}
