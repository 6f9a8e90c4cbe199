//! Runs the configured links: for each, the data plane link and an MKA thread that agrees its
//! keys, installs them, writes the keylog and keeps a status snapshot.

use crate::config::{AccessSettings, GatewayConfig, LinkSettings};
use crate::keylog::{self, KeyLog};
use crate::netlink::Netlink;
use crate::status::{
    AccessStatus, GatewayStatus, LinkCounters, LinkStatus, MkaCondition, MkaState, MkaStatus,
    SecyCounters,
};
use sha2::Digest;
use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use xc_dataplane::pathmtu::{self, PathMtuCheck};
use xc_dataplane::{Access, AccessConfig, IdlePoll, Link, LinkConfig, LinkHandle, mtu};
use xc_macsec::mka::{Event, MkaConfig, Participant};

struct RunningLink {
    settings: LinkSettings,
    link: Option<Link>,
    mka: Option<JoinHandle<()>>,
    status: Arc<Mutex<LinkStatus>>,
    stop: Arc<AtomicBool>,
}

impl Drop for RunningLink {
    /// Stops the MKA thread, then the packet threads; the TAP goes with them.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.mka.take() {
            let _ = t.join();
        }
        if let Some(link) = self.link.take() {
            link.stop();
        }
    }
}

/// A running VLAN sub-interface.
struct RunningAccess {
    settings: AccessSettings,
    access: Access,
}

type RoutingSource = Box<dyn Fn() -> crate::status::RoutingStatus + Send + Sync>;

/// How the gateway's links run their data path.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    /// Links take segmentation-offload frames from their TAPs.
    transmit_offload: bool,
    /// A link's busy poll after a frame, at most (`xc_dataplane::busy_poll`).
    busy_poll: Duration,
    /// Workers per link (`xc_dataplane::lanes`).
    link_cores: u8,
}

/// The running gateway. Dropping it stops BGP, every link, and removes the TAPs.
pub struct Gateway {
    name: String,
    /// Interface work (addresses, bridges, up/down) through rtnetlink.
    netlink: Netlink,
    keylog: Option<Arc<KeyLog>>,
    /// Keeps the cores awake while the links carry traffic, when configured (set at start).
    idle_poll: Option<IdlePoll>,
    /// How new links run their data path (set at start).
    tuning: Tuning,
    links: Vec<RunningLink>,
    /// What the status reads: the links' snapshots and the speaker's, both replaced by `apply`.
    link_statuses: Arc<Mutex<Vec<Arc<Mutex<LinkStatus>>>>>,
    /// The links the probes measure: each with an id and a point-to-point IPv4 address.
    probe_targets: Arc<Mutex<Vec<crate::linkprobe::ProbeTarget>>>,
    routing_status: Arc<Mutex<Option<RoutingSource>>>,
    routing: Option<crate::routing::Routing>,
    accesses: Arc<Mutex<Vec<RunningAccess>>>,
    /// Bridges this gateway created (for layer 2 links and sub-interfaces), removed when no
    /// longer named.
    bridges: BTreeSet<String>,
    /// The attach point's filters, shared by every link (a flow's reply may come back on
    /// another link than the one it left by).
    filter: Arc<xc_filter::Filter>,
    /// ...and with the attach point's other gateways (a reply may come back through another).
    sharing: crate::flowsync::FlowSharing,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("name", &self.name)
            .field("links", &self.links.len())
            .finish()
    }
}

/// A stable, locally administered unicast MAC for a link of a gateway.
fn link_mac(gateway: &str, link: &str) -> [u8; 6] {
    let h = sha2::Sha256::digest(format!("xconnect {gateway} {link}").as_bytes());
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&h[..6]);
    mac[0] = (mac[0] & 0xfc) | 0x02;
    mac
}

