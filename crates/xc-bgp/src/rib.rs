//! The Loc-RIB: every peer's accepted route for each prefix, the decision process (RFC 4271
//! 9.1.2.2), and the multipath set that the kernel is given: every next hop whose route is as good
//! as the best one up to the tie-breakers, so that several links to the same network form one ECMP
//! route.

use crate::message::Origin;
use ipnet::IpNet;
use smallvec::SmallVec;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// An AS_PATH as the decision process sees it (sets count as one hop); short paths are stored
/// inline, without an allocation.
pub type AsPath = SmallVec<[u32; 4]>;

/// Next hops of one prefix; one or two are stored inline.
pub type NextHops = SmallVec<[IpAddr; 2]>;

/// The path attributes that the decision process reads. Shared between the prefixes of one
/// UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathAttrs {
    pub as_path: AsPath,
    pub origin: Origin,
    pub med: Option<u32>,
    pub local_pref: u32,
    pub communities: Vec<u32>,
}

/// One peer's route to a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<P> {
    pub peer: P,
    pub peer_router_id: Ipv4Addr,
    pub peer_addr: IpAddr,
    pub next_hop: IpAddr,
    pub attrs: Arc<PathAttrs>,
}

impl<P> Candidate<P> {
    fn neighbor_as(&self) -> Option<u32> {
        self.attrs.as_path.first().copied()
    }

    /// The part of the ranking that makes two routes equally good for multipath.
    fn rank(&self) -> (std::cmp::Reverse<u32>, usize, u8, Option<u32>, u32) {
        (
            std::cmp::Reverse(self.attrs.local_pref),
            self.attrs.as_path.len(),
            self.attrs.origin as u8,
            self.neighbor_as(),
            self.attrs.med.unwrap_or(0),
        )
    }

    /// RFC 4271 9.1.2.2, all peers being external: local preference, AS_PATH length, ORIGIN,
    /// MED (between routes from the same neighbouring AS), then the lowest router id and peer
    /// address.
    fn compare(&self, other: &Self) -> Ordering {
        let a = &self.attrs;
        let b = &other.attrs;
        b.local_pref
            .cmp(&a.local_pref)
            .then(a.as_path.len().cmp(&b.as_path.len()))
            .then((a.origin as u8).cmp(&(b.origin as u8)))
            .then_with(|| {
                if self.neighbor_as() == other.neighbor_as() {
                    a.med.unwrap_or(0).cmp(&b.med.unwrap_or(0))
                } else {
                    Ordering::Equal
                }
            })
            .then(self.peer_router_id.cmp(&other.peer_router_id))
            .then(self.peer_addr.cmp(&other.peer_addr))
    }
}

/// A change of a prefix's forwarding: the next hops now (none: the prefix is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub prefix: IpNet,
    pub next_hops: NextHops,
}

#[derive(Debug)]
pub struct LocRib<P> {
    /// Each prefix's routes, best first; one route (the usual case) is stored inline.
    table: HashMap<IpNet, SmallVec<[Candidate<P>; 1]>>,
}

impl<P> Default for LocRib<P> {
    fn default() -> Self {
        Self {
            table: HashMap::new(),
        }
    }
}

