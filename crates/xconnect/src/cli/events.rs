//! `xconnect events [--since 6h] [--follow]`: the account's stream of events.

use crate::output::{Format, columns, print_list};
use anyhow::Context;
use serde_json::json;
use xc_client::Client;
use xc_types::api::events::{Event, EventList, EventType, EventsQuery};

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// From this long ago (`30m`, `6h`, `7d`) or this time (RFC 3339); default: the last hour
    /// (with --follow: from now).
    #[arg(long)]
    since: Option<String>,
    /// Keep printing events as they happen (one JSON object per line with --output json).
    #[arg(long)]
    follow: bool,
}

/// `--since` as the API takes it: an RFC 3339 time.
pub(crate) fn since_time(s: &str) -> anyhow::Result<String> {
    match crate::cli::parse_duration(s) {
        Ok(d) => {
            let t = time::OffsetDateTime::now_utc() - d;
            Ok(t.format(&time::format_description::well_known::Rfc3339)?)
        }
        Err(_) => Ok(s.to_owned()),
    }
}

/// One line of what happened, for people.
fn summary(e: &Event) -> String {
    let d = &e.detail;
    let s = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
    let reason = match (d["reasonCode"].as_str(), d["reasonMessage"].as_str()) {
        (Some(c), Some(m)) => format!(" ({c}: {m})"),
        _ => String::new(),
    };
    match e.kind {
        EventType::ConnectionCreated => format!("created, {}", s("state")),
        EventType::ConnectionStateChange => {
            format!("{} -> {}{reason}", s("previousState"), s("state"))
        }
        // An up link whose warning came or went, or a link that went down or came up.
        EventType::LinkStateChange if s("previousState") == s("state") => {
            match d["previousReasonCode"].as_str() {
                Some(before) if reason.is_empty() => {
                    format!("link {} {}, {before} cleared", d["linkId"], s("state"))
                }
                _ => format!("link {} {}{reason}", d["linkId"], s("state")),
            }
        }
        EventType::LinkStateChange => format!(
            "link {} {} -> {}{reason}",
            d["linkId"],
            s("previousState"),
            s("state")
        ),
        EventType::ConnectionBandwidthChange => match d["pendingBandwidthMbps"].as_u64() {
            Some(p) => format!("bandwidth {} Mbps, asked for {p} Mbps", d["bandwidthMbps"]),
            None => format!("bandwidth {} Mbps", d["bandwidthMbps"]),
        },
        EventType::LinkAdded | EventType::LinkRemoved => format!(
            "link {} {} ({} - {})",
            d["linkId"],
            if e.kind == EventType::LinkAdded {
                "added"
            } else {
                "removed"
            },
            s("gatewayA"),
            s("gatewayB")
        ),
        EventType::AlarmStateChange => {
            format!("{}: {} -> {}", s("alarmName"), s("oldState"), s("newState"))
        }
        EventType::FilterChange => {
            let aps: Vec<&str> = d["attachPointIds"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            if aps.is_empty() {
                format!("{} {}", s("resource"), s("action"))
            } else {
                format!("{} {} ({})", s("resource"), s("action"), aps.join(", "))
            }
        }
    }
}

fn print_one(out: Format, e: &Event) -> anyhow::Result<()> {
    match out {
        Format::Json => println!("{}", serde_json::to_string(e)?),
        Format::Table | Format::Text | Format::Csv => println!(
            "{}  {:<27} {:<13} {}",
            e.time,
            e.kind.as_str(),
            e.connection_id.as_ref().map_or("-", |c| c.as_str()),
            summary(e)
        ),
    }
    Ok(())
}

pub async fn run(c: &Client, out: Format, args: EventsArgs) -> anyhow::Result<()> {
    let since = args.since.as_deref().map(since_time).transpose()?;
    if args.follow {
        let mut last = None;
        let mut since = since;
        loop {
            let mut stream = c.stream_events(last, since.as_deref()).await?;
            loop {
                match stream.next().await {
                    Ok(Some(e)) => {
                        last = Some(e.id);
                        print_one(out, &e)?;
                    }
                    // The server ended the stream (it is shutting down): resume where we were.
                    Ok(None) => break,
                    Err(e) => {
                        eprintln!("the event stream broke ({e}); resuming");
                        break;
                    }
                }
            }
            since = None;
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
    let mut all = EventList {
        events: Vec::new(),
        next_token: None,
    };
    let mut q = EventsQuery {
        since,
        ..Default::default()
    };
    loop {
        let page = c.list_events(&q).await.context("events")?;
        all.events.extend(page.events);
        match page.next_token {
            Some(t) => q.next_token = Some(t),
            None => break,
        }
    }
    let cols = columns![Event;
        "time" => |e| json!(e.time),
        "type" => |e| json!(e.kind.as_str()),
        "connection" => |e| json!(e.connection_id),
        "what" => |e| json!(summary(e)),
    ];
    print_list(out, &all, &all.events, cols)
}
