//! The gateway's configuration file (TOML). The same structure will come from the control plane
//! for managed gateways. `examples/gateway.toml` documents every field.
//!
//! Every mistake is refused at start with the file, the line and the field: unknown fields, bad
//! hex, a CAK of the wrong size, a duplicate VNI or name, an address that cannot be an interface
//! address.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use toml::Spanned;
use xc_macsec::CipherSuite;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    gateway: RawGateway,
    #[serde(default)]
    link: Vec<RawLink>,
    bgp: Option<RawBgp>,
    #[serde(default)]
    access: Vec<RawAccess>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccess {
    interface: Spanned<String>,
    vlan: Spanned<u16>,
    #[serde(default)]
    addresses: Vec<Spanned<String>>,
    bridge: Option<Spanned<String>>,
    mtu: Option<Spanned<u16>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBgp {
    asn: Spanned<u32>,
    router_id: Spanned<String>,
    #[serde(default)]
    announce: Vec<Spanned<String>>,
    graceful_restart_secs: Option<Spanned<u16>>,
    #[serde(default)]
    neighbor: Vec<RawNeighbor>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawImport {
    One(String),
    List(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNeighbor {
    address: Spanned<String>,
    remote_asn: Spanned<u32>,
    import: Option<Spanned<RawImport>>,
    export: Option<Spanned<RawImport>>,
    max_prefixes: Option<usize>,
    #[serde(default)]
    bfd: bool,
    bfd_interval_ms: Option<Spanned<u32>>,
    bfd_multiplier: Option<Spanned<u8>>,
    md5_password: Option<Spanned<String>>,
    hold_time: Option<Spanned<u16>>,
    connect_retry_secs: Option<Spanned<u16>>,
    #[serde(default)]
    prepend: u8,
    #[serde(default)]
    passive: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    name: Spanned<String>,
    admin_listen: Option<Spanned<String>>,
    keylog_file: Option<PathBuf>,
    idle_poll_ms: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    name: Spanned<String>,
    underlay_local: Spanned<String>,
    underlay_remote: Spanned<String>,
    vni: Spanned<u32>,
    cipher: Option<Spanned<String>>,
    ckn: Spanned<String>,
    cak: Option<Spanned<String>>,
    cak_file: Option<Spanned<String>>,
    address: Option<Spanned<String>>,
    bridge: Option<Spanned<String>>,
    mtu: Option<Spanned<u16>>,
    bandwidth: Option<Spanned<String>>,
    key_server_priority: Option<u8>,
    rekey_interval_secs: Option<u64>,
    replay_window: Option<u64>,
}

/// The longest idle-polling window: a minute of spinning after the last frame is already more
/// than any latency-sensitive traffic needs.
pub const MAX_IDLE_POLL_MS: u64 = 60_000;

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
    pub links: Vec<LinkSettings>,
    pub bgp: Option<BgpSettings>,
    pub access: Vec<AccessSettings>,
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
    pub underlay_local: SocketAddr,
    pub underlay_remote: SocketAddr,
    pub vni: u32,
    pub cipher: CipherSuite,
    pub ckn: Vec<u8>,
    pub cak: Zeroizing<Vec<u8>>,
    pub address: Option<ipnet::IpNet>,
    pub bridge: Option<String>,
    pub mtu: Option<u16>,
    pub bandwidth: Option<xc_types::Bandwidth>,
    pub key_server_priority: u8,
    pub rekey_interval_secs: Option<u64>,
    pub replay_window: u64,
}

impl LinkSettings {
    /// Whether `other` is the same link, bandwidth aside (a bandwidth change is applied to the
    /// running link).
    pub fn same_link(&self, other: &Self) -> bool {
        self.name == other.name
            && self.underlay_local == other.underlay_local
            && self.underlay_remote == other.underlay_remote
            && self.vni == other.vni
            && self.cipher == other.cipher
            && self.ckn == other.ckn
            && *self.cak == *other.cak
            && self.address == other.address
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

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> Result<T, ConfigError> {
        Err(ConfigError {
            file: self.file.to_owned(),
            line: self.line(span.start),
            field: field.to_owned(),
            message: message.into(),
        })
    }
}

fn hex_bytes(ctx: &Ctx<'_>, v: &Spanned<String>, field: &str) -> Result<Vec<u8>, ConfigError> {
    match hex::decode(v.get_ref().trim()) {
        Ok(b) => Ok(b),
        Err(_) => ctx.err(v.span(), field, "is not hex"),
    }
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
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: 0,
            field: "-".into(),
            message: e.to_string(),
        })?;
        Self::parse(&file, &text, path.parent())
    }

    /// Checks a configuration handed over by the control plane: the document has the file's
    /// structure, and goes through the file's parser, so both are held to the same rules.
    pub fn from_doc(doc: &xc_types::gateway::ConfigDoc) -> Result<Self, ConfigError> {
        let text = toml::to_string(doc).map_err(|e| ConfigError {
            file: "controller".into(),
            line: 0,
            field: "-".into(),
            message: e.to_string(),
        })?;
        Self::parse("controller", &text, None)
    }

    /// Parses configuration text; `base` resolves relative `cak_file` paths.
    pub fn parse(file: &str, text: &str, base: Option<&Path>) -> Result<Self, ConfigError> {
        let ctx = Ctx { file, text };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| ctx.line(s.start)).unwrap_or(0);
            ConfigError {
                file: file.to_owned(),
                line,
                field: "-".into(),
                message: e.message().trim().to_owned(),
            }
        })?;
        let name = raw.gateway.name.get_ref().clone();
        if name.is_empty() || name.len() > 64 {
            return ctx.err(
                raw.gateway.name.span(),
                "gateway.name",
                "is 1 to 64 characters",
            );
        }
        let admin_listen = match &raw.gateway.admin_listen {
            None => "127.0.0.1:7801".parse().expect("constant"),
            Some(a) => match a.get_ref().parse() {
                Ok(x) => x,
                Err(_) => return ctx.err(a.span(), "gateway.admin_listen", "is an address:port"),
            },
        };
        let idle_poll_ms = match &raw.gateway.idle_poll_ms {
            None => 0,
            Some(v) if *v.get_ref() > MAX_IDLE_POLL_MS => {
                return ctx.err(
                    v.span(),
                    "gateway.idle_poll_ms",
                    format!("is 0 (off) to {MAX_IDLE_POLL_MS} milliseconds"),
                );
            }
            Some(v) => *v.get_ref(),
        };
        let mut links: Vec<LinkSettings> = Vec::new();
        for l in raw.link {
            let lname = l.name.get_ref().clone();
            let f = |x: &str| format!("link[{lname}].{x}");
            if lname.is_empty()
                || lname.len() > 11
                || !lname.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return ctx.err(
                    l.name.span(),
                    &f("name"),
                    "is 1 to 11 letters, digits or dashes (the TAP is xc-<name>)",
                );
            }
            if links.iter().any(|x| x.name == lname) {
                return ctx.err(l.name.span(), &f("name"), "is used by another link");
            }
            let vni = *l.vni.get_ref();
            if vni > xc_dataplane::vxlan::MAX_VNI {
                return ctx.err(l.vni.span(), &f("vni"), "is at most 16777215 (24 bits)");
            }
            if let Some(other) = links.iter().find(|x| x.vni == vni) {
                return ctx.err(
                    l.vni.span(),
                    &f("vni"),
                    format!("{vni} is already used by link {}", other.name),
                );
            }
            let underlay_local: SocketAddr = match l.underlay_local.get_ref().parse() {
                Ok(a) => a,
                Err(_) => {
                    return ctx.err(
                        l.underlay_local.span(),
                        &f("underlay_local"),
                        "is an address:port",
                    );
                }
            };
            let underlay_remote: SocketAddr = match l.underlay_remote.get_ref().parse() {
                Ok(a) => a,
                Err(_) => {
                    return ctx.err(
                        l.underlay_remote.span(),
                        &f("underlay_remote"),
                        "is an address:port",
                    );
                }
            };
            let cipher = match &l.cipher {
                None => CipherSuite::GcmAesXpn256,
                Some(c) => match CipherSuite::parse(c.get_ref()) {
                    Some(c) => c,
                    None => {
                        return ctx.err(
                            c.span(),
                            &f("cipher"),
                            "is gcm-aes-128, gcm-aes-256, gcm-aes-xpn-128 or gcm-aes-xpn-256",
                        );
                    }
                },
            };
            let ckn = hex_bytes(&ctx, &l.ckn, &f("ckn"))?;
            if !(16..=32).contains(&ckn.len()) {
                return ctx.err(
                    l.ckn.span(),
                    &f("ckn"),
                    format!("is 16 to 32 bytes, not {}", ckn.len()),
                );
            }
            let cak = match (&l.cak, &l.cak_file) {
                (Some(c), None) => (hex_bytes(&ctx, c, &f("cak"))?, c.span(), "cak"),
                (None, Some(p)) => {
                    let path = base
                        .map(|b| b.join(p.get_ref()))
                        .unwrap_or_else(|| PathBuf::from(p.get_ref()));
                    let text = match std::fs::read_to_string(&path) {
                        Ok(t) => t,
                        Err(e) => {
                            return ctx.err(
                                p.span(),
                                &f("cak_file"),
                                format!("cannot read {}: {e}", path.display()),
                            );
                        }
                    };
                    match hex::decode(text.trim()) {
                        Ok(b) => (b, p.span(), "cak_file"),
                        Err(_) => {
                            return ctx.err(
                                p.span(),
                                &f("cak_file"),
                                format!("{} does not hold hex", path.display()),
                            );
                        }
                    }
                }
                _ => {
                    return ctx.err(
                        l.name.span(),
                        &f("cak"),
                        "give exactly one of cak and cak_file",
                    );
                }
            };
            if cak.0.len() != 16 && cak.0.len() != 32 {
                return ctx.err(
                    cak.1,
                    &f(cak.2),
                    format!("a CAK is 16 or 32 bytes, not {}", cak.0.len()),
                );
            }
            let address = match &l.address {
                None => None,
                Some(a) => match interface_address(a.get_ref()) {
                    Ok(n) => Some(n),
                    Err(m) => return ctx.err(a.span(), &f("address"), m),
                },
            };
            if address.is_some() && l.bridge.is_some() {
                return ctx.err(
                    l.name.span(),
                    &f("bridge"),
                    "a link has an address (layer 3) or a bridge (layer 2), not both",
                );
            }
            if let Some(m) = &l.mtu
                && !(576..=9000).contains(m.get_ref())
            {
                return ctx.err(m.span(), &f("mtu"), "is 576 to 9000");
            }
            let bandwidth = match &l.bandwidth {
                None => None,
                Some(b) => match xc_types::Bandwidth::parse(b.get_ref()) {
                    Ok(x) => Some(x),
                    Err(e) => return ctx.err(b.span(), &f("bandwidth"), e.to_string()),
                },
            };
            links.push(LinkSettings {
                name: lname,
                underlay_local,
                underlay_remote,
                vni,
                cipher,
                ckn,
                cak: Zeroizing::new(cak.0),
                address,
                bridge: l.bridge.map(|b| b.into_inner()),
                mtu: l.mtu.map(|m| m.into_inner()),
                bandwidth,
                key_server_priority: l.key_server_priority.unwrap_or(16),
                rekey_interval_secs: l.rekey_interval_secs,
                replay_window: l.replay_window.unwrap_or(64),
            });
        }
        let bgp = match raw.bgp {
            None => None,
            Some(b) => Some(parse_bgp(&ctx, b)?),
        };
        let access = parse_access(&ctx, raw.access)?;
        Ok(Self {
            name,
            admin_listen,
            keylog_file: raw.gateway.keylog_file,
            idle_poll_ms,
            links,
            bgp,
            access,
        })
    }
}

