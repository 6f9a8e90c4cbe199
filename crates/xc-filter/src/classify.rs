//! A policy compiled for lookups: per stage (security groups, network ACL) and direction, a
//! binary trie over the peer's address whose nodes hold the rules of that prefix, ordered. A
//! lookup walks one path (at most 32 or 128 nodes) and looks only at the rules whose prefix holds
//! the peer, never at every rule.
//!
//! Within a stage the rule that decides is the one with the lowest order: for a network ACL its
//! number (EC2 evaluates lowest first), for security groups the rule's position (any allow rule
//! allows, so which one is reported is a convention: the first).

use std::net::IpAddr;
use xc_types::filter::{Direction, FilterPolicy, Peer, PortMatch, RuleAction, RuleError};
use xc_types::{NetworkAclId, Prefix, SecurityGroupId, SecurityGroupRuleId};

/// A rule, as the counters and the explanations name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RuleRef {
    Sg {
        group: SecurityGroupId,
        rule: SecurityGroupRuleId,
    },
    Acl {
        acl: NetworkAclId,
        direction: Direction,
        number: u16,
        action: RuleAction,
    },
}

/// What a packet shows the rules: the peer's address (the source of an inbound packet, the
/// destination of an outbound one), the protocol, and the destination port or ICMP type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub peer: IpAddr,
    pub protocol: u8,
    pub detail: Detail,
}

/// The transport detail a rule can ask about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// TCP or UDP destination port.
    Port(u16),
    /// ICMP type and code.
    Icmp(u8, u8),
    /// Nothing beyond the protocol.
    None,
}

#[derive(Debug, Clone)]
struct Entry {
    /// `None` matches every protocol.
    protocol: Option<u8>,
    ports: PortMatch,
    /// Lower decides first.
    order: u32,
    /// Index into [`Compiled::rules`].
    rule: u32,
}

impl Entry {
    fn matches(&self, p: &Probe) -> bool {
        if self.protocol.is_some_and(|proto| proto != p.protocol) {
            return false;
        }
        match (self.ports, p.detail) {
            (PortMatch::Any, _) => true,
            (ports, Detail::Port(port)) => ports.port(port),
            (ports, Detail::Icmp(t, c)) => ports.icmp(t, c),
            (_, Detail::None) => false,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// Child node indexes for bit 0 and 1; 0 is "none" (the root is never a child).
    children: [u32; 2],
    /// Indexes into [`Stage::entries`], in the order the entries decide.
    entries: Vec<u32>,
}

/// One stage in one direction: a trie per address family.
#[derive(Debug, Clone)]
struct Stage {
    v4: Vec<Node>,
    v6: Vec<Node>,
    entries: Vec<Entry>,
}

/// An address as 128 bits, most significant first; IPv4 in the top 32.
fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)) << 96,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn bit(addr: u128, i: u8) -> usize {
    ((addr >> (127 - u32::from(i))) & 1) as usize
}

impl Stage {
    fn new() -> Self {
        Self {
            v4: vec![Node::default()],
            v6: vec![Node::default()],
            entries: Vec::new(),
        }
    }

    fn insert(&mut self, prefix: &Prefix, entry: Entry) {
        let net = prefix.net();
        let trie = if prefix.is_ipv4() {
            &mut self.v4
        } else {
            &mut self.v6
        };
        let addr = bits(net.addr());
        let mut node = 0usize;
        for i in 0..net.prefix_len() {
            let b = bit(addr, i);
            let next = trie[node].children[b] as usize;
            node = if next == 0 {
                trie.push(Node::default());
                let new = trie.len() - 1;
                trie[node].children[b] = new as u32;
                new
            } else {
                next
            };
        }
        let index = self.entries.len() as u32;
        self.entries.push(entry);
        trie[node].entries.push(index);
    }

    /// Orders every node's entries by the order they decide in.
    fn seal(&mut self) {
        let entries = &self.entries;
        for node in self.v4.iter_mut().chain(self.v6.iter_mut()) {
            node.entries.sort_by_key(|&e| entries[e as usize].order);
        }
    }

    /// The deciding entry for `probe`: the matching one of lowest order along the peer's path.
    fn lookup(&self, probe: &Probe) -> Option<&Entry> {
        let (trie, depth) = match probe.peer {
            IpAddr::V4(_) => (&self.v4, 32),
            IpAddr::V6(_) => (&self.v6, 128),
        };
        let addr = bits(probe.peer);
        let mut best: Option<&Entry> = None;
        let mut node = 0usize;
        for i in 0..=depth {
            let here = &trie[node];
            if let Some(e) = here
                .entries
                .iter()
                .map(|&e| &self.entries[e as usize])
                .find(|e| e.matches(probe))
                && best.is_none_or(|b| e.order < b.order)
            {
                best = Some(e);
            }
            if i == depth {
                break;
            }
            let next = here.children[bit(addr, i)] as usize;
            if next == 0 {
                break;
            }
            node = next;
        }
        best
    }
}

