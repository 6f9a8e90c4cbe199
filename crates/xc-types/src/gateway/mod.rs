//! What crosses the boundary between the control plane and a gateway: the gateway's
//! configuration document ([`config`]: the same structure as its TOML file, so one code path
//! applies both), what the gateway reports ([`status`]: also served on its own `/status`), the
//! bodies of the gateway API (`/v1/gateway/...`) and of the native API's gateway and link views,
//! and the records the control plane keeps of gateways and links.

pub mod config;
mod records;
pub mod samples;
pub mod status;

pub use config::*;
pub use records::*;
pub use samples::*;
pub use status::*;

use crate::StateReason;
use serde::{Deserialize, Serialize};

/// `POST /v1/gateway/register`: a single-use token buys a gateway its identity.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub token: String,
    #[schemars(schema_with = "crate::api::schema::gateway_name")]
    pub name: String,
    #[schemars(schema_with = "crate::api::schema::ip_address")]
    pub underlay_address: String,
    pub version: String,
    /// A provider edge's customer-facing interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::optional_interface")]
    pub access_interface: Option<String>,
}

/// The gateway's credential: sent as `Authorization: Bearer <gatewayId>.<secret>` from then on.
#[derive(Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterResponse {
    pub gateway_id: String,
    pub secret: String,
}

impl std::fmt::Debug for RegisterResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterResponse")
            .field("gateway_id", &self.gateway_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// `GET /v1/gateway/config?index=I`: the configuration and its index (it changes exactly when
/// the configuration does). With the index of the configuration the gateway has, the request
/// waits until there is a different one or the wait runs out (a blocking query).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigResponse {
    pub index: String,
    pub config: ConfigDoc,
    /// Connectivity tests to run now (not part of the configuration or its index).
    #[serde(default)]
    pub tests: Vec<TestRequest>,
    /// Filter dry runs to answer now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_runs: Vec<DryRunRequest>,
}

/// A filter change the control plane asks an attach point's gateway about: which of its tracked
/// flows `policy` would cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRunRequest {
    pub id: String,
    pub policy: crate::filter::FilterPolicy,
}

/// Most cut flows a gateway lists in a dry run's answer.
pub const MAX_CUT_FLOWS: usize = 1_000;

/// A gateway's answer to a dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRunAnswer {
    pub id: String,
    /// At most [`MAX_CUT_FLOWS`], in the order of their addresses and ports.
    pub flows: Vec<CutFlow>,
    pub total: u64,
}

/// A tracked flow, as its first packet went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CutFlow {
    pub protocol: u8,
    pub srcaddr: std::net::IpAddr,
    pub dstaddr: std::net::IpAddr,
    pub srcport: u16,
    pub dstport: u16,
    /// Which way its first packet crossed the edge.
    pub direction: crate::filter::Direction,
    /// Seconds since its last packet.
    pub idle_secs: u64,
}

/// `GET /v1/gateway/config` query string.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfigQuery {
    /// The index of the configuration the gateway has.
    #[serde(default)]
    pub index: Option<String>,
    /// How long to wait for a different one, in seconds (at most 60).
    #[serde(default)]
    pub wait: Option<u64>,
}

/// `POST /v1/gateway-tokens` (native API, tenant admin): a registration token.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("anyOf" = [
    { "required": ["attachPointId"], "properties": { "attachPointId": { "type": "string" } } },
    { "required": ["facility"], "properties": { "facility": { "type": "string" } } },
]))]
pub struct TokenRequest {
    /// The attach point the gateway serves (or, operator only, none: a provider edge of
    /// `facility`).
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schema::optional_uuid")]
    pub attach_point_id: Option<String>,
    #[serde(default)]
    pub facility: Option<String>,
}

#[derive(Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub token: String,
    pub attach_point_id: Option<String>,
    pub facility: Option<String>,
    pub expires_at: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("attach_point_id", &self.attach_point_id)
            .field("facility", &self.facility)
            .finish_non_exhaustive()
    }
}

/// A gateway as the native API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayView {
    pub id: String,
    pub name: String,
    pub account_id: String,
    pub attach_point_id: Option<String>,
    pub facility: Option<String>,
    pub underlay_address: String,
    pub version: Option<String>,
    pub registered_at: String,
    pub last_contact: Option<String>,
    /// Seconds since the last report, when there was one.
    pub last_contact_age_secs: Option<i64>,
    /// What it reported last.
    pub status: Option<GatewayStatus>,
}

/// Whether a link carries its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// MACsec secured, BGP Established and the other side's prefixes installed, on both ends
    /// (and in last mile, the customer session Established).
    Up,
    Down,
}

impl std::fmt::Display for LinkState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Up => "up",
            Self::Down => "down",
        })
    }
}

