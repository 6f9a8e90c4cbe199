//! Alarms (pure): the state an alarm's latest periods put it in, with CloudWatch's semantics;
//! the alarms every connection gets by default; how a notification is signed; when a failed
//! delivery is tried again.
//!
//! An alarm looks at its latest `N` whole periods (evaluation periods), each period's value the
//! alarm's statistic over the metric's minutes in it (no minute: the period is missing). `M`
//! (datapoints to alarm) breaching periods make `ALARM`. Missing periods count as the alarm's
//! treatment says:
//!
//! | treatment      | a missing period is | the state when fewer than `M` breach                 |
//! |----------------|---------------------|------------------------------------------------------|
//! | `missing`      | not counted         | `OK`, or `INSUFFICIENT_DATA` when every one is missing |
//! | `breaching`    | breaching           | `OK`                                                 |
//! | `notBreaching` | not breaching       | `OK`                                                 |
//! | `ignore`       | not counted         | `OK`, or unchanged when the latest one is missing    |

use crate::service::fmt_time;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use xc_types::api::alarms::{AlarmState, Comparison, MissingData};
use xc_types::api::metrics::MetricName;

/// What an alarm compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rule {
    pub comparison: Comparison,
    pub threshold: f64,
    pub datapoints_to_alarm: u32,
    pub missing: MissingData,
}

/// A state an evaluation reached, with its reason in words.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub state: AlarmState,
    pub reason: String,
}

fn number(x: f64) -> String {
    // Enough digits to tell a threshold's neighbours apart, none to spare.
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// The state of an alarm whose window (its latest periods, oldest first, each with its value
/// or none) is `window`, and which is now in `current`.
pub(crate) fn evaluate(rule: &Rule, window: &[(i64, Option<f64>)], current: AlarmState) -> Outcome {
    let n = window.len();
    let mut breaching = 0usize;
    let mut counted = 0usize;
    for &(_, v) in window {
        match (v, rule.missing) {
            (Some(x), _) => {
                counted += 1;
                if rule.comparison.breaches(x, rule.threshold) {
                    breaching += 1;
                }
            }
            (None, MissingData::Breaching) => {
                counted += 1;
                breaching += 1;
            }
            (None, MissingData::NotBreaching) => counted += 1,
            (None, MissingData::Missing | MissingData::Ignore) => {}
        }
    }
    let points: Vec<String> = window
        .iter()
        .filter_map(|&(t, v)| v.map(|x| format!("{} ({})", number(x), fmt_time(t))))
        .collect();
    let missing = n - window.iter().filter(|(_, v)| v.is_some()).count();
    let plural = |k: usize| if k == 1 { "was" } else { "were" };
    let words = rule.comparison.words();
    let threshold = number(rule.threshold);
    let m = rule.datapoints_to_alarm as usize;
    if breaching >= m {
        return Outcome {
            state: AlarmState::Alarm,
            reason: format!(
                "Threshold Crossed: {breaching} out of the last {n} datapoints [{}] {} {words} the threshold ({threshold}){} (at least {m} for ALARM).",
                points.join(", "),
                plural(breaching),
                match (missing, rule.missing) {
                    (0, _) => String::new(),
                    (k, MissingData::Breaching) => format!("; {k} missing, counted as breaching"),
                    (k, _) => format!("; {k} missing"),
                }
            ),
        };
    }
    let latest_missing = window.last().is_none_or(|(_, v)| v.is_none());
    match rule.missing {
        MissingData::Missing if counted == 0 => Outcome {
            state: AlarmState::InsufficientData,
            reason: format!("Insufficient Data: none of the last {n} periods has data."),
        },
        MissingData::Ignore if counted == 0 || latest_missing => Outcome {
            state: current,
            reason: format!(
                "Unchanged: the latest period has no data and missing data is ignored ({missing} of {n} missing)."
            ),
        },
        _ => Outcome {
            state: AlarmState::Ok,
            reason: format!(
                "Threshold Crossed: {} out of the last {n} datapoints [{}] {} not {words} the threshold ({threshold}){} (fewer than {m} breaching).",
                counted - breaching,
                points.join(", "),
                plural(counted - breaching),
                match (missing, rule.missing) {
                    (0, _) => String::new(),
                    (k, MissingData::NotBreaching) => {
                        format!("; {k} missing, counted as not breaching")
                    }
                    (k, MissingData::Breaching) => format!("; {k} missing, counted as breaching"),
                    (k, _) => format!("; {k} missing"),
                }
            ),
        },
    }
}

/// One of the alarms a connection gets by default, named `<connection id><suffix>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DefaultAlarm {
    pub suffix: &'static str,
    pub metric: MetricName,
    pub stat: &'static str,
    pub period: u32,
    pub comparison: Comparison,
    pub threshold: f64,
    pub evaluation_periods: u32,
    pub missing: MissingData,
}

