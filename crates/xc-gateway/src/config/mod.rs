//! The gateway's configuration: [`xc_types::gateway::ConfigDoc`] (one schema for the TOML file
//! and for what the control plane sends) checked into [`GatewayConfig`] by one function,
//! [`GatewayConfig::from_doc`], whichever way the document came.
//!
//! Every mistake names its field (`link[l1].ckn`) and the path to it in the document, so that a
//! file's error also gives its line ([`file`]): unknown keys, bad hex, a CAK of the wrong size, a
//! duplicate VNI or name, an address that cannot be an interface address. `examples/gateway.toml`
//! documents every field.

mod file;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use xc_macsec::CipherSuite;
use xc_types::gateway::{AccessDoc, BgpDoc, ConfigDoc, LinkDoc, NeighborDoc, PrefixListDoc};
use zeroize::Zeroizing;

pub use file::ConfigError;

/// One step of the path to a value in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(&'static str),
    Index(usize),
}

/// A refused value: the field as people name it (`link[l1].ckn`), where it is in the document,
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub path: Vec<Seg>,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

type Checked<T> = Result<T, FieldError>;

/// Builds the errors of one table of the document: its display name and its path.
#[derive(Clone)]
struct At {
    name: String,
    path: Vec<Seg>,
}

impl At {
    fn root() -> Self {
        Self {
            name: String::new(),
            path: Vec::new(),
        }
    }
    /// A table under this one (`gateway`, `bgp`).
    fn table(&self, key: &'static str) -> Self {
        let mut path = self.path.clone();
        path.push(Seg::Key(key));
        Self {
            name: self.field_name(key),
            path,
        }
    }
    /// Entry `index` of the array of tables `key`, named `key[label]` for people.
    fn entry(&self, key: &'static str, index: usize, label: impl std::fmt::Display) -> Self {
        let mut path = self.path.clone();
        path.push(Seg::Key(key));
        path.push(Seg::Index(index));
        Self {
            name: format!("{}[{label}]", self.field_name(key)),
            path,
        }
    }
    fn field_name(&self, key: &str) -> String {
        if self.name.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.name)
        }
    }
    fn err<T>(&self, key: &'static str, message: impl Into<String>) -> Checked<T> {
        self.err_at(key, None, message)
    }
    /// An error about element `index` of the array `key`.
    fn err_at<T>(
        &self,
        key: &'static str,
        index: Option<usize>,
        message: impl Into<String>,
    ) -> Checked<T> {
        let mut path = self.path.clone();
        path.push(Seg::Key(key));
        path.extend(index.map(Seg::Index));
        Err(FieldError {
            field: self.field_name(key),
            path,
            message: message.into(),
        })
    }
}

/// The longest idle-polling window: a minute of spinning after the last frame is already more
/// than any latency-sensitive traffic needs.
pub const MAX_IDLE_POLL_MS: u64 = 60_000;
/// The longest busy poll after a frame that may be configured, in microseconds.
pub const MAX_BUSY_POLL_US: u64 = xc_dataplane::busy_poll::MAX_ALLOWED.as_micros() as u64;
/// The busy poll after a frame unless configured otherwise, in microseconds.
pub const DEFAULT_BUSY_POLL_US: u64 = xc_dataplane::busy_poll::DEFAULT_MAX.as_micros() as u64;
/// The largest connection table a gateway may be given (about 400 MB of flows).
pub const MAX_FLOW_TABLE_SIZE: u64 = 4_194_304;
/// Most flows the filters' connection table holds unless told otherwise.
pub const DEFAULT_FLOW_TABLE_SIZE: usize = xc_filter::DEFAULT_FLOWS;

/// Whether `n` cores per link may be configured: 1, 2, 4 or 8 (`xc_dataplane::lanes`).
pub fn valid_link_cores(n: u8) -> bool {
    xc_dataplane::lanes::workers(n) == usize::from(n)
}

