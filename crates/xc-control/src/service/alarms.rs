//! Alarms and webhooks: their API, the evaluator that moves alarms between states as the
//! gateways' minutes arrive, and the deliverer that posts each transition to the alarm's
//! webhooks, signed, until a 2xx or an hour has passed. The decisions are `crate::alarms`.

use super::connections::{fmt_time, load_visible};
use super::{Caller, Service};
use crate::alarms::{DEFAULT_ALARMS, Outcome, Rule, evaluate, next_attempt, signature};
use crate::metrics::{View, per_minute, per_period};
use crate::{Result, ServiceError};
use std::collections::BTreeMap;
use std::sync::Arc;
use xc_store::{
    AlarmHistoryRecord, AlarmRecord, AttemptRecord, Db, DeliveryRecord, StoreError, WebhookRecord,
};
use xc_types::api::alarms::*;
use xc_types::api::metrics::{PERIODS, Statistic};
use xc_types::{AccountId, AlarmId, ConnectionId, WebhookId};

/// How long after a period ends its minutes are taken as complete: a minute closes a second
/// after it ends, and gateways report every 2 s.
pub const EVALUATION_DELAY_SECS: i64 = 10;
/// How often the evaluator looks for periods that have become complete.
const EVALUATE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// Most deliveries attempted at once.
const DELIVERIES_AT_ONCE: usize = 16;
/// The longest error text kept with an attempt.
const MAX_ERROR_LEN: usize = 200;

fn random_id(prefix: &str) -> String {
    format!("{prefix}-{}", hex::encode(rand::random::<[u8; 8]>()))
}

fn parse_alarm_id(s: &str) -> Result<AlarmId> {
    AlarmId::parse(s).map_err(|e| ServiceError::validation("id", e))
}

fn parse_webhook_id(s: &str) -> Result<WebhookId> {
    WebhookId::parse(s).map_err(|e| ServiceError::validation("id", e))
}

fn may_see(caller: &Caller, owner: &AccountId) -> bool {
    owner == &caller.account || caller.is_operator()
}

fn alarm_view(a: AlarmRecord) -> AlarmView {
    AlarmView {
        id: a.id,
        name: a.name,
        account_id: a.account_id.to_string(),
        connection_id: a.connection_id.clone(),
        metric: a.metric,
        link_id: a.link_id,
        stat: a.stat,
        period: a.period,
        comparison: a.comparison,
        threshold: a.threshold,
        evaluation_periods: a.evaluation_periods,
        datapoints_to_alarm: a.datapoints_to_alarm,
        missing_data: a.missing_data,
        webhooks: a.webhooks,
        state: a.state,
        state_reason: a.state_reason,
        state_updated_at: fmt_time(a.state_updated_at),
        evaluated_through: a.evaluated_through.map(fmt_time),
        created_at: fmt_time(a.created_at),
        default: a.is_default,
    }
}

fn webhook_view(w: WebhookRecord, secret: Option<String>) -> WebhookView {
    WebhookView {
        id: w.id,
        account_id: w.account_id.to_string(),
        url: w.url,
        created_at: fmt_time(w.created_at),
        secret,
    }
}

