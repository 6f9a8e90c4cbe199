//! Flow logs of a connection (`xc_types::flowlog`): turned on and off per side, and the records
//! of the caller's sides queried by time and fields.

use crate::flowlog::FlowLogRecord;
use crate::{AttachPointId, ConnectionId};
use serde::{Deserialize, Serialize};

/// `POST /v1/connections/{id}/flow-log`: turns the flow log of the caller's side(s) of a
/// connection on or off.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowLogUpdate {
    pub enabled: bool,
    /// One flow in N is logged, whole (default 1: every flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_sampling")]
    pub sampling: Option<u32>,
    /// Seconds a record sums a flow over: 60 (default) or 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_aggregation")]
    pub aggregation_interval: Option<u32>,
}

/// One side's flow log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowLogSide {
    pub attach_point_id: AttachPointId,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_interval: Option<u32>,
    /// When it was turned on (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_at: Option<String>,
}

/// The flow log of the caller's sides of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowLogSettings {
    pub connection_id: ConnectionId,
    pub sides: Vec<FlowLogSide>,
}

/// `GET /v1/connections/{id}/flow-log/records`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowLogQuery {
    /// Records whose window ended at this time (RFC 3339) or later; default: 10 minutes ago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_timestamp")]
    pub since: Option<String>,
    /// Records whose window started before this time; default: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_timestamp")]
    pub until: Option<String>,
    /// `ACCEPT` or `REJECT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_flow_action")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_ip_address")]
    pub srcaddr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_ip_address")]
    pub dstaddr: Option<String>,
    /// The source or the destination port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_port")]
    pub port: Option<u16>,
    /// `tcp`, `udp`, `icmp`, `icmpv6` or a protocol number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_packet_protocol")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_page_size")]
    pub max_results: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A record, with the side whose gateway logged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowLogEntry {
    pub connection_id: ConnectionId,
    pub attach_point_id: AttachPointId,
    #[serde(flatten)]
    pub record: FlowLogRecord,
}

/// A page of records, in the order they arrived.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowLogPage {
    pub records: Vec<FlowLogEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}
