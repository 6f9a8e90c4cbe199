//! The native JSON API at `/v1/...`: everything the AWS model has and what it lacks (accounts,
//! keys, attach points, proposals, gateways, links, history, catalog browsing), over the same
//! service functions. Every route is one of `xc_types::api::routes` (method, path, types and
//! status declared there once, for this router, the client and the OpenAPI document); a handler
//! takes the caller and its typed input, calls one service function, and answers the route's
//! response type with the route's status.

use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::{Id, Q};
use crate::{AppState, Reply};
use axum::Router;
use axum::extract::State;
use axum::handler::Handler;
use std::sync::OnceLock;
use xc_control::ListConnectionsInput;
use xc_types::api::routes::{self as r, Endpoint, Method};
use xc_types::api::*;

type R = Result<Reply, ApiError>;

/// Mounts handler `h` on route `E`.
pub(crate) fn on<E: Endpoint, H, T>(router: Router<AppState>, h: H) -> Router<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let m = match E::METHOD {
        Method::Get => axum::routing::get(h),
        Method::Post => axum::routing::post(h),
        Method::Patch => axum::routing::patch(h),
        Method::Delete => axum::routing::delete(h),
    };
    router.route(E::PATH, m)
}

/// Route `E`'s success: its response type, with its status. A create's answer names what it
/// made for the audit trail (the routes with an `{id}` name theirs in the path).
pub(crate) fn reply<E: Endpoint>(v: &E::Response) -> R {
    let r = Reply::json(E::STATUS, v);
    if E::METHOD == Method::Post && !E::PATH.contains('{') {
        let named = serde_json::to_value(v)
            .ok()
            .and_then(|v| crate::audit::resource_of(&v));
        return Ok(r.naming(named));
    }
    Ok(r)
}

