//! Authentication of every API request, written once: [`Authed`] is the extractor that verifies
//! the SigV4 signature over the method, path, query, headers and body, and yields the caller. On
//! the native API (`/v1/...`) a request without a signature may instead carry the console's
//! session cookie; a change (anything but GET and HEAD) then needs the session's CSRF token in
//! `X-CSRF-Token` too.

use crate::AppState;
use crate::error::{ApiError, AuthFailure};
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use xc_control::Caller;
use xc_types::api::audit::PrincipalKind;

/// An authenticated request: who sent it, and its body (already read for the signature).
#[derive(Debug)]
pub struct Authed {
    pub caller: Caller,
    pub body: Bytes,
}

impl Authed {
    /// The body of route `E`, decoded.
    pub fn body<E: xc_types::api::routes::Endpoint>(&self) -> Result<E::Body, ApiError> {
        self.json()
    }

    /// Decodes the JSON body, naming the member at fault when it does not fit.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body: &[u8] = if self.body.is_empty() {
            b"{}"
        } else {
            &self.body
        };
        crate::extract::json_body(body)
    }
}

/// The largest request body accepted (AWS's JSON APIs allow far less for this model).
pub const MAX_BODY: usize = 1 << 20;

impl FromRequest<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let body = crate::extract::read_body(body, MAX_BODY, state.body_timeout).await?;
        let caller = authenticate(state, &parts, &body).await?;
        let kind = if matches!(parts.method, http::Method::GET | http::Method::HEAD) {
            xc_control::rate::Kind::Read
        } else {
            xc_control::rate::Kind::Write
        };
        state.service.admit(&caller, kind)?;
        Ok(Self { caller, body })
    }
}

/// The console's session cookie.
pub const SESSION_COOKIE: &str = "xc_session";

/// The value of a cookie of the request.
pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub async fn authenticate(
    state: &AppState,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<Caller, ApiError> {
    let native =
        parts.uri.path().starts_with("/v1/") && !parts.uri.path().starts_with("/v1/gateway/");
    if native
        && !parts.headers.contains_key(http::header::AUTHORIZATION)
        && let Some(token) = cookie(&parts.headers, SESSION_COOKIE)
    {
        let caller = state
            .service
            .session(token)
            .await?
            .ok_or(ApiError::Auth(AuthFailure::Session))?;
        if !matches!(parts.method, http::Method::GET | http::Method::HEAD) {
            let presented = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !state.service.csrf_ok(token, presented) {
                return Err(ApiError::Auth(AuthFailure::Csrf));
            }
        }
        crate::audit::Slot::set(
            &parts.extensions,
            crate::audit::Who::caller(&caller, PrincipalKind::ConsoleSession),
        );
        return Ok(caller);
    }
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .ok_or(ApiError::Auth(AuthFailure::Missing))?
        .to_str()
        .map_err(|_| {
            ApiError::Auth(AuthFailure::Signature(xc_sigv4::Error::Malformed(
                "not ASCII",
            )))
        })?;
    let auth = xc_sigv4::Authorization::parse(header)
        .map_err(|e| ApiError::Auth(AuthFailure::Signature(e)))?;
    let (caller, secret) = state
        .service
        .credentials_for(&auth.access_key_id)
        .await?
        .ok_or(ApiError::Auth(AuthFailure::UnknownKey))?;
    let mut headers: Vec<(&str, &str)> = Vec::with_capacity(parts.headers.len() + 1);
    for (k, v) in &parts.headers {
        if let Ok(v) = v.to_str() {
            headers.push((k.as_str(), v));
        }
    }
    // HTTP/2 carries the host in the URI authority rather than a Host header.
    let authority = parts.uri.authority().map(|a| a.as_str().to_owned());
    if !parts.headers.contains_key(http::header::HOST)
        && let Some(a) = authority.as_deref()
    {
        headers.push(("host", a));
    }
    let request = xc_sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body,
    };
    let expect = xc_sigv4::Expect {
        region: state.service.region(),
        service: "interconnect",
        now: time::OffsetDateTime::now_utc(),
        // What decides how the body is read, and (with X-Amz-Target, an x-amz-* header and so
        // always required) which operation runs.
        signed_if_present: &["content-type", "smithy-protocol"],
    };
    xc_sigv4::verify(&request, &auth, &secret, &expect).map_err(|e| {
        let source = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        tracing::info!(key = %auth.access_key_id, source = ?source, error = %e, "signature refused");
        ApiError::Auth(AuthFailure::Signature(e))
    })?;
    crate::audit::Slot::set(
        &parts.extensions,
        crate::audit::Who::caller(&caller, PrincipalKind::AccessKey),
    );
    Ok(caller)
}
