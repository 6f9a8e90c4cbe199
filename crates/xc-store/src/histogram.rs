//! A latency histogram with fixed buckets, lock-free, in the shape of a Prometheus histogram
//! (cumulative bucket counts, a sum and a count): the store's commit times, and whatever else the
//! control plane times.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, seconds (`+Inf` follows).
pub const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative), the last one `+Inf`.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// How many observations there were.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The series of this histogram in the Prometheus text format: `name_bucket{labels,le}`,
    /// `name_sum`, `name_count`. `labels` is empty or `a="x",b="y"`.
    pub fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(20));
        h.observe(Duration::from_secs(9));
        let mut s = String::new();
        h.write(&mut s, "x_seconds", "op=\"a\"");
        assert!(
            s.contains("x_seconds_bucket{op=\"a\",le=\"0.0005\"} 1\n"),
            "{s}"
        );
        assert!(
            s.contains("x_seconds_bucket{op=\"a\",le=\"0.025\"} 2\n"),
            "{s}"
        );
        assert!(
            s.contains("x_seconds_bucket{op=\"a\",le=\"2.5\"} 2\n"),
            "{s}"
        );
        assert!(
            s.contains("x_seconds_bucket{op=\"a\",le=\"+Inf\"} 3\n"),
            "{s}"
        );
        assert!(s.contains("x_seconds_count{op=\"a\"} 3\n"), "{s}");
        assert_eq!(h.count(), 3);
    }
}
