//! Connection metrics from the stored link minutes (pure): each metric's value per minute, seen
//! from one side of the connection (its gateways' measurements: egress is what that side sent),
//! for one link or the connection as a whole, then a statistic per period over those values.
//!
//! The connection as a whole: traffic sums over its links; RTT is the mean over the links'
//! answered probes; loss is over all links' probes; jitter is the mean over links; the state
//! metrics are 1 when any link (`ConnectionState`, `BgpStatus`) or every link
//! (`ConnectionEncryptionState`) qualifies; prefix counts are the most any link has. See
//! [`MetricName::describe`] for each.

use std::collections::BTreeMap;
use xc_store::LinkMinute;
use xc_types::api::metrics::{DropCause, MetricName, Statistic};
use xc_types::gateway::LinkSample;

/// What a query looks at: one side's ends, maybe one link, maybe one cause of drops.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View {
    pub is_b: bool,
    pub link: Option<u64>,
    pub cause: Option<DropCause>,
    /// The connection's bandwidth, bits per second.
    pub bandwidth_bps: f64,
}

/// Per second over the seconds each end's counts cover, summed over the ends.
fn rate(own: &[&LinkSample], f: impl Fn(&LinkSample) -> u64) -> f64 {
    own.iter()
        .map(|s| f(s) as f64 / f64::from(s.secs.max(1)))
        .sum()
}

fn drops(s: &LinkSample, cause: Option<DropCause>) -> u64 {
    let d = s.drops;
    match cause {
        None => d.total(),
        Some(DropCause::Policer) => d.policer,
        Some(DropCause::Replay) => d.replay,
        Some(DropCause::Icv) => d.icv,
        Some(DropCause::NoSa) => d.no_sa,
        Some(DropCause::Invalid) => d.invalid,
    }
}

/// A metric's value for one minute from the side's ends of that minute (none: no data).
fn value(metric: MetricName, own: &[&LinkSample], v: &View) -> Option<f64> {
    if own.is_empty() {
        return None;
    }
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    Some(match metric {
        MetricName::ConnectionState => flag(own.iter().any(|s| s.secured && s.bgp_established)),
        MetricName::ConnectionBpsEgress => rate(own, |s| s.tx_bytes) * 8.0,
        MetricName::ConnectionBpsIngress => rate(own, |s| s.rx_bytes) * 8.0,
        MetricName::ConnectionPpsEgress => rate(own, |s| s.tx_packets),
        MetricName::ConnectionPpsIngress => rate(own, |s| s.rx_packets),
        MetricName::ConnectionErrorCount => own
            .iter()
            .map(|s| s.drops.icv + s.drops.replay + s.drops.invalid)
            .sum::<u64>() as f64,
        MetricName::ConnectionEncryptionState => flag(own.iter().all(|s| s.secured)),
        MetricName::BgpStatus => flag(own.iter().any(|s| s.bgp_established)),
        MetricName::BgpPrefixesAccepted => {
            own.iter().map(|s| s.prefixes_accepted).max().unwrap_or(0) as f64
        }
        MetricName::BgpPrefixesAdvertised => {
            own.iter().map(|s| s.prefixes_advertised).max().unwrap_or(0) as f64
        }
        MetricName::ConnectionRttMilliseconds => {
            let (mut n, mut sum) = (0u64, 0f64);
            for s in own {
                if let Some(r) = s.rtt {
                    n += u64::from(s.probes_answered);
                    sum += r.avg_us as f64 * f64::from(s.probes_answered);
                }
            }
            if n == 0 {
                return None;
            }
            sum / n as f64 / 1000.0
        }
        MetricName::ConnectionPacketLossPercent => {
            let sent: u64 = own.iter().map(|s| u64::from(s.probes_sent)).sum();
            let answered: u64 = own.iter().map(|s| u64::from(s.probes_answered)).sum();
            if sent == 0 {
                return None;
            }
            sent.saturating_sub(answered) as f64 * 100.0 / sent as f64
        }
        MetricName::ConnectionJitterMilliseconds => {
            let j: Vec<f64> = own
                .iter()
                .filter_map(|s| s.rtt.map(|r| r.jitter_us as f64 / 1000.0))
                .collect();
            if j.is_empty() {
                return None;
            }
            j.iter().sum::<f64>() / j.len() as f64
        }
        MetricName::ConnectionBandwidthUtilizationPercent => {
            if v.bandwidth_bps <= 0.0 {
                return None;
            }
            let busier = rate(own, |s| s.tx_bytes).max(rate(own, |s| s.rx_bytes)) * 8.0;
            busier * 100.0 / v.bandwidth_bps
        }
        MetricName::ConnectionDroppedPackets => {
            own.iter().map(|s| drops(s, v.cause)).sum::<u64>() as f64
        }
    })
}