fn parse_access(ctx: &Ctx<'_>, raw: Vec<RawAccess>) -> Result<Vec<AccessSettings>, ConfigError> {
    let mut out: Vec<AccessSettings> = Vec::new();
    for a in raw {
        let iface = a.interface.get_ref().clone();
        let vlan = *a.vlan.get_ref();
        let f = |x: &str| format!("access[{iface}.{vlan}].{x}");
        if xc_dataplane::dot1q::valid_vid(vlan).is_err() {
            return ctx.err(a.vlan.span(), &f("vlan"), "is 1 to 4094");
        }
        if !valid_ifname(&iface) || !valid_ifname(&format!("{iface}.{vlan}")) {
            return ctx.err(
                a.interface.span(),
                &f("interface"),
                "is an interface name; with the VLAN (<interface>.<vlan>) at most 15 characters",
            );
        }
        if out.iter().any(|o| o.interface == iface && o.vlan == vlan) {
            return ctx.err(
                a.vlan.span(),
                &f("vlan"),
                "is configured twice on this interface",
            );
        }
        let mut addresses = Vec::new();
        for x in &a.addresses {
            match interface_address(x.get_ref()) {
                Ok(n) => addresses.push(n),
                Err(m) => return ctx.err(x.span(), &f("addresses"), m),
            }
        }
        if let Some(b) = &a.bridge
            && !valid_ifname(b.get_ref())
        {
            return ctx.err(
                b.span(),
                &f("bridge"),
                "is an interface name of at most 15 characters",
            );
        }
        if addresses.is_empty() == a.bridge.is_none() {
            return ctx.err(
                a.vlan.span(),
                &f("addresses"),
                "a sub-interface has addresses (layer 3) or a bridge (layer 2): exactly one of them",
            );
        }
        if let Some(m) = &a.mtu
            && !(576..=9000).contains(m.get_ref())
        {
            return ctx.err(m.span(), &f("mtu"), "is 576 to 9000");
        }
        out.push(AccessSettings {
            interface: iface,
            vlan,
            addresses,
            bridge: a.bridge.map(Spanned::into_inner),
            mtu: a.mtu.map(Spanned::into_inner),
        });
    }
    Ok(out)
}

