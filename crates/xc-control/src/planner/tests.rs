//! The planner's rules, on worlds built by hand and generated ones. `settle` applies a plan in
//! memory as the reconciler does in the store, so that what one plan leads to can be planned
//! again.

use super::*;
use proptest::prelude::*;
use xc_types::gateway::{
    GatewayStatus, LinkNumbers, LinkStatus, MkaCondition, MkaStatus, NeighborStatus, PathMtuStatus,
    RoutingStatus,
};

const NOW: i64 = 1_000_000;

fn ap(id: u8, prefix: &str) -> AttachPoint {
    AttachPoint {
        id: AttachPointId::from_bytes([id; 16]),
        account_id: AccountId::parse(&format!("{:012}", 100 + u64::from(id))).expect("account"),
        name: format!("ap{id}"),
        asn: Asn::new(64_512 + u64::from(id)).expect("asn"),
        prefixes: vec![prefix.parse().expect("prefix")],
        created_at: 0,
        updated_at: 0,
    }
}

fn gateway(
    id: &str,
    ap: Option<&AttachPoint>,
    facility: &str,
    created_at: i64,
    live: bool,
) -> GatewayRecord {
    GatewayRecord {
        id: id.to_owned(),
        account_id: AccountId::parse("000000000100").expect("account"),
        attach_point: ap.map(|a| a.id),
        facility: Some(facility.to_owned()),
        name: id.to_owned(),
        underlay_address: "10.200.0.1".parse().expect("ip"),
        secret_hash: Vec::new(),
        version: None,
        last_contact: Some(if live { NOW } else { NOW - 3600 }),
        status: None,
        created_at,
        access_interface: None,
    }
}

fn connection(
    n: u8,
    a: &AttachPoint,
    b: Option<&AttachPoint>,
    state: ConnectionState,
) -> Connection {
    Connection {
        id: ConnectionId::parse(&format!("mcc-{:08x}", u32::from(n) + 0xa000_0000)).expect("id"),
        seq: i64::from(n),
        shared_id: SharedId::from_bytes([n; 16]),
        owner: a.account_id.clone(),
        owner_attach_point: a.id,
        owner_routing: RoutingPolicy::Automatic {},
        remote_account: b.map(|b| b.account_id.clone()),
        remote_attach_point: b.map(|b| b.id),
        remote_routing: b.map(|_| RoutingPolicy::Automatic {}),
        initiator: Initiator::Owner,
        environment: EnvironmentId::parse("gcp-us-east4").expect("env"),
        bandwidth: Bandwidth::from_mbps(1000),
        pending_bandwidth: None,
        description: Description::parse("test").expect("description"),
        state,
        state_reason: Some(crate::service::provisioning_reason()),
        billing_tier: 1,
        grant: ActivationGrant {
            key_id: uuid::Uuid::nil(),
            allowed: String::new(),
            expires_at: 0,
        },
        tags: Tags::default(),
        created_at: 0,
        updated_at: NOW - 10,
        last_mile: None,
        link_liveness: None,
    }
}

/// A world of one accepted connection between two attach points with these gateways
/// (`(id, facility)` per side).
fn world(a_side: &[(&str, &str)], b_side: &[(&str, &str)]) -> World {
    let (a, b) = (ap(1, "10.0.0.0/16"), ap(2, "10.1.0.0/16"));
    let mut gateways: Vec<GatewayRecord> = Vec::new();
    for (i, (id, f)) in a_side.iter().enumerate() {
        gateways.push(gateway(id, Some(&a), f, i as i64, true));
    }
    for (i, (id, f)) in b_side.iter().enumerate() {
        gateways.push(gateway(id, Some(&b), f, i as i64, true));
    }
    World {
        now: NOW,
        connections: vec![connection(1, &a, Some(&b), ConnectionState::Pending)],
        attach_points: [(a.id, a), (b.id, b)].into_iter().collect(),
        gateways,
        links: Vec::new(),
        facilities: BTreeMap::new(),
    }
}

