//! `xconnect connection ...`: create, accept, read, change, delete, wait for, test, and look
//! into (history, links) private connections.

use super::{RoutingArgs, parse_duration};
use crate::output::{Format, columns, print_list, print_object};
use anyhow::anyhow;
use serde_json::json;
use std::collections::BTreeMap;
use xc_client::Client;
use xc_types::api::*;
use xc_types::gateway::{LinkEnd, LinkView, TestConnectionRequest};
use xc_types::{ConnectionState, LinkLiveness};

/// The on-premises site of a last-mile connection.
#[derive(Debug, clap::Args)]
pub struct LastMileArgs {
    /// Last mile: the provider's circuit id or service address.
    #[arg(long, help_heading = "Last mile")]
    circuit_id: Option<String>,
    /// Last mile: the customer router's ASN.
    #[arg(long, help_heading = "Last mile")]
    customer_asn: Option<u64>,
    /// Last mile: comma-separated prefixes the customer router may announce.
    #[arg(long, value_delimiter = ',', value_parser = crate::cli::list_item, help_heading = "Last mile")]
    on_premises_prefixes: Vec<String>,
    /// Last mile: 1 edge, or 2 edges in two facilities (default 2).
    #[arg(long, help_heading = "Last mile")]
    redundancy: Option<u8>,
    /// Last mile: 3 (the edge routes, default) or 2 (the edge bridges the VLAN; the customer
    /// router peers with your gateway).
    #[arg(long, help_heading = "Last mile")]
    layer: Option<u8>,
    /// Last mile: most prefixes the customer router may announce (default 100).
    #[arg(long, help_heading = "Last mile")]
    max_prefixes: Option<u32>,
    /// Last mile: PROVIDER/LEN,CUSTOMER addresses of one session (one per edge), e.g.
    /// 192.168.50.1/30,192.168.50.2, optionally followed by its IPv6 session's
    /// (,fd00:50::1/126,fd00:50::2); default: a /30 per session from 100.100.0.0/16, and for a
    /// site with IPv6 prefixes a /126 per session from fd58:636f:6e6e:100::/64.
    #[arg(long = "peering", help_heading = "Last mile")]
    peerings: Vec<String>,
    /// Last mile: a file holding the TCP MD5 password of the customer sessions.
    #[arg(long, help_heading = "Last mile")]
    md5_password_file: Option<std::path::PathBuf>,
}

impl LastMileArgs {
    fn request(self) -> anyhow::Result<Option<xc_types::api::LastMileRequest>> {
        let any = self.circuit_id.is_some()
            || self.customer_asn.is_some()
            || !self.on_premises_prefixes.is_empty()
            || self.redundancy.is_some()
            || self.layer.is_some()
            || self.max_prefixes.is_some()
            || !self.peerings.is_empty()
            || self.md5_password_file.is_some();
        if !any {
            return Ok(None);
        }
        let (Some(circuit_id), Some(customer_asn), false) = (
            self.circuit_id,
            self.customer_asn,
            self.on_premises_prefixes.is_empty(),
        ) else {
            anyhow::bail!(
                "a last-mile site needs --circuit-id, --customer-asn and --on-premises-prefixes"
            );
        };
        let mut peerings = Vec::new();
        for p in &self.peerings {
            let parts: Vec<String> = p.split(',').map(|s| s.trim().to_owned()).collect();
            let (provider_address6, customer_address6) = match parts.len() {
                2 => (None, None),
                4 => (Some(parts[2].clone()), Some(parts[3].clone())),
                _ => anyhow::bail!(
                    "--peering {p}: give PROVIDER/LEN,CUSTOMER, like 192.168.50.1/30,192.168.50.2, and optionally the IPv6 session's after them: ...,fd00:50::1/126,fd00:50::2"
                ),
            };
            peerings.push(xc_types::api::PeeringRequest {
                provider_address: parts[0].clone(),
                customer_address: parts[1].clone(),
                provider_address6,
                customer_address6,
            });
        }
        let md5_password = match &self.md5_password_file {
            None => None,
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| anyhow::anyhow!("--md5-password-file {}: {e}", f.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            ),
        };
        Ok(Some(xc_types::api::LastMileRequest {
            circuit_id,
            redundancy: self.redundancy,
            customer_asn,
            on_premises_prefixes: self.on_premises_prefixes,
            max_prefixes: self.max_prefixes,
            layer: self.layer,
            peerings,
            md5_password,
        }))
    }
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| "a tag is KEY=VALUE".to_owned())
}

