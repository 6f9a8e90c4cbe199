//! Connection metrics: the gateways' minute samples taken in with their reports, and the query
//! of `GET /v1/connections/{id}/metrics` over them (the computation is `crate::metrics`).

use super::connections::{fmt_time, load_visible, parse_connection_id};
use super::{Caller, Service};
use crate::metrics::{View, by_time, per_minute, per_period, values};
use crate::{Result, ServiceError};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use xc_store::Histogram;
use xc_types::api::metrics::{
    DropCause, MAX_POINTS, MetricName, MetricPoint, MetricSeries, MetricsQuery, MetricsResponse,
    PERIODS, Statistic,
};
use xc_types::gateway::{MAX_LINKS_PER_SAMPLE, MAX_SAMPLES_PER_REPORT, MetricSample, Side};

/// Most (operation, status) pairs whose request times are kept apart; the rest share one.
const MAX_OPERATIONS: usize = 512;

/// How long things took in this server process.
#[derive(Debug, Default)]
pub struct Telemetry {
    /// Request handling, by operation and status code.
    requests: std::sync::Mutex<BTreeMap<(String, u16), Arc<Histogram>>>,
    /// Reconciler passes (lifecycle and planning).
    pub reconciler: Histogram,
    /// Audit records that could not be stored.
    audit_failures: std::sync::atomic::AtomicU64,
}

impl Telemetry {
    /// Notes a request's time. Operations are the route table's names (a bounded set); past
    /// [`MAX_OPERATIONS`] pairs, new ones count as `other`.
    pub fn request(&self, operation: &str, code: u16, took: std::time::Duration) {
        let Ok(mut r) = self.requests.lock() else {
            return;
        };
        let key = if r.len() < MAX_OPERATIONS || r.contains_key(&(operation.to_owned(), code)) {
            (operation.to_owned(), code)
        } else {
            ("other".to_owned(), code)
        };
        r.entry(key).or_default().observe(took);
    }