/// Applies a plan in memory, as the reconciler does in the store (numbers: the link id).
fn settle(w: &mut World, p: &Plan) {
    let mut next_id = w.links.iter().map(|l| l.id).max().unwrap_or(0) + 1;
    for cp in &p.connections {
        w.links.retain(|l| !cp.remove.contains(&l.id));
        for l in &cp.add {
            w.links.push(LinkRecord {
                id: next_id,
                connection_id: cp.connection.clone(),
                gateway_a: l.gateway_a.clone(),
                gateway_b: l.gateway_b.clone(),
                created_at: w.now,
                slot: l.slot,
                numbers: LinkNumbers {
                    vni: next_id as u32,
                    port: 10_000 + next_id as u16,
                    v4: next_id as u32,
                    v6: next_id as u32,
                },
            });
            next_id += 1;
        }
        if let Some((s, r)) = &cp.state
            && let Some(c) = w.connections.iter_mut().find(|c| c.id == cp.connection)
        {
            c.state = *s;
            c.state_reason = r.clone();
            c.updated_at = w.now;
        }
    }
}

/// Plans the world and applies the plan.
fn step(w: &mut World) -> Plan {
    let p = plan(w);
    settle(w, &p);
    p
}

fn links_of<'a>(w: &'a World, c: &ConnectionId) -> Vec<&'a LinkRecord> {
    w.links.iter().filter(|l| &l.connection_id == c).collect()
}

/// Every gateway reports every link of its own up: MKA secured, BGP Established with a prefix.
fn all_up(w: &mut World) {
    let links = w.links.clone();
    for g in &mut w.gateways {
        let mut st = GatewayStatus {
            name: g.name.clone(),
            bgp: Some(RoutingStatus::default()),
            ..GatewayStatus::default()
        };
        for l in links
            .iter()
            .filter(|l| l.gateway_a == g.id || l.gateway_b == g.id)
        {
            let is_b = l.gateway_b == g.id;
            st.links.push(LinkStatus {
                name: l.name(),
                id: Some(l.id),
                mka: MkaStatus {
                    state: MkaState::Secured,
                    ..MkaStatus::default()
                },
                ..LinkStatus::default()
            });
            if let Some(b) = &mut st.bgp {
                b.neighbors.push(NeighborStatus {
                    address: l.address(!is_b).addr().to_string(),
                    state: BgpState::Established,
                    prefixes_accepted: 1,
                    ..NeighborStatus::default()
                });
            }
        }
        g.status = Some(st);
    }
}

fn state(w: &World) -> (ConnectionState, Option<StateReasonCode>) {
    let c = &w.connections[0];
    (c.state, c.state_reason.as_ref().map(|r| r.code))
}

#[test]
fn four_links_spread_over_gateways_and_facilities() {
    let mut w = world(
        &[("a1", "f1"), ("a2", "f1"), ("a3", "f2")],
        &[("b1", "f1"), ("b2", "f2")],
    );
    let p = plan(&w);
    settle(&mut w, &p);
    let c = w.connections[0].id.clone();
    let links = links_of(&w, &c);
    assert_eq!(links.len(), MAX_LINKS);
    for g in ["a1", "a2", "a3", "b1", "b2"] {
        assert!(
            links.iter().any(|l| l.gateway_a == g || l.gateway_b == g),
            "{g} carries a link: {links:?}"
        );
    }
    assert!(plan(&w).is_empty(), "planning again changes nothing");
}

#[test]
fn a_connection_goes_from_pending_to_available_to_down() {
    let mut w = world(&[("a1", "f1")], &[("b1", "f2")]);
    let p = plan(&w);
    assert_eq!(p.connections[0].add.len(), 1);
    settle(&mut w, &p);
    assert!(
        plan(&w).is_empty(),
        "nothing changes until the gateways report"
    );
    assert_eq!(
        state(&w),
        (
            ConnectionState::Pending,
            Some(StateReasonCode::GatewayUnreachable)
        ),
        "no report yet"
    );
    all_up(&mut w);
    step(&mut w);
    assert_eq!(state(&w), (ConnectionState::Available, None));
    assert!(plan(&w).is_empty());
    // The remote end's MKA sees the peer's MKPDUs fail their ICV check.
    if let Some(st) = w.gateways[1].status.as_mut() {
        st.links[0].mka.state = MkaState::NoPeer;
        st.links[0].mka.condition = Some(MkaCondition::PeerCakMismatch);
    }
    step(&mut w);
    assert_eq!(
        state(&w),
        (
            ConnectionState::Down,
            Some(StateReasonCode::MacsecKeyMismatch)
        )
    );
    // A gateway that stops reporting.
    all_up(&mut w);
    w.gateways[0].last_contact = Some(NOW - STALE_SECS - 1);
    step(&mut w);
    assert_eq!(
        state(&w),
        (
            ConnectionState::Down,
            Some(StateReasonCode::GatewayUnreachable)
        )
    );
}

