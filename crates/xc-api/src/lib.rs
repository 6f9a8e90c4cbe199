//! HTTP front-ends of the control plane, over one service layer (`xc_control::Service`):
//!
//! - the AWS Interconnect API at `/`: `awsJson1_0` (`POST /` with `X-Amz-Target:
//!   Interconnect.<Op>`, what the AWS CLI and boto3 send) and `smithy-rpc-v2-cbor`
//!   (`POST /service/Interconnect/operation/<Op>`, what the AWS SDK for Rust sends);
//! - the native JSON API at `/v1/...` (see [`native`]) with its OpenAPI document;
//! - `/healthz`, unauthenticated.
//!
//! Handlers are thin: authenticate ([`auth::Authed`]), decode, call one service function, encode.
//! Errors are mapped to the wire once, in [`error::ApiError::parts`].
//! Architecture invariant: no business rule lives here; no SQL, no state but the `Service`.

pub mod audit;
pub mod auth;
pub mod aws;
pub mod cbor;
mod console;
pub mod error;
pub mod extract;
pub mod gateway_api;
mod native;
mod prometheus;
pub mod serve;
pub mod webhooks;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use error::ApiError;
use std::sync::Arc;
use xc_control::Service;

#[derive(Debug, Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    /// How long a request body may take to arrive.
    pub body_timeout: std::time::Duration,
}

/// A finished HTTP response.
#[derive(Debug)]
pub struct Reply(Response);

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        self.0
    }
}

/// Native API errors render as the native error body.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        Reply::native_error(self).0
    }
}

const JSON_1_0: &str = "application/x-amz-json-1.0";
const CBOR: &str = "application/cbor";

impl Reply {
    fn with(status: u16, content_type: &'static str, body: Vec<u8>) -> Response {
        let mut r = Response::new(axum::body::Body::from(body));
        *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        r
    }

    pub fn native_error(e: ApiError) -> Self {
        let (code, status, message, field) = e.parts();
        // The AWS protocols answer a request that is not (or not validly) signed with 403, as
        // AWS does; the native API says what HTTP means: 401, not authenticated.
        let unauthenticated = e.unauthenticated();
        let status = if unauthenticated {
            401
        } else if e.is_conflict() {
            // A valid request that the state of a resource does not allow: HTTP's 409 (the
            // AWS protocols say 400, as the model does).
            409
        } else {
            status
        };
        let body = xc_types::api::ErrorBody {
            code: code.to_owned(),
            message,
            field,
            reason: e.reason(),
        };
        let mut r = Self::with(
            status,
            "application/json",
            serde_json::to_vec(&body).unwrap_or_default(),
        );
        set_retry_after(&mut r, e.retry_after());
        if unauthenticated {
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("AWS4-HMAC-SHA256"),
            );
        }
        r.extensions_mut().insert(audit::Noted::error(code));
        Self(close_if(&e, r))
    }

    /// Names `resource` (what the request named) in the answer's audit record, unless the
    /// answer named one itself.
    pub(crate) fn naming(mut self, resource: Option<String>) -> Self {
        let noted = self
            .0
            .extensions_mut()
            .get_or_insert_default::<audit::Noted>();
        if noted.resource.is_none() {
            noted.resource = resource;
        }
        self
    }

    pub fn json<T: serde::Serialize>(status: u16, v: &T) -> Self {
        Self(Self::with(
            status,
            "application/json",
            serde_json::to_vec(v).unwrap_or_default(),
        ))
    }

    fn aws_json(result: Result<serde_json::Value, ApiError>) -> Self {
        match result {
            Ok(v) => {
                let mut r = Self::with(200, JSON_1_0, serde_json::to_vec(&v).unwrap_or_default());
                r.extensions_mut()
                    .insert(audit::Noted::resource(audit::resource_of(&v)));
                Self(r)
            }
            Err(e) => {
                let (code, status, message) = e.aws_parts();
                let body = serde_json::json!({ "__type": format!("{}#{code}", error::NAMESPACE), "message": message });
                let mut r = Self::with(
                    status,
                    JSON_1_0,
                    serde_json::to_vec(&body).unwrap_or_default(),
                );
                r.headers_mut()
                    .insert("x-amzn-errortype", HeaderValue::from_static(code));
                set_retry_after(&mut r, e.retry_after());
                r.extensions_mut().insert(audit::Noted::error(code));
                Self(close_if(&e, r))
            }
        }
    }

    fn aws_cbor(result: Result<serde_json::Value, ApiError>) -> Self {
        let close = result.as_ref().is_err_and(ApiError::closes_connection);
        let retry = result.as_ref().err().and_then(ApiError::retry_after);
        let (status, value, code) = match result {
            Ok(v) => (200, v, None),
            Err(e) => {
                let (code, status, message) = e.aws_parts();
                let body = serde_json::json!({ "__type": format!("{}#{code}", error::NAMESPACE), "message": message });
                (status, body, Some(code))
            }
        };
        let mut r = Self::with(status, CBOR, cbor::encode(&value));
        set_retry_after(&mut r, retry);
        r.extensions_mut().insert(match code {
            Some(code) => audit::Noted::error(code),
            None => audit::Noted::resource(audit::resource_of(&value)),
        });
        if close {
            r.headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        r.headers_mut()
            .insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
        if let Some(code) = code {
            r.headers_mut()
                .insert("x-amzn-errortype", HeaderValue::from_static(code));
        }
        Self(r)
    }
}

