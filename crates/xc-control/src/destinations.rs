//! Where webhooks may go (pure): a tenant names the URL, the server makes the request, so a URL
//! must not turn the server into a way into the networks it sits in (its own API on loopback, a
//! cloud's metadata service on link-local, the operator's private networks). Addresses that are
//! not public are refused unless the operator allows their network (`xconnect server
//! --webhook-allow-network`); the server checks an address literal when the webhook is created
//! and every address a name resolves to when it connects (`xc_api::webhooks`), so a name that
//! later resolves elsewhere is caught too.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why `ip` is refused as a webhook's destination (none: it may be used).
pub fn refused_destination(ip: IpAddr, allow: &[IpNet]) -> Option<&'static str> {
    if allow.iter().any(|n| n.contains(&ip)) {
        return None;
    }
    match ip {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(m) => refused_destination(IpAddr::V4(m), allow),
            None => v6(a),
        },
    }
}

fn within(a: Ipv4Addr, net: [u8; 4], len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(a) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn v4(a: Ipv4Addr) -> Option<&'static str> {
    Some(if within(a, [0, 0, 0, 0], 8) {
        "an address of this network (0.0.0.0/8)"
    } else if a.is_loopback() {
        "a loopback address"
    } else if a.is_private() {
        "a private address (RFC 1918)"
    } else if a.is_link_local() {
        "a link-local address"
    } else if within(a, [100, 64, 0, 0], 10) {
        "a shared address (RFC 6598)"
    } else if within(a, [192, 0, 0, 0], 24) {
        "an IETF protocol address (192.0.0.0/24)"
    } else if within(a, [192, 0, 2, 0], 24)
        || within(a, [198, 51, 100, 0], 24)
        || within(a, [203, 0, 113, 0], 24)
    {
        "a documentation address"
    } else if within(a, [198, 18, 0, 0], 15) {
        "a benchmarking address"
    } else if a.is_multicast() {
        "a multicast address"
    } else if within(a, [240, 0, 0, 0], 4) {
        "a reserved or broadcast address"
    } else {
        return None;
    })
}

fn v6(a: Ipv6Addr) -> Option<&'static str> {
    let s = a.segments();
    Some(if a.is_unspecified() {
        "the unspecified address"
    } else if a.is_loopback() {
        "a loopback address"
    } else if a.is_multicast() {
        "a multicast address"
    } else if s[0] & 0xffc0 == 0xfe80 {
        "a link-local address"
    } else if s[0] & 0xfe00 == 0xfc00 {
        "a unique local address (RFC 4193)"
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        "a documentation address"
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        "a NAT64 address (it reaches an IPv4 address the server cannot check)"
    } else if s[0] == 0x2002 {
        "a 6to4 address (it reaches an IPv4 address the server cannot check)"
    } else if s[..4] == [0x100, 0, 0, 0] {
        "a discard address"
    } else if s[..5] == [0, 0, 0, 0, 0] {
        "an IPv4-compatible or reserved address"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_unless_the_operator_allows_a_network() {
        let refused = |s: &str| refused_destination(s.parse().expect("ip"), &[]);
        for ip in [
            "127.0.0.1",
            "0.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.9.9",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.2.10",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "fe80::1",
            "fd00::1",
            "2001:db8::1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "ff02::1",
        ] {
            assert!(refused(ip).is_some(), "{ip} is refused");
        }
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
        ] {
            assert_eq!(refused(ip), None, "{ip} is public");
        }
        assert_eq!(refused("127.0.0.1"), Some("a loopback address"));
        let allow: Vec<IpNet> = vec!["127.0.0.0/8".parse().expect("net")];
        assert_eq!(
            refused_destination("127.0.0.1".parse().expect("ip"), &allow),
            None
        );
        assert_eq!(
            refused_destination("::ffff:127.0.0.2".parse().expect("ip"), &allow),
            None
        );
        assert!(refused_destination("10.0.0.1".parse().expect("ip"), &allow).is_some());
    }
}
