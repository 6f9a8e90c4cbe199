use super::*;
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

const MARKER: &str = "ffffffffffffffffffffffffffffffff";

#[test]
fn keepalive_bytes() {
    let b = h(&format!("{MARKER} 0013 04"));
    assert_eq!(Message::decode(&b), Ok(Message::Keepalive));
    assert_eq!(Message::Keepalive.encode(), b);
}

fn open_caps() -> Vec<Capability> {
    vec![
        Capability::Multiprotocol {
            afi: AFI_IPV4,
            safi: SAFI_UNICAST,
        },
        Capability::RouteRefresh,
        Capability::FourOctetAs(4_200_000_001),
    ]
}

#[test]
fn open_in_both_capability_layouts() {
    // All capabilities in one optional parameter (as BIRD and GoBGP send them).
    let one = h(&format!(
        "{MARKER} 002d 01 04 5ba0 005a 0a000001 10 02 0e 01040001 0001 0200 4104 fa56ea01"
    ));
    // One optional parameter per capability (as FRR sends them).
    let many = h(&format!(
        "{MARKER} 0031 01 04 5ba0 005a 0a000001 14 0206 01040001 0001 0202 0200 0206 4104 fa56ea01"
    ));
    let expected = Message::Open(Open {
        version: 4,
        asn: 4_200_000_001,
        hold_time: 90,
        router_id: "10.0.0.1".parse().expect("ip"),
        capabilities: open_caps(),
    });
    assert_eq!(Message::decode(&one), Ok(expected.clone()));
    assert_eq!(Message::decode(&many), Ok(expected.clone()));
    assert_eq!(
        expected.encode(),
        one,
        "we send the single-parameter layout, AS_TRANS in the 2-octet field"
    );
    // An unknown capability is kept, not refused.
    let with_unknown = h(&format!(
        "{MARKER} 0021 01 04 fde8 00b4 0a000002 04 02 02 4600"
    ));
    match Message::decode(&with_unknown) {
        Ok(Message::Open(o)) => {
            assert_eq!(o.asn, 65000);
            assert_eq!(
                o.capabilities,
                vec![Capability::Unknown {
                    code: 0x46,
                    value: vec![]
                }]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn update_bytes_both_ways() {
    let u = Message::Update(Update {
        withdrawn: vec!["10.9.0.0/16".parse().expect("net")],
        attributes: vec![
            Attribute::Origin(Origin::Igp),
            Attribute::AsPath(vec![AsPathSegment::Sequence(vec![65010])]),
            Attribute::NextHop("169.254.100.2".parse().expect("ip")),
            Attribute::Communities(vec![(7224 << 16) | 7100]),
        ],
        nlri: vec!["10.50.0.0/24".parse().expect("net")],
        malformed: None,
    });
    let b = h(&format!(
        "{MARKER} 0039 02 0003 100a09 001b \
         40 01 01 00 \
         40 02 06 02 01 0000fdf2 \
         40 03 04 a9fe6402 \
         c0 08 04 1c381bbc \
         18 0a3200"
    ));
    assert_eq!(u.encode(), b);
    assert_eq!(Message::decode(&b), Ok(u));
}

#[test]
fn ipv6_unicast_with_a_link_local_next_hop() {
    let u = Message::Update(Update {
        withdrawn: vec![],
        attributes: vec![
            Attribute::Origin(Origin::Igp),
            Attribute::AsPath(vec![AsPathSegment::Sequence(vec![64512, 64513])]),
            Attribute::MpReach {
                afi: AFI_IPV6,
                safi: SAFI_UNICAST,
                next_hops: vec![
                    "2001:db8::1".parse().expect("ip"),
                    "fe80::1".parse().expect("ip"),
                ],
                nlri: vec![
                    "2001:db8:100::/48".parse().expect("net"),
                    "fd00::/8".parse().expect("net"),
                ],
            },
            Attribute::MpUnreach {
                afi: AFI_IPV6,
                safi: SAFI_UNICAST,
                withdrawn: vec!["2001:db8:200::/40".parse().expect("net")],
            },
        ],
        nlri: vec![],
        malformed: None,
    });
    let b = u.encode();
    assert_eq!(Message::decode(&b), Ok(u));
}

#[test]
fn notification_and_route_refresh() {
    let n = Message::Notification(Notification {
        code: 6,
        subcode: 1,
        data: vec![0, 1, 1, 0, 0, 0, 100],
    });
    assert_eq!(Message::decode(&n.encode()), Ok(n));
    let r = Message::RouteRefresh(RouteRefresh {
        afi: AFI_IPV6,
        safi: SAFI_UNICAST,
    });
    let b = r.encode();
    assert_eq!(b[16..], h("0017 05 0002 00 01")[..]);
    assert_eq!(Message::decode(&b), Ok(r));
}

fn update_with(attrs: &str, nlri: &str) -> Vec<u8> {
    let a = h(attrs);
    let n = h(nlri);
    let mut b = h(MARKER);
    b.extend_from_slice(&((19 + 4 + a.len() + n.len()) as u16).to_be_bytes());
    b.push(2);
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&(a.len() as u16).to_be_bytes());
    b.extend_from_slice(&a);
    b.extend_from_slice(&n);
    b
}

#[test]
fn errors_map_to_notifications() {
    let check = |b: &[u8], code: (u8, u8)| {
        let e = Message::decode(b).expect_err("malformed");
        assert_eq!(e.notification(), code, "{e}");
    };
    let mut bad_marker = Message::Keepalive.encode();
    bad_marker[3] = 0;
    check(&bad_marker, (1, 1));
    check(&h(&format!("{MARKER} 0012 04")), (1, 2));
    check(&h(&format!("{MARKER} 0013 09")), (1, 3));
    check(
        &h(&format!("{MARKER} 001d 01 03 fde8 005a 0a000001 00")),
        (2, 1),
    );
    check(
        &h(&format!("{MARKER} 001d 01 04 fde8 0001 0a000001 00")),
        (2, 6),
    );
    check(
        &h(&format!("{MARKER} 001d 01 04 fde8 005a 00000000 00")),
        (2, 3),
    );
    // RFC 7606: a malformed ORIGIN, AS_PATH or NEXT_HOP makes the UPDATE's routes withdrawn
    // rather than resetting the session; the error (and its NOTIFICATION, for the log) is kept.
    let withdraw = |b: &[u8], code: (u8, u8)| match Message::decode(b) {
        Ok(Message::Update(u)) => {
            let e = u.malformed.expect("marked malformed");
            assert_eq!(e.notification(), code, "{e}");
            assert_eq!(u.nlri, vec!["10.0.0.0/8".parse::<Ipv4Net>().expect("net")]);
        }
        other => panic!("{other:?}"),
    };
    withdraw(&update_with("40 01 01 05", "08 0a"), (3, 6));
    withdraw(&update_with("80 01 01 00", "08 0a"), (3, 4));
    withdraw(&update_with("40 02 06 02 02 0000fdf2", "08 0a"), (3, 11));
    withdraw(&update_with("40 03 03 a9fe64", "08 0a"), (3, 5));
    check(&update_with("", "21 0a000000 00"), (3, 10));
    check(&update_with("40 01 05 00", ""), (3, 5));
}

proptest! {
    #[test]
    fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Message::decode(&b);
        let mut framed = h(MARKER);
        framed.extend_from_slice(&((19 + b.len().saturating_sub(1)) as u16).to_be_bytes());
        framed.extend_from_slice(&b);
        let _ = Message::decode(&framed);
        let _ = Message::peek_len(&framed);
    }

    #[test]
    fn update_round_trip(prefixes in proptest::collection::vec((any::<u32>(), 0u8..=32), 0..20), asns in proptest::collection::vec(any::<u32>(), 1..10), med in any::<u32>()) {
        let nlri: Vec<Ipv4Net> = prefixes.iter().map(|(a, l)| Ipv4Net::new(Ipv4Addr::from(*a), *l).expect("len").trunc()).collect();
        let u = Message::Update(Update {
            withdrawn: nlri.clone(),
            attributes: vec![
                Attribute::Origin(Origin::Incomplete),
                Attribute::AsPath(vec![AsPathSegment::Sequence(asns), AsPathSegment::Set(vec![1, 2])]),
                Attribute::NextHop(Ipv4Addr::new(10, 0, 0, 1)),
                Attribute::Med(med),
                Attribute::LocalPref(100),
            ],
            nlri,
            malformed: None,
        });
        let b = u.encode();
        prop_assume!(b.len() <= MAX_LEN);
        prop_assert_eq!(Message::decode(&b), Ok(u));
    }
}
