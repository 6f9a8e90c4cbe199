//! Connection metrics: their names (after AWS Direct Connect's CloudWatch metrics where one
//! exists), statistics, and the query and answer of `GET /v1/connections/{id}/metrics`.

use serde::{Deserialize, Serialize};

macro_rules! metric_names {
    ($($name:ident => $unit:literal, $doc:literal;)*) => {
        /// A connection metric.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum MetricName {
            $(#[doc = $doc] $name,)*
        }

        impl MetricName {
            pub const ALL: &'static [MetricName] = &[$(MetricName::$name,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }

            /// The unit, as CloudWatch names it.
            pub fn unit(self) -> &'static str {
                match self {
                    $(Self::$name => $unit,)*
                }
            }

            /// What it measures.
            pub fn describe(self) -> &'static str {
                match self {
                    $(Self::$name => $doc,)*
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|m| m.as_str() == s)
            }
        }
    };
}

metric_names! {
    ConnectionState => "None", "1 while at least one link carries the connection (MKA secured and its BGP session Established when the minute closed), else 0.";
    ConnectionBpsEgress => "Bits/Second", "Bits per second sent into the connection by the caller's side (sum over links).";
    ConnectionBpsIngress => "Bits/Second", "Bits per second received from the connection by the caller's side (sum over links).";
    ConnectionPpsEgress => "Count/Second", "Packets per second sent into the connection by the caller's side.";
    ConnectionPpsIngress => "Count/Second", "Packets per second received from the connection by the caller's side.";
    ConnectionErrorCount => "Count", "Frames from the peer that failed MACsec validation (ICV, replay, other) in the minute.";
    ConnectionEncryptionState => "None", "1 while every link is MACsec-secured, else 0.";
    BgpStatus => "None", "1 while a link's BGP session is Established (the connection: any link), else 0.";
    BgpPrefixesAccepted => "Count", "Prefixes accepted from the other side (the connection: the most any link accepted).";
    BgpPrefixesAdvertised => "Count", "Prefixes advertised to the other side (the connection: the most any link advertised).";
    ConnectionRttMilliseconds => "Milliseconds", "Round trip of the STAMP probes over the links, less the reflector's time (mean of the minute; the connection: weighted over links).";
    ConnectionPacketLossPercent => "Percent", "Probes unanswered within 2 s, of those sent (the connection: over all links).";
    ConnectionJitterMilliseconds => "Milliseconds", "Mean difference between consecutive probe round trips (the connection: mean over links).";
    ConnectionBandwidthUtilizationPercent => "Percent", "The busier direction's bits per second, of the connection's bandwidth.";
    ConnectionDroppedPackets => "Count", "Frames dropped in the minute, by cause: policer, replay, icv, noSa, invalid (the dimension Cause; all causes without it).";
}

/// A cause of dropped frames (the `Cause` dimension of `ConnectionDroppedPackets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DropCause {
    Policer,
    Replay,
    Icv,
    NoSa,
    Invalid,
}

impl DropCause {
    pub const ALL: &'static [DropCause] = &[
        Self::Policer,
        Self::Replay,
        Self::Icv,
        Self::NoSa,
        Self::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Policer => "policer",
            Self::Replay => "replay",
            Self::Icv => "icv",
            Self::NoSa => "noSa",
            Self::Invalid => "invalid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

/// A statistic over the data points of a period, as CloudWatch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    Average,
    Minimum,
    Maximum,
    Sum,
    SampleCount,
    /// `pNN` or `pNN.N`: the percentile (0 to 100) of the period's points.
    Percentile(f64),
}

