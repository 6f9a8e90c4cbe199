//! Each account's stream of events: `GET /v1/events` (a page at a time) and
//! `GET /v1/events/stream` (`text/event-stream`, live).

use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum EventType {
    /// A connection was created (or accepted from a proposal).
    #[serde(rename = "connection.created")]
    ConnectionCreated,
    /// A connection's state or reason changed.
    #[serde(rename = "connection.stateChange")]
    ConnectionStateChange,
    /// A connection's bandwidth was asked for or reached.
    #[serde(rename = "connection.bandwidthChange")]
    ConnectionBandwidthChange,
    /// A link was planned for a connection.
    #[serde(rename = "link.added")]
    LinkAdded,
    /// A link was removed (re-planned, or its connection deleted).
    #[serde(rename = "link.removed")]
    LinkRemoved,
    /// A link went up or down (with the reason, when down).
    #[serde(rename = "link.stateChange")]
    LinkStateChange,
    /// An alarm changed state.
    #[serde(rename = "alarm.stateChange")]
    AlarmStateChange,
    /// A security group, network ACL or prefix list was created, changed or deleted, or a group
    /// attached or detached (the detail names it, the change, and the attach points it reaches).
    #[serde(rename = "filter.change")]
    FilterChange,
}

impl EventType {
    pub const ALL: &'static [EventType] = &[
        Self::ConnectionCreated,
        Self::ConnectionStateChange,
        Self::ConnectionBandwidthChange,
        Self::LinkAdded,
        Self::LinkRemoved,
        Self::LinkStateChange,
        Self::AlarmStateChange,
        Self::FilterChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionCreated => "connection.created",
            Self::ConnectionStateChange => "connection.stateChange",
            Self::ConnectionBandwidthChange => "connection.bandwidthChange",
            Self::LinkAdded => "link.added",
            Self::LinkRemoved => "link.removed",
            Self::LinkStateChange => "link.stateChange",
            Self::AlarmStateChange => "alarm.stateChange",
            Self::FilterChange => "filter.change",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.as_str() == s)
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Its place in the stream: events are numbered in the order they happened.
    pub id: u64,
    pub time: String,
    /// Whose stream it is in.
    pub account_id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<crate::ConnectionId>,
    /// What changed: for a connection its state, previous state, reason and bandwidth; for a link
    /// its id and gateways, or its state, previous state and reason; for an alarm the
    /// notification its webhooks get.
    pub detail: serde_json::Value,
}

/// `GET /v1/events` and `GET /v1/events/stream`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventsQuery {
    /// Events at this time (RFC 3339) or later; default: the last hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_timestamp")]
    pub since: Option<String>,
    /// Events after this one (an event's id), whatever their time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_page_size")]
    pub max_results: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A page of events, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventList {
    pub events: Vec<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}