/// The metric's value for each minute that has data, oldest first.
pub(crate) fn per_minute(metric: MetricName, rows: &[LinkMinute], v: &View) -> Vec<(i64, f64)> {
    let mut minutes: BTreeMap<i64, Vec<&LinkSample>> = BTreeMap::new();
    for r in rows {
        if r.is_b == v.is_b && v.link.is_none_or(|l| l == r.sample.id) {
            minutes.entry(r.minute).or_default().push(&r.sample);
        }
    }
    minutes
        .into_iter()
        .filter_map(|(m, own)| value(metric, &own, v).map(|x| (m, x)))
        .collect()
}

/// The statistic of each period (from `start`, `period` seconds each) that has values.
pub(crate) fn per_period(
    values: &[(i64, f64)],
    start: i64,
    period: i64,
    stat: Statistic,
) -> Vec<(i64, f64)> {
    let mut periods: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for &(t, x) in values {
        if t >= start {
            let p = start + (t - start) / period * period;
            periods.entry(p).or_default().push(x);
        }
    }
    periods
        .into_iter()
        .filter_map(|(p, xs)| stat.of(&xs).map(|x| (p, x)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xc_types::gateway::{DropCounts, RttStats};

    fn minute(minute: i64, id: u64, is_b: bool, tx_bytes: u64, probes: (u32, u32)) -> LinkMinute {
        LinkMinute {
            minute,
            is_b,
            sample: LinkSample {
                id,
                secs: 60,
                tx_bytes,
                rx_bytes: tx_bytes / 2,
                tx_packets: tx_bytes / 1000,
                probes_sent: probes.0,
                probes_answered: probes.1,
                rtt: (probes.1 > 0).then_some(RttStats {
                    min_us: 100,
                    avg_us: 200 * id,
                    p99_us: 300,
                    max_us: 400,
                    jitter_us: 50,
                }),
                drops: DropCounts {
                    policer: 3,
                    icv: 1,
                    ..DropCounts::default()
                },
                secured: true,
                bgp_established: id == 1,
                ..LinkSample::default()
            },
        }
    }

    const VIEW: View = View {
        is_b: false,
        link: None,
        cause: None,
        bandwidth_bps: 1e6,
    };

    #[test]
    fn traffic_sums_over_links_and_each_side_sees_its_own() {
        let rows = vec![
            minute(60, 1, false, 60_000, (60, 60)),
            minute(60, 2, false, 30_000, (60, 54)),
            minute(60, 1, true, 6_000, (60, 60)),
            minute(120, 1, false, 120_000, (60, 60)),
        ];
        let m = |metric, v: &View| per_minute(metric, &rows, v);
        assert_eq!(
            m(MetricName::ConnectionBpsEgress, &VIEW),
            vec![(60, 12_000.0), (120, 16_000.0)]
        );
        let b = View { is_b: true, ..VIEW };
        assert_eq!(m(MetricName::ConnectionBpsEgress, &b), vec![(60, 800.0)]);
        let one = View {
            link: Some(2),
            ..VIEW
        };
        assert_eq!(
            m(MetricName::ConnectionBpsEgress, &one),
            vec![(60, 4_000.0)]
        );
        // Loss over all links' probes: 6 of 120; RTT weighted by answered probes.
        assert_eq!(m(MetricName::ConnectionPacketLossPercent, &VIEW)[0].1, 5.0);
        let rtt = m(MetricName::ConnectionRttMilliseconds, &VIEW)[0].1;
        assert!((rtt - (200.0 * 60.0 + 400.0 * 54.0) / 114.0 / 1000.0).abs() < 1e-9);
        assert_eq!(m(MetricName::ConnectionState, &VIEW)[0].1, 1.0);
        assert_eq!(m(MetricName::BgpStatus, &one)[0].1, 0.0);
        assert_eq!(m(MetricName::ConnectionDroppedPackets, &VIEW)[0].1, 8.0);
        let policer = View {
            cause: Some(DropCause::Policer),
            ..VIEW
        };
        assert_eq!(m(MetricName::ConnectionDroppedPackets, &policer)[0].1, 6.0);
        assert_eq!(m(MetricName::ConnectionErrorCount, &VIEW)[0].1, 2.0);
        // 12 kbit/s egress and 6 kbit/s ingress of 1 Mbit/s.
        assert_eq!(
            m(MetricName::ConnectionBandwidthUtilizationPercent, &VIEW)[0].1,
            1.2
        );
    }

    #[test]
    fn periods_take_a_statistic_of_their_minutes() {
        let v = [(0, 1.0), (60, 3.0), (300, 10.0), (360, 20.0)];
        assert_eq!(
            per_period(&v, 0, 300, Statistic::Average),
            vec![(0, 2.0), (300, 15.0)]
        );
        assert_eq!(
            per_period(&v, 0, 300, Statistic::Maximum),
            vec![(0, 3.0), (300, 20.0)]
        );
        assert_eq!(per_period(&v, 60, 60, Statistic::Sum).len(), 3);
    }
}