impl Gateway {
    /// Starts the links of `cfg` (BGP is started by the caller, on the async runtime, and
    /// attached with [`Gateway::attach_routing`]). Blocking: call it off the async threads.
    pub fn start(cfg: &GatewayConfig) -> io::Result<Self> {
        let keylog = match &cfg.keylog_file {
            Some(p) => {
                tracing::warn!(path = %p.display(), "DANGEROUS: writing MACsec keys to the keylog; anyone who reads it can decrypt the traffic");
                Some(Arc::new(KeyLog::open(p)?))
            }
            None => None,
        };
        let idle_poll = match cfg.idle_poll_ms {
            0 => None,
            ms => Some(IdlePoll::start(Duration::from_millis(ms))?),
        };
        let filter = Arc::new(xc_filter::Filter::new(xc_filter::Limits {
            flows: cfg.flow_table_size,
            ..xc_filter::Limits::default()
        }));
        let mut gw = Self {
            name: cfg.name.clone(),
            netlink: Netlink::start()?,
            keylog,
            idle_poll,
            tuning: Tuning {
                transmit_offload: cfg.transmit_offload,
                busy_poll: Duration::from_micros(cfg.busy_poll_us),
                link_cores: cfg.link_cores,
            },
            links: Vec::new(),
            link_statuses: Arc::default(),
            probe_targets: Arc::default(),
            routing_status: Arc::default(),
            routing: None,
            accesses: Arc::default(),
            bridges: BTreeSet::new(),
            filter: filter.clone(),
            sharing: crate::flowsync::FlowSharing::new(filter),
        };
        let errors = gw.apply_interfaces(cfg);
        if !errors.is_empty() {
            return Err(io::Error::other(errors.join("; ")));
        }
        Ok(gw)
    }

    fn add_link(&mut self, s: &LinkSettings) -> io::Result<()> {
        if s.liveness.is_some() {
            ignore_routes_with_linkdown();
        }
        let activity = self.idle_poll.as_ref().map(IdlePoll::activity);
        let l = start_link(
            &self.netlink,
            &self.name,
            s,
            self.keylog.clone(),
            activity,
            self.tuning,
            self.filter.clone(),
        )
        .map_err(|e| io::Error::new(e.kind(), format!("link {}: {e}", s.name)))?;
        self.links.push(l);
        self.publish_links();
        Ok(())
    }

    fn publish_links(&self) {
        if let Ok(mut v) = self.link_statuses.lock() {
            *v = self.links.iter().map(|l| l.status.clone()).collect();
        }
        if let Ok(mut t) = self.probe_targets.lock() {
            *t = self
                .links
                .iter()
                .filter_map(|l| {
                    Some(crate::linkprobe::ProbeTarget {
                        id: l.settings.id?,
                        peer: crate::linkprobe::peer_of(l.settings.address?)?,
                    })
                })
                .collect();
        }
    }

    /// The links to probe, as they are when asked.
    pub fn probe_targets(
        &self,
    ) -> Arc<dyn Fn() -> Vec<crate::linkprobe::ProbeTarget> + Send + Sync> {
        let t = self.probe_targets.clone();
        Arc::new(move || t.lock().map(|t| t.clone()).unwrap_or_default())
    }

    /// Applies a new configuration's interfaces without disturbing those that did not change:
    /// the bridges that links and sub-interfaces name (created when missing), the links, then
    /// the VLAN sub-interfaces. Returns what could not be started (the rest is applied
    /// regardless). Blocking.
    /// Puts the configuration's filters in force when they changed; the flows they no longer
    /// admit are cut (and counted in the log).
    fn apply_filters(&mut self, cfg: &GatewayConfig, errors: &mut Vec<String>) {
        if self.filter.policy().as_ref() == &cfg.filters {
            return;
        }
        match self.filter.apply(&cfg.filters) {
            Ok(applied) => tracing::info!(
                groups = cfg.filters.security_groups.len(),
                acl = cfg.filters.network_acl.is_some(),
                flows_cut = applied.cut.len(),
                "filters applied"
            ),
            Err(e) => errors.push(format!("filters: {e}")),
        }
    }

    pub fn apply_interfaces(&mut self, cfg: &GatewayConfig) -> Vec<String> {
        let wanted: BTreeSet<String> = cfg
            .links
            .iter()
            .filter_map(|l| l.bridge.clone())
            .chain(cfg.access.iter().filter_map(|a| a.bridge.clone()))
            .collect();
        let mut errors = Vec::new();
        self.apply_filters(cfg, &mut errors);
        if let Err(e) = self.sharing.configure(cfg.flow_sync.as_ref()) {
            errors.push(format!("flow_sync: {e}"));
        }
        for b in &wanted {
            if !self.netlink.exists(b).unwrap_or(false) {
                match self.netlink.add_bridge(b) {
                    Ok(()) => {
                        tracing::info!(bridge = %b, "bridge created");
                        self.bridges.insert(b.clone());
                    }
                    Err(e) => errors.push(format!("bridge {b}: {e}")),
                }
            }
        }
        errors.extend(self.apply_links(cfg));
        errors.extend(self.apply_access(cfg));
        let unused: Vec<String> = self.bridges.difference(&wanted).cloned().collect();
        for b in unused {
            if let Err(e) = self.netlink.delete(&b) {
                tracing::warn!(bridge = %b, error = %e, "cannot remove a bridge");
            }
            tracing::info!(bridge = %b, "bridge removed");
            self.bridges.remove(&b);
        }
        errors
    }