fn delivery_view(d: DeliveryRecord) -> DeliveryView {
    DeliveryView {
        id: d.id,
        webhook_id: d.webhook_id,
        event: d.event,
        created_at: fmt_time(d.created_at),
        state: d.state,
        next_attempt_at: d.next_attempt_at.map(fmt_time),
        attempts: d
            .attempts
            .into_iter()
            .map(|a| DeliveryAttempt {
                at: fmt_time(a.at),
                status_code: a.status_code,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect(),
        body: serde_json::from_str(&d.body).unwrap_or(serde_json::Value::Null),
    }
}

/// The state a new alarm starts in, and why.
const INITIAL_REASON: &str = "Unchecked: initial alarm creation";

fn new_alarm(account: &AccountId, connection: &ConnectionId, now: i64) -> AlarmRecord {
    AlarmRecord {
        id: AlarmId::from_random(rand::random()),
        account_id: account.clone(),
        name: String::new(),
        connection_id: connection.clone(),
        metric: xc_types::api::metrics::MetricName::ConnectionState,
        link_id: None,
        stat: "Average".to_owned(),
        period: 60,
        comparison: Comparison::GreaterThanThreshold,
        threshold: 0.0,
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        missing_data: MissingData::Missing,
        is_default: false,
        state: AlarmState::InsufficientData,
        state_reason: INITIAL_REASON.to_owned(),
        state_updated_at: now,
        evaluated_through: None,
        created_at: now,
        webhooks: Vec::new(),
    }
}

fn insert_with_history(db: &Db<'_>, a: &AlarmRecord) -> Result<()> {
    super::quotas::check_quota(
        db,
        &a.account_id,
        xc_types::api::quotas::QuotaName::Alarms,
        1,
        "",
    )?;
    db.insert_alarm(a).map_err(|e| match e {
        StoreError::Duplicate(_) => {
            ServiceError::Conflict(format!("an alarm named `{}` already exists", a.name))
        }
        e => e.into(),
    })?;
    db.add_alarm_history(
        &a.id,
        &AlarmHistoryRecord {
            at: a.created_at,
            kind: AlarmHistoryKind::ConfigurationUpdate,
            old_state: None,
            new_state: Some(a.state),
            summary: format!("Alarm \"{}\" created", a.name),
        },
    )?;
    Ok(())
}

/// Makes `account`'s default alarms for a connection (in the caller's transaction): those it
/// cannot have (a name taken, the quota reached) are left out and said in the log.
pub(crate) fn insert_default_alarms(
    db: &Db<'_>,
    account: &AccountId,
    connection: &ConnectionId,
    now: i64,
) -> Result<()> {
    for d in DEFAULT_ALARMS {
        let a = AlarmRecord {
            name: format!("{connection}{}", d.suffix),
            metric: d.metric,
            stat: d.stat.to_owned(),
            period: d.period,
            comparison: d.comparison,
            threshold: d.threshold,
            evaluation_periods: d.evaluation_periods,
            datapoints_to_alarm: d.evaluation_periods,
            missing_data: d.missing,
            is_default: true,
            ..new_alarm(account, connection, now)
        };
        match insert_with_history(db, &a) {
            Ok(()) => {}
            Err(e @ (ServiceError::Conflict(_) | ServiceError::QuotaExceeded(_))) => {
                tracing::warn!(connection = %connection, account = %account, alarm = %a.name, error = %e, "default alarm left out");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn validate_url(url: &str, allow: &[ipnet::IpNet]) -> Result<String> {
    check_webhook_url(url).map_err(|why| ServiceError::validation("url", why))?;
    // The host as the deliverer's URL parser reads it (`2130706433` and `127.1` are 127.0.0.1).
    let host = url::Url::parse(url)
        .map_err(|e| ServiceError::validation("url", format!("is not a URL ({e})")))?
        .host()
        .map(|h| h.to_owned());
    let ip = match host {
        Some(url::Host::Ipv4(a)) => Some(std::net::IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Some(std::net::IpAddr::V6(a)),
        _ => None,
    };
    if let Some(ip) = ip
        && let Some(why) = crate::destinations::refused_destination(ip, allow)
    {
        return Err(ServiceError::validation(
            "url",
            format!(
                "{ip} is {why}: webhooks go to public addresses (the operator allows other networks with `xconnect server --webhook-allow-network`)"
            ),
        ));
    }
    // (What the check lets through is a URI; this says so, should the two ever part.)
    url.parse::<http::Uri>()
        .map_err(|e| ServiceError::validation("url", format!("is not a URL ({e})")))?;
    Ok(url.to_owned())
}

/// Checks an alarm's condition and webhooks (the list sorted, without repeats, answered).
fn check_condition(
    stat: &str,
    period: u32,
    evaluation_periods: u32,
    datapoints_to_alarm: u32,
    threshold: f64,
    mut webhooks: Vec<WebhookId>,
) -> Result<Vec<WebhookId>> {
    if Statistic::parse(stat).is_none() {
        return Err(ServiceError::validation(
            "stat",
            format!(
                "`{stat}` is not a statistic: Average, Minimum, Maximum, Sum, SampleCount or pNN"
            ),
        ));
    }
    if !PERIODS.contains(&period) {
        return Err(ServiceError::validation(
            "period",
            format!("is one of {PERIODS:?} seconds"),
        ));
    }
    if evaluation_periods == 0
        || u64::from(evaluation_periods) * u64::from(period) > u64::from(MAX_EVALUATION_SECS)
    {
        return Err(ServiceError::validation(
            "evaluationPeriods",
            format!(
                "is 1 or more, and with the period spans at most {MAX_EVALUATION_SECS} s (a day)"
            ),
        ));
    }
    if datapoints_to_alarm == 0 || datapoints_to_alarm > evaluation_periods {
        return Err(ServiceError::validation(
            "datapointsToAlarm",
            "is 1 to the number of evaluation periods",
        ));
    }
    if !threshold.is_finite() {
        return Err(ServiceError::validation("threshold", "is a finite number"));
    }
    webhooks.sort();
    webhooks.dedup();
    if webhooks.len() > MAX_WEBHOOKS_PER_ALARM {
        return Err(ServiceError::validation(
            "webhooks",
            format!("at most {MAX_WEBHOOKS_PER_ALARM}"),
        ));
    }
    Ok(webhooks)
}

/// What changed from `old` to `new`, in words (nothing: no change).
fn alarm_changes(old: &AlarmRecord, new: &AlarmRecord) -> Vec<String> {
    let mut out = Vec::new();
    let mut note = |what: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{what} {a} -> {b}"));
        }
    };
    note("stat", old.stat.clone(), new.stat.clone());
    note("period", old.period.to_string(), new.period.to_string());
    note(
        "comparison",
        old.comparison.as_str().into(),
        new.comparison.as_str().into(),
    );
    note(
        "threshold",
        old.threshold.to_string(),
        new.threshold.to_string(),
    );
    note(
        "evaluationPeriods",
        old.evaluation_periods.to_string(),
        new.evaluation_periods.to_string(),
    );
    note(
        "datapointsToAlarm",
        old.datapoints_to_alarm.to_string(),
        new.datapoints_to_alarm.to_string(),
    );
    note(
        "missingData",
        old.missing_data.as_str().into(),
        new.missing_data.as_str().into(),
    );
    let list = |w: &[WebhookId]| {
        if w.is_empty() {
            "none".to_owned()
        } else {
            w.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" ")
        }
    };
    note("webhooks", list(&old.webhooks), list(&new.webhooks));
    out
}

/// Fails unless every webhook is `account`'s.
fn check_webhooks(db: &Db<'_>, account: &AccountId, webhooks: &[WebhookId]) -> Result<()> {
    for w in webhooks {
        db.get_webhook(w)?
            .filter(|h| &h.account_id == account)
            .ok_or_else(|| ServiceError::not_found("webhook", w))?;
    }
    Ok(())
}

/// A notification to post: where, with which headers, what.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// How a post went: the receiver's status code, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    Failed(String),
}

impl Service {
    // ---- alarms ----

    pub async fn create_alarm(
        &self,
        caller: &Caller,
        req: CreateAlarmRequest,
    ) -> Result<AlarmView> {
        caller.require_write()?;
        let name = req.name.clone();
        if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
            return Err(ServiceError::validation(
                "name",
                "is 1 to 255 characters, none of them control characters",
            ));
        }
        let connection = req.connection_id.clone();
        if req.link_id.is_some_and(|l| l == 0 || l > MAX_LINK_ID) {
            return Err(ServiceError::validation(
                "linkId",
                "is a link id as `connection links` shows it (1 or more)",
            ));
        }
        let m = req.datapoints_to_alarm.unwrap_or(req.evaluation_periods);
        let webhooks = check_condition(
            &req.stat,
            req.period,
            req.evaluation_periods,
            m,
            req.threshold,
            req.webhooks.clone(),
        )?;
        let now = self.now();
        let who = caller.clone();
        let a = self
            .store
            .write(move |db| {
                let c = load_visible(db, &who, &connection)?;
                check_webhooks(db, &who.account, &webhooks)?;
                let a = AlarmRecord {
                    name,
                    metric: req.metric,
                    link_id: req.link_id,
                    stat: req.stat,
                    period: req.period,
                    comparison: req.comparison,
                    threshold: req.threshold,
                    evaluation_periods: req.evaluation_periods,
                    datapoints_to_alarm: m,
                    missing_data: req.missing_data,
                    webhooks,
                    ..new_alarm(&who.account, &c.id, now)
                };
                insert_with_history(db, &a)?;
                Ok::<_, ServiceError>(a)
            })
            .await?;
        tracing::info!(alarm = %a.id, name = %a.name, connection = %a.connection_id, "alarm created");
        Ok(alarm_view(a))
    }

    /// The caller's alarms (every account's, for the operator), maybe of one connection.
    pub async fn list_alarms(&self, caller: &Caller, q: ListAlarmsQuery) -> Result<AlarmList> {
        let connection = q.connection;
        let account = (!caller.is_operator()).then(|| caller.account.clone());
        let alarms = self
            .store
            .read(move |db| {
                Ok::<_, ServiceError>(db.list_alarms(account.as_ref(), connection.as_ref())?)
            })
            .await?;
        Ok(AlarmList {
            alarms: alarms.into_iter().map(alarm_view).collect(),
        })
    }

    async fn load_alarm(&self, caller: &Caller, id: &str) -> Result<AlarmRecord> {
        let id = parse_alarm_id(id)?;
        let key = id.clone();
        self.store
            .read(move |db| Ok::<_, ServiceError>(db.get_alarm(&key)?))
            .await?
            .filter(|a| may_see(caller, &a.account_id))
            .ok_or_else(|| ServiceError::not_found("alarm", &id))
    }

    pub async fn get_alarm(&self, caller: &Caller, id: &str) -> Result<AlarmView> {
        self.load_alarm(caller, id).await.map(alarm_view)
    }

    pub async fn alarm_history(&self, caller: &Caller, id: &str) -> Result<AlarmHistory> {
        let a = self.load_alarm(caller, id).await?;
        let key = a.id.clone();
        let items = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.alarm_history(&key)?))
            .await?;
        Ok(AlarmHistory {
            alarm_id: a.id,
            items: items
                .into_iter()
                .map(|h| AlarmHistoryItem {
                    timestamp: fmt_time(h.at),
                    kind: h.kind,
                    old_state: h.old_state,
                    new_state: h.new_state,
                    summary: h.summary,
                })
                .collect(),
        })
    }

    /// Changes an alarm's condition or webhooks: checked as a new one's, written with an entry
    /// of its history; its state stays until its next period is evaluated with the new condition.
    pub async fn update_alarm(
        &self,
        caller: &Caller,
        id: &str,
        req: UpdateAlarmRequest,
    ) -> Result<AlarmView> {
        caller.require_write()?;
        let old = self.load_alarm(caller, id).await?;
        let mut a = old.clone();
        if let Some(s) = req.stat {
            a.stat = s;
        }
        a.period = req.period.unwrap_or(a.period);
        a.comparison = req.comparison.unwrap_or(a.comparison);
        a.threshold = req.threshold.unwrap_or(a.threshold);
        a.evaluation_periods = req.evaluation_periods.unwrap_or(a.evaluation_periods);
        a.datapoints_to_alarm = match req.datapoints_to_alarm {
            Some(m) => m,
            // M of N where M was all of them stays all of them.
            None if old.datapoints_to_alarm == old.evaluation_periods => a.evaluation_periods,
            None => a.datapoints_to_alarm,
        };
        a.missing_data = req.missing_data.unwrap_or(a.missing_data);
        a.webhooks = check_condition(
            &a.stat,
            a.period,
            a.evaluation_periods,
            a.datapoints_to_alarm,
            a.threshold,
            req.webhooks.unwrap_or(old.webhooks.clone()),
        )?;
        let changes = alarm_changes(&old, &a);
        if changes.is_empty() {
            return Ok(alarm_view(old));
        }
        // Evaluated afresh from its latest period.
        a.evaluated_through = None;
        let now = self.now();
        let who = caller.clone();
        let written = a.clone();
        let summary = format!("Alarm \"{}\" updated: {}", a.name, changes.join(", "));
        self.store
            .write(move |db| {
                check_webhooks(db, &who.account, &written.webhooks)?;
                if !db.update_alarm_condition(&written)? {
                    return Err(ServiceError::not_found("alarm", &written.id));
                }
                db.add_alarm_history(
                    &written.id,
                    &AlarmHistoryRecord {
                        at: now,
                        kind: AlarmHistoryKind::ConfigurationUpdate,
                        old_state: None,
                        new_state: None,
                        summary,
                    },
                )?;
                Ok::<_, ServiceError>(())
            })
            .await?;
        tracing::info!(alarm = %a.id, name = %a.name, changes = %changes.join(", "), "alarm updated");
        Ok(alarm_view(a))
    }

    pub async fn delete_alarm(&self, caller: &Caller, id: &str) -> Result<AlarmId> {
        caller.require_write()?;
        let a = self.load_alarm(caller, id).await?;
        let key = a.id.clone();
        self.store
            .write(move |db| Ok::<_, ServiceError>(db.delete_alarm(&key)?))
            .await?;
        tracing::info!(alarm = %a.id, name = %a.name, "alarm deleted");
        Ok(a.id)
    }

    // ---- webhooks ----

    /// The networks webhooks may go to although they are not public.
    pub fn webhook_allow(&self) -> &[ipnet::IpNet] {
        &self.config.webhook_allow
    }

    pub async fn create_webhook(
        &self,
        caller: &Caller,
        req: CreateWebhookRequest,
    ) -> Result<WebhookView> {
        caller.require_write()?;
        let url = validate_url(&req.url, &self.config.webhook_allow)?;
        let (secret, shown) = match req.secret {
            Some(s) if (16..=256).contains(&s.chars().count()) => (s, None),
            Some(_) => {
                return Err(ServiceError::validation(
                    "secret",
                    "is 16 to 256 characters",
                ));
            }
            None => {
                use base64::Engine as _;
                let s = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(rand::random::<[u8; 32]>());
                (s.clone(), Some(s))
            }
        };
        let w = WebhookRecord {
            id: WebhookId::from_random(rand::random()),
            account_id: caller.account.clone(),
            url,
            sealed_secret: self.secrets.seal(secret.as_bytes()),
            created_at: self.now(),
        };
        let record = w.clone();
        self.store
            .write(move |db| {
                super::quotas::check_quota(
                    db,
                    &record.account_id,
                    xc_types::api::quotas::QuotaName::Webhooks,
                    1,
                    "",
                )?;
                Ok::<_, ServiceError>(db.insert_webhook(&record)?)
            })
            .await?;
        tracing::info!(webhook = %w.id, url = %w.url, "webhook created");
        Ok(webhook_view(w, shown))
    }

    pub async fn list_webhooks(&self, caller: &Caller) -> Result<WebhookList> {
        let account = caller.account.clone();
        let list = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.list_webhooks(&account)?))
            .await?;
        Ok(WebhookList {
            webhooks: list.into_iter().map(|w| webhook_view(w, None)).collect(),
        })
    }

    async fn load_webhook(&self, caller: &Caller, id: &str) -> Result<WebhookRecord> {
        let id = parse_webhook_id(id)?;
        let key = id.clone();
        self.store
            .read(move |db| Ok::<_, ServiceError>(db.get_webhook(&key)?))
            .await?
            .filter(|w| may_see(caller, &w.account_id))
            .ok_or_else(|| ServiceError::not_found("webhook", &id))
    }

    pub async fn get_webhook(&self, caller: &Caller, id: &str) -> Result<WebhookView> {
        self.load_webhook(caller, id)
            .await
            .map(|w| webhook_view(w, None))
    }

    pub async fn delete_webhook(&self, caller: &Caller, id: &str) -> Result<WebhookId> {
        caller.require_write()?;
        let w = self.load_webhook(caller, id).await?;
        let key = w.id.clone();
        self.store
            .write(move |db| Ok::<_, ServiceError>(db.delete_webhook(&key)?))
            .await?;
        tracing::info!(webhook = %w.id, "webhook deleted");
        Ok(w.id)
    }

    pub async fn webhook_deliveries(&self, caller: &Caller, id: &str) -> Result<DeliveryList> {
        let w = self.load_webhook(caller, id).await?;
        let list = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.webhook_deliveries(&w.id)?))
            .await?;
        Ok(DeliveryList {
            deliveries: list.into_iter().map(delivery_view).collect(),
        })
    }

    // ---- the evaluator ----

    /// Evaluates every alarm with a period that has become complete since its last evaluation;
    /// records each transition in its history and queues its notifications. Answers how many
    /// alarms changed state.
    pub async fn evaluate_alarms(&self) -> Result<usize> {
        let now = self.now();
        let until = now - EVALUATION_DELAY_SECS;
        let alarms = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.alarms_due(until)?))
            .await?;
        let due: Vec<(AlarmRecord, i64)> = alarms
            .into_iter()
            .filter_map(|a| {
                let p = i64::from(a.period);
                let last = (now - EVALUATION_DELAY_SECS - p).div_euclid(p) * p;
                a.evaluated_through
                    .is_none_or(|t| t < last)
                    .then_some((a, last))
            })
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        // Each connection's minutes over its alarms' windows, in one read.
        let mut spans: BTreeMap<ConnectionId, (i64, i64)> = BTreeMap::new();
        for (a, last) in &due {
            let p = i64::from(a.period);
            let from = last - (i64::from(a.evaluation_periods) - 1) * p;
            let e = spans
                .entry(a.connection_id.clone())
                .or_insert((from, last + p));
            e.0 = e.0.min(from);
            e.1 = e.1.max(last + p);
        }
        let data = self
            .store
            .read(move |db| {
                let mut out = BTreeMap::new();
                for (id, (from, to)) in spans {
                    let c = db.get_connection(&id)?;
                    let rows = db.link_minutes(&id, from, to)?;
                    out.insert(id, (c, rows));
                }
                Ok::<_, ServiceError>(out)
            })
            .await?;
        let mut outcomes = Vec::with_capacity(due.len());
        for (a, last) in due {
            let p = i64::from(a.period);
            let n = i64::from(a.evaluation_periods);
            let from = last - (n - 1) * p;
            let (c, rows) = data
                .get(&a.connection_id)
                .map(|(c, r)| (c.as_ref(), r.as_slice()))
                .unwrap_or((None, &[]));
            let window: Vec<(i64, Option<f64>)> = match (c, Statistic::parse(&a.stat)) {
                (Some(c), Some(stat)) => {
                    let view = View {
                        is_b: c.remote_account.as_ref() == Some(&a.account_id)
                            && c.owner != a.account_id,
                        link: a.link_id,
                        cause: None,
                        bandwidth_bps: c.bandwidth.mbps() as f64 * 1e6,
                    };
                    let minutes: Vec<crate::metrics::Value> = per_minute(a.metric, rows, &view)
                        .into_iter()
                        .filter(|&(t, _, _)| t >= from && t < last + p)
                        .collect();
                    let values: BTreeMap<i64, f64> =
                        per_period(&minutes, from, p, stat).into_iter().collect();
                    (0..n)
                        .map(|i| {
                            let t = from + i * p;
                            (t, values.get(&t).copied())
                        })
                        .collect()
                }
                _ => (0..n).map(|i| (from + i * p, None)).collect(),
            };
            let rule = Rule {
                comparison: a.comparison,
                threshold: a.threshold,
                datapoints_to_alarm: a.datapoints_to_alarm,
                missing: a.missing_data,
            };
            let outcome = evaluate(&rule, &window, a.state);
            outcomes.push((a.id, last, outcome));
        }
        let transitions = self
            .store
            .write(move |db| {
                let mut changed = 0;
                for (id, last, outcome) in &outcomes {
                    // Deleted meanwhile, or evaluated by another pass: nothing to do.
                    let Some(a) = db.get_alarm(id)? else { continue };
                    if a.evaluated_through.is_some_and(|t| t >= *last) {
                        continue;
                    }
                    if outcome.state == a.state {
                        db.alarm_evaluated(id, *last, None)?;
                        continue;
                    }
                    db.alarm_evaluated(id, *last, Some((outcome.state, &outcome.reason, now)))?;
                    record_transition(db, &a, outcome, now)?;
                    changed += 1;
                }
                Ok::<_, ServiceError>(changed)
            })
            .await?;
        Ok(transitions)
    }

    // ---- the deliverer ----

    /// Attempts the deliveries that are due (at most [`DELIVERIES_AT_ONCE`], at the same time)
    /// with `send`, each signed with its webhook's secret, and records each attempt; answers how
    /// many were attempted. The transport is the caller's (`xc_api::webhooks`), so this crate
    /// holds no HTTP.
    pub async fn deliver_webhooks<F, Fut>(&self, send: F) -> Result<usize>
    where
        F: Fn(Outgoing) -> Fut,
        Fut: std::future::Future<Output = Answer> + Send + 'static,
    {
        let now = self.now();
        let due = self
            .store
            .read(move |db| {
                let mut out = Vec::new();
                for d in db.due_deliveries(now, DELIVERIES_AT_ONCE)? {
                    let w = db.get_webhook(&d.webhook_id)?;
                    out.push((d, w));
                }
                Ok::<_, ServiceError>(out)
            })
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut attempts = tokio::task::JoinSet::new();
        for (d, w) in due {
            let Some(w) = w else { continue };
            let Some(secret) = self.secrets.unseal(&w.sealed_secret) else {
                tracing::error!(webhook = %w.id, "cannot unseal the webhook's secret; its deliveries fail");
                let attempt = AttemptRecord {
                    at: now,
                    status_code: None,
                    error: Some("the webhook's secret cannot be read by this server".into()),
                    duration_ms: 0,
                };
                attempts.spawn(async move { (d, attempt) });
                continue;
            };
            let out = Outgoing {
                url: w.url.clone(),
                headers: vec![
                    ("content-type", "application/json".to_owned()),
                    (SIGNATURE_HEADER, signature(&secret, now, d.body.as_bytes())),
                    ("x-xconnect-event", d.event.clone()),
                    ("x-xconnect-delivery", d.id.clone()),
                ],
                body: d.body.clone(),
            };
            let sent = send(out);
            attempts.spawn(async move {
                let began = std::time::Instant::now();
                let answer = sent.await;
                let duration_ms = began.elapsed().as_millis() as u64;
                let (status_code, error) = match answer {
                    Answer::Status(c) => (Some(c), None),
                    Answer::Failed(why) => (None, Some(why.chars().take(MAX_ERROR_LEN).collect())),
                };
                (
                    d,
                    AttemptRecord {
                        at: now,
                        status_code,
                        error,
                        duration_ms,
                    },
                )
            });
        }
        let mut results = Vec::new();
        while let Some(r) = attempts.join_next().await {
            if let Ok(r) = r {
                results.push(r);
            }
        }
        let n = results.len();
        self.store
            .write(move |db| {
                for (d, attempt) in &results {
                    let ok = attempt.status_code.is_some_and(|c| (200..300).contains(&c));
                    let tried = d.attempts.len() as u32 + 1;
                    let (state, next) = if ok {
                        (DeliveryState::Delivered, None)
                    } else {
                        match next_attempt(d.created_at, tried, attempt.at) {
                            Some(t) => (DeliveryState::Pending, Some(t)),
                            None => (DeliveryState::Failed, None),
                        }
                    };
                    db.record_attempt(&d.id, attempt, state, next)?;
                    if state == DeliveryState::Failed {
                        tracing::warn!(delivery = %d.id, webhook = %d.webhook_id, attempts = tried, "webhook delivery failed for an hour; given up");
                    }
                }
                Ok::<_, ServiceError>(())
            })
            .await?;
        Ok(n)
    }

    /// Runs the alarm evaluator until `stop` turns true.
    pub(crate) async fn run_alarms(self: Arc<Self>, stop: tokio::sync::watch::Receiver<bool>) {
        Service::every("alarm evaluation", EVALUATE_EVERY, stop, || async {
            self.evaluate_alarms().await.map(|_| ())
        })
        .await;
    }
}
/// Records a transition of `a` to `outcome` in its history and queues a notification for each
/// of its webhooks.
fn record_transition(db: &Db<'_>, a: &AlarmRecord, outcome: &Outcome, now: i64) -> Result<()> {
    db.add_alarm_history(
        &a.id,
        &AlarmHistoryRecord {
            at: now,
            kind: AlarmHistoryKind::StateUpdate,
            old_state: Some(a.state),
            new_state: Some(outcome.state),
            summary: format!(
                "Alarm updated from {} to {}: {}",
                a.state, outcome.state, outcome.reason
            ),
        },
    )?;
    tracing::info!(alarm = %a.id, name = %a.name, from = %a.state, to = %outcome.state, "alarm state changed");
    let notification = AlarmNotification {
        kind: ALARM_STATE_CHANGE.to_owned(),
        id: random_id("ntf"),
        time: fmt_time(now),
        account_id: a.account_id.to_string(),
        alarm_id: a.id.clone(),
        alarm_name: a.name.clone(),
        connection_id: a.connection_id.clone(),
        metric: a.metric,
        link_id: a.link_id,
        old_state: a.state,
        new_state: outcome.state,
        reason: outcome.reason.clone(),
    };
    let body = serde_json::to_string(&notification)
        .map_err(|e| ServiceError::Internal(format!("notification: {e}")))?;
    db.insert_event(
        &a.account_id,
        now,
        xc_types::api::events::EventType::AlarmStateChange.as_str(),
        Some(&a.connection_id),
        &body,
    )?;
    for w in &a.webhooks {
        db.insert_delivery(&DeliveryRecord {
            id: random_id("dlv"),
            webhook_id: w.clone(),
            event: ALARM_STATE_CHANGE.to_owned(),
            body: body.clone(),
            created_at: now,
            state: DeliveryState::Pending,
            next_attempt_at: Some(now),
            attempts: Vec::new(),
        })?;
    }
    Ok(())
}