pub fn routes() -> Router<AppState> {
    let mut rt = Router::new();
    rt = on::<r::OpenApiDocument, _, _>(rt, openapi);
    rt = on::<r::WhoAmIEndpoint, _, _>(rt, whoami);
    rt = on::<r::CreateAccount, _, _>(rt, create_account);
    rt = on::<r::ListAccounts, _, _>(rt, list_accounts);
    rt = on::<r::CreateAccessKey, _, _>(rt, create_key);
    rt = on::<r::ListAccessKeys, _, _>(rt, list_keys);
    rt = on::<r::ListQuotas, _, _>(rt, list_quotas);
    rt = on::<r::SetQuota, _, _>(rt, set_quota);
    rt = on::<r::ListAuditRecords, _, _>(rt, list_audit);
    rt = on::<r::GetUsage, _, _>(rt, get_usage);
    rt = on::<r::CreateMaintenanceWindow, _, _>(rt, create_maintenance);
    rt = on::<r::ListMaintenanceWindows, _, _>(rt, list_maintenance);
    rt = on::<r::GetCluster, _, _>(rt, get_cluster);
    rt = on::<r::DeleteMaintenanceWindow, _, _>(rt, delete_maintenance);
    rt = on::<r::ListAccountUsage, _, _>(rt, account_usage);
    rt = on::<r::CompareCost, _, _>(rt, compare_cost);
    rt = on::<r::VerifyAuditTrail, _, _>(rt, verify_audit);
    rt = on::<r::UpdateAccessKey, _, _>(rt, update_key);
    rt = on::<r::DeleteAccessKey, _, _>(rt, delete_key);
    rt = on::<r::ListEnvironments, _, _>(rt, list_environments);
    rt = on::<r::GetEnvironment, _, _>(rt, get_environment);
    rt = on::<r::ListFacilities, _, _>(rt, list_facilities);
    rt = on::<r::CreateAttachPoint, _, _>(rt, create_attach_point);
    rt = on::<r::ListAttachPoints, _, _>(rt, list_attach_points);
    rt = on::<r::GetAttachPoint, _, _>(rt, get_attach_point);
    rt = on::<r::UpdateAttachPoint, _, _>(rt, update_attach_point);
    rt = on::<r::DeleteAttachPoint, _, _>(rt, delete_attach_point);
    rt = on::<r::CheckAttachPoint, _, _>(rt, check_attach_point);
    rt = on::<r::CreateSecurityGroup, _, _>(rt, create_security_group);
    rt = on::<r::ListSecurityGroups, _, _>(rt, list_security_groups);
    rt = on::<r::GetSecurityGroup, _, _>(rt, get_security_group);
    rt = on::<r::DeleteSecurityGroup, _, _>(rt, delete_security_group);
    rt = on::<r::AuthorizeSecurityGroupRules, _, _>(rt, authorize_security_group);
    rt = on::<r::RevokeSecurityGroupRules, _, _>(rt, revoke_security_group);
    rt = on::<r::AttachSecurityGroup, _, _>(rt, attach_security_group);
    rt = on::<r::DetachSecurityGroup, _, _>(rt, detach_security_group);
    rt = on::<r::CreateNetworkAcl, _, _>(rt, create_network_acl);
    rt = on::<r::ListNetworkAcls, _, _>(rt, list_network_acls);
    rt = on::<r::GetNetworkAcl, _, _>(rt, get_network_acl);
    rt = on::<r::DeleteNetworkAcl, _, _>(rt, delete_network_acl);
    rt = on::<r::AddNetworkAclRule, _, _>(rt, add_network_acl_rule);
    rt = on::<r::RemoveNetworkAclRule, _, _>(rt, remove_network_acl_rule);
    rt = on::<r::CreatePrefixList, _, _>(rt, create_prefix_list);
    rt = on::<r::ListPrefixLists, _, _>(rt, list_prefix_lists);
    rt = on::<r::GetPrefixList, _, _>(rt, get_prefix_list);
    rt = on::<r::UpdatePrefixList, _, _>(rt, update_prefix_list);
    rt = on::<r::DeletePrefixList, _, _>(rt, delete_prefix_list);
    rt = on::<r::CreateConnection, _, _>(rt, create_connection);
    rt = on::<r::ListConnections, _, _>(rt, list_connections);
    rt = on::<r::AcceptConnection, _, _>(rt, accept_connection);
    rt = on::<r::GetConnection, _, _>(rt, get_connection);
    rt = on::<r::UpdateConnection, _, _>(rt, update_connection);
    rt = on::<r::DeleteConnection, _, _>(rt, delete_connection);
    rt = on::<r::TagConnection, _, _>(rt, tag_connection);
    rt = on::<r::UntagConnection, _, _>(rt, untag_connection);
    rt = on::<r::ConnectionLinks, _, _>(rt, connection_links);
    rt = on::<r::ConnectionHistory, _, _>(rt, connection_events);
    rt = on::<r::ConnectionMetrics, _, _>(rt, connection_metrics);
    rt = on::<r::SetFlowLog, _, _>(rt, set_flow_log);
    rt = on::<r::GetFlowLog, _, _>(rt, get_flow_log);
    rt = on::<r::QueryFlowLogs, _, _>(rt, query_flow_logs);
    rt = on::<r::TestConnection, _, _>(rt, test_connection);
    rt = on::<r::ListEvents, _, _>(rt, list_events);
    // A stream, not a JSON answer: outside the route table and the OpenAPI document.
    rt = rt.route(EVENT_STREAM_PATH, axum::routing::get(stream_events));
    rt = on::<r::CreateAlarm, _, _>(rt, create_alarm);
    rt = on::<r::ListAlarms, _, _>(rt, list_alarms);
    rt = on::<r::GetAlarm, _, _>(rt, get_alarm);
    rt = on::<r::GetAlarmHistory, _, _>(rt, alarm_history);
    rt = on::<r::UpdateAlarm, _, _>(rt, update_alarm);
    rt = on::<r::DeleteAlarm, _, _>(rt, delete_alarm);
    rt = on::<r::CreateWebhook, _, _>(rt, create_webhook);
    rt = on::<r::ListWebhooks, _, _>(rt, list_webhooks);
    rt = on::<r::GetWebhook, _, _>(rt, get_webhook);
    rt = on::<r::DeleteWebhook, _, _>(rt, delete_webhook);
    rt = on::<r::WebhookDeliveries, _, _>(rt, webhook_deliveries);
    rt = on::<r::CreateGatewayToken, _, _>(rt, create_gateway_token);
    rt = on::<r::ListGateways, _, _>(rt, list_gateways);
    rt = on::<r::GetGateway, _, _>(rt, get_gateway);
    rt = on::<r::DeleteGateway, _, _>(rt, delete_gateway);
    rt = on::<r::CreateProposal, _, _>(rt, create_proposal);
    rt = on::<r::ListProposals, _, _>(rt, list_proposals);
    rt = on::<r::DescribeProposal, _, _>(rt, describe_proposal);
    rt = on::<r::WithdrawProposal, _, _>(rt, withdraw_proposal);
    rt
}

