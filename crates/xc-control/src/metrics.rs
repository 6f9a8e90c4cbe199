//! Connection metrics from the stored link minutes (pure): each metric's value per minute, seen
//! from one side of the connection (its gateways' measurements: egress is what that side sent),
//! for one link or the connection as a whole, then a statistic per period over those values.
//!
//! A rolled-up row (5 minutes or an hour) gives one value for its span, weighted by the minutes
//! it holds: the span's rate, loss and RTT over its sums, a count metric per minute on average,
//! a state metric as the share of its minutes in that state (1 when always, 0 when never). So
//! `Average`, `Sum` and `SampleCount` of a period come out the same from minutes or rollups;
//! `Minimum`, `Maximum` and percentiles of rolled-up rows are of their spans' values.
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

/// A metric's value at a time, and how many minutes it stands for.
pub(crate) type Value = (i64, f64, f64);

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

/// The share of a row's minutes `count` counts.
fn share(r: &LinkMinute, count: impl Fn(&LinkMinute) -> u32) -> f64 {
    f64::from(count(r)) / f64::from(r.minutes.max(1))
}

/// A metric's value for one row's time from the side's ends of that time (none: no data).
fn value(metric: MetricName, rows: &[&LinkMinute], v: &View) -> Option<f64> {
    if rows.is_empty() {
        return None;
    }
    let own: Vec<&LinkSample> = rows.iter().map(|r| &r.sample).collect();
    let own = own.as_slice();
    // Minutes the row stands for: count metrics are per minute.
    let minutes = f64::from(rows.iter().map(|r| r.minutes).max().unwrap_or(1).max(1));
    let most =
        |count: fn(&LinkMinute) -> u32| rows.iter().map(|r| share(r, count)).fold(0.0, f64::max);
    Some(match metric {
        MetricName::ConnectionState => most(|r| r.up_minutes),
        MetricName::ConnectionBpsEgress => rate(own, |s| s.tx_bytes) * 8.0,
        MetricName::ConnectionBpsIngress => rate(own, |s| s.rx_bytes) * 8.0,
        MetricName::ConnectionPpsEgress => rate(own, |s| s.tx_packets),
        MetricName::ConnectionPpsIngress => rate(own, |s| s.rx_packets),
        MetricName::ConnectionErrorCount => {
            own.iter()
                .map(|s| s.drops.icv + s.drops.replay + s.drops.invalid)
                .sum::<u64>() as f64
                / minutes
        }
        MetricName::ConnectionEncryptionState => rows
            .iter()
            .map(|r| share(r, |r| r.secured_minutes))
            .fold(1.0, f64::min),
        MetricName::BgpStatus => most(|r| r.bgp_minutes),
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
            own.iter().map(|s| drops(s, v.cause)).sum::<u64>() as f64 / minutes
        }
    })
}

/// The side's rows grouped by their time, oldest first.
pub(crate) fn by_time<'a>(rows: &'a [LinkMinute], v: &View) -> Vec<(i64, Vec<&'a LinkMinute>)> {
    let mut times: BTreeMap<i64, Vec<&LinkMinute>> = BTreeMap::new();
    for r in rows {
        if r.is_b == v.is_b && v.link.is_none_or(|l| l == r.sample.id) {
            times.entry(r.minute).or_default().push(r);
        }
    }
    times.into_iter().collect()
}

/// The metric's value at each time that has data (rows grouped by [`by_time`]), oldest first.
pub(crate) fn values(
    metric: MetricName,
    times: &[(i64, Vec<&LinkMinute>)],
    v: &View,
) -> Vec<Value> {
    times
        .iter()
        .filter_map(|(t, rows)| {
            let minutes = rows.iter().map(|r| r.minutes).max().unwrap_or(1).max(1);
            value(metric, rows, v).map(|x| (*t, x, f64::from(minutes)))
        })
        .collect()
}

/// The metric's value for each time that has data, oldest first.
pub(crate) fn per_minute(metric: MetricName, rows: &[LinkMinute], v: &View) -> Vec<Value> {
    values(metric, &by_time(rows, v), v)
}

