//! The minute samples a managed gateway reports (`xc_types::gateway::samples`), made from its
//! links' counters and the probes' round trips. Pure: time comes in as Unix seconds.
//!
//! At each minute boundary the sampler closes the minute: per link, the difference between its
//! counters now and at the minute's start (a link first seen within the minute counts from
//! zero, as its counters do; counters that went down were reset, and count from zero again),
//! the seconds that covers, the probes of the minute, and the sessions' state. Closed minutes
//! wait, a bounded number, until the control plane acknowledges them.

use crate::status::{GatewayStatus, LinkCounters, MkaState};
use std::collections::{BTreeMap, VecDeque};
use xc_types::gateway::{
    BgpState, DropCounts, LinkSample, MAX_LINKS_PER_SAMPLE, MAX_PENDING_SAMPLES,
    MAX_SAMPLES_PER_REPORT, MetricSample, RttStats,
};

/// Most link minutes in one report (about 400 bytes of JSON each).
pub const LINK_MINUTES_PER_REPORT: usize = 2_000;

/// What the probes measured on one link during a minute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeMinute {
    pub sent: u32,
    pub answered: u32,
    /// Round trips in microseconds, in the order measured.
    pub rtts_us: Vec<u64>,
}

/// The counters of a link when its current minute began, and when that was.
#[derive(Debug, Clone, Copy)]
struct Base {
    counters: LinkCounters,
    since: i64,
}

#[derive(Debug)]
pub struct Sampler {
    seq: u64,
    /// The start of the minute being measured.
    minute: Option<i64>,
    base: BTreeMap<u64, Base>,
    pending: VecDeque<MetricSample>,
    /// Samples dropped unacknowledged because too many waited.
    pub dropped: u64,
}

fn minute_of(t: i64) -> i64 {
    t - t.rem_euclid(60)
}