/// A link between attach points with IPv6 prefixes carries them over its second session: until
/// that one is Established too, the link is not up, and the reason names it.
#[test]
fn a_link_that_carries_ipv6_is_up_once_its_ipv6_session_is() {
    let mut w = world(&[("a1", "f1")], &[("b1", "f2")]);
    for ap in w.attach_points.values_mut() {
        let v6 = format!("fd00:{:x}::/48", ap.asn.get() - 64_500);
        ap.prefixes.push(v6.parse().expect("prefix"));
    }
    step(&mut w);
    all_up(&mut w);
    step(&mut w);
    let (c, r) = (&w.connections[0], &w.connections[0].state_reason);
    assert_eq!(c.state, ConnectionState::Pending, "{r:?}");
    let r = r.as_ref().expect("a reason");
    assert_eq!(r.code, StateReasonCode::BgpNotEstablished);
    assert!(
        r.message.contains("the IPv6 session") && r.message.contains("no BGP session yet"),
        "{}",
        r.message
    );
    // Both ends' IPv6 sessions come up.
    let links = w.links.clone();
    for g in &mut w.gateways {
        for l in links
            .iter()
            .filter(|l| l.gateway_a == g.id || l.gateway_b == g.id)
        {
            let is_b = l.gateway_b == g.id;
            if let Some(b) = g.status.as_mut().and_then(|s| s.bgp.as_mut()) {
                b.neighbors.push(NeighborStatus {
                    address: l.address6(!is_b).addr().to_string(),
                    state: BgpState::Established,
                    ..NeighborStatus::default()
                });
            }
        }
    }
    step(&mut w);
    assert_eq!(state(&w), (ConnectionState::Available, None));
}

#[test]
fn one_link_up_keeps_the_connection_available() {
    let mut w = world(&[("a1", "f1"), ("a2", "f2")], &[("b1", "f1"), ("b2", "f2")]);
    step(&mut w);
    all_up(&mut w);
    step(&mut w);
    assert_eq!(state(&w).0, ConnectionState::Available);
    // Every link but one loses BGP.
    for g in &mut w.gateways[1..] {
        if let Some(b) = g.status.as_mut().and_then(|s| s.bgp.as_mut()) {
            for n in &mut b.neighbors {
                n.state = BgpState::Idle;
            }
        }
    }
    let up = links_of(&w, &w.connections[0].id)
        .iter()
        .filter(|l| {
            let g = |id: &str| w.gateways.iter().find(|g| g.id == id);
            link_health(
                &w.attach_points,
                &w.connections[0],
                l,
                g(&l.gateway_a),
                g(&l.gateway_b),
                NOW,
            )
            .is_ok()
        })
        .count();
    assert_eq!(up, 0, "a1's links end at a gateway whose BGP is down");
    step(&mut w);
    assert_eq!(
        state(&w),
        (
            ConnectionState::Down,
            Some(StateReasonCode::BgpNotEstablished)
        )
    );
}

#[test]
fn without_gateways_a_connection_waits_then_fails() {
    let mut w = world(&[("a1", "f1")], &[]);
    step(&mut w);
    assert_eq!(
        state(&w),
        (
            ConnectionState::Pending,
            Some(StateReasonCode::NoGatewayAvailable)
        )
    );
    assert!(
        w.connections[0]
            .state_reason
            .as_ref()
            .is_some_and(|r| r.message.contains("remote attach point")),
        "{:?}",
        w.connections[0].state_reason
    );
    assert!(plan(&w).is_empty(), "waiting changes nothing");
    w.now += NO_GATEWAY_TIMEOUT_SECS + 1;
    step(&mut w);
    assert_eq!(
        state(&w),
        (
            ConnectionState::Failed,
            Some(StateReasonCode::NoGatewayAvailable)
        )
    );
}

