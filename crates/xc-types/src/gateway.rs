//! What crosses the boundary between the control plane and a gateway: the gateway's
//! configuration document (the same structure as its TOML file, so one code path applies both),
//! what the gateway reports (its status, also served on its own `/status`), and the bodies of the
//! gateway API (`/v1/gateway/...`) and of the native API's gateway and link views.

use serde::{Deserialize, Serialize};

/// A gateway's configuration, field for field the TOML file of `xconnect gateway run --config`
/// (see `examples/gateway.toml`). The control plane hands this to managed gateways; they check it
/// with the same parser as a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigDoc {
    pub gateway: GatewaySection,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link: Vec<LinkDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp: Option<BgpDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access: Vec<AccessDoc>,
}

/// An 802.1Q VLAN sub-interface `<interface>.<vlan>` on a customer-facing interface: with
/// addresses (layer 3, a BGP neighbour beyond it), or in a bridge with a link (layer 2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessDoc {
    pub interface: String,
    pub vlan: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewaySection {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_listen: Option<String>,
}

/// One link. Holds the CAK: it only ever travels to the gateway that uses it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDoc {
    pub name: String,
    pub underlay_local: String,
    pub underlay_remote: String,
    pub vni: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    pub ckn: String,
    pub cak: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_server_priority: Option<u8>,
    /// Layer 2: the bridge the link's TAP joins (instead of an address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
}

impl std::fmt::Debug for LinkDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkDoc")
            .field("name", &self.name)
            .field("underlay_local", &self.underlay_local)
            .field("underlay_remote", &self.underlay_remote)
            .field("vni", &self.vni)
            .field("address", &self.address)
            .field("cak", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BgpDoc {
    pub asn: u32,
    pub router_id: String,
    #[serde(default)]
    pub announce: Vec<String>,
    #[serde(default)]
    pub neighbor: Vec<NeighborDoc>,
}

/// One BGP neighbour. May hold an MD5 password: it only ever travels to the gateway that uses
/// it, and `Debug` hides it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighborDoc {
    pub address: String,
    pub remote_asn: u32,
    /// Prefix list entries, or `["any"]`.
    pub import: Vec<String>,
    /// What the neighbour is sent, of the announced prefixes and of the routes learned from
    /// other neighbours (a transit, as a provider edge is); absent: the announced prefixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd_interval_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_prefixes: Option<usize>,
    #[serde(default)]
    pub bfd: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_retry_secs: Option<u16>,
    /// Only accept the neighbour's connections.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub passive: bool,
}

impl std::fmt::Debug for NeighborDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeighborDoc")
            .field("address", &self.address)
            .field("remote_asn", &self.remote_asn)
            .field("import", &self.import)
            .field("export", &self.export)
            .field(
                "md5_password",
                &self.md5_password.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// `POST /v1/gateway/register`: a single-use token buys a gateway its identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub token: String,
    pub name: String,
    pub underlay_address: String,
    pub version: String,
    /// A provider edge's customer-facing interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_interface: Option<String>,
}

/// The gateway's credential: sent as `Authorization: Bearer <gatewayId>.<secret>` from then on.
#[derive(Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigResponse {
    pub index: String,
    pub config: ConfigDoc,
    /// Connectivity tests to run now (not part of the configuration or its index).
    #[serde(default)]
    pub tests: Vec<TestRequest>,
}

/// `POST /v1/gateway/tokens` (native API, tenant admin): a registration token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    #[serde(default)]
    pub attach_point_id: Option<String>,
    #[serde(default)]
    pub facility: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// One link of a connection, with what both of its gateways report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    pub name: String,
    pub vni: u32,
    /// `up` (MACsec secured, BGP Established and the other side's prefixes installed, on both
    /// ends), or `down` with `reason`.
    pub state: String,
    pub reason: Option<String>,
    pub ends: Vec<LinkEnd>,
    /// Last mile: the customer session this link carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerSessionView>,
}