/// The document, generated once from the route table and the types.
async fn openapi() -> R {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    reply::<r::OpenApiDocument>(DOC.get_or_init(xc_types::api::openapi))
}

async fn whoami(a: Authed) -> R {
    let c = &a.caller;
    reply::<r::WhoAmIEndpoint>(&WhoAmI {
        account_id: c.account.clone(),
        account_name: c.account_name.clone(),
        access_key_id: c.key.clone(),
        role: c.role,
        operator: c.is_operator(),
    })
}

async fn create_account(State(s): State<AppState>, a: Authed) -> R {
    let req = a.body::<r::CreateAccount>()?;
    reply::<r::CreateAccount>(&s.service.create_account(&a.caller, &req.name).await?)
}

async fn list_accounts(State(s): State<AppState>, a: Authed) -> R {
    reply::<r::ListAccounts>(&AccountList {
        accounts: s.service.list_accounts(&a.caller).await?,
    })
}

async fn create_key(State(s): State<AppState>, Q(q): Q<AccountQuery>, a: Authed) -> R {
    let req = a.body::<r::CreateAccessKey>()?;
    let creds = s
        .service
        .create_access_key(&a.caller, q.account_id.as_deref(), req.role)
        .await?;
    reply::<r::CreateAccessKey>(&creds)
}

async fn list_keys(State(s): State<AppState>, Q(q): Q<AccountQuery>, a: Authed) -> R {
    reply::<r::ListAccessKeys>(
        &s.service
            .list_access_keys(&a.caller, q.account_id.as_deref())
            .await?,
    )
}

async fn list_quotas(State(s): State<AppState>, Q(q): Q<AccountQuery>, a: Authed) -> R {
    reply::<r::ListQuotas>(
        &s.service
            .list_quotas(&a.caller, q.account_id.as_deref())
            .await?,
    )
}

async fn list_audit(State(s): State<AppState>, Q(q): Q<audit::AuditQuery>, a: Authed) -> R {
    reply::<r::ListAuditRecords>(&s.service.list_audit(&a.caller, q).await?)
}

async fn create_maintenance(State(s): State<AppState>, a: Authed) -> R {
    let req = a.body::<r::CreateMaintenanceWindow>()?;
    reply::<r::CreateMaintenanceWindow>(&s.service.create_maintenance(&a.caller, req).await?)
}

async fn get_cluster(State(s): State<AppState>, a: Authed) -> R {
    reply::<r::GetCluster>(&s.service.cluster_status(&a.caller).await?)
}

async fn list_maintenance(State(s): State<AppState>, a: Authed) -> R {
    reply::<r::ListMaintenanceWindows>(&s.service.list_maintenance(&a.caller).await?)
}

async fn delete_maintenance(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::DeleteMaintenanceWindow>(&s.service.delete_maintenance(&a.caller, &id).await?)
}

async fn get_usage(State(s): State<AppState>, Q(q): Q<usage::UsageQuery>, a: Authed) -> R {
    reply::<r::GetUsage>(&s.service.usage(&a.caller, q).await?)
}

async fn account_usage(State(s): State<AppState>, Q(q): Q<usage::UsageQuery>, a: Authed) -> R {
    reply::<r::ListAccountUsage>(&s.service.account_usage(&a.caller, q).await?)
}