#[test]
fn a_link_whose_gateway_is_gone_is_planned_again_elsewhere() {
    let mut w = world(&[("a1", "f1"), ("a2", "f2")], &[("b1", "f1")]);
    step(&mut w);
    let c = w.connections[0].id.clone();
    assert_eq!(links_of(&w, &c).len(), 2);
    let a2_link = links_of(&w, &c)
        .into_iter()
        .find(|l| l.gateway_a == "a2")
        .map(|l| l.id)
        .expect("a link on a2");
    w.gateways.retain(|g| g.id != "a2");
    let p = plan(&w);
    assert_eq!(p.connections[0].remove, vec![a2_link]);
    assert!(
        p.connections[0].add.is_empty(),
        "a1-b1 is the only pair left"
    );
    settle(&mut w, &p);
    assert_eq!(links_of(&w, &c).len(), 1);
}

/// A last-mile world: a tenant attach point with `tenant` gateways, provider edges (`(id,
/// facility)`), the environment's facilities `f1, f2`, redundancy 2.
fn last_mile_world(tenant: &[&str], edges: &[(&str, &str)]) -> World {
    let a = ap(1, "10.0.0.0/16");
    let mut c = connection(7, &a, None, ConnectionState::Pending);
    c.id = ConnectionId::parse("lmcc-a0000007").expect("id");
    c.environment = EnvironmentId::parse("lumen-chicago").expect("env");
    c.remote_account = Some(AccountId::parse("000000000200").expect("account"));
    c.last_mile = Some(LastMile {
        circuit_id: "C1".into(),
        redundancy: 2,
        customer_asn: Asn::new(65_010).expect("asn"),
        on_premises_prefixes: vec!["10.50.0.0/24".parse().expect("prefix")],
        max_prefixes: 100,
        layer: 3,
        vlan: 100,
        sessions: vec![
            CustomerPeering {
                provider_address: "100.100.0.1/30".parse().expect("net"),
                customer_address: "100.100.0.2".parse().expect("ip"),
                provider_address6: None,
                customer_address6: None,
            },
            CustomerPeering {
                provider_address: "100.100.0.5/30".parse().expect("net"),
                customer_address: "100.100.0.6".parse().expect("ip"),
                provider_address6: None,
                customer_address6: None,
            },
        ],
        md5_sealed: None,
    });
    let mut gateways: Vec<GatewayRecord> = tenant
        .iter()
        .enumerate()
        .map(|(i, id)| gateway(id, Some(&a), "f1", i as i64, true))
        .collect();
    for (i, (id, f)) in edges.iter().enumerate() {
        let mut e = gateway(id, None, f, i as i64, true);
        e.access_interface = Some("eth1".into());
        gateways.push(e);
    }
    World {
        now: NOW,
        connections: vec![c],
        attach_points: [(a.id, a)].into_iter().collect(),
        gateways,
        links: Vec::new(),
        facilities: [(
            EnvironmentId::parse("lumen-chicago").expect("env"),
            vec!["f1".to_owned(), "f2".to_owned()],
        )]
        .into_iter()
        .collect(),
    }
}

#[test]
fn last_mile_session_k_waits_for_an_edge_in_facility_k() {
    let mut w = last_mile_world(&["t1"], &[("e2", "f2")]);
    let p = plan(&w);
    assert_eq!(
        p.connections[0].add,
        vec![PlannedLink {
            gateway_a: "t1".into(),
            gateway_b: "e2".into(),
            slot: 1
        }],
        "session 0 waits for an edge in f1"
    );
    settle(&mut w, &p);
    let mut e1 = gateway("e1", None, "f1", 9, true);
    e1.access_interface = Some("eth1".into());
    w.gateways.push(e1);
    let p = plan(&w);
    assert_eq!(p.connections[0].add[0].gateway_b, "e1");
    assert_eq!(p.connections[0].add[0].slot, 0);
}

