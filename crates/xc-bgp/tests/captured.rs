//! Messages captured from BIRD 2.0.12, FRR 8.4 and GoBGP 3 sessions (`captured/capture.sh`
//! records them: OPENs with each router's capabilities, UPDATEs for IPv4 and IPv6 with
//! communities and MED, withdrawals, End-of-RIB, ROUTE-REFRESH, KEEPALIVE, a Cease
//! NOTIFICATION), decoded by xc-bgp and by an independent decoder, `bgpkit-parser`: both must
//! read the same thing. Each message is also re-encoded by xc-bgp and must decode, by both, to the
//! same again.

use bgpkit_parser::models::{
    AsPathSegment as KitSegment, AsnLength, BgpError, BgpMessage, CapabilityValue, Community,
    MetaCommunity, NextHopAddress, ParamValue,
};
use bgpkit_parser::parser::bgp::messages::parse_bgp_message;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr};
use xc_bgp::{AsPathSegment, Attribute, Capability, Message};

const CAPTURES: &[(&str, &str)] = &[
    ("bird", include_str!("captured/bird.hex")),
    ("frr", include_str!("captured/frr.hex")),
    ("gobgp", include_str!("captured/gobgp.hex")),
];

/// What both decoders must agree on, in one shape.
#[derive(Debug, PartialEq)]
enum Summary {
    Open {
        asn: u32,
        hold_time: u16,
        router_id: Ipv4Addr,
        capabilities: Vec<String>,
    },
    Update {
        withdrawn: Vec<IpNet>,
        announced: Vec<IpNet>,
        origin: Option<u8>,
        as_path: Vec<String>,
        next_hops: Vec<IpAddr>,
        med: Option<u32>,
        local_pref: Option<u32>,
        communities: Vec<u32>,
    },
    Notification {
        code: u8,
        subcode: u8,
        data: Vec<u8>,
    },
    Keepalive,
    RouteRefresh {
        afi: u16,
        safi: u8,
    },
}

fn ours(m: &Message) -> Summary {
    match m {
        Message::Open(o) => Summary::Open {
            asn: o.asn,
            hold_time: o.hold_time,
            router_id: o.router_id,
            capabilities: o
                .capabilities
                .iter()
                .map(|c| match c {
                    Capability::Multiprotocol { afi, safi } => format!("mp {afi}/{safi}"),
                    Capability::RouteRefresh => "route-refresh".into(),
                    Capability::FourOctetAs(a) => format!("as4 {a}"),
                    Capability::GracefulRestart {
                        restarting,
                        time,
                        families,
                    } => format!("gr restarting={restarting} time={time} {families:?}"),
                    Capability::Unknown { code, .. } => format!("code {code}"),
                })
                .collect(),
        },
        Message::Update(u) => {
            assert!(u.malformed.is_none(), "{u:?}");
            let mut s = Summary::Update {
                withdrawn: u.withdrawn.iter().map(|n| IpNet::V4(*n)).collect(),
                announced: u.nlri.iter().map(|n| IpNet::V4(*n)).collect(),
                origin: None,
                as_path: Vec::new(),
                next_hops: Vec::new(),
                med: None,
                local_pref: None,
                communities: Vec::new(),
            };
            let Summary::Update {
                withdrawn,
                announced,
                origin,
                as_path,
                next_hops,
                med,
                local_pref,
                communities,
            } = &mut s
            else {
                unreachable!()
            };
            for a in &u.attributes {
                match a {
                    Attribute::Origin(o) => *origin = Some(*o as u8),
                    Attribute::AsPath(segs) => {
                        *as_path = segs
                            .iter()
                            .map(|s| match s {
                                AsPathSegment::Sequence(v) => format!("seq {v:?}"),
                                AsPathSegment::Set(v) => format!("set {v:?}"),
                            })
                            .collect()
                    }
                    Attribute::NextHop(h) => next_hops.insert(0, IpAddr::V4(*h)),
                    Attribute::Med(m) => *med = Some(*m),
                    Attribute::LocalPref(l) => *local_pref = Some(*l),
                    Attribute::Communities(c) => communities.clone_from(c),
                    Attribute::MpReach {
                        next_hops: h, nlri, ..
                    } => {
                        next_hops.extend(h);
                        announced.extend(nlri);
                    }
                    Attribute::MpUnreach { withdrawn: w, .. } => withdrawn.extend(w),
                    Attribute::Other { code, .. } => panic!("attribute {code} not decoded"),
                }
            }
            s
        }
        Message::Notification(n) => Summary::Notification {
            code: n.code,
            subcode: n.subcode,
            data: n.data.clone(),
        },
        Message::Keepalive => Summary::Keepalive,
        Message::RouteRefresh(r) => Summary::RouteRefresh {
            afi: r.afi,
            safi: r.safi,
        },
    }
}

