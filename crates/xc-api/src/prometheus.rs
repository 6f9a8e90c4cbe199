//! `GET /metrics`: the Prometheus exposition of the control plane. Each connection's metrics in
//! the latest minute its gateways reported (`xconnect_<metric>` for the connection,
//! `xconnect_<metric>_by_link` per link; labels `connection_id`, `account_id`: the side whose
//! gateways measured it, and `link_id`), and for the operator the server's own health: request
//! times by operation and status, the store's commit times, the reconciler's pass times, the
//! gateways connected.
//!
//! Scrapes authenticate with HTTP basic authentication, an access key id as the user and its
//! secret as the password (Prometheus's `basic_auth`), throttled as console sign-ins are: the
//! operator's key sees every account's series, any other key its own account's.

use crate::error::AuthFailure;
use crate::extract::Source;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use std::fmt::Write as _;
use xc_types::api::metrics::MetricName;

/// The exposition format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `ConnectionBpsEgress` -> `connection_bps_egress`.
pub fn snake(name: &str) -> String {
    let mut s = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// A metric's family name in the exposition and the factor its values take there: the snake
/// case of its name, but in base units (seconds, not milliseconds) and without a `_count`
/// suffix, as Prometheus's conventions want (`promtool check metrics`).
pub fn family(m: MetricName) -> (String, f64) {
    match m {
        MetricName::ConnectionRttMilliseconds => ("connection_rtt_seconds".into(), 1e-3),
        MetricName::ConnectionJitterMilliseconds => ("connection_jitter_seconds".into(), 1e-3),
        MetricName::ConnectionErrorCount => ("connection_errors".into(), 1.0),
        _ => (snake(m.as_str()), 1.0),
    }
}

/// A label value, escaped as the text format wants.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A 401 that asks for basic authentication.
fn unauthorized(failure: AuthFailure) -> Response {
    let mut r = ApiError::Auth(failure).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"xconnect\""),
    );
    r
}

/// The key id and secret of a basic `Authorization` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = v.strip_prefix("Basic ")?;
    if b64.len() > 512 {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

pub(crate) async fn metrics(
    State(s): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
) -> Response {
    let Some((key, secret)) = basic(&headers) else {
        return unauthorized(AuthFailure::Missing);
    };
    let caller = match s.service.authenticate_basic(&key, &secret, source).await {
        Ok(c) => c,
        Err(xc_control::ServiceError::AccessDenied(_)) => {
            return unauthorized(AuthFailure::UnknownKey);
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let latest = match s.service.latest_metrics(&caller).await {
        Ok(l) => l,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut out = String::new();
    for &m in MetricName::ALL {
        let (base, factor) = family(m);
        for by_link in [false, true] {
            let name = format!("xconnect_{base}{}", if by_link { "_by_link" } else { "" });
            let _ = writeln!(
                out,
                "# HELP {name} {} ({}: {}, the latest minute{})",
                m.describe(),
                m.as_str(),
                if factor == 1.0 { m.unit() } else { "Seconds" },
                if by_link { ", per link" } else { "" }
            );
            let _ = writeln!(out, "# TYPE {name} gauge");
            for v in latest
                .iter()
                .filter(|v| v.metric == m && v.link_id.is_some() == by_link)
            {
                let link = v
                    .link_id
                    .map(|l| format!(",link_id=\"{l}\""))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{name}{{connection_id=\"{}\",account_id=\"{}\"{link}}} {}",
                    escape(&v.connection_id),
                    escape(&v.account_id),
                    v.value * factor
                );
            }
        }
    }
    if caller.is_operator() {
        health(&s, &mut out).await;
    }
    let mut r = (StatusCode::OK, out).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
    r
}

/// The server's own series.
async fn health(s: &AppState, out: &mut String) {
    let name = "xconnect_api_request_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time to answer a request, by operation and HTTP status."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for ((operation, code), h) in s.service.telemetry.requests() {
        h.write(
            out,
            name,
            &format!("operation=\"{}\",code=\"{code}\"", escape(&operation)),
        );
    }
    let name = "xconnect_store_commit_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time to commit a batch of writes to the store, durably."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    s.service.commit_times().write(out, name, "");
    let name = "xconnect_reconciler_pass_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time of a reconciler pass (lifecycle and link planning)."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    s.service.telemetry.reconciler.write(out, name, "");
    let name = "xconnect_audit_write_failures_total";
    let _ = writeln!(
        out,
        "# HELP {name} Requests answered whose audit record could not be stored (a full disk)."
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    let _ = writeln!(out, "{name} {}", s.service.telemetry.audit_write_failures());
    if let Ok(n) = s.service.gateways_connected().await {
        let name = "xconnect_gateways_connected";
        let _ = writeln!(out, "# HELP {name} Gateways that reported within 30 s.");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name} {n}");
    }
    if let Ok(lags) = s.service.rollup_lag().await {
        let name = "xconnect_metrics_rollup_lag_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} How far behind the clock the metric rollups of each span are complete."
        );
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (span, lag) in lags {
            let _ = writeln!(out, "{name}{{span=\"{span}\"}} {lag}");
        }
    }
}

/// Times every routed request, by its operation: the AWS operation's name, or the native
/// route's method and path template.
pub(crate) async fn timed(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let operation = match crate::audit::Operation::of(&req) {
        crate::audit::Operation::Aws(op) => format!("aws:{op}"),
        crate::audit::Operation::Route(method, path) => format!("{method} {path}"),
    };
    let began = std::time::Instant::now();
    let r = next.run(req).await;
    s.service
        .telemetry
        .request(&operation, r.status().as_u16(), began.elapsed());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_credentials() {
        assert_eq!(snake("ConnectionBpsEgress"), "connection_bps_egress");
        assert_eq!(snake("BgpStatus"), "bgp_status");
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic QUtJQTpzM2NyZXQ6eA=="),
        );
        assert_eq!(basic(&h), Some(("AKIA".into(), "s3cret:x".into())));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(basic(&h), None);
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
