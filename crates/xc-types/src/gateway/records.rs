//! What the control plane keeps of gateways, their registration tokens and links.

use super::status::GatewayStatus;

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

/// A link's identity: never reused, whatever numbers it holds. Its CKN and CAK derive from it
/// (and its connection), so a VNI or port handed to a new link never brings an old link's key.
pub type LinkId = u64;

/// The numbers a link holds, each from its pool (see [`Pool`]): taken when the link is planned,
/// in the same transaction, and returned when it is removed. A number is unique among the links
/// of each of the link's two gateways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkNumbers {
    /// The VXLAN network identifier; also names the link (`l<vni>`, its TAP `xc-l<vni>`).
    pub vni: u32,
    /// The UDP port of the link's underlay, the same at both ends.
    pub port: u16,
    /// Numbers the link's /31 in 169.254.0.0/16: side A has `2n`, side B `2n + 1`.
    pub v4: u32,
    /// Numbers the link's /127 in [`LINK_V6_PREFIX`]: side A has `2n`, side B `2n + 1`.
    pub v6: u32,
}

/// The pools a link's numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pool {
    Vni,
    Port,
    V4,
    V6,
}

impl Pool {
    pub const ALL: [Pool; 4] = [Pool::Vni, Pool::Port, Pool::V4, Pool::V6];

    /// The name it is stored under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vni => "vni",
            Self::Port => "port",
            Self::V4 => "v4",
            Self::V6 => "v6",
        }
    }

    /// The numbers the pool holds.
    pub fn range(self) -> std::ops::RangeInclusive<u32> {
        match self {
            // 24 bits; 0 left out.
            Self::Vni => 1..=16_777_215,
            // Below Linux's ephemeral ports (32768 and up), so a link never meets a socket the
            // kernel chose.
            Self::Port => 10_001..=32_767,
            // 169.254.0.2/31 to 169.254.249.254/31: the top of 169.254.0.0/16 is left to the
            // operator (the demo's server address is there).
            Self::V4 => 1..=31_999,
            Self::V6 => 1..=0x7fff_ffff,
        }
    }

    /// What the pool numbers, for a reason a person reads.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Vni => "VNIs",
            Self::Port => "UDP ports",
            Self::V4 => "IPv4 link addresses (169.254.0.0/16)",
            Self::V6 => "IPv6 link addresses",
        }
    }
}

/// The prefix links' IPv6 /127s are numbered in (a unique local address prefix).
pub const LINK_V6_PREFIX: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xfd58, 0x636f, 0x6e6e, 0, 0, 0, 0, 0);

/// One link of a connection between a gateway of each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    pub id: LinkId,
    pub connection_id: crate::ConnectionId,
    /// The owner's side.
    pub gateway_a: String,
    /// The remote side (a provider edge, in last mile).
    pub gateway_b: String,
    pub created_at: i64,
    /// Last mile: which customer session the link carries.
    pub slot: u8,
    pub numbers: LinkNumbers,
}

impl LinkRecord {
    /// The link's name on both gateways (the TAP is `xc-<name>`): unique on each, as its VNI is.
    pub fn name(&self) -> String {
        format!("l{}", self.numbers.vni)
    }
    /// The link address of side A (`b = false`) or B, as an interface address on a /31.
    pub fn address(&self, b: bool) -> ipnet::Ipv4Net {
        let n = self.numbers.v4.wrapping_mul(2) + u32::from(b);
        let addr = std::net::Ipv4Addr::from(0xa9fe_0000 | (n & 0xffff));
        ipnet::Ipv4Net::new(addr, 31).unwrap_or_default()
    }
    /// The IPv6 link address of side A or B, on a /127.
    pub fn address6(&self, b: bool) -> ipnet::Ipv6Net {
        let n = u128::from(self.numbers.v6) * 2 + u128::from(b);
        let addr = std::net::Ipv6Addr::from(u128::from(LINK_V6_PREFIX) | n);
        ipnet::Ipv6Net::new(addr, 127).unwrap_or_default()
    }
    /// The UDP port of the link's underlay on both gateways.
    pub fn port(&self) -> u16 {
        self.numbers.port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_fit_what_they_number() {
        let (v4, port) = (Pool::V4.range(), Pool::Port.range());
        assert!(u32::from(u16::MAX) >= *port.end() && *port.start() > 1024);
        let top = LinkRecord {
            id: 1,
            connection_id: crate::ConnectionId::parse("mcc-aaaaaaaa").expect("id"),
            gateway_a: "a".into(),
            gateway_b: "b".into(),
            created_at: 0,
            slot: 0,
            numbers: LinkNumbers {
                vni: *Pool::Vni.range().end(),
                port: *port.end() as u16,
                v4: *v4.end(),
                v6: *Pool::V6.range().end(),
            },
        };
        assert_eq!(top.address(true).to_string(), "169.254.249.255/31");
        assert_eq!(top.name(), "l16777215", "fits a TAP name: xc-l16777215");
        assert!(top.address6(true).addr().segments()[..3] == LINK_V6_PREFIX.segments()[..3]);
        let low = LinkRecord {
            numbers: LinkNumbers {
                vni: 1,
                port: 10_001,
                v4: 1,
                v6: 1,
            },
            ..top
        };
        assert_eq!(low.address(false).to_string(), "169.254.0.2/31");
        assert_eq!(low.address6(true).to_string(), "fd58:636f:6e6e::3/127");
    }
}
