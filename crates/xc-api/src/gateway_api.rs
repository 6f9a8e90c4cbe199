//! The gateway API at `/v1/gateway/...`: registration with a single-use token, then, with the
//! per-gateway credential (`Authorization: Bearer <gatewayId>.<secret>`), the configuration as
//! a blocking query and the status reports. Responses that carry link keys go to their gateway
//! only and are never logged.

use crate::error::ApiError;
use crate::extract::{Body, Q};
use crate::native::{on, reply};
use crate::{AppState, Reply};
use axum::Router;
use axum::extract::State;
use std::time::Duration;
use xc_types::api::Ack;
use xc_types::api::routes::{self as r, Endpoint};
use xc_types::gateway::{ConfigQuery, ConfigResponse};

type R = Result<Reply, ApiError>;

/// The largest body a gateway sends (a status report holds at most 1,000 routes).
const GATEWAY_MAX_BODY: usize = 2 << 20;

/// The longest a blocking query waits.
const MAX_WAIT_SECS: u64 = 60;

pub fn routes() -> Router<AppState> {
    let mut rt = Router::new();
    rt = on::<r::RegisterGateway, _, _>(rt, register);
    rt = on::<r::GetGatewayConfig, _, _>(rt, config);
    rt = on::<r::ReportGatewayStatus, _, _>(rt, report);
    rt = on::<r::ReportTestResult, _, _>(rt, test_result);
    rt = on::<r::ReportDryRun, _, _>(rt, dry_run_answer);
    rt
}

/// The body of route `E`, decoded (naming the member at fault).
fn body<E: Endpoint>(body: &[u8]) -> Result<E::Body, ApiError> {
    crate::extract::json_body(body)
}

async fn gateway(s: &AppState, headers: &http::HeaderMap) -> Result<String, ApiError> {
    let cred = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Auth(
            crate::error::AuthFailure::GatewayCredentialMissing,
        ))?;
    Ok(s.service.authenticate_gateway(cred).await?.id)
}

async fn register(
    State(s): State<AppState>,
    slot: Option<axum::Extension<crate::audit::Slot>>,
    Body(b): Body<GATEWAY_MAX_BODY>,
) -> R {
    let req = body::<r::RegisterGateway>(&b)?;
    let registered = s.service.register_gateway(req).await?;
    if let Some(axum::Extension(slot)) = slot {
        slot.note(crate::audit::Who {
            account: registered.account,
            key: None,
            principal: xc_types::api::audit::PrincipalKind::Gateway,
        });
    }
    let id = Some(registered.response.gateway_id.clone());
    Ok(reply::<r::RegisterGateway>(&registered.response)?.naming(id))
}

async fn config(
    State(s): State<AppState>,
    headers: http::HeaderMap,
    query: Result<Q<ConfigQuery>, ApiError>,
) -> R {
    // Who asks comes first: a stranger learns nothing about the query it sent.
    let id = gateway(&s, &headers).await?;
    let Q(q) = query?;
    s.service.touch_gateway(&id);
    let mut changes = s.service.config_waiter();
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(q.wait.unwrap_or(0).min(MAX_WAIT_SECS));
    loop {
        changes.read();
        let (index, config) = s.service.gateway_config(&id).await?;
        let (tests, dry_runs) = s.service.take_asks(&id).await?;
        if q.index.as_deref() != Some(index.as_str())
            || !tests.is_empty()
            || !dry_runs.is_empty()
            || tokio::time::Instant::now() >= deadline
        {
            return reply::<r::GetGatewayConfig>(&ConfigResponse {
                index,
                config,
                tests,
                dry_runs,
            });
        }
        // Woken by a change that concerns this gateway on any replica
        // (`Service::config_changed_for`, carried between replicas by LISTEN/NOTIFY), or at the
        // deadline: no polling, and no read for a change to other gateways.
        tokio::select! {
            _ = changes.wait(&id) => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

async fn report(
    State(s): State<AppState>,
    headers: http::HeaderMap,
    Body(b): Body<GATEWAY_MAX_BODY>,
) -> R {
    let id = gateway(&s, &headers).await?;
    let req = body::<r::ReportGatewayStatus>(&b)?;
    let ack = s
        .service
        .gateway_report(
            &id,
            req.version,
            req.status,
            req.boot,
            req.samples,
            req.flow_logs,
        )
        .await?;
    reply::<r::ReportGatewayStatus>(&ack)
}

async fn test_result(
    State(s): State<AppState>,
    headers: http::HeaderMap,
    Body(b): Body<GATEWAY_MAX_BODY>,
) -> R {
    let id = gateway(&s, &headers).await?;
    let result = body::<r::ReportTestResult>(&b)?;
    s.service.test_result(&id, result).await?;
    reply::<r::ReportTestResult>(&Ack {})
}

async fn dry_run_answer(
    State(s): State<AppState>,
    headers: http::HeaderMap,
    Body(b): Body<GATEWAY_MAX_BODY>,
) -> R {
    let id = gateway(&s, &headers).await?;
    let answer = body::<r::ReportDryRun>(&b)?;
    s.service.dry_run_answer(&id, answer).await?;
    reply::<r::ReportDryRun>(&Ack {})
}
