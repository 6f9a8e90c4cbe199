//! Alarms, their history, webhooks and their deliveries (migration 0009).

use crate::db::{enum_parse, enum_str, map_duplicate};
use crate::sql::{OptionalExtension, Row, params};
use crate::{Db, StoreError};
use xc_types::api::alarms::{AlarmHistoryKind, AlarmState, Comparison, DeliveryState, MissingData};
use xc_types::api::metrics::MetricName;
use xc_types::{AccountId, AlarmId, ConnectionId, WebhookId};

/// An alarm as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmRecord {
    pub id: AlarmId,
    pub account_id: AccountId,
    pub name: String,
    pub connection_id: ConnectionId,
    pub metric: MetricName,
    pub link_id: Option<u64>,
    pub stat: String,
    pub period: u32,
    pub comparison: Comparison,
    pub threshold: f64,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub missing_data: MissingData,
    pub is_default: bool,
    pub state: AlarmState,
    pub state_reason: String,
    pub state_updated_at: i64,
    pub evaluated_through: Option<i64>,
    pub created_at: i64,
    /// The webhooks it notifies.
    pub webhooks: Vec<WebhookId>,
}

/// One entry of an alarm's history.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmHistoryRecord {
    pub at: i64,
    pub kind: AlarmHistoryKind,
    pub old_state: Option<AlarmState>,
    pub new_state: Option<AlarmState>,
    pub summary: String,
}

/// A webhook as stored (its secret sealed).
#[derive(Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: WebhookId,
    pub account_id: AccountId,
    pub url: String,
    pub sealed_secret: Vec<u8>,
    pub created_at: i64,
}

impl std::fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("url", &self.url)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub at: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// A delivery as stored, with its attempts (oldest first).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub id: String,
    pub webhook_id: WebhookId,
    pub event: String,
    pub body: String,
    pub created_at: i64,
    pub state: DeliveryState,
    pub next_attempt_at: Option<i64>,
    pub attempts: Vec<AttemptRecord>,
}

const ALARM_COLUMNS: &str = "id, account_id, name, connection_id, metric, link_id, stat, period, \
    comparison, threshold, evaluation_periods, datapoints_to_alarm, missing_data, is_default, \
    state, state_reason, state_updated_at, evaluated_through, created_at";

fn alarm_of(r: &Row<'_>) -> crate::sql::Result<AlarmRecordRaw> {
    Ok(AlarmRecordRaw {
        id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        connection_id: r.get(3)?,
        metric: r.get(4)?,
        link_id: r.get(5)?,
        stat: r.get(6)?,
        period: r.get(7)?,
        comparison: r.get(8)?,
        threshold: r.get(9)?,
        evaluation_periods: r.get(10)?,
        datapoints_to_alarm: r.get(11)?,
        missing_data: r.get(12)?,
        is_default: r.get(13)?,
        state: r.get(14)?,
        state_reason: r.get(15)?,
        state_updated_at: r.get(16)?,
        evaluated_through: r.get(17)?,
        created_at: r.get(18)?,
    })
}

/// A row before its texts are parsed into their types.
struct AlarmRecordRaw {
    id: String,
    account_id: String,
    name: String,
    connection_id: String,
    metric: String,
    link_id: Option<i64>,
    stat: String,
    period: u32,
    comparison: String,
    threshold: f64,
    evaluation_periods: u32,
    datapoints_to_alarm: u32,
    missing_data: String,
    is_default: bool,
    state: String,
    state_reason: String,
    state_updated_at: i64,
    evaluated_through: Option<i64>,
    created_at: i64,
}

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} `{v}`"))
}