#[derive(Debug, clap::Subcommand)]
pub enum ConnectionVerb {
    /// Request a connection; prints it with the activation key for the remote account.
    Create {
        #[arg(long)]
        environment: String,
        #[arg(long)]
        bandwidth: String,
        #[arg(long)]
        attach_point: String,
        #[arg(long)]
        remote_account: String,
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        routing: RoutingArgs,
        #[command(flatten)]
        last_mile: Box<LastMileArgs>,
        /// KEY=VALUE, repeatable.
        #[arg(long = "tag", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
        /// Makes retries safe: the same token and request return the first result.
        #[arg(long)]
        client_token: Option<String>,
        /// Without your default alarms (`<id>-down`, `<id>-loss`, `<id>-utilization`).
        #[arg(long)]
        no_default_alarms: bool,
    },
    /// Accept a connection (or a proposal) with its activation key and your attach point (a
    /// last-mile connection is accepted by its provider, without one).
    Accept {
        #[arg(long)]
        activation_key: String,
        #[arg(long, default_value = "")]
        attach_point: String,
        #[command(flatten)]
        routing: RoutingArgs,
        /// Without your default alarms (`<id>-down`, `<id>-loss`, `<id>-utilization`).
        #[arg(long)]
        no_default_alarms: bool,
    },
    /// One connection, as its owner or its remote side sees it.
    Get { id: String },
    /// Your connections, both those you own and those you accepted.
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        environment: Option<String>,
        #[arg(long)]
        attach_point: Option<String>,
    },
    /// Change the description, the bandwidth, the links' liveness, or your side's routing
    /// policy (what it announces and accepts). The routing policy and the liveness are applied
    /// live, without the links or BGP sessions going down.
    Update {
        id: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        bandwidth: Option<String>,
        #[command(flatten)]
        routing: RoutingArgs,
        /// How often each link sends a keepalive: `10ms`, `1s`, or `off` (BFD alone then finds a
        /// dead link). The owner's to change; the default is 10ms.
        #[arg(long, value_parser = parse_liveness_interval)]
        liveness_interval: Option<u32>,
        /// Keepalive intervals without a frame from the peer before a link is dead (2 to 100;
        /// default 3).
        #[arg(long)]
        liveness_multiplier: Option<u32>,
    },
    /// Delete from either side.
    Delete { id: String },
    /// Wait until the connection reaches a state, showing its progress; fails with the reason
    /// when it ends up `failed` or `deleted` instead, or when the time runs out.
    Wait {
        id: String,
        #[arg(long, default_value = "available", value_parser = ConnectionState::parse)]
        state: ConnectionState,
        /// How long to wait: `300s`, `5m`, or seconds.
        #[arg(long, default_value = "300s")]
        timeout: String,
    },
    /// The history of a connection, oldest first: its creation, each change of state (with the
    /// reason) and of bandwidth.
    Events { id: String },
    /// The links of a connection: both gateways, facilities, addresses, MKA, BGP, counters.
    Links { id: String },
    /// A connection's metrics, as your side's gateways measured them (traffic, RTT, loss,
    /// jitter, drops, BGP): a statistic per period, one metric with --metric or all.
    Metrics(super::metrics::MetricsArgs),
    /// Ping and trace an address on the other side through the connection, from a gateway of
    /// your side: RTT (min/avg/max), loss and the hops.
    Test {
        id: String,
        #[arg(long)]
        target: String,
        #[arg(long)]
        count: Option<u32>,
    },
}

