//! The 13 operations of the AWS Interconnect model, over one dispatcher shared by both wire
//! protocols: awsJson1_0 and smithy-rpc-v2-cbor decode their bodies into a JSON value, call
//! [`dispatch`], and encode what it returns. Model constraints that belong to the wire shapes
//! (required members, unions with exactly one member, lengths) are checked here; every rule about
//! resources is the service layer's.

pub mod shapes;

use crate::error::ApiError;
use serde::Deserialize;
use serde_json::{Value, json};
use xc_control::{Caller, ListConnectionsInput, Service};
use xc_types::api::{AcceptConnectionRequest, CreateConnectionRequest, UpdateConnectionRequest};
use xc_types::{EnvironmentState, Provider, Tags};

pub const OPERATIONS: [&str; 13] = [
    "AcceptConnectionProposal",
    "CreateConnection",
    "DeleteConnection",
    "DescribeConnectionProposal",
    "GetConnection",
    "GetEnvironment",
    "ListAttachPoints",
    "ListConnections",
    "ListEnvironments",
    "ListTagsForResource",
    "TagResource",
    "UntagResource",
    "UpdateConnection",
];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttachPointUnion {
    direct_connect_gateway: Option<String>,
    arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderUnion {
    cloud_service_provider: Option<String>,
    last_mile_provider: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoteAccountUnion {
    identifier: Option<String>,
}

/// Every member of every input shape, decoded and type-checked (not yet validated).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    // Every member of every input shape; each operation reads its own and requires what the
    // model requires.
    identifier: Option<String>,
    id: Option<String>,
    arn: Option<String>,
    description: Option<String>,
    bandwidth: Option<String>,
    attach_point: Option<AttachPointUnion>,
    environment_id: Option<String>,
    remote_account: Option<RemoteAccountUnion>,
    activation_key: Option<String>,
    tags: Option<Tags>,
    tag_keys: Option<Vec<String>>,
    client_token: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    state: Option<String>,
    provider: Option<ProviderUnion>,
    location: Option<String>,
}

fn required<T>(v: Option<T>, field: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| ApiError::validation(field, "is required"))
}

fn attach_point(u: AttachPointUnion) -> Result<String, ApiError> {
    match (u.direct_connect_gateway, u.arn) {
        (Some(d), None) => Ok(d),
        (None, Some(a)) => {
            xc_types::ConnectionArn::parse(&a)
                .map_err(|e| ApiError::validation("attachPoint.arn", e))?;
            Ok(a)
        }
        _ => Err(ApiError::validation(
            "attachPoint",
            "set exactly one of directConnectGateway and arn",
        )),
    }
}

fn provider(u: ProviderUnion) -> Result<Provider, ApiError> {
    let p = match (u.cloud_service_provider, u.last_mile_provider) {
        (Some(c), None) => Provider::CloudServiceProvider(c),
        (None, Some(l)) => Provider::LastMileProvider(l),
        _ => {
            return Err(ApiError::validation(
                "provider",
                "set exactly one of cloudServiceProvider and lastMileProvider",
            ));
        }
    };
    if p.name().len() > 32 {
        return Err(ApiError::validation("provider", "is at most 32 characters"));
    }
    Ok(p)
}

fn max_results(v: Option<i64>) -> Result<Option<usize>, ApiError> {
    match v {
        None => Ok(None),
        Some(n) if (1..=100).contains(&n) => Ok(Some(n as usize)),
        Some(_) => Err(ApiError::validation(
            "maxResults",
            "must be between 1 and 100",
        )),
    }
}

fn environment_id(v: Option<String>, field: &str) -> Result<String, ApiError> {
    let v = required(v, field)?;
    if v.is_empty() || v.len() > 64 {
        return Err(ApiError::validation(field, "must be 1 to 64 characters"));
    }
    Ok(v)
}

/// An output shape as the value both wire protocols encode.
fn out<T: serde::Serialize>(v: T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| {
        ApiError::Service(xc_control::ServiceError::Internal(format!(
            "cannot encode an output: {e}"
        )))
    })
}

/// Decodes a request body (already parsed from JSON or CBOR) into the input members, naming the
/// member whose type is wrong.
pub fn decode_input(input: Value) -> Result<Input, ApiError> {
    let input = if input.is_null() { json!({}) } else { input };
    serde_path_to_error::deserialize(input).map_err(|e| {
        let path = e.path().to_string();
        ApiError::validation(if path == "." { "body" } else { &path }, e.inner())
    })
}

