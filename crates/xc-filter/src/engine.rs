//! The filter one gateway applies to every link of one attach point: the compiled policy, the
//! connection table, the fragments in flight, and the counters.
//!
//! A packet meets the network ACL first (stateless: every packet, each way, by its own rules),
//! then the security groups (stateful: a packet of a tracked flow passes, either way; a new
//! flow needs an allow rule in its direction and is then tracked). An ICMP error passes the
//! groups when the packet it quotes belongs to a tracked flow (so path MTU discovery works).
//!
//! Fragments: a first fragment is judged like a whole packet (it carries the ports); a later
//! fragment follows the first fragment's verdict when the first passed within the last 30 s, and
//! is dropped (cause `fragment`) otherwise: out of order or alone, it cannot be judged.
//!
//! A policy change compiles the new rules, swaps them in at once (link threads pick them up at
//! their next packet), and cuts the tracked flows that the new security groups would not admit;
//! flows that stay allowed keep going untouched.

use crate::classify::{AclVerdict, Compiled, Detail, Probe, RuleRef, SgVerdict};
use crate::conntrack::{Conntrack, Flow, FlowKey, Full, Inserted, Timeouts};
use crate::flowlog;
use crate::parse::{self, Fragment, Frame, Headers, Transport};
use crate::sync::SyncedFlow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use xc_types::Prefix;
use xc_types::filter::{Direction, FilterPolicy, RuleAction, RuleError};
use xc_types::flowlog::{FlowAction, FlowLogRecord};

/// Why the filter dropped a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropCause {
    /// A network ACL rule denied it, or no ACL rule matched (the implicit deny).
    AclDeny,
    /// No security group rule allows a new flow.
    NoRule,
    /// The connection table is full: a new flow is refused.
    TableFull,
    /// A later fragment whose first fragment did not pass (or was not seen).
    Fragment,
    /// An IP packet too short or inconsistent to judge.
    Malformed,
}

impl DropCause {
    pub const ALL: [DropCause; 5] = [
        DropCause::AclDeny,
        DropCause::NoRule,
        DropCause::TableFull,
        DropCause::Fragment,
        DropCause::Malformed,
    ];
    /// The label of the `/metrics` counter and the links view.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AclDeny => "acl_deny",
            Self::NoRule => "no_rule",
            Self::TableFull => "table_full",
            Self::Fragment => "fragment",
            Self::Malformed => "malformed",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// What becomes of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Drop(DropCause),
}

/// Sizes and timeouts of the filter's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most flows tracked at once.
    pub flows: usize,
    /// Most fragmented datagrams in flight at once.
    pub fragments: usize,
    pub timeouts: Timeouts,
}

/// Most flows a connection table holds unless told otherwise.
pub const DEFAULT_FLOWS: usize = 262_144;

impl Default for Limits {
    fn default() -> Self {
        Self {
            flows: DEFAULT_FLOWS,
            fragments: 4_096,
            timeouts: Timeouts::default(),
        }
    }
}

/// How long a first fragment's pass holds for the later fragments of its datagram.
const FRAGMENT_TIMEOUT_MS: u64 = 30_000;

/// Packets a rule decided: for a security group rule, the first packets of the flows it
/// admitted; for a network ACL rule, every packet it allowed or denied.
#[derive(Debug, Default)]
pub struct RuleCounter {
    pub hits: AtomicU64,
}

/// A rule and its count, for `/metrics` and the links view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHits {
    pub rule: RuleRef,
    pub hits: u64,
}

/// The filter's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSnapshot {
    /// Dropped packets per cause, in [`DropCause::ALL`]'s order.
    pub drops: Vec<(DropCause, u64)>,
    pub rules: Vec<RuleHits>,
    pub flows: usize,
    pub flow_capacity: usize,
    /// Flows sent to the attach point's other gateways, not sent (queue full), adopted from
    /// them, and refused from them (not admitted here).
    pub shared: [u64; 4],
}

#[derive(Debug)]
struct Current {
    policy: Arc<FilterPolicy>,
    compiled: Arc<Compiled>,
    counters: Arc<[Arc<RuleCounter>]>,
}

type FragmentKey = (IpAddr, IpAddr, u8, u32);

/// The filter of one attach point on one gateway, shared by its links.
#[derive(Debug)]
pub struct Filter {
    current: RwLock<Arc<Current>>,
    generation: AtomicU64,
    table: Conntrack,
    /// First fragments that passed, until their time is up.
    fragments: Mutex<HashMap<FragmentKey, u64>>,
    fragment_limit: usize,
    drops: [AtomicU64; 5],
    /// Every rule's counter by identity, kept across policy changes.
    rule_counters: Mutex<HashMap<RuleRef, Arc<RuleCounter>>>,
    /// The flow-log records of closed windows, for the gateway to take.
    flow_logs: Mutex<flowlog::Queue>,
    /// Where the flows this gateway starts tracking go, for the attach point's other gateways.
    sync_out: std::sync::OnceLock<std::sync::mpsc::SyncSender<SyncedFlow>>,
    sync: SyncCounters,
}

/// The shared connection table's counters.
#[derive(Debug, Default)]
struct SyncCounters {
    /// New flows handed over for the other gateways.
    sent: AtomicU64,
    /// New flows not handed over: the queue to the other gateways was full.
    dropped: AtomicU64,
    /// Flows the other gateways told of, tracked here.
    adopted: AtomicU64,
    /// Flows the other gateways told of that this policy would not admit.
    refused: AtomicU64,
}

