//! The connection table of the security groups: which flows were allowed, so that their later
//! packets (and their replies, without an inbound rule) pass without a rule lookup.
//!
//! It is bounded: at its size limit a new flow is refused (and counted), and no tracked flow is
//! ever evicted to make room; flows leave only when they time out or a policy change cuts them.
//! It is shared by every link thread of a gateway (a flow's reply may come back on another link),
//! so it is split into shards, each behind its own lock, chosen by a keyed hash of the flow.
//!
//! Time is milliseconds on any monotonic clock the caller keeps; nothing here reads a clock.

use crate::parse::tcp;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use xc_types::filter::Direction;

const SHARDS: usize = 64;

/// A flow as its first packet went: source and destination with their ports (ICMP echo: the
/// identifier on both sides; other protocols: 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub protocol: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
}

impl FlowKey {
    pub fn reverse(&self) -> Self {
        Self {
            protocol: self.protocol,
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
        }
    }
    /// The same key for both directions of a flow, and whether `self` is the reverse of it.
    fn canonical(&self) -> (Self, bool) {
        let r = self.reverse();
        if r < *self { (r, true) } else { (*self, false) }
    }
}

/// Where a flow is in its life, which sets how long it may stay idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowState {
    /// TCP: a SYN went, no answer yet.
    TcpSynSent,
    TcpEstablished,
    /// TCP: a FIN went one way or the other.
    TcpClosing,
    /// TCP: reset.
    TcpClosed,
    /// Not TCP: packets went one way only.
    Unreplied,
    /// Not TCP: the other side answered.
    Replied,
}

/// How long a flow may stay idle, per protocol and state, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp_syn_sent: u64,
    pub tcp_established: u64,
    pub tcp_closing: u64,
    pub tcp_closed: u64,
    pub udp_unreplied: u64,
    pub udp_replied: u64,
    pub icmp: u64,
    pub other: u64,
}

impl Default for Timeouts {
    /// EC2's and Linux's: an established TCP flow 5 days, a half-open one 2 minutes, a closing
    /// one 2 minutes, a reset one 10 s; UDP 30 s until answered and 180 s after; ICMP 30 s;
    /// other protocols 10 minutes.
    fn default() -> Self {
        Self {
            tcp_syn_sent: 120_000,
            tcp_established: 432_000_000,
            tcp_closing: 120_000,
            tcp_closed: 10_000,
            udp_unreplied: 30_000,
            udp_replied: 180_000,
            icmp: 30_000,
            other: 600_000,
        }
    }
}

impl Timeouts {
    fn of(&self, protocol: u8, state: FlowState) -> u64 {
        match (protocol, state) {
            (_, FlowState::TcpSynSent) => self.tcp_syn_sent,
            (_, FlowState::TcpEstablished) => self.tcp_established,
            (_, FlowState::TcpClosing) => self.tcp_closing,
            (_, FlowState::TcpClosed) => self.tcp_closed,
            (17, FlowState::Unreplied) => self.udp_unreplied,
            (17, FlowState::Replied) => self.udp_replied,
            (1 | 58, _) => self.icmp,
            _ => self.other,
        }
    }
}

/// One tracked flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// The flow as its first packet went.
    pub key: FlowKey,
    /// Which way its first packet crossed the edge.
    pub origin: Direction,
    pub state: FlowState,
    /// The rule that admitted it (an index into the policy's rules when it was admitted).
    pub rule: u32,
    pub first_seen: u64,
    pub last_seen: u64,
    /// Packets and bytes the way of the first packet, then the other way.
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
}

impl Flow {
    fn expires(&self, timeouts: &Timeouts) -> u64 {
        self.last_seen
            .saturating_add(timeouts.of(self.key.protocol, self.state))
    }
}

/// What [`Conntrack::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The flow is tracked from now.
    New,
    /// It was tracked already (and is left as it was).
    Tracked,
}

/// The table is full: a new flow is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// A packet of a tracked flow was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The flow went this packet's way first.
    pub forward: bool,
}

type Shard = HashMap<FlowKey, Flow>;

/// The connection table.
#[derive(Debug)]
pub struct Conntrack {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    count: AtomicUsize,
    capacity: usize,
    timeouts: Timeouts,
    /// The next shard [`Conntrack::sweep_some`] looks at.
    next_sweep: AtomicUsize,
}

