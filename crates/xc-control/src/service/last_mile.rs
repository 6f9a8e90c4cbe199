//! Last mile: the on-premises site of an `lmcc-` connection, checked at create and given its
//! VLAN and peering addresses.
//!
//! A last-mile connection joins a tenant's attach point to a customer router (CPE) on a
//! provider's fabric. The provider's edges (gateways registered to the environment's facilities)
//! carry it: one or two edges, each a MACsec link to one of the tenant's gateways and an 802.1Q
//! VLAN on its customer-facing interface. In layer 3 each edge peers with the customer router
//! over the VLAN; in layer 2 it bridges the VLAN onto the link and the customer router peers
//! with the tenant's gateway.

use crate::secrets::Secrets;
use crate::{Result, ServiceError};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use xc_store::Db;
use xc_types::api::{LastMileRequest, PeeringRequest};
use xc_types::{
    Asn, AttachPoint, CustomerPeering, EnvironmentId, LastMile, Prefix, StateReasonCode,
};

/// The ASN the provider edges speak BGP with.
pub const EDGE_ASN: u32 = 64999;
/// VLAN ids handed to last-mile connections (the same id on each of a connection's edges).
const VLANS: std::ops::RangeInclusive<u16> = 100..=4094;
/// Where customer sessions get their /30 when the customer gives no addresses: inside the
/// shared address space (RFC 6598), where on-premises networks seldom are.
const PEERING_POOL: Ipv4Net = match Ipv4Net::new(Ipv4Addr::new(100, 100, 0, 0), 16) {
    Ok(n) => n,
    Err(_) => panic!("constant"),
};
/// Where IPv6 customer sessions get their /126 when the customer gives none: a /64 of the
/// unique local prefix links are numbered in (`LINK_V6_PREFIX`), away from the links' own.
const PEERING_POOL6: Ipv6Addr = Ipv6Addr::new(0xfd58, 0x636f, 0x6e6e, 0x100, 0, 0, 0, 0);

fn invalid(field: &str, message: impl std::fmt::Display) -> ServiceError {
    ServiceError::validation(&format!("lastMile.{field}"), message)
}

/// Checks a request and seals its password; the VLAN and any allocated addresses come from
/// [`allocate`], in the transaction that stores the connection.
pub(crate) fn parse(req: &LastMileRequest, secrets: &Secrets) -> Result<LastMile> {
    let circuit_id = req.circuit_id.clone();
    if !xc_types::api::schema::is_name(&circuit_id, 100) {
        return Err(invalid(
            "circuitId",
            "is the provider's circuit id or service address: 1 to 100 characters, no control characters, no spaces first or last",
        ));
    }
    let redundancy = req.redundancy.unwrap_or(2);
    if !(1..=2).contains(&redundancy) {
        return Err(invalid(
            "redundancy",
            "is 1 (one edge) or 2 (two edges in two facilities)",
        ));
    }
    let customer_asn =
        Asn::new(req.customer_asn).map_err(|e| invalid("customerAsn", e.to_string()))?;
    if req.on_premises_prefixes.is_empty() || req.on_premises_prefixes.len() > 100 {
        return Err(invalid(
            "onPremisesPrefixes",
            "lists 1 to 100 prefixes the customer router may announce",
        ));
    }
    let mut prefixes: Vec<Prefix> = Vec::new();
    for p in &req.on_premises_prefixes {
        let p = Prefix::parse(p).map_err(|e| invalid("onPremisesPrefixes", e.to_string()))?;
        if prefixes.contains(&p) {
            return Err(invalid(
                "onPremisesPrefixes",
                format!("{p} is listed twice"),
            ));
        }
        prefixes.push(p);
    }
    let max_prefixes = req.max_prefixes.unwrap_or(100);
    if !(1..=10_000).contains(&max_prefixes) {
        return Err(invalid("maxPrefixes", "is 1 to 10000"));
    }
    let layer = req.layer.unwrap_or(3);
    if layer != 2 && layer != 3 {
        return Err(invalid(
            "layer",
            "is 3 (the edge routes) or 2 (the edge bridges)",
        ));
    }
    if !req.peerings.is_empty() && req.peerings.len() != usize::from(redundancy) {
        return Err(invalid(
            "peerings",
            format!(
                "gives one session per edge: {redundancy} here (or none, to have them allocated)"
            ),
        ));
    }
    let mut sessions = Vec::new();
    for (i, p) in req.peerings.iter().enumerate() {
        let s = peering(i, p)?;
        // A session carries the prefixes of its own family: an IPv6-only session leaves the
        // site's IPv4 prefixes nowhere to go.
        if s.provider_address.addr().is_ipv6()
            && let Some(v4) = prefixes.iter().find(|p| p.net().addr().is_ipv4())
        {
            return Err(invalid(
                &format!("peerings[{i}]"),
                format!(
                    "an IPv6 session carries IPv6 prefixes only, and the site has {v4}: give IPv4 addresses as providerAddress and customerAddress, and IPv6 ones as providerAddress6 and customerAddress6"
                ),
            ));
        }
        sessions.push(s);
    }
    let md5_sealed = match &req.md5_password {
        None => None,
        Some(p) if !(1..=80).contains(&p.chars().count()) => {
            return Err(invalid("md5Password", "is 1 to 80 characters"));
        }
        Some(p) => Some(hex::encode(secrets.seal(p.as_bytes()))),
    };
    Ok(LastMile {
        circuit_id,
        redundancy,
        customer_asn,
        on_premises_prefixes: prefixes,
        max_prefixes,
        layer,
        vlan: 0,
        sessions,
        md5_sealed,
    })
}

