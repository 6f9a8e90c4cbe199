//! Usage and cost, pure. An hour of a connection is metered from its history (the seconds in a
//! billable state at each bandwidth, the seconds down and when) and its traffic, at the prices in
//! force then; a month's statement prices the metered hours line by line, credits what the SLA
//! owes, and says what the same would have cost over a VPN; a what-if compares the three ways.
//!
//! Billable states: `available`, `down` and `updating` (the connection holds its capacity; a
//! `down` minute is billed and then counts against the SLA). Not `requested` or `pending` (nothing
//! is carried yet), nor `deleting`, `deleted` or `failed`.

use crate::catalog::{PublicComparator, Sla, VpnComparator};
use std::collections::BTreeMap;
use xc_types::ConnectionState;

/// Hours in a month, for a what-if (AWS's convention: 730).
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Bytes in a GB (decimal, as AWS bills).
pub const BYTES_PER_GB: f64 = 1e9;

pub fn billable(s: ConnectionState) -> bool {
    matches!(
        s,
        ConnectionState::Available | ConnectionState::Down | ConnectionState::Updating
    )
}

/// From `at` on, the connection is in `state` at `bandwidth_mbps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub at: i64,
    pub state: ConnectionState,
    pub bandwidth_mbps: u64,
}

/// One hour of a connection, from its history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HourMeter {
    /// Seconds in a billable state at each bandwidth (Mbps).
    pub billable: BTreeMap<u64, i64>,
    /// Seconds `down` (within the billable ones).
    pub down_secs: i64,
    /// When it was down: `[start, end)` within the hour.
    pub outages: Vec<(i64, i64)>,
}

impl HourMeter {
    pub fn is_empty(&self) -> bool {
        self.billable.is_empty()
    }
}

/// Meters the hour from `hour` (its first second) from the connection's history (oldest first):
/// before its first change the connection did not exist.
pub fn meter_hour(history: &[Change], hour: i64) -> HourMeter {
    let end = hour + 3600;
    let mut m = HourMeter::default();
    for (i, c) in history.iter().enumerate() {
        let from = c.at.max(hour);
        let to = history.get(i + 1).map_or(end, |n| n.at.min(end));
        if to <= from || !billable(c.state) {
            continue;
        }
        *m.billable.entry(c.bandwidth_mbps).or_default() += to - from;
        if c.state == ConnectionState::Down {
            m.down_secs += to - from;
            match m.outages.last_mut() {
                Some(last) if last.1 == from => last.1 = to,
                _ => m.outages.push((from, to)),
            }
        }
    }
    m
}

/// An amount rounded to the cent (half away from zero; never -0, which an empty sum is).
pub fn cents(v: f64) -> f64 {
    (v * 100.0).round() / 100.0 + 0.0
}

/// A metered hour of a connection, priced as it was metered.
#[derive(Debug, Clone, PartialEq)]
pub struct MeteredHour {
    pub connection: String,
    pub environment: String,
    pub hour: i64,
    /// Billable seconds at each (bandwidth Mbps, price per hour).
    pub tiers: Vec<(u64, i64, f64)>,
    pub down_secs: i64,
    pub outages: Vec<(i64, i64)>,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub per_gb: f64,
}

/// What a statement line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LineKind {
    ConnectionHours,
    DataTransferOut,
    DataTransferIn,
}

/// One line: `quantity` of `kind` at `unit_price`.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub connection: String,
    pub kind: LineKind,
    /// The bandwidth of connection hours (Mbps).
    pub bandwidth_mbps: Option<u64>,
    /// Hours (to 1/3600) or GB.
    pub quantity: f64,
    pub unit_price: f64,
    pub amount: f64,
}

/// A maintenance window announced far enough ahead to be left out of the SLA: `[start, end)`,
/// for one environment's connections or (none) every one's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    pub environment: Option<String>,
}