/// How the security groups decided a new flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SgVerdict {
    /// No group is attached: everything passes this stage.
    NoGroups,
    /// Allowed by the rule at this index of [`Compiled::rules`].
    Allowed(u32),
    /// No rule allows it.
    NoRule,
}

/// How the network ACL decided a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclVerdict {
    /// No ACL is attached: everything passes this stage (EC2's default ACL).
    NoAcl,
    /// Decided by the rule at this index of [`Compiled::rules`].
    Rule(u32, RuleAction),
    /// No rule matched: the final implicit deny (`*`).
    ImplicitDeny,
}

impl AclVerdict {
    pub fn allows(&self) -> bool {
        matches!(self, Self::NoAcl | Self::Rule(_, RuleAction::Allow))
    }
}

/// A policy ready for lookups.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// Per direction (inbound, outbound); `None` when no group is attached.
    sg: Option<[Stage; 2]>,
    /// Per direction; `None` when no ACL is attached.
    acl: Option<[Stage; 2]>,
    acl_id: Option<NetworkAclId>,
    /// Every rule, by the index the verdicts carry.
    pub rules: Vec<RuleRef>,
}

fn slot(d: Direction) -> usize {
    match d {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    }
}

impl Compiled {
    /// Compiles a policy, after validating it as a whole.
    pub fn new(policy: &FilterPolicy) -> Result<Self, RuleError> {
        policy.validate()?;
        let mut rules = Vec::new();
        let sg = (!policy.security_groups.is_empty()).then(|| {
            let mut stages = [Stage::new(), Stage::new()];
            for group in &policy.security_groups {
                for r in &group.rules {
                    let index = rules.len() as u32;
                    rules.push(RuleRef::Sg {
                        group: group.group_id.clone(),
                        rule: r.id.clone(),
                    });
                    let entry = Entry {
                        protocol: r.protocol.number(),
                        ports: r.ports,
                        order: index,
                        rule: index,
                    };
                    let stage = &mut stages[slot(r.direction)];
                    match &r.peer {
                        Peer::Cidr(p) => stage.insert(p, entry),
                        Peer::PrefixList(pl) => {
                            for p in policy.prefix_list(pl).unwrap_or_default() {
                                stage.insert(p, entry.clone());
                            }
                        }
                    }
                }
            }
            stages.iter_mut().for_each(Stage::seal);
            stages
        });
        let acl = policy.network_acl.as_ref().map(|acl| {
            let mut stages = [Stage::new(), Stage::new()];
            for r in &acl.rules {
                let index = rules.len() as u32;
                rules.push(RuleRef::Acl {
                    acl: acl.acl_id.clone(),
                    direction: r.direction,
                    number: r.number,
                    action: r.action,
                });
                stages[slot(r.direction)].insert(
                    &r.cidr,
                    Entry {
                        protocol: r.protocol.number(),
                        ports: r.ports,
                        order: u32::from(r.number),
                        rule: index,
                    },
                );
            }
            stages.iter_mut().for_each(Stage::seal);
            stages
        });
        Ok(Self {
            sg,
            acl,
            acl_id: policy.network_acl.as_ref().map(|a| a.acl_id.clone()),
            rules,
        })
    }

    /// A policy that filters nothing.
    pub fn open() -> Self {
        Self {
            sg: None,
            acl: None,
            acl_id: None,
            rules: Vec::new(),
        }
    }

    /// Whether any stage filters.
    pub fn is_open(&self) -> bool {
        self.sg.is_none() && self.acl.is_none()
    }

    pub fn has_groups(&self) -> bool {
        self.sg.is_some()
    }

    /// The rule at `index`, as a verdict names it.
    pub fn rule(&self, index: u32) -> Option<&RuleRef> {
        self.rules.get(index as usize)
    }

    pub fn acl_id(&self) -> Option<&NetworkAclId> {
        self.acl_id.as_ref()
    }