/// The statistic of a period's values, each standing for `w` minutes: `Average`, `Sum` and
/// `SampleCount` weigh them, the others take them as they are.
fn weighted(stat: Statistic, values: &[(f64, f64)]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let weight: f64 = values.iter().map(|&(_, w)| w).sum();
    let sum: f64 = values.iter().map(|&(x, w)| x * w).sum();
    match stat {
        Statistic::Average => Some(sum / weight.max(f64::MIN_POSITIVE)),
        Statistic::Sum => Some(sum),
        Statistic::SampleCount => Some(weight),
        _ => stat.of(&values.iter().map(|&(x, _)| x).collect::<Vec<_>>()),
    }
}

/// The statistic of each period (from `start`, `period` seconds each) that has values.
pub(crate) fn per_period(
    values: &[Value],
    start: i64,
    period: i64,
    stat: Statistic,
) -> Vec<(i64, f64)> {
    let mut periods: BTreeMap<i64, Vec<(f64, f64)>> = BTreeMap::new();
    for &(t, x, w) in values {
        if t >= start {
            let p = start + (t - start) / period * period;
            periods.entry(p).or_default().push((x, w));
        }
    }
    periods
        .into_iter()
        .filter_map(|(p, xs)| weighted(stat, &xs).map(|x| (p, x)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xc_types::gateway::{DropCounts, RttStats};

    fn minute(minute: i64, id: u64, is_b: bool, tx_bytes: u64, probes: (u32, u32)) -> LinkMinute {
        LinkMinute::minute(
            minute,
            is_b,
            LinkSample {
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
        )
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
        let m = |metric, v: &View| -> Vec<(i64, f64)> {
            per_minute(metric, &rows, v)
                .into_iter()
                .map(|(t, x, _)| (t, x))
                .collect()
        };
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
        let v = [
            (0, 1.0, 1.0),
            (60, 3.0, 1.0),
            (300, 10.0, 1.0),
            (360, 20.0, 1.0),
        ];
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

    #[test]
    fn a_rolled_up_row_gives_the_average_and_sum_of_its_minutes() {
        // Five minutes of one link: 60 kB, 120 kB, ... sent, one minute down, two drops each.
        let minutes: Vec<LinkMinute> = (0..5)
            .map(|k| {
                let mut m = minute(
                    k * 60,
                    1,
                    false,
                    60_000 * (k as u64 + 1),
                    (60, 60 - k as u32),
                );
                if k == 4 {
                    m = LinkMinute::minute(
                        m.minute,
                        false,
                        LinkSample {
                            secured: false,
                            ..m.sample
                        },
                    );
                }
                m
            })
            .collect();
        // The same five minutes as the store rolls them up.
        let sum = |f: fn(&LinkSample) -> u64| minutes.iter().map(|m| f(&m.sample)).sum::<u64>();
        let rolled = LinkMinute {
            minute: 0,
            is_b: false,
            minutes: 5,
            up_minutes: 4,
            secured_minutes: 4,
            bgp_minutes: 5,
            sample: LinkSample {
                id: 1,
                secs: 300,
                tx_bytes: sum(|s| s.tx_bytes),
                probes_sent: 300,
                probes_answered: 290,
                drops: DropCounts {
                    policer: 15,
                    icv: 5,
                    ..DropCounts::default()
                },
                secured: false,
                bgp_established: true,
                ..LinkSample::default()
            },
        };
        for metric in [
            MetricName::ConnectionBpsEgress,
            MetricName::ConnectionState,
            MetricName::ConnectionEncryptionState,
            MetricName::ConnectionDroppedPackets,
            MetricName::ConnectionPacketLossPercent,
        ] {
            for stat in [Statistic::Average, Statistic::Sum, Statistic::SampleCount] {
                let fine = per_period(&per_minute(metric, &minutes, &VIEW), 0, 300, stat);
                let coarse = per_period(
                    &per_minute(metric, std::slice::from_ref(&rolled), &VIEW),
                    0,
                    300,
                    stat,
                );
                assert_eq!(fine.len(), 1, "{metric:?}");
                assert!(
                    (fine[0].1 - coarse[0].1).abs() < 1e-9,
                    "{metric:?} {stat}: {fine:?} from minutes, {coarse:?} rolled up"
                );
            }
        }
    }
}