/// One edge's session addresses, and those of its IPv6 session when given.
fn peering(i: usize, p: &PeeringRequest) -> Result<CustomerPeering> {
    let field = format!("peerings[{i}]");
    let (provider_address, customer_address) =
        session(&field, "", &p.provider_address, &p.customer_address)?;
    let (provider_address6, customer_address6) = match (&p.provider_address6, &p.customer_address6)
    {
        (None, None) => (None, None),
        (Some(provider), Some(customer)) => {
            if provider_address.addr().is_ipv6() {
                return Err(invalid(
                    &field,
                    "providerAddress6 and customerAddress6 are a second, IPv6 session beside an IPv4 one, and providerAddress is IPv6 already",
                ));
            }
            let (net, addr) = session(&field, "6", provider, customer)?;
            if net.addr().is_ipv4() {
                return Err(invalid(
                    &field,
                    format!(
                        "providerAddress6 `{provider}` is an IPv6 address with its prefix length, like fd00:50::1/126"
                    ),
                ));
            }
            (Some(net), Some(addr))
        }
        _ => {
            return Err(invalid(
                &field,
                "gives providerAddress6 and customerAddress6 together, or neither",
            ));
        }
    };
    Ok(CustomerPeering {
        provider_address,
        customer_address,
        provider_address6,
        customer_address6,
    })
}

/// One session's addresses (fields `providerAddress{suffix}`, `customerAddress{suffix}`): the
/// provider's is a host address with its prefix length, and the customer's another host of
/// the same subnet.
fn session(field: &str, suffix: &str, provider: &str, customer: &str) -> Result<(IpNet, IpAddr)> {
    // The forms the OpenAPI document gives (`schema::session_interface_address`): no spaces
    // around, no IPv6 address with an IPv4 tail.
    let net: IpNet = provider.parse().ok().filter(|n: &IpNet| n.addr().is_ipv4() || !provider.contains('.')).ok_or_else(|| {
        invalid(
            field,
            format!("providerAddress{suffix} `{provider}` is an address with its prefix length, like 192.168.50.1/30"),
        )
    })?;
    let customer_address: IpAddr = customer
        .parse()
        .ok()
        .filter(|a: &IpAddr| a.is_ipv4() || !customer.contains('.'))
        .ok_or_else(|| {
            invalid(
                field,
                format!("customerAddress{suffix} `{customer}` is an IP address, like 192.168.50.2"),
            )
        })?;
    let max = if net.addr().is_ipv4() { 32 } else { 128 };
    if net.prefix_len() + 1 > max || net.prefix_len() < max - 8 {
        return Err(invalid(
            field,
            "the session subnet is a /24 to /31 (IPv4) or /120 to /127 (IPv6)",
        ));
    }
    let host = |a: IpAddr| {
        net.contains(&a)
            && (net.prefix_len() + 1 == max
                || (a != net.network() && (a.is_ipv6() || a != net.broadcast())))
    };
    if !host(net.addr()) || !host(customer_address) || net.addr() == customer_address {
        return Err(invalid(
            field,
            format!("{provider} and {customer} must be two different host addresses of one subnet"),
        ));
    }
    Ok((net, customer_address))
}