/// A validated gateway configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub name: String,
    pub admin_listen: SocketAddr,
    /// DANGEROUS: where SAKs are written for decrypting captures.
    pub keylog_file: Option<PathBuf>,
    /// Keep the cores polling for this long after the links last carried a frame (0: off); see
    /// `xc_dataplane::idle_poll`.
    pub idle_poll_ms: u64,
    /// A link thread keeps looking at its socket and TAP this many microseconds at most after a
    /// frame before it sleeps (0: off); see `xc_dataplane::busy_poll`.
    pub busy_poll_us: u64,
    /// The links' TAPs hand over segmentation-offload frames that the link segments.
    pub transmit_offload: bool,
    /// Cores (workers) each link uses: 1, 2, 4 or 8 (`xc_dataplane::lanes`).
    pub link_cores: u8,
    /// Most flows the filters' connection table holds.
    pub flow_table_size: usize,
    /// Where the flow logs' records are appended.
    pub flow_log_file: Option<PathBuf>,
    pub links: Vec<LinkSettings>,
    pub bgp: Option<BgpSettings>,
    pub access: Vec<AccessSettings>,
    /// The attach point's filters; an empty policy passes everything.
    pub filters: xc_types::filter::FilterPolicy,
    /// The connection table shared with the attach point's other gateways.
    pub flow_sync: Option<FlowSync>,
}

/// Where the filters' new flows go to and come from (`xc_filter::sync`).
#[derive(Clone, PartialEq, Eq)]
pub struct FlowSync {
    pub listen: SocketAddr,
    pub peers: Vec<SocketAddr>,
    pub key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for FlowSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowSync")
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .field("key", &"<redacted>")
            .finish()
    }
}

fn parse_flow_sync(at: &At, d: &xc_types::gateway::FlowSyncDoc) -> Checked<FlowSync> {
    let addr = |key: &'static str, s: &str| {
        s.parse::<SocketAddr>()
            .or_else(|_| at.err(key, format!("`{s}` is not an ip:port")))
    };
    let listen = addr("listen", &d.listen)?;
    let mut peers = Vec::new();
    for p in &d.peers {
        peers.push(addr("peers", p)?);
    }
    let bytes = Zeroizing::new(hex_bytes(at, "key", &d.key)?);
    let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) else {
        return at.err("key", "is 32 bytes of hex");
    };
    Ok(FlowSync {
        listen,
        peers,
        key: Zeroizing::new(key),
    })
}

/// An 802.1Q VLAN sub-interface on a customer-facing interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessSettings {
    /// The customer-facing interface that carries the tagged frames.
    pub interface: String,
    pub vlan: u16,
    /// Layer 3: the addresses of the sub-interface.
    pub addresses: Vec<ipnet::IpNet>,
    /// Layer 2: the bridge that joins the VLAN to a link.
    pub bridge: Option<String>,
    pub mtu: Option<u16>,
}

impl AccessSettings {
    /// The sub-interface's name, as the kernel would name a VLAN device.
    pub fn tap_name(&self) -> String {
        format!("{}.{}", self.interface, self.vlan)
    }
}

/// Interface names: at most 15 bytes (IFNAMSIZ - 1), no slash, space or colon.
fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The BGP speaker: who it is, what it announces, and its neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpSettings {
    pub asn: u32,
    pub router_id: std::net::Ipv4Addr,
    pub announce: Vec<ipnet::IpNet>,
    /// The restart time announced for graceful restart (RFC 4724); 0 turns it off.
    pub graceful_restart_secs: u16,
    pub neighbors: Vec<NeighborSettings>,
}

/// One BGP neighbour, reached over a directly connected interface.
#[derive(Clone, PartialEq, Eq)]
pub struct NeighborSettings {
    pub address: std::net::IpAddr,
    pub remote_asn: u32,
    pub import: xc_bgp::policy::ImportFilter,
    /// What this neighbour is sent: the announced prefixes and the routes learned from other
    /// neighbours that match. `None`: the announced prefixes only.
    pub export: Option<xc_bgp::policy::ImportFilter>,
    pub max_prefixes: usize,
    pub bfd: bool,
    pub bfd_interval_ms: u32,
    pub bfd_multiplier: u8,
    pub md5_password: Option<Zeroizing<String>>,
    pub hold_time: u16,
    pub connect_retry_secs: u16,
    /// How long a peer may read nothing before the session is closed (RFC 9687); default: 8
    /// minutes or twice the hold time, whichever is longer.
    pub send_hold_time: Option<u16>,
    pub prepend: u8,
    /// Only accept the neighbour's connections; never connect.
    pub passive: bool,
}