async fn compare_cost(
    State(s): State<AppState>,
    Q(q): Q<usage::CostCompareQuery>,
    _a: Authed,
) -> R {
    reply::<r::CompareCost>(&s.service.compare_cost(&q)?)
}

async fn verify_audit(State(s): State<AppState>, a: Authed) -> R {
    reply::<r::VerifyAuditTrail>(&s.service.verify_audit(&a.caller).await?)
}

async fn set_quota(State(s): State<AppState>, a: Authed) -> R {
    let req = a.body::<r::SetQuota>()?;
    reply::<r::SetQuota>(&s.service.set_quota(&a.caller, req).await?)
}

async fn update_key(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    let req = a.body::<r::UpdateAccessKey>()?;
    s.service
        .change_access_key(&a.caller, &id, Some(req.status))
        .await?;
    reply::<r::UpdateAccessKey>(&AccessKeyUpdated {
        access_key_id: id,
        status: req.status,
    })
}

async fn delete_key(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    s.service.change_access_key(&a.caller, &id, None).await?;
    reply::<r::DeleteAccessKey>(&AccessKeyDeleted {
        access_key_id: id,
        deleted: true,
    })
}

async fn list_environments(State(s): State<AppState>, a: Authed) -> R {
    let (environments, _) = s
        .service
        .list_environments(&a.caller, None, None, Some(100), None)?;
    reply::<r::ListEnvironments>(&EnvironmentList { environments })
}

async fn get_environment(State(s): State<AppState>, Id(id): Id, _a: Authed) -> R {
    reply::<r::GetEnvironment>(s.service.environment(&id)?)
}

async fn list_facilities(State(s): State<AppState>, _a: Authed) -> R {
    reply::<r::ListFacilities>(&FacilityList {
        facilities: s.service.catalog().facilities().to_vec(),
    })
}

async fn create_attach_point(State(s): State<AppState>, a: Authed) -> R {
    let req = a.body::<r::CreateAttachPoint>()?;
    reply::<r::CreateAttachPoint>(&s.service.create_attach_point(&a.caller, req).await?)
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
    reply::<r::ListAttachPoints>(&AttachPointList { attach_points: all })
}

async fn get_attach_point(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::GetAttachPoint>(&s.service.get_attach_point(&a.caller, &id).await?)
}

async fn update_attach_point(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    let req = a.body::<r::UpdateAttachPoint>()?;
    reply::<r::UpdateAttachPoint>(&s.service.update_attach_point(&a.caller, &id, req).await?)
}

async fn delete_attach_point(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    s.service.delete_attach_point(&a.caller, &id).await?;
    reply::<r::DeleteAttachPoint>(&Deleted { id, deleted: true })
}

/// `?dryRun=true` checks the request against every rule and stores nothing (the console's
/// validation as you type): `200 {"valid": true}`, or the error creating it would answer.
async fn create_connection(
    State(s): State<AppState>,
    Q(q): Q<CreateConnectionQuery>,
    a: Authed,
) -> R {
    if q.dry_run == Some(true) {
        let req = a.body::<r::CreateConnection>()?;
        s.service.validate_connection(&a.caller, req).await?;
        return Ok(Reply::json(200, &DryRunResult { valid: true }));
    }
    let req = a.body::<r::CreateConnection>()?;
    let d = s.service.create_connection(&a.caller, req).await?;
    reply::<r::CreateConnection>(&d.to_view())
}

async fn accept_connection(State(s): State<AppState>, a: Authed) -> R {
    let req = a.body::<r::AcceptConnection>()?;
    reply::<r::AcceptConnection>(&s.service.accept(&a.caller, req).await?.to_view())
}

async fn get_connection(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::GetConnection>(&s.service.get_connection(&a.caller, &id).await?.to_view())
}

async fn list_connections(
    State(s): State<AppState>,
    Q(q): Q<ListConnectionsQuery>,
    a: Authed,
) -> R {
    // Here an attach point is named by its id (the AWS protocol also takes an ARN).
    if let Some(ap) = &q.attach_point {
        xc_types::AttachPointId::parse(ap).map_err(|e| ApiError::validation("attachPoint", e))?;
    }
    let input = ListConnectionsInput {
        state: q.state,
        environment_id: q.environment_id,
        provider: None,
        attach_point: q.attach_point,
        max_results: q.max_results.map(|n| n as usize),
        next_token: q.next_token,
    };
    let (list, next_token) = s.service.list_connections(&a.caller, input).await?;
    reply::<r::ListConnections>(&ConnectionList {
        connections: list.iter().map(|d| d.to_view()).collect(),
        next_token,
    })
}

