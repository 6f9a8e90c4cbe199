//! Maintenance windows: the operator announces when connections (all, or one environment's) may
//! be interrupted; a window announced far enough ahead (the catalog's `[sla]
//! maintenance_notice_hours`) is left out of the SLA's availability (`/v1/maintenance`).

use serde::{Deserialize, Serialize};

/// A window, as announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindow {
    /// `mw-` and 16 hex digits.
    pub id: String,
    /// RFC 3339.
    pub start: String,
    pub end: String,
    pub description: String,
    /// The environment whose connections it concerns (none: every connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    /// When it was announced (RFC 3339).
    pub announced_at: String,
    /// Whether it was announced far enough ahead to be left out of the SLA.
    pub excluded_from_sla: bool,
}

/// `POST /v1/maintenance` (operator).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateMaintenanceRequest {
    /// RFC 3339, in the future.
    #[schemars(schema_with = "super::schema::timestamp")]
    pub start: String,
    /// RFC 3339, after `start` and at most 7 days after it.
    #[schemars(schema_with = "super::schema::timestamp")]
    pub end: String,
    /// 1 to 256 characters: what is done and what it means for connections.
    #[schemars(length(min = 1, max = 256))]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_environment_id")]
    pub environment_id: Option<String>,
}

/// Every window, soonest first.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceList {
    pub windows: Vec<MaintenanceWindow>,
}
