//! The request parts every route reads, with failures in the API's error shape (JSON, a code,
//! the member at fault) instead of the framework's plain-text rejections: the query string, a
//! path parameter, and an unauthenticated body read within a bound.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use bytes::Bytes;
use http::request::Parts;

/// The query string decoded into `T`: a parameter given more than once is a list
/// (`keys=a&keys=b`); a parameter that does not fit answers 400 naming it, as does one given
/// without a value (`accountId=` is a mistake, not "any account").
#[derive(Debug)]
pub struct Q<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        if let Some((name, _)) =
            form_urlencoded::parse(query.as_bytes()).find(|(_, v)| v.is_empty())
        {
            return Err(ApiError::validation(
                &name,
                "the parameter is given without a value; leave it out instead",
            ));
        }
        serde_html_form::from_str(query)
            .map(Q)
            .map_err(|e| ApiError::validation("query", format!("the query string {e}")))
    }
}

/// The one parameter of a route's path (an id), percent-decoded.
#[derive(Debug)]
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Id(id))
            .map_err(|e| ApiError::validation("path", e.body_text()))
    }
}

/// A request body of at most `MAX` bytes, for the routes that authenticate from the body itself
/// (a gateway's registration, a console sign-in) or by other means (gateway reports).
#[derive(Debug)]
pub struct Body<const MAX: usize>(pub Bytes);

impl<const MAX: usize> FromRequest<AppState> for Body<MAX> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        read_body(req.into_body(), MAX, state.body_timeout)
            .await
            .map(Body)
    }
}

/// Reads a body of at most `max` bytes, within `timeout`.
pub async fn read_body(
    body: axum::body::Body,
    max: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, ApiError> {
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, max))
        .await
        .map_err(|_| ApiError::BodyTimeout { limit: timeout })?;
    read.map_err(|e| {
        // A body cut short by the client is not "too large"; say which it was.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<http_body_util::LengthLimitError>() {
                return ApiError::TooLarge { limit: max };
            }
            cause = c.source();
        }
        ApiError::Serialization(format!("the request body could not be read: {e}"))
    })
}

/// The address a request came from (the TCP peer: a proxy in front is one address). A router
/// served without connection info (an in-process test) gives `0.0.0.0` for every request.
#[derive(Debug, Clone, Copy)]
pub struct Source(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(Source(ip))
    }
}

/// Decodes a JSON request body into `T`, naming the member at fault when it does not fit. The
/// body must be an object: serde would otherwise take an array as a struct's fields in order.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{') {
        return Err(ApiError::Serialization(
            "request body: expected a JSON object".to_owned(),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        if path.is_empty() || path == "." {
            ApiError::Serialization(format!("request body: {}", e.inner()))
        } else {
            ApiError::validation(&path, e.inner())
        }
    })
}
