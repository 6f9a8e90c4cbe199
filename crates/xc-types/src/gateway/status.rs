//! What a gateway reports: its status, served on its own `/status` and sent to the control plane
//! with every report. States and conditions are enums, so the control plane decides from types
//! (a link is `MACSEC_KEY_MISMATCH` because MKA reports [`MkaCondition::PeerCakMismatch`], not
//! because a sentence contains "ICV"); the `reason` and `message` strings beside them are for
//! people. Field names are camelCase, as in the rest of the native API.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStatus {
    pub name: String,
    pub keylog_enabled: bool,
    /// How long the cores keep polling after the links last carried a frame (0: off).
    #[serde(default)]
    pub idle_poll_ms: u64,
    /// How long a link keeps looking for frames after one, at most, in microseconds (0: off).
    #[serde(default)]
    pub busy_poll_us: u64,
    pub links: Vec<LinkStatus>,
    /// The BGP speaker, when the gateway runs one.
    #[serde(default)]
    pub bgp: Option<RoutingStatus>,
    /// VLAN sub-interfaces on customer-facing interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access: Vec<AccessStatus>,
    /// The attach point's filters, when any is in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<FilterStatus>,
}

/// The filters in force on a gateway, and what they did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterStatus {
    /// Security groups attached (0: the groups' stage passes everything).
    pub security_groups: u32,
    /// The network ACL attached, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_acl: Option<String>,
    /// Flows in the connection table, and its size limit.
    pub flows: u64,
    pub flow_capacity: u64,
    /// Packets dropped, by cause.
    pub drops: FilterDrops,
    /// Every rule in force and the packets it decided (a security group rule: the flows it
    /// admitted; a network ACL rule: every packet it allowed or denied).
    pub rules: Vec<RuleHits>,
    /// The connection table shared with the attach point's other gateways.
    #[serde(default)]
    pub shared: FlowSharing,
}

/// Flows told to and by the attach point's other gateways (`xc_filter::sync`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowSharing {
    /// New flows sent to the other gateways.
    pub sent: u64,
    /// New flows not sent: the queue to the other gateways was full.
    pub dropped: u64,
    /// Flows the other gateways told of, tracked here.
    pub adopted: u64,
    /// Flows the other gateways told of that this gateway's policy would not admit.
    pub refused: u64,
}

/// Packets the filters dropped, by cause.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterDrops {
    /// Denied by a network ACL rule, or by its final implicit deny.
    pub acl_deny: u64,
    /// A new flow no security group rule allows.
    pub no_rule: u64,
    /// A new flow refused because the connection table is full.
    pub table_full: u64,
    /// A later fragment whose first fragment did not pass.
    pub fragment: u64,
    /// An IP packet too short or inconsistent to judge.
    pub malformed: u64,
}

/// One rule's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleHits {
    /// `sgr-...` for a security group rule; `acl-.../inbound/100` for a network ACL rule.
    pub rule: String,
    /// `allow` or `deny`.
    pub action: crate::filter::RuleAction,
    pub hits: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
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

/// A BGP session's state (RFC 4271 8.2.2), as the gateway's speaker reports it (it has no
/// Active state: a connect that fails goes back to Connect).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum BgpState {
    #[default]
    Idle,
    Connect,
    OpenSent,
    OpenConfirm,
    Established,
}

impl std::fmt::Display for BgpState {
    /// The RFC 4271 name of the state, which is the variant's name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// Why a BGP session last went down, or why it could not come up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SessionErrorKind {
    /// This speaker sent a NOTIFICATION (the code is in `notification`).
    NotificationSent,
    /// The neighbour sent a NOTIFICATION.
    NotificationReceived,
    /// BFD declared the neighbour down.
    BfdDown,
    /// The TCP connection was closed or failed without a NOTIFICATION.
    ConnectionLost,
}