    /// The security groups' answer for the first packet of a flow going `direction`.
    pub fn security_groups(&self, direction: Direction, probe: &Probe) -> SgVerdict {
        match &self.sg {
            None => SgVerdict::NoGroups,
            Some(stages) => match stages[slot(direction)].lookup(probe) {
                Some(e) => SgVerdict::Allowed(e.rule),
                None => SgVerdict::NoRule,
            },
        }
    }

    /// The network ACL's answer for a packet going `direction`.
    pub fn network_acl(&self, direction: Direction, probe: &Probe) -> AclVerdict {
        let Some(stages) = &self.acl else {
            return AclVerdict::NoAcl;
        };
        match stages[slot(direction)].lookup(probe) {
            Some(e) => match &self.rules[e.rule as usize] {
                RuleRef::Acl { action, .. } => AclVerdict::Rule(e.rule, *action),
                RuleRef::Sg { .. } => AclVerdict::ImplicitDeny,
            },
            None => AclVerdict::ImplicitDeny,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use xc_types::PrefixListId;
    use xc_types::filter::{AclRule, AclRules, GroupRules, IpProtocol, PrefixListEntries, SgRule};

    /// The rules' meaning written the slow way: every rule looked at.
    fn reference_sg(policy: &FilterPolicy, direction: Direction, p: &Probe) -> SgVerdict {
        if policy.security_groups.is_empty() {
            return SgVerdict::NoGroups;
        }
        let mut index = 0u32;
        for g in &policy.security_groups {
            for r in &g.rules {
                let peers: Vec<Prefix> = match &r.peer {
                    Peer::Cidr(c) => vec![*c],
                    Peer::PrefixList(pl) => policy.prefix_list(pl).unwrap_or_default().to_vec(),
                };
                if r.direction == direction
                    && peers.iter().any(|c| c.net().contains(&p.peer))
                    && matches_rule(r.protocol, r.ports, p)
                {
                    return SgVerdict::Allowed(index);
                }
                index += 1;
            }
        }
        SgVerdict::NoRule
    }

    fn reference_acl(
        policy: &FilterPolicy,
        direction: Direction,
        p: &Probe,
    ) -> Option<(u16, RuleAction)> {
        let acl = policy.network_acl.as_ref()?;
        let mut rules: Vec<&AclRule> = acl
            .rules
            .iter()
            .filter(|r| r.direction == direction)
            .collect();
        rules.sort_by_key(|r| r.number);
        rules
            .iter()
            .find(|r| r.cidr.net().contains(&p.peer) && matches_rule(r.protocol, r.ports, p))
            .map(|r| (r.number, r.action))
    }

    fn matches_rule(protocol: IpProtocol, ports: PortMatch, p: &Probe) -> bool {
        if protocol.number().is_some_and(|n| n != p.protocol) {
            return false;
        }
        match (ports, p.detail) {
            (PortMatch::Any, _) => true,
            (PortMatch::Range { from, to }, Detail::Port(port)) => from <= port && port <= to,
            (PortMatch::Icmp { icmp_type, code }, Detail::Icmp(t, c)) => {
                icmp_type == t && code.is_none_or(|code| code == c)
            }
            _ => false,
        }
    }

    // Small spaces so that random rules and packets meet often.
    fn prefix() -> impl Strategy<Value = Prefix> {
        prop_oneof![
            (
                0u8..4,
                0u8..4,
                prop::sample::select(vec![0u8, 8, 16, 24, 30, 32])
            )
                .prop_map(|(a, b, len)| {
                    let net = ipnet::Ipv4Net::new([10, a, b, 1].into(), len)
                        .expect("len")
                        .trunc();
                    Prefix::parse(&net.to_string()).expect("prefix")
                }),
            (0u16..4, prop::sample::select(vec![0u8, 16, 32, 64, 128])).prop_map(|(a, len)| {
                let net = ipnet::Ipv6Net::new([0x2001, 0xdb8, a, 0, 0, 0, 0, 1].into(), len)
                    .expect("len")
                    .trunc();
                Prefix::parse(&net.to_string()).expect("prefix")
            }),
        ]
    }

    fn protocol() -> impl Strategy<Value = (IpProtocol, PortMatch)> {
        prop_oneof![
            Just((IpProtocol::All, PortMatch::Any)),
            (
                prop::sample::select(vec![IpProtocol::Tcp, IpProtocol::Udp]),
                20u16..30,
                0u16..5
            )
                .prop_map(|(p, from, span)| (
                    p,
                    PortMatch::Range {
                        from,
                        to: from + span
                    }
                )),
            Just((IpProtocol::Tcp, PortMatch::Any)),
            (0u8..3, prop::option::of(0u8..2))
                .prop_map(|(t, code)| (IpProtocol::Icmp, PortMatch::Icmp { icmp_type: t, code })),
            Just((IpProtocol::Other(47), PortMatch::Any)),
        ]
    }

    fn direction() -> impl Strategy<Value = Direction> {
        prop::sample::select(vec![Direction::Inbound, Direction::Outbound])
    }

    prop_compose! {
        fn sg_rule()(d in direction(), (protocol, ports) in protocol(), peer in prefix(), n in any::<[u8; 8]>()) -> SgRule {
            SgRule { id: SecurityGroupRuleId::from_random(n), direction: d, protocol, ports, peer: Peer::Cidr(peer), description: None }
        }
    }

    prop_compose! {
        fn acl_rule()(d in direction(), (protocol, ports) in protocol(), cidr in prefix(), number in 1u16..200, allow in any::<bool>()) -> AclRule {
            AclRule { number, direction: d, action: if allow { RuleAction::Allow } else { RuleAction::Deny }, protocol, ports, cidr, description: None }
        }
    }

    prop_compose! {
        fn probe()(peer in prefix(), host in any::<u8>(), protocol in prop::sample::select(vec![6u8, 17, 1, 47]), port in 18u16..36, t in 0u8..3, c in 0u8..3) -> Probe {
            let peer = match peer.net().addr() {
                IpAddr::V4(a) => IpAddr::V4(std::net::Ipv4Addr::from(u32::from(a) | u32::from(host & 3))),
                IpAddr::V6(a) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(a) | u128::from(host & 3))),
            };
            let detail = match protocol { 6 | 17 => Detail::Port(port), 1 => Detail::Icmp(t, c), _ => Detail::None };
            Probe { peer, protocol, detail }
        }
    }