impl AlarmRecordRaw {
    fn parse(self, webhooks: Vec<String>) -> Result<AlarmRecord, StoreError> {
        let webhooks = webhooks
            .iter()
            .map(|w| WebhookId::parse(w).map_err(|_| corrupt("webhook id", w)))
            .collect::<Result<_, _>>()?;
        Ok(AlarmRecord {
            id: AlarmId::parse(&self.id).map_err(|_| corrupt("alarm id", &self.id))?,
            account_id: AccountId::parse(&self.account_id)
                .map_err(|_| corrupt("account id", &self.account_id))?,
            connection_id: ConnectionId::parse(&self.connection_id)
                .map_err(|_| corrupt("connection id", &self.connection_id))?,
            metric: MetricName::parse(&self.metric)
                .ok_or_else(|| corrupt("metric", &self.metric))?,
            comparison: Comparison::parse(&self.comparison)
                .ok_or_else(|| corrupt("comparison", &self.comparison))?,
            missing_data: MissingData::parse(&self.missing_data)
                .ok_or_else(|| corrupt("missing data", &self.missing_data))?,
            state: AlarmState::parse(&self.state).ok_or_else(|| corrupt("state", &self.state))?,
            name: self.name,
            link_id: self.link_id.map(|l| l.max(0) as u64),
            stat: self.stat,
            period: self.period,
            threshold: self.threshold,
            evaluation_periods: self.evaluation_periods,
            datapoints_to_alarm: self.datapoints_to_alarm,
            is_default: self.is_default,
            state_reason: self.state_reason,
            state_updated_at: self.state_updated_at,
            evaluated_through: self.evaluated_through,
            created_at: self.created_at,
            webhooks,
        })
    }
}

/// `alarm_history`'s columns before they are parsed.
type HistoryRow = (i64, String, Option<String>, Option<String>, String);
/// `webhook_deliveries`' columns before they are parsed.
type DeliveryRow = (String, String, String, String, i64, String, Option<i64>);

fn opt_state(s: Option<String>) -> Result<Option<AlarmState>, StoreError> {
    s.map(|s| AlarmState::parse(&s).ok_or_else(|| corrupt("state", &s)))
        .transpose()
}

