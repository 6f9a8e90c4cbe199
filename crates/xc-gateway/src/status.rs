//! What `/status` reports (and `xconnect gateway status` prints).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewayStatus {
    pub name: String,
    pub keylog_enabled: bool,
    pub links: Vec<LinkStatus>,
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
