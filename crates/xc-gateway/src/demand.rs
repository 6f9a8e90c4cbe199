//! What each link sent lately, and whether its part of a shared bandwidth held it back: the
//! demand a managed gateway reports, by which the control plane moves the parts
//! (`xc_control::share`). Pure: counters and instants in, [`LinkDemand`]s out.
//!
//! A link's demand is measured over the last [`WINDOW`] from its status counters (`txBytes`,
//! and `txShaped`, the frames the shaper held back). It is `limited` when the shaper held frames
//! back in that window while the link sent at least half its part: a link that sends little
//! but in bursts (an application that is not asking for more) is not `limited` by a burst that
//! met an empty bucket. A link whose counters went down was restarted: it is measured afresh.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};
use xc_types::gateway::{LinkDemand, LinkStatus};

/// How far back a link's demand is measured.
pub const WINDOW: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    tx_bytes: u64,
    tx_shaped: u64,
}

#[derive(Debug, Default)]
struct History {
    /// Oldest first; the oldest is at or before the window's start once there is enough.
    samples: VecDeque<Sample>,
    egress_bps: Option<u64>,
}

/// The demand of a gateway's links (those with a control-plane id).
#[derive(Debug, Default)]
pub struct DemandMeter {
    links: BTreeMap<u64, History>,
}

impl DemandMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the links' counters as they are `now`; links that are gone are forgotten.
    pub fn tick(&mut self, now: Instant, links: &[LinkStatus]) {
        self.links
            .retain(|id, _| links.iter().any(|l| l.id == Some(*id)));
        for l in links {
            let Some(id) = l.id else { continue };
            let h = self.links.entry(id).or_default();
            let s = Sample {
                at: now,
                tx_bytes: l.counters.tx_bytes,
                tx_shaped: l.counters.tx_shaped,
            };
            if h.samples
                .back()
                .is_some_and(|b| s.tx_bytes < b.tx_bytes || s.tx_shaped < b.tx_shaped)
            {
                h.samples.clear();
            }
            h.samples.push_back(s);
            h.egress_bps = l.egress_bps;
            // Keep one sample at or before the window's start, none older.
            while h.samples.len() > 2 && h.samples[1].at <= now.checked_sub(WINDOW).unwrap_or(now) {
                h.samples.pop_front();
            }
        }
    }

    /// A link's demand over the window (or as much of it as was seen); none for a link seen
    /// once or not at all.
    pub fn demand(&self, id: u64) -> Option<LinkDemand> {
        let h = self.links.get(&id)?;
        let (first, last) = (h.samples.front()?, h.samples.back()?);
        let secs = last.at.saturating_duration_since(first.at).as_secs_f64();
        if secs <= 0.0 {
            return None;
        }
        let bps = ((last.tx_bytes - first.tx_bytes) as f64 * 8.0 / secs) as u64;
        let held = last.tx_shaped > first.tx_shaped;
        let limited = held
            && h.egress_bps
                .is_some_and(|part| bps.saturating_mul(2) >= part);
        Some(LinkDemand { bps, limited })
    }

    /// The links that are `limited` now.
    pub fn limited(&self) -> BTreeSet<u64> {
        self.links
            .keys()
            .copied()
            .filter(|id| self.demand(*id).is_some_and(|d| d.limited))
            .collect()
    }

    /// Puts each link's demand into its status (for the report).
    pub fn fill(&self, links: &mut [LinkStatus]) {
        for l in links {
            l.demand = l.id.and_then(|id| self.demand(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(id: u64, tx_bytes: u64, tx_shaped: u64, egress_bps: Option<u64>) -> LinkStatus {
        let mut l = LinkStatus {
            id: Some(id),
            egress_bps,
            ..LinkStatus::default()
        };
        l.counters.tx_bytes = tx_bytes;
        l.counters.tx_shaped = tx_shaped;
        l
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_rate_is_over_the_last_half_second() {
        let mut m = DemandMeter::new();
        let t0 = Instant::now();
        assert_eq!(m.demand(1), None, "not seen");
        m.tick(t0, &[link(1, 0, 0, Some(100_000_000))]);
        assert_eq!(m.demand(1), None, "seen once");
        // 1 MB a quarter second: 32 Mbit/s. Then 2 MB a quarter second: 64 Mbit/s.
        m.tick(t0 + 250 * MS, &[link(1, 1_000_000, 0, Some(100_000_000))]);
        assert_eq!(m.demand(1).map(|d| d.bps), Some(32_000_000));
        m.tick(t0 + 500 * MS, &[link(1, 2_000_000, 0, Some(100_000_000))]);
        m.tick(t0 + 750 * MS, &[link(1, 4_000_000, 0, Some(100_000_000))]);
        // The window is 250..750 ms: 3 MB in half a second.
        assert_eq!(m.demand(1).map(|d| d.bps), Some(48_000_000));
        assert!(
            !m.demand(1).expect("demand").limited,
            "nothing was held back"
        );
    }

    #[test]
    fn limited_only_when_held_back_while_sending_half_its_part() {
        let mut m = DemandMeter::new();
        let t0 = Instant::now();
        let part = Some(80_000_000); // 10 MB/s
        m.tick(t0, &[link(1, 0, 0, part), link(2, 0, 0, part)]);
        // Link 1 sends at its part (5 MB in half a second) and is held back; link 2 sends a
        // burst of 1 MB that met an empty bucket once.
        m.tick(
            t0 + 500 * MS,
            &[link(1, 5_000_000, 40, part), link(2, 1_000_000, 1, part)],
        );
        assert_eq!(
            m.demand(1),
            Some(LinkDemand {
                bps: 80_000_000,
                limited: true
            })
        );
        assert_eq!(
            m.demand(2),
            Some(LinkDemand {
                bps: 16_000_000,
                limited: false
            })
        );
        assert_eq!(m.limited(), BTreeSet::from([1]));
        let mut statuses = vec![link(1, 0, 0, part), link(2, 0, 0, part)];
        m.fill(&mut statuses);
        assert!(statuses[0].demand.is_some_and(|d| d.limited));
        assert!(statuses[1].demand.is_some_and(|d| !d.limited));
    }

    #[test]
    fn a_restarted_link_is_measured_afresh_and_a_gone_one_forgotten() {
        let mut m = DemandMeter::new();
        let t0 = Instant::now();
        m.tick(t0, &[link(1, 9_000_000, 5, None)]);
        m.tick(t0 + 250 * MS, &[link(1, 10_000_000, 5, None)]);
        assert!(m.demand(1).is_some());
        // Counters from zero again: no negative rate, no rate until two samples.
        m.tick(t0 + 500 * MS, &[link(1, 100, 0, None)]);
        assert_eq!(m.demand(1), None);
        m.tick(t0 + 750 * MS, &[link(1, 250_100, 0, None)]);
        assert_eq!(m.demand(1).map(|d| d.bps), Some(8_000_000));
        m.tick(t0 + 1000 * MS, &[]);
        assert_eq!(m.demand(1), None);
        assert!(m.limited().is_empty());
    }
}