impl std::fmt::Debug for NeighborSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeighborSettings")
            .field("address", &self.address)
            .field("remote_asn", &self.remote_asn)
            .field("import", &self.import)
            .field("export", &self.export)
            .field("max_prefixes", &self.max_prefixes)
            .field("bfd", &self.bfd)
            .field(
                "md5_password",
                &self.md5_password.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// What a link is, as configured.
#[derive(Clone)]
pub struct LinkSettings {
    pub name: String,
    /// The control plane's id of the link (reported back in the status), when it gave one.
    pub id: Option<u64>,
    pub underlay_local: SocketAddr,
    pub underlay_remote: SocketAddr,
    pub vni: u32,
    pub cipher: CipherSuite,
    pub ckn: Vec<u8>,
    pub cak: Zeroizing<Vec<u8>>,
    /// Layer 3: the link's IPv4 address (a /31) and IPv6 address (a /127), each optional.
    pub address: Option<ipnet::IpNet>,
    pub address6: Option<ipnet::IpNet>,
    pub bridge: Option<String>,
    pub mtu: Option<u16>,
    pub bandwidth: Option<xc_types::Bandwidth>,
    /// How many links share `bandwidth` on egress (1: the link alone).
    pub bandwidth_shared_by: u32,
    pub key_server_priority: u8,
    pub rekey_interval_secs: Option<u64>,
    pub replay_window: u64,
    pub liveness: Option<xc_dataplane::liveness::LivenessConfig>,
}

impl LinkSettings {
    /// The rate both sides police at: the bandwidth, in bits per second.
    pub fn bandwidth_bps(&self) -> Option<u64> {
        self.bandwidth.map(|b| b.mbps() * 1_000_000)
    }

    /// The egress rate the link starts with: an equal part of the bandwidth it shares.
    pub fn initial_egress_bps(&self) -> Option<u64> {
        self.bandwidth_bps()
            .map(|b| b / u64::from(self.bandwidth_shared_by.max(1)))
    }

    /// Whether `other` is the same link, bandwidth and liveness aside (both are changed on the
    /// running link).
    pub fn same_link(&self, other: &Self) -> bool {
        self.name == other.name
            && self.id == other.id
            && self.underlay_local == other.underlay_local
            && self.underlay_remote == other.underlay_remote
            && self.vni == other.vni
            && self.cipher == other.cipher
            && self.ckn == other.ckn
            && *self.cak == *other.cak
            && self.address == other.address
            && self.address6 == other.address6
            && self.bridge == other.bridge
            && self.mtu == other.mtu
            && self.key_server_priority == other.key_server_priority
            && self.rekey_interval_secs == other.rekey_interval_secs
            && self.replay_window == other.replay_window
    }
}

impl std::fmt::Debug for LinkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSettings")
            .field("name", &self.name)
            .field("vni", &self.vni)
            .field("underlay_local", &self.underlay_local)
            .field("underlay_remote", &self.underlay_remote)
            .field("cipher", &self.cipher)
            .field("cak", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn hex_bytes(at: &At, key: &'static str, v: &str) -> Checked<Vec<u8>> {
    hex::decode(v.trim()).or_else(|_| at.err(key, "is not hex"))
}

fn interface_address(s: &str) -> Result<ipnet::IpNet, String> {
    let net: ipnet::IpNet = s.parse().map_err(|_| {
        format!("`{s}` is not an address with a prefix length, like 169.254.0.0/31")
    })?;
    let (max, addr) = match net {
        ipnet::IpNet::V4(n) => (32, n.addr() == n.network() || n.addr() == n.broadcast()),
        ipnet::IpNet::V6(n) => (128, n.addr() == n.network()),
    };
    // On /31, /32 (and /127, /128) every address is a host address (RFC 3021).
    if net.prefix_len() < max - 1 && addr {
        return Err(format!(
            "{s} is the network or broadcast address of its prefix, not a host address"
        ));
    }
    Ok(net)
}

impl GatewayConfig {
    /// Reads and checks a configuration file (TOML).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        file::load(path)
    }

    /// Parses configuration text; `base` resolves relative `cak_file` paths. Unknown keys are
    /// refused.
    pub fn parse(file: &str, text: &str, base: Option<&Path>) -> Result<Self, ConfigError> {
        file::parse(file, text, base)
    }

    /// Checks a configuration document, however it came (a file, or the control plane);
    /// `base` resolves relative `cak_file` paths.
    pub fn from_doc(doc: &ConfigDoc, base: Option<&Path>) -> Result<Self, FieldError> {
        let root = At::root();
        let g = root.table("gateway");
        let name = doc.gateway.name.clone();
        if name.is_empty() || name.len() > 64 {
            return g.err("name", "is 1 to 64 characters");
        }
        let admin_listen = match &doc.gateway.admin_listen {
            None => SocketAddr::from(([127, 0, 0, 1], 7801)),
            Some(a) => match a.parse() {
                Ok(x) => x,
                Err(_) => return g.err("admin_listen", "is an address:port"),
            },
        };
        let idle_poll_ms = match doc.gateway.idle_poll_ms {
            None => 0,
            Some(v) if v > MAX_IDLE_POLL_MS => {
                return g.err(
                    "idle_poll_ms",
                    format!("is 0 (off) to {MAX_IDLE_POLL_MS} milliseconds"),
                );
            }
            Some(v) => v,
        };
        let busy_poll_us = match doc.gateway.busy_poll_us {
            None => DEFAULT_BUSY_POLL_US,
            Some(v) if v > MAX_BUSY_POLL_US => {
                return g.err(
                    "busy_poll_us",
                    format!("is 0 (off) to {MAX_BUSY_POLL_US} microseconds"),
                );
            }
            Some(v) => v,
        };
        let link_cores = match doc.gateway.link_cores {
            None => 1,
            Some(v) if !valid_link_cores(v) => {
                return g.err("link_cores", "is 1, 2, 4 or 8");
            }
            Some(v) => v,
        };
        let flow_table_size = match doc.gateway.flow_table_size {
            None => DEFAULT_FLOW_TABLE_SIZE,
            Some(v) if !(1..=MAX_FLOW_TABLE_SIZE).contains(&v) => {
                return g.err(
                    "flow_table_size",
                    format!("is 1 to {MAX_FLOW_TABLE_SIZE} flows"),
                );
            }
            Some(v) => v as usize,
        };
        let mut links: Vec<LinkSettings> = Vec::new();
        for (i, l) in doc.link.iter().enumerate() {
            let link = parse_link(&root.entry("link", i, &l.name), l, &links, base)?;
            links.push(link);
        }
        let bgp = match &doc.bgp {
            None => None,
            Some(b) => Some(parse_bgp(&root.table("bgp"), b)?),
        };
        let filters = doc.filters.clone().unwrap_or_default();
        if let Err(e) = filters.validate() {
            return root.table("filters").err(e.field, e.message);
        }
        let flow_sync = match &doc.flow_sync {
            None => None,
            Some(d) => Some(parse_flow_sync(&root.table("flow_sync"), d)?),
        };
        let mut access: Vec<AccessSettings> = Vec::new();
        for (i, a) in doc.access.iter().enumerate() {
            let at = root.entry("access", i, format!("{}.{}", a.interface, a.vlan));
            let parsed = parse_access(&at, a, &access)?;
            access.push(parsed);
        }
        Ok(Self {
            name,
            admin_listen,
            keylog_file: doc.gateway.keylog_file.as_ref().map(PathBuf::from),
            idle_poll_ms,
            busy_poll_us,
            transmit_offload: doc.gateway.transmit_offload.unwrap_or(true),
            link_cores,
            flow_table_size,
            flow_log_file: doc.gateway.flow_log_file.as_ref().map(PathBuf::from),
            links,
            bgp,
            access,
            filters,
            flow_sync,
        })
    }
}

fn parse_link(
    at: &At,
    l: &LinkDoc,
    earlier: &[LinkSettings],
    base: Option<&Path>,
) -> Checked<LinkSettings> {
    let lname = l.name.clone();
    if lname.is_empty()
        || lname.len() > 11
        || !lname.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return at.err(
            "name",
            "is 1 to 11 letters, digits or dashes (the TAP is xc-<name>)",
        );
    }
    if earlier.iter().any(|x| x.name == lname) {
        return at.err("name", "is used by another link");
    }
    let vni = l.vni;
    if vni > xc_dataplane::vxlan::MAX_VNI {
        return at.err("vni", "is at most 16777215 (24 bits)");
    }
    if let Some(other) = earlier.iter().find(|x| x.vni == vni) {
        return at.err(
            "vni",
            format!("{vni} is already used by link {}", other.name),
        );
    }
    let Ok(underlay_local) = l.underlay_local.parse::<SocketAddr>() else {
        return at.err("underlay_local", "is an address:port");
    };
    let Ok(underlay_remote) = l.underlay_remote.parse::<SocketAddr>() else {
        return at.err("underlay_remote", "is an address:port");
    };
    let cipher = match &l.cipher {
        None => CipherSuite::GcmAesXpn256,
        Some(c) => match CipherSuite::parse(c) {
            Some(c) => c,
            None => {
                return at.err(
                    "cipher",
                    "is gcm-aes-128, gcm-aes-256, gcm-aes-xpn-128 or gcm-aes-xpn-256",
                );
            }
        },
    };
    let ckn = hex_bytes(at, "ckn", &l.ckn)?;
    if !(16..=32).contains(&ckn.len()) {
        return at.err("ckn", format!("is 16 to 32 bytes, not {}", ckn.len()));
    }
    let (cak, cak_key) = match (&l.cak, &l.cak_file) {
        (Some(c), None) => (hex_bytes(at, "cak", c)?, "cak"),
        (None, Some(p)) => {
            let path = base.map(|b| b.join(p)).unwrap_or_else(|| PathBuf::from(p));
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    return at.err("cak_file", format!("cannot read {}: {e}", path.display()));
                }
            };
            match hex::decode(text.trim()) {
                Ok(b) => (b, "cak_file"),
                Err(_) => {
                    return at.err("cak_file", format!("{} does not hold hex", path.display()));
                }
            }
        }
        _ => return at.err("cak", "give exactly one of cak and cak_file"),
    };
    if cak.len() != 16 && cak.len() != 32 {
        return at.err(
            cak_key,
            format!("a CAK is 16 or 32 bytes, not {}", cak.len()),
        );
    }
    let address = match &l.address {
        None => None,
        Some(a) => Some(interface_address(a).or_else(|m| at.err("address", m))?),
    };
    let address6 = match &l.address6 {
        None => None,
        Some(a) => match interface_address(a) {
            Ok(n @ ipnet::IpNet::V6(_)) => Some(n),
            Ok(_) => return at.err("address6", "is an IPv6 address, like fd00::/127"),
            Err(m) => return at.err("address6", m),
        },
    };
    if (address.is_some() || address6.is_some()) && l.bridge.is_some() {
        return at.err(
            "bridge",
            "a link has an address (layer 3) or a bridge (layer 2), not both",
        );
    }
    if let Some(m) = l.mtu
        && !(576..=9000).contains(&m)
    {
        return at.err("mtu", "is 576 to 9000");
    }
    let bandwidth = match &l.bandwidth {
        None => None,
        Some(b) => {
            Some(xc_types::Bandwidth::parse(b).or_else(|e| at.err("bandwidth", e.to_string()))?)
        }
    };
    use xc_types::LinkLiveness;
    let liveness = match (l.liveness_interval_ms, l.liveness_multiplier) {
        (None, None) => None,
        (None, Some(_)) => return at.err("liveness_multiplier", "needs liveness_interval_ms"),
        (Some(ms @ 1..=LinkLiveness::MAX_INTERVAL_MS), m) => {
            let multiplier = m.unwrap_or(LinkLiveness::DEFAULT.multiplier);
            if !LinkLiveness::MULTIPLIERS.contains(&multiplier) {
                return at.err("liveness_multiplier", "is 2 to 100");
            }
            Some(xc_dataplane::liveness::LivenessConfig {
                interval: std::time::Duration::from_millis(u64::from(ms)),
                multiplier,
            })
        }
        (Some(_), _) => return at.err("liveness_interval_ms", "is 1 to 10000"),
    };
    let bandwidth_shared_by = match l.bandwidth_shared_by {
        None => 1,
        Some(_) if bandwidth.is_none() => {
            return at.err("bandwidth_shared_by", "needs a bandwidth to share");
        }
        Some(n @ 1..=64) => n,
        Some(_) => return at.err("bandwidth_shared_by", "is 1 to 64"),
    };
    Ok(LinkSettings {
        name: lname,
        id: l.id,
        underlay_local,
        underlay_remote,
        vni,
        cipher,
        ckn,
        cak: Zeroizing::new(cak),
        address,
        address6,
        bridge: l.bridge.clone(),
        mtu: l.mtu,
        bandwidth,
        bandwidth_shared_by,
        key_server_priority: l.key_server_priority.unwrap_or(16),
        rekey_interval_secs: l.rekey_interval_secs,
        replay_window: l.replay_window.unwrap_or(64),
        liveness,
    })
}