/// `now - then` of each counter, or `now` where it went down (a reset).
fn delta(now: &LinkCounters, then: &LinkCounters) -> LinkCounters {
    let d = |a: u64, b: u64| if a >= b { a - b } else { a };
    LinkCounters {
        tx_packets: d(now.tx_packets, then.tx_packets),
        tx_bytes: d(now.tx_bytes, then.tx_bytes),
        rx_packets: d(now.rx_packets, then.rx_packets),
        rx_bytes: d(now.rx_bytes, then.rx_bytes),
        tx_dropped_policer: d(now.tx_dropped_policer, then.tx_dropped_policer),
        tx_shaped: d(now.tx_shaped, then.tx_shaped),
        rx_dropped_policer: d(now.rx_dropped_policer, then.rx_dropped_policer),
        tx_dropped_no_sa: d(now.tx_dropped_no_sa, then.tx_dropped_no_sa),
        rx_dropped_invalid: d(now.rx_dropped_invalid, then.rx_dropped_invalid),
        rx_dropped_replay: d(now.rx_dropped_replay, then.rx_dropped_replay),
        rx_dropped_icv: d(now.rx_dropped_icv, then.rx_dropped_icv),
        rx_dropped_vxlan: d(now.rx_dropped_vxlan, then.rx_dropped_vxlan),
        tx_dropped_filter: d(now.tx_dropped_filter, then.tx_dropped_filter),
        rx_dropped_filter: d(now.rx_dropped_filter, then.rx_dropped_filter),
        tx_dropped_offload: d(now.tx_dropped_offload, then.tx_dropped_offload),
        tx_segmented: d(now.tx_segmented, then.tx_segmented),
        mkpdus_tx: d(now.mkpdus_tx, then.mkpdus_tx),
        mkpdus_rx: d(now.mkpdus_rx, then.mkpdus_rx),
        io_errors: d(now.io_errors, then.io_errors),
        keepalives_tx: d(now.keepalives_tx, then.keepalives_tx),
        keepalives_rx: d(now.keepalives_rx, then.keepalives_rx),
        carrier_downs: d(now.carrier_downs, then.carrier_downs),
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

impl Sampler {
    pub fn new() -> Self {
        Self {
            seq: 0,
            minute: None,
            base: BTreeMap::new(),
            pending: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Called every few seconds with the gateway's status and a way to take a link's probes:
    /// closes the minute being measured once `now` is past it.
    pub fn tick(
        &mut self,
        now: i64,
        status: &GatewayStatus,
        peers: &BTreeMap<u64, String>,
        probes: &mut dyn FnMut(u64) -> ProbeMinute,
    ) {
        let current = minute_of(now);
        match self.minute {
            None => {
                self.minute = Some(current);
                self.rebase(now, status);
            }
            Some(m) if current > m => {
                self.close(m, now, status, peers, probes);
                self.minute = Some(current);
            }
            Some(_) => {}
        }
    }

    /// Closes the minute being measured now, as it is (at shutdown: the last, partial minute).
    pub fn flush(
        &mut self,
        now: i64,
        status: &GatewayStatus,
        peers: &BTreeMap<u64, String>,
        probes: &mut dyn FnMut(u64) -> ProbeMinute,
    ) {
        if let Some(m) = self.minute.take() {
            self.close(m, now, status, peers, probes);
        }
    }

    fn rebase(&mut self, now: i64, status: &GatewayStatus) {
        self.base = status
            .links
            .iter()
            .filter_map(|l| {
                Some((
                    l.id?,
                    Base {
                        counters: l.counters,
                        since: now,
                    },
                ))
            })
            .collect();
    }

    fn close(
        &mut self,
        minute: i64,
        now: i64,
        status: &GatewayStatus,
        peers: &BTreeMap<u64, String>,
        probes: &mut dyn FnMut(u64) -> ProbeMinute,
    ) {
        let mut links = Vec::new();
        for l in status.links.iter().take(MAX_LINKS_PER_SAMPLE) {
            let Some(id) = l.id else { continue };
            // A link first seen now counts from zero, from the minute's start at the earliest.
            let base = self.base.get(&id).copied().unwrap_or(Base {
                counters: LinkCounters::default(),
                since: minute,
            });
            let d = delta(&l.counters, &base.counters);
            let p = probes(id);
            let neighbor = peers.get(&id).and_then(|peer| {
                status
                    .bgp
                    .as_ref()?
                    .neighbors
                    .iter()
                    .find(|n| &n.address == peer)
            });
            links.push(LinkSample {
                id,
                secs: u32::try_from((now - base.since).max(1)).unwrap_or(u32::MAX),
                tx_packets: d.tx_packets,
                tx_bytes: d.tx_bytes,
                rx_packets: d.rx_packets,
                rx_bytes: d.rx_bytes,
                drops: DropCounts {
                    policer: d.tx_dropped_policer + d.rx_dropped_policer,
                    replay: d.rx_dropped_replay,
                    icv: d.rx_dropped_icv,
                    no_sa: d.tx_dropped_no_sa,
                    invalid: d
                        .rx_dropped_invalid
                        .saturating_sub(d.rx_dropped_replay + d.rx_dropped_icv),
                },
                probes_sent: p.sent,
                probes_answered: p.answered,
                rtt: RttStats::of(&p.rtts_us),
                secured: l.mka.state == MkaState::Secured,
                bgp_established: neighbor.is_some_and(|n| n.state == BgpState::Established),
                prefixes_accepted: neighbor.map_or(0, |n| n.prefixes_accepted as u64),
                prefixes_advertised: neighbor.map_or(0, |n| n.prefixes_sent as u64),
            });
        }
        self.rebase(now, status);
        self.seq += 1;
        self.pending.push_back(MetricSample {
            seq: self.seq,
            minute,
            links,
        });
        while self.pending.len() > MAX_PENDING_SAMPLES {
            self.pending.pop_front();
            self.dropped += 1;
        }
    }

    /// The oldest samples not yet acknowledged, as many as one report carries: at most
    /// [`MAX_SAMPLES_PER_REPORT`], and no more than [`LINK_MINUTES_PER_REPORT`] link minutes
    /// (but always one sample), so a gateway with many links sends a bounded body.
    pub fn pending(&self) -> Vec<MetricSample> {
        let mut links = 0;
        self.pending
            .iter()
            .take(MAX_SAMPLES_PER_REPORT)
            .take_while(|s| {
                let first = links == 0;
                links += s.links.len().max(1);
                first || links <= LINK_MINUTES_PER_REPORT
            })
            .cloned()
            .collect()
    }

    /// Forgets the samples the control plane holds.
    pub fn acknowledge(&mut self, through: u64) {
        while self.pending.front().is_some_and(|s| s.seq <= through) {
            self.pending.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{LinkStatus, MkaStatus};

    fn status(links: &[(u64, u64)]) -> GatewayStatus {
        GatewayStatus {
            links: links
                .iter()
                .map(|&(id, tx_bytes)| LinkStatus {
                    name: format!("l{id}"),
                    id: Some(id),
                    mka: MkaStatus {
                        state: MkaState::Secured,
                        ..MkaStatus::default()
                    },
                    counters: LinkCounters {
                        tx_bytes,
                        tx_packets: tx_bytes / 100,
                        ..LinkCounters::default()
                    },
                    ..LinkStatus::default()
                })
                .collect(),
            ..GatewayStatus::default()
        }
    }

    fn no_probes(_: u64) -> ProbeMinute {
        ProbeMinute::default()
    }

    const T0: i64 = 1_800_000_000; // a minute boundary
    const NO_PEERS: BTreeMap<u64, String> = BTreeMap::new();

    #[test]
    fn a_minute_holds_the_difference_of_the_counters() {
        let mut s = Sampler::new();
        s.tick(T0 + 10, &status(&[(1, 1_000)]), &NO_PEERS, &mut no_probes);
        s.tick(T0 + 30, &status(&[(1, 5_000)]), &NO_PEERS, &mut no_probes);
        assert!(s.pending().is_empty(), "the minute is not over");
        s.tick(T0 + 61, &status(&[(1, 7_000)]), &NO_PEERS, &mut no_probes);
        let p = s.pending();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].seq, p[0].minute), (1, T0));
        assert_eq!(
            (p[0].links[0].tx_bytes, p[0].links[0].secs),
            (6_000, 51),
            "from the first look, 10 s into the minute"
        );
        s.tick(T0 + 121, &status(&[(1, 9_000)]), &NO_PEERS, &mut no_probes);
        let p = s.pending();
        assert_eq!((p[1].seq, p[1].minute), (2, T0 + 60));
        assert_eq!((p[1].links[0].tx_bytes, p[1].links[0].secs), (2_000, 60));
        s.acknowledge(1);
        assert_eq!(s.pending().len(), 1);
        assert_eq!(s.pending()[0].seq, 2);
    }

    /// A link whose counters go down (recreated) counts from zero again: no spike, no wrap.
    #[test]
    fn a_reset_counts_from_zero_and_a_new_link_from_the_minute_start() {
        let mut s = Sampler::new();
        s.tick(T0 + 1, &status(&[(1, 50_000)]), &NO_PEERS, &mut no_probes);
        s.tick(
            T0 + 61,
            &status(&[(1, 3_000), (2, 4_000)]),
            &NO_PEERS,
            &mut no_probes,
        );
        let links = &s.pending()[0].links;
        assert_eq!((links[0].tx_bytes, links[1].tx_bytes), (3_000, 4_000));
        assert_eq!(
            links[1].secs, 61,
            "the new link counted from the minute's start"
        );
    }

    #[test]
    fn probes_and_sessions_go_into_the_minute() {
        let mut s = Sampler::new();
        let mut st = status(&[(1, 0)]);
        st.bgp = Some(crate::status::RoutingStatus {
            neighbors: vec![xc_types::gateway::NeighborStatus {
                address: "169.254.0.1".into(),
                state: BgpState::Established,
                prefixes_accepted: 3,
                prefixes_sent: 2,
                ..Default::default()
            }],
            ..Default::default()
        });
        let peers: BTreeMap<u64, String> = [(1, "169.254.0.1".to_owned())].into();
        s.tick(T0, &st, &peers, &mut no_probes);
        let mut probes = |id: u64| ProbeMinute {
            sent: 60,
            answered: 57,
            rtts_us: vec![100 * id, 300 * id],
        };
        s.tick(T0 + 60, &st, &peers, &mut probes);
        let l = &s.pending()[0].links[0];
        assert_eq!((l.probes_sent, l.probes_answered), (60, 57));
        assert_eq!(
            l.rtt.map(|r| (r.min_us, r.avg_us, r.max_us)),
            Some((100, 200, 300))
        );
        assert!(l.secured && l.bgp_established);
        assert_eq!((l.prefixes_accepted, l.prefixes_advertised), (3, 2));
    }

    #[test]
    fn unacknowledged_samples_are_bounded() {
        let mut s = Sampler::new();
        for i in 0..(MAX_PENDING_SAMPLES as i64 + 10) {
            s.tick(T0 + 60 * i, &status(&[(1, 0)]), &NO_PEERS, &mut no_probes);
        }
        assert_eq!(s.pending.len(), MAX_PENDING_SAMPLES);
        assert_eq!(s.dropped, 9);
        assert_eq!(s.pending().len(), MAX_SAMPLES_PER_REPORT);
        assert_eq!(s.pending()[0].seq, 10, "the oldest went first");
    }

    #[test]
    fn a_report_carries_a_bounded_number_of_link_minutes() {
        let mut s = Sampler::new();
        let many: Vec<(u64, u64)> = (1..=900).map(|i| (i, 0)).collect();
        for i in 0..4 {
            s.tick(T0 + 60 * i, &status(&many), &NO_PEERS, &mut no_probes);
        }
        assert_eq!(s.pending.len(), 3);
        assert_eq!(s.pending().len(), 2, "1,800 link minutes, not 2,700");
        let huge: Vec<(u64, u64)> = (1..=3_000).map(|i| (i, 0)).collect();
        let mut s = Sampler::new();
        for i in 0..3 {
            s.tick(T0 + 60 * i, &status(&huge), &NO_PEERS, &mut no_probes);
        }
        assert_eq!(s.pending().len(), 1, "one sample however large");
    }
}