/// `Retry-After` on `r`, when the error says when to try again.
fn set_retry_after(r: &mut Response, secs: Option<i64>) {
    if let Some(secs) = secs {
        r.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
}

/// `r`, marked `Connection: close` when `e` leaves the connection unusable.
fn close_if(e: &ApiError, mut r: Response) -> Response {
    if e.closes_connection() {
        r.headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// The whole API; `limits.body` bounds the time a request body may take.
pub fn router(service: Arc<Service>, limits: &serve::Limits) -> Router {
    let state = AppState {
        service,
        body_timeout: limits.body,
    };
    Router::new()
        // (A browser at the root is sent to the console.)
        .route(
            "/",
            post(aws_json_handler).get(|| async { axum::response::Redirect::to("/console/") }),
        )
        .route(
            "/service/Interconnect/operation/{op}",
            post(aws_cbor_handler),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(prometheus::metrics))
        .merge(console::routes())
        .merge(native::routes())
        .merge(gateway_api::routes())
        // Every routed request timed by its operation (the server's `/metrics`), and recorded
        // in the audit trail once its caller is known.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            prometheus::timed,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::record,
        ))
        // Routing failures answer in the native error shape too (axum adds the Allow header).
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn no_route(method: http::Method, uri: http::Uri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

async fn method_not_allowed(method: http::Method, uri: http::Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

async fn run_operation(
    state: &AppState,
    parts: &http::request::Parts,
    body: &[u8],
    op: &str,
    input: Result<serde_json::Value, ApiError>,
) -> Result<serde_json::Value, ApiError> {
    let caller = auth::authenticate(state, parts, body).await?;
    let read = ["Get", "List", "Describe"]
        .iter()
        .any(|p| op.starts_with(p));
    state.service.admit(
        &caller,
        if read {
            xc_control::rate::Kind::Read
        } else {
            xc_control::rate::Kind::Write
        },
    )?;
    let input = input?;
    let r = aws::dispatch(&state.service, &caller, op, input).await;
    match &r {
        Ok(_) => tracing::debug!(%op, account = %caller.account, "aws operation"),
        Err(e) => {
            tracing::debug!(%op, account = %caller.account, error = e.parts().0, "aws operation failed")
        }
    }
    r
}

async fn aws_json_handler(State(state): State<AppState>, req: axum::extract::Request) -> Reply {
    let (parts, body) = req.into_parts();
    let body = match extract::read_body(body, auth::MAX_BODY, state.body_timeout).await {
        Ok(b) => b,
        Err(e) => return Reply::aws_json(Err(e)),
    };
    let target = header(&parts.headers, "x-amz-target").unwrap_or_default();
    let Some(op) = target.strip_prefix("Interconnect.") else {
        return Reply::aws_json(Err(ApiError::UnknownOperation(target)));
    };
    let input = if body.is_empty() {
        Ok(serde_json::json!({}))
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::Serialization(format!("request body is not valid JSON: {e}")))
    };
    let named = input.as_ref().ok().and_then(audit::named_in);
    Reply::aws_json(run_operation(&state, &parts, &body, op, input).await).naming(named)
}

async fn aws_cbor_handler(
    State(state): State<AppState>,
    Path(op): Path<String>,
    req: axum::extract::Request,
) -> Reply {
    let (parts, body) = req.into_parts();
    let body = match extract::read_body(body, auth::MAX_BODY, state.body_timeout).await {
        Ok(b) => b,
        Err(e) => return Reply::aws_cbor(Err(e)),
    };
    let input = cbor::decode(&body).map_err(ApiError::Serialization);
    let named = input.as_ref().ok().and_then(audit::named_in);
    Reply::aws_cbor(run_operation(&state, &parts, &body, &op, input).await).naming(named)
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Reads a PEM certificate chain and its key into a TLS server configuration.
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> std::io::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |what: &std::path::Path, e: rustls::pki_types::pem::Error| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", what.display()),
        )
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| invalid(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(cert, e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid(key, e))?;
    // Several rustls providers are linked in (via dependencies); choose ring explicitly.
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(std::io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(chain, key_der)
    .map_err(std::io::Error::other)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