fn parse_access(at: &At, a: &AccessDoc, earlier: &[AccessSettings]) -> Checked<AccessSettings> {
    let (iface, vlan) = (a.interface.clone(), a.vlan);
    if xc_dataplane::dot1q::valid_vid(vlan).is_err() {
        return at.err("vlan", "is 1 to 4094");
    }
    if !valid_ifname(&iface) || !valid_ifname(&format!("{iface}.{vlan}")) {
        return at.err(
            "interface",
            "is an interface name; with the VLAN (<interface>.<vlan>) at most 15 characters",
        );
    }
    if earlier
        .iter()
        .any(|o| o.interface == iface && o.vlan == vlan)
    {
        return at.err("vlan", "is configured twice on this interface");
    }
    let mut addresses = Vec::new();
    for (i, x) in a.addresses.iter().enumerate() {
        match interface_address(x) {
            Ok(n) => addresses.push(n),
            Err(m) => return at.err_at("addresses", Some(i), m),
        }
    }
    if let Some(b) = &a.bridge
        && !valid_ifname(b)
    {
        return at.err("bridge", "is an interface name of at most 15 characters");
    }
    if addresses.is_empty() == a.bridge.is_none() {
        return at.err(
            "addresses",
            "a sub-interface has addresses (layer 3) or a bridge (layer 2): exactly one of them",
        );
    }
    if let Some(m) = a.mtu
        && !(576..=9000).contains(&m)
    {
        return at.err("mtu", "is 576 to 9000");
    }
    Ok(AccessSettings {
        interface: iface,
        vlan,
        addresses,
        bridge: a.bridge.clone(),
        mtu: a.mtu,
    })
}

