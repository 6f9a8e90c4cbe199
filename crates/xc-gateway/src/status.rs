//! What `/status` reports (and `xconnect gateway status` prints).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewayStatus {
    pub name: String,
    pub keylog_enabled: bool,
    pub links: Vec<LinkStatus>,
    /// The BGP speaker, when the gateway runs one.
    #[serde(default)]
    pub bgp: Option<RoutingStatus>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoutingStatus {
    pub asn: u32,
    pub router_id: String,
    pub announced: Vec<String>,
    pub neighbors: Vec<NeighborStatus>,
    /// Routes in the kernel (the first 1000, by prefix), with their next hops.
    pub routes: Vec<RouteStatus>,
    pub routes_installed: usize,
    /// Prefixes in the Loc-RIB.
    pub loc_rib: usize,
    pub kernel_errors: u64,
    pub last_kernel_error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NeighborStatus {
    pub address: String,
    pub remote_asn: u32,
    /// Idle, Connect, OpenSent, OpenConfirm or Established.
    pub state: String,
    pub uptime_secs: Option<u64>,
    pub peer_router_id: Option<String>,
    pub hold_time_secs: u64,
    pub prefixes_received: usize,
    pub prefixes_accepted: usize,
    pub prefixes_sent: usize,
    /// Prefixes refused by the import filter since the gateway started.
    pub prefixes_refused_total: u64,
    /// Some of the prefixes the neighbour announces now that the import filter refuses.
    pub refused_prefixes: Vec<String>,
    pub stale_routes: usize,
    pub updates_received: u64,
    pub updates_sent: u64,
    pub treated_as_withdraw: u64,
    pub established_transitions: u64,
    pub md5: bool,
    /// Why the session last went down: a NOTIFICATION sent or received, BFD, the connection
    /// lost.
    pub last_error: Option<String>,
    /// Why the last attempt to connect failed (cleared once Established).
    pub connect_error: Option<String>,
    pub bfd: Option<BfdStatus>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BfdStatus {
    /// AdminDown, Down, Init or Up.
    pub state: String,
    /// The diagnostic of the last state change.
    pub diag: String,
    pub local_discriminator: u32,
    pub interval_ms: u32,
    pub multiplier: u8,
    pub up_transitions: u64,
    pub down_transitions: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RouteStatus {
    pub prefix: String,
    pub next_hops: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LinkStatus {
    pub name: String,
    pub tap: String,
    pub vni: u32,
    pub mtu: u16,
    pub cipher: String,
    pub underlay_local: String,
    pub underlay_remote: String,
    pub bandwidth: Option<String>,
    pub mka: MkaState,
    pub counters: serde_json::Value,
    pub secy: serde_json::Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MkaState {
    /// `secured` (keys installed both ways), `negotiating`, or `no-peer`.
    pub state: String,
    pub key_server: bool,
    pub key_server_sci: Option<String>,
    pub live_peers: Vec<String>,
    pub current_an: Option<u8>,
    pub key_number: Option<u32>,
    pub key_age_secs: Option<u64>,
    pub rotations: u64,
    pub mkpdus_sent: u64,
    pub mkpdus_received: u64,
    pub mkpdus_bad_icv: u64,
    /// Why the link is not secured, in words, when it is not.
    pub reason: Option<String>,
}