/// A prefix list (`["10.0.0.0/8 le 24", ...]`) or `"any"`.
fn prefix_filter(
    ctx: &Ctx<'_>,
    v: &Spanned<RawImport>,
    field: &str,
) -> Result<xc_bgp::policy::ImportFilter, ConfigError> {
    match v.get_ref() {
        RawImport::One(s) if s == "any" => Ok(xc_bgp::policy::ImportFilter::Any),
        RawImport::One(_) => ctx.err(v.span(), field, "is a list of prefixes, or \"any\""),
        RawImport::List(list) if list.iter().any(|s| s == "any") => {
            Ok(xc_bgp::policy::ImportFilter::Any)
        }
        RawImport::List(list) => {
            let mut rules = Vec::new();
            for s in list {
                match s.parse() {
                    Ok(r) => rules.push(r),
                    Err(e) => return ctx.err(v.span(), field, format!("{e}")),
                }
            }
            Ok(xc_bgp::policy::ImportFilter::List(rules))
        }
    }
}

fn valid_asn(ctx: &Ctx<'_>, a: &Spanned<u32>, field: &str) -> Result<u32, ConfigError> {
    match *a.get_ref() {
        0 | 23456 | u32::MAX => ctx.err(
            a.span(),
            field,
            "is 1 to 4294967294, and not 23456 (AS_TRANS)",
        ),
        n => Ok(n),
    }
}