/// A prefix list (`["10.0.0.0/8 le 24", ...]`) or `"any"`.
fn prefix_filter(
    at: &At,
    key: &'static str,
    v: &PrefixListDoc,
) -> Checked<xc_bgp::policy::ImportFilter> {
    match v {
        PrefixListDoc::One(s) if s == "any" => Ok(xc_bgp::policy::ImportFilter::Any),
        PrefixListDoc::One(_) => at.err(key, "is a list of prefixes, or \"any\""),
        PrefixListDoc::List(list) if list.iter().any(|s| s == "any") => {
            Ok(xc_bgp::policy::ImportFilter::Any)
        }
        PrefixListDoc::List(list) => {
            let mut rules = Vec::new();
            for (i, s) in list.iter().enumerate() {
                match s.parse() {
                    Ok(r) => rules.push(r),
                    Err(e) => return at.err_at(key, Some(i), format!("{e}")),
                }
            }
            Ok(xc_bgp::policy::ImportFilter::List(rules))
        }
    }
}

fn valid_asn(at: &At, key: &'static str, a: u32) -> Checked<u32> {
    match a {
        0 | 23456 | u32::MAX => at.err(key, "is 1 to 4294967294, and not 23456 (AS_TRANS)"),
        n => Ok(n),
    }
}

