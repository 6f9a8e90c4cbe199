//! The output shapes of the 13 operations, as the service model names them: every response the
//! AWS-compatible API writes is one of these serialised, so a member the model does not have, or
//! one misspelt, does not compile. `tests.rs` checks them against the model, member by member.

use serde::Serialize;
use xc_control::ConnectionDetail;
use xc_types::{
    Bandwidth, ConnectionState, Environment as Env, EnvironmentState, ProductType,
    Provider as Prov, RemoteIdentifierType, Tags,
};

/// A union: exactly one member.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttachPoint {
    DirectConnectGateway(String),
    Arn(String),
}

/// A union: exactly one member.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Provider {
    CloudServiceProvider(String),
    LastMileProvider(String),
}

impl From<&Prov> for Provider {
    fn from(p: &Prov) -> Self {
        match p {
            Prov::CloudServiceProvider(n) => Self::CloudServiceProvider(n.clone()),
            Prov::LastMileProvider(n) => Self::LastMileProvider(n.clone()),
        }
    }
}

/// The model's `Connection`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: String,
    pub arn: String,
    pub description: String,
    pub bandwidth: Bandwidth,
    pub attach_point: AttachPoint,
    pub environment_id: String,
    pub provider: Provider,
    pub location: String,
    #[serde(rename = "type")]
    pub product_type: ProductType,
    pub state: ConnectionState,
    pub shared_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_tier: Option<u8>,
    pub owner_account: String,
    pub activation_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

/// The model's `ConnectionSummary`: a connection without its owner, key and tags.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionSummary {
    pub id: String,
    pub arn: String,
    pub description: String,
    pub bandwidth: Bandwidth,
    pub attach_point: AttachPoint,
    pub environment_id: String,
    pub provider: Provider,
    pub location: String,
    #[serde(rename = "type")]
    pub product_type: ProductType,
    pub state: ConnectionState,
    pub shared_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_tier: Option<u8>,
}

impl From<&ConnectionDetail> for Connection {
    fn from(d: &ConnectionDetail) -> Self {
        let s = ConnectionSummary::from(d);
        let c = &d.connection;
        Self {
            id: s.id,
            arn: s.arn,
            description: s.description,
            bandwidth: s.bandwidth,
            attach_point: s.attach_point,
            environment_id: s.environment_id,
            provider: s.provider,
            location: s.location,
            product_type: s.product_type,
            state: s.state,
            shared_id: s.shared_id,
            billing_tier: s.billing_tier,
            owner_account: c.owner.to_string(),
            // The key is shown to the owner only; the model requires the member, so others get
            // a placeholder that is not a key.
            activation_key: d
                .activation_key
                .clone()
                .unwrap_or_else(|| "REDACTED".to_owned()),
            tags: Some(c.tags.clone()),
        }
    }
}

impl From<&ConnectionDetail> for ConnectionSummary {
    fn from(d: &ConnectionDetail) -> Self {
        let c = &d.connection;
        Self {
            id: c.id.to_string(),
            arn: d.arn.clone(),
            description: c.description.to_string(),
            bandwidth: c.bandwidth,
            attach_point: AttachPoint::DirectConnectGateway(c.owner_attach_point.to_string()),
            environment_id: c.environment.to_string(),
            provider: (&d.environment.provider).into(),
            location: d.environment.location.clone(),
            product_type: d.environment.product_type,
            state: c.state,
            shared_id: c.shared_id.to_string(),
            billing_tier: Some(c.billing_tier),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bandwidths {
    pub available: Vec<Bandwidth>,
    pub supported: Vec<Bandwidth>,
}

/// The model's `Environment`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub provider: Provider,
    pub location: String,
    pub environment_id: String,
    pub state: EnvironmentState,
    pub bandwidths: Bandwidths,
    #[serde(rename = "type")]
    pub product_type: ProductType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation_page_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_identifier_type: Option<RemoteIdentifierType>,
}

impl From<&Env> for Environment {
    fn from(e: &Env) -> Self {
        Self {
            provider: (&e.provider).into(),
            location: e.location.clone(),
            environment_id: e.id.to_string(),
            state: e.state,
            bandwidths: Bandwidths {
                available: e.available_bandwidths.clone(),
                supported: e.supported_bandwidths.clone(),
            },
            product_type: e.product_type,
            activation_page_url: e.activation_page_url.clone(),
            remote_identifier_type: Some(e.remote_identifier_type),
        }
    }
}

/// The model's `AttachPointType`.
#[derive(Debug, Clone, Copy, Serialize)]
pub enum AttachPointType {
    DirectConnectGateway,
}

/// The model's `AttachPointDescriptor`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachPointDescriptor {
    #[serde(rename = "type")]
    pub kind: AttachPointType,
    pub identifier: String,
    pub name: String,
}

/// `connection` alone: the output of Create, Accept, Get, Update and Delete.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionResponse {
    pub connection: Connection,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeConnectionProposalResponse {
    pub bandwidth: Bandwidth,
    pub environment_id: String,
    pub provider: Provider,
    pub location: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetEnvironmentResponse {
    pub environment: Environment,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAttachPointsResponse {
    pub attach_points: Vec<AttachPointDescriptor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListConnectionsResponse {
    pub connections: Vec<ConnectionSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListEnvironmentsResponse {
    pub environments: Vec<Environment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTagsForResourceResponse {
    pub tags: Tags,
}

/// The empty output of TagResource and UntagResource.
#[derive(Debug, Clone, Serialize)]
pub struct Empty {}