/// The flows a policy change cut, or would cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub cut: Vec<Flow>,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}
fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The flow key of a packet, as it goes.
fn flow_key(h: &Headers) -> FlowKey {
    let (src_port, dst_port) = h.transport.flow_ports();
    FlowKey {
        protocol: h.protocol,
        src: h.src,
        dst: h.dst,
        src_port,
        dst_port,
    }
}

/// What the rules see of a packet going `direction`.
pub fn probe(direction: Direction, h: &Headers) -> Probe {
    let peer = match direction {
        Direction::Inbound => h.src,
        Direction::Outbound => h.dst,
    };
    let detail = match h.transport {
        Transport::Ports { dst, .. } => Detail::Port(dst),
        Transport::Icmp {
            icmp_type, code, ..
        } => Detail::Icmp(icmp_type, code),
        Transport::Opaque => Detail::None,
    };
    Probe {
        peer,
        protocol: h.protocol,
        detail,
    }
}

/// Whether a packet that a rule allowed starts a tracked flow. ICMP messages other than echo
/// requests (an echo reply, an unreachable) are judged one by one.
fn starts_flow(h: &Headers) -> bool {
    match h.transport {
        Transport::Icmp { echo, .. } => echo.is_some_and(|e| e.request),
        _ => true,
    }
}

impl Filter {
    /// A filter that passes everything until a policy is applied.
    pub fn new(limits: Limits) -> Self {
        Self {
            current: RwLock::new(Arc::new(Current {
                policy: Arc::default(),
                compiled: Arc::new(Compiled::open()),
                counters: Arc::new([]),
            })),
            generation: AtomicU64::new(0),
            table: Conntrack::new(limits.flows, limits.timeouts),
            fragments: Mutex::new(HashMap::new()),
            fragment_limit: limits.fragments,
            drops: Default::default(),
            rule_counters: Mutex::new(HashMap::new()),
            flow_logs: Mutex::default(),
            sync_out: std::sync::OnceLock::new(),
            sync: SyncCounters::default(),
        }
    }

    /// Hands every flow this filter starts tracking to `out` (bounded: a full queue drops, and
    /// counts, rather than wait). Set once.
    pub fn share_flows(&self, out: std::sync::mpsc::SyncSender<SyncedFlow>) {
        let _ = self.sync_out.set(out);
    }