fn parse_bgp(at: &At, b: &BgpDoc) -> Checked<BgpSettings> {
    let asn = valid_asn(at, "asn", b.asn)?;
    let router_id: std::net::Ipv4Addr = match b.router_id.parse() {
        Ok(ip) if ip != std::net::Ipv4Addr::UNSPECIFIED => ip,
        _ => return at.err("router_id", "is a non-zero IPv4 address, like 10.0.0.1"),
    };
    let mut announce = Vec::new();
    for (i, a) in b.announce.iter().enumerate() {
        match a.parse::<ipnet::IpNet>() {
            Ok(n) if n.trunc() == n => announce.push(n),
            Ok(n) => {
                return at.err_at(
                    "announce",
                    Some(i),
                    format!("{n} has host bits set; the prefix is {}", n.trunc()),
                );
            }
            Err(_) => {
                return at.err_at("announce", Some(i), "holds prefixes, like 10.0.0.0/16");
            }
        }
    }
    let mut neighbors: Vec<NeighborSettings> = Vec::new();
    for (i, n) in b.neighbor.iter().enumerate() {
        let parsed = parse_neighbor(at, i, n, &neighbors)?;
        neighbors.push(parsed);
    }
    Ok(BgpSettings {
        asn,
        router_id,
        announce,
        graceful_restart_secs: b.graceful_restart_secs.unwrap_or(120),
        neighbors,
    })
}