/// The seconds two sets of spans share (each set sorted and not overlapping itself).
pub fn shared_secs(a: &[(i64, i64)], b: &[(i64, i64)]) -> i64 {
    let mut total = 0;
    for &(s1, e1) in a {
        for &(s2, e2) in b {
            total += (e1.min(e2) - s1.max(s2)).max(0);
        }
    }
    total
}

/// Spans merged where they touch or overlap, sorted.
fn merged(mut spans: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// A connection's availability over the month and what the SLA owes for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Credit {
    pub connection: String,
    /// Percent of its billable minutes (less those in maintenance windows) it was not down.
    pub availability_percent: f64,
    /// Billable minutes left out for maintenance windows announced in time.
    pub excluded_minutes: f64,
    pub credit_percent: f64,
    /// Of the connection's hour charges in the month.
    pub amount: f64,
    pub outages: Vec<(i64, i64)>,
}

/// The lines of a month's metered hours: per connection, its hours per (bandwidth, price) and
/// its data each way per price, each amount to the cent; and the credits the SLA owes, leaving
/// out the billable and down seconds in `windows` that concern the connection (a window's
/// billable seconds in an hour are counted as the window's part of the hour, at most the hour's
/// billable seconds).
pub fn statement(hours: &[MeteredHour], sla: &Sla, windows: &[Window]) -> (Vec<Line>, Vec<Credit>) {
    // (connection, kind, bandwidth, price bits) -> quantity in seconds or bytes.
    let mut groups: BTreeMap<(String, LineKind, Option<u64>, u64), f64> = BTreeMap::new();
    let mut add = |c: &str, kind, bw, price: f64, q: f64| {
        if q > 0.0 {
            *groups
                .entry((c.to_owned(), kind, bw, price.to_bits()))
                .or_default() += q;
        }
    };
    for h in hours {
        for &(bw, secs, price) in &h.tiers {
            add(
                &h.connection,
                LineKind::ConnectionHours,
                Some(bw),
                price,
                secs as f64,
            );
        }
        add(
            &h.connection,
            LineKind::DataTransferOut,
            None,
            h.per_gb,
            h.bytes_out as f64,
        );
        add(
            &h.connection,
            LineKind::DataTransferIn,
            None,
            h.per_gb,
            h.bytes_in as f64,
        );
    }
    let lines: Vec<Line> = groups
        .into_iter()
        .map(|((connection, kind, bandwidth_mbps, bits), q)| {
            let unit_price = f64::from_bits(bits);
            let quantity = match kind {
                LineKind::ConnectionHours => q / 3600.0,
                _ => q / BYTES_PER_GB,
            };
            Line {
                connection,
                kind,
                bandwidth_mbps,
                quantity,
                unit_price,
                amount: cents(quantity * unit_price),
            }
        })
        .collect();
    let mut credits = Vec::new();
    /// A connection's month: billable and down seconds, and when it was down.
    #[derive(Default)]
    struct Month {
        billable: i64,
        down: i64,
        excluded: i64,
        outages: Vec<(i64, i64)>,
    }
    let mut per_connection: BTreeMap<&str, Month> = BTreeMap::new();
    let mut spans_of: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for h in hours {
        let spans = spans_of.entry(&h.environment).or_insert_with(|| {
            merged(
                windows
                    .iter()
                    .filter(|w| w.environment.as_deref().is_none_or(|e| e == h.environment))
                    .map(|w| (w.start, w.end))
                    .collect(),
            )
        });
        let e = per_connection.entry(&h.connection).or_default();
        let billable: i64 = h.tiers.iter().map(|t| t.1).sum();
        let in_window = shared_secs(&[(h.hour, h.hour + 3600)], spans).min(billable);
        let down_in_window = shared_secs(&h.outages, spans).min(h.down_secs);
        e.billable += billable - in_window;
        e.excluded += in_window;
        e.down += h.down_secs - down_in_window;
        for &(from, to) in &h.outages {
            match e.outages.last_mut() {
                Some(last) if last.1 == from => last.1 = to,
                _ => e.outages.push((from, to)),
            }
        }
    }
    for (
        connection,
        Month {
            billable,
            down,
            excluded,
            outages,
        },
    ) in per_connection
    {
        if billable == 0 {
            continue;
        }
        let availability = 100.0 * (1.0 - down as f64 / billable as f64);
        let credit_percent = sla.credit_percent(availability);
        if credit_percent == 0.0 {
            continue;
        }
        let charges: f64 = lines
            .iter()
            .filter(|l| l.connection == connection && l.kind == LineKind::ConnectionHours)
            .map(|l| l.amount)
            .sum();
        credits.push(Credit {
            connection: connection.to_owned(),
            availability_percent: availability,
            excluded_minutes: excluded as f64 / 60.0,
            credit_percent,
            amount: cents(charges * credit_percent / 100.0),
            outages,
        });
    }
    (lines, credits)
}