impl<P: PartialEq + Clone> LocRib<P> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Prefixes with at least one route.
    pub fn len(&self) -> usize {
        self.table.len()
    }
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The best route to a prefix.
    pub fn best(&self, prefix: &IpNet) -> Option<&Candidate<P>> {
        self.table.get(prefix).and_then(|c| c.first())
    }

    /// Every prefix with its best route.
    pub fn iter_best(&self) -> impl Iterator<Item = (&IpNet, &Candidate<P>)> {
        self.table
            .iter()
            .filter_map(|(p, c)| c.first().map(|b| (p, b)))
    }

    /// The next hops of the best route and of every route equally good to it.
    pub fn multipath(&self, prefix: &IpNet) -> NextHops {
        let Some(list) = self.table.get(prefix) else {
            return NextHops::new();
        };
        let Some(best) = list.first() else {
            return NextHops::new();
        };
        let rank = best.rank();
        let mut hops: NextHops = list
            .iter()
            .take_while(|c| c.rank() == rank)
            .map(|c| c.next_hop)
            .collect();
        hops.sort();
        hops.dedup();
        hops
    }

    fn changed(&self, prefix: IpNet, before: NextHops) -> Option<Change> {
        let after = self.multipath(&prefix);
        (after != before).then_some(Change {
            prefix,
            next_hops: after,
        })
    }

    /// Adds or replaces `candidate.peer`'s route to `prefix`.
    pub fn update(&mut self, prefix: IpNet, candidate: Candidate<P>) -> Option<Change> {
        let before = self.multipath(&prefix);
        let list = self.table.entry(prefix).or_default();
        list.retain(|c| c.peer != candidate.peer);
        let at = list
            .iter()
            .position(|c| candidate.compare(c) == Ordering::Less)
            .unwrap_or(list.len());
        list.insert(at, candidate);
        self.changed(prefix, before)
    }

    /// Removes `peer`'s route to `prefix`.
    pub fn withdraw(&mut self, prefix: &IpNet, peer: &P) -> Option<Change> {
        let list = self.table.get_mut(prefix)?;
        if !list.iter().any(|c| &c.peer == peer) {
            return None;
        }
        let before = self.multipath(prefix);
        let list = self.table.get_mut(prefix)?;
        list.retain(|c| &c.peer != peer);
        if list.is_empty() {
            self.table.remove(prefix);
        }
        self.changed(*prefix, before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("prefix")
    }
    fn cand(peer: u8, path: &[u32], local_pref: u32) -> Candidate<u8> {
        Candidate {
            peer,
            peer_router_id: Ipv4Addr::new(10, 0, 0, peer),
            peer_addr: IpAddr::V4(Ipv4Addr::new(169, 254, 0, peer)),
            next_hop: IpAddr::V4(Ipv4Addr::new(169, 254, 0, peer)),
            attrs: Arc::new(PathAttrs {
                as_path: path.into(),
                origin: Origin::Igp,
                med: None,
                local_pref,
                communities: vec![],
            }),
        }
    }
    fn hop(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(169, 254, 0, n))
    }

    #[test]
    fn equal_routes_form_one_multipath_route() {
        let mut rib = LocRib::new();
        let p = net("10.1.0.0/16");
        let c = rib.update(p, cand(1, &[64513], 100)).expect("new prefix");
        assert_eq!(c.next_hops.to_vec(), vec![hop(1)]);
        let c = rib.update(p, cand(2, &[64513], 100)).expect("second path");
        assert_eq!(c.next_hops.to_vec(), vec![hop(1), hop(2)]);
        // A longer path is not used while the shorter ones exist.
        assert_eq!(rib.update(p, cand(3, &[64513, 64513], 100)), None);
        let c = rib.withdraw(&p, &1).expect("one path left");
        assert_eq!(c.next_hops.to_vec(), vec![hop(2)]);
        let c = rib.withdraw(&p, &2).expect("falls back to the longer path");
        assert_eq!(c.next_hops.to_vec(), vec![hop(3)]);
        let c = rib.withdraw(&p, &3).expect("gone");
        assert!(c.next_hops.is_empty() && rib.is_empty());
        assert_eq!(rib.withdraw(&p, &3), None);
    }

    #[test]
    fn local_preference_makes_one_link_active() {
        let mut rib = LocRib::new();
        let p = net("10.1.0.0/16");
        rib.update(p, cand(1, &[64513], 100));
        let c = rib.update(p, cand(2, &[64513], 200)).expect("preferred");
        assert_eq!(c.next_hops.to_vec(), vec![hop(2)]);
        assert_eq!(rib.best(&p).map(|b| b.peer), Some(2));
        // The standby route is kept and takes over.
        assert_eq!(
            rib.withdraw(&p, &2).map(|c| c.next_hops.to_vec()),
            Some(vec![hop(1)])
        );
    }

    #[test]
    fn replacing_a_route_with_the_same_next_hop_changes_nothing() {
        let mut rib = LocRib::new();
        let p = net("2001:db8::/32");
        rib.update(p, cand(1, &[64513], 100));
        assert_eq!(rib.update(p, cand(1, &[64513], 100)), None);
        assert_eq!(rib.len(), 1);
    }
}