    /// Stops the sub-interfaces that are gone or changed and starts the new ones.
    fn apply_access(&mut self, cfg: &GatewayConfig) -> Vec<String> {
        let Ok(mut running) = self.accesses.lock() else {
            return vec!["the gateway state is poisoned".to_owned()];
        };
        running.retain(|r| {
            let keep = cfg.access.contains(&r.settings);
            if !keep {
                tracing::info!(interface = %r.settings.tap_name(), "VLAN sub-interface removed");
            }
            keep
        });
        let mut errors = Vec::new();
        for a in &cfg.access {
            if running.iter().any(|r| r.settings == *a) {
                continue;
            }
            match start_access(&self.netlink, &self.name, a) {
                Ok(access) => running.push(RunningAccess {
                    settings: a.clone(),
                    access,
                }),
                Err(e) => errors.push(format!("sub-interface {}: {e}", a.tap_name())),
            }
        }
        errors
    }

    /// The links part of [`Gateway::apply_interfaces`]: a link that is gone is stopped (its TAP
    /// removed), a new one started, a changed one restarted, and a bandwidth or liveness change
    /// reaches the running link.
    fn apply_links(&mut self, cfg: &GatewayConfig) -> Vec<String> {
        let mut errors = Vec::new();
        let mut i = 0;
        while i < self.links.len() {
            let cur = &self.links[i].settings;
            match cfg.links.iter().find(|n| n.name == cur.name) {
                Some(n) if n.same_link(cur) => {
                    if n.bandwidth != cur.bandwidth
                        || n.bandwidth_shared_by != cur.bandwidth_shared_by
                    {
                        let l = &mut self.links[i];
                        // The policers at the new bandwidth, and the shaper at an equal part of
                        // it until the control plane sets the parts again.
                        let egress = n.initial_egress_bps();
                        if let Some(link) = &l.link {
                            link.handle().set_bandwidth(n.bandwidth_bps());
                            if egress != n.bandwidth_bps() {
                                link.handle().set_egress(egress);
                            }
                        }
                        if let Ok(mut st) = l.status.lock() {
                            st.bandwidth = n.bandwidth.map(|b| b.to_string());
                            st.egress_bps = egress;
                        }
                        tracing::info!(link = %n.name, bandwidth = ?n.bandwidth.map(|b| b.to_string()), shared_by = n.bandwidth_shared_by, "bandwidth changed");
                        l.settings.bandwidth = n.bandwidth;
                        l.settings.bandwidth_shared_by = n.bandwidth_shared_by;
                    }
                    if n.liveness != self.links[i].settings.liveness {
                        if n.liveness.is_some() {
                            ignore_routes_with_linkdown();
                        }
                        let l = &mut self.links[i];
                        if let Some(link) = &l.link {
                            link.handle().set_liveness(n.liveness);
                        }
                        l.settings.liveness = n.liveness;
                    }
                    i += 1;
                }
                _ => {
                    let gone = self.links.remove(i);
                    tracing::info!(link = %gone.settings.name, "link removed");
                    drop(gone);
                }
            }
        }
        for n in &cfg.links {
            if !self.links.iter().any(|l| l.settings.name == n.name) {
                match self.add_link(n) {
                    Ok(()) => tracing::info!(link = %n.name, vni = n.vni, "link added"),
                    Err(e) => errors.push(e.to_string()),
                }
            }
        }
        self.publish_links();
        errors
    }

    /// Moves each named link's egress to its part of the bandwidth it shares (the control
    /// plane's answer to a report). A part is never above the link's bandwidth; a link that
    /// shares nothing, or is not here, is left alone; an unchanged part is not sent to the link.
    pub fn set_egress(&mut self, shares: &[xc_types::gateway::EgressShare]) {
        for share in shares {
            let Some(l) = self
                .links
                .iter()
                .find(|l| l.settings.id == Some(share.link))
            else {
                continue;
            };
            let Some(bandwidth) = l.settings.bandwidth_bps() else {
                continue;
            };
            if l.settings.bandwidth_shared_by <= 1 {
                continue;
            }
            let bps = share.bps.clamp(1_000_000.min(bandwidth), bandwidth);
            let Ok(mut st) = l.status.lock() else {
                continue;
            };
            if st.egress_bps == Some(bps) {
                continue;
            }
            if let Some(link) = &l.link {
                link.handle().set_egress(Some(bps));
            }
            tracing::debug!(link = %l.settings.name, bps, "egress part moved");
            st.egress_bps = Some(bps);
        }
    }