/// Which side of a connection a link end is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The connection's owner.
    Owner,
    /// The remote account (a provider edge, in last mile).
    Remote,
}

/// One link of a connection, with what both of its gateways report.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    /// The link's id: never reused (the `LinkId` dimension of its metrics).
    pub id: u64,
    pub name: String,
    pub vni: u32,
    pub state: LinkState,
    /// Why the link is down; on a link that is up, what its user should still know
    /// (`PATH_MTU_REDUCED`).
    pub reason: Option<StateReason>,
    pub ends: Vec<LinkEnd>,
    /// Last mile: the customer session this link carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerSessionView>,
}

/// A last-mile customer session: where it runs and what BGP says of it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerSessionView {
    /// The gateway that peers with the customer router: the provider edge (layer 3) or the
    /// tenant's gateway (layer 2, through the edge's bridge).
    pub gateway_id: String,
    pub gateway_name: String,
    /// The provider edge and its facility.
    pub edge: String,
    pub facility: Option<String>,
    /// The edge's VLAN sub-interface (`<interface>.<vlan>`).
    pub interface: Option<String>,
    pub vlan: u16,
    pub layer: u8,
    pub provider_address: String,
    pub customer_address: String,
    /// The IPv6 session's addresses, when the site carries IPv6 over an IPv4 session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_address6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_address6: Option<String>,
    pub customer_asn: u32,
    /// State, prefixes received, accepted and refused (with the refused ones), last error.
    pub bgp: Option<NeighborStatus>,
    /// The same of the IPv6 session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp6: Option<NeighborStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkEnd {
    pub side: Side,
    pub gateway_id: String,
    pub gateway_name: String,
    pub facility: Option<String>,
    pub underlay: String,
    pub address: String,
    /// The end's IPv6 address on the link (a /127), when the link carries IPv6: one of the two
    /// attach points has IPv6 prefixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address6: Option<String>,
    pub mka: Option<MkaStatus>,
    /// The link's MTU at this end, and whether the underlay carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_mtu: Option<PathMtuStatus>,
    pub bgp: Option<NeighborStatus>,
    /// The BGP session over the link's IPv6 addresses, which carries the IPv6 prefixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp6: Option<NeighborStatus>,
    pub counters: Option<LinkCounters>,
    /// The rate this end sends at: its part of the connection's bandwidth, which its links
    /// share by demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_bps: Option<u64>,
    /// What this end sent over the last half second, and whether its part held it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demand: Option<LinkDemand>,
    /// With the connection's link liveness on: whether this end hears the other (false: the
    /// link is dead here, its carrier off and its routes unused); none with liveness off, or
    /// until the other end's first keepalive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alive: Option<bool>,
    pub last_contact_age_secs: Option<i64>,
    /// Prefixes this end's gateway has in its kernel through this link: the routes it learned
    /// from the other end, both families.
    #[serde(default)]
    pub routes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinksResponse {
    pub links: Vec<LinkView>,
}

/// `POST /v1/gateway/status`: what a gateway reports, every few seconds and on changes.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportRequest {
    pub version: String,
    pub status: GatewayStatus,
    /// The gateway process's life, a random number drawn at its start: sample sequence
    /// numbers count within it.
    #[serde(default)]
    pub boot: u64,
    /// Closed minutes not yet acknowledged, oldest first (at most
    /// [`MAX_SAMPLES_PER_REPORT`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<MetricSample>,
    /// Flow-log records of closed windows, oldest first (at most
    /// [`crate::flowlog::MAX_RECORDS_PER_REPORT`]); a report the controller answers has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flow_logs: Vec<crate::flowlog::FlowLogRecord>,
}

/// `GET /v1/gateways` (native API).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayList {
    pub gateways: Vec<GatewayView>,
}

/// A connectivity test the control plane asks a gateway to run (ping and traceroute through the
/// connection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestRequest {
    pub id: String,
    pub target: String,
    pub count: u32,
}

/// What a connectivity test found.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub id: String,
    pub gateway: String,
    pub target: String,
    /// The address the probes left from (an address of the gateway's own network).
    pub source: Option<String>,
    pub sent: u32,
    pub received: u32,
    pub loss_percent: f64,
    pub rtt_min_ms: Option<f64>,
    pub rtt_avg_ms: Option<f64>,
    pub rtt_max_ms: Option<f64>,
    /// The path, one address per hop (`*` where none answered).
    pub hops: Vec<String>,
    pub error: Option<String>,
}

/// `POST /v1/connections/{id}/test` (native API).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestConnectionRequest {
    #[schemars(schema_with = "crate::api::schema::ip_address")]
    pub target: String,
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub count: Option<u32>,
}