/// A NOTIFICATION's error code and subcode (RFC 4271 4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NotificationCode {
    pub code: u8,
    pub subcode: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionError {
    pub kind: SessionErrorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<NotificationCode>,
    /// For people: "NOTIFICATION received: Cease / Administrative Shutdown (6/2)".
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NeighborStatus {
    pub address: String,
    pub remote_asn: u32,
    pub state: BgpState,
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
    pub last_error: Option<SessionError>,
    /// Why the last attempt to connect failed (cleared once Established), as the system said it.
    pub connect_error: Option<String>,
    pub bfd: Option<BfdStatus>,
}

impl NeighborStatus {
    /// What went wrong last, for people: the session's last error, else the last connect error.
    pub fn problem(&self) -> Option<&str> {
        self.last_error
            .as_ref()
            .map(|e| e.message.as_str())
            .or(self.connect_error.as_deref())
    }
}

/// A BFD session's state (RFC 5880 4.1).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum BfdState {
    AdminDown,
    #[default]
    Down,
    Init,
    Up,
}

impl std::fmt::Display for BfdState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// A BFD diagnostic (RFC 5880 4.1).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum BfdDiag {
    #[default]
    None,
    ControlDetectionTimeExpired,
    EchoFailed,
    NeighborSignaledDown,
    ForwardingPlaneReset,
    PathDown,
    ConcatenatedPathDown,
    AdministrativelyDown,
    ReverseConcatenatedPathDown,
    Other,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BfdStatus {
    pub state: BfdState,
    /// The diagnostic of the last state change.
    pub diag: BfdDiag,
    pub local_discriminator: u32,
    pub interval_ms: u32,
    pub multiplier: u8,
    pub up_transitions: u64,
    pub down_transitions: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    pub prefix: String,
    pub next_hops: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkStatus {
    pub name: String,
    /// The control plane's id of the link, when it gave one (`id` in the configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub tap: String,
    pub vni: u32,
    pub mtu: u16,
    pub cipher: String,
    pub underlay_local: String,
    pub underlay_remote: String,
    pub bandwidth: Option<String>,
    /// The cores (workers) the link runs on, each with a TAP queue, a socket and its own
    /// packet-number lanes; 0 from a gateway that does not say.
    #[serde(default)]
    pub workers: u8,
    /// The rate the transmit side shapes to: `bandwidth`, or the link's part of it when the
    /// link shares its connection's bandwidth with others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_bps: Option<u64>,
    /// What the link sent lately and whether its part held it back (a managed gateway's
    /// reports: the control plane shares a connection's bandwidth by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demand: Option<LinkDemand>,
    /// With liveness on: whether the peer's traffic arrives (false: the link is dead, its
    /// carrier off); none until the peer's first keepalive, or with liveness off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alive: Option<bool>,
    pub mka: MkaStatus,
    /// Whether the underlay carries the link's largest packets (`mtu` is what it carries).
    #[serde(default)]
    pub path_mtu: PathMtuStatus,
    pub counters: LinkCounters,
    pub secy: SecyCounters,
}

/// A link's egress over the last half second.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct LinkDemand {
    /// Bits per second sent (inner frames).
    pub bps: u64,
    /// The shaper held frames back while the link sent at least half its part: it would send
    /// more with a larger part.
    pub limited: bool,
}

/// Where a link's path-MTU check stands (`xc_dataplane::pathmtu`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum PathMtuState {
    /// The first check has not ended.
    #[default]
    Checking,
    /// A probe as large as the link's largest packet crossed both ways.
    Verified,
    /// Large probes are lost while small ones cross: something on the underlay drops large
    /// packets. The link's MTU was lowered to the largest size that crossed.
    Reduced,
    /// The peer answers no probe (a gateway without the check, or an underlay that carries
    /// nothing yet): the link keeps the MTU its underlay interface allows.
    Unanswered,
}

impl std::fmt::Display for PathMtuState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Checking => "checking",
            Self::Verified => "verified",
            Self::Reduced => "reduced",
            Self::Unanswered => "unanswered",
        })
    }
}

/// A link's path-MTU check.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct PathMtuStatus {
    pub state: PathMtuState,
    /// The MTU the underlay interface allows (or the configuration's `mtu`): what the link
    /// started with.
    pub configured: u16,
    /// The largest MTU whose probe crossed, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<u16>,
}

/// Where MKA stands on a link.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum MkaState {
    /// Keys installed both ways.
    Secured,
    /// A live peer; keys being agreed.
    Negotiating,
    /// No valid MKPDU from the peer yet.
    #[default]
    NoPeer,
}