fn kit(m: &BgpMessage) -> Summary {
    match m {
        BgpMessage::Open(o) => {
            let mut asn = u32::from(o.asn);
            let mut capabilities = Vec::new();
            for p in &o.opt_params {
                let ParamValue::Capacities(caps) = &p.param_value else {
                    panic!("optional parameter {} is not capabilities", p.param_type);
                };
                for c in caps {
                    capabilities.push(match &c.value {
                        CapabilityValue::MultiprotocolExtensions(mp) => {
                            format!("mp {}/{}", mp.afi as u16, mp.safi as u8)
                        }
                        CapabilityValue::RouteRefresh(_) => "route-refresh".into(),
                        CapabilityValue::FourOctetAs(a) => {
                            asn = a.asn;
                            format!("as4 {}", a.asn)
                        }
                        CapabilityValue::GracefulRestart(g) => {
                            let families: Vec<(u16, u8, bool)> = g
                                .address_families
                                .iter()
                                .map(|f| (f.afi as u16, f.safi as u8, f.forwarding_state))
                                .collect();
                            format!(
                                "gr restarting={} time={} {families:?}",
                                g.restart_state, g.restart_time
                            )
                        }
                        // Capabilities xc-bgp does not interpret: it keeps their code.
                        _ => format!("code {}", u8::from(c.ty)),
                    });
                }
            }
            Summary::Open {
                asn,
                hold_time: o.hold_time,
                router_id: o.bgp_identifier,
                capabilities,
            }
        }
        BgpMessage::Update(u) => {
            let a = &u.attributes;
            let mut withdrawn: Vec<IpNet> = u.withdrawn_prefixes.iter().map(|p| p.prefix).collect();
            let mut announced: Vec<IpNet> = u.announced_prefixes.iter().map(|p| p.prefix).collect();
            let mut next_hops: Vec<IpAddr> = a.next_hop().into_iter().collect();
            if let Some(n) = a.get_reachable_nlri() {
                match n.next_hop {
                    Some(NextHopAddress::Ipv4(h)) => next_hops.push(h.into()),
                    Some(NextHopAddress::Ipv6(h)) => next_hops.push(h.into()),
                    Some(NextHopAddress::Ipv6LinkLocal(g, l)) => {
                        next_hops.extend([IpAddr::from(g), IpAddr::from(l)])
                    }
                    ref other => panic!("next hop {other:?}"),
                }
                announced.extend(n.prefixes.iter().map(|p| p.prefix));
            }
            if let Some(n) = a.get_unreachable_nlri() {
                withdrawn.extend(n.prefixes.iter().map(|p| p.prefix));
            }
            let has_origin = a
                .iter()
                .any(|v| matches!(v, bgpkit_parser::models::AttributeValue::Origin(_)));
            Summary::Update {
                withdrawn,
                announced,
                origin: has_origin.then(|| a.origin() as u8),
                as_path: a
                    .as_path()
                    .map(|p| {
                        p.segments
                            .iter()
                            .map(|s| match s {
                                KitSegment::AsSequence(v) => format!(
                                    "seq {:?}",
                                    v.iter().map(|x| u32::from(*x)).collect::<Vec<_>>()
                                ),
                                KitSegment::AsSet(v) => format!(
                                    "set {:?}",
                                    v.iter().map(|x| u32::from(*x)).collect::<Vec<_>>()
                                ),
                                other => panic!("segment {other:?}"),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                next_hops,
                med: a.multi_exit_discriminator(),
                local_pref: a.local_preference(),
                communities: a
                    .iter_communities()
                    .map(|c| match c {
                        MetaCommunity::Plain(Community::Custom(asn, v)) => {
                            (u32::from(asn) << 16) | u32::from(v)
                        }
                        MetaCommunity::Plain(Community::NoExport) => 0xFFFF_FF01,
                        MetaCommunity::Plain(Community::NoAdvertise) => 0xFFFF_FF02,
                        MetaCommunity::Plain(Community::NoExportSubConfed) => 0xFFFF_FF03,
                        other => panic!("community {other:?}"),
                    })
                    .collect(),
            }
        }
        BgpMessage::Notification(n) => {
            let (code, subcode) = (1..=7)
                .flat_map(|c| (0..=11).map(move |s| (c, s)))
                .find(|(c, s)| BgpError::new(*c, *s) == n.error)
                .unwrap_or_else(|| panic!("error {:?}", n.error));
            Summary::Notification {
                code,
                subcode,
                data: n.data.clone(),
            }
        }
        BgpMessage::KeepAlive => Summary::Keepalive,
        BgpMessage::RouteRefresh(r) => Summary::RouteRefresh {
            afi: r.afi,
            safi: r.safi,
        },
    }
}

fn kit_decode(bytes: &[u8]) -> BgpMessage {
    let mut b = bytes::Bytes::copy_from_slice(bytes);
    parse_bgp_message(&mut b, false, &AsnLength::Bits32).expect("bgpkit-parser decodes it")
}

#[test]
fn captured_messages_decode_the_same_with_bgpkit_parser_and_survive_a_round_trip() {
    let mut seen = std::collections::BTreeSet::new();
    let mut routes = std::collections::BTreeSet::new();
    for (router, text) in CAPTURES {
        let mut count = 0;
        for (n, line) in text.lines().enumerate() {
            let (_peer, hex) = line.split_once(' ').expect("`<peer> <hex>`");
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            let what = format!("{router} message {} ({} bytes)", n + 1, bytes.len());
            let m = Message::decode(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
            let k = kit_decode(&bytes);
            assert_eq!(ours(&m), kit(&k), "{what}: the two decoders disagree");
            // Re-encoded by xc-bgp: the same message for both decoders.
            let again = m.encode();
            assert_eq!(
                Message::decode(&again).as_ref(),
                Ok(&m),
                "{what}: round trip"
            );
            assert_eq!(kit(&kit_decode(&again)), kit(&k), "{what}: bgpkit on ours");
            seen.insert((*router, bytes[18]));
            if let Summary::Update {
                announced,
                withdrawn,
                med,
                communities,
                ..
            } = ours(&m)
            {
                for p in announced {
                    routes.insert((*router, format!("+{p}")));
                    if p.to_string() == "10.51.0.0/16" {
                        assert_eq!((med, &communities), (Some(50), &vec![(7224 << 16) | 7100]));
                        routes.insert((*router, "med and community".into()));
                    }
                }
                for p in withdrawn {
                    routes.insert((*router, format!("-{p}")));
                }
            }
            count += 1;
        }
        assert!(count >= 10, "{router}: only {count} messages captured");
    }
    // Every router sent an OPEN, UPDATEs, a NOTIFICATION and KEEPALIVEs; BIRD and FRR a
    // ROUTE-REFRESH.
    for router in ["bird", "frr", "gobgp"] {
        for ty in [1, 2, 3, 4] {
            assert!(
                seen.contains(&(router, ty)),
                "{router} sent no message of type {ty}"
            );
        }
    }
    assert!(seen.contains(&("bird", 5)) && seen.contains(&("frr", 5)));
    // And what they carried: the announcements, the attributes, the withdrawals.
    for router in ["bird", "frr", "gobgp"] {
        for r in [
            "+10.50.0.0/24",
            "+10.51.0.0/16",
            "+10.52.0.0/24",
            "+fd50::/48",
            "+fd51::/48",
            "-10.52.0.0/24",
            "-fd50::/48",
            "med and community",
        ] {
            assert!(routes.contains(&(router, r.to_string())), "{router}: {r}");
        }
    }
}

#[test]
fn each_router_lays_out_its_open_capabilities_its_own_way_and_both_are_read() {
    // BIRD and GoBGP put every capability in one optional parameter, FRR one per parameter
    // (RFC 5492 allows both); FRR also sends capabilities xc-bgp does not know.
    let open_of = |router: &str| -> Vec<u8> {
        let text = CAPTURES
            .iter()
            .find(|(r, _)| *r == router)
            .expect("router")
            .1;
        let hex = text
            .lines()
            .map(|l| l.split_once(' ').expect("line").1)
            .find(|h| &h[36..38] == "01")
            .expect("an OPEN");
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect()
    };
    let params = |b: &[u8]| match kit_decode(b) {
        BgpMessage::Open(o) => o.opt_params.len(),
        _ => 0,
    };
    assert_eq!(params(&open_of("bird")), 1);
    assert_eq!(params(&open_of("gobgp")), 1);
    assert!(params(&open_of("frr")) > 1);
    let Ok(Message::Open(frr)) = Message::decode(&open_of("frr")) else {
        panic!("FRR's OPEN");
    };
    assert!(
        frr.capabilities
            .iter()
            .any(|c| matches!(c, Capability::Unknown { .. })),
        "{frr:?}"
    );
    assert!(frr.capabilities.contains(&Capability::FourOctetAs(65020)));
}