fn arb_side(prefix: &'static str) -> impl Strategy<Value = Vec<(String, u8, bool)>> {
    prop::collection::vec((0u8..3, any::<bool>()), 1..5).prop_map(move |v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (f, live))| (format!("{prefix}{i}"), f, live))
            .collect()
    })
}

/// A world of up to three connections between two attach points, with generated gateways
/// (facility f0..f2, in contact or not) on each side.
fn arb_world() -> impl Strategy<Value = World> {
    (arb_side("a"), arb_side("b"), 1u8..4).prop_map(|(sa, sb, n)| {
        let (a, b) = (ap(1, "10.0.0.0/16"), ap(2, "10.1.0.0/16"));
        let mut gateways = Vec::new();
        for (side, list) in [(&a, &sa), (&b, &sb)] {
            for (i, (id, f, live)) in list.iter().enumerate() {
                gateways.push(gateway(id, Some(side), &format!("f{f}"), i as i64, *live));
            }
        }
        World {
            now: NOW,
            connections: (1..=n)
                .map(|i| connection(i, &a, Some(&b), ConnectionState::Pending))
                .collect(),
            attach_points: [(a.id, a), (b.id, b)].into_iter().collect(),
            gateways,
            links: Vec::new(),
            facilities: BTreeMap::new(),
        }
    })
}

fn facilities_of<'a>(w: &'a World, ids: impl Iterator<Item = &'a str>) -> BTreeSet<&'a str> {
    ids.filter_map(|id| w.gateways.iter().find(|g| g.id == id))
        .filter_map(|g| g.facility.as_deref())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Planning the world a plan led to changes nothing and allocates nothing.
    #[test]
    fn planning_an_unchanged_world_changes_nothing(mut w in arb_world(), up in any::<bool>()) {
        step(&mut w);
        if up {
            all_up(&mut w);
        }
        step(&mut w);
        let again = plan(&w);
        prop_assert!(again.is_empty(), "{again:?}");
    }

    /// At most four links per connection, as many as there are pairs, spread over the
    /// facilities of each side when it has two.
    #[test]
    fn links_are_bounded_and_spread(mut w in arb_world()) {
        step(&mut w);
        for c in &w.connections {
            let links = links_of(&w, &c.id);
            let side = |b: bool| w.gateways.iter().filter(move |g| {
                g.attach_point == Some(if b { c.remote_attach_point.expect("accepted") } else { c.owner_attach_point })
            });
            let pairs = side(false).count() * side(true).count();
            prop_assert_eq!(links.len(), pairs.min(MAX_LINKS));
            for b in [false, true] {
                let available = facilities_of(&w, side(b).map(|g| g.id.as_str())).len();
                let used = facilities_of(&w, links.iter().map(|l| if b { l.gateway_b.as_str() } else { l.gateway_a.as_str() })).len();
                prop_assert!(used >= available.min(2).min(links.len()), "side {b}: {used} of {available} facilities used by {links:?}");
            }
        }
    }

    /// Losing a gateway moves only that gateway's links.
    #[test]
    fn losing_a_gateway_moves_only_its_links(mut w in arb_world(), pick in any::<prop::sample::Index>()) {
        step(&mut w);
        let lost = w.gateways[pick.index(w.gateways.len())].id.clone();
        let before: Vec<LinkRecord> = w.links.clone();
        w.gateways.retain(|g| g.id != lost);
        let p = plan(&w);
        for cp in &p.connections {
            for id in &cp.remove {
                let l = before.iter().find(|l| l.id == *id).expect("a known link");
                prop_assert!(l.gateway_a == lost || l.gateway_b == lost, "{l:?} removed though {lost} was lost");
            }
            for l in &cp.add {
                prop_assert!(l.gateway_a != lost && l.gateway_b != lost);
            }
        }
        let removed: BTreeSet<LinkId> = p.connections.iter().flat_map(|c| c.remove.iter().copied()).collect();
        for l in &before {
            prop_assert_eq!(removed.contains(&l.id), l.gateway_a == lost || l.gateway_b == lost);
        }
    }

    /// Last mile with two sessions: session `k` is always on an edge of the `k`-th facility.
    #[test]
    fn last_mile_session_k_stays_on_facility_k(
        edges in prop::collection::vec((0u8..3, any::<bool>()), 1..5),
        tenants in 1usize..3,
        lose in any::<prop::sample::Index>(),
    ) {
        let names: Vec<String> = (0..edges.len()).map(|i| format!("e{i}")).collect();
        let fac: Vec<String> = edges.iter().map(|(f, _)| format!("f{}", f + 1)).collect();
        let edge_list: Vec<(&str, &str)> = names.iter().map(String::as_str).zip(fac.iter().map(String::as_str)).collect();
        let tenant_names: Vec<String> = (0..tenants).map(|i| format!("t{i}")).collect();
        let tenant_list: Vec<&str> = tenant_names.iter().map(String::as_str).collect();
        let mut w = last_mile_world(&tenant_list, &edge_list);
        step(&mut w);
        let check = |w: &World| -> Result<(), TestCaseError> {
            for l in &w.links {
                let e = w.gateways.iter().find(|g| g.id == l.gateway_b).expect("edge");
                let home = format!("f{}", l.slot + 1);
                prop_assert_eq!(e.facility.as_deref(), Some(home.as_str()));
            }
            Ok(())
        };
        check(&w)?;
        let lost = names[lose.index(names.len())].clone();
        w.gateways.retain(|g| g.id != lost);
        step(&mut w);
        check(&w)?;
        prop_assert!(plan(&w).is_empty());
    }
}