impl Statistic {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Average" => Self::Average,
            "Minimum" => Self::Minimum,
            "Maximum" => Self::Maximum,
            "Sum" => Self::Sum,
            "SampleCount" => Self::SampleCount,
            _ => {
                let p: f64 = s.strip_prefix('p')?.parse().ok()?;
                if !(0.0..=100.0).contains(&p) || s.len() > 6 {
                    return None;
                }
                Self::Percentile(p)
            }
        })
    }

    /// The statistic of `values` (none of an empty period).
    pub fn of(self, values: &[f64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        Some(match self {
            Self::Average => values.iter().sum::<f64>() / n,
            Self::Minimum => values.iter().copied().fold(f64::INFINITY, f64::min),
            Self::Maximum => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Self::Sum => values.iter().sum(),
            Self::SampleCount => n,
            Self::Percentile(p) => {
                let mut v = values.to_vec();
                v.sort_by(f64::total_cmp);
                v[crate::gateway::percentile_index(v.len(), p)]
            }
        })
    }
}

impl std::fmt::Display for Statistic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Average => f.write_str("Average"),
            Self::Minimum => f.write_str("Minimum"),
            Self::Maximum => f.write_str("Maximum"),
            Self::Sum => f.write_str("Sum"),
            Self::SampleCount => f.write_str("SampleCount"),
            Self::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

/// Most data points in one series of an answer.
pub const MAX_POINTS: i64 = 1_440;
/// The periods a query may ask for, seconds: a minute, 5 and 15 minutes, an hour, 6 hours, a day.
pub const PERIODS: &[u32] = &[60, 300, 900, 3_600, 21_600, 86_400];

/// `GET /v1/connections/{id}/metrics`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricsQuery {
    /// One metric (every metric without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_metric_name")]
    pub metric: Option<String>,
    /// One link (the `LinkId` dimension); the connection as a whole without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_link_id")]
    pub link: Option<String>,
    /// The `Cause` of `ConnectionDroppedPackets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_drop_cause")]
    pub cause: Option<String>,
    /// RFC 3339; default: an hour before `end`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_timestamp")]
    pub start: Option<String>,
    /// RFC 3339; default: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_timestamp")]
    pub end: Option<String>,
    /// Seconds: one of [`PERIODS`] (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_period")]
    pub period: Option<u32>,
    /// Average (default), Minimum, Maximum, Sum, SampleCount, or pNN (p50, p90, p99, p99.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_statistic")]
    pub stat: Option<String>,
}

/// One data point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricPoint {
    /// The period's start, RFC 3339.
    pub timestamp: String,
    pub value: f64,
}

/// One metric's data points.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricSeries {
    pub name: MetricName,
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<DropCause>,
    /// Oldest first; a period without data has no point.
    pub points: Vec<MetricPoint>,
}

/// The answer of `GET /v1/connections/{id}/metrics`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsResponse {
    pub connection_id: String,
    /// The side whose gateways' measurements these are (the caller's; the owner's for the
    /// operator): egress is what that side sends.
    pub side: crate::gateway::Side,
    pub start: String,
    pub end: String,
    pub period: u32,
    pub stat: String,
    pub metrics: Vec<MetricSeries>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_over_a_period() {
        let v = [4.0, 1.0, 3.0, 2.0];
        let s = |name: &str| Statistic::parse(name).expect(name).of(&v);
        assert_eq!(s("Average"), Some(2.5));
        assert_eq!(s("Minimum"), Some(1.0));
        assert_eq!(s("Maximum"), Some(4.0));
        assert_eq!(s("Sum"), Some(10.0));
        assert_eq!(s("SampleCount"), Some(4.0));
        assert_eq!(s("p50"), Some(2.0));
        assert_eq!(s("p99"), Some(4.0));
        assert_eq!(Statistic::Average.of(&[]), None);
        for bad in ["p101", "average", "p", "p-1", "pNaN", "p99.999"] {
            assert_eq!(Statistic::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn metric_names_read_back() {
        for m in MetricName::ALL {
            assert_eq!(MetricName::parse(m.as_str()), Some(*m));
        }
        assert_eq!(MetricName::ALL.len(), 15);
    }
}
