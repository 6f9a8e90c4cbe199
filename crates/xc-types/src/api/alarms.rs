//! Alarms on connection metrics (CloudWatch's semantics) and the webhooks that hear of their
//! transitions: the requests and answers of `/v1/alarms` and `/v1/webhooks`.

use super::metrics::MetricName;
use crate::{AlarmId, ConnectionId, WebhookId};
use serde::{Deserialize, Serialize};

/// An alarm's state, as CloudWatch names it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum AlarmState {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ALARM")]
    Alarm,
    #[serde(rename = "INSUFFICIENT_DATA")]
    InsufficientData,
}

impl AlarmState {
    pub const ALL: &'static [AlarmState] = &[Self::Ok, Self::Alarm, Self::InsufficientData];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Alarm => "ALARM",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|x| x.as_str() == s)
    }
}

impl std::fmt::Display for AlarmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a period's value is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Comparison {
    GreaterThanThreshold,
    GreaterThanOrEqualToThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub const ALL: &'static [Comparison] = &[
        Self::GreaterThanThreshold,
        Self::GreaterThanOrEqualToThreshold,
        Self::LessThanThreshold,
        Self::LessThanOrEqualToThreshold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GreaterThanThreshold => "GreaterThanThreshold",
            Self::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Self::LessThanThreshold => "LessThanThreshold",
            Self::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|x| x.as_str() == s)
    }

    /// Whether `value` breaches `threshold`.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterThanThreshold => value > threshold,
            Self::GreaterThanOrEqualToThreshold => value >= threshold,
            Self::LessThanThreshold => value < threshold,
            Self::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// As a reason reads it: "greater than".
    pub fn words(self) -> &'static str {
        match self {
            Self::GreaterThanThreshold => "greater than",
            Self::GreaterThanOrEqualToThreshold => "greater than or equal to",
            Self::LessThanThreshold => "less than",
            Self::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }
}

/// What a period without data counts as (CloudWatch's `TreatMissingData`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum MissingData {
    /// Not counted: the alarm decides on the periods that have data, and is
    /// `INSUFFICIENT_DATA` when none has.
    #[default]
    Missing,
    /// As breaching the threshold.
    Breaching,
    /// As within the threshold.
    NotBreaching,
    /// The alarm keeps its state while the latest period has no data.
    Ignore,
}

impl MissingData {
    pub const ALL: &'static [MissingData] = &[
        Self::Missing,
        Self::Breaching,
        Self::NotBreaching,
        Self::Ignore,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Breaching => "breaching",
            Self::NotBreaching => "notBreaching",
            Self::Ignore => "ignore",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|x| x.as_str() == s)
    }
}

/// Most webhooks one alarm notifies.
pub const MAX_WEBHOOKS_PER_ALARM: usize = 10;
/// The greatest link id an alarm names (the greatest integer a JSON number holds exactly).
pub const MAX_LINK_ID: u64 = 9_007_199_254_740_991;
/// The longest an alarm may look back: evaluation periods times period (a day, as CloudWatch).
pub const MAX_EVALUATION_SECS: u32 = 86_400;

/// `POST /v1/alarms`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAlarmRequest {
    /// Unique within the account: 1 to 255 characters, none of them a control character.
    #[schemars(schema_with = "super::schema::alarm_name")]
    pub name: String,
    pub connection_id: ConnectionId,
    pub metric: MetricName,
    /// One link (`LinkId`); the connection as a whole without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_link_number")]
    pub link_id: Option<u64>,
    /// Average, Minimum, Maximum, Sum, SampleCount or pNN.
    #[schemars(schema_with = "super::schema::statistic")]
    pub stat: String,
    /// Seconds: 60, 300, 900, 3600, 21600 or 86400.
    #[schemars(schema_with = "super::schema::period")]
    pub period: u32,
    pub comparison: Comparison,
    pub threshold: f64,
    /// How many of the latest periods the alarm looks at (their span at most a day).
    #[schemars(schema_with = "super::schema::evaluation_periods")]
    pub evaluation_periods: u32,
    /// How many of those must breach for `ALARM` (default: all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_datapoints")]
    pub datapoints_to_alarm: Option<u32>,
    #[serde(default)]
    pub missing_data: MissingData,
    /// Webhooks told of every transition (at most [`MAX_WEBHOOKS_PER_ALARM`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub webhooks: Vec<WebhookId>,
}

/// `PATCH /v1/alarms/{id}`: what changes of an alarm's condition and actions (its name,
/// connection, metric and link stay). The alarm keeps its state and is evaluated again at its
/// next period with the new condition; a change is an entry of its history.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAlarmRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_statistic")]
    pub stat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_period")]
    pub period: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_evaluation_periods")]
    pub evaluation_periods: Option<u32>,
    /// Default: as before, or all the evaluation periods when those change and it was all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_datapoints")]
    pub datapoints_to_alarm: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_data: Option<MissingData>,
    /// The webhooks it notifies from now on, in place of its list (`[]`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    pub webhooks: Option<Vec<WebhookId>>,
}

/// An alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlarmView {
    pub id: AlarmId,
    pub name: String,
    pub account_id: String,
    pub connection_id: ConnectionId,
    pub metric: MetricName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_id: Option<u64>,
    pub stat: String,
    pub period: u32,
    pub comparison: Comparison,
    pub threshold: f64,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub missing_data: MissingData,
    pub webhooks: Vec<WebhookId>,
    pub state: AlarmState,
    /// Why it is in its state: the datapoints of the transition, in words.
    pub state_reason: String,
    /// When it last changed state (RFC 3339).
    pub state_updated_at: String,
    /// The latest period it evaluated (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_through: Option<String>,
    pub created_at: String,
    /// One of the alarms made with the connection (`-down`, `-loss`, `-utilization`).
    pub default: bool,
}