/// The VPN connections that carry `mbps` (one per tunnel's worth, at least one).
pub fn vpn_connections(vpn: &VpnComparator, mbps: u64) -> u64 {
    mbps.div_ceil(vpn.tunnel_mbps).max(1)
}

/// What `hours` of a VPN for `mbps` and `gb_out` sent would cost.
pub fn over_vpn(vpn: &VpnComparator, mbps: u64, hours: f64, gb_out: f64) -> f64 {
    cents(vpn_connections(vpn, mbps) as f64 * vpn.hourly * hours + gb_out * vpn.per_gb)
}

/// What `gb_out` sent over the public internet would cost.
pub fn over_public(public: &PublicComparator, gb_out: f64) -> f64 {
    cents(gb_out * public.per_gb)
}

/// The monthly GB above which a fixed monthly cost `fixed` plus `per_gb` becomes cheaper than
/// `other_fixed` plus `other_per_gb` (none when it never does, or always is).
pub fn break_even_gb(fixed: f64, per_gb: f64, other_fixed: f64, other_per_gb: f64) -> Option<f64> {
    let saved_per_gb = other_per_gb - per_gb;
    let extra = fixed - other_fixed;
    (saved_per_gb > 0.0 && extra > 0.0).then(|| extra / saved_per_gb)
}

/// How a connection's traffic sat in its bandwidth over a month.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Utilisation {
    /// The 95th percentile of the periods' rates, the busier way (bits per second).
    pub p95_bps: f64,
    /// The share of the periods above 90% of the bandwidth.
    pub above_90: f64,
    pub periods: usize,
}

