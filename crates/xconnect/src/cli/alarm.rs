//! `xconnect alarm ...` and `xconnect webhook ...`: alarms on connection metrics, and the URLs
//! their transitions are posted to.

use crate::output::{Format, columns, print_list, print_object};
use anyhow::{Context, anyhow};
use serde_json::json;
use xc_client::Client;
use xc_types::api::alarms::*;
use xc_types::api::metrics::MetricName;
use xc_types::{ConnectionId, WebhookId};

fn metric(s: &str) -> anyhow::Result<MetricName> {
    MetricName::parse(s).ok_or_else(|| {
        anyhow!(
            "`{s}` is not a metric: {}",
            MetricName::ALL
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn comparison(s: &str) -> anyhow::Result<Comparison> {
    Comparison::parse(s).ok_or_else(|| {
        anyhow!(
            "`{s}` is not a comparison: GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold or LessThanOrEqualToThreshold"
        )
    })
}

fn missing_data(s: &str) -> anyhow::Result<MissingData> {
    MissingData::parse(s)
        .ok_or_else(|| anyhow!("`{s}` is not one of missing, breaching, notBreaching, ignore"))
}

fn period(s: &str) -> anyhow::Result<u32> {
    let d = crate::cli::parse_duration(s)?;
    u32::try_from(d.as_secs()).map_err(|_| anyhow!("`{s}` is too long a period"))
}

#[derive(Debug, clap::Subcommand)]
pub enum AlarmVerb {
    /// An alarm on a connection's metric: ALARM when the statistic of M of the latest N periods
    /// compares with the threshold; every transition is posted to its webhooks.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        connection: ConnectionId,
        /// A metric, as `connection metrics` names it (ConnectionState, ConnectionBpsEgress, ...).
        #[arg(long, value_parser = metric)]
        metric: MetricName,
        /// One link (as `connection links` shows it); the connection as a whole without it.
        #[arg(long)]
        link: Option<u64>,
        /// Average, Minimum, Maximum, Sum, SampleCount or pNN.
        #[arg(long)]
        stat: String,
        /// Seconds (60, 300, 900, 3600, 21600, 86400) or 1m, 5m, 15m, 1h, 6h, 1d.
        #[arg(long, value_parser = period)]
        period: u32,
        #[arg(long, value_parser = comparison)]
        comparison: Comparison,
        #[arg(long, allow_negative_numbers = true)]
        threshold: f64,
        /// N: how many of the latest periods are looked at.
        #[arg(long)]
        evaluation_periods: u32,
        /// M: how many of them must breach (default: N).
        #[arg(long)]
        datapoints_to_alarm: Option<u32>,
        /// What a period without data counts as.
        #[arg(long, value_parser = missing_data, default_value = "missing")]
        missing_data: MissingData,
        /// A webhook told of every transition (repeat for more).
        #[arg(long = "webhook")]
        webhooks: Vec<WebhookId>,
    },
    /// Your alarms with their states.
    List {
        /// Only this connection's.
        #[arg(long)]
        connection: Option<ConnectionId>,
    },
    /// One alarm.
    Get { id: String },
    /// An alarm's creation and transitions, newest first.
    History { id: String },
    /// Change an alarm's condition or webhooks (a default alarm's too): what is given changes,
    /// the rest stays; the alarm keeps its state until its next period is evaluated.
    Update {
        id: String,
        #[arg(long)]
        stat: Option<String>,
        #[arg(long, value_parser = period)]
        period: Option<u32>,
        #[arg(long, value_parser = comparison)]
        comparison: Option<Comparison>,
        #[arg(long, allow_negative_numbers = true)]
        threshold: Option<f64>,
        #[arg(long)]
        evaluation_periods: Option<u32>,
        #[arg(long)]
        datapoints_to_alarm: Option<u32>,
        #[arg(long, value_parser = missing_data)]
        missing_data: Option<MissingData>,
        /// The webhooks it tells from now on, in place of its list (repeat for more).
        #[arg(long = "webhook", conflicts_with = "no_webhooks")]
        webhooks: Vec<WebhookId>,
        /// Tell no webhook from now on.
        #[arg(long)]
        no_webhooks: bool,
    },
    /// Delete an alarm.
    Delete { id: String },
}

pub async fn run_alarm(c: &Client, out: Format, verb: AlarmVerb) -> anyhow::Result<()> {
    match verb {
        AlarmVerb::Create {
            name,
            connection,
            metric,
            link,
            stat,
            period,
            comparison,
            threshold,
            evaluation_periods,
            datapoints_to_alarm,
            missing_data,
            webhooks,
        } => {
            let req = CreateAlarmRequest {
                name,
                connection_id: connection,
                metric,
                link_id: link,
                stat,
                period,
                comparison,
                threshold,
                evaluation_periods,
                datapoints_to_alarm,
                missing_data,
                webhooks,
            };
            print_object(out, &c.create_alarm(&req).await?)
        }
        AlarmVerb::List { connection } => {
            let l = c.list_alarms(&ListAlarmsQuery { connection }).await?;
            let cols = columns![AlarmView;
                "id" => |a| json!(a.id),
                "name" => |a| json!(a.name),
                "state" => |a| json!(a.state),
                "metric" => |a| json!(a.metric),
                "stateReason" => |a| json!(a.state_reason),
            ];
            print_list(out, &l, &l.alarms, cols)
        }
        AlarmVerb::Get { id } => print_object(out, &c.get_alarm(&id).await?),
        AlarmVerb::History { id } => {
            let h = c.alarm_history(&id).await?;
            let cols = columns![AlarmHistoryItem;
                "timestamp" => |i| json!(i.timestamp),
                "kind" => |i| json!(i.kind),
                "summary" => |i| json!(i.summary),
            ];
            print_list(out, &h, &h.items, cols)
        }
        AlarmVerb::Update {
            id,
            stat,
            period,
            comparison,
            threshold,
            evaluation_periods,
            datapoints_to_alarm,
            missing_data,
            webhooks,
            no_webhooks,
        } => {
            let req = UpdateAlarmRequest {
                stat,
                period,
                comparison,
                threshold,
                evaluation_periods,
                datapoints_to_alarm,
                missing_data,
                webhooks: (no_webhooks || !webhooks.is_empty()).then_some(webhooks),
            };
            print_object(out, &c.update_alarm(&id, &req).await?)
        }
        AlarmVerb::Delete { id } => print_object(out, &c.delete_alarm(&id).await?),
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum WebhookVerb {
    /// A URL that alarm transitions are posted to, as JSON signed with HMAC-SHA256
    /// (`X-Xconnect-Signature: t=<unix time>,v1=<hex of HMAC(secret, "<t>.<body>")>`).
    Create {
        #[arg(long)]
        url: String,
        /// A file holding the signing secret (16 to 256 bytes; a final newline is left out).
        /// Without it the server makes one and shows it once.
        #[arg(long)]
        secret_file: Option<std::path::PathBuf>,
    },
    /// Your webhooks.
    List,
    /// One webhook.
    Get { id: String },
    /// Delete a webhook (its pending deliveries too).
    Delete { id: String },
    /// A webhook's latest deliveries, each attempt with its status code.
    Deliveries { id: String },
}

pub async fn run_webhook(c: &Client, out: Format, verb: WebhookVerb) -> anyhow::Result<()> {
    match verb {
        WebhookVerb::Create { url, secret_file } => {
            let secret = secret_file
                .map(|f| {
                    std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read --secret-file {}", f.display()))
                        .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                })
                .transpose()?;
            print_object(
                out,
                &c.create_webhook(&CreateWebhookRequest { url, secret })
                    .await?,
            )
        }
        WebhookVerb::List => {
            let l = c.list_webhooks().await?;
            let cols = columns![WebhookView;
                "id" => |w| json!(w.id),
                "url" => |w| json!(w.url),
                "createdAt" => |w| json!(w.created_at),
            ];
            print_list(out, &l, &l.webhooks, cols)
        }
        WebhookVerb::Get { id } => print_object(out, &c.get_webhook(&id).await?),
        WebhookVerb::Delete { id } => print_object(out, &c.delete_webhook(&id).await?),
        WebhookVerb::Deliveries { id } => {
            let l = c.webhook_deliveries(&id).await?;
            let cols = columns![DeliveryView;
                "id" => |d| json!(d.id),
                "createdAt" => |d| json!(d.created_at),
                "state" => |d| json!(d.state),
                "attempts" => |d| json!(d.attempts.len()),
                "last" => |d| json!(d.attempts.last().map(|a| match (a.status_code, &a.error) {
                    (Some(code), _) => code.to_string(),
                    (None, Some(e)) => e.clone(),
                    (None, None) => String::new(),
                })),
                "body" => |d| json!(d.body["newState"]),
            ];
            print_list(out, &l, &l.deliveries, cols)
        }
    }
}