    /// Tracks flows another gateway of the attach point started, at `now`, each only if this
    /// filter's own policy would have admitted its first packet; answers how many it took.
    pub fn adopt(&self, flows: &[SyncedFlow], now: u64) -> usize {
        let current = read(&self.current).clone();
        if !current.compiled.has_groups() {
            return 0;
        }
        let mut taken = 0;
        for f in flows {
            let Some(rule) = admitting_rule(&current.compiled, &f.key, f.origin) else {
                self.sync.refused.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            // TCP is taken as a SYN seen: the flow is half-open until this gateway sees more.
            let flags = if f.key.protocol == 6 {
                parse::tcp::SYN
            } else {
                0
            };
            if self.table.insert(f.key, f.origin, rule, flags, 0, now) == Ok(Inserted::New) {
                taken += 1;
            }
        }
        self.sync.adopted.fetch_add(taken as u64, Ordering::Relaxed);
        taken
    }

    /// At most `max` flow-log records of closed windows, oldest first (a `SKIPDATA` record
    /// first for each interface whose records did not fit the queue).
    pub fn take_flow_logs(&self, max: usize) -> Vec<FlowLogRecord> {
        locked(&self.flow_logs).take(max)
    }

    /// Flow-log records waiting to be taken.
    pub fn flow_logs_waiting(&self) -> usize {
        locked(&self.flow_logs).len()
    }

    /// The policy in force, compiled.
    pub fn compiled(&self) -> Arc<Compiled> {
        read(&self.current).compiled.clone()
    }

    /// The policy in force, as applied.
    pub fn policy(&self) -> Arc<FilterPolicy> {
        read(&self.current).policy.clone()
    }

    /// Makes `policy` the one in force, and cuts the tracked flows it would not admit.
    pub fn apply(&self, policy: &FilterPolicy) -> Result<Applied, RuleError> {
        let compiled = Arc::new(Compiled::new(policy)?);
        let counters: Arc<[Arc<RuleCounter>]> = {
            let mut known = locked(&self.rule_counters);
            let counters: Vec<Arc<RuleCounter>> = compiled
                .rules
                .iter()
                .map(|r| known.entry(r.clone()).or_default().clone())
                .collect();
            known.retain(|r, _| compiled.rules.contains(r));
            counters.into()
        };
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(Current {
            policy: Arc::new(policy.clone()),
            compiled: compiled.clone(),
            counters,
        });
        self.generation.fetch_add(1, Ordering::Release);
        let cut = self.table.retain(|f| still_admitted(&compiled, f));
        Ok(Applied { cut })
    }

    /// The tracked flows that `policy` would cut, without applying it: those its security
    /// groups would not admit, and those whose packets its network ACL would deny either way
    /// (the ACL judges every packet, so a flow it denies is cut as surely).
    pub fn would_cut(&self, policy: &FilterPolicy, now: u64) -> Result<Applied, RuleError> {
        let compiled = Compiled::new(policy)?;
        let acl_denies = |direction: Direction, packet: &Probe| {
            !compiled.network_acl(direction, packet).allows()
        };
        let mut cut: Vec<Flow> = self
            .table
            .flows(now)
            .into_iter()
            .filter(|f| {
                let back = f.origin.reverse();
                !still_admitted(&compiled, f)
                    || acl_denies(f.origin, &first_packet(&f.key, f.origin))
                    || acl_denies(back, &reply_packet(&f.key.reverse(), back))
            })
            .collect();
        cut.sort_by_key(|f| f.key);
        Ok(Applied { cut })
    }

    /// Judges one Ethernet frame going `direction`, at `now` (milliseconds).
    pub fn check(&self, direction: Direction, frame: &[u8], now: u64) -> Verdict {
        let current = read(&self.current).clone();
        self.judge(&current, &[], direction, frame, now, None)
    }

    /// A handle for one link thread: it re-reads the policy only when it changed.
    pub fn view(self: &Arc<Self>) -> View {
        View {
            current: read(&self.current).clone(),
            generation: self.generation.load(Ordering::Acquire),
            filter: self.clone(),
            exempt: Vec::new(),
            link: None,
            log: None,
            to_unix: 0,
        }
    }

    fn judge(
        &self,
        current: &Current,
        exempt: &[Prefix],
        direction: Direction,
        frame: &[u8],
        now: u64,
        log: Option<&mut flowlog::Window>,
    ) -> Verdict {
        let open = current.compiled.is_open();
        if open && log.is_none() {
            return Verdict::Pass;
        }
        let h = match parse::parse_frame(frame) {
            Ok(Frame::Ip(h)) => h,
            Ok(Frame::NotIp) => return Verdict::Pass,
            Err(_) if open => return Verdict::Pass,
            Err(_) => return self.dropped(DropCause::Malformed),
        };
        if infrastructure(h.src, exempt) || infrastructure(h.dst, exempt) {
            return Verdict::Pass;
        }
        let verdict = match h.fragment {
            _ if open => Verdict::Pass,
            Fragment::Later { id } => {
                let key = (h.src, h.dst, h.protocol, id);
                match locked(&self.fragments).get(&key) {
                    Some(&until) if until > now => Verdict::Pass,
                    _ => Verdict::Drop(DropCause::Fragment),
                }
            }
            Fragment::Whole | Fragment::First { .. } => {
                self.judge_packet(current, direction, &h, now)
            }
        };
        if let Some(window) = log {
            let action = match verdict {
                Verdict::Pass => FlowAction::Accept,
                Verdict::Drop(_) => FlowAction::Reject,
            };
            window.record(&h, action, now);
        }
        match verdict {
            Verdict::Drop(cause) => self.dropped(cause),
            Verdict::Pass => {
                if let Fragment::First { id } = h.fragment {
                    self.remember_fragment((h.src, h.dst, h.protocol, id), now)
                } else {
                    Verdict::Pass
                }
            }
        }
    }

    fn judge_packet(
        &self,
        current: &Current,
        direction: Direction,
        h: &Headers,
        now: u64,
    ) -> Verdict {
        let compiled = &current.compiled;
        let probe = probe(direction, h);
        match compiled.network_acl(direction, &probe) {
            AclVerdict::NoAcl => {}
            AclVerdict::Rule(i, action) => {
                current.counters[i as usize]
                    .hits
                    .fetch_add(1, Ordering::Relaxed);
                if action == RuleAction::Deny {
                    return Verdict::Drop(DropCause::AclDeny);
                }
            }
            AclVerdict::ImplicitDeny => return Verdict::Drop(DropCause::AclDeny),
        }
        if !compiled.has_groups() {
            return Verdict::Pass;
        }
        let tcp_flags = match h.transport {
            Transport::Ports { tcp_flags, .. } => tcp_flags,
            _ => 0,
        };
        let key = flow_key(h);
        if self.table.touch(&key, tcp_flags, h.len, now).is_some() {
            return Verdict::Pass;
        }
        if let Some(q) = h.quoted {
            let quoted = FlowKey {
                protocol: q.protocol,
                src: q.src,
                dst: q.dst,
                src_port: q.src_port,
                dst_port: q.dst_port,
            };
            if self.table.contains(&quoted, now) {
                return Verdict::Pass;
            }
        }
        match compiled.security_groups(direction, &probe) {
            SgVerdict::NoGroups => Verdict::Pass,
            SgVerdict::NoRule => Verdict::Drop(DropCause::NoRule),
            SgVerdict::Allowed(rule) => {
                if starts_flow(h) {
                    match self
                        .table
                        .insert(key, direction, rule, tcp_flags, h.len, now)
                    {
                        Ok(Inserted::New) => self.share(key, direction),
                        Ok(Inserted::Tracked) => {}
                        Err(Full) => return Verdict::Drop(DropCause::TableFull),
                    }
                }
                current.counters[rule as usize]
                    .hits
                    .fetch_add(1, Ordering::Relaxed);
                Verdict::Pass
            }
        }
    }

    /// Tells the attach point's other gateways of a flow this one started tracking.
    fn share(&self, key: FlowKey, origin: Direction) {
        if let Some(out) = self.sync_out.get() {
            let counter = match out.try_send(SyncedFlow { key, origin }) {
                Ok(()) => &self.sync.sent,
                Err(_) => &self.sync.dropped,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn remember_fragment(&self, key: FragmentKey, now: u64) -> Verdict {
        let mut fragments = locked(&self.fragments);
        if fragments.len() >= self.fragment_limit && !fragments.contains_key(&key) {
            fragments.retain(|_, until| *until > now);
            if fragments.len() >= self.fragment_limit {
                return self.dropped(DropCause::Fragment);
            }
        }
        fragments.insert(key, now + FRAGMENT_TIMEOUT_MS);
        Verdict::Pass
    }

    fn dropped(&self, cause: DropCause) -> Verdict {
        self.drops[cause.index()].fetch_add(1, Ordering::Relaxed);
        Verdict::Drop(cause)
    }

    /// Housekeeping, to call about every 100 ms from each link: removes the timed-out flows of a
    /// few shards of the table (every flow is looked at within seconds) and, when the fragment
    /// table is half full, the expired fragments.
    pub fn tick(&self, now: u64) {
        self.table.sweep_some(4, now);
        if let Ok(mut f) = self.fragments.try_lock()
            && f.len() > self.fragment_limit / 2
        {
            f.retain(|_, until| *until > now);
        }
    }

    /// The tracked flows, for flow logs and dry runs.
    pub fn flows(&self, now: u64) -> Vec<Flow> {
        self.table.flows(now)
    }

    pub fn snapshot(&self) -> FilterSnapshot {
        let current = read(&self.current).clone();
        FilterSnapshot {
            drops: DropCause::ALL
                .iter()
                .map(|c| (*c, self.drops[c.index()].load(Ordering::Relaxed)))
                .collect(),
            rules: current
                .compiled
                .rules
                .iter()
                .zip(current.counters.iter())
                .map(|(rule, c)| RuleHits {
                    rule: rule.clone(),
                    hits: c.hits.load(Ordering::Relaxed),
                })
                .collect(),
            flows: self.table.len(),
            flow_capacity: self.table.capacity(),
            shared: [
                &self.sync.sent,
                &self.sync.dropped,
                &self.sync.adopted,
                &self.sync.refused,
            ]
            .map(|c| c.load(Ordering::Relaxed)),
        }
    }
}

/// Whether the security groups of `compiled` would admit a tracked flow's first packet.
fn still_admitted(compiled: &Compiled, flow: &Flow) -> bool {
    !matches!(
        compiled.security_groups(flow.origin, &first_packet(&flow.key, flow.origin)),
        SgVerdict::NoRule
    )
}

/// The rule of `compiled` that would admit a flow's first packet, going `origin`.
fn admitting_rule(compiled: &Compiled, key: &FlowKey, origin: Direction) -> Option<u32> {
    match compiled.security_groups(origin, &first_packet(key, origin)) {
        SgVerdict::Allowed(rule) => Some(rule),
        SgVerdict::NoRule | SgVerdict::NoGroups => None,
    }
}

/// What the rules see of a flow's first packet (an ICMP flow's: an echo request).
fn first_packet(k: &FlowKey, origin: Direction) -> Probe {
    flow_packet(k, origin, false)
}

/// What the rules see of a reply, `k` being the reply's own key (an ICMP flow's: an echo reply).
fn reply_packet(k: &FlowKey, direction: Direction) -> Probe {
    flow_packet(k, direction, true)
}

fn flow_packet(k: &FlowKey, direction: Direction, reply: bool) -> Probe {
    let peer = match direction {
        Direction::Inbound => k.src,
        Direction::Outbound => k.dst,
    };
    let detail = match (k.protocol, reply) {
        (6 | 17, _) => Detail::Port(k.dst_port),
        (1, false) => Detail::Icmp(8, 0),
        (1, true) => Detail::Icmp(0, 0),
        (58, false) => Detail::Icmp(128, 0),
        (58, true) => Detail::Icmp(129, 0),
        _ => Detail::None,
    };
    Probe {
        peer,
        protocol: k.protocol,
        detail,
    }
}

/// Whether a packet from or to `a` is the link's own business, never the tenant's, and so never
/// judged: IPv6 link-local and multicast (neighbour discovery, router advertisements), and the
/// link's own subnets (`exempt`: the BGP, BFD and probe traffic between the link's two ends).
/// Security groups and ACLs are about the networks behind the attach points, as in a VPC, where
/// neither filters the VPC router's own traffic.
fn infrastructure(a: IpAddr, exempt: &[Prefix]) -> bool {
    let link_scope = match a {
        IpAddr::V6(v6) => v6.is_multicast() || v6.is_unicast_link_local(),
        IpAddr::V4(_) => false,
    };
    link_scope || exempt.iter().any(|p| p.net().contains(&a))
}

/// A link thread's handle on the filter.
#[derive(Debug)]
pub struct View {
    filter: Arc<Filter>,
    current: Arc<Current>,
    generation: u64,
    /// The link's own subnets: see [`infrastructure`].
    exempt: Vec<Prefix>,
    /// The link's name, which keys its flow log in the policy.
    link: Option<String>,
    /// The flow log's window, while the policy has one for the link.
    log: Option<flowlog::Window>,
    /// What makes a time on the link threads' clock a Unix time (milliseconds), as last
    /// told by [`View::tick`].
    to_unix: i64,
}

impl View {
    /// Judges one Ethernet frame going `direction`, with the policy in force.
    pub fn check(&mut self, direction: Direction, frame: &[u8], now: u64) -> Verdict {
        self.refresh();
        self.filter.judge(
            &self.current,
            &self.exempt,
            direction,
            frame,
            now,
            self.log.as_mut(),
        )
    }

    /// This view as link `name`'s, whose flow log the policy may turn on.
    /// Its flow log starts at the first [`View::tick`].
    pub fn for_link(mut self, name: &str) -> Self {
        self.link = Some(name.to_owned());
        self
    }

    /// Housekeeping, to call about every 100 ms with the time on the link threads' clock and
    /// the Unix time (milliseconds) of the same moment: follows a flow log turned on, changed
    /// or off, and closes the window when its time is up.
    pub fn tick(&mut self, now: u64, unix_ms: i64) {
        self.to_unix = unix_ms.saturating_sub(now as i64);
        self.refresh();
        let spec = self
            .link
            .as_ref()
            .and_then(|l| self.current.policy.flow_logs.get(l));
        if self.log.as_ref().map(|w| w.spec.as_ref()) != spec {
            // (Cloned only when it changed: most ticks find the same one.)
            let spec = spec.cloned();
            self.close_window();
            self.log = spec.map(|s| flowlog::Window::new(Arc::new(s)));
        } else if self.log.as_ref().is_some_and(|w| w.due(now)) {
            self.close_window();
        }
    }

    /// Takes up the policy in force when it changed.
    fn refresh(&mut self) {
        let generation = self.filter.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.current = read(&self.filter.current).clone();
            self.generation = generation;
        }
    }

    fn close_window(&mut self) {
        if let Some(w) = &mut self.log {
            let records = w.close(self.to_unix);
            if !records.is_empty() {
                locked(&self.filter.flow_logs).push(records);
            }
        }
    }

    /// This view with the link's own subnets, whose traffic (BGP, BFD and probes between the
    /// link's ends) is never judged.
    pub fn exempting(mut self, subnets: Vec<Prefix>) -> Self {
        self.exempt = subnets;
        self
    }

    pub fn filter(&self) -> &Arc<Filter> {
        &self.filter
    }
}

impl Drop for View {
    /// A link that stops hands over its window's records.
    fn drop(&mut self) {
        self.close_window();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::build::{frame, icmp, ip, tcp, udp};
    use crate::parse::tcp::{ACK, SYN};
    use xc_types::filter::{AclRules, GroupRules, RuleSpec, SgRule};
    use xc_types::{NetworkAclId, SecurityGroupId, SecurityGroupRuleId};

    fn addr(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn sg_rule(json: serde_json::Value, n: u8) -> SgRule {
        let spec: RuleSpec = serde_json::from_value(json).expect("spec");
        SgRule::new(&spec, SecurityGroupRuleId::from_random([n; 8])).expect("rule")
    }

    /// This side (10.0.0.0/16) lets ssh in from the other side (10.1.0.0/16); outbound is open.
    fn ssh_policy() -> FilterPolicy {
        FilterPolicy {
            security_groups: vec![GroupRules {
                group_id: SecurityGroupId::from_random([1; 8]),
                rules: vec![
                    sg_rule(
                        serde_json::json!({"direction": "inbound", "ipProtocol": "tcp", "fromPort": 22, "cidrIp": "10.1.0.0/16"}),
                        1,
                    ),
                    sg_rule(
                        serde_json::json!({"direction": "outbound", "ipProtocol": "all", "cidrIp": "0.0.0.0/0"}),
                        2,
                    ),
                ],
            }],
            ..FilterPolicy::default()
        }
    }

    fn tcp_frame(src: &str, dst: &str, sport: u16, dport: u16, flags: u8) -> Vec<u8> {
        frame(&ip(addr(src), addr(dst), 6, &tcp(sport, dport, flags)))
    }

    /// The `filter_packet` fuzz target's seed policy is one the filter takes (else every run of
    /// the target stops at its first input).
    #[test]
    fn the_fuzz_targets_seed_policy_applies() {
        let policy: FilterPolicy = serde_json::from_str(include_str!(
            "../../../fuzz/fuzz_targets/filter_policy.json"
        ))
        .expect("parses");
        Filter::new(Limits::default())
            .apply(&policy)
            .expect("applies");
    }

    /// The link's own traffic (BGP and BFD between its ends, IPv6 neighbour discovery) is never
    /// judged: a group that lets nothing in must not take the link's routing down.
    #[test]
    fn the_links_own_traffic_is_never_judged() {
        let f = Arc::new(Filter::new(Limits::default()));
        f.apply(&ssh_policy()).expect("applies");
        let subnets = vec![
            Prefix::parse("169.254.0.0/31").expect("prefix"),
            Prefix::parse("fd00:0:0:1::/127").expect("prefix"),
        ];
        let mut v = f.view().exempting(subnets);
        let bgp = tcp_frame("169.254.0.1", "169.254.0.0", 40000, 179, SYN);
        assert_eq!(v.check(Direction::Inbound, &bgp, 1), Verdict::Pass);
        let bgp6 = frame(&ip(
            addr("fd00:0:0:1::1"),
            addr("fd00:0:0:1::"),
            6,
            &tcp(40000, 179, SYN),
        ));
        assert_eq!(v.check(Direction::Inbound, &bgp6, 1), Verdict::Pass);
        let ns = frame(&ip(
            addr("fe80::1"),
            addr("ff02::1:ff00:1"),
            58,
            &icmp(135, 0, &[0; 20]),
        ));
        assert_eq!(v.check(Direction::Inbound, &ns, 1), Verdict::Pass);
        // A tenant's packet on the same link is judged; without the link's subnets, so is BGP.
        let telnet = tcp_frame("10.1.0.5", "10.0.0.5", 40001, 23, SYN);
        assert_eq!(
            v.check(Direction::Inbound, &telnet, 1),
            Verdict::Drop(DropCause::NoRule)
        );
        assert_eq!(
            f.check(Direction::Inbound, &bgp, 1),
            Verdict::Drop(DropCause::NoRule)
        );
    }

    /// A flow one gateway starts is handed over; another gateway of the attach point adopts it
    /// (its reply then passes there), but only what its own policy admits.
    #[test]
    fn a_flow_started_on_one_gateway_lets_its_reply_through_another() {
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let gw1 = Filter::new(Limits::default());
        gw1.share_flows(tx);
        let gw2 = Filter::new(Limits::default());
        for f in [&gw1, &gw2] {
            f.apply(&ssh_policy()).expect("applies");
        }
        let syn = tcp_frame("10.0.0.5", "10.1.0.5", 40000, 80, SYN);
        let syn_ack = tcp_frame("10.1.0.5", "10.0.0.5", 80, 40000, SYN | ACK);
        assert_eq!(gw1.check(Direction::Outbound, &syn, 1), Verdict::Pass);
        assert_eq!(
            gw2.check(Direction::Inbound, &syn_ack, 2),
            Verdict::Drop(DropCause::NoRule),
            "unknown at gw2 before it is told"
        );
        let shared: Vec<SyncedFlow> = rx.try_iter().collect();
        assert_eq!(shared.len(), 1);
        assert_eq!(shared[0].origin, Direction::Outbound);
        assert_eq!(gw2.adopt(&shared, 3), 1);
        assert_eq!(
            gw2.adopt(&shared, 4),
            0,
            "a flow tracked already is not adopted again"
        );
        assert_eq!(gw2.check(Direction::Inbound, &syn_ack, 4), Verdict::Pass);
        // A flow this policy would not admit (telnet in) is not taken, whoever tells of it.
        let telnet = SyncedFlow {
            key: FlowKey {
                protocol: 6,
                src: addr("10.1.0.5"),
                dst: addr("10.0.0.5"),
                src_port: 40001,
                dst_port: 23,
            },
            origin: Direction::Inbound,
        };
        assert_eq!(gw2.adopt(&[telnet], 5), 0);
        assert_eq!(gw2.snapshot().shared, [0, 0, 1, 1]);
        assert_eq!(gw1.snapshot().shared, [1, 0, 0, 0]);
    }

    fn logging(mut policy: FilterPolicy, link: &str) -> FilterPolicy {
        policy.flow_logs.insert(
            link.into(),
            xc_types::flowlog::FlowLogSpec {
                account_id: "111122223333".into(),
                interface_id: "7".into(),
                sampling: 1,
                aggregation_secs: 10,
            },
        );
        policy
    }

    /// A link's flow log writes what its view judged, per flow and verdict, when the window
    /// closes; another link's view, and the link's own traffic, write nothing.
    #[test]
    fn a_links_flow_log_has_its_accepts_and_rejects() {
        let f = Arc::new(Filter::new(Limits::default()));
        f.apply(&logging(ssh_policy(), "l7")).expect("applies");
        let mut v = f
            .view()
            .exempting(vec![Prefix::parse("169.254.0.0/31").expect("prefix")])
            .for_link("l7");
        let mut other = f.view().for_link("l8");
        let unix = 1_733_251_200_000;
        v.tick(0, unix);
        other.tick(0, unix);
        let ssh = tcp_frame("10.1.0.5", "10.0.0.5", 40000, 22, SYN);
        let telnet = tcp_frame("10.1.0.5", "10.0.0.5", 40001, 23, SYN);
        let bgp = tcp_frame("169.254.0.1", "169.254.0.0", 40000, 179, SYN);
        assert_eq!(v.check(Direction::Inbound, &ssh, 1_000), Verdict::Pass);
        assert_eq!(v.check(Direction::Inbound, &ssh, 2_000), Verdict::Pass);
        assert_ne!(v.check(Direction::Inbound, &telnet, 3_000), Verdict::Pass);
        assert_eq!(v.check(Direction::Inbound, &bgp, 3_000), Verdict::Pass);
        assert_eq!(other.check(Direction::Inbound, &ssh, 3_000), Verdict::Pass);
        v.tick(5_000, unix + 5_000);
        assert!(f.take_flow_logs(100).is_empty(), "the window is still open");
        v.tick(11_000, unix + 11_000);
        other.tick(11_000, unix + 11_000);
        let lines: Vec<String> = f.take_flow_logs(100).iter().map(|r| r.line()).collect();
        assert_eq!(
            lines,
            [
                "2 111122223333 7 10.1.0.5 10.0.0.5 40000 22 6 2 80 1733251201 1733251202 ACCEPT OK",
                "2 111122223333 7 10.1.0.5 10.0.0.5 40001 23 6 1 40 1733251203 1733251203 REJECT OK",
            ]
        );
    }

    /// With no group or ACL, a flow log still writes what crosses (all of it accepted); turned
    /// off, it hands over what it had.
    #[test]
    fn an_open_policy_logs_accepts_and_a_log_turned_off_hands_over_its_window() {
        let f = Arc::new(Filter::new(Limits::default()));
        f.apply(&logging(FilterPolicy::default(), "l7"))
            .expect("applies");
        let mut v = f.view().for_link("l7");
        v.tick(0, 0);
        let telnet = tcp_frame("10.1.0.5", "10.0.0.5", 40001, 23, SYN);
        assert_eq!(v.check(Direction::Outbound, &telnet, 1_000), Verdict::Pass);
        f.apply(&FilterPolicy::default()).expect("applies");
        v.tick(2_000, 2_000);
        let records = f.take_flow_logs(100);
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0].action, Some(FlowAction::Accept));
        assert_eq!(v.check(Direction::Outbound, &telnet, 3_000), Verdict::Pass);
        drop(v);
        assert!(f.take_flow_logs(100).is_empty(), "nothing logged once off");
    }

    #[test]
    fn no_policy_passes_everything() {
        let f = Filter::new(Limits::default());
        let p = tcp_frame("10.1.0.5", "10.0.0.5", 40000, 23, SYN);
        assert_eq!(f.check(Direction::Inbound, &p, 0), Verdict::Pass);
        assert_eq!(f.check(Direction::Inbound, &[1, 2, 3], 0), Verdict::Pass);
    }

    #[test]
    fn ssh_in_is_allowed_telnet_is_not_and_replies_need_no_rule() {
        let f = Filter::new(Limits::default());
        f.apply(&ssh_policy()).expect("applies");
        let ssh = tcp_frame("10.1.0.5", "10.0.0.5", 40000, 22, SYN);
        let telnet = tcp_frame("10.1.0.5", "10.0.0.5", 40001, 23, SYN);
        assert_eq!(f.check(Direction::Inbound, &ssh, 1), Verdict::Pass);
        assert_eq!(
            f.check(Direction::Inbound, &telnet, 1),
            Verdict::Drop(DropCause::NoRule)
        );
        let answer = tcp_frame("10.0.0.5", "10.1.0.5", 22, 40000, SYN | ACK);
        assert_eq!(f.check(Direction::Outbound, &answer, 2), Verdict::Pass);
        // An outbound flow's reply comes back in with no inbound rule for it.
        let out = tcp_frame("10.0.0.5", "10.1.0.9", 50000, 443, SYN);
        let back = tcp_frame("10.1.0.9", "10.0.0.5", 443, 50000, SYN | ACK);
        assert_eq!(f.check(Direction::Outbound, &out, 3), Verdict::Pass);
        assert_eq!(f.check(Direction::Inbound, &back, 4), Verdict::Pass);
        // ... but the same packet unasked for is dropped.
        let stray = tcp_frame("10.1.0.9", "10.0.0.5", 443, 50001, SYN | ACK);
        assert_eq!(
            f.check(Direction::Inbound, &stray, 4),
            Verdict::Drop(DropCause::NoRule)
        );
        let s = f.snapshot();
        assert_eq!(s.flows, 2);
        assert_eq!(s.rules[0].hits, 1, "the ssh rule admitted one flow");
        assert_eq!(s.drops[DropCause::NoRule.index()], (DropCause::NoRule, 2));
    }

    #[test]
    fn an_acl_deny_with_a_lower_number_beats_an_allow() {
        let mut policy = ssh_policy();
        let acl_rule = |json: serde_json::Value| -> xc_types::filter::AclRule {
            serde_json::from_value(json).expect("acl rule")
        };
        policy.network_acl = Some(AclRules {
            acl_id: NetworkAclId::from_random([7; 8]),
            rules: vec![
                acl_rule(
                    serde_json::json!({"ruleNumber": 100, "ruleAction": "deny", "direction": "inbound", "ipProtocol": "tcp", "fromPort": 22, "cidrIp": "10.1.0.66/32"}),
                ),
                acl_rule(
                    serde_json::json!({"ruleNumber": 200, "ruleAction": "allow", "direction": "inbound", "ipProtocol": "all", "cidrIp": "0.0.0.0/0"}),
                ),
                acl_rule(
                    serde_json::json!({"ruleNumber": 100, "ruleAction": "allow", "direction": "outbound", "ipProtocol": "all", "cidrIp": "0.0.0.0/0"}),
                ),
            ],
        });
        let f = Filter::new(Limits::default());
        f.apply(&policy).expect("applies");
        let from_66 = tcp_frame("10.1.0.66", "10.0.0.5", 40000, 22, SYN);
        let from_65 = tcp_frame("10.1.0.65", "10.0.0.5", 40000, 22, SYN);
        assert_eq!(
            f.check(Direction::Inbound, &from_66, 1),
            Verdict::Drop(DropCause::AclDeny)
        );
        assert_eq!(f.check(Direction::Inbound, &from_65, 1), Verdict::Pass);
        // A dry run of an ACL that denies the flow's replies (outbound) lists it as cut: the
        // ACL judges every packet, so the flow could not go on.
        let mut closed = policy.clone();
        if let Some(acl) = &mut closed.network_acl {
            acl.rules.retain(|r| r.direction == Direction::Inbound);
        }
        let dry = f.would_cut(&closed, 2).expect("dry run");
        assert_eq!(dry.cut.len(), 1);
        assert_eq!(dry.cut[0].key.src, addr("10.1.0.65"));
        assert!(f.would_cut(&policy, 2).expect("dry run").cut.is_empty());
    }

    /// A dry run judges an ICMP flow's replies as what they are (echo replies): an ACL that lets
    /// only echo replies in does not cut an outbound ping, one that lets only echo requests in
    /// does.
    #[test]
    fn a_dry_run_judges_ping_replies_as_replies() {
        let f = Filter::new(Limits::default());
        f.apply(&ssh_policy()).expect("applies");
        let ping = frame(&ip(
            addr("10.0.0.5"),
            addr("10.1.0.5"),
            1,
            &icmp(8, 0, &[0, 1, 0, 1]),
        ));
        assert_eq!(f.check(Direction::Outbound, &ping, 1), Verdict::Pass);
        let with_inbound_icmp = |icmp_type: u8| {
            let mut p = ssh_policy();
            let rule = |json: serde_json::Value| -> xc_types::filter::AclRule {
                serde_json::from_value(json).expect("acl rule")
            };
            p.network_acl = Some(AclRules {
                acl_id: NetworkAclId::from_random([7; 8]),
                rules: vec![
                    rule(
                        serde_json::json!({"ruleNumber": 100, "ruleAction": "allow", "direction": "inbound", "ipProtocol": "icmp", "icmpType": icmp_type, "cidrIp": "10.1.0.0/16"}),
                    ),
                    rule(
                        serde_json::json!({"ruleNumber": 100, "ruleAction": "allow", "direction": "outbound", "ipProtocol": "all", "cidrIp": "0.0.0.0/0"}),
                    ),
                ],
            });
            p
        };
        let replies_in = f.would_cut(&with_inbound_icmp(0), 2).expect("dry run");
        assert!(replies_in.cut.is_empty(), "{:?}", replies_in.cut);
        let requests_in = f.would_cut(&with_inbound_icmp(8), 2).expect("dry run");
        assert_eq!(requests_in.cut.len(), 1, "the replies would be denied");
    }

    #[test]
    fn a_full_table_refuses_new_flows_and_keeps_the_old_ones() {
        let f = Filter::new(Limits {
            flows: 2,
            ..Limits::default()
        });
        f.apply(&ssh_policy()).expect("applies");
        for port in [40000, 40001] {
            let p = tcp_frame("10.1.0.5", "10.0.0.5", port, 22, SYN);
            assert_eq!(f.check(Direction::Inbound, &p, 1), Verdict::Pass);
        }
        let third = tcp_frame("10.1.0.5", "10.0.0.5", 40002, 22, SYN);
        assert_eq!(
            f.check(Direction::Inbound, &third, 2),
            Verdict::Drop(DropCause::TableFull)
        );
        let old = tcp_frame("10.1.0.5", "10.0.0.5", 40000, 22, ACK);
        assert_eq!(f.check(Direction::Inbound, &old, 3), Verdict::Pass);
    }

    #[test]
    fn a_rule_change_cuts_only_the_flows_it_no_longer_admits() {
        let f = Filter::new(Limits::default());
        let mut policy = ssh_policy();
        policy.security_groups[0].rules.push(sg_rule(
            serde_json::json!({"direction": "inbound", "ipProtocol": "udp", "fromPort": 53, "cidrIp": "10.1.0.0/16"}),
            3,
        ));
        f.apply(&policy).expect("applies");
        let ssh = tcp_frame("10.1.0.5", "10.0.0.5", 40000, 22, SYN);
        let dns = frame(&ip(
            addr("10.1.0.5"),
            addr("10.0.0.5"),
            17,
            &udp(5000, 53, b"q"),
        ));
        assert_eq!(f.check(Direction::Inbound, &ssh, 1), Verdict::Pass);
        assert_eq!(f.check(Direction::Inbound, &dns, 1), Verdict::Pass);
        let dry = f.would_cut(&ssh_policy(), 2).expect("dry run");
        assert_eq!(dry.cut.len(), 1);
        assert_eq!(dry.cut[0].key.dst_port, 53);
        assert_eq!(f.flows(2).len(), 2, "a dry run cuts nothing");
        let applied = f.apply(&ssh_policy()).expect("applies");
        assert_eq!(applied.cut.len(), 1);
        let ssh_more = tcp_frame("10.1.0.5", "10.0.0.5", 40000, 22, ACK);
        assert_eq!(f.check(Direction::Inbound, &ssh_more, 3), Verdict::Pass);
        assert_eq!(
            f.check(Direction::Inbound, &dns, 3),
            Verdict::Drop(DropCause::NoRule)
        );
        assert_eq!(f.snapshot().rules[0].hits, 1, "the ssh rule kept its count");
    }

    #[test]
    fn later_fragments_follow_the_first() {
        let f = Filter::new(Limits::default());
        f.apply(&ssh_policy()).expect("applies");
        let mut first = ip(addr("10.1.0.5"), addr("10.0.0.5"), 6, &tcp(40000, 22, SYN));
        first[6] = 0x20; // more fragments, offset 0
        let mut later = ip(addr("10.1.0.5"), addr("10.0.0.5"), 6, &[0; 16]);
        later[7] = 0x03; // offset 24 octets
        let mut stray = later.clone();
        stray[5] = 2; // another datagram id
        assert_eq!(
            f.check(Direction::Inbound, &frame(&later), 1),
            Verdict::Drop(DropCause::Fragment)
        );
        assert_eq!(
            f.check(Direction::Inbound, &frame(&first), 1),
            Verdict::Pass
        );
        assert_eq!(
            f.check(Direction::Inbound, &frame(&later), 2),
            Verdict::Pass
        );
        assert_eq!(
            f.check(Direction::Inbound, &frame(&stray), 2),
            Verdict::Drop(DropCause::Fragment)
        );
        assert_eq!(
            f.check(Direction::Inbound, &frame(&later), 2 + FRAGMENT_TIMEOUT_MS),
            Verdict::Drop(DropCause::Fragment)
        );
    }

    #[test]
    fn an_icmp_error_about_a_tracked_flow_comes_back_in() {
        let f = Filter::new(Limits::default());
        f.apply(&ssh_policy()).expect("applies");
        let out = ip(
            addr("10.0.0.5"),
            addr("10.1.0.9"),
            17,
            &udp(5000, 53, b"query"),
        );
        assert_eq!(f.check(Direction::Outbound, &frame(&out), 1), Verdict::Pass);
        let mut body = vec![0, 0, 0x05, 0xdc];
        body.extend_from_slice(&out[..28]);
        let too_big = ip(addr("10.1.0.1"), addr("10.0.0.5"), 1, &icmp(3, 4, &body));
        assert_eq!(
            f.check(Direction::Inbound, &frame(&too_big), 2),
            Verdict::Pass
        );
        let unasked = ip(addr("10.1.0.1"), addr("10.0.0.5"), 1, &icmp(3, 4, &[0; 4]));
        assert_eq!(
            f.check(Direction::Inbound, &frame(&unasked), 2),
            Verdict::Drop(DropCause::NoRule)
        );
    }
}