pub async fn run(c: &Client, out: Format, verb: ConnectionVerb) -> anyhow::Result<()> {
    match verb {
        ConnectionVerb::Create {
            environment,
            bandwidth,
            attach_point,
            remote_account,
            description,
            routing,
            last_mile,
            tags,
            client_token,
            no_default_alarms,
        } => {
            let req = CreateConnectionRequest {
                default_alarms: no_default_alarms.then_some(false),
                last_mile: last_mile.request()?,
                environment_id: environment,
                bandwidth,
                attach_point,
                remote_account: Some(remote_account),
                description,
                tags: (!tags.is_empty()).then(|| tags.into_iter().collect::<BTreeMap<_, _>>()),
                routing_policy: routing.policy()?,
                client_token,
            };
            print_object(out, &c.create_connection(&req).await?)
        }
        ConnectionVerb::Accept {
            activation_key,
            attach_point,
            routing,
            no_default_alarms,
        } => {
            let req = AcceptConnectionRequest {
                default_alarms: no_default_alarms.then_some(false),
                activation_key,
                attach_point,
                routing_policy: routing.policy()?,
                description: None,
                tags: None,
                client_token: None,
            };
            print_object(out, &c.accept_connection(&req).await?)
        }
        ConnectionVerb::Get { id } => print_object(out, &c.get_connection(&id).await?),
        ConnectionVerb::List {
            state,
            environment,
            attach_point,
        } => {
            let mut all = Vec::new();
            let mut q = ListConnectionsQuery {
                state,
                environment_id: environment,
                attach_point,
                max_results: None,
                next_token: None,
            };
            loop {
                let page = c.list_connections(&q).await?;
                all.extend(page.connections);
                match page.next_token {
                    Some(t) => q.next_token = Some(t),
                    None => break,
                }
            }
            let whole = ConnectionList {
                connections: all,
                next_token: None,
            };
            let cols = columns![ConnectionView;
                "id" => |c| json!(c.id),
                "state" => |c| json!(c.state),
                "bandwidth" => |c| json!(c.bandwidth),
                "environmentId" => |c| json!(c.environment_id),
                "yourSide" => |c| json!(c.your_side),
                "remoteAccount" => |c| json!(c.remote_account),
                "description" => |c| json!(c.description),
            ];
            print_list(out, &whole, &whole.connections, cols)
        }
        ConnectionVerb::Update {
            id,
            description,
            bandwidth,
            routing,
            liveness_interval,
            liveness_multiplier,
        } => {
            let routing_policy = routing.policy()?;
            let link_liveness = match (liveness_interval, liveness_multiplier) {
                (None, None) => None,
                // One of the two: the other as it is now.
                (i, m) => {
                    let now = c.get_connection(&id).await?.link_liveness;
                    Some(LinkLiveness {
                        interval_ms: i.unwrap_or(now.interval_ms),
                        multiplier: m.unwrap_or(now.multiplier),
                    })
                }
            };
            if description.is_none()
                && bandwidth.is_none()
                && routing_policy.is_none()
                && link_liveness.is_none()
            {
                return Err(anyhow!(
                    "nothing to change: give --description, --bandwidth, --routing-policy, --liveness-interval or --liveness-multiplier"
                ));
            }
            let req = UpdateConnectionRequest {
                description,
                bandwidth,
                routing_policy,
                link_liveness,
                client_token: None,
            };
            print_object(out, &c.update_connection(&id, &req).await?)
        }
        ConnectionVerb::Delete { id } => print_object(out, &c.delete_connection(&id).await?),
        ConnectionVerb::Wait { id, state, timeout } => {
            let timeout = parse_duration(&timeout)?;
            let conn = wait_for_state(c, &id, state, timeout).await?;
            print_object(out, &conn)
        }
        ConnectionVerb::Test { id, target, count } => {
            let r = c
                .test_connection(&id, &TestConnectionRequest { target, count })
                .await?;
            if matches!(out, Format::Json) {
                return print_object(out, &r);
            }
            let ms = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{x:.3}"));
            println!(
                "{} from {} via gateway {}: {} sent, {} received, {:.0}% loss, rtt min/avg/max {}/{}/{} ms",
                r.target,
                r.source.as_deref().unwrap_or("-"),
                r.gateway,
                r.sent,
                r.received,
                r.loss_percent,
                ms(r.rtt_min_ms),
                ms(r.rtt_avg_ms),
                ms(r.rtt_max_ms)
            );
            for (i, h) in r.hops.iter().enumerate() {
                println!("{:>3}  {h}", i + 1);
            }
            if let Some(e) = &r.error {
                println!("error: {e}");
            }
            Ok(())
        }
        ConnectionVerb::Metrics(args) => super::metrics::run(c, out, args).await,
        ConnectionVerb::Events { id } => {
            let events = c.connection_events(&id).await?;
            let cols = columns![ConnectionEvent;
                "time" => |e| json!(xc_control::fmt_time(e.at)),
                "event" => |e| json!(e.kind),
                "change" => |e| json!(change(e)),
                "reason" => |e| json!(e.reason.as_ref().map(|r| r.to_string())),
            ];
            print_list(out, &events, &events.events, cols)
        }
        ConnectionVerb::Links { id } => {
            let links = c.connection_links(&id).await?;
            let cols = columns![LinkView;
                "link" => |l| json!(l.name),
                "id" => |l| json!(l.id),
                "vni" => |l| json!(l.vni),
                "state" => |l| json!(l.state),
                "owner" => |l| json!(both(l, |e| Some(format!("{} ({})", e.gateway_name, e.facility.as_deref().unwrap_or("-"))))[0]),
                "remote" => |l| json!(both(l, |e| Some(format!("{} ({})", e.gateway_name, e.facility.as_deref().unwrap_or("-"))))[1]),
                "addresses" => |l| json!(both(l, |e| Some(match &e.address6 {
                    Some(v6) => format!("{} {v6}", e.address),
                    None => e.address.clone(),
                })).join(" - ")),
                "mka" => |l| json!(both(l, |e| e.mka.as_ref().map(|m| match m.key_age_secs {
                    Some(a) => format!("{} (key {a}s)", m.state),
                    None => m.state.to_string(),
                })).join(" / ")),
                // Each end's session, then its IPv6 session when the link has one ("v6 ...").
                "bgp" => |l| json!(both(l, |e| e.bgp.as_ref().map(|b| {
                    let v4 = format!("{} {}/{}", b.state, b.prefixes_accepted, b.prefixes_sent);
                    match &e.bgp6 {
                        Some(b6) => format!("{v4}, v6 {} {}/{}", b6.state, b6.prefixes_accepted, b6.prefixes_sent),
                        None => v4,
                    }
                })).join(" / ")),
                "bfd" => |l| json!(both(l, |e| e.bgp.as_ref().and_then(|b| b.bfd.as_ref()).map(|b| b.state.to_string())).join(" / ")),
                // Each end's liveness: whether it hears the other ("-": off, or no keepalive yet).
                "liveness" => |l| json!(both(l, |e| e.alive.map(|a| if a { "alive" } else { "dead" }.to_owned())).join(" / ")),
                // Each end's part of the connection's bandwidth, "(held)" while it holds the
                // link back.
                "egressMbps" => |l| json!(both(l, |e| e.egress_bps.map(|b| {
                    let held = e.demand.is_some_and(|d| d.limited);
                    format!("{}{}", b / 1_000_000, if held { " (held)" } else { "" })
                })).join(" / ")),
                "reason" => |l| json!(l.reason.as_ref().map(|r| r.to_string())),
            ];
            print_list(out, &links, &links.links, cols)?;
            let sessions: Vec<&LinkView> = links
                .links
                .iter()
                .filter(|l| l.customer.is_some())
                .collect();
            if out.for_people() && !sessions.is_empty() {
                println!("\nCustomer sessions (last mile)");
                let cols = columns![&LinkView;
                    "link" => |l| json!(l.name),
                    "edge" => |l| json!(l.customer.as_ref().map(|c| format!("{} ({})", c.edge, c.facility.as_deref().unwrap_or("-")))),
                    "interface" => |l| json!(l.customer.as_ref().map(|c| &c.interface)),
                    "layer" => |l| json!(l.customer.as_ref().map(|c| c.layer)),
                    "provider" => |l| json!(l.customer.as_ref().map(|c| match &c.provider_address6 {
                        Some(v6) => format!("{} {v6}", c.provider_address),
                        None => c.provider_address.clone(),
                    })),
                    "customer" => |l| json!(l.customer.as_ref().map(|c| match &c.customer_address6 {
                        Some(v6) => format!("{} {v6} AS {}", c.customer_address, c.customer_asn),
                        None => format!("{} AS {}", c.customer_address, c.customer_asn),
                    })),
                    // The IPv4 session's state, then the IPv6 session's when there is one.
                    "bgp" => |l| json!(customer_bgp(l).map(|b| match l.customer.as_ref().and_then(|c| c.bgp6.as_ref()) {
                        Some(b6) => format!("{}, v6 {} {}", b.state, b6.state, b6.prefixes_accepted),
                        None => b.state.to_string(),
                    })),
                    "accepted" => |l| json!(customer_bgp(l).map(|b| b.prefixes_accepted)),
                    "refused" => |l| json!(customer_bgp(l).map(|b| b.prefixes_refused_total)),
                    "lastError" => |l| json!(customer_bgp(l).and_then(|b| b.problem())),
                ];
                print_list(out, &links, &sessions, cols)?;
            }
            Ok(())
        }
    }
}

