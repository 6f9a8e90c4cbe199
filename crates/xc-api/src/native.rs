//! The native JSON API at `/v1/...`: everything the AWS model has and what it lacks (accounts,
//! keys, attach points, proposals, catalog browsing), over the same service functions.

use crate::auth::Authed;
use crate::error::ApiError;
use crate::{AppState, Reply};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use serde::Deserialize;
use xc_control::ListConnectionsInput;
use xc_types::api::*;

type R = Result<Reply, ApiError>;

fn ok<T: serde::Serialize>(v: &T) -> R {
    Ok(Reply::json(200, v))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/whoami", get(whoami))
        .route("/v1/accounts", post(create_account).get(list_accounts))
        .route("/v1/access-keys", post(create_key).get(list_keys))
        .route(
            "/v1/access-keys/{id}",
            axum::routing::patch(update_key).delete(delete_key),
        )
        .route("/v1/environments", get(list_environments))
        .route("/v1/environments/{id}", get(get_environment))
        .route("/v1/facilities", get(list_facilities))
        .route(
            "/v1/attach-points",
            post(create_attach_point).get(list_attach_points),
        )
        .route(
            "/v1/attach-points/{id}",
            get(get_attach_point)
                .patch(update_attach_point)
                .delete(delete_attach_point),
        )
        .route(
            "/v1/connections",
            post(create_connection).get(list_connections),
        )
        .route("/v1/connections/accept", post(accept_connection))
        .route(
            "/v1/connections/{id}",
            get(get_connection)
                .patch(update_connection)
                .delete(delete_connection),
        )
        .route(
            "/v1/connections/{id}/tags",
            post(tag_connection).delete(untag_connection),
        )
        .route("/v1/connections/{id}/links", get(connection_links))
        .route("/v1/connections/{id}/events", get(connection_events))
        .route("/v1/connections/{id}/test", post(test_connection))
        .route("/v1/gateway-tokens", post(create_gateway_token))
        .route("/v1/gateways", get(list_gateways))
        .route("/v1/gateways/{id}", get(get_gateway).delete(delete_gateway))
        .route("/v1/proposals", post(create_proposal).get(list_proposals))
        .route("/v1/proposals/describe", post(describe_proposal))
        .route(
            "/v1/proposals/{id}",
            axum::routing::delete(withdraw_proposal),
        )
}

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

async fn whoami(a: Authed) -> R {
    let c = &a.caller;
    ok(&WhoAmI {
        account_id: c.account.clone(),
        account_name: c.account_name.clone(),
        access_key_id: c.key.clone(),
        role: c.role,
        operator: c.is_operator(),
    })
}

async fn create_account(State(s): State<AppState>, a: Authed) -> R {
    let req: CreateAccountRequest = a.json()?;
    let creds = s.service.create_account(&a.caller, &req.name).await?;
    Ok(Reply::json(201, &creds))
}

