//! The TAP's MTU from the underlay's: every byte the link adds must fit in an underlay packet.

use std::net::IpAddr;

/// Outer IPv4 header, UDP header, VXLAN header, the inner Ethernet header, the SecTAG with SCI
/// and the ICV.
pub fn overhead(underlay: IpAddr) -> u16 {
    let ip = if underlay.is_ipv4() { 20 } else { 40 };
    ip + 8 + 8 + 14 + 16 + 16
}

/// The TAP MTU for an underlay interface MTU.
pub fn link_mtu(underlay_mtu: u16, underlay: IpAddr) -> u16 {
    underlay_mtu.saturating_sub(overhead(underlay))
}

/// The MTU of the interface that holds `local`, read from sysfs; `None` when it cannot be found.
pub fn underlay_mtu(local: IpAddr) -> Option<u32> {
    let dev = nix::ifaddrs::getifaddrs().ok()?.find_map(|ifa| {
        let addr = ifa.address?;
        let ip: IpAddr = if let Some(v4) = addr.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else {
            IpAddr::V6(addr.as_sockaddr_in6()?.ip())
        };
        (ip == local).then_some(ifa.interface_name)
    })?;
    std::fs::read_to_string(format!("/sys/class/net/{dev}/mtu"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overhead_over_ipv4_and_ipv6() {
        assert_eq!(link_mtu(1500, "10.0.0.1".parse().expect("ip")), 1418);
        assert_eq!(link_mtu(1500, "fd00::1".parse().expect("ip")), 1398);
        assert_eq!(link_mtu(9000, "10.0.0.1".parse().expect("ip")), 8918);
        // Loopback holds 127.0.0.1 everywhere; its MTU must be found (65536 on Linux).
        let lo = underlay_mtu("127.0.0.1".parse().expect("ip"));
        assert!(lo.is_some_and(|m| m >= 1280), "{lo:?}");
        assert_eq!(
            underlay_mtu("192.0.2.123".parse().expect("ip")),
            None,
            "no interface holds it"
        );
    }
}