    fn policy(sg: Vec<SgRule>, acl: Vec<AclRule>, with_acl: bool) -> FilterPolicy {
        let mut seen = std::collections::HashSet::new();
        let acl: Vec<AclRule> = acl
            .into_iter()
            .filter(|r| seen.insert((r.direction, r.number)))
            .collect();
        FilterPolicy {
            security_groups: if sg.is_empty() {
                vec![]
            } else {
                let half = sg.len() / 2;
                vec![
                    GroupRules {
                        group_id: SecurityGroupId::from_random([1; 8]),
                        rules: sg[..half].to_vec(),
                    },
                    GroupRules {
                        group_id: SecurityGroupId::from_random([2; 8]),
                        rules: sg[half..].to_vec(),
                    },
                ]
            },
            network_acl: with_acl.then(|| AclRules {
                acl_id: NetworkAclId::from_random([3; 8]),
                rules: acl,
            }),
            prefix_lists: vec![],
            flow_logs: Default::default(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn the_trie_decides_as_every_rule_read_in_order_would(
            sg in prop::collection::vec(sg_rule(), 0..12),
            acl in prop::collection::vec(acl_rule(), 0..12),
            with_acl in any::<bool>(),
            probes in prop::collection::vec(probe(), 1..20),
        ) {
            let policy = policy(sg, acl, with_acl);
            let compiled = Compiled::new(&policy).expect("compiles");
            for p in &probes {
                for d in Direction::ALL {
                    prop_assert_eq!(compiled.security_groups(d, p), reference_sg(&policy, d, p));
                    let acl = compiled.network_acl(d, p);
                    let expected = match reference_acl(&policy, d, p) {
                        None if policy.network_acl.is_none() => AclVerdict::NoAcl,
                        None => AclVerdict::ImplicitDeny,
                        Some((number, action)) => {
                            let AclVerdict::Rule(i, _) = acl else {
                                return Err(TestCaseError::fail(format!("{acl:?}, expected rule {number}")));
                            };
                            let RuleRef::Acl { number: n, .. } = &compiled.rules[i as usize] else {
                                return Err(TestCaseError::fail("not an ACL rule"));
                            };
                            prop_assert_eq!(*n, number);
                            AclVerdict::Rule(i, action)
                        }
                    };
                    prop_assert_eq!(acl, expected);
                }
            }
        }
    }

    /// The first packet of a flow as a frame: `peer` is its source inbound, its destination
    /// outbound; this side is an address of the same family.
    fn first_frame(direction: Direction, p: &Probe) -> Vec<u8> {
        use crate::parse::build::{frame, icmp, ip, tcp, udp};
        let local: IpAddr = match p.peer {
            IpAddr::V4(_) => "192.168.7.1".parse().expect("address"),
            IpAddr::V6(_) => "2001:db8:ff::1".parse().expect("address"),
        };
        let (src, dst) = match direction {
            Direction::Inbound => (p.peer, local),
            Direction::Outbound => (local, p.peer),
        };
        let transport = match p.detail {
            Detail::Port(port) if p.protocol == 6 => tcp(40000, port, crate::parse::tcp::SYN),
            Detail::Port(port) => udp(40000, port, b"probe"),
            Detail::Icmp(t, c) => icmp(t, c, &[0; 4]),
            Detail::None => vec![0; 8],
        };
        frame(&ip(src, dst, p.protocol, &transport))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// "Would this pass?" (`evaluate`, what the API's check runs) answers for a flow's first
        /// packet what the data plane (`Filter::check`, on the packet as a frame) does with it.
        #[test]
        fn would_this_pass_answers_what_the_data_plane_does(
            sg in prop::collection::vec(sg_rule(), 0..12),
            acl in prop::collection::vec(acl_rule(), 0..12),
            with_acl in any::<bool>(),
            probes in prop::collection::vec(probe(), 1..20),
        ) {
            let policy = policy(sg, acl, with_acl);
            let compiled = Compiled::new(&policy).expect("compiles");
            for p in &probes {
                for d in Direction::ALL {
                    let filter = crate::Filter::new(crate::Limits::default());
                    filter.apply(&policy).expect("applies");
                    let verdict = filter.check(d, &first_frame(d, p), 1);
                    prop_assert_eq!(
                        verdict == crate::Verdict::Pass,
                        crate::evaluate(&compiled, d, p).allowed(),
                        "{:?} {:?}: the data plane said {:?}", d, p, verdict
                    );
                }
            }
        }
    }

    #[test]
    fn prefix_lists_expand_and_a_lower_acl_number_wins() {
        let pl = PrefixListId::from_random([9; 8]);
        let p = |s: &str| Prefix::parse(s).expect("prefix");
        let policy = FilterPolicy {
            security_groups: vec![GroupRules {
                group_id: SecurityGroupId::from_random([1; 8]),
                rules: vec![SgRule {
                    id: SecurityGroupRuleId::from_random([4; 8]),
                    direction: Direction::Inbound,
                    protocol: IpProtocol::Tcp,
                    ports: PortMatch::Range { from: 22, to: 22 },
                    peer: Peer::PrefixList(pl.clone()),
                    description: None,
                }],
            }],
            network_acl: Some(AclRules {
                acl_id: NetworkAclId::from_random([5; 8]),
                rules: vec![
                    AclRule {
                        number: 200,
                        direction: Direction::Inbound,
                        action: RuleAction::Allow,
                        protocol: IpProtocol::All,
                        ports: PortMatch::Any,
                        cidr: p("0.0.0.0/0"),
                        description: None,
                    },
                    AclRule {
                        number: 100,
                        direction: Direction::Inbound,
                        action: RuleAction::Deny,
                        protocol: IpProtocol::Tcp,
                        ports: PortMatch::Range { from: 23, to: 23 },
                        cidr: p("10.1.0.0/16"),
                        description: None,
                    },
                ],
            }),
            prefix_lists: vec![PrefixListEntries {
                prefix_list_id: pl,
                prefixes: vec![p("10.1.0.0/16"), p("192.0.2.0/24")],
            }],
            flow_logs: Default::default(),
        };
        let c = Compiled::new(&policy).expect("compiles");
        let probe = |peer: &str, port| Probe {
            peer: peer.parse().expect("addr"),
            protocol: 6,
            detail: Detail::Port(port),
        };
        assert_eq!(
            c.security_groups(Direction::Inbound, &probe("192.0.2.9", 22)),
            SgVerdict::Allowed(0)
        );
        assert_eq!(
            c.security_groups(Direction::Inbound, &probe("10.2.0.1", 22)),
            SgVerdict::NoRule
        );
        assert_eq!(
            c.security_groups(Direction::Outbound, &probe("10.1.0.1", 22)),
            SgVerdict::NoRule
        );
        assert_eq!(
            c.network_acl(Direction::Inbound, &probe("10.1.2.3", 23)),
            AclVerdict::Rule(2, RuleAction::Deny)
        );
        assert_eq!(
            c.network_acl(Direction::Inbound, &probe("10.2.2.3", 23)),
            AclVerdict::Rule(1, RuleAction::Allow)
        );
        assert_eq!(
            c.network_acl(Direction::Outbound, &probe("10.2.2.3", 23)),
            AclVerdict::ImplicitDeny
        );
    }
}