    /// Notes an audit record that could not be stored.
    pub fn audit_write_failed(&self) {
        self.audit_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Audit records that could not be stored since the server started.
    pub fn audit_write_failures(&self) -> u64 {
        self.audit_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Each (operation, status) with its histogram.
    pub fn requests(&self) -> Vec<((String, u16), Arc<Histogram>)> {
        self.requests
            .lock()
            .map(|r| r.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }
}

/// One series of the Prometheus exposition: a metric's value in the latest minute a side has
/// data for (within [`LATEST_WITHIN_SECS`]), for the connection or one of its links.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestValue {
    pub metric: MetricName,
    pub connection_id: String,
    /// The side's account: whose gateways measured it.
    pub account_id: String,
    pub link_id: Option<u64>,
    pub value: f64,
}

/// How far back the exposition looks for a connection's latest minute.
pub const LATEST_WITHIN_SECS: i64 = 180;

/// How long minute points are kept.
pub(crate) const RETENTION_SECS: i64 = 15 * 86_400;
/// How long 5-minute and hourly rollups are kept (CloudWatch's ladder).
pub(crate) const ROLLUP_RETENTION_SECS: [(i64, i64); 2] =
    [(300, 63 * 86_400), (3600, 455 * 86_400)];
/// How long after a bucket ends it is rolled up: the gateways report every 10 s, and a minute
/// that comes later still (a backlog) has its bucket rolled again.
const ROLLUP_DELAY_SECS: i64 = 120;
/// The most of a span one rollup transaction covers, so the store's writer is never held long
/// (an hour of 1,000 connections of four links is 480,000 minutes).
const ROLLUP_STEP_SECS: i64 = 3600;
/// The pause between steps while catching up (a first start over days of minutes), so the
/// reports and the API's writes go between them.
const ROLLUP_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);
/// How far ahead of the server's clock a gateway's minute may be (a later one is dropped).
const FUTURE_SLACK_SECS: i64 = 300;
/// The default span of a query without `start`.
const DEFAULT_SPAN_SECS: i64 = 3_600;

/// Checks a report's samples against their bounds; those of minutes the server cannot place
/// (not whole minutes, older than the retention, or ahead of its clock) are left out.
pub(crate) fn admissible(samples: Vec<MetricSample>, now: i64) -> Result<Vec<MetricSample>> {
    if samples.len() > MAX_SAMPLES_PER_REPORT {
        return Err(ServiceError::validation(
            "samples",
            format!("at most {MAX_SAMPLES_PER_REPORT} in one report"),
        ));
    }
    if samples.iter().any(|s| s.links.len() > MAX_LINKS_PER_SAMPLE) {
        return Err(ServiceError::validation(
            "samples",
            format!("at most {MAX_LINKS_PER_SAMPLE} links in one sample"),
        ));
    }
    Ok(samples
        .into_iter()
        .filter(|s| {
            s.minute.rem_euclid(60) == 0
                && s.minute > now - RETENTION_SECS
                && s.minute <= now + FUTURE_SLACK_SECS
        })
        .collect())
}

/// The finest resolution the metrics from `start` on are kept at (seconds).
fn kept_resolution(now: i64, start: i64) -> i64 {
    let [(five, five_kept), (hour, _)] = ROLLUP_RETENTION_SECS;
    if start < now - five_kept {
        hour
    } else if start < now - RETENTION_SECS {
        five
    } else {
        60
    }
}

/// The resolution a query reads: the coarsest that divides its period for the statistics that
/// weigh their values (the same answer from fewer rows), the finest kept for the others.
fn read_resolution(kept: i64, period: i64, stat: Statistic) -> i64 {
    match stat {
        Statistic::Average | Statistic::Sum | Statistic::SampleCount => [3600, 300, 60]
            .into_iter()
            .find(|&r| r >= kept && period % r == 0)
            .unwrap_or(kept),
        _ => kept,
    }
}

/// A connection side's rows from `start` to `end` at `resolution`: hourly rows as far as they are
/// rolled up, then 5-minute rows as far as those are, then minutes.
pub(crate) fn rows_at(
    db: &xc_store::Db<'_>,
    id: &xc_types::ConnectionId,
    is_b: bool,
    resolution: i64,
    start: i64,
    end: i64,
) -> Result<Vec<xc_store::LinkMinute>> {
    let mut rows = Vec::new();
    let mut from = start;
    for span in xc_store::ROLLUP_SPANS.into_iter().rev() {
        if span > resolution {
            continue;
        }
        let to = end.min(db.rollup_mark(span)?.unwrap_or(i64::MIN));
        if to > from {
            rows.extend(db.link_rows(id, Some(is_b), span, from, to)?);
            from = to;
        }
    }
    if end > from {
        rows.extend(db.link_rows(id, Some(is_b), 60, from, end)?);
    }
    Ok(rows)
}

/// One step of the rollups: each span rolled up from its mark as far as its buckets are complete
/// (an hour only once its 5-minute rows are), at most [`ROLLUP_STEP_SECS`] of it; then up to
/// [`DIRTY_PER_STEP`] of the connections' hours that got a late minute rolled again. Answers
/// whether there is more to do.
pub(crate) fn roll_up_step(db: &xc_store::Db<'_>, now: i64) -> Result<bool> {
    let [five, hour] = xc_store::ROLLUP_SPANS;
    let mut behind = false;
    let mut below = now - ROLLUP_DELAY_SECS;
    for span in [five, hour] {
        let ready = below - below.rem_euclid(span);
        // From the mark, or from the earliest row there is (nothing yet: nothing to do).
        let from = match db.rollup_mark(span)? {
            Some(t) => t,
            None => match db.earliest_unrolled(span)? {
                Some(t) => t - t.rem_euclid(span),
                None => return Ok(false),
            },
        };
        let to = ready.min(from + ROLLUP_STEP_SECS.max(span));
        if to > from {
            db.roll_up(span, from, to, None)?;
            db.set_rollup_mark(span, to)?;
        }
        behind |= to < ready;
        below = to.max(from);
    }
    // Hours that got late minutes: their 5-minute rows as far as those are rolled, then the
    // hour itself if it was.
    let dirty = db.dirty_rollups(DIRTY_PER_STEP)?;
    let (fives_rolled, hours_rolled) = (
        db.rollup_mark(five)?.unwrap_or(i64::MIN),
        db.rollup_mark(hour)?.unwrap_or(i64::MIN),
    );
    for (connection, h) in &dirty {
        db.roll_up(five, *h, (h + hour).min(fives_rolled), Some(connection))?;
        if *h < hours_rolled {
            db.roll_up(hour, *h, h + hour, Some(connection))?;
        }
        db.clear_dirty_rollup(connection, *h)?;
    }
    Ok(behind || dirty.len() == DIRTY_PER_STEP)
}

/// Late hours rolled again in one step (each a connection's 480 minutes, for four links).
const DIRTY_PER_STEP: usize = 1_000;

fn time_of(field: &str, s: &str) -> Result<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| {
            ServiceError::validation(field, format!("`{s}` is not an RFC 3339 time ({e})"))
        })
}