/// The utilisation of `bandwidth_bps` by the periods' rates (none without a period).
pub fn utilisation(rates_bps: &[f64], bandwidth_bps: f64) -> Option<Utilisation> {
    if rates_bps.is_empty() || bandwidth_bps <= 0.0 {
        return None;
    }
    let mut sorted = rates_bps.to_vec();
    sorted.sort_by(f64::total_cmp);
    // Nearest rank: the smallest rate at or above 95% of the periods.
    let rank = ((0.95 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    let busy = sorted.iter().filter(|&&r| r > 0.9 * bandwidth_bps).count();
    Some(Utilisation {
        p95_bps: sorted[rank - 1],
        above_90: busy as f64 / sorted.len() as f64,
        periods: sorted.len(),
    })
}

/// What to do about a connection's bandwidth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sizing {
    /// Its 95th percentile fits the bandwidth well.
    Keep,
    /// A smaller bandwidth (Mbps) carries the 95th percentile within 80% of it, for `saves` less
    /// a month.
    Smaller { mbps: u64, saves: f64 },
    /// It runs above 90% for 5% of the periods or more: the next bandwidth up, for `costs` more
    /// a month.
    Larger { mbps: u64, costs: f64 },
}

/// Advice for a connection at `mbps` with utilisation `u`, among the bandwidths `offered` with
/// their prices per hour (a month is [`HOURS_PER_MONTH`]).
pub fn size(u: &Utilisation, mbps: u64, offered: &BTreeMap<u64, f64>) -> Sizing {
    let price = |b: u64| offered.get(&b).copied().unwrap_or(0.0);
    if u.above_90 >= 0.05 {
        if let Some((&up, &p)) = offered.range(mbps + 1..).next() {
            return Sizing::Larger {
                mbps: up,
                costs: cents((p - price(mbps)) * HOURS_PER_MONTH),
            };
        }
        return Sizing::Keep;
    }
    if u.p95_bps < 0.4 * mbps as f64 * 1e6
        && let Some((&down, &p)) = offered
            .range(..mbps)
            .find(|&(&b, _)| u.p95_bps <= 0.8 * b as f64 * 1e6)
    {
        let saves = cents((price(mbps) - p) * HOURS_PER_MONTH);
        if saves > 0.0 {
            return Sizing::Smaller { mbps: down, saves };
        }
    }
    Sizing::Keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionState::*;

    const H: i64 = 1_700_000_000 - 1_700_000_000 % 3600;

    fn change(at: i64, state: ConnectionState, bandwidth_mbps: u64) -> Change {
        Change {
            at,
            state,
            bandwidth_mbps,
        }
    }

    #[test]
    fn an_hour_is_split_at_each_change() {
        let history = [
            change(H - 7200, Requested, 1000),
            change(H - 3000, Pending, 1000),
            change(H - 2990, Available, 1000),
            // A bandwidth change at :30, an outage from :40 to :50 at the new one.
            change(H + 1800, Available, 2000),
            change(H + 2400, Down, 2000),
            change(H + 3000, Available, 2000),
        ];
        let m = meter_hour(&history, H);
        assert_eq!(m.billable, BTreeMap::from([(1000, 1800), (2000, 1800)]));
        assert_eq!((m.down_secs, m.outages), (600, vec![(H + 2400, H + 3000)]));
        // The hour before: from the moment it became available.
        let before = meter_hour(&history, H - 3600);
        assert_eq!(before.billable, BTreeMap::from([(1000, 2990)]));
        // Before it existed, and after it was deleted: nothing.
        assert!(meter_hour(&history, H - 10 * 3600).is_empty());
        let deleted = [
            change(H - 60, Available, 1000),
            change(H + 60, Deleting, 1000),
        ];
        assert_eq!(
            meter_hour(&deleted, H).billable,
            BTreeMap::from([(1000, 60)])
        );
        assert!(meter_hour(&deleted, H + 3600).is_empty());
    }

    #[test]
    fn a_down_spell_across_hours_is_one_outage() {
        let history = [
            change(H - 600, Down, 1000),
            change(H + 600, Available, 1000),
        ];
        let hours: Vec<MeteredHour> = [H - 3600, H]
            .into_iter()
            .map(|h| {
                let m = meter_hour(&history, h);
                MeteredHour {
                    connection: "mcc-1".into(),
                    environment: "e1".into(),
                    hour: h,
                    tiers: m.billable.iter().map(|(&b, &s)| (b, s, 1.0)).collect(),
                    down_secs: m.down_secs,
                    outages: m.outages,
                    bytes_out: 0,
                    bytes_in: 0,
                    per_gb: 0.0,
                }
            })
            .collect();
        let (_, credits) = statement(&hours, &Sla::default(), &[]);
        assert_eq!(credits.len(), 1);
        assert_eq!(credits[0].outages, vec![(H - 600, H + 600)]);
        // 1200 s down of 4200 billable: below 95%, the whole hours' charges back.
        assert_eq!(credits[0].credit_percent, 100.0);
        // A window over the first 15 minutes of the outage, for this environment or all: those
        // are left out, 900 s of 4200 billable and of 1200 down: 300 of 3300, still below 95%.
        let window = |environment: Option<&str>| Window {
            start: H - 600,
            end: H + 300,
            environment: environment.map(str::to_owned),
        };
        let (_, credits) = statement(&hours, &Sla::default(), &[window(Some("e1"))]);
        assert_eq!(credits[0].excluded_minutes, 15.0);
        assert!((credits[0].availability_percent - 100.0 * 3000.0 / 3300.0).abs() < 1e-9);
        // The whole outage in windows (two, overlapping): nothing owed. Another environment's
        // window: as without one.
        let whole = [
            window(None),
            Window {
                start: H,
                end: H + 900,
                environment: None,
            },
        ];
        assert!(statement(&hours, &Sla::default(), &whole).1.is_empty());
        let (_, credits) = statement(&hours, &Sla::default(), &[window(Some("e2"))]);
        assert_eq!(
            (credits[0].excluded_minutes, credits[0].credit_percent),
            (0.0, 100.0)
        );
    }

    #[test]
    fn right_sizing() {
        let offered: BTreeMap<u64, f64> = [(500, 0.14), (1000, 0.25), (2000, 0.45), (10_000, 1.95)]
            .into_iter()
            .collect();
        // 100 periods: 95 at 100 Mbit/s, 5 at 1.5 Gbit/s. The nearest-rank p95 is the 95th.
        let mut rates = vec![100e6; 95];
        rates.extend([1.5e9; 5]);
        let u = utilisation(&rates, 10e9).expect("utilisation");
        assert_eq!((u.p95_bps, u.above_90, u.periods), (100e6, 0.0, 100));
        // 1% of 10 Gbps: 500 Mbps carries 100 Mbit/s within 80%, for (1.95 - 0.14) x 730 less.
        assert_eq!(
            size(&u, 10_000, &offered),
            Sizing::Smaller {
                mbps: 500,
                saves: 1321.3
            }
        );
        // At 1 Gbps, 5% of the periods above 900 Mbit/s: 2 Gbps, for 0.20 x 730 more.
        let u = utilisation(&rates, 1e9).expect("utilisation");
        assert_eq!(
            size(&u, 1000, &offered),
            Sizing::Larger {
                mbps: 2000,
                costs: 146.0
            }
        );
        // Half of 1 Gbps: kept; no traffic at the smallest: kept; no periods: nothing to say.
        let u = utilisation(&[500e6; 10], 1e9).expect("utilisation");
        assert_eq!(size(&u, 1000, &offered), Sizing::Keep);
        let u = utilisation(&[0.0; 10], 500e6).expect("utilisation");
        assert_eq!(size(&u, 500, &offered), Sizing::Keep);
        assert_eq!(utilisation(&[], 1e9), None);
    }

    #[test]
    fn sla_tiers() {
        let sla = Sla::default();
        for (availability, credit) in [
            (100.0, 0.0),
            (99.99, 0.0),
            (99.989, 10.0),
            (99.0, 10.0),
            (98.99, 25.0),
            (95.0, 25.0),
            (94.9, 100.0),
        ] {
            assert_eq!(sla.credit_percent(availability), credit, "{availability}");
        }
    }

    #[test]
    fn comparisons_and_break_even() {
        let vpn = VpnComparator {
            name: "vpn".into(),
            hourly: 0.05,
            per_gb: 0.09,
            tunnel_mbps: 1250,
        };
        assert_eq!(vpn_connections(&vpn, 1000), 1);
        assert_eq!(vpn_connections(&vpn, 10_000), 8);
        // 730 h of one VPN connection and 1000 GB: 36.50 + 90.00.
        assert_eq!(over_vpn(&vpn, 1000, 730.0, 1000.0), 126.5);
        // An interconnect at 0.25/h (182.50 a month) and nothing per GB against it: cheaper
        // above (182.5 - 36.5) / 0.09 GB.
        let gb = break_even_gb(182.5, 0.0, 36.5, 0.09).expect("break-even");
        assert!((gb - 1622.2222).abs() < 0.001, "{gb}");
        // Cheaper from the first GB, or never: none.
        assert_eq!(break_even_gb(10.0, 0.0, 36.5, 0.09), None);
        assert_eq!(break_even_gb(182.5, 0.1, 36.5, 0.09), None);
    }
}