fn parse_neighbor(
    bgp: &At,
    index: usize,
    n: &NeighborDoc,
    earlier: &[NeighborSettings],
) -> Checked<NeighborSettings> {
    let Ok(address) = n.address.parse::<std::net::IpAddr>() else {
        return bgp
            .entry("neighbor", index, &n.address)
            .err("address", "is an IP address");
    };
    let at = bgp.entry("neighbor", index, address);
    if earlier.iter().any(|x| x.address == address) {
        return at.err("address", "is configured twice");
    }
    let remote_asn = valid_asn(&at, "remote_asn", n.remote_asn)?;
    let import = match &n.import {
        None => {
            return at.err(
                "import",
                "is required: the prefixes to accept from this neighbour (\"any\" to accept all)",
            );
        }
        Some(i) => prefix_filter(&at, "import", i)?,
    };
    let export = match &n.export {
        None => None,
        Some(e) => Some(prefix_filter(&at, "export", e)?),
    };
    let hold_time = n.hold_time.unwrap_or(90);
    if hold_time == 1 || hold_time == 2 {
        return at.err("hold_time", "is 0 or at least 3 seconds");
    }
    let bfd_interval_ms = n.bfd_interval_ms.unwrap_or(100);
    if !(10..=60_000).contains(&bfd_interval_ms) {
        return at.err("bfd_interval_ms", "is 10 to 60000");
    }
    let bfd_multiplier = n.bfd_multiplier.unwrap_or(3);
    if bfd_multiplier == 0 {
        return at.err("bfd_multiplier", "is 1 to 255");
    }
    let md5_password = match &n.md5_password {
        None => None,
        Some(p) if p.is_empty() || p.len() > 80 => {
            return at.err("md5_password", "is 1 to 80 bytes");
        }
        Some(p) => Some(Zeroizing::new(p.clone())),
    };
    let connect_retry_secs = n.connect_retry_secs.unwrap_or(5);
    if connect_retry_secs == 0 {
        return at.err("connect_retry_secs", "is at least 1");
    }
    if let Some(t) = n.send_hold_time
        && t < 3
    {
        return at.err("send_hold_time", "is at least 3 seconds");
    }
    Ok(NeighborSettings {
        address,
        remote_asn,
        import,
        export,
        max_prefixes: n.max_prefixes.unwrap_or(100),
        bfd: n.bfd,
        bfd_interval_ms,
        bfd_multiplier,
        md5_password,
        hold_time,
        connect_retry_secs,
        send_hold_time: n.send_hold_time,
        prepend: n.prepend.unwrap_or(0),
        passive: n.passive,
    })
}

#[cfg(test)]
mod tests;