/// The IPv6 session addresses given to an IPv4 session with none: a /126 in
/// [`PEERING_POOL6`] holding the IPv4 session's subnet address (unique as those are: 100.100.0.0
/// gives fd58:636f:6e6e:100:6464::/126), the provider first.
fn ipv6_session_for(v4: Ipv4Net) -> (IpNet, IpAddr) {
    let base = u128::from(PEERING_POOL6) | (u128::from(u32::from(v4.network())) << 32);
    let provider = Ipv6Net::new(Ipv6Addr::from(base + 1), 126).unwrap_or_default();
    (IpNet::V6(provider), IpAddr::V6(Ipv6Addr::from(base + 2)))
}

/// Gives a new last-mile connection its VLAN (the lowest free one) and, when the customer gave
/// none, a /30 per session from the pool; checks that its prefixes stay clear of the attach
/// point's and that given addresses are not another connection's.
pub(crate) fn allocate(
    db: &Db<'_>,
    lm: &mut LastMile,
    ap: &AttachPoint,
    environment: &EnvironmentId,
) -> Result<()> {
    // Whoever peers with whom must have distinct ASNs: in layer 3 the customer's router and
    // the tenant's gateway each peer with the edge; in layer 2 the router peers with the gateway.
    let conflict = |field: &str, message: String| ServiceError::Refused {
        code: StateReasonCode::AsnConflict,
        field: Some(field.to_owned()),
        message,
    };
    if lm.layer == 2 && lm.customer_asn == ap.asn {
        return Err(conflict(
            "customerAsn",
            format!(
                "the customer's router peers with the gateways of attach point {} in layer 2, whose ASN is also {}: use another",
                ap.id, ap.asn
            ),
        ));
    }
    if lm.layer == 3 && lm.customer_asn.get() == EDGE_ASN {
        return Err(conflict(
            "customerAsn",
            format!(
                "{EDGE_ASN} is the provider edges' ASN, which the customer's router peers with in layer 3: use another"
            ),
        ));
    }
    if lm.layer == 3 && ap.asn.get() == EDGE_ASN {
        return Err(conflict(
            "attachPoint",
            format!(
                "attach point {} has ASN {EDGE_ASN}, the provider edges' own: use an attach point with another ASN",
                ap.id
            ),
        ));
    }
    for p in &lm.on_premises_prefixes {
        if let Some(mine) = ap.prefixes.iter().find(|a| a.overlaps(p)) {
            return Err(invalid(
                "onPremisesPrefixes",
                format!("{p} overlaps {mine} of attach point {}", ap.id),
            ));
        }
    }
    let live = db.live_last_mile_connections()?;
    // The edges of an environment route every connection they carry in one table: the prefixes
    // of two connections there must not overlap (a tenant's own prefixes aside, when two sites
    // join the same attach point).
    for other in live.iter().filter(|c| &c.environment == environment) {
        let Some(theirs) = &other.last_mile else {
            continue;
        };
        let mut their_prefixes: Vec<Prefix> = theirs.on_premises_prefixes.clone();
        if other.owner_attach_point != ap.id
            && let Some(their_ap) = db.get_attach_point(&other.owner_attach_point)?
        {
            their_prefixes.extend(their_ap.prefixes);
        }
        let mut mine: Vec<Prefix> = lm.on_premises_prefixes.clone();
        if other.owner_attach_point != ap.id {
            mine.extend(ap.prefixes.iter().copied());
        }
        for p in &mine {
            if let Some(t) = their_prefixes.iter().find(|t| t.overlaps(p)) {
                return Err(ServiceError::Refused {
                    code: StateReasonCode::PrefixOverlap,
                    field: None,
                    message: format!(
                        "{p} overlaps {t} of {}, which the same provider edges carry (they route in one table)",
                        other.id
                    ),
                });
            }
        }
    }
    let others: Vec<&LastMile> = live.iter().filter_map(|c| c.last_mile.as_ref()).collect();
    let vlans: BTreeSet<u16> = others.iter().map(|l| l.vlan).collect();
    lm.vlan = VLANS
        .clone()
        .find(|v| !vlans.contains(v))
        .ok_or_else(|| ServiceError::Conflict("every VLAN id (100 to 4094) is in use".into()))?;
    let used: Vec<IpNet> = others
        .iter()
        .flat_map(|l| l.sessions.iter().map(|s| s.provider_address.trunc()))
        .collect();
    if lm.sessions.is_empty() {
        let mut blocks = PEERING_POOL
            .subnets(30)
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .filter(|b| !used.iter().any(|u| u.contains(&IpAddr::V4(b.network()))));
        for _ in 0..lm.redundancy {
            let b = blocks.next().ok_or_else(|| {
                ServiceError::Conflict("the peering address pool 100.100.0.0/16 is used up".into())
            })?;
            let first = u32::from(b.network());
            lm.sessions.push(CustomerPeering {
                provider_address: IpNet::V4(
                    Ipv4Net::new(Ipv4Addr::from(first + 1), 30)
                        .map_err(|e| ServiceError::Internal(e.to_string()))?,
                ),
                customer_address: IpAddr::V4(Ipv4Addr::from(first + 2)),
                provider_address6: None,
                customer_address6: None,
            });
        }
    }
    if crate::intent::site_carries_ipv6(lm) {
        for s in &mut lm.sessions {
            if let (IpNet::V4(v4), None) = (s.provider_address, s.provider_address6) {
                let (provider, customer) = ipv6_session_for(v4.trunc());
                s.provider_address6 = Some(provider);
                s.customer_address6 = Some(customer);
            }
        }
    }
    let used: Vec<IpNet> = others
        .iter()
        .flat_map(|l| &l.sessions)
        .flat_map(|s| s.sessions().map(|(net, _)| net.trunc()))
        .collect();
    for s in &lm.sessions {
        for (net, _) in s.sessions() {
            let net = net.trunc();
            if used
                .iter()
                .any(|u| u.contains(&net.network()) || net.contains(&u.network()))
            {
                return Err(ServiceError::Conflict(format!(
                    "the session subnet {net} is used by another last-mile connection"
                )));
            }
        }
    }
    Ok(())
}

