//! What a managed gateway measures, a minute at a time, and pushes to the control plane with its
//! status reports: per link, the traffic and drops of that minute (differences of its counters,
//! so a gateway restart starts again from zero rather than making a spike), the STAMP probes'
//! round trips, and the sessions' state when the minute closed.
//!
//! Samples carry a sequence number within the gateway process's life (`boot`); the control plane
//! stores each once and answers the highest it holds ([`ReportAck`]), and the gateway keeps the
//! ones not yet acknowledged, a bounded number, so a lost report is sent again and a long outage
//! shows as a gap.

use serde::{Deserialize, Serialize};

/// Most samples a gateway keeps unacknowledged (two hours of minutes); older ones are dropped.
pub const MAX_PENDING_SAMPLES: usize = 120;
/// Most samples in one report.
pub const MAX_SAMPLES_PER_REPORT: usize = 60;
/// Most links in one sample (a gateway's links, with room to spare).
pub const MAX_LINKS_PER_SAMPLE: usize = 4096;
/// Most round-trip times a link keeps for one minute (one probe a second, with room).
pub const MAX_RTTS_PER_MINUTE: usize = 120;

/// One closed minute of a gateway's links.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricSample {
    /// Within the gateway process's life, from 1.
    pub seq: u64,
    /// The minute's start, Unix seconds (a multiple of 60).
    pub minute: i64,
    pub links: Vec<LinkSample>,
}

/// One link's minute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkSample {
    /// The control plane's id of the link.
    pub id: u64,
    /// Seconds the counts cover (rates are the counts over these): about 60, a second more as
    /// the minute closes a moment after its end; less when the gateway started within it.
    pub secs: u32,
    /// Frames sent to the peer and their bytes (inner Ethernet frames).
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Frames received from the peer, validated, and their bytes.
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub drops: DropCounts,
    /// STAMP probes sent to the peer, and answered.
    pub probes_sent: u32,
    pub probes_answered: u32,
    /// Round trips of the answered probes, microseconds: minimum, mean, 99th percentile,
    /// maximum, and the mean difference between consecutive ones (jitter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt: Option<RttStats>,
    /// When the minute closed: MKA secured, the link's BGP session Established, and its
    /// prefixes accepted and advertised.
    pub secured: bool,
    pub bgp_established: bool,
    pub prefixes_accepted: u64,
    pub prefixes_advertised: u64,
}

/// Frames dropped in one minute, by cause.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct DropCounts {
    /// Over the bandwidth: by the egress and the ingress policer.
    pub policer: u64,
    /// MACsec replays (late frames).
    pub replay: u64,
    /// MACsec frames whose ICV did not verify.
    pub icv: u64,
    /// Not sent: no transmit SA yet (MKA not secured).
    pub no_sa: u64,
    /// Other MACsec validation failures (bad tag, unknown SCI, no receive SA).
    pub invalid: u64,
}

impl DropCounts {
    pub fn total(&self) -> u64 {
        self.policer + self.replay + self.icv + self.no_sa + self.invalid
    }
}

/// Round-trip statistics of one minute, microseconds.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct RttStats {
    pub min_us: u64,
    pub avg_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub jitter_us: u64,
}

impl RttStats {
    /// The statistics of round trips in the order they were measured; none without any.
    pub fn of(rtts_us: &[u64]) -> Option<Self> {
        if rtts_us.is_empty() {
            return None;
        }
        let mut sorted = rtts_us.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let jitter = if n > 1 {
            rtts_us.windows(2).map(|w| w[0].abs_diff(w[1])).sum::<u64>() / (n as u64 - 1)
        } else {
            0
        };
        Some(Self {
            min_us: sorted[0],
            avg_us: sorted.iter().sum::<u64>() / n as u64,
            p99_us: sorted[percentile_index(n, 99.0)],
            max_us: sorted[n - 1],
            jitter_us: jitter,
        })
    }
}

/// The index of the `p`th percentile in `n` sorted values (nearest rank).
pub fn percentile_index(n: usize, p: f64) -> usize {
    let rank = (p / 100.0 * n as f64).ceil() as usize;
    rank.clamp(1, n.max(1)) - 1
}

/// What the control plane answers a status report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportAck {
    /// The highest sample sequence number of this boot it holds: the gateway forgets those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_through: Option<u64>,
    /// Each of the gateway's links' part of its connection's bandwidth on egress, set by demand
    /// (`xc_control::share`); a link left out keeps the part it has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<EgressShare>,
}

/// One link's part of its connection's bandwidth on egress: the rate its transmit side shapes
/// to, until the next report's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EgressShare {
    /// The control plane's id of the link.
    pub link: u64,
    pub bps: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_statistics() {
        let s = RttStats::of(&[300, 100, 200, 400]).expect("stats");
        assert_eq!(
            (s.min_us, s.avg_us, s.p99_us, s.max_us, s.jitter_us),
            (100, 250, 400, 400, 166)
        );
        assert_eq!(RttStats::of(&[]), None);
        assert_eq!(RttStats::of(&[5]).map(|s| s.jitter_us), Some(0));
        let many: Vec<u64> = (1..=100).collect();
        assert_eq!(RttStats::of(&many).map(|s| s.p99_us), Some(99));
    }
}