async fn update_connection(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    let req = a.body::<r::UpdateConnection>()?;
    let d = s.service.update_connection(&a.caller, &id, req).await?;
    reply::<r::UpdateConnection>(&d.to_view())
}

async fn delete_connection(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    let d = s.service.delete_connection(&a.caller, &id, None).await?;
    reply::<r::DeleteConnection>(&d.to_view())
}

async fn arn_of(s: &AppState, a: &Authed, id: &str) -> Result<String, ApiError> {
    Ok(s.service.get_connection(&a.caller, id).await?.arn)
}

async fn tag_connection(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    let req = a.body::<r::TagConnection>()?;
    let arn = arn_of(&s, &a, &id).await?;
    s.service.tag(&a.caller, &arn, req.tags).await?;
    reply::<r::TagConnection>(&TagRequest {
        tags: s.service.tags(&a.caller, &arn).await?,
    })
}

async fn untag_connection(
    State(s): State<AppState>,
    Id(id): Id,
    Q(q): Q<UntagQuery>,
    a: Authed,
) -> R {
    let arn = arn_of(&s, &a, &id).await?;
    s.service
        .untag(&a.caller, &arn, q.keys, xc_control::AbsentKeys::Refuse)
        .await?;
    reply::<r::UntagConnection>(&TagRequest {
        tags: s.service.tags(&a.caller, &arn).await?,
    })
}

async fn create_proposal(State(s): State<AppState>, a: Authed) -> R {
    let req = a.body::<r::CreateProposal>()?;
    reply::<r::CreateProposal>(&s.service.create_proposal(&a.caller, req).await?)
}

async fn list_proposals(State(s): State<AppState>, a: Authed) -> R {
    reply::<r::ListProposals>(&ProposalList {
        proposals: s.service.list_proposals(&a.caller).await?,
    })
}

async fn withdraw_proposal(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::WithdrawProposal>(&s.service.withdraw_proposal(&a.caller, &id).await?)
}

async fn describe_proposal(State(s): State<AppState>, a: Authed) -> R {
    let req = a.body::<r::DescribeProposal>()?;
    let p = s
        .service
        .describe_proposal(&a.caller, &req.activation_key)
        .await?;
    reply::<r::DescribeProposal>(&ProposalDescription {
        environment_id: p.environment.id.clone(),
        provider: p.environment.provider.name().to_owned(),
        location: p.environment.location.clone(),
        product_type: p.environment.product_type,
        bandwidth: p.bandwidth,
        proposed_by: p.proposer,
        proposed_by_name: p.proposer_name,
        proposed_by_asn: p.proposer_asn,
        expires_at: p.expires_at,
        kind: p.kind,
    })
}

async fn connection_links(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::ConnectionLinks>(&s.service.connection_links(&a.caller, &id).await?)
}

async fn set_flow_log(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    let req = a.body::<r::SetFlowLog>()?;
    reply::<r::SetFlowLog>(&s.service.set_flow_log(&a.caller, &id, req).await?)
}

async fn get_flow_log(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::GetFlowLog>(&s.service.get_flow_log(&a.caller, &id).await?)
}

async fn query_flow_logs(
    State(s): State<AppState>,
    Id(id): Id,
    Q(q): Q<flowlogs::FlowLogQuery>,
    a: Authed,
) -> R {
    reply::<r::QueryFlowLogs>(&s.service.query_flow_logs(&a.caller, &id, q).await?)
}

async fn connection_metrics(
    State(s): State<AppState>,
    Id(id): Id,
    Q(q): Q<metrics::MetricsQuery>,
    a: Authed,
) -> R {
    reply::<r::ConnectionMetrics>(&s.service.connection_metrics(&a.caller, &id, q).await?)
}