impl MkaState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secured => "secured",
            Self::Negotiating => "negotiating",
            Self::NoPeer => "no-peer",
        }
    }
}

impl std::fmt::Display for MkaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a link's MKA is not secured: the condition the participant saw last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum MkaCondition {
    /// No valid MKPDU from the peer yet: it is not running, or has not this link's CKN and CAK.
    NoPeer,
    /// A live peer; keys are being agreed.
    Agreeing,
    /// The peer's MKPDUs fail their ICV check: it holds a different CAK.
    PeerCakMismatch,
    /// The peer's MKPDUs carry another CKN.
    PeerCknMismatch,
    /// The key server distributes a SAK for another cipher suite.
    CipherSuiteMismatch,
    /// A distributed SAK did not unwrap under our KEK.
    SakUnwrapFailed,
    /// A local failure (wrapping a SAK, encoding an MKPDU).
    LocalError,
}

impl MkaCondition {
    /// The condition in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NoPeer => {
                "no valid MKPDU from the peer yet: is the other gateway running, with this link's CKN and CAK?"
            }
            Self::Agreeing => "agreeing keys with the peer",
            Self::PeerCakMismatch => "MKPDU failed its ICV check: the peer has a different CAK",
            Self::PeerCknMismatch => "MKPDU for another CKN",
            Self::CipherSuiteMismatch => {
                "the key server distributes a SAK for another cipher suite"
            }
            Self::SakUnwrapFailed => "a distributed SAK did not unwrap under our KEK",
            Self::LocalError => "a local MKA error (see the gateway's log)",
        }
    }

    /// Whether the two ends hold different keys (the link's `MACSEC_KEY_MISMATCH`).
    pub fn is_key_mismatch(self) -> bool {
        matches!(self, Self::PeerCakMismatch | Self::PeerCknMismatch)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MkaStatus {
    pub state: MkaState,
    /// Why it is not secured, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<MkaCondition>,
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
    /// The condition in words, for people.
    pub reason: Option<String>,
}

/// Counters of one link, each way (what the data plane counts).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct LinkCounters {
    /// Frames sent protected to the peer (each segment of an offloaded TAP read).
    pub tx_packets: u64,
    /// Bytes of those frames (inner Ethernet frames, before protection).
    pub tx_bytes: u64,
    /// Frames validated and written to the TAP.
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Dropped by the egress policer (over the bandwidth).
    pub tx_dropped_policer: u64,
    /// Frames the transmit shaper held back until the bandwidth allowed them.
    pub tx_shaped: u64,
    /// Dropped by the ingress policer.
    pub rx_dropped_policer: u64,
    /// Dropped on transmit because no SA is installed yet (MKA not secured).
    pub tx_dropped_no_sa: u64,
    /// Received frames that failed MACsec validation (bad tag, unknown SCI, no SA, late, ICV).
    pub rx_dropped_invalid: u64,
    /// Received frames dropped as replays (InPktsLate).
    pub rx_dropped_replay: u64,
    /// Received frames whose ICV did not verify (InPktsNotValid).
    pub rx_dropped_icv: u64,
    /// Datagrams that were not VXLAN for this link's VNI.
    pub rx_dropped_vxlan: u64,
    /// Frames from the attach point's network that its filters refused before encryption.
    #[serde(default)]
    pub tx_dropped_filter: u64,
    /// Frames from the peer that the filters refused after decryption.
    #[serde(default)]
    pub rx_dropped_filter: u64,
    /// TAP reads whose offload request (segmentation, checksum) could not be carried out.
    #[serde(default)]
    pub tx_dropped_offload: u64,
    /// TAP reads of a segmentation-offload frame (TSO, USO) that the link cut into segments.
    #[serde(default)]
    pub tx_segmented: u64,
    /// MKPDUs sent and received on the link.
    pub mkpdus_tx: u64,
    pub mkpdus_rx: u64,
    /// Errors writing to the TAP or the socket.
    pub io_errors: u64,
    /// Keepalives sent and received (the link's liveness, when it is on).
    #[serde(default)]
    pub keepalives_tx: u64,
    #[serde(default)]
    pub keepalives_rx: u64,
    /// Times the link was found dead: nothing from the peer validated for the detection time,
    /// and its carrier went off.
    #[serde(default)]
    pub carrier_downs: u64,
}