/// The customer's MD5 password (as sealed in [`LastMile::md5_sealed`]), unsealed for the
/// gateways that need it.
pub(crate) fn unseal_md5(sealed_hex: &str, secrets: &Secrets) -> Option<String> {
    let sealed = hex::decode(sealed_hex).ok()?;
    let plain = secrets.unseal(&sealed)?;
    String::from_utf8(plain.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xc_types::api::PeeringRequest;

    fn req() -> LastMileRequest {
        LastMileRequest {
            circuit_id: "LUMEN-CHI-0042".into(),
            redundancy: None,
            customer_asn: 65010,
            on_premises_prefixes: vec!["10.50.0.0/24".into()],
            max_prefixes: None,
            layer: None,
            peerings: vec![],
            md5_password: Some("s3cret".into()),
        }
    }

    #[test]
    fn defaults_and_a_sealed_password() {
        let secrets = Secrets::from_master(&[7; 32]);
        let lm = parse(&req(), &secrets).expect("valid");
        assert_eq!((lm.redundancy, lm.layer, lm.max_prefixes), (2, 3, 100));
        let sealed = lm.md5_sealed.clone().expect("sealed");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(unseal_md5(&sealed, &secrets).as_deref(), Some("s3cret"));
        assert!(!format!("{lm:?}").contains("s3cret"));
    }

    #[test]
    fn bad_requests_say_which_field() {
        let secrets = Secrets::from_master(&[7; 32]);
        let cases: Vec<(LastMileRequest, &str)> = vec![
            (
                LastMileRequest {
                    redundancy: Some(3),
                    ..req()
                },
                "redundancy",
            ),
            (
                LastMileRequest {
                    customer_asn: 23456,
                    ..req()
                },
                "customerAsn",
            ),
            (
                LastMileRequest {
                    on_premises_prefixes: vec![],
                    ..req()
                },
                "onPremisesPrefixes",
            ),
            (
                LastMileRequest {
                    on_premises_prefixes: vec!["10.50.0.1/24".into()],
                    ..req()
                },
                "onPremisesPrefixes",
            ),
            (
                LastMileRequest {
                    layer: Some(1),
                    ..req()
                },
                "layer",
            ),
            (
                LastMileRequest {
                    circuit_id: " ".into(),
                    ..req()
                },
                "circuitId",
            ),
            (
                LastMileRequest {
                    md5_password: Some(String::new()),
                    ..req()
                },
                "md5Password",
            ),
            (
                LastMileRequest {
                    peerings: vec![peering_request("192.168.50.1/30", "192.168.50.2")],
                    ..req()
                },
                "peerings",
            ),
        ];
        for (r, field) in cases {
            let e = parse(&r, &secrets).expect_err(field).to_string();
            assert!(e.contains(&format!("lastMile.{field}")), "{field}: {e}");
        }
    }

    fn peering_request(provider: &str, customer: &str) -> PeeringRequest {
        PeeringRequest {
            provider_address: provider.into(),
            customer_address: customer.into(),
            provider_address6: None,
            customer_address6: None,
        }
    }

    #[test]
    fn peering_addresses() {
        let peering = |p: &str, c: &str| peering(0, &peering_request(p, c));
        let ok = peering("192.168.50.1/30", "192.168.50.2").expect("valid");
        assert_eq!(ok.provider_address.to_string(), "192.168.50.1/30");
        assert!(peering("192.168.50.0/31", "192.168.50.1").is_ok());
        assert!(
            peering("fd00:50::1/64", "fd00:50::2").is_err(),
            "too large a subnet"
        );
        assert!(peering("fd00:50::1/126", "fd00:50::2").is_ok());
        for (p, c) in [
            ("192.168.50.1/30", "192.168.50.3"),
            ("192.168.50.1/30", "192.168.51.2"),
            ("192.168.50.1/30", "192.168.50.1"),
            ("192.168.50.0/30", "192.168.50.1"),
            ("192.168.50.1", "192.168.50.2"),
            ("192.168.50.1/30", "x"),
            // The forms the OpenAPI document refuses, the server refuses too.
            (" 192.168.50.1/30", "192.168.50.2"),
            ("192.168.50.1/30", "192.168.50.2 "),
            ("::ffff:192.168.50.1/126", "::ffff:192.168.50.2"),
        ] {
            assert!(peering(p, c).is_err(), "{p} {c}");
        }
    }

    #[test]
    fn a_second_ipv6_session_beside_an_ipv4_one() {
        let with6 = |p6: Option<&str>, c6: Option<&str>| {
            peering(
                0,
                &PeeringRequest {
                    provider_address6: p6.map(Into::into),
                    customer_address6: c6.map(Into::into),
                    ..peering_request("192.168.50.1/30", "192.168.50.2")
                },
            )
        };
        let ok = with6(Some("fd00:50::1/126"), Some("fd00:50::2")).expect("valid");
        assert_eq!(
            ok.sessions()
                .map(|(p, c)| format!("{p} {c}"))
                .collect::<Vec<_>>(),
            ["192.168.50.1/30 192.168.50.2", "fd00:50::1/126 fd00:50::2"]
        );
        for (p6, c6) in [
            (Some("fd00:50::1/126"), None),
            (None, Some("fd00:50::2")),
            (Some("192.168.51.1/30"), Some("192.168.51.2")),
            (Some("fd00:50::1/126"), Some("fd00:51::2")),
        ] {
            let e = with6(p6, c6).expect_err("refused").to_string();
            assert!(e.contains("lastMile.peerings[0]"), "{e}");
        }
        // Beside an IPv6 session, a second one has nothing to carry.
        let e = peering(
            0,
            &PeeringRequest {
                provider_address6: Some("fd00:51::1/126".into()),
                customer_address6: Some("fd00:51::2".into()),
                ..peering_request("fd00:50::1/126", "fd00:50::2")
            },
        )
        .expect_err("refused")
        .to_string();
        assert!(e.contains("IPv6 already"), "{e}");
        // An IPv6-only session for a site with IPv4 prefixes leaves them nowhere to go.
        let secrets = Secrets::from_master(&[7; 32]);
        let e = parse(
            &LastMileRequest {
                redundancy: Some(1),
                peerings: vec![peering_request("fd00:50::1/126", "fd00:50::2")],
                ..req()
            },
            &secrets,
        )
        .expect_err("refused")
        .to_string();
        assert!(e.contains("10.50.0.0/24"), "{e}");
    }

    #[test]
    fn ipv6_sessions_are_numbered_by_their_ipv4_session() {
        let (p, c) = ipv6_session_for("100.100.0.0/30".parse().expect("net"));
        assert_eq!(
            (p.to_string(), c.to_string()),
            (
                "fd58:636f:6e6e:100:6464::1/126".to_owned(),
                "fd58:636f:6e6e:100:6464::2".to_owned()
            )
        );
        // Adjacent /31s get distinct /126s.
        let a = ipv6_session_for("192.168.0.0/31".parse().expect("net")).0;
        let b = ipv6_session_for("192.168.0.2/31".parse().expect("net")).0;
        assert!(!a.contains(&b.network()) && !b.contains(&a.network()));
    }
}
