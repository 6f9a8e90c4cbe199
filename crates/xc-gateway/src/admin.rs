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

/// Renders the status as Prometheus text exposition.
pub fn render_metrics(st: &GatewayStatus) -> String {
    let mut out = String::new();
    family(
        &mut out,
        st,
        "xconnect_link_mka_secured",
        "gauge",
        "1 when MKA has keys installed both ways on the link.",
        |l| u64::from(l.mka.state == "secured"),
    );
    family(
        &mut out,
        st,
        "xconnect_link_mka_rotations_total",
        "counter",
        "SAK rotations on the link.",
        |l| l.mka.rotations,
    );
    let mut names: Vec<String> = Vec::new();
    for l in &st.links {
        if let Some(map) = l.counters.as_object() {
            for k in map.keys() {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
    }
    for n in names {
        let _ = writeln!(out, "# TYPE xconnect_link_{n}_total counter");
        for l in &st.links {
            let v = l.counters.get(&n).and_then(|v| v.as_u64()).unwrap_or(0);
            let _ = writeln!(
                out,
                "xconnect_link_{n}_total{{gateway=\"{}\",link=\"{}\"}} {v}",
                st.name, l.name
            );
        }
    }
    out
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
    use crate::status::{LinkStatus, MkaState};

    #[test]
    fn metrics_exposition() {
        let st = GatewayStatus {
            name: "gw".into(),
            keylog_enabled: false,
            links: vec![LinkStatus {
                name: "l1".into(),
                mka: MkaState {
                    state: "secured".into(),
                    rotations: 3,
                    ..MkaState::default()
                },
                counters: serde_json::json!({ "tx_packets": 42 }),
                ..LinkStatus::default()
            }],
        };
        let text = render_metrics(&st);
        assert!(
            text.contains("xconnect_link_mka_secured{gateway=\"gw\",link=\"l1\"} 1\n"),
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
    }
}