/// The IEEE 802.1AE SecY counters of a link (802.1AE 10.7, the MIB's names in camelCase).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct SecyCounters {
    pub out_pkts_encrypted: u64,
    pub out_pkts_protected: u64,
    pub in_pkts_ok: u64,
    pub in_pkts_late: u64,
    pub in_pkts_not_valid: u64,
    pub in_pkts_no_sci: u64,
    pub in_pkts_not_using_sa: u64,
    pub in_pkts_bad_tag: u64,
    pub in_pkts_no_tag: u64,
    pub in_pkts_delayed: u64,
}

impl LinkCounters {
    /// (name, value) pairs, named in snake_case for metrics exposition
    /// (`xconnect_link_<name>_total`).
    pub fn fields(&self) -> [(&'static str, u64); 22] {
        let Self {
            tx_packets,
            tx_bytes,
            rx_packets,
            rx_bytes,
            tx_dropped_policer,
            tx_shaped,
            rx_dropped_policer,
            tx_dropped_no_sa,
            rx_dropped_invalid,
            rx_dropped_replay,
            rx_dropped_icv,
            rx_dropped_vxlan,
            tx_dropped_filter,
            rx_dropped_filter,
            tx_dropped_offload,
            tx_segmented,
            mkpdus_tx,
            mkpdus_rx,
            io_errors,
            keepalives_tx,
            keepalives_rx,
            carrier_downs,
        } = *self;
        [
            ("tx_packets", tx_packets),
            ("tx_bytes", tx_bytes),
            ("rx_packets", rx_packets),
            ("rx_bytes", rx_bytes),
            ("tx_dropped_policer", tx_dropped_policer),
            ("tx_shaped", tx_shaped),
            ("rx_dropped_policer", rx_dropped_policer),
            ("tx_dropped_no_sa", tx_dropped_no_sa),
            ("rx_dropped_invalid", rx_dropped_invalid),
            ("rx_dropped_replay", rx_dropped_replay),
            ("rx_dropped_icv", rx_dropped_icv),
            ("rx_dropped_vxlan", rx_dropped_vxlan),
            ("tx_dropped_filter", tx_dropped_filter),
            ("rx_dropped_filter", rx_dropped_filter),
            ("tx_dropped_offload", tx_dropped_offload),
            ("tx_segmented", tx_segmented),
            ("mkpdus_tx", mkpdus_tx),
            ("mkpdus_rx", mkpdus_rx),
            ("io_errors", io_errors),
            ("keepalives_tx", keepalives_tx),
            ("keepalives_rx", keepalives_rx),
            ("carrier_downs", carrier_downs),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every counter is a metric, under its field's name.
    #[test]
    fn counter_fields_match_the_serialized_names() {
        let json = serde_json::to_value(LinkCounters::default()).expect("json");
        let keys: Vec<String> = json.as_object().expect("object").keys().cloned().collect();
        let fields = LinkCounters::default().fields();
        assert_eq!(keys.len(), fields.len());
        for (snake, _) in fields {
            let camel: String = snake
                .split('_')
                .enumerate()
                .map(|(i, w)| {
                    if i == 0 {
                        w.to_owned()
                    } else {
                        w[..1].to_uppercase() + &w[1..]
                    }
                })
                .collect();
            assert!(
                keys.contains(&camel),
                "{snake} is not serialized as {camel}"
            );
        }
    }

    #[test]
    fn states_keep_their_wire_names() {
        let s = |v: &dyn erased::Ser| v.json();
        assert_eq!(s(&BgpState::Established), "\"Established\"");
        assert_eq!(s(&MkaState::NoPeer), "\"no-peer\"");
        assert_eq!(s(&MkaState::Secured), "\"secured\"");
        assert_eq!(s(&BfdState::AdminDown), "\"AdminDown\"");
        assert_eq!(s(&MkaCondition::PeerCakMismatch), "\"peerCakMismatch\"");
    }

    mod erased {
        pub trait Ser {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Ser for T {
            fn json(&self) -> String {
                serde_json::to_string(self).expect("json")
            }
        }
    }
}