/// The connection is down (no link carries it) for a minute; its loss is above 1% over 5
/// minutes; it is more than 80% busy for 15 minutes.
pub(crate) const DEFAULT_ALARMS: &[DefaultAlarm] = &[
    DefaultAlarm {
        suffix: "-down",
        metric: MetricName::ConnectionState,
        stat: "Minimum",
        period: 60,
        comparison: Comparison::LessThanThreshold,
        threshold: 1.0,
        evaluation_periods: 1,
        missing: MissingData::Missing,
    },
    DefaultAlarm {
        suffix: "-loss",
        metric: MetricName::ConnectionPacketLossPercent,
        stat: "Average",
        period: 300,
        comparison: Comparison::GreaterThanThreshold,
        threshold: 1.0,
        evaluation_periods: 1,
        missing: MissingData::Missing,
    },
    DefaultAlarm {
        suffix: "-utilization",
        metric: MetricName::ConnectionBandwidthUtilizationPercent,
        stat: "Average",
        period: 60,
        comparison: Comparison::GreaterThanThreshold,
        threshold: 80.0,
        evaluation_periods: 15,
        missing: MissingData::Missing,
    },
];

/// The signature header's value for `body` posted at `t` (Unix seconds):
/// `t=<t>,v1=<hex of HMAC-SHA256(secret, "<t>.<body>")>`. The receiver recomputes it, compares
/// in constant time, and refuses a `t` far from its clock (a replay).
pub(crate) fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// How long a delivery is tried for, from its creation.
pub(crate) const DELIVERY_WINDOW_SECS: i64 = 3_600;

