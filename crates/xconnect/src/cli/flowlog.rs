//! `xconnect flow-log enable|disable|get|query CONN`: what crossed your side of a connection and
//! what its filters refused, as VPC Flow Logs version 2 records.

use crate::output::{Format, columns, print_list, print_object};
use serde_json::json;
use xc_client::Client;
use xc_types::api::flowlogs::*;
use xc_types::api::routes as r;

#[derive(Debug, clap::Subcommand)]
pub enum FlowLogVerb {
    /// Log the flows of your side(s) of a connection (its links, at your attach point's
    /// gateways): one record per flow, direction and verdict per window.
    Enable {
        connection: String,
        /// Log one flow in N, whole (default 1: every flow).
        #[arg(long, default_value_t = 1)]
        sampling: u32,
        /// Seconds a record sums a flow over: 60 or 10.
        #[arg(long, default_value_t = 60)]
        aggregation_interval: u32,
    },
    /// Stop logging (the records kept stay queryable until their retention, 7 days).
    Disable { connection: String },
    /// Whether your side(s) of a connection log, and how.
    Get { connection: String },
    /// Records of your side(s) of a connection, by time and fields (`--output text`: the VPC
    /// Flow Logs lines, a header first, for other tools).
    Query {
        connection: String,
        /// From this long ago (`10m`, `6h`, `7d`) or this time (RFC 3339); default 10 minutes.
        #[arg(long)]
        since: Option<String>,
        /// Up to this long ago or this time; default now.
        #[arg(long)]
        until: Option<String>,
        /// ACCEPT or REJECT.
        #[arg(long, value_parser = ["ACCEPT", "REJECT"])]
        action: Option<String>,
        /// Source address.
        #[arg(long)]
        src: Option<String>,
        /// Destination address.
        #[arg(long)]
        dst: Option<String>,
        /// Source or destination port.
        #[arg(long)]
        port: Option<u16>,
        /// tcp, udp, icmp, icmpv6 or a protocol number.
        #[arg(long)]
        protocol: Option<String>,
        /// At most this many records (every page without it).
        #[arg(long)]
        max: Option<usize>,
    },
}

fn print_settings(out: Format, s: &FlowLogSettings) -> anyhow::Result<()> {
    if !out.for_people() {
        return print_object(out, s);
    }
    print_list(
        out,
        s,
        &s.sides,
        columns![FlowLogSide;
            "attach point" => |s| json!(s.attach_point_id),
            "flow log" => |s| json!(if s.enabled { "on" } else { "off" }),
            "sampling" => |s| json!(s.sampling.map(|n| format!("1 in {n}"))),
            "window" => |s| json!(s.aggregation_interval.map(|n| format!("{n}s"))),
            "since" => |s| json!(s.enabled_at),
        ],
    )
}

pub async fn run(c: &Client, out: Format, verb: FlowLogVerb) -> anyhow::Result<()> {
    match verb {
        FlowLogVerb::Enable {
            connection,
            sampling,
            aggregation_interval,
        } => {
            let req = FlowLogUpdate {
                enabled: true,
                sampling: Some(sampling),
                aggregation_interval: Some(aggregation_interval),
            };
            let s = c
                .send::<r::SetFlowLog>(&[&connection], None, Some(&req))
                .await?;
            print_settings(out, &s)
        }
        FlowLogVerb::Disable { connection } => {
            let req = FlowLogUpdate {
                enabled: false,
                ..FlowLogUpdate::default()
            };
            let s = c
                .send::<r::SetFlowLog>(&[&connection], None, Some(&req))
                .await?;
            print_settings(out, &s)
        }
        FlowLogVerb::Get { connection } => {
            let s = c.send::<r::GetFlowLog>(&[&connection], None, None).await?;
            print_settings(out, &s)
        }
        FlowLogVerb::Query {
            connection,
            since,
            until,
            action,
            src,
            dst,
            port,
            protocol,
            max,
        } => {
            let mut q = FlowLogQuery {
                since: since
                    .as_deref()
                    .map(super::events::since_time)
                    .transpose()?,
                until: until
                    .as_deref()
                    .map(super::events::since_time)
                    .transpose()?,
                action,
                srcaddr: src,
                dstaddr: dst,
                port,
                protocol,
                ..FlowLogQuery::default()
            };
            let mut records: Vec<FlowLogEntry> = Vec::new();
            loop {
                let page = c
                    .send::<r::QueryFlowLogs>(&[&connection], Some(&q), None)
                    .await?;
                records.extend(page.records);
                if let Some(m) = max
                    && records.len() >= m
                {
                    records.truncate(m);
                    break;
                }
                match page.next_token {
                    Some(t) => q.next_token = Some(t),
                    None => break,
                }
            }
            print_records(out, records)
        }
    }
}

/// A field a `SKIPDATA` record cannot tell is `-`, as in the text.
fn dash<T: ToString>(v: Option<T>) -> serde_json::Value {
    json!(v.map_or_else(|| "-".to_owned(), |v| v.to_string()))
}

/// Unix seconds as an RFC 3339 time.
fn unix_time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

fn print_records(out: Format, records: Vec<FlowLogEntry>) -> anyhow::Result<()> {
    if out == Format::Text {
        println!("{}", xc_types::flowlog::HEADER);
        for r in &records {
            println!("{}", r.record.line());
        }
        return Ok(());
    }
    let whole = FlowLogPage {
        records,
        next_token: None,
    };
    print_list(
        out,
        &whole,
        &whole.records,
        columns![FlowLogEntry;
            "start" => |e| json!(unix_time(e.record.start)),
            "link" => |e| json!(e.record.interface_id),
            "src" => |e| dash(e.record.srcaddr),
            "sport" => |e| dash(e.record.srcport),
            "dst" => |e| dash(e.record.dstaddr),
            "dport" => |e| dash(e.record.dstport),
            "proto" => |e| dash(e.record.protocol),
            "packets" => |e| dash(e.record.packets),
            "bytes" => |e| dash(e.record.bytes),
            "action" => |e| dash(e.record.action),
            "status" => |e| json!(e.record.log_status),
            "attach point" => |e| json!(e.attach_point_id),
        ],
    )
}