async fn list_events(State(s): State<AppState>, Q(q): Q<events::EventsQuery>, a: Authed) -> R {
    reply::<r::ListEvents>(&s.service.list_events(&a.caller, q).await?)
}

/// The live stream of the caller's events.
pub const EVENT_STREAM_PATH: &str = "/v1/events/stream";
/// How often the stream looks for new events.
const STREAM_POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// How often an idle stream sends a comment, so that proxies and the server's own idle timeout
/// keep it open.
const STREAM_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// `GET /v1/events/stream` (`text/event-stream`): each of the caller's events as it happens,
/// `id:` its id, `event:` its type, `data:` the event as `GET /v1/events` gives it. From the
/// event after `Last-Event-ID` (a client reconnecting) or `after`, or from `since`, or from now.
async fn stream_events(
    State(s): State<AppState>,
    Q(q): Q<events::EventsQuery>,
    headers: axum::http::HeaderMap,
    a: Authed,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let after = last.or(q.after);
    let since = match (&q.since, after) {
        (Some(t), _) => {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map(|t| t.unix_timestamp())
                .map_err(|e| {
                    ApiError::validation("since", format!("`{t}` is not an RFC 3339 time ({e})"))
                })?
        }
        (None, Some(_)) => i64::MIN,
        (None, None) => s.service.now(),
    };
    let start = match (after, &q.since) {
        (Some(a), _) => a,
        (None, Some(_)) => 0,
        // From now: after the latest event there is.
        (None, None) => s.service.latest_event_id().await?,
    };
    let service = s.service.clone();
    let caller = a.caller.clone();
    let state = (
        service,
        caller,
        start,
        std::collections::VecDeque::<events::Event>::new(),
    );
    let stream =
        futures::stream::unfold(state, move |(svc, caller, mut after, mut buf)| async move {
            loop {
                if let Some(e) = buf.pop_front() {
                    after = e.id;
                    let data = serde_json::to_string(&e).unwrap_or_default();
                    let ev = SseEvent::default()
                        .id(e.id.to_string())
                        .event(e.kind.as_str())
                        .data(data);
                    return Some((
                        Ok::<_, std::convert::Infallible>(ev),
                        (svc, caller, after, buf),
                    ));
                }
                match svc.events_after(&caller, after, since).await {
                    Ok(v) if !v.is_empty() => buf.extend(v),
                    Ok(_) => tokio::time::sleep(STREAM_POLL).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream ended");
                        return None;
                    }
                }
            }
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(STREAM_KEEP_ALIVE))
        .into_response())
}

async fn create_alarm(State(s): State<AppState>, a: Authed) -> R {
    let req = a.body::<r::CreateAlarm>()?;
    reply::<r::CreateAlarm>(&s.service.create_alarm(&a.caller, req).await?)
}

async fn list_alarms(State(s): State<AppState>, Q(q): Q<alarms::ListAlarmsQuery>, a: Authed) -> R {
    reply::<r::ListAlarms>(&s.service.list_alarms(&a.caller, q).await?)
}

async fn get_alarm(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::GetAlarm>(&s.service.get_alarm(&a.caller, &id).await?)
}

async fn alarm_history(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::GetAlarmHistory>(&s.service.alarm_history(&a.caller, &id).await?)
}

async fn update_alarm(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    let req = a.body::<r::UpdateAlarm>()?;
    reply::<r::UpdateAlarm>(&s.service.update_alarm(&a.caller, &id, req).await?)
}

async fn delete_alarm(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    let id = s.service.delete_alarm(&a.caller, &id).await?;
    reply::<r::DeleteAlarm>(&Deleted {
        id: id.to_string(),
        deleted: true,
    })
}

async fn create_webhook(State(s): State<AppState>, a: Authed) -> R {
    let req = a.body::<r::CreateWebhook>()?;
    reply::<r::CreateWebhook>(&s.service.create_webhook(&a.caller, req).await?)
}

async fn list_webhooks(State(s): State<AppState>, a: Authed) -> R {
    reply::<r::ListWebhooks>(&s.service.list_webhooks(&a.caller).await?)
}