    /// Hands the gateway its BGP speaker (started once the links are up, since neighbours are
    /// reached over them): it is reported in the status and stopped first when the gateway
    /// stops.
    pub fn attach_routing(&mut self, routing: crate::routing::Routing) {
        if let Ok(mut r) = self.routing_status.lock() {
            *r = Some(Box::new(routing.status_source()));
        }
        if let Some(old) = self.routing.replace(routing) {
            old.stop();
        }
    }

    /// The running speaker, if any.
    pub fn routing(&self) -> Option<&crate::routing::Routing> {
        self.routing.as_ref()
    }

    /// Stops the speaker (Cease to every neighbour, routes out of the kernel). Blocking.
    pub fn stop_routing(&mut self) {
        if let Ok(mut r) = self.routing_status.lock() {
            *r = None;
        }
        if let Some(r) = self.routing.take() {
            r.stop();
        }
    }

    pub fn status(&self) -> GatewayStatus {
        self.status_source()()
    }

    /// The attach point's filter, whose flow-log records the gateway takes.
    pub fn filter(&self) -> Arc<xc_filter::Filter> {
        self.filter.clone()
    }

    /// A closure that gives the links' status alone (cheaper than the whole status: the
    /// managed gateway measures the links' demand with it four times a second).
    pub fn links_source(&self) -> Arc<dyn Fn() -> Vec<LinkStatus> + Send + Sync> {
        let links = self.link_statuses.clone();
        Arc::new(move || {
            links
                .lock()
                .map(|v| {
                    v.iter()
                        .filter_map(|s| s.lock().ok().map(|s| s.clone()))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// A closure the admin server can call from any thread for a fresh status.
    pub fn status_source(&self) -> Arc<dyn Fn() -> GatewayStatus + Send + Sync> {
        let name = self.name.clone();
        let keylog_enabled = self.keylog.is_some();
        let idle_poll_ms = self
            .idle_poll
            .as_ref()
            .map_or(0, |p| p.window().as_millis() as u64);
        let busy_poll_us = self.tuning.busy_poll.as_micros() as u64;
        let links = self.links_source();
        let routing = self.routing_status.clone();
        let accesses = self.accesses.clone();
        let filter = self.filter.clone();
        Arc::new(move || GatewayStatus {
            name: name.clone(),
            keylog_enabled,
            idle_poll_ms,
            busy_poll_us,
            links: links(),
            bgp: routing.lock().ok().and_then(|r| r.as_ref().map(|f| f())),
            access: accesses
                .lock()
                .map(|v| v.iter().map(access_status).collect())
                .unwrap_or_default(),
            filters: filter_status(&filter),
        })
    }
}

/// What the filters did, when a policy is in force.
fn filter_status(filter: &xc_filter::Filter) -> Option<crate::status::FilterStatus> {
    use xc_filter::{DropCause, RuleRef};
    let policy = filter.policy();
    if policy.is_empty() {
        return None;
    }
    let s = filter.snapshot();
    let drops = |cause: DropCause| {
        s.drops
            .iter()
            .find(|(c, _)| *c == cause)
            .map_or(0, |(_, n)| *n)
    };
    Some(crate::status::FilterStatus {
        security_groups: policy.security_groups.len() as u32,
        network_acl: policy.network_acl.as_ref().map(|a| a.acl_id.to_string()),
        flows: s.flows as u64,
        flow_capacity: s.flow_capacity as u64,
        drops: crate::status::FilterDrops {
            acl_deny: drops(DropCause::AclDeny),
            no_rule: drops(DropCause::NoRule),
            table_full: drops(DropCause::TableFull),
            fragment: drops(DropCause::Fragment),
            malformed: drops(DropCause::Malformed),
        },
        rules: s
            .rules
            .into_iter()
            .map(|r| {
                let (rule, action) = match r.rule {
                    RuleRef::Sg { rule, .. } => {
                        (rule.to_string(), xc_types::filter::RuleAction::Allow)
                    }
                    RuleRef::Acl {
                        acl,
                        direction,
                        number,
                        action,
                    } => (format!("{acl}/{}/{number}", direction.as_str()), action),
                };
                crate::status::RuleHits {
                    rule,
                    action,
                    hits: r.hits,
                }
            })
            .collect(),
        shared: crate::status::FlowSharing {
            sent: s.shared[0],
            dropped: s.shared[1],
            adopted: s.shared[2],
            refused: s.shared[3],
        },
    })
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop_routing();
        self.links.clear();
        if let Ok(mut a) = self.accesses.lock() {
            a.clear();
        }
        for b in std::mem::take(&mut self.bridges) {
            let _ = self.netlink.delete(&b);
        }
    }
}

fn access_status(r: &RunningAccess) -> AccessStatus {
    let c = r.access.counters();
    AccessStatus {
        name: r.settings.tap_name(),
        interface: r.settings.interface.clone(),
        vlan: r.settings.vlan,
        addresses: r.settings.addresses.iter().map(|a| a.to_string()).collect(),
        bridge: r.settings.bridge.clone(),
        tx_packets: c.tx_packets,
        tx_bytes: c.tx_bytes,
        rx_packets: c.rx_packets,
        rx_bytes: c.rx_bytes,
        rx_malformed: c.rx_malformed,
        io_errors: c.io_errors,
    }
}

/// Starts a VLAN sub-interface: the TAP (as large as its parent's MTU unless set), its
/// addresses or its bridge, up.
fn start_access(nl: &Netlink, gateway: &str, a: &AccessSettings) -> io::Result<Access> {
    let tap = a.tap_name();
    let mtu = a.mtu.unwrap_or_else(|| {
        std::fs::read_to_string(format!("/sys/class/net/{}/mtu", a.interface))
            .ok()
            .and_then(|m| m.trim().parse().ok())
            .unwrap_or(1500)
    });
    let access = Access::start(AccessConfig {
        tap_name: tap.clone(),
        parent: a.interface.clone(),
        vlan: a.vlan,
        mac: link_mac(gateway, &tap),
        mtu,
    })?;
    for addr in &a.addresses {
        nl.add_address(&tap, *addr)?;
    }
    if let Some(br) = &a.bridge {
        nl.set_master(&tap, br)?;
    }
    nl.set_up(&tap)?;
    Ok(access)
}

fn start_link(
    nl: &Netlink,
    gateway: &str,
    s: &LinkSettings,
    keylog: Option<Arc<KeyLog>>,
    idle_poll: Option<xc_dataplane::idle_poll::Activity>,
    tuning: Tuning,
    filter: Arc<xc_filter::Filter>,
) -> io::Result<RunningLink> {
    let stop = Arc::new(AtomicBool::new(false));
    let tap_name = format!("xc-{}", s.name);
    let link_mtu = s.mtu.unwrap_or_else(|| {
        let underlay = mtu::underlay_mtu(s.underlay_local.ip())
            .map_or(1500, |m| m.min(u32::from(u16::MAX)) as u16);
        mtu::link_mtu(underlay, s.underlay_remote.ip())
    });
    let cfg = LinkConfig {
        name: s.name.clone(),
        tap_name: tap_name.clone(),
        mac: link_mac(gateway, &s.name),
        underlay_local: s.underlay_local,
        underlay_remote: s.underlay_remote,
        vni: s.vni,
        cipher: s.cipher,
        mtu: link_mtu,
        address: None,
        bandwidth_bps: s.bandwidth_bps(),
        replay_window: s.replay_window,
        idle_poll,
        busy_poll: tuning.busy_poll,
        transmit_offload: tuning.transmit_offload,
        filter: Some(filter),
        // The subnets of the link's own addresses: what its two ends say to each other.
        filter_exempt: s
            .address
            .iter()
            .chain(&s.address6)
            .filter_map(|a| xc_types::Prefix::parse(&a.trunc().to_string()).ok())
            .collect(),
        liveness: s.liveness,
        lanes: tuning.link_cores,
    };
    let sci = cfg.sci();
    let path_mtu = PathMtu {
        check: PathMtuCheck::new(
            link_mtu,
            s.underlay_remote.ip(),
            cfg.mac,
            rand::random(),
            Instant::now(),
        ),
        netlink: nl.clone(),
        tap: tap_name.clone(),
        applied: link_mtu,
        refused: None,
    };
    let (link, control) = Link::start(cfg)?;
    for a in s.address.iter().chain(&s.address6) {
        nl.add_address(&tap_name, *a)?;
    }
    if let Some(br) = &s.bridge {
        nl.set_master(&tap_name, br)?;
    }
    nl.set_up(&tap_name)?;
    let mut mka_cfg = MkaConfig::new(s.cak.clone(), s.ckn.clone(), sci, s.cipher);
    mka_cfg.key_server_priority = s.key_server_priority;
    mka_cfg.rekey_interval = s.rekey_interval_secs.map(Duration::from_secs);
    let participant = Participant::new(mka_cfg, rand::random(), Instant::now())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let status = Arc::new(Mutex::new(LinkStatus {
        name: s.name.clone(),
        id: s.id,
        tap: tap_name,
        vni: s.vni,
        mtu: link_mtu,
        cipher: s.cipher.name().to_owned(),
        underlay_local: s.underlay_local.to_string(),
        underlay_remote: s.underlay_remote.to_string(),
        bandwidth: s.bandwidth.map(|b| b.to_string()),
        egress_bps: s.initial_egress_bps(),
        workers: link.handle().lanes() as u8,
        ..LinkStatus::default()
    }));
    let handle = link.handle();
    if s.initial_egress_bps() != s.bandwidth_bps() {
        handle.set_egress(s.initial_egress_bps());
    }
    let thread = {
        let stop = stop.clone();
        let status = status.clone();
        let name = s.name.clone();
        let cipher = s.cipher;
        std::thread::Builder::new()
            .name(format!("xc-mka-{}", s.name))
            .spawn(move || {
                mka_loop(
                    participant,
                    path_mtu,
                    &handle,
                    &control,
                    &status,
                    &name,
                    cipher,
                    keylog.as_deref(),
                    &stop,
                )
            })?
    };
    Ok(RunningLink {
        settings: s.clone(),
        link: Some(link),
        mka: Some(thread),
        status,
        stop,
    })
}

#[allow(clippy::too_many_arguments)]
fn mka_loop(
    mut p: Participant,
    mut path_mtu: PathMtu,
    link: &LinkHandle,
    control: &std::sync::mpsc::Receiver<Vec<u8>>,
    status: &Mutex<LinkStatus>,
    name: &str,
    cipher: xc_macsec::CipherSuite,
    keylog: Option<&KeyLog>,
    stop: &AtomicBool,
) {
    let mut secured_since: Option<Instant> = None;
    let mut pn = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = p
            .poll_timeout()
            .map_or(Duration::from_millis(100), |t| {
                t.saturating_duration_since(now)
            })
            .min(Duration::from_millis(100))
            .min(path_mtu.check.poll_timeout().saturating_duration_since(now));
        match control.recv_timeout(wait) {
            Ok(frame) if pathmtu::is_probe(&frame) => {
                if let Err(e) = path_mtu.check.handle_frame(&frame, Instant::now()) {
                    tracing::debug!(link = name, error = %e, "path-MTU probe refused");
                }
            }
            Ok(frame) => {
                if let Err(e) = p.handle_mkpdu(Instant::now(), &frame) {
                    tracing::debug!(link = name, error = %e, "MKPDU refused");
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        let current = (link.tx_next_pn(), link.rx_next_pn());
        if current != pn {
            pn = current;
            p.report_pn(now, pn.0, pn.1);
        }
        if p.poll_timeout().is_some_and(|t| t <= now) {
            p.handle_timeout(now);
        }
        path_mtu.poll(link, name, now);
        while let Some(f) = p.poll_transmit() {
            if let Err(e) = link.send_control(&f) {
                tracing::debug!(link = name, error = %e, "cannot send an MKPDU");
            }
        }
        while let Some(e) = p.poll_event() {
            match e {
                Event::InstallRx(sa) => {
                    if let Some(k) = keylog {
                        k.write(&keylog::Entry {
                            link: name,
                            direction: "rx",
                            sci: sa.sci,
                            an: sa.an,
                            cipher,
                            ssci: sa.ssci,
                            salt: sa.salt,
                            sak: &sa.sak,
                        });
                    }
                    link.install_rx(sa);
                }
                Event::InstallTx(sa) => {
                    if let Some(k) = keylog {
                        let sci = link.sci();
                        k.write(&keylog::Entry {
                            link: name,
                            direction: "tx",
                            sci,
                            an: sa.an,
                            cipher,
                            ssci: sa.ssci,
                            salt: sa.salt,
                            sak: &sa.sak,
                        });
                    }
                    link.install_tx(sa);
                }
                Event::RemoveRx { sci, an } => link.remove_rx(sci, an),
                Event::Secured { kn, an } => {
                    tracing::info!(link = name, kn, an, "MACsec secured");
                    secured_since = Some(now);
                }
                Event::PeerLive { sci } => {
                    tracing::info!(link = name, peer = %sci, "MKA peer live")
                }
                Event::PeerLost { sci } => {
                    tracing::warn!(link = name, peer = %sci, "MKA peer lost");
                    secured_since = None;
                }
                Event::KeyServer { sci } => {
                    tracing::info!(link = name, key_server = %sci, "key server elected")
                }
            }
        }
        if let Ok(mut st) = status.lock() {
            let m = p.status();
            let secured = secured_since.is_some() && !m.live_peers.is_empty();
            let state = if secured {
                MkaState::Secured
            } else if m.live_peers.is_empty() {
                MkaState::NoPeer
            } else {
                MkaState::Negotiating
            };
            let condition = (!secured).then(|| match m.last_error {
                Some(problem) => mka_condition(problem),
                None if m.live_peers.is_empty() => MkaCondition::NoPeer,
                None => MkaCondition::Agreeing,
            });
            st.mka = MkaStatus {
                state,
                condition,
                key_server: m.is_key_server,
                key_server_sci: m.key_server.map(|s| s.to_string()),
                live_peers: m.live_peers.iter().map(|s| s.to_string()).collect(),
                current_an: m.tx_key.map(|(_, an)| an),
                key_number: m.tx_key.map(|(kn, _)| kn),
                key_age_secs: m
                    .tx_key_since
                    .map(|t| now.saturating_duration_since(t).as_secs()),
                rotations: m.rotations,
                mkpdus_sent: m.mkpdus_sent,
                mkpdus_received: m.mkpdus_received,
                mkpdus_bad_icv: m.mkpdus_bad_icv,
                reason: condition.map(|c| c.describe().to_owned()),
            };
            st.path_mtu = path_mtu.check.status();
            st.mtu = path_mtu.applied;
            st.counters = link_counters(link.counters());
            st.alive = link.alive();
            let (tx, rx) = link.secy_counters();
            st.secy = SecyCounters {
                out_pkts_encrypted: tx.out_pkts_encrypted,
                out_pkts_protected: tx.out_pkts_protected,
                in_pkts_ok: rx.in_pkts_ok,
                in_pkts_late: rx.in_pkts_late,
                in_pkts_not_valid: rx.in_pkts_not_valid,
                in_pkts_no_sci: rx.in_pkts_no_sci,
                in_pkts_not_using_sa: rx.in_pkts_not_using_sa,
                in_pkts_bad_tag: rx.in_pkts_bad_tag,
                in_pkts_no_tag: rx.in_pkts_no_tag,
                in_pkts_delayed: rx.in_pkts_delayed,
            };
        }
    }
}

/// A link's path-MTU check (`xc_dataplane::pathmtu`), and what applies its outcome: the TAP's
/// MTU.
struct PathMtu {
    check: PathMtuCheck,
    netlink: Netlink,
    tap: String,
    /// The TAP's MTU.
    applied: u16,
    /// An MTU the kernel refused (not asked for again until the check wants another).
    refused: Option<u16>,
}

impl PathMtu {
    /// Sends the probes (and answers) that are due, and gives the TAP the MTU the check found.
    fn poll(&mut self, link: &LinkHandle, name: &str, now: Instant) {
        if self.check.poll_timeout() <= now {
            self.check.handle_timeout(now);
        }
        while let Some(f) = self.check.poll_transmit() {
            if let Err(e) = link.send_control(&f) {
                tracing::debug!(link = name, error = %e, bytes = f.len(), "cannot send a path-MTU probe");
            }
        }
        let mtu = self.check.mtu();
        if mtu == self.applied || self.refused == Some(mtu) {
            return;
        }
        let st = self.check.status();
        match self.netlink.set_mtu(&self.tap, mtu.into()) {
            Ok(()) if mtu < st.configured => {
                tracing::warn!(
                    link = name,
                    configured = st.configured,
                    mtu,
                    "the underlay drops packets of the link's full size (a smaller MTU on the way?): link MTU lowered to the largest size that crosses"
                );
                self.applied = mtu;
            }
            Ok(()) => {
                tracing::info!(
                    link = name,
                    mtu,
                    "the underlay carries the link's full size again: MTU restored"
                );
                self.applied = mtu;
            }
            Err(e) => {
                tracing::warn!(link = name, mtu, error = %e, "cannot change the link's MTU");
                self.refused = Some(mtu);
            }
        }
    }
}

/// What the participant saw go wrong, as the status reports it.
fn mka_condition(p: xc_macsec::mka::Problem) -> MkaCondition {
    use xc_macsec::mka::Problem;
    match p {
        Problem::OtherCkn => MkaCondition::PeerCknMismatch,
        Problem::IcvMismatch => MkaCondition::PeerCakMismatch,
        Problem::CipherSuiteMismatch => MkaCondition::CipherSuiteMismatch,
        Problem::SakUnwrap => MkaCondition::SakUnwrapFailed,
        Problem::SakWrap | Problem::Encode => MkaCondition::LocalError,
    }
}

/// The data plane's counters as the status reports them (every field, by name: a counter added
/// to one and not the other does not compile).
fn link_counters(c: xc_dataplane::CounterSnapshot) -> LinkCounters {
    let xc_dataplane::CounterSnapshot {
        tx_packets,
        tx_bytes,
        rx_packets,
        rx_bytes,
        tx_dropped_policer,
        tx_shaped,
        rx_dropped_policer,
        tx_dropped_no_sa,
        rx_dropped_invalid,
        rx_dropped_replay,
        rx_dropped_icv,
        rx_dropped_vxlan,
        tx_dropped_filter,
        rx_dropped_filter,
        tx_dropped_offload,
        tx_segmented,
        mkpdus_tx,
        mkpdus_rx,
        io_errors,
        keepalives_tx,
        keepalives_rx,
        carrier_downs,
    } = c;
    LinkCounters {
        tx_packets,
        tx_bytes,
        rx_packets,
        rx_bytes,
        tx_dropped_policer,
        tx_shaped,
        rx_dropped_policer,
        tx_dropped_no_sa,
        rx_dropped_invalid,
        rx_dropped_replay,
        rx_dropped_icv,
        rx_dropped_vxlan,
        tx_dropped_filter,
        rx_dropped_filter,
        tx_dropped_offload,
        tx_segmented,
        mkpdus_tx,
        mkpdus_rx,
        io_errors,
        keepalives_tx,
        keepalives_rx,
        carrier_downs,
    }
}

/// Makes the kernel (of this network namespace) leave out of its route lookups the next hops
/// whose interface has no carrier: a link found dead turns its TAP's carrier off, and every
/// route through it then moves to the other links at once. Without this sysctl a next hop
/// without carrier is only marked `linkdown` and still used. Logged, not fatal, when it cannot
/// be written (the links still work; BFD then moves the routes).
fn ignore_routes_with_linkdown() {
    for family in ["ipv4", "ipv6"] {
        let path = format!("/proc/sys/net/{family}/conf/all/ignore_routes_with_linkdown");
        if let Err(e) = std::fs::write(&path, "1") {
            tracing::warn!(path, error = %e, "cannot make the kernel skip next hops without carrier: a dead link's routes move only when BFD notices");
        }
    }
}

/// Applies a configuration to a running gateway, links first (neighbours are reached over
/// them), then BGP: started, reconfigured in place, or stopped. The same path serves the static
/// file and the control plane's configuration. Returns what could not be applied.
pub async fn apply(gateway: &Arc<Mutex<Gateway>>, cfg: &GatewayConfig) -> Vec<String> {
    let (g, c) = (gateway.clone(), cfg.clone());
    let mut errors = tokio::task::spawn_blocking(move || match g.lock() {
        Ok(mut g) => g.apply_interfaces(&c),
        Err(_) => vec!["the gateway state is poisoned".to_owned()],
    })
    .await
    .unwrap_or_else(|e| vec![e.to_string()]);
    let has_routing = gateway
        .lock()
        .map(|g| g.routing().is_some())
        .unwrap_or(false);
    match (&cfg.bgp, has_routing) {
        (Some(b), true) => {
            if let Ok(g) = gateway.lock()
                && let Some(r) = g.routing()
            {
                r.reconfigure(b.clone());
            }
        }
        (Some(b), false) => match crate::routing::Routing::start(b.clone()).await {
            Ok(r) => {
                if let Ok(mut g) = gateway.lock() {
                    g.attach_routing(r);
                }
            }
            Err(e) => errors.push(format!("BGP: {e}")),
        },
        (None, true) => {
            let g = gateway.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Ok(mut g) = g.lock() {
                    g.stop_routing();
                }
            })
            .await;
        }
        (None, false) => {}
    }
    errors
}