/// Runs one operation for an authenticated caller.
pub async fn dispatch(
    svc: &Service,
    caller: &Caller,
    op: &str,
    input: Value,
) -> Result<Value, ApiError> {
    if !OPERATIONS.contains(&op) {
        return Err(ApiError::UnknownOperation(op.to_owned()));
    }
    let i = decode_input(input)?;
    Ok(match op {
        "CreateConnection" => {
            let req = CreateConnectionRequest {
                default_alarms: None,
                environment_id: environment_id(i.environment_id, "environmentId")?,
                bandwidth: required(i.bandwidth, "bandwidth")?,
                attach_point: attach_point(required(i.attach_point, "attachPoint")?)?,
                remote_account: match i.remote_account {
                    Some(r) => Some(required(r.identifier, "remoteAccount.identifier")?),
                    None => None,
                },
                description: i.description,
                tags: i.tags,
                routing_policy: None,
                client_token: i.client_token,
                last_mile: None,
            };
            let d = svc.create_connection_without_site(caller, req).await?;
            out(shapes::ConnectionResponse {
                connection: (&d).into(),
            })?
        }
        "AcceptConnectionProposal" => {
            let req = AcceptConnectionRequest {
                default_alarms: None,
                activation_key: required(i.activation_key, "activationKey")?,
                attach_point: attach_point(required(i.attach_point, "attachPoint")?)?,
                routing_policy: None,
                description: i.description,
                tags: i.tags,
                client_token: i.client_token,
            };
            let d = svc.accept(caller, req).await?;
            out(shapes::ConnectionResponse {
                connection: (&d).into(),
            })?
        }
        "DescribeConnectionProposal" => {
            let key = required(i.activation_key, "activationKey")?;
            let s = svc.describe_proposal(caller, &key).await?;
            out(shapes::DescribeConnectionProposalResponse {
                bandwidth: s.bandwidth,
                environment_id: s.environment.id.to_string(),
                provider: (&s.environment.provider).into(),
                location: s.environment.location.clone(),
            })?
        }
        "GetConnection" => {
            let d = svc
                .get_connection(caller, &required(i.identifier, "identifier")?)
                .await?;
            out(shapes::ConnectionResponse {
                connection: (&d).into(),
            })?
        }
        "DeleteConnection" => {
            let id = required(i.identifier, "identifier")?;
            let d = svc
                .delete_connection(caller, &id, i.client_token.as_deref())
                .await?;
            out(shapes::ConnectionResponse {
                connection: (&d).into(),
            })?
        }
        "UpdateConnection" => {
            let id = required(i.identifier, "identifier")?;
            let req = UpdateConnectionRequest {
                description: i.description,
                bandwidth: i.bandwidth,
                routing_policy: None,
                link_liveness: None,
                client_token: i.client_token,
            };
            let d = svc.update_connection(caller, &id, req).await?;
            out(shapes::ConnectionResponse {
                connection: (&d).into(),
            })?
        }
        "ListConnections" => {
            let input = ListConnectionsInput {
                state: i.state,
                environment_id: i.environment_id,
                provider: i.provider.map(provider).transpose()?,
                attach_point: i.attach_point.map(attach_point).transpose()?,
                max_results: max_results(i.max_results)?,
                next_token: i.next_token,
            };
            if let Some(e) = &input.environment_id
                && (e.is_empty() || e.len() > 64)
            {
                return Err(ApiError::validation(
                    "environmentId",
                    "must be 1 to 64 characters",
                ));
            }
            let (list, next) = svc.list_connections(caller, input).await?;
            out(shapes::ListConnectionsResponse {
                connections: list.iter().map(Into::into).collect(),
                next_token: next,
            })?
        }
        "GetEnvironment" => {
            let id = environment_id(i.id, "id")?;
            out(shapes::GetEnvironmentResponse {
                environment: svc.environment(&id)?.into(),
            })?
        }
        "ListEnvironments" => {
            let p = i.provider.map(provider).transpose()?;
            if i.location.as_ref().is_some_and(|l| l.len() > 255) {
                return Err(ApiError::validation(
                    "location",
                    "is at most 255 characters",
                ));
            }
            let (list, next) = svc.list_environments(
                caller,
                p.as_ref(),
                i.location.as_deref(),
                max_results(i.max_results)?,
                i.next_token.as_deref(),
            )?;
            out(shapes::ListEnvironmentsResponse {
                environments: list.iter().map(Into::into).collect(),
                next_token: next,
            })?
        }
        "ListAttachPoints" => {
            let env_id = environment_id(i.environment_id, "environmentId")?;
            let env = svc.environment(&env_id)?;
            let (list, next) = if env.state == EnvironmentState::Unavailable {
                (Vec::new(), None)
            } else {
                svc.list_own_attach_points(
                    caller,
                    max_results(i.max_results)?,
                    i.next_token.as_deref(),
                    &env_id,
                )
                .await?
            };
            out(shapes::ListAttachPointsResponse {
                attach_points: list
                    .iter()
                    .map(|ap| shapes::AttachPointDescriptor {
                        kind: shapes::AttachPointType::DirectConnectGateway,
                        identifier: ap.id.to_string(),
                        name: ap.name.clone(),
                    })
                    .collect(),
                next_token: next,
            })?
        }
        "ListTagsForResource" => {
            let tags = svc.tags(caller, &required(i.arn, "arn")?).await?;
            out(shapes::ListTagsForResourceResponse { tags })?
        }
        "TagResource" => {
            let arn = required(i.arn, "arn")?;
            svc.tag(caller, &arn, required(i.tags, "tags")?).await?;
            out(shapes::Empty {})?
        }
        "UntagResource" => {
            let arn = required(i.arn, "arn")?;
            let keys = required(i.tag_keys, "tagKeys")?;
            svc.untag(caller, &arn, keys, xc_control::AbsentKeys::Ignore)
                .await?;
            out(shapes::Empty {})?
        }
        _ => return Err(ApiError::UnknownOperation(op.to_owned())),
    })
}

#[cfg(test)]
mod tests;