async fn get_webhook(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::GetWebhook>(&s.service.get_webhook(&a.caller, &id).await?)
}

async fn delete_webhook(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    let id = s.service.delete_webhook(&a.caller, &id).await?;
    reply::<r::DeleteWebhook>(&Deleted {
        id: id.to_string(),
        deleted: true,
    })
}

async fn webhook_deliveries(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::WebhookDeliveries>(&s.service.webhook_deliveries(&a.caller, &id).await?)
}

async fn connection_events(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::ConnectionHistory>(&s.service.connection_events(&a.caller, &id).await?)
}

async fn create_gateway_token(State(s): State<AppState>, a: Authed) -> R {
    let req = a.body::<r::CreateGatewayToken>()?;
    reply::<r::CreateGatewayToken>(&s.service.create_gateway_token(&a.caller, req).await?)
}

async fn list_gateways(State(s): State<AppState>, a: Authed) -> R {
    reply::<r::ListGateways>(&xc_types::gateway::GatewayList {
        gateways: s.service.list_gateways(&a.caller).await?,
    })
}

async fn get_gateway(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::GetGateway>(&s.service.get_gateway(&a.caller, &id).await?)
}

async fn delete_gateway(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    s.service.delete_gateway(&a.caller, &id).await?;
    reply::<r::DeleteGateway>(&Deleted { id, deleted: true })
}

async fn test_connection(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    let req = a.body::<r::TestConnection>()?;
    reply::<r::TestConnection>(
        &s.service
            .test_connection(&a.caller, &id, &req.target, req.count)
            .await?,
    )
}

async fn check_attach_point(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    let req = a.body::<r::CheckAttachPoint>()?;
    reply::<r::CheckAttachPoint>(&s.service.check_attach_point(&a.caller, &id, req).await?)
}

async fn create_security_group(
    State(s): State<AppState>,
    Q(q): Q<filters::DryRunQuery>,
    a: Authed,
) -> R {
    let req = a.body::<r::CreateSecurityGroup>()?;
    let mode = xc_control::Change::from_query(q.dry_run);
    let g = s
        .service
        .create_security_group(&a.caller, req, mode)
        .await?;
    if g.dry_run.is_some() {
        return Ok(Reply::json(200, &g));
    }
    reply::<r::CreateSecurityGroup>(&g)
}

async fn list_security_groups(State(s): State<AppState>, a: Authed) -> R {
    reply::<r::ListSecurityGroups>(&s.service.list_security_groups(&a.caller).await?)
}

async fn get_security_group(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::GetSecurityGroup>(&s.service.get_security_group(&a.caller, &id).await?)
}

async fn delete_security_group(
    State(s): State<AppState>,
    Id(id): Id,
    Q(q): Q<filters::DryRunQuery>,
    a: Authed,
) -> R {
    let mode = xc_control::Change::from_query(q.dry_run);
    reply::<r::DeleteSecurityGroup>(
        &s.service
            .delete_security_group(&a.caller, &id, mode)
            .await?,
    )
}

async fn authorize_security_group(
    State(s): State<AppState>,
    Id(id): Id,
    Q(q): Q<filters::DryRunQuery>,
    a: Authed,
) -> R {
    let req = a.body::<r::AuthorizeSecurityGroupRules>()?;
    let mode = xc_control::Change::from_query(q.dry_run);
    reply::<r::AuthorizeSecurityGroupRules>(
        &s.service
            .authorize_security_group(&a.caller, &id, req, mode)
            .await?,
    )
}

async fn revoke_security_group(
    State(s): State<AppState>,
    Id(id): Id,
    Q(q): Q<filters::DryRunQuery>,
    a: Authed,
) -> R {
    let req = a.body::<r::RevokeSecurityGroupRules>()?;
    let mode = xc_control::Change::from_query(q.dry_run);
    reply::<r::RevokeSecurityGroupRules>(
        &s.service
            .revoke_security_group(&a.caller, &id, req, mode)
            .await?,
    )
}