fn parse_bgp(ctx: &Ctx<'_>, b: RawBgp) -> Result<BgpSettings, ConfigError> {
    let asn = valid_asn(ctx, &b.asn, "bgp.asn")?;
    let router_id: std::net::Ipv4Addr = match b.router_id.get_ref().parse() {
        Ok(ip) if ip != std::net::Ipv4Addr::UNSPECIFIED => ip,
        _ => {
            return ctx.err(
                b.router_id.span(),
                "bgp.router_id",
                "is a non-zero IPv4 address, like 10.0.0.1",
            );
        }
    };
    let mut announce = Vec::new();
    for a in &b.announce {
        match a.get_ref().parse::<ipnet::IpNet>() {
            Ok(n) if n.trunc() == n => announce.push(n),
            Ok(n) => {
                return ctx.err(
                    a.span(),
                    "bgp.announce",
                    format!("{n} has host bits set; the prefix is {}", n.trunc()),
                );
            }
            Err(_) => return ctx.err(a.span(), "bgp.announce", "holds prefixes, like 10.0.0.0/16"),
        }
    }
    let mut neighbors: Vec<NeighborSettings> = Vec::new();
    for n in b.neighbor {
        let address: std::net::IpAddr = match n.address.get_ref().parse() {
            Ok(a) => a,
            Err(_) => {
                return ctx.err(n.address.span(), "bgp.neighbor.address", "is an IP address");
            }
        };
        let f = |x: &str| format!("bgp.neighbor[{address}].{x}");
        if neighbors.iter().any(|x| x.address == address) {
            return ctx.err(n.address.span(), &f("address"), "is configured twice");
        }
        let remote_asn = valid_asn(ctx, &n.remote_asn, &f("remote_asn"))?;
        let import = match &n.import {
            None => {
                return ctx.err(
                    n.address.span(),
                    &f("import"),
                    "is required: the prefixes to accept from this neighbour (\"any\" to accept all)",
                );
            }
            Some(i) => prefix_filter(ctx, i, &f("import"))?,
        };
        let export = match &n.export {
            None => None,
            Some(e) => Some(prefix_filter(ctx, e, &f("export"))?),
        };
        let hold_time = n.hold_time.as_ref().map_or(90, |h| *h.get_ref());
        if let Some(h) = &n.hold_time
            && (*h.get_ref() == 1 || *h.get_ref() == 2)
        {
            return ctx.err(h.span(), &f("hold_time"), "is 0 or at least 3 seconds");
        }
        let bfd_interval_ms = n.bfd_interval_ms.as_ref().map_or(100, |v| *v.get_ref());
        if let Some(v) = &n.bfd_interval_ms
            && !(10..=60_000).contains(v.get_ref())
        {
            return ctx.err(v.span(), &f("bfd_interval_ms"), "is 10 to 60000");
        }
        let bfd_multiplier = n.bfd_multiplier.as_ref().map_or(3, |v| *v.get_ref());
        if let Some(v) = &n.bfd_multiplier
            && *v.get_ref() == 0
        {
            return ctx.err(v.span(), &f("bfd_multiplier"), "is 1 to 255");
        }
        let md5_password = match &n.md5_password {
            None => None,
            Some(p) if p.get_ref().is_empty() || p.get_ref().len() > 80 => {
                return ctx.err(p.span(), &f("md5_password"), "is 1 to 80 bytes");
            }
            Some(p) => Some(Zeroizing::new(p.get_ref().clone())),
        };
        let connect_retry_secs = n.connect_retry_secs.as_ref().map_or(5, |v| *v.get_ref());
        if connect_retry_secs == 0 {
            return ctx.err(
                n.connect_retry_secs.as_ref().map_or(0..0, |v| v.span()),
                &f("connect_retry_secs"),
                "is at least 1",
            );
        }
        neighbors.push(NeighborSettings {
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
            prepend: n.prepend,
            passive: n.passive,
        });
    }
    Ok(BgpSettings {
        asn,
        router_id,
        announce,
        graceful_restart_secs: b.graceful_restart_secs.map_or(120, |g| g.into_inner()),
        neighbors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[gateway]
name = "gw-a"
admin_listen = "127.0.0.1:7801"

[[link]]
name = "l1"
underlay_local = "10.200.0.1:4789"
underlay_remote = "10.200.0.2:4789"
vni = 101
ckn = "00112233445566778899aabbccddeeff"
cak = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"
address = "169.254.0.0/31"
bandwidth = "1Gbps"
"#;

    fn err(text: &str) -> ConfigError {
        GatewayConfig::parse("gw.toml", text, None).expect_err("must be refused")
    }

    #[test]
    fn vlan_sub_interfaces() {
        let text = "[gateway]\nname = \"edge\"\n[[access]]\ninterface = \"eth1\"\nvlan = 100\naddresses = [\"100.100.0.1/30\", \"fd00:100::1/64\"]\n[[access]]\ninterface = \"eth1\"\nvlan = 101\nbridge = \"xb7\"\n";
        let c = GatewayConfig::parse("gw.toml", text, None).expect("valid");
        assert_eq!(c.access.len(), 2);
        assert_eq!(c.access[0].tap_name(), "eth1.100");
        assert_eq!(c.access[0].addresses.len(), 2);
        assert_eq!(c.access[1].bridge.as_deref(), Some("xb7"));
        for (body, field, words) in [
            (
                "interface = \"eth1\"\nvlan = 4095\naddresses = [\"10.0.0.1/30\"]",
                "vlan",
                "1 to 4094",
            ),
            (
                "interface = \"eth1\"\nvlan = 0\naddresses = [\"10.0.0.1/30\"]",
                "vlan",
                "1 to 4094",
            ),
            ("interface = \"eth1\"\nvlan = 5", "addresses", "exactly one"),
            (
                "interface = \"eth1\"\nvlan = 5\naddresses = [\"10.0.0.1/30\"]\nbridge = \"b\"",
                "addresses",
                "exactly one",
            ),
            (
                "interface = \"a-very-long-if\"\nvlan = 3000\nbridge = \"b\"",
                "interface",
                "15 characters",
            ),
            (
                "interface = \"eth1\"\nvlan = 5\naddresses = [\"10.0.0.0/30\"]",
                "addresses",
                "network",
            ),
        ] {
            let e = err(&format!("[gateway]\nname = \"edge\"\n[[access]]\n{body}\n"));
            assert!(
                e.field.ends_with(field) && e.message.contains(words),
                "{body}: {e}"
            );
        }
        let twice = "[gateway]\nname = \"edge\"\n[[access]]\ninterface = \"eth1\"\nvlan = 5\nbridge = \"b\"\n[[access]]\ninterface = \"eth1\"\nvlan = 5\nbridge = \"c\"\n";
        assert!(err(twice).message.contains("twice"));
    }

    #[test]
    fn a_good_file() {
        let c = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
        assert_eq!(c.links.len(), 1);
        assert_eq!(c.links[0].cipher, CipherSuite::GcmAesXpn256);
        assert_eq!(c.links[0].cak.len(), 32);
        assert!(
            !format!("{:?}", c.links[0]).contains("0001020304"),
            "the CAK is redacted"
        );
    }

    #[test]
    fn mistakes_name_the_file_line_and_field() {
        let e = err(&GOOD.replace("vni = 101", "vni = 101\ncolour = \"red\""));
        assert_eq!((e.file.as_str(), e.line), ("gw.toml", 11), "{e}");
        assert!(e.message.contains("unknown field `colour`"), "{e}");
        let e = err(&GOOD.replace("ckn = \"00112233", "ckn = \"zz112233"));
        assert_eq!((e.line, e.field.as_str()), (11, "link[l1].ckn"), "{e}");
        let e = err(&GOOD.replace("cak = \"0001020304050607", "cak = \"00"));
        assert!(
            e.field == "link[l1].cak" && e.message.contains("16 or 32 bytes"),
            "{e}"
        );
        let e = err(&GOOD.replace("169.254.0.0/31", "169.254.0.0/30"));
        assert!(
            e.field == "link[l1].address" && e.message.contains("network or broadcast"),
            "{e}"
        );
        let link2 = GOOD
            .split("[[link]]")
            .nth(1)
            .expect("link")
            .replace("name = \"l1\"", "name = \"l2\"");
        let e = err(&format!("{GOOD}[[link]]{link2}"));
        assert!(
            e.field == "link[l2].vni" && e.message.contains("already used by link l1"),
            "{e}"
        );
        assert!(e.to_string().starts_with("gw.toml:"), "{e}");
    }

    #[test]
    fn idle_polling_is_off_unless_set_and_bounded() {
        let c = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
        assert_eq!(c.idle_poll_ms, 0, "off by default");
        let with = |v: &str| {
            GOOD.replace(
                "admin_listen = \"127.0.0.1:7801\"",
                &format!("admin_listen = \"127.0.0.1:7801\"\nidle_poll_ms = {v}"),
            )
        };
        let c = GatewayConfig::parse("gw.toml", &with("1000"), None).expect("valid");
        assert_eq!(c.idle_poll_ms, 1000);
        let e = err(&with("60001"));
        assert_eq!(
            (e.line, e.field.as_str()),
            (5, "gateway.idle_poll_ms"),
            "{e}"
        );
        assert!(e.message.contains("0 (off) to 60000"), "{e}");
        let e = err(&with("-1"));
        assert_eq!(e.line, 5, "{e}");
    }
}

#[cfg(test)]
mod example {
    /// The documented example file parses.
    #[test]
    fn example_file_is_valid() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/gateway.toml");
        let c = super::GatewayConfig::load(&path).expect("examples/gateway.toml");
        assert_eq!(c.links.len(), 1);
        assert!(c.keylog_file.is_none(), "the example keeps the keylog off");
        let bgp = c.bgp.expect("the example has BGP");
        assert_eq!((bgp.asn, bgp.neighbors.len()), (64512, 1));
        assert!(bgp.neighbors[0].bfd);
    }
}

#[cfg(test)]
mod bgp {
    use super::*;
    use xc_types::gateway::{AccessDoc, BgpDoc, ConfigDoc, GatewaySection, LinkDoc, NeighborDoc};

    #[test]
    fn a_document_from_the_controller_goes_through_the_same_parser() {
        let doc = ConfigDoc {
            gateway: GatewaySection {
                name: "gw-1".into(),
                admin_listen: Some("127.0.0.1:7809".into()),
            },
            link: vec![LinkDoc {
                name: "l7".into(),
                underlay_local: "10.200.0.1:10007".into(),
                underlay_remote: "10.200.0.2:10007".into(),
                vni: 7,
                ckn: "00".repeat(16),
                cak: "01".repeat(32),
                address: Some("169.254.0.14/31".into()),
                bandwidth: Some("1Gbps".into()),
                ..LinkDoc::default()
            }],
            bgp: Some(BgpDoc {
                asn: 64512,
                router_id: "10.200.0.1".into(),
                announce: vec!["10.0.0.0/16".into()],
                neighbor: vec![
                    NeighborDoc {
                        address: "169.254.0.15".into(),
                        remote_asn: 64513,
                        import: vec!["10.1.0.0/16".into()],
                        bfd: true,
                        ..NeighborDoc::default()
                    },
                    NeighborDoc {
                        address: "100.100.0.2".into(),
                        remote_asn: 65010,
                        import: vec!["10.50.0.0/24".into()],
                        export: Some(vec!["10.0.0.0/16".into()]),
                        md5_password: Some("cpe-secret".into()),
                        ..NeighborDoc::default()
                    },
                ],
            }),
            access: vec![AccessDoc {
                interface: "eth1".into(),
                vlan: 100,
                addresses: vec!["100.100.0.1/30".into()],
                bridge: None,
            }],
        };
        let c = GatewayConfig::from_doc(&doc).expect("valid");
        assert_eq!(c.links[0].vni, 7);
        assert_eq!(c.admin_listen.port(), 7809);
        assert_eq!(c.access[0].tap_name(), "eth1.100");
        let b = c.bgp.expect("bgp");
        assert_eq!(b.neighbors[0].remote_asn, 64513);
        assert_eq!(b.neighbors[0].export, None);
        assert!(
            b.neighbors[1]
                .export
                .as_ref()
                .is_some_and(|e| e.accepts(&"10.0.0.0/16".parse().expect("net")))
        );
        assert_eq!(
            b.neighbors[1].md5_password.as_deref().map(String::as_str),
            Some("cpe-secret")
        );
        assert!(!format!("{doc:?}").contains("0101"), "the CAK is redacted");
        assert!(
            !format!("{doc:?}").contains("cpe-secret"),
            "the MD5 password is redacted"
        );
        let mut bad = doc.clone();
        bad.link[0].cak = "zz".into();
        let e = GatewayConfig::from_doc(&bad).expect_err("bad hex");
        assert_eq!(e.field, "link[l7].cak", "{e}");
    }

    const GOOD: &str = r#"
[gateway]
name = "gw"

[bgp]
asn = 4200000001
router_id = "10.0.0.1"
announce = ["10.0.0.0/16", "2001:db8::/48"]

[[bgp.neighbor]]
address = "169.254.0.1"
remote_asn = 64513
import = ["10.1.0.0/16 le 24"]
md5_password = "s3cret"
bfd = true

[[bgp.neighbor]]
address = "fe80::1"
remote_asn = 64513
import = "any"
"#;

    fn err(text: &str) -> ConfigError {
        GatewayConfig::parse("gw.toml", text, None).expect_err("must be refused")
    }

    #[test]
    fn a_bgp_section_without_links() {
        let c = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
        assert!(c.links.is_empty());
        let b = c.bgp.expect("bgp");
        assert_eq!(b.asn, 4_200_000_001);
        assert_eq!(b.graceful_restart_secs, 120);
        let n = &b.neighbors[0];
        assert_eq!(
            (n.hold_time, n.max_prefixes, n.bfd_interval_ms),
            (90, 100, 100)
        );
        assert!(n.import.accepts(&"10.1.2.0/24".parse().expect("net")));
        assert!(!n.import.accepts(&"10.1.2.0/25".parse().expect("net")));
        assert_eq!(b.neighbors[1].import, xc_bgp::policy::ImportFilter::Any);
        assert!(
            !format!("{n:?}").contains("s3cret"),
            "the password is redacted"
        );
    }

    #[test]
    fn bgp_mistakes_name_the_line_and_field() {
        let e = err(&GOOD.replace("import = [\"10.1.0.0/16 le 24\"]\n", ""));
        assert!(
            e.field == "bgp.neighbor[169.254.0.1].import" && e.message.contains("required"),
            "{e}"
        );
        let e = err(&GOOD.replace("10.1.0.0/16 le 24", "10.1.0.0/16 le 8"));
        assert!(
            e.field.ends_with(".import") && e.message.contains("outside"),
            "{e}"
        );
        assert_eq!(e.line, 13, "{e}");
        let e = err(&GOOD.replace("asn = 4200000001", "asn = 23456"));
        assert!(
            e.field == "bgp.asn" && e.message.contains("AS_TRANS"),
            "{e}"
        );
        let e = err(&GOOD.replace("\"10.0.0.0/16\", ", "\"10.0.0.1/16\", "));
        assert!(e.message.contains("the prefix is 10.0.0.0/16"), "{e}");
        let e = err(&GOOD.replace("address = \"fe80::1\"", "address = \"169.254.0.1\""));
        assert!(e.message.contains("configured twice"), "{e}");
        let e = err(&GOOD.replace("bfd = true", "bfd = true\nhold_time = 2"));
        assert!(e.field.ends_with(".hold_time"), "{e}");
        let e = err(&GOOD.replace("router_id = \"10.0.0.1\"", "router_id = \"::1\""));
        assert_eq!(e.field, "bgp.router_id", "{e}");
    }
}
