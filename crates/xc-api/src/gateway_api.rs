//! The gateway API at `/v1/gateway/...`: registration with a single-use token, then, with the
//! per-gateway credential (`Authorization: Bearer <gatewayId>.<secret>`), the configuration as
//! a blocking query and the status reports. Responses that carry link keys go to their gateway
//! only and are never logged.

use crate::error::ApiError;
use crate::{AppState, Reply};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use serde::Deserialize;
use std::time::Duration;
use xc_types::gateway::{ConfigResponse, RegisterRequest, ReportRequest, TestResult};

type R = Result<Reply, ApiError>;

/// The longest a blocking query waits.
const MAX_WAIT_SECS: u64 = 60;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/gateway/register", post(register))
        .route("/v1/gateway/config", get(config))
        .route("/v1/gateway/status", post(report))
        .route("/v1/gateway/tests", post(test_result))
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        ApiError::Service(xc_control::ServiceError::validation(
            &e.path().to_string(),
            e.inner(),
        ))
    })
}

async fn gateway(s: &AppState, headers: &http::HeaderMap) -> Result<String, ApiError> {
    let cred = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::Service(xc_control::ServiceError::AccessDenied(
                "a gateway request carries Authorization: Bearer <gatewayId>.<secret>".into(),
            ))
        })?;
    Ok(s.service.authenticate_gateway(cred).await?.id)
}

async fn register(State(s): State<AppState>, body: Bytes) -> R {
    let req: RegisterRequest = decode(&body)?;
    Ok(Reply::json(200, &s.service.register_gateway(req).await?))
}

#[derive(Debug, Deserialize)]
struct ConfigQuery {
    /// The index of the configuration the gateway has.
    index: Option<String>,
    /// How long to wait for a different one, in seconds.
    wait: Option<u64>,
}

async fn config(
    State(s): State<AppState>,
    headers: http::HeaderMap,
    Query(q): Query<ConfigQuery>,
) -> R {
    let id = gateway(&s, &headers).await?;
    s.service.touch_gateway(&id).await?;
    let mut epoch = s.service.config_epoch();
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(q.wait.unwrap_or(0).min(MAX_WAIT_SECS));
    loop {
        let (index, config) = s.service.gateway_config(&id).await?;
        let tests = s.service.take_tests(&id);
        if q.index.as_deref() != Some(index.as_str())
            || !tests.is_empty()
            || tokio::time::Instant::now() >= deadline
        {
            return Ok(Reply::json(
                200,
                &ConfigResponse {
                    index,
                    config,
                    tests,
                },
            ));
        }
        tokio::select! {
            _ = epoch.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

async fn report(State(s): State<AppState>, headers: http::HeaderMap, body: Bytes) -> R {
    let id = gateway(&s, &headers).await?;
    let r: ReportRequest = decode(&body)?;
    s.service.gateway_report(&id, r.version, r.status).await?;
    Ok(Reply::json(200, &serde_json::json!({})))
}

async fn test_result(State(s): State<AppState>, headers: http::HeaderMap, body: Bytes) -> R {
    let id = gateway(&s, &headers).await?;
    let r: TestResult = decode(&body)?;
    s.service.test_result(&id, r);
    Ok(Reply::json(200, &serde_json::json!({})))
}