/// What a history entry changed, in words.
fn change(e: &ConnectionEvent) -> String {
    match (e.kind, &e.previous_state) {
        (EventKind::State, Some(from)) if *from != e.state => format!("{from} -> {}", e.state),
        (EventKind::Bandwidth, _) => match e.pending_bandwidth {
            Some(p) => format!("bandwidth {} -> {p} requested", e.bandwidth),
            None => format!("bandwidth {}", e.bandwidth),
        },
        _ => e.state.to_string(),
    }
}

/// Something of each end of a link (owner's, remote's), `-` where there is nothing.
fn both(l: &LinkView, f: impl Fn(&LinkEnd) -> Option<String>) -> [String; 2] {
    let end = |i: usize| l.ends.get(i).and_then(&f).unwrap_or_else(|| "-".to_owned());
    [end(0), end(1)]
}

/// The BGP session with the customer router, of a last-mile link.
fn customer_bgp(l: &LinkView) -> Option<&xc_types::gateway::NeighborStatus> {
    l.customer.as_ref().and_then(|c| c.bgp.as_ref())
}

/// Polls the connection until it is in `want`; shows each change of state or reason on stderr.
pub(crate) async fn wait_for_state(
    c: &Client,
    id: &str,
    want: ConnectionState,
    timeout: std::time::Duration,
) -> anyhow::Result<ConnectionView> {
    let start = std::time::Instant::now();
    let mut last = String::new();
    loop {
        let conn = c.get_connection(id).await?;
        let state = conn.state;
        let reason = conn
            .state_reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let line = format!("{state}{reason}");
        if line != last {
            eprintln!("[{:>4}s] {id}: {line}", start.elapsed().as_secs());
            last = line;
        }
        if state == want {
            return Ok(conn);
        }
        if matches!(state, ConnectionState::Failed | ConnectionState::Deleted) {
            return Err(anyhow!("{id} is {state}{reason}, not {want}"));
        }
        if start.elapsed() >= timeout {
            return Err(anyhow!(
                "{id} is still {state}{reason} after {} s (waiting for {want})",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// `--liveness-interval`: `off`, or milliseconds as `10ms`, `1s` or a bare number (1 to 10000).
fn parse_liveness_interval(s: &str) -> Result<u32, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(0);
    }
    let ms = if let Some(n) = s.strip_suffix("ms") {
        n.parse::<u32>().ok()
    } else if let Some(n) = s.strip_suffix('s') {
        n.parse::<u32>().ok().and_then(|n| n.checked_mul(1000))
    } else {
        s.parse::<u32>().ok()
    };
    match ms {
        Some(ms @ 1..=10_000) => Ok(ms),
        _ => Err(format!(
            "`{s}` is not an interval of 1ms to 10s (like 10ms or 1s), nor `off`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_liveness_interval;

    #[test]
    fn a_liveness_interval_is_milliseconds_seconds_or_off() {
        assert_eq!(parse_liveness_interval("10ms"), Ok(10));
        assert_eq!(parse_liveness_interval("25"), Ok(25));
        assert_eq!(parse_liveness_interval("1s"), Ok(1000));
        assert_eq!(parse_liveness_interval("OFF"), Ok(0));
        for bad in ["0", "0ms", "11s", "ten", "-5ms", ""] {
            assert!(parse_liveness_interval(bad).is_err(), "{bad}");
        }
    }
}