/// Adds an Established BGP session with `peer` to gateway `g`'s report.
fn session_up(w: &mut World, g: &str, peer: IpAddr) {
    let st = w
        .gateways
        .iter_mut()
        .find(|x| x.id == g)
        .and_then(|x| x.status.as_mut())
        .and_then(|s| s.bgp.as_mut())
        .expect("a report with BGP");
    st.neighbors.push(NeighborStatus {
        address: peer.to_string(),
        state: BgpState::Established,
        prefixes_accepted: 1,
        ..NeighborStatus::default()
    });
}

/// A site with an IPv6 prefix has an IPv6 customer session beside each IPv4 one, and each link
/// a second session between its IPv6 addresses: the connection is available once all are
/// Established, and until then the reason names the one missing.
#[test]
fn a_last_mile_site_with_ipv6_is_available_once_its_ipv6_sessions_are() {
    let mut w = last_mile_world(&["t1"], &[("e1", "f1"), ("e2", "f2")]);
    if let Some(lm) = w.connections[0].last_mile.as_mut() {
        lm.on_premises_prefixes
            .push("fd00:50::/64".parse().expect("prefix"));
        for (i, s) in lm.sessions.iter_mut().enumerate() {
            s.provider_address6 = Some(format!("fd00:5{i}::1/126").parse().expect("net"));
            s.customer_address6 = Some(format!("fd00:5{i}::2").parse().expect("ip"));
        }
    }
    step(&mut w);
    all_up(&mut w);
    let sessions = w.connections[0]
        .last_mile
        .as_ref()
        .map(|lm| lm.sessions.clone())
        .unwrap_or_default();
    let links = w.links.clone();
    for l in &links {
        session_up(
            &mut w,
            &l.gateway_b,
            sessions[usize::from(l.slot)].customer_address,
        );
    }
    step(&mut w);
    let reason = |w: &World| w.connections[0].state_reason.clone().expect("a reason");
    assert_eq!(w.connections[0].state, ConnectionState::Pending);
    let r = reason(&w);
    assert_eq!(r.code, StateReasonCode::CustomerBgpNotEstablished);
    assert!(r.message.contains("fd00:50::2"), "{}", r.message);
    // The customer's IPv6 sessions come up; the links' IPv6 sessions are still missing.
    for l in &links {
        let addr = sessions[usize::from(l.slot)]
            .customer_address6
            .expect("an IPv6 session");
        session_up(&mut w, &l.gateway_b, addr);
    }
    step(&mut w);
    let r = reason(&w);
    assert_eq!(r.code, StateReasonCode::BgpNotEstablished);
    assert!(r.message.contains("the IPv6 session"), "{}", r.message);
    for l in &links {
        session_up(&mut w, &l.gateway_a, IpAddr::V6(l.address6(true).addr()));
        session_up(&mut w, &l.gateway_b, IpAddr::V6(l.address6(false).addr()));
    }
    step(&mut w);
    assert_eq!(state(&w), (ConnectionState::Available, None));
}

