//! Request and response bodies of the native API (`/v1/...`), shared by the server, `xc-client`
//! and the CLI, so the two ends cannot drift apart. JSON field names are camelCase, as in the AWS
//! model.

use crate::{
    AccessKey, AccessKeyId, Account, AccountId, AttachPoint, AttachPointId, Bandwidth,
    ConnectionId, ConnectionState, Environment, Facility, Initiator, KeyRole, KeyStatus,
    ProposalId, ProposalState, RoutingPolicy, SharedId, StateReason, Tags,
};
use serde::{Deserialize, Serialize};

pub mod alarms;
pub mod audit;
pub mod cluster;
pub mod events;
pub mod filters;
pub mod flowlogs;
pub mod maintenance;
pub mod metrics;
mod openapi;
pub mod quotas;
pub mod routes;
pub mod schema;
pub mod usage;

pub use openapi::openapi;

/// The error body of every native API failure: one line a person can act on, and a stable code.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The AWS error shape name (`InterconnectValidationException`, `ResourceNotFoundException`...).
    pub code: String,
    pub message: String,
    /// The request field a validation error is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The reason code of a refusal that has one (`PREFIX_OVERLAP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<crate::StateReasonCode>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAccountRequest {
    #[schemars(schema_with = "schema::account_name")]
    pub name: String,
}

