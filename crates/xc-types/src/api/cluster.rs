//! The control plane's replicas and which one leads (`GET /v1/cluster`, operator).

use serde::{Deserialize, Serialize};

/// `GET /v1/cluster`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// Every replica heard from in the last hour, oldest first.
    pub replicas: Vec<Replica>,
    /// The replica holding an unexpired lease (none between a leader's loss and its successor).
    pub leader: Option<String>,
    /// Milliseconds since the leader last renewed its lease (none without a leader).
    pub lease_age_ms: Option<i64>,
    /// The lease's fencing token: raised each time another replica takes the lead.
    pub lease_token: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Replica {
    /// Random, new at each start.
    pub id: String,
    /// The URL it serves at.
    pub address: String,
    pub leader: bool,
    /// Its latest heartbeat (RFC 3339); a live replica beats every second.
    pub last_seen: String,
    /// How long its previous heartbeat's write to the database took, in milliseconds.
    pub db_latency_ms: f64,
}