impl Service {
    /// One metric of a connection, or all of them, as a statistic per period, from the side of
    /// the caller (the owner's, for the operator).
    pub async fn connection_metrics(
        &self,
        caller: &Caller,
        id: &str,
        q: MetricsQuery,
    ) -> Result<MetricsResponse> {
        let id = parse_connection_id("identifier", id)?;
        let metrics: Vec<MetricName> = match &q.metric {
            None => MetricName::ALL.to_vec(),
            Some(m) => vec![MetricName::parse(m).ok_or_else(|| {
                ServiceError::validation(
                    "metric",
                    format!(
                        "`{m}` is not a metric: {}",
                        MetricName::ALL
                            .iter()
                            .map(|m| m.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?],
        };
        let link = q
            .link
            .as_deref()
            .map(|l| {
                // As the document writes a link id: 1 to 16 digits, no leading zero.
                let digits =
                    !l.is_empty() && l.len() <= 16 && l.bytes().all(|b| b.is_ascii_digit());
                l.parse::<u64>()
                    .ok()
                    .filter(|_| digits && !l.starts_with('0'))
                    .ok_or_else(|| {
                        ServiceError::validation(
                            "link",
                            format!("`{l}` is not a link id (as `connection links` shows it)"),
                        )
                    })
            })
            .transpose()?;
        let cause = q
            .cause
            .as_deref()
            .map(|c| {
                DropCause::parse(c).ok_or_else(|| {
                    ServiceError::validation(
                        "cause",
                        format!("`{c}` is not a cause: policer, replay, icv, noSa or invalid"),
                    )
                })
            })
            .transpose()?;
        if cause.is_some()
            && q.metric.is_some()
            && metrics != [MetricName::ConnectionDroppedPackets]
        {
            return Err(ServiceError::validation(
                "cause",
                "is a dimension of ConnectionDroppedPackets only",
            ));
        }
        let period = i64::from(q.period.unwrap_or(60));
        if !PERIODS.contains(&(period as u32)) {
            return Err(ServiceError::validation(
                "period",
                format!("is one of {PERIODS:?} seconds"),
            ));
        }
        let stat_name = q.stat.as_deref().unwrap_or("Average");
        let stat = Statistic::parse(stat_name).ok_or_else(|| {
            ServiceError::validation(
                "stat",
                format!("`{stat_name}` is not a statistic: Average, Minimum, Maximum, Sum, SampleCount or pNN (p50, p99, p99.9)"),
            )
        })?;
        let now = self.now();
        let end = match &q.end {
            Some(e) => time_of("end", e)?,
            None => now,
        };
        let start = match &q.start {
            Some(s) => time_of("start", s)?,
            None => end - DEFAULT_SPAN_SECS,
        };
        // Periods begin on multiples of themselves, as CloudWatch's.
        let start = start - start.rem_euclid(period);
        if start >= end {
            return Err(ServiceError::validation("start", "must be before end"));
        }
        // Older data is kept coarser: a period must be a multiple of what the start's age has.
        let kept = kept_resolution(now, start);
        if period % kept != 0 {
            return Err(ServiceError::validation(
                "period",
                format!(
                    "must be a multiple of {kept} s from {}: the metrics of that age are kept at that resolution",
                    fmt_time(start)
                ),
            ));
        }
        let resolution = read_resolution(kept, period, stat);
        if (end - start + period - 1) / period > MAX_POINTS {
            return Err(ServiceError::validation(
                "period",
                format!(
                    "gives more than {MAX_POINTS} points from start to end: take a longer period or a shorter span"
                ),
            ));
        }
        let who = caller.clone();
        let began = std::time::Instant::now();
        let (c, is_b, rows) = self
            .store
            .read(move |db| {
                let c = load_visible(db, &who, &id)?;
                let is_b =
                    c.remote_account.as_ref() == Some(&who.account) && c.owner != who.account;
                let rows = rows_at(db, &c.id, is_b, resolution, start, end)?;
                Ok::<_, ServiceError>((c, is_b, rows))
            })
            .await?;
        let view = View {
            is_b,
            link,
            cause,
            bandwidth_bps: c.bandwidth.mbps() as f64 * 1e6,
        };
        let read = began.elapsed();
        let times = by_time(&rows, &view);
        let series = metrics
            .into_iter()
            .map(|m| {
                let minutes = values(m, &times, &view);
                MetricSeries {
                    name: m,
                    unit: m.unit().to_owned(),
                    link_id: link,
                    cause: cause.filter(|_| m == MetricName::ConnectionDroppedPackets),
                    points: per_period(&minutes, start, period, stat)
                        .into_iter()
                        .map(|(t, value)| MetricPoint {
                            timestamp: fmt_time(t),
                            value,
                        })
                        .collect(),
                }
            })
            .collect();
        tracing::debug!(
            connection = %c.id,
            rows = rows.len(),
            resolution,
            read_us = read.as_micros() as u64,
            total_us = began.elapsed().as_micros() as u64,
            "metrics query"
        );
        Ok(MetricsResponse {
            connection_id: c.id.to_string(),
            side: if is_b { Side::Remote } else { Side::Owner },
            start: fmt_time(start),
            end: fmt_time(end),
            period: period as u32,
            stat: stat.to_string(),
            metrics: series,
        })
    }

    /// The latest minute's value of every metric of every connection the caller can see, per
    /// side the caller may see (its own; both for the operator), for the connection and each
    /// link.
    pub async fn latest_metrics(&self, caller: &Caller) -> Result<Vec<LatestValue>> {
        let since = self.now() - LATEST_WITHIN_SECS;
        let (connections, rows) = self
            .store
            .read(move |db| {
                let rows = db.minutes_since(since)?;
                let mut connections = BTreeMap::new();
                for (id, _) in &rows {
                    if !connections.contains_key(id)
                        && let Some(c) = db.get_connection(id)?
                    {
                        connections.insert(id.clone(), c);
                    }
                }
                Ok::<_, ServiceError>((connections, rows))
            })
            .await?;
        let mut by_connection: BTreeMap<&xc_types::ConnectionId, Vec<xc_store::LinkMinute>> =
            BTreeMap::new();
        for (id, m) in &rows {
            by_connection.entry(id).or_default().push(m.clone());
        }
        let mut out = Vec::new();
        for (id, minutes) in by_connection {
            let Some(c) = connections.get(id) else {
                continue;
            };
            for (is_b, account) in [(false, Some(&c.owner)), (true, c.remote_account.as_ref())] {
                let Some(account) = account else { continue };
                if !caller.is_operator() && account != &caller.account {
                    continue;
                }
                let Some(latest) = minutes
                    .iter()
                    .filter(|m| m.is_b == is_b)
                    .map(|m| m.minute)
                    .max()
                else {
                    continue;
                };
                let rows: Vec<xc_store::LinkMinute> = minutes
                    .iter()
                    .filter(|m| m.minute == latest)
                    .cloned()
                    .collect();
                let mut links: Vec<u64> = rows.iter().map(|m| m.sample.id).collect();
                links.sort_unstable();
                links.dedup();
                for link in std::iter::once(None).chain(links.into_iter().map(Some)) {
                    let view = View {
                        is_b,
                        link,
                        cause: None,
                        bandwidth_bps: c.bandwidth.mbps() as f64 * 1e6,
                    };
                    for &m in MetricName::ALL {
                        if let Some(&(_, value, _)) = per_minute(m, &rows, &view).last() {
                            out.push(LatestValue {
                                metric: m,
                                connection_id: c.id.to_string(),
                                account_id: account.to_string(),
                                link_id: link,
                                value,
                            });
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Rolls the minutes up into 5-minute and hourly rows, one bounded transaction at a time
    /// until caught up.
    pub(crate) async fn roll_up(&self) -> Result<()> {
        loop {
            let now = self.now();
            let behind = self.store.write(move |db| roll_up_step(db, now)).await?;
            if !behind {
                return Ok(());
            }
            tokio::time::sleep(ROLLUP_PAUSE).await;
        }
    }

    /// For each rollup span, in seconds: how far behind the clock its rows are complete (the
    /// clock less its mark; the mark trails by at least the span and [`ROLLUP_DELAY_SECS`]).
    pub async fn rollup_lag(&self) -> Result<Vec<(i64, i64)>> {
        let now = self.now();
        self.store
            .read(move |db| {
                let mut out = Vec::new();
                for span in xc_store::ROLLUP_SPANS {
                    if let Some(t) = db.rollup_mark(span)? {
                        out.push((span, (now - t).max(0)));
                    }
                }
                Ok::<_, ServiceError>(out)
            })
            .await
    }

    /// Rolls up once a minute until told to stop.
    pub(crate) async fn run_rollups(self: Arc<Self>, stop: tokio::sync::watch::Receiver<bool>) {
        Service::every(
            "metric rollup",
            std::time::Duration::from_secs(60),
            stop,
            || self.roll_up(),
        )
        .await;
    }

    /// Gateways that reported within the last 30 s.
    pub async fn gateways_connected(&self) -> Result<usize> {
        let now = self.now();
        let list = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.list_gateways(None)?))
            .await?;
        Ok(list
            .iter()
            .filter(|g| {
                g.last_contact
                    .is_some_and(|t| now - t <= crate::planner::STALE_SECS)
            })
            .count())
    }

    /// The store's commit times.
    pub fn commit_times(&self) -> &Histogram {
        self.store.commit_times()
    }
}
