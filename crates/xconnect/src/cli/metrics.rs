//! `xconnect connection metrics`: a connection's metrics as a statistic per period; on a
//! terminal a sparkline per metric, otherwise a row per data point.

use super::parse_duration;
use crate::output::{Format, print_object};
use std::io::IsTerminal;
use xc_client::Client;
use xc_types::api::metrics::{MetricSeries, MetricsQuery};

#[derive(Debug, clap::Args)]
pub struct MetricsArgs {
    id: String,
    /// One metric (every metric without it): ConnectionBpsEgress, ConnectionRttMilliseconds, ...
    #[arg(long)]
    metric: Option<String>,
    /// One link (the LinkId dimension, as `connection links` shows it).
    #[arg(long)]
    link: Option<String>,
    /// The Cause of ConnectionDroppedPackets: policer, replay, icv, noSa, invalid.
    #[arg(long)]
    cause: Option<String>,
    /// How far back from now: `30m`, `6h`, `7d` (default 1h).
    #[arg(long, conflicts_with = "start")]
    since: Option<String>,
    /// From this time (RFC 3339), to --end or now.
    #[arg(long)]
    start: Option<String>,
    #[arg(long, requires = "start")]
    end: Option<String>,
    /// The period of each point: 1m, 5m, 15m, 1h, 6h, 1d (default 1m).
    #[arg(long)]
    period: Option<String>,
    /// Average, Minimum, Maximum, Sum, SampleCount, or pNN (p50, p90, p99).
    #[arg(long, default_value = "Average")]
    stat: String,
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A bar per value, scaled between the series' least and greatest.
fn sparkline(values: &[f64]) -> String {
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    values
        .iter()
        .map(|&v| {
            let x = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
            BARS[((x * 7.0).round() as usize).min(7)]
        })
        .collect()
}

/// A value as people read it: 3 significant digits, with k/M/G above a thousand.
fn human(v: f64) -> String {
    let a = v.abs();
    let (x, unit) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    if x.fract() == 0.0 {
        format!("{x:.0}{unit}")
    } else {
        format!("{x:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
            + unit
    }
}

fn period_secs(s: &str) -> anyhow::Result<u32> {
    u32::try_from(parse_duration(s)?.as_secs())
        .map_err(|_| anyhow::anyhow!("`{s}`: too long a period"))
}

fn print_series(s: &MetricSeries, terminal: bool) {
    let name = match (s.link_id, s.cause) {
        (Some(l), _) => format!("{} (link {l})", s.name.as_str()),
        (None, Some(c)) => format!("{} ({})", s.name.as_str(), c.as_str()),
        (None, None) => s.name.as_str().to_owned(),
    };
    let values: Vec<f64> = s.points.iter().map(|p| p.value).collect();
    if terminal {
        if values.is_empty() {
            println!("{name:<40} no data");
            return;
        }
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        println!(
            "{name:<40} {}  last {} min {} max {} {}",
            sparkline(&values),
            human(values[values.len() - 1]),
            human(lo),
            human(hi),
            s.unit
        );
    } else {
        for p in &s.points {
            println!("{name}\t{}\t{}\t{}", p.timestamp, p.value, s.unit);
        }
    }
}

pub async fn run(c: &Client, out: Format, a: MetricsArgs) -> anyhow::Result<()> {
    let start = match (&a.since, &a.start) {
        (Some(since), _) => {
            let back = parse_duration(since)?.as_secs() as i64;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            Some(xc_control::fmt_time(now - back))
        }
        (None, start) => start.clone(),
    };
    let q = MetricsQuery {
        metric: a.metric,
        link: a.link,
        cause: a.cause,
        start,
        end: a.end,
        period: a.period.as_deref().map(period_secs).transpose()?,
        stat: Some(a.stat),
    };
    let r = c.connection_metrics(&a.id, &q).await?;
    if matches!(out, Format::Json) {
        return print_object(out, &r);
    }
    let terminal = std::io::stdout().is_terminal();
    if terminal {
        println!(
            "{} ({} side) from {} to {}, {} per {} s",
            r.connection_id,
            match r.side {
                xc_types::gateway::Side::Owner => "owner",
                xc_types::gateway::Side::Remote => "remote",
            },
            r.start,
            r.end,
            r.stat,
            r.period
        );
    } else {
        println!("metric\ttimestamp\tvalue\tunit");
    }
    for s in &r.metrics {
        print_series(s, terminal);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_and_values() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 7.0]), "▁▂▃█");
        assert_eq!(sparkline(&[5.0, 5.0]), "▁▁");
        assert_eq!(human(1_250_000.0), "1.25M");
        assert_eq!(human(42.0), "42");
        assert_eq!(human(0.5), "0.5");
        assert_eq!(period_secs("5m").ok(), Some(300));
        assert_eq!(period_secs("1d").ok(), Some(86_400));
        assert!(period_secs("x").is_err());
    }
}