/// Link changes: each link recorded once as it is, then only when its state or reason code
/// turns (not when the same problem is worded again).
#[test]
fn link_changes_are_the_links_whose_state_or_reason_turned() {
    let mut w = world(&[("a1", "f1"), ("a2", "f2")], &[("b1", "f1"), ("b2", "f2")]);
    step(&mut w);
    let mut recorded = BTreeMap::new();
    let mut record = |w: &World| {
        let changes = link_changes(w, &recorded);
        for c in &changes {
            recorded.insert(c.link, (c.state, c.reason.as_ref().map(|r| r.code)));
        }
        changes
    };
    let first = record(&w);
    assert_eq!(first.len(), links_of(&w, &w.connections[0].id).len());
    assert!(first.iter().all(|c| c.state == LinkState::Down));
    assert!(record(&w).is_empty(), "nothing turned");
    all_up(&mut w);
    let up = record(&w);
    assert!(
        !up.is_empty()
            && up
                .iter()
                .all(|c| c.state == LinkState::Up && c.reason.is_none())
    );
    assert!(record(&w).is_empty());
    // a1 loses BGP: its links go down, with the reason; the others stay up.
    if let Some(b) = w.gateways[0].status.as_mut().and_then(|s| s.bgp.as_mut()) {
        for n in &mut b.neighbors {
            n.state = BgpState::Idle;
        }
    }
    let down = record(&w);
    let a1 = w.gateways[0].id.clone();
    assert!(!down.is_empty());
    for c in &down {
        let l = w.links.iter().find(|l| l.id == c.link).expect("link");
        assert!(
            l.gateway_a == a1 || l.gateway_b == a1,
            "only a1's links turn"
        );
        assert_eq!(c.state, LinkState::Down);
        assert_eq!(
            c.reason.as_ref().map(|r| r.code),
            Some(StateReasonCode::BgpNotEstablished)
        );
    }
}

/// An end whose underlay drops the link's full-size packets (its path-MTU check lowered the
/// link's MTU): the link stays up, the connection available, and the link's reason says so; once
/// the underlay carries the full size again the reason goes.
#[test]
fn a_link_whose_underlay_drops_large_packets_is_up_with_the_reason() {
    let mut w = world(&[("a1", "f1")], &[("b1", "f1")]);
    step(&mut w);
    all_up(&mut w);
    step(&mut w);
    let mut recorded = BTreeMap::new();
    for c in link_changes(&w, &recorded) {
        recorded.insert(c.link, (c.state, c.reason.as_ref().map(|r| r.code)));
    }
    if let Some(st) = w.gateways[1].status.as_mut() {
        st.links[0].path_mtu = PathMtuStatus {
            state: PathMtuState::Reduced,
            configured: 8918,
            verified: Some(1418),
        };
        st.links[0].mtu = 1418;
    }
    let changes = link_changes(&w, &recorded);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].state, LinkState::Up);
    let reason = changes[0].reason.clone().expect("a reason");
    assert_eq!(reason.code, StateReasonCode::PathMtuReduced);
    assert!(
        reason.message.contains("8918") && reason.message.contains("1418"),
        "{reason}"
    );
    step(&mut w);
    assert_eq!(state(&w), (ConnectionState::Available, None));
    recorded.insert(changes[0].link, (LinkState::Up, Some(reason.code)));
    if let Some(st) = w.gateways[1].status.as_mut() {
        st.links[0].path_mtu.state = PathMtuState::Verified;
    }
    let changes = link_changes(&w, &recorded);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].state, changes[0].reason.clone()),
        (LinkState::Up, None)
    );
}
