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

/// Renders the status as Prometheus text exposition.
pub fn render_metrics(st: &GatewayStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP xconnect_link_mka_secured 1 when MKA has keys installed both ways on the link."
    );
    let _ = writeln!(out, "# TYPE xconnect_link_mka_secured gauge");
    for l in &st.links {
        let _ = writeln!(
            out,
            "xconnect_link_mka_secured{{gateway=\"{}\",link=\"{}\"}} {}",
            st.name,
            l.name,
            u8::from(l.mka.state == "secured")
        );
    }
    let _ = writeln!(
        out,
        "# HELP xconnect_link_mka_rotations_total SAK rotations on the link."
    );
    let _ = writeln!(out, "# TYPE xconnect_link_mka_rotations_total counter");
    for l in &st.links {
        let _ = writeln!(
            out,
            "xconnect_link_mka_rotations_total{{gateway=\"{}\",link=\"{}\"}} {}",
            st.name, l.name, l.mka.rotations
        );
    }
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