/// A freshly made account or key with its secret: the only time the secret is shown.
#[derive(Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub account_id: AccountId,
    pub access_key_id: AccessKeyId,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("account_id", &self.account_id)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountList {
    pub accounts: Vec<Account>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAccessKeyRequest {
    #[serde(default = "default_role")]
    pub role: KeyRole,
}

fn default_role() -> KeyRole {
    KeyRole::Admin
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAccessKeyRequest {
    pub status: KeyStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyList {
    pub access_keys: Vec<AccessKey>,
}

/// Who the caller is, as the server sees it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    pub account_id: AccountId,
    pub account_name: String,
    pub access_key_id: AccessKeyId,
    pub role: KeyRole,
    pub operator: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAttachPointRequest {
    #[schemars(schema_with = "schema::attach_point_name")]
    pub name: String,
    #[schemars(schema_with = "schema::prefix_list")]
    pub prefixes: Vec<String>,
    /// Default: a private 4-byte ASN of its own.
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_asn")]
    pub asn: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAttachPointRequest {
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_attach_point_name")]
    pub name: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_prefix_list")]
    pub prefixes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachPointList {
    pub attach_points: Vec<AttachPoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateConnectionRequest {
    #[schemars(schema_with = "schema::environment_id")]
    pub environment_id: String,
    #[schemars(schema_with = "schema::bandwidth")]
    pub bandwidth: String,
    #[schemars(schema_with = "schema::uuid")]
    pub attach_point: String,
    /// The account that may accept (required: an `Option` only so that leaving it out is
    /// answered with why it is needed).
    #[schemars(required, schema_with = "schema::account_id")]
    pub remote_account: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_description")]
    pub description: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_tags")]
    pub tags: Option<Tags>,
    #[serde(default)]
    pub routing_policy: Option<RoutingPolicy>,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_client_token")]
    pub client_token: Option<String>,
    /// Last mile: the on-premises site (required for a last-mile environment through this API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_mile: Option<LastMileRequest>,
    /// Whether the caller's default alarms (`<id>-down`, `-loss`, `-utilization`) are made with
    /// the connection (default: yes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_alarms: Option<bool>,
}

/// The on-premises side of a new last-mile connection.
#[derive(Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LastMileRequest {
    /// The provider's circuit id or service address.
    #[schemars(schema_with = "schema::circuit_id")]
    pub circuit_id: String,
    /// Provider edges: 1, or 2 (the default) in two facilities.
    #[serde(default)]
    #[schemars(range(min = 1, max = 2))]
    pub redundancy: Option<u8>,
    /// The customer router's ASN.
    #[schemars(schema_with = "schema::asn")]
    pub customer_asn: u64,
    /// The prefixes the customer router may announce.
    #[schemars(schema_with = "schema::prefix_list")]
    pub on_premises_prefixes: Vec<String>,
    /// Most prefixes the customer router may announce before its session is closed (default
    /// 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10_000))]
    pub max_prefixes: Option<u32>,
    /// 3 (the default): the edge routes; 2: the edge bridges the VLAN onto the link.
    #[serde(default)]
    #[schemars(range(min = 2, max = 3))]
    pub layer: Option<u8>,
    /// One per session; absent: xconnect allocates a /30 per session.
    #[serde(default)]
    #[schemars(length(max = 2))]
    pub peerings: Vec<PeeringRequest>,
    /// TCP MD5 password for the customer sessions (write-only).
    #[serde(default)]
    #[schemars(length(min = 1, max = 80))]
    pub md5_password: Option<String>,
}

impl std::fmt::Debug for LastMileRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LastMileRequest")
            .field("circuit_id", &self.circuit_id)
            .field("redundancy", &self.redundancy)
            .field("customer_asn", &self.customer_asn)
            .field("on_premises_prefixes", &self.on_premises_prefixes)
            .field("layer", &self.layer)
            .field("peerings", &self.peerings)
            .field(
                "md5_password",
                &self.md5_password.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// The addresses of one customer session: the provider's side with its prefix length
/// (`192.168.50.1/30`) and the customer router's (`192.168.50.2`); optionally those of a
/// second, IPv6 session on the same VLAN (`fd00:50::1/126`, `fd00:50::2`), for a site with
/// IPv6 prefixes (allocated when absent).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeeringRequest {
    #[schemars(schema_with = "schema::session_interface_address")]
    pub provider_address: String,
    #[schemars(schema_with = "schema::ip_address")]
    pub customer_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::optional_session_interface_address6")]
    pub provider_address6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::optional_ipv6_address")]
    pub customer_address6: Option<String>,
}

/// A last-mile connection's site as shown: everything but the MD5 password, which is only said
/// to be set.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastMileView {
    pub circuit_id: String,
    pub redundancy: u8,
    pub customer_asn: u32,
    pub on_premises_prefixes: Vec<String>,
    pub max_prefixes: u32,
    pub layer: u8,
    pub vlan: u16,
    pub peerings: Vec<crate::CustomerPeering>,
    pub md5: bool,
}

impl From<&crate::LastMile> for LastMileView {
    fn from(l: &crate::LastMile) -> Self {
        Self {
            circuit_id: l.circuit_id.clone(),
            redundancy: l.redundancy,
            customer_asn: l.customer_asn.get(),
            on_premises_prefixes: l
                .on_premises_prefixes
                .iter()
                .map(|p| p.to_string())
                .collect(),
            max_prefixes: l.max_prefixes,
            layer: l.layer,
            vlan: l.vlan,
            peerings: l.sessions.clone(),
            md5: l.md5_sealed.is_some(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceptConnectionRequest {
    #[schemars(schema_with = "schema::activation_key")]
    pub activation_key: String,
    /// The accepting side's attach point; a last-mile connection is accepted by its provider
    /// and takes none.
    #[serde(default)]
    #[schemars(schema_with = "schema::uuid_or_empty")]
    pub attach_point: String,
    #[serde(default)]
    pub routing_policy: Option<RoutingPolicy>,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_description")]
    pub description: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_tags")]
    pub tags: Option<Tags>,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_client_token")]
    pub client_token: Option<String>,
    /// Whether the caller's default alarms are made for its side (default: yes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_alarms: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateConnectionRequest {
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_description")]
    pub description: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_bandwidth")]
    pub bandwidth: Option<String>,
    /// The caller's side's routing policy: what it announces and accepts. Applied live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_policy: Option<RoutingPolicy>,
    /// How fast the links find a dead link (both sides' gateways; owner only). Applied live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_liveness: Option<crate::LinkLiveness>,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_client_token")]
    pub client_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagRequest {
    #[schemars(schema_with = "schema::tags")]
    pub tags: Tags,
}

/// A connection as the native API shows it: both sides, the state with its reason, and (to its
/// owner only) the activation key.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    pub id: ConnectionId,
    pub arn: String,
    pub shared_id: SharedId,
    pub state: ConnectionState,
    pub state_reason: Option<StateReason>,
    pub description: String,
    pub bandwidth: Bandwidth,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_bandwidth: Option<Bandwidth>,
    pub environment_id: String,
    pub provider: String,
    pub location: String,
    #[serde(rename = "type")]
    pub product_type: crate::ProductType,
    pub owner_account: AccountId,
    pub attach_point: AttachPointId,
    pub remote_account: Option<String>,
    pub remote_attach_point: Option<AttachPointId>,
    pub initiator: Initiator,
    /// Which side the caller is on.
    pub your_side: crate::gateway::Side,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_key_expires_at: Option<i64>,
    pub billing_tier: u8,
    pub routing_policy: RoutingPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_routing_policy: Option<RoutingPolicy>,
    /// How fast the links find a dead link (the default unless the owner changed it).
    pub link_liveness: crate::LinkLiveness,
    pub tags: Tags,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_mile: Option<LastMileView>,
}

/// What a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The connection was created.
    Created,
    /// Its state, or the reason for it, changed.
    State,
    /// Its bandwidth (or the bandwidth being applied) changed.
    Bandwidth,
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::State => "state",
            Self::Bandwidth => "bandwidth",
        })
    }
}

/// One entry of a connection's history: its creation, a change of state (or of the reason for
/// it), a change of bandwidth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionEvent {
    /// Seconds since the epoch.
    pub at: i64,
    pub kind: EventKind,
    pub state: ConnectionState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_state: Option<ConnectionState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<StateReason>,
    pub bandwidth: Bandwidth,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_bandwidth: Option<Bandwidth>,
}

/// A connection's history, oldest first (the newest 200 events are kept).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionEvents {
    pub events: Vec<ConnectionEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionList {
    pub connections: Vec<ConnectionView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateProposalRequest {
    #[schemars(schema_with = "schema::uuid")]
    pub attach_point: String,
    #[schemars(schema_with = "schema::environment_id")]
    pub environment_id: String,
    #[schemars(schema_with = "schema::bandwidth")]
    pub bandwidth: String,
    #[schemars(schema_with = "schema::account_id")]
    pub remote_account: String,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_description")]
    pub description: Option<String>,
    #[serde(default)]
    pub routing_policy: Option<RoutingPolicy>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposalView {
    pub id: ProposalId,
    pub shared_id: SharedId,
    pub state: ProposalState,
    pub attach_point: AttachPointId,
    pub environment_id: String,
    pub bandwidth: Bandwidth,
    pub remote_account: String,
    pub description: Option<String>,
    pub routing_policy: RoutingPolicy,
    pub activation_key: String,
    pub expires_at: i64,
    pub connection_id: Option<ConnectionId>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposalList {
    pub proposals: Vec<ProposalView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentList {
    pub environments: Vec<Environment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FacilityList {
    pub facilities: Vec<Facility>,
}

/// `GET /v1/connections` query string.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListConnectionsQuery {
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_state")]
    pub state: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_environment_id")]
    pub environment_id: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_uuid")]
    pub attach_point: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_page_size")]
    pub max_results: Option<u32>,
    #[serde(default)]
    pub next_token: Option<String>,
}

/// `DELETE` of an attach point or a gateway: what was deleted.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub id: String,
    pub deleted: bool,
}

/// `PATCH /v1/access-keys/{id}`: the key's new status.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyUpdated {
    pub access_key_id: String,
    pub status: KeyStatus,
}

/// `DELETE /v1/access-keys/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyDeleted {
    pub access_key_id: String,
    pub deleted: bool,
}

/// `?accountId=`: the account an operator acts for (its own, without).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountQuery {
    #[serde(default)]
    #[schemars(schema_with = "schema::optional_account_id")]
    pub account_id: Option<String>,
}

/// `POST /v1/connections?dryRun=true` checks the request against every rule and stores nothing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateConnectionQuery {
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// A dry run that found the request valid.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRunResult {
    /// Always true: a request that would fail answers the error creating it would give.
    pub valid: bool,
}

/// `DELETE /v1/connections/{id}/tags?keys=a&keys=b`: one `keys` parameter per key, so that any
/// legal key (a comma included) can be named.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UntagQuery {
    /// The tag keys to remove, one parameter each.
    #[schemars(schema_with = "schema::tag_keys")]
    pub keys: Vec<String>,
}

/// `POST /v1/proposals/describe`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DescribeProposalRequest {
    #[schemars(schema_with = "schema::activation_key")]
    pub activation_key: String,
}

/// What an activation key asks of the one who redeems it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActivationKeyKind {
    /// Accept the owner's connection.
    Connection,
    /// Accept a proposal: the connection becomes yours.
    Proposal,
}

/// An activation key, decoded for the one about to redeem it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposalDescription {
    pub environment_id: crate::EnvironmentId,
    pub provider: String,
    pub location: String,
    pub product_type: crate::ProductType,
    pub bandwidth: Bandwidth,
    pub proposed_by: AccountId,
    pub proposed_by_name: String,
    /// The BGP ASN of the proposer's network: the attach point you accept with must have
    /// another (else `ASN_CONFLICT`).
    pub proposed_by_asn: crate::Asn,
    pub expires_at: i64,
    pub kind: ActivationKeyKind,
}

/// An empty acknowledgement (`{}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Ack {}