/// A last-mile customer session: where it runs and what BGP says of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    pub customer_asn: u32,
    /// State, prefixes received, accepted and refused (with the refused ones), last error.
    pub bgp: Option<NeighborStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkEnd {
    pub side: String,
    pub gateway_id: String,
    pub gateway_name: String,
    pub facility: Option<String>,
    pub underlay: String,
    pub address: String,
    pub mka: Option<MkaState>,
    pub bgp: Option<NeighborStatus>,
    pub counters: Option<serde_json::Value>,
    pub last_contact_age_secs: Option<i64>,
    /// Prefixes this end's gateway has in its kernel through this link: the routes it learned
    /// from the other end.
    #[serde(default)]
    pub routes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinksResponse {
    pub links: Vec<LinkView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewayStatus {
    pub name: String,
    pub keylog_enabled: bool,
    /// How long the cores keep polling after the links last carried a frame (0: off).
    #[serde(default)]
    pub idle_poll_ms: u64,
    pub links: Vec<LinkStatus>,
    /// The BGP speaker, when the gateway runs one.
    #[serde(default)]
    pub bgp: Option<RoutingStatus>,
    /// VLAN sub-interfaces on customer-facing interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access: Vec<AccessStatus>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccessStatus {
    /// The sub-interface, `<interface>.<vlan>`.
    pub name: String,
    pub interface: String,
    pub vlan: u16,
    pub addresses: Vec<String>,
    pub bridge: Option<String>,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub rx_malformed: u64,
    pub io_errors: u64,
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

/// A registered gateway, as stored.
#[derive(Debug, Clone)]
pub struct GatewayRecord {
    pub id: String,
    pub account_id: crate::AccountId,
    pub attach_point: Option<crate::AttachPointId>,
    pub facility: Option<String>,
    pub name: String,
    pub underlay_address: std::net::IpAddr,
    /// SHA-256 of the gateway's secret.
    pub secret_hash: Vec<u8>,
    pub version: Option<String>,
    pub last_contact: Option<i64>,
    pub status: Option<GatewayStatus>,
    pub created_at: i64,
    /// A provider edge's customer-facing interface (where the VLANs of last-mile connections
    /// arrive).
    pub access_interface: Option<String>,
}

/// A registration token, as stored (hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub token_hash: Vec<u8>,
    pub account_id: crate::AccountId,
    pub attach_point: Option<crate::AttachPointId>,
    pub facility: Option<String>,
    pub expires_at: i64,
    pub used_by: Option<String>,
    pub created_at: i64,
}

/// One link of a connection between a gateway of each side. Its id is also its VNI, and numbers
/// its /31 (169.254.0.0/16) and its UDP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    pub id: u32,
    pub connection_id: crate::ConnectionId,
    /// The owner's side.
    pub gateway_a: String,
    /// The remote side (a provider edge, in last mile).
    pub gateway_b: String,
    pub created_at: i64,
    /// Last mile: which customer session the link carries.
    pub slot: u8,
}

impl LinkRecord {
    /// The link's name on both gateways (the TAP is `xc-<name>`).
    pub fn name(&self) -> String {
        format!("l{}", self.id)
    }
    /// The link address of side A (`b = false`) or B, as an interface address on a /31.
    pub fn address(&self, b: bool) -> ipnet::Ipv4Net {
        let n = self.id.wrapping_mul(2) + u32::from(b);
        let addr = std::net::Ipv4Addr::from(0xa9fe_0000 | (n & 0xffff));
        ipnet::Ipv4Net::new(addr, 31).unwrap_or_default()
    }
    /// The UDP port of the link's underlay on both gateways.
    pub fn port(&self) -> u16 {
        10_000u16.wrapping_add(self.id as u16)
    }
}

/// How many links the 169.254.0.0/16 link addresses can number.
pub const MAX_LINK_ID: u32 = 32_767;

/// `POST /v1/gateway/status`: what a gateway reports, every few seconds and on changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportRequest {
    pub version: String,
    pub status: GatewayStatus,
}

/// `GET /v1/gateways` (native API).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewayList {
    pub gateways: Vec<GatewayView>,
}

/// A connectivity test the control plane asks a gateway to run (ping and traceroute through the
/// connection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRequest {
    pub id: String,
    pub target: String,
    pub count: u32,
}

/// What a connectivity test found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestConnectionRequest {
    pub target: String,
    #[serde(default)]
    pub count: Option<u32>,
}