fn lock(m: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    // A thread that panicked while holding a shard left a map that is still a valid map.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Conntrack {
    pub fn new(capacity: usize, timeouts: Timeouts) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            count: AtomicUsize::new(0),
            capacity,
            timeouts,
            next_sweep: AtomicUsize::new(0),
        }
    }

    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn shard(&self, canonical: &FlowKey) -> &Mutex<Shard> {
        &self.shards[(self.hasher.hash_one(canonical) as usize) % SHARDS]
    }

    /// Counts a packet of `key` (as it goes) if its flow is tracked and alive.
    pub fn touch(&self, key: &FlowKey, tcp_flags: u8, len: usize, now: u64) -> Option<Seen> {
        let (canonical, _) = key.canonical();
        let mut shard = lock(self.shard(&canonical));
        let flow = shard.get_mut(&canonical)?;
        if flow.expires(&self.timeouts) <= now {
            shard.remove(&canonical);
            self.count.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let forward = flow.key == *key;
        let way = usize::from(!forward);
        flow.packets[way] += 1;
        flow.bytes[way] += len as u64;
        flow.last_seen = now;
        flow.state = next_state(flow.key.protocol, flow.state, forward, tcp_flags);
        Some(Seen { forward })
    }

    /// Whether `key`'s flow (either way) is tracked and alive, without counting anything.
    pub fn contains(&self, key: &FlowKey, now: u64) -> bool {
        let (canonical, _) = key.canonical();
        lock(self.shard(&canonical))
            .get(&canonical)
            .is_some_and(|f| f.expires(&self.timeouts) > now)
    }

    /// Tracks a new flow whose first packet is `key`, admitted by `rule`. At the size limit the
    /// flow's own shard is swept of timed-out flows first; the others are swept by
    /// [`Conntrack::sweep_some`].
    pub fn insert(
        &self,
        key: FlowKey,
        origin: Direction,
        rule: u32,
        tcp_flags: u8,
        len: usize,
        now: u64,
    ) -> Result<Inserted, Full> {
        let (canonical, _) = key.canonical();
        let mut shard = lock(self.shard(&canonical));
        if let Some(old) = shard.get(&canonical)
            && old.expires(&self.timeouts) > now
        {
            // Another link thread (or the other gateway) tracked it meanwhile.
            return Ok(Inserted::Tracked);
        }
        if shard.remove(&canonical).is_some() {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
        if self.count.load(Ordering::Relaxed) >= self.capacity {
            self.sweep_shard(&mut shard, now);
            if self.count.load(Ordering::Relaxed) >= self.capacity {
                return Err(Full);
            }
        }
        let state = match key.protocol {
            6 if tcp_flags & tcp::RST != 0 => FlowState::TcpClosed,
            6 if tcp_flags & (tcp::SYN | tcp::ACK) == tcp::SYN => FlowState::TcpSynSent,
            // A flow picked up mid-stream (a gateway restarted under it) is taken as established.
            6 => FlowState::TcpEstablished,
            _ => FlowState::Unreplied,
        };
        shard.insert(
            canonical,
            Flow {
                key,
                origin,
                state,
                rule,
                first_seen: now,
                last_seen: now,
                packets: [1, 0],
                bytes: [len as u64, 0],
            },
        );
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok(Inserted::New)
    }

    fn sweep_shard(&self, shard: &mut Shard, now: u64) {
        let before = shard.len();
        shard.retain(|_, f| f.expires(&self.timeouts) > now);
        self.count
            .fetch_sub(before - shard.len(), Ordering::Relaxed);
    }

    /// Removes the timed-out flows of a few shards (`shards` of them, round robin): called
    /// often, it keeps the table clean without one long pause.
    pub fn sweep_some(&self, shards: usize, now: u64) {
        for _ in 0..shards.min(SHARDS) {
            let i = self.next_sweep.fetch_add(1, Ordering::Relaxed) % SHARDS;
            self.sweep_shard(&mut lock(&self.shards[i]), now);
        }
    }

    /// Keeps only the flows for which `keep` says yes; returns those removed.
    pub fn retain(&self, mut keep: impl FnMut(&Flow) -> bool) -> Vec<Flow> {
        let mut cut = Vec::new();
        for s in self.shards.iter() {
            let mut shard = lock(s);
            shard.retain(|_, f| {
                let k = keep(f);
                if !k {
                    cut.push(*f);
                }
                k
            });
        }
        self.count.fetch_sub(cut.len(), Ordering::Relaxed);
        cut
    }

    /// Every live flow, for a dry run or a flow log.
    pub fn flows(&self, now: u64) -> Vec<Flow> {
        self.shards
            .iter()
            .flat_map(|s| {
                lock(s)
                    .values()
                    .filter(|f| f.expires(&self.timeouts) > now)
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// A flow's state after a packet with `tcp_flags` went `forward` (the first packet's way) or back.
fn next_state(protocol: u8, state: FlowState, forward: bool, tcp_flags: u8) -> FlowState {
    if protocol != 6 {
        return if forward && state == FlowState::Unreplied {
            FlowState::Unreplied
        } else {
            FlowState::Replied
        };
    }
    if tcp_flags & tcp::RST != 0 {
        return FlowState::TcpClosed;
    }
    if tcp_flags & tcp::FIN != 0 {
        return FlowState::TcpClosing;
    }
    match state {
        FlowState::TcpSynSent if !forward && tcp_flags & tcp::ACK != 0 => FlowState::TcpEstablished,
        // A new SYN on a reset or closed flow's 5-tuple starts it again.
        FlowState::TcpClosed | FlowState::TcpClosing
            if tcp_flags & (tcp::SYN | tcp::ACK) == tcp::SYN =>
        {
            FlowState::TcpSynSent
        }
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(src_port: u16) -> FlowKey {
        FlowKey {
            protocol: 6,
            src: "10.0.0.1".parse().expect("addr"),
            dst: "10.1.0.1".parse().expect("addr"),
            src_port,
            dst_port: 22,
        }
    }

    #[test]
    fn a_reply_finds_its_flow_and_the_handshake_establishes_it() {
        let t = Conntrack::new(10, Timeouts::default());
        t.insert(key(1000), Direction::Outbound, 0, tcp::SYN, 60, 0)
            .expect("room");
        let reply = key(1000).reverse();
        assert_eq!(
            t.touch(&reply, tcp::SYN | tcp::ACK, 60, 5),
            Some(Seen { forward: false })
        );
        let flow = t.flows(5)[0];
        assert_eq!(flow.state, FlowState::TcpEstablished);
        assert_eq!((flow.packets, flow.bytes), ([1, 1], [60, 60]));
        assert_eq!(t.touch(&key(1001), tcp::ACK, 60, 5), None);
    }

    #[test]
    fn a_full_table_refuses_new_flows_and_keeps_the_old_ones() {
        let t = Conntrack::new(2, Timeouts::default());
        t.insert(key(1), Direction::Outbound, 0, tcp::SYN, 60, 0)
            .expect("room");
        t.insert(key(2), Direction::Outbound, 0, tcp::SYN, 60, 0)
            .expect("room");
        assert_eq!(
            t.insert(key(3), Direction::Outbound, 0, tcp::SYN, 60, 1),
            Err(Full)
        );
        assert!(t.contains(&key(1), 1) && t.contains(&key(2), 1));
        // Once the half-open flows time out and are swept, there is room again.
        let later = Timeouts::default().tcp_syn_sent + 1;
        t.sweep_some(64, later);
        t.insert(key(3), Direction::Outbound, 0, tcp::SYN, 60, later)
            .expect("room after the timeout");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn flows_time_out_by_state() {
        let timeouts = Timeouts::default();
        let t = Conntrack::new(10, timeouts);
        t.insert(key(1), Direction::Outbound, 0, tcp::SYN, 60, 0)
            .expect("room");
        t.touch(&key(1).reverse(), tcp::SYN | tcp::ACK, 60, 1);
        // Established: still there long after a half-open flow would have gone.
        assert!(t.contains(&key(1), timeouts.tcp_syn_sent * 10));
        t.touch(&key(1), tcp::RST, 40, 2);
        assert!(!t.contains(&key(1), 2 + timeouts.tcp_closed));
        t.sweep_some(64, 2 + timeouts.tcp_closed);
        assert!(t.is_empty());
    }

    #[test]
    fn retain_cuts_what_it_is_told_to() {
        let t = Conntrack::new(10, Timeouts::default());
        for port in 1..=4 {
            t.insert(key(port), Direction::Outbound, 0, tcp::SYN, 60, 0)
                .expect("room");
        }
        let cut = t.retain(|f| f.key.src_port % 2 == 0);
        assert_eq!(cut.len(), 2);
        assert_eq!(t.len(), 2);
    }
}
