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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    name: Spanned<String>,
    admin_listen: Option<Spanned<String>>,
    keylog_file: Option<PathBuf>,
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

/// A validated gateway configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub name: String,
    pub admin_listen: SocketAddr,
    /// DANGEROUS: where SAKs are written for decrypting captures.
    pub keylog_file: Option<PathBuf>,
    pub links: Vec<LinkSettings>,
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
        Ok(Self {
            name,
            admin_listen,
            keylog_file: raw.gateway.keylog_file,
            links,
        })
    }
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
    }
}
