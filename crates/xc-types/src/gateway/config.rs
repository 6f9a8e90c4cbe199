//! The gateway's configuration document: one schema for the TOML file of
//! `xconnect gateway run --config` and for what the control plane hands a managed gateway. Both
//! are parsed once into these types and checked by the same function (`xc-gateway`'s
//! `GatewayConfig::from_doc`); `examples/gateway.toml` documents every field.
//!
//! The keys are the file's (snake_case, as TOML files are written). Unknown keys: a hand-written
//! file is refused with the file, line and key; a managed gateway ignores those the control plane
//! sends and names them in its log once, so a newer control plane can roll out before its
//! gateways. [`SCHEMA_VERSION`] says which schema a document was written for.
//!
//! Values stay as written here (addresses, prefixes and keys as strings): checking them is the
//! gateway's, so that a mistake in a file is reported against its line.

use serde::{Deserialize, Serialize};

/// The schema this build writes and reads. A version adds fields and never changes what an
/// existing one means.
pub const SCHEMA_VERSION: u32 = 1;

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A gateway's whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfigDoc {
    /// The schema the document was written for (a file may leave it out).
    #[serde(default = "schema_version")]
    pub schema: u32,
    pub gateway: GatewaySection,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link: Vec<LinkDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp: Option<BgpDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access: Vec<AccessDoc>,
    /// `[filters]`: the attach point's security groups, network ACL and prefix lists, in the
    /// API's JSON vocabulary (`securityGroups`, `ipProtocol`, `fromPort`, ...); see
    /// [`crate::filter`]. None: everything passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<crate::filter::FilterPolicy>,
    /// `[flow_sync]`: the filters' connection table shared with the attach point's other
    /// gateways. Holds a key: it only ever travels to the attach point's gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_sync: Option<FlowSyncDoc>,
}

/// `[flow_sync]`: where this gateway takes the other gateways' new flows (`listen`, an
/// `ip:port` of its own), where it sends its own (`peers`), and the key that authenticates them
/// (hex, 32 bytes, the same on every gateway of the attach point).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlowSyncDoc {
    pub listen: String,
    #[serde(default)]
    pub peers: Vec<String>,
    pub key: String,
}

impl std::fmt::Debug for FlowSyncDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowSyncDoc")
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Default for ConfigDoc {
    fn default() -> Self {
        Self {
            schema: SCHEMA_VERSION,
            gateway: GatewaySection::default(),
            link: Vec::new(),
            bgp: None,
            access: Vec::new(),
            filters: None,
            flow_sync: None,
        }
    }
}

/// `[gateway]`: who this gateway is, and settings of the machine it runs on (the control plane
/// leaves those out; a managed gateway takes them from its command line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GatewaySection {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_listen: Option<String>,
    /// DANGEROUS: where SAKs are written for decrypting captures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keylog_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_poll_ms: Option<u64>,
    /// How long a link thread keeps looking at its socket and TAP after a frame before it sleeps
    /// (microseconds, adaptive below that bound; default 100, 0: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy_poll_us: Option<u64>,
    /// Whether the links' TAPs hand over up to 64 KiB of a flow per read for the link to segment
    /// (TSO and USO; default true). Off: the kernel segments, one frame per read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transmit_offload: Option<bool>,
    /// Cores each link uses: 1 (the default), 2, 4 or 8 workers, each with a TAP queue, a UDP
    /// socket and its own packet-number lanes. Both ends of a link should say the same (a
    /// flow then stays on one worker at each end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_cores: Option<u8>,
    /// Most flows the filters' connection table holds (default 262,144); past it, new flows are
    /// refused (`table_full`) and none is evicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_table_size: Option<u64>,
    /// Where the flow logs' records are appended (VPC Flow Logs version 2 text); none: not
    /// written locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_log_file: Option<String>,
}

/// `[[link]]`: one MACsec link. Holds the CAK: it only ever travels to the gateway that uses it,
/// and `Debug` hides it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LinkDoc {
    pub name: String,
    /// The control plane's id of the link (never reused), reported back in the status so that a
    /// link that takes over an old link's name is never mistaken for it. A file leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub underlay_local: String,
    pub underlay_remote: String,
    pub vni: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    pub ckn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cak: Option<String>,
    /// A file holding the CAK in hex (a file's alternative to `cak`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cak_file: Option<String>,
    /// Layer 3: the link's IPv4 address and prefix length (a /31).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Layer 3: the link's IPv6 address and prefix length (a /127).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address6: Option<String>,
    /// Layer 2: the bridge the link's TAP joins (instead of addresses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<String>,
    /// How many links share `bandwidth` (their connection's) on egress: each starts with an
    /// equal part of it, and the control plane moves the parts by demand in its answers to the
    /// status reports. Left out, the link sends at `bandwidth` on its own. The receive side
    /// polices at `bandwidth` either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_shared_by: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_server_priority: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekey_interval_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_window: Option<u64>,
    /// The link's own liveness: a protected keepalive every this many milliseconds, and the
    /// link dead (its carrier off, so the kernel stops using its routes at once) after
    /// `liveness_multiplier` of them without a frame from the peer. Left out: off (BFD alone
    /// notices a dead link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_interval_ms: Option<u32>,
    /// 3 unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_multiplier: Option<u32>,
}

impl std::fmt::Debug for LinkDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkDoc")
            .field("name", &self.name)
            .field("underlay_local", &self.underlay_local)
            .field("underlay_remote", &self.underlay_remote)
            .field("vni", &self.vni)
            .field("address", &self.address)
            .field("cak", &self.cak.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// `[bgp]`: the BGP speaker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BgpDoc {
    pub asn: u32,
    pub router_id: String,
    #[serde(default)]
    pub announce: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_restart_secs: Option<u16>,
    #[serde(default)]
    pub neighbor: Vec<NeighborDoc>,
}

/// A prefix list (`["10.0.0.0/8 le 24", ...]`), or `"any"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum PrefixListDoc {
    One(String),
    List(Vec<String>),
}

impl Default for PrefixListDoc {
    fn default() -> Self {
        Self::List(Vec::new())
    }
}

/// `[[bgp.neighbor]]`: one BGP neighbour. May hold an MD5 password: it only ever travels to the
/// gateway that uses it, and `Debug` hides it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NeighborDoc {
    pub address: String,
    pub remote_asn: u32,
    /// What to accept from the neighbour (required: a file must say it, if only `"any"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<PrefixListDoc>,
    /// What the neighbour is sent, of the announced prefixes and of the routes learned from
    /// other neighbours (a transit, as a provider edge is); absent: the announced prefixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<PrefixListDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_prefixes: Option<usize>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub bfd: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd_interval_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd_multiplier: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_retry_secs: Option<u16>,
    /// Seconds a neighbour may read nothing before its session is closed (RFC 9687).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_hold_time: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepend: Option<u8>,
    /// Only accept the neighbour's connections.
    #[serde(default, skip_serializing_if = "is_false")]
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

/// `[[access]]`: an 802.1Q VLAN sub-interface `<interface>.<vlan>` on a customer-facing
/// interface: with addresses (layer 3, a BGP neighbour beyond it), or in a bridge with a link
/// (layer 2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccessDoc {
    pub interface: String,
    pub vlan: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u16>,
}