async fn list_accounts(State(s): State<AppState>, a: Authed) -> R {
    ok(&AccountList {
        accounts: s.service.list_accounts(&a.caller).await?,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AccountQuery {
    account_id: Option<String>,
}

async fn create_key(State(s): State<AppState>, Query(q): Query<AccountQuery>, a: Authed) -> R {
    let req: CreateAccessKeyRequest = a.json()?;
    let creds = s
        .service
        .create_access_key(&a.caller, q.account_id.as_deref(), req.role)
        .await?;
    Ok(Reply::json(201, &creds))
}

async fn list_keys(State(s): State<AppState>, Query(q): Query<AccountQuery>, a: Authed) -> R {
    ok(&s
        .service
        .list_access_keys(&a.caller, q.account_id.as_deref())
        .await?)
}

async fn update_key(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    let req: UpdateAccessKeyRequest = a.json()?;
    s.service
        .change_access_key(&a.caller, &id, Some(req.status))
        .await?;
    ok(&serde_json::json!({ "accessKeyId": id, "status": req.status }))
}

async fn delete_key(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    s.service.change_access_key(&a.caller, &id, None).await?;
    ok(&serde_json::json!({ "accessKeyId": id, "deleted": true }))
}

async fn list_environments(State(s): State<AppState>, a: Authed) -> R {
    let (environments, _) = s
        .service
        .list_environments(&a.caller, None, None, Some(100), None)?;
    ok(&EnvironmentList { environments })
}

async fn get_environment(State(s): State<AppState>, Path(id): Path<String>, _a: Authed) -> R {
    ok(s.service.environment(&id)?)
}

async fn list_facilities(State(s): State<AppState>, _a: Authed) -> R {
    ok(&FacilityList {
        facilities: s.service.catalog().facilities().to_vec(),
    })
}

async fn create_attach_point(State(s): State<AppState>, a: Authed) -> R {
    let req: CreateAttachPointRequest = a.json()?;
    let ap = s.service.create_attach_point(&a.caller, req).await?;
    Ok(Reply::json(201, &ap))
}

async fn list_attach_points(State(s): State<AppState>, a: Authed) -> R {
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let (page, next) = s
            .service
            .list_own_attach_points(&a.caller, Some(100), token.as_deref(), "native")
            .await?;
        all.extend(page);
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    ok(&AttachPointList { attach_points: all })
}

async fn get_attach_point(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    ok(&s.service.get_attach_point(&a.caller, &id).await?)
}

async fn update_attach_point(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    let req: UpdateAttachPointRequest = a.json()?;
    ok(&s.service.update_attach_point(&a.caller, &id, req).await?)
}

async fn delete_attach_point(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    s.service.delete_attach_point(&a.caller, &id).await?;
    ok(&serde_json::json!({ "id": id, "deleted": true }))
}

/// `?dryRun=true` checks the request against every rule and stores nothing (the console's
/// validation as you type): `200 {"valid": true}`, or `200 {"valid": false, "code", "message",
/// "field"}` with the error that creating it would give.
async fn create_connection(
    State(s): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    a: Authed,
) -> R {
    if q.get("dryRun").is_some_and(|v| v == "true") {
        let checked = match a.json::<CreateConnectionRequest>() {
            Ok(req) => s
                .service
                .validate_connection(&a.caller, req)
                .await
                .map_err(ApiError::from),
            Err(e) => Err(e),
        };
        return ok(&match checked {
            Ok(()) => serde_json::json!({ "valid": true }),
            Err(e) => {
                let (code, _, message, field) = e.parts();
                serde_json::json!({ "valid": false, "code": code, "message": message, "field": field })
            }
        });
    }
    let req: CreateConnectionRequest = a.json()?;
    let d = s.service.create_connection(&a.caller, req).await?;
    Ok(Reply::json(201, &d.to_view()))
}

async fn accept_connection(State(s): State<AppState>, a: Authed) -> R {
    let req: AcceptConnectionRequest = a.json()?;
    ok(&s.service.accept(&a.caller, req).await?.to_view())
}

async fn get_connection(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    ok(&s.service.get_connection(&a.caller, &id).await?.to_view())
}

async fn list_connections(
    State(s): State<AppState>,
    Query(q): Query<ListConnectionsQuery>,
    a: Authed,
) -> R {
    let input = ListConnectionsInput {
        state: q.state,
        environment_id: q.environment_id,
        provider: None,
        attach_point: q.attach_point,
        max_results: q.max_results.map(|n| n as usize),
        next_token: q.next_token,
    };
    let (list, next_token) = s.service.list_connections(&a.caller, input).await?;
    ok(&ConnectionList {
        connections: list.iter().map(|d| d.to_view()).collect(),
        next_token,
    })
}

async fn update_connection(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    let req: UpdateConnectionRequest = a.json()?;
    ok(&s
        .service
        .update_connection(&a.caller, &id, req)
        .await?
        .to_view())
}

async fn delete_connection(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    ok(&s
        .service
        .delete_connection(&a.caller, &id, None)
        .await?
        .to_view())
}

async fn arn_of(s: &AppState, a: &Authed, id: &str) -> Result<String, ApiError> {
    Ok(s.service.get_connection(&a.caller, id).await?.arn)
}

async fn tag_connection(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    let req: TagRequest = a.json()?;
    let arn = arn_of(&s, &a, &id).await?;
    s.service.tag(&a.caller, &arn, req.tags, Vec::new()).await?;
    ok(&TagRequest {
        tags: s.service.tags(&a.caller, &arn).await?,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UntagQuery {
    keys: String,
}

async fn untag_connection(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<UntagQuery>,
    a: Authed,
) -> R {
    let arn = arn_of(&s, &a, &id).await?;
    let keys = q.keys.split(',').map(str::to_owned).collect();
    s.service
        .tag(&a.caller, &arn, Default::default(), keys)
        .await?;
    ok(&TagRequest {
        tags: s.service.tags(&a.caller, &arn).await?,
    })
}

async fn create_proposal(State(s): State<AppState>, a: Authed) -> R {
    let req: CreateProposalRequest = a.json()?;
    Ok(Reply::json(
        201,
        &s.service.create_proposal(&a.caller, req).await?,
    ))
}

async fn list_proposals(State(s): State<AppState>, a: Authed) -> R {
    ok(&ProposalList {
        proposals: s.service.list_proposals(&a.caller).await?,
    })
}

async fn withdraw_proposal(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    ok(&s.service.withdraw_proposal(&a.caller, &id).await?)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DescribeRequest {
    activation_key: String,
}

async fn describe_proposal(State(s): State<AppState>, a: Authed) -> R {
    let req: DescribeRequest = a.json()?;
    let p = s
        .service
        .describe_proposal(&a.caller, &req.activation_key)
        .await?;
    ok(&serde_json::json!({
        "environmentId": p.environment.id,
        "provider": p.environment.provider.name(),
        "location": p.environment.location,
        "productType": p.environment.product_type,
        "bandwidth": p.bandwidth,
        "proposedBy": p.proposer,
        "proposedByName": p.proposer_name,
        "expiresAt": p.expires_at,
        "kind": p.kind,
    }))
}

async fn connection_links(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    ok(&s.service.connection_links(&a.caller, &id).await?)
}

async fn connection_events(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    ok(&s.service.connection_events(&a.caller, &id).await?)
}

async fn create_gateway_token(State(s): State<AppState>, a: Authed) -> R {
    let req: xc_types::gateway::TokenRequest = a.json()?;
    ok(&s.service.create_gateway_token(&a.caller, req).await?)
}

async fn list_gateways(State(s): State<AppState>, a: Authed) -> R {
    ok(&xc_types::gateway::GatewayList {
        gateways: s.service.list_gateways(&a.caller).await?,
    })
}

async fn get_gateway(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    ok(&s.service.get_gateway(&a.caller, &id).await?)
}

async fn delete_gateway(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    s.service.delete_gateway(&a.caller, &id).await?;
    ok(&serde_json::json!({ "deleted": id }))
}

async fn test_connection(State(s): State<AppState>, Path(id): Path<String>, a: Authed) -> R {
    let req: xc_types::gateway::TestConnectionRequest = a.json()?;
    ok(&s
        .service
        .test_connection(&a.caller, &id, &req.target, req.count)
        .await?)
}