/// When a delivery that failed its `attempts`-th attempt at `now` is tried again, or none when
/// that would be past its hour: 5 s after the first failure, doubling, at most 10 minutes apart.
pub(crate) fn next_attempt(created_at: i64, attempts: u32, now: i64) -> Option<i64> {
    let wait = 5i64
        .saturating_mul(1i64 << attempts.saturating_sub(1).min(20))
        .min(600);
    let next = now + wait;
    (next <= created_at + DELIVERY_WINDOW_SECS).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BELOW_ONE: Rule = Rule {
        comparison: Comparison::LessThanThreshold,
        threshold: 1.0,
        datapoints_to_alarm: 2,
        missing: MissingData::Missing,
    };

    fn w(values: &[Option<f64>]) -> Vec<(i64, Option<f64>)> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64 * 60, *v))
            .collect()
    }

    #[test]
    fn m_of_n_breaching_periods_make_alarm() {
        let o = evaluate(
            &BELOW_ONE,
            &w(&[Some(1.0), Some(0.0), Some(0.0)]),
            AlarmState::Ok,
        );
        assert_eq!(o.state, AlarmState::Alarm);
        assert!(
            o.reason.starts_with(
                "Threshold Crossed: 2 out of the last 3 datapoints [1 (1970-01-01T00:00:00Z), 0 (1970-01-01T00:01:00Z), 0 (1970-01-01T00:02:00Z)] were less than the threshold (1)"
            ),
            "{}",
            o.reason
        );
        let o = evaluate(
            &BELOW_ONE,
            &w(&[Some(0.0), Some(1.0), Some(1.0)]),
            AlarmState::Alarm,
        );
        assert_eq!(o.state, AlarmState::Ok);
        assert!(
            o.reason.contains("2 out of the last 3 datapoints"),
            "{}",
            o.reason
        );
    }

    #[test]
    fn missing_periods_count_as_the_treatment_says() {
        let gaps = w(&[None, Some(0.0), None]);
        let with = |missing| Rule {
            missing,
            ..BELOW_ONE
        };
        let s = |missing, current| evaluate(&with(missing), &gaps, current).state;
        // One breaching period of two needed; the gaps decide.
        assert_eq!(s(MissingData::Missing, AlarmState::Alarm), AlarmState::Ok);
        assert_eq!(s(MissingData::Breaching, AlarmState::Ok), AlarmState::Alarm);
        assert_eq!(
            s(MissingData::NotBreaching, AlarmState::Alarm),
            AlarmState::Ok
        );
        // The latest period is missing: ignore keeps whatever it was.
        assert_eq!(s(MissingData::Ignore, AlarmState::Alarm), AlarmState::Alarm);
        assert_eq!(
            s(MissingData::Ignore, AlarmState::InsufficientData),
            AlarmState::InsufficientData
        );
        let none = w(&[None, None, None]);
        assert_eq!(
            evaluate(&BELOW_ONE, &none, AlarmState::Ok).state,
            AlarmState::InsufficientData
        );
        assert_eq!(
            evaluate(&with(MissingData::Breaching), &none, AlarmState::Ok).state,
            AlarmState::Alarm
        );
        assert_eq!(
            evaluate(&with(MissingData::NotBreaching), &none, AlarmState::Alarm).state,
            AlarmState::Ok
        );
    }

    #[test]
    fn comparisons_at_the_threshold() {
        let at = |comparison| {
            let r = Rule {
                comparison,
                threshold: 80.0,
                datapoints_to_alarm: 1,
                missing: MissingData::Missing,
            };
            evaluate(&r, &w(&[Some(80.0)]), AlarmState::Ok).state
        };
        assert_eq!(at(Comparison::GreaterThanThreshold), AlarmState::Ok);
        assert_eq!(
            at(Comparison::GreaterThanOrEqualToThreshold),
            AlarmState::Alarm
        );
        assert_eq!(at(Comparison::LessThanThreshold), AlarmState::Ok);
        assert_eq!(
            at(Comparison::LessThanOrEqualToThreshold),
            AlarmState::Alarm
        );
    }

    #[test]
    fn signatures_are_hmac_sha256_of_time_and_body() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"0123456789abcdef",
        //   b"1764745200.{\"a\":1}", hashlib.sha256).hexdigest())'
        assert_eq!(
            signature(b"0123456789abcdef", 1_764_745_200, br#"{"a":1}"#),
            "t=1764745200,v1=731eb07340891a3d642ce174e2eb056a1913c3496c29c39f1beffc1ff90fdb08"
        );
    }

    #[test]
    fn deliveries_back_off_for_an_hour() {
        assert_eq!(next_attempt(0, 1, 0), Some(5));
        assert_eq!(next_attempt(0, 2, 5), Some(15));
        assert_eq!(next_attempt(0, 8, 1000), Some(1600));
        assert_eq!(next_attempt(0, 30, 3000), Some(3600));
        assert_eq!(next_attempt(0, 30, 3001), None);
        let mut t = 0;
        let mut n = 0;
        while let Some(next) = next_attempt(0, n + 1, t) {
            t = next;
            n += 1;
        }
        assert!((10..=20).contains(&n), "{n} retries in the hour");
    }
}