/// `GET /v1/alarms`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListAlarmsQuery {
    /// Only this connection's alarms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionId>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlarmList {
    pub alarms: Vec<AlarmView>,
}

/// What an entry of an alarm's history records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum AlarmHistoryKind {
    /// Created.
    ConfigurationUpdate,
    /// A transition from one state to another.
    StateUpdate,
}

/// One entry of an alarm's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlarmHistoryItem {
    pub timestamp: String,
    pub kind: AlarmHistoryKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_state: Option<AlarmState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_state: Option<AlarmState>,
    pub summary: String,
}

/// `GET /v1/alarms/{id}/history`: newest first (the latest 100).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlarmHistory {
    pub alarm_id: AlarmId,
    pub items: Vec<AlarmHistoryItem>,
}

/// `POST /v1/webhooks`.
#[derive(Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// `http://` or `https://`, at most 2048 characters, without credentials or fragment.
    #[schemars(schema_with = "super::schema::webhook_url")]
    pub url: String,
    /// The signing secret (16 to 256 characters); the server makes one, shown once, without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_webhook_secret")]
    pub secret: Option<String>,
}

/// A webhook: where alarm transitions are posted, signed.
#[derive(Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: WebhookId,
    pub account_id: String,
    pub url: String,
    pub created_at: String,
    /// The signing secret: only in the answer that created the webhook, when the server made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

// The secrets stay out of `Debug` (and so out of logs).
impl std::fmt::Debug for CreateWebhookRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateWebhookRequest")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl std::fmt::Debug for WebhookView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookView")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("url", &self.url)
            .field("created_at", &self.created_at)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryState {
    /// Not yet answered with a 2xx; tried again with backoff.
    Pending,
    /// Answered with a 2xx.
    Delivered,
    /// No 2xx within an hour of its first attempt (or its webhook's queue was full).
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    pub at: String,
    /// The receiver's status code, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Why there was no answer (connection refused, timeout, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// One notification to a webhook, with its attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    pub webhook_id: WebhookId,
    /// The notification's type, as in its body (`alarm.stateChange`).
    pub event: String,
    pub created_at: String,
    pub state: DeliveryState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    pub attempts: Vec<DeliveryAttempt>,
    /// The body posted (JSON).
    pub body: serde_json::Value,
}

/// `GET /v1/webhooks/{id}/deliveries`: newest first (the latest 100).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
}

/// The body of an alarm's notification (`alarm.stateChange`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlarmNotification {
    /// `alarm.stateChange`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The same for every attempt of one notification.
    pub id: String,
    pub time: String,
    pub account_id: String,
    pub alarm_id: AlarmId,
    pub alarm_name: String,
    pub connection_id: ConnectionId,
    pub metric: MetricName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_id: Option<u64>,
    pub old_state: AlarmState,
    pub new_state: AlarmState,
    pub reason: String,
}

/// The type of an alarm's notification.
pub const ALARM_STATE_CHANGE: &str = "alarm.stateChange";
/// The header carrying a notification's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
/// "<t>.<body>" under the webhook's secret>`.
pub const SIGNATURE_HEADER: &str = "x-xconnect-signature";

/// Whether `url` is a webhook's URL as [`super::schema::WEBHOOK_URL`] writes it: why not, if it
/// is not.
pub fn check_webhook_url(url: &str) -> Result<(), &'static str> {
    if url.len() > 2048 {
        return Err("is at most 2048 characters");
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("must be http:// or https://")?;
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(
            "must not carry credentials (they would be shown with the webhook); sign with the secret instead",
        );
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(
            "must name a host: letters, digits, dots and hyphens (a name or an IPv4 address)",
        );
    }
    if let Some(p) = port
        && (p.is_empty()
            || p.len() > 5
            || (p.len() == 5 && p.starts_with('0'))
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u16>().is_err())
    {
        return Err("has a port that is not a number from 0 to 65535");
    }
    if !tail
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._~:/?@!$&'()*+,;=-".contains(&b))
    {
        return Err("has a character that a URL's path or query cannot (or a fragment)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_what_the_schema_says() {
        let re = regex::Regex::new(super::super::schema::WEBHOOK_URL).expect("regex");
        for url in [
            "http://127.0.0.1:8080/hook",
            "https://ops.example.com/xconnect?team=net&x=1",
            "https://[2001:db8::1]:443/a/b",
            "http://10.0.0.1:9000/x",
            "http://a",
            "http://a?",
            "https://host.example/path@with/at",
            "ftp://a/",
            "http://user:pw@host/",
            "http://host:65536x/",
            "http://host:65536/",
            "http://host:65535/",
            "http://127.0.0.1:43567/hook",
            "http://host:00080/",
            "http://host:099999/",
            "http://host:/",
            "http://ho st/",
            "http://host/#frag",
            "http://host/%20",
            "http://[::1/",
            "http://[::1]x/",
            "http://",
            "https://[]/",
            "http://a/é",
        ] {
            assert_eq!(
                check_webhook_url(url).is_ok(),
                re.is_match(url),
                "{url}: {:?}",
                check_webhook_url(url)
            );
        }
    }
}