async fn attach_security_group(
    State(s): State<AppState>,
    Id(id): Id,
    Q(q): Q<filters::DryRunQuery>,
    a: Authed,
) -> R {
    let req = a.body::<r::AttachSecurityGroup>()?;
    let mode = xc_control::Change::from_query(q.dry_run);
    reply::<r::AttachSecurityGroup>(
        &s.service
            .attach_security_group(&a.caller, &id, req, mode)
            .await?,
    )
}

async fn detach_security_group(
    State(s): State<AppState>,
    Id(id): Id,
    Q(q): Q<filters::DryRunQuery>,
    a: Authed,
) -> R {
    let req = a.body::<r::DetachSecurityGroup>()?;
    let mode = xc_control::Change::from_query(q.dry_run);
    reply::<r::DetachSecurityGroup>(
        &s.service
            .detach_security_group(&a.caller, &id, req, mode)
            .await?,
    )
}

async fn create_network_acl(
    State(s): State<AppState>,
    Q(q): Q<filters::DryRunQuery>,
    a: Authed,
) -> R {
    let req = a.body::<r::CreateNetworkAcl>()?;
    let mode = xc_control::Change::from_query(q.dry_run);
    let acl = s.service.create_network_acl(&a.caller, req, mode).await?;
    if acl.dry_run.is_some() {
        return Ok(Reply::json(200, &acl));
    }
    reply::<r::CreateNetworkAcl>(&acl)
}

async fn list_network_acls(State(s): State<AppState>, a: Authed) -> R {
    reply::<r::ListNetworkAcls>(&s.service.list_network_acls(&a.caller).await?)
}

async fn get_network_acl(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::GetNetworkAcl>(&s.service.get_network_acl(&a.caller, &id).await?)
}

async fn delete_network_acl(
    State(s): State<AppState>,
    Id(id): Id,
    Q(q): Q<filters::DryRunQuery>,
    a: Authed,
) -> R {
    let mode = xc_control::Change::from_query(q.dry_run);
    reply::<r::DeleteNetworkAcl>(&s.service.delete_network_acl(&a.caller, &id, mode).await?)
}

async fn add_network_acl_rule(
    State(s): State<AppState>,
    Id(id): Id,
    Q(q): Q<filters::DryRunQuery>,
    a: Authed,
) -> R {
    let req = a.body::<r::AddNetworkAclRule>()?;
    let mode = xc_control::Change::from_query(q.dry_run);
    reply::<r::AddNetworkAclRule>(
        &s.service
            .add_network_acl_rule(&a.caller, &id, req, mode)
            .await?,
    )
}

async fn remove_network_acl_rule(
    State(s): State<AppState>,
    Id(id): Id,
    Q(q): Q<filters::RemoveAclRuleQuery>,
    a: Authed,
) -> R {
    reply::<r::RemoveNetworkAclRule>(&s.service.remove_network_acl_rule(&a.caller, &id, q).await?)
}

async fn create_prefix_list(State(s): State<AppState>, a: Authed) -> R {
    let req = a.body::<r::CreatePrefixList>()?;
    reply::<r::CreatePrefixList>(&s.service.create_prefix_list(&a.caller, req).await?)
}

async fn list_prefix_lists(State(s): State<AppState>, a: Authed) -> R {
    reply::<r::ListPrefixLists>(&s.service.list_prefix_lists(&a.caller).await?)
}

async fn get_prefix_list(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    reply::<r::GetPrefixList>(&s.service.get_prefix_list(&a.caller, &id).await?)
}

async fn update_prefix_list(
    State(s): State<AppState>,
    Id(id): Id,
    Q(q): Q<filters::DryRunQuery>,
    a: Authed,
) -> R {
    let req = a.body::<r::UpdatePrefixList>()?;
    let mode = xc_control::Change::from_query(q.dry_run);
    reply::<r::UpdatePrefixList>(
        &s.service
            .update_prefix_list(&a.caller, &id, req, mode)
            .await?,
    )
}

async fn delete_prefix_list(State(s): State<AppState>, Id(id): Id, a: Authed) -> R {
    let id = s.service.delete_prefix_list(&a.caller, &id).await?;
    reply::<r::DeletePrefixList>(&Deleted { id, deleted: true })
}