impl Db<'_> {
    /// Stores a new alarm, its webhooks and the first entry of its history.
    pub fn insert_alarm(&self, a: &AlarmRecord) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO alarms ({ALARM_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
                 ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
            ))?
            .execute(params![
                a.id.as_str(),
                a.account_id.as_str(),
                a.name,
                a.connection_id.as_str(),
                a.metric.as_str(),
                a.link_id.map(|l| l as i64),
                a.stat,
                a.period,
                a.comparison.as_str(),
                a.threshold,
                a.evaluation_periods,
                a.datapoints_to_alarm,
                a.missing_data.as_str(),
                a.is_default,
                a.state.as_str(),
                a.state_reason,
                a.state_updated_at,
                a.evaluated_through,
                a.created_at,
            ])
            .map_err(|e| map_duplicate(e, "name"))?;
        self.add_alarm_webhooks(a)
    }

    /// Notes which webhooks an alarm notifies.
    fn add_alarm_webhooks(&self, a: &AlarmRecord) -> Result<(), StoreError> {
        for w in &a.webhooks {
            self.conn.execute(
                "INSERT INTO alarm_webhooks (alarm_id, webhook_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![a.id.as_str(), w.as_str()],
            )?;
        }
        Ok(())
    }

    /// Writes an alarm's condition, webhooks and evaluation mark (its name, connection, metric,
    /// link and state stay); answers whether it was there.
    pub fn update_alarm_condition(&self, a: &AlarmRecord) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE alarms SET stat = ?2, period = ?3, comparison = ?4, threshold = ?5,
                 evaluation_periods = ?6, datapoints_to_alarm = ?7, missing_data = ?8,
                 evaluated_through = ?9
             WHERE id = ?1",
            params![
                a.id.as_str(),
                a.stat,
                a.period,
                a.comparison.as_str(),
                a.threshold,
                a.evaluation_periods,
                a.datapoints_to_alarm,
                a.missing_data.as_str(),
                a.evaluated_through,
            ],
        )?;
        if n == 0 {
            return Ok(false);
        }
        self.conn.execute(
            "DELETE FROM alarm_webhooks WHERE alarm_id = ?1",
            params![a.id.as_str()],
        )?;
        self.add_alarm_webhooks(a)?;
        Ok(true)
    }

    /// Rows as alarms, each with its webhooks.
    fn with_webhooks(&self, raws: Vec<AlarmRecordRaw>) -> Result<Vec<AlarmRecord>, StoreError> {
        raws.into_iter()
            .map(|raw| {
                let w = self.alarm_webhooks(&raw.id)?;
                raw.parse(w)
            })
            .collect()
    }

    fn alarm_webhooks(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT webhook_id FROM alarm_webhooks WHERE alarm_id = ?1 ORDER BY webhook_id",
        )?;
        let rows = st.query_map(params![id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn get_alarm(&self, id: &AlarmId) -> Result<Option<AlarmRecord>, StoreError> {
        let raw = self
            .conn
            .query_row(
                &format!("SELECT {ALARM_COLUMNS} FROM alarms WHERE id = ?1"),
                params![id.as_str()],
                alarm_of,
            )
            .optional()?;
        match raw {
            None => Ok(None),
            Some(raw) => {
                let w = self.alarm_webhooks(&raw.id)?;
                Ok(Some(raw.parse(w)?))
            }
        }
    }

    /// Alarms, oldest first: an account's (every account's without one), maybe only those of a
    /// connection.
    pub fn list_alarms(
        &self,
        account: Option<&AccountId>,
        connection: Option<&ConnectionId>,
    ) -> Result<Vec<AlarmRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {ALARM_COLUMNS} FROM alarms
             WHERE (account_id = ?1 OR ?1 IS NULL) AND (connection_id = ?2 OR ?2 IS NULL)
             ORDER BY seq"
        ))?;
        let raws: Vec<AlarmRecordRaw> = st
            .query_map(
                params![account.map(|a| a.as_str()), connection.map(|c| c.as_str())],
                alarm_of,
            )?
            .collect::<Result<_, _>>()?;
        self.with_webhooks(raws)
    }

    /// The alarms with a period that ended by `until` and that they have not evaluated: those
    /// whose latest whole period before `until` starts after their `evaluated_through`.
    pub fn alarms_due(&self, until: i64) -> Result<Vec<AlarmRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {ALARM_COLUMNS} FROM alarms
             WHERE evaluated_through IS NULL
                OR evaluated_through < ((?1 - period) / period) * period
             ORDER BY seq"
        ))?;
        let raws: Vec<AlarmRecordRaw> = st
            .query_map(params![until], alarm_of)?
            .collect::<Result<_, _>>()?;
        self.with_webhooks(raws)
    }

    pub fn count_alarms(&self, account: &AccountId) -> Result<usize, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM alarms WHERE account_id = ?1",
            params![account.as_str()],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as usize)
    }

    /// Deletes an alarm with its history; whether there was one.
    pub fn delete_alarm(&self, id: &AlarmId) -> Result<bool, StoreError> {
        let id = id.as_str();
        self.conn.execute(
            "DELETE FROM alarm_webhooks WHERE alarm_id = ?1",
            params![id],
        )?;
        self.conn
            .execute("DELETE FROM alarm_history WHERE alarm_id = ?1", params![id])?;
        Ok(self
            .conn
            .execute("DELETE FROM alarms WHERE id = ?1", params![id])?
            > 0)
    }

    /// Deletes every alarm of a connection (it is deleted); answers how many.
    pub fn delete_alarms_of_connection(&self, c: &ConnectionId) -> Result<usize, StoreError> {
        let ids: Vec<String> = {
            let mut st = self
                .conn
                .prepare_cached("SELECT id FROM alarms WHERE connection_id = ?1")?;
            st.query_map(params![c.as_str()], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        for id in &ids {
            let id = AlarmId::parse(id).map_err(|_| corrupt("alarm id", id))?;
            self.delete_alarm(&id)?;
        }
        Ok(ids.len())
    }

    /// Notes that an alarm evaluated the periods through `through` (their start); with a new
    /// state, records the transition.
    pub fn alarm_evaluated(
        &self,
        id: &AlarmId,
        through: i64,
        transition: Option<(AlarmState, &str, i64)>,
    ) -> Result<(), StoreError> {
        match transition {
            None => self.conn.execute(
                "UPDATE alarms SET evaluated_through = ?2 WHERE id = ?1",
                params![id.as_str(), through],
            )?,
            Some((state, reason, at)) => self.conn.execute(
                "UPDATE alarms SET evaluated_through = ?2, state = ?3, state_reason = ?4,
                   state_updated_at = ?5 WHERE id = ?1",
                params![id.as_str(), through, state.as_str(), reason, at],
            )?,
        };
        Ok(())
    }

    pub fn add_alarm_history(
        &self,
        id: &AlarmId,
        h: &AlarmHistoryRecord,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO alarm_history (alarm_id, at, kind, old_state, new_state, summary)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                id.as_str(),
                h.at,
                enum_str(&h.kind),
                h.old_state.map(|s| s.as_str()),
                h.new_state.map(|s| s.as_str()),
                h.summary
            ])?;
        Ok(())
    }

    /// An alarm's history, newest first.
    pub fn alarm_history(&self, id: &AlarmId) -> Result<Vec<AlarmHistoryRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT at, kind, old_state, new_state, summary FROM alarm_history
             WHERE alarm_id = ?1 ORDER BY seq DESC",
        )?;
        let rows: Vec<HistoryRow> = st
            .query_map(params![id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(at, kind, old, new, summary)| {
                Ok(AlarmHistoryRecord {
                    at,
                    kind: enum_parse(&kind, "history kind")?,
                    old_state: opt_state(old)?,
                    new_state: opt_state(new)?,
                    summary,
                })
            })
            .collect()
    }

    // ---- webhooks ----

    pub fn insert_webhook(&self, w: &WebhookRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO webhooks (id, account_id, url, sealed_secret, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    w.id.as_str(),
                    w.account_id.as_str(),
                    w.url,
                    w.sealed_secret,
                    w.created_at
                ],
            )
            .map_err(|e| map_duplicate(e, "id"))?;
        Ok(())
    }

    fn webhooks_where(
        &self,
        clause: &str,
        p: &dyn crate::sql::ToValue,
    ) -> Result<Vec<WebhookRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT id, account_id, url, sealed_secret, created_at FROM webhooks
             WHERE {clause} ORDER BY seq"
        ))?;
        let rows: Vec<(String, String, String, Vec<u8>, i64)> = st
            .query_map([p], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(id, account, url, sealed_secret, created_at)| {
                Ok(WebhookRecord {
                    account_id: AccountId::parse(&account)
                        .map_err(|_| corrupt("account id", &account))?,
                    id: WebhookId::parse(&id).map_err(|_| corrupt("webhook id", &id))?,
                    url,
                    sealed_secret,
                    created_at,
                })
            })
            .collect()
    }

    pub fn get_webhook(&self, id: &WebhookId) -> Result<Option<WebhookRecord>, StoreError> {
        Ok(self.webhooks_where("id = ?1", &id.as_str())?.pop())
    }

    pub fn list_webhooks(&self, account: &AccountId) -> Result<Vec<WebhookRecord>, StoreError> {
        self.webhooks_where("account_id = ?1", &account.as_str())
    }

    /// Deletes a webhook, its deliveries and its place in alarms; whether there was one.
    pub fn delete_webhook(&self, id: &WebhookId) -> Result<bool, StoreError> {
        let id = id.as_str();
        self.conn.execute(
            "DELETE FROM webhook_attempts WHERE delivery_id IN
               (SELECT id FROM webhook_deliveries WHERE webhook_id = ?1)",
            params![id],
        )?;
        self.conn.execute(
            "DELETE FROM webhook_deliveries WHERE webhook_id = ?1",
            params![id],
        )?;
        self.conn.execute(
            "DELETE FROM alarm_webhooks WHERE webhook_id = ?1",
            params![id],
        )?;
        Ok(self
            .conn
            .execute("DELETE FROM webhooks WHERE id = ?1", params![id])?
            > 0)
    }

    // ---- deliveries ----

    /// Queues a delivery, due at once (the newest 100 of a webhook are kept).
    pub fn insert_delivery(&self, d: &DeliveryRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO webhook_deliveries (id, webhook_id, event, body, created_at, state,
               next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                d.id,
                d.webhook_id.as_str(),
                d.event,
                d.body,
                d.created_at,
                d.state.as_str(),
                d.next_attempt_at
            ],
        )?;
        Ok(())
    }

    fn attempts(&self, delivery: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT at, status_code, error, duration_ms FROM webhook_attempts
             WHERE delivery_id = ?1 ORDER BY rowid",
        )?;
        let rows = st.query_map(params![delivery], |r| {
            Ok(AttemptRecord {
                at: r.get(0)?,
                status_code: r.get::<_, Option<i64>>(1)?.map(|c| c.clamp(0, 999) as u16),
                error: r.get(2)?,
                duration_ms: r.get::<_, i64>(3)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn deliveries_where(
        &self,
        clause: &str,
        p: &[&dyn crate::sql::ToValue],
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT id, webhook_id, event, body, created_at, state, next_attempt_at
             FROM webhook_deliveries WHERE {clause}"
        ))?;
        let rows: Vec<DeliveryRow> = st
            .query_map(p, |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(
                |(id, webhook_id, event, body, created_at, state, next_attempt_at)| {
                    Ok(DeliveryRecord {
                        attempts: self.attempts(&id)?,
                        state: DeliveryState::parse(&state)
                            .ok_or_else(|| corrupt("delivery state", &state))?,
                        webhook_id: WebhookId::parse(&webhook_id)
                            .map_err(|_| corrupt("webhook id", &webhook_id))?,
                        id,
                        event,
                        body,
                        created_at,
                        next_attempt_at,
                    })
                },
            )
            .collect()
    }

    /// A webhook's deliveries, newest first.
    pub fn webhook_deliveries(
        &self,
        webhook: &WebhookId,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.deliveries_where(
            "webhook_id = ?1 ORDER BY seq DESC LIMIT 100",
            &[&webhook.as_str()],
        )
    }

    /// Deliveries due at `now`, oldest first, at most `limit`.
    pub fn due_deliveries(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.deliveries_where(
            "state = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, seq LIMIT ?2",
            &[&now, &(limit as i64)],
        )
    }

    /// The earliest time a pending delivery is due, if any.
    pub fn next_delivery_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT min(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'",
            (),
            |r| r.get(0),
        )?)
    }

    /// Records an attempt and where the delivery stands after it (a delivery gone meanwhile,
    /// with its webhook, is left gone).
    pub fn record_attempt(
        &self,
        delivery: &str,
        attempt: &AttemptRecord,
        state: DeliveryState,
        next_attempt_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE webhook_deliveries SET state = ?2, next_attempt_at = ?3 WHERE id = ?1",
            params![delivery, state.as_str(), next_attempt_at],
        )?;
        if n > 0 {
            self.conn.execute(
                "INSERT INTO webhook_attempts (delivery_id, at, status_code, error, duration_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    delivery,
                    attempt.at,
                    attempt.status_code,
                    attempt.error,
                    attempt.duration_ms as i64
                ],
            )?;
        }
        Ok(())
    }
}
