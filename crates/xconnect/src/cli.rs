//! The CLI: `xconnect <resource> <verb>`, a client of the native API. Credentials follow AWS
//! conventions (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), the server is `XCONNECT_ENDPOINT`
//! or `--endpoint`. Errors are one line on stderr with a non-zero exit.

use crate::output::{Format, print_list, print_object};
use anyhow::{Context, anyhow};
use std::collections::BTreeMap;
use xc_client::Client;
use xc_types::api::*;
use xc_types::{KeyRole, KeyStatus, RoutingPolicy};

#[derive(Debug, clap::Args)]
pub struct Common {
    /// The xconnect server.
    #[arg(
        long,
        global = true,
        env = "XCONNECT_ENDPOINT",
        default_value = "http://127.0.0.1:7700"
    )]
    pub endpoint: String,
    /// Region the requests are signed for.
    #[arg(long, global = true, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// `table` for people, `json` for scripts.
    #[arg(long, global = true, value_enum, default_value = "table")]
    pub output: Format,
}

#[derive(Debug, clap::Subcommand)]
pub enum CliCommand {
    /// Tenant accounts and their access keys.
    Account {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: AccountVerb,
    },
    /// The network edges your connections attach to.
    #[command(name = "attach-point")]
    AttachPoint {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: AttachPointVerb,
    },
    /// Private connections between two attach points.
    Connection {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: ConnectionVerb,
    },
    /// Remote-initiated connections: propose, hand over the key.
    Proposal {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: ProposalVerb,
    },
    /// The catalog: providers and locations you can connect through.
    Environment {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: EnvironmentVerb,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum AccountVerb {
    /// Create a tenant account (operator only); prints its first access key once.
    Create {
        #[arg(long)]
        name: String,
    },
    List,
    /// Who the configured access key belongs to.
    Whoami,
    /// Create another access key (for your account, or --account-id as the operator).
    #[command(name = "create-key")]
    CreateKey {
        #[arg(long)]
        account_id: Option<String>,
        #[arg(long, default_value = "admin", value_parser = ["admin", "read-only"])]
        role: String,
    },
    #[command(name = "list-keys")]
    ListKeys {
        #[arg(long)]
        account_id: Option<String>,
    },
    #[command(name = "disable-key")]
    DisableKey {
        access_key_id: String,
    },
    #[command(name = "enable-key")]
    EnableKey {
        access_key_id: String,
    },
    #[command(name = "delete-key")]
    DeleteKey {
        access_key_id: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum AttachPointVerb {
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated prefixes this network announces (IPv4 and IPv6).
        #[arg(long, value_delimiter = ',', required = true)]
        prefixes: Vec<String>,
        /// BGP ASN of this network (default 64512).
        #[arg(long)]
        asn: Option<u64>,
    },
    Get {
        id: String,
    },
    List,
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_delimiter = ',')]
        prefixes: Option<Vec<String>>,
    },
    Delete {
        id: String,
    },
}

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
    #[arg(long, value_delimiter = ',', help_heading = "Last mile")]
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
    /// 192.168.50.1/30,192.168.50.2; default: a /30 per session from 100.100.0.0/16.
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
            let Some((provider, customer)) = p.split_once(',') else {
                anyhow::bail!(
                    "--peering {p}: give PROVIDER/LEN,CUSTOMER, like 192.168.50.1/30,192.168.50.2"
                );
            };
            peerings.push(xc_types::api::PeeringRequest {
                provider_address: provider.trim().to_owned(),
                customer_address: customer.trim().to_owned(),
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

#[derive(Debug, clap::Args)]
pub struct RoutingArgs {
    /// `automatic`: announce the attach point's prefixes, accept the other side's.
    /// `manual`: announce --announce, accept --accept.
    #[arg(long, value_parser = ["automatic", "manual"])]
    routing_policy: Option<String>,
    #[arg(long, value_delimiter = ',')]
    announce: Vec<String>,
    #[arg(long, value_delimiter = ',')]
    accept: Vec<String>,
}

impl RoutingArgs {
    fn policy(&self) -> anyhow::Result<Option<RoutingPolicy>> {
        let parse = |l: &[String]| -> anyhow::Result<Vec<xc_types::Prefix>> {
            l.iter()
                .map(|p| xc_types::Prefix::parse(p).map_err(|e| anyhow!("{e}")))
                .collect()
        };
        match self.routing_policy.as_deref() {
            None if self.announce.is_empty() && self.accept.is_empty() => Ok(None),
            None | Some("manual") => Ok(Some(RoutingPolicy::Manual {
                announce: parse(&self.announce)?,
                accept: parse(&self.accept)?,
            })),
            Some(_) if !self.announce.is_empty() || !self.accept.is_empty() => Err(anyhow!(
                "--announce and --accept go with --routing-policy manual"
            )),
            Some(_) => Ok(Some(RoutingPolicy::Automatic)),
        }
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
    },
    Get {
        id: String,
    },
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        environment: Option<String>,
        #[arg(long)]
        attach_point: Option<String>,
    },
    /// Change the description or the bandwidth (owner only).
    Update {
        id: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        bandwidth: Option<String>,
    },
    /// Delete from either side.
    Delete {
        id: String,
    },
    /// Wait until the connection reaches a state, showing its progress; fails with the reason
    /// when it ends up `failed` or `deleted` instead, or when the time runs out.
    Wait {
        id: String,
        #[arg(long, default_value = "available")]
        state: String,
        /// How long to wait: `300s`, `5m`, or seconds.
        #[arg(long, default_value = "300s")]
        timeout: String,
    },
    /// The history of a connection, oldest first: its creation, each change of state (with the
    /// reason) and of bandwidth.
    Events {
        id: String,
    },
    /// The links of a connection: both gateways, facilities, addresses, MKA, BGP, counters.
    Links {
        id: String,
    },
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

#[derive(Debug, clap::Subcommand)]
pub enum ProposalVerb {
    Create {
        #[arg(long)]
        attach_point: String,
        #[arg(long)]
        environment: String,
        #[arg(long)]
        bandwidth: String,
        #[arg(long)]
        remote_account: String,
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        routing: RoutingArgs,
    },
    List,
    /// What an activation key would create.
    Describe {
        #[arg(long)]
        activation_key: String,
    },
    Withdraw {
        id: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum EnvironmentVerb {
    List,
    Get { id: String },
}

pub(crate) fn client(c: &Common) -> anyhow::Result<Client> {
    let key = std::env::var("AWS_ACCESS_KEY_ID").context(
        "set AWS_ACCESS_KEY_ID (and AWS_SECRET_ACCESS_KEY) to an access key of the server",
    )?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").context("set AWS_SECRET_ACCESS_KEY")?;
    Ok(Client::new(&c.endpoint, &key, &secret, &c.region)?)
}

fn values<T: serde::Serialize>(items: &[T]) -> Vec<serde_json::Value> {
    items
        .iter()
        .map(|i| serde_json::to_value(i).unwrap_or_default())
        .collect()
}

const CONNECTION_COLUMNS: &[&str] = &[
    "id",
    "state",
    "bandwidth",
    "environmentId",
    "yourSide",
    "remoteAccount",
    "description",
];

pub async fn run(cmd: CliCommand) -> anyhow::Result<()> {
    match cmd {
        CliCommand::Account { common, verb } => {
            let c = client(&common)?;
            let out = common.output;
            match verb {
                AccountVerb::Create { name } => print_object(out, &c.create_account(&name).await?),
                AccountVerb::List => {
                    let l = c.list_accounts().await?;
                    print_list(
                        out,
                        &l,
                        &values(&l.accounts),
                        &["accountId", "name", "kind"],
                    )
                }
                AccountVerb::Whoami => print_object(out, &c.whoami().await?),
                AccountVerb::CreateKey { account_id, role } => {
                    let role = KeyRole::parse(&role).map_err(|e| anyhow!("{e}"))?;
                    print_object(
                        out,
                        &c.create_access_key(
                            account_id.as_deref(),
                            &CreateAccessKeyRequest { role },
                        )
                        .await?,
                    )
                }
                AccountVerb::ListKeys { account_id } => {
                    let l = c.list_access_keys(account_id.as_deref()).await?;
                    print_list(
                        out,
                        &l,
                        &values(&l.access_keys),
                        &["accessKeyId", "accountId", "role", "status"],
                    )
                }
                AccountVerb::DisableKey { access_key_id } => print_object(
                    out,
                    &c.update_access_key(
                        &access_key_id,
                        &UpdateAccessKeyRequest {
                            status: KeyStatus::Inactive,
                        },
                    )
                    .await?,
                ),
                AccountVerb::EnableKey { access_key_id } => print_object(
                    out,
                    &c.update_access_key(
                        &access_key_id,
                        &UpdateAccessKeyRequest {
                            status: KeyStatus::Active,
                        },
                    )
                    .await?,
                ),
                AccountVerb::DeleteKey { access_key_id } => {
                    print_object(out, &c.delete_access_key(&access_key_id).await?)
                }
            }
        }
        CliCommand::AttachPoint { common, verb } => {
            let c = client(&common)?;
            let out = common.output;
            match verb {
                AttachPointVerb::Create {
                    name,
                    prefixes,
                    asn,
                } => print_object(
                    out,
                    &c.create_attach_point(&CreateAttachPointRequest {
                        name,
                        prefixes,
                        asn,
                    })
                    .await?,
                ),
                AttachPointVerb::Get { id } => print_object(out, &c.get_attach_point(&id).await?),
                AttachPointVerb::List => {
                    let l = c.list_attach_points().await?;
                    print_list(
                        out,
                        &l,
                        &values(&l.attach_points),
                        &["id", "name", "asn", "prefixes"],
                    )
                }
                AttachPointVerb::Update { id, name, prefixes } => print_object(
                    out,
                    &c.update_attach_point(&id, &UpdateAttachPointRequest { name, prefixes })
                        .await?,
                ),
                AttachPointVerb::Delete { id } => {
                    print_object(out, &c.delete_attach_point(&id).await?)
                }
            }
        }
        CliCommand::Connection { common, verb } => {
            let c = client(&common)?;
            let out = common.output;
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
                } => {
                    let req = CreateConnectionRequest {
                        last_mile: last_mile.request()?,
                        environment_id: environment,
                        bandwidth,
                        attach_point,
                        remote_account: Some(remote_account),
                        description,
                        tags: (!tags.is_empty())
                            .then(|| tags.into_iter().collect::<BTreeMap<_, _>>()),
                        routing_policy: routing.policy()?,
                        client_token,
                    };
                    print_object(out, &c.create_connection(&req).await?)
                }
                ConnectionVerb::Accept {
                    activation_key,
                    attach_point,
                    routing,
                } => {
                    let req = AcceptConnectionRequest {
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
                    print_list(out, &whole, &values(&whole.connections), CONNECTION_COLUMNS)
                }
                ConnectionVerb::Update {
                    id,
                    description,
                    bandwidth,
                } => {
                    if description.is_none() && bandwidth.is_none() {
                        return Err(anyhow!(
                            "nothing to change: give --description and/or --bandwidth"
                        ));
                    }
                    print_object(
                        out,
                        &c.update_connection(
                            &id,
                            &UpdateConnectionRequest {
                                description,
                                bandwidth,
                                client_token: None,
                            },
                        )
                        .await?,
                    )
                }
                ConnectionVerb::Delete { id } => {
                    print_object(out, &c.delete_connection(&id).await?)
                }
                ConnectionVerb::Wait { id, state, timeout } => {
                    let timeout = parse_duration(&timeout)?;
                    let conn = wait_for_state(&c, &id, &state, timeout).await?;
                    print_object(out, &conn)
                }
                ConnectionVerb::Test { id, target, count } => {
                    let r = c
                        .test_connection(
                            &id,
                            &xc_types::gateway::TestConnectionRequest { target, count },
                        )
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
                ConnectionVerb::Events { id } => {
                    let events = c.connection_events(&id).await?;
                    let rows: Vec<serde_json::Value> = events
                        .events
                        .iter()
                        .map(|e| {
                            let what = match (e.kind, &e.previous_state) {
                                (EventKind::State, Some(from)) if *from != e.state => {
                                    format!("{from} -> {}", e.state)
                                }
                                (EventKind::Bandwidth, _) => match e.pending_bandwidth {
                                    Some(p) => format!("bandwidth {} -> {p} requested", e.bandwidth),
                                    None => format!("bandwidth {}", e.bandwidth),
                                },
                                _ => e.state.to_string(),
                            };
                            serde_json::json!({
                                "time": xc_control::fmt_time(e.at),
                                "event": e.kind,
                                "change": what,
                                "reason": e.reason.as_ref().map(|r| format!("{}: {}", r.code, r.message)),
                            })
                        })
                        .collect();
                    print_list(out, &events, &rows, &["time", "event", "change", "reason"])
                }
                ConnectionVerb::Links { id } => {
                    let links = c.connection_links(&id).await?;
                    let rows: Vec<serde_json::Value> = links
                        .links
                        .iter()
                        .map(|l| {
                            let end = |i: usize| l.ends.get(i);
                            let gw = |i: usize| {
                                end(i).map(|e| {
                                    format!(
                                        "{} ({})",
                                        e.gateway_name,
                                        e.facility.as_deref().unwrap_or("-")
                                    )
                                })
                            };
                            let mka = |i: usize| {
                                end(i).and_then(|e| e.mka.as_ref()).map(|m| {
                                    match m.key_age_secs {
                                        Some(a) => format!("{} (key {a}s)", m.state),
                                        None => m.state.to_string(),
                                    }
                                })
                            };
                            let bgp = |i: usize| {
                                end(i).and_then(|e| e.bgp.as_ref()).map(|b| {
                                    format!("{} {}/{}", b.state, b.prefixes_accepted, b.prefixes_sent)
                                })
                            };
                            serde_json::json!({
                                "link": l.name, "vni": l.vni, "state": l.state,
                                "owner": gw(0), "remote": gw(1),
                                "addresses": format!("{} - {}", end(0).map(|e| e.address.as_str()).unwrap_or("-"), end(1).map(|e| e.address.as_str()).unwrap_or("-")),
                                "mka": format!("{} / {}", mka(0).unwrap_or("-".into()), mka(1).unwrap_or("-".into())),
                                "bgp": format!("{} / {}", bgp(0).unwrap_or("-".into()), bgp(1).unwrap_or("-".into())),
                                "bfd": format!("{} / {}", end(0).and_then(|e| e.bgp.as_ref()).and_then(|b| b.bfd.as_ref()).map(|b| b.state.to_string()).unwrap_or("-".into()), end(1).and_then(|e| e.bgp.as_ref()).and_then(|b| b.bfd.as_ref()).map(|b| b.state.to_string()).unwrap_or("-".into())),
                                "reason": l.reason.as_ref().map(|r| r.to_string()),
                            })
                        })
                        .collect();
                    print_list(
                        out,
                        &links,
                        &rows,
                        &[
                            "link",
                            "vni",
                            "state",
                            "owner",
                            "remote",
                            "addresses",
                            "mka",
                            "bgp",
                            "bfd",
                            "reason",
                        ],
                    )?;
                    let sessions: Vec<serde_json::Value> = links
                        .links
                        .iter()
                        .filter_map(|l| l.customer.as_ref().map(|c| (l, c)))
                        .map(|(l, c)| {
                            let b = c.bgp.as_ref();
                            serde_json::json!({
                                "link": l.name, "edge": format!("{} ({})", c.edge, c.facility.as_deref().unwrap_or("-")),
                                "interface": c.interface, "layer": c.layer,
                                "provider": c.provider_address, "customer": format!("{} AS {}", c.customer_address, c.customer_asn),
                                "bgp": b.map(|b| b.state), "accepted": b.map(|b| b.prefixes_accepted),
                                "refused": b.map(|b| b.prefixes_refused_total),
                                "lastError": b.and_then(|b| b.problem()),
                            })
                        })
                        .collect();
                    if matches!(out, Format::Table) && !sessions.is_empty() {
                        println!("\nCustomer sessions (last mile)");
                        print_list(
                            out,
                            &links,
                            &sessions,
                            &[
                                "link",
                                "edge",
                                "interface",
                                "layer",
                                "provider",
                                "customer",
                                "bgp",
                                "accepted",
                                "refused",
                                "lastError",
                            ],
                        )?;
                    }
                    Ok(())
                }
            }
        }
        CliCommand::Proposal { common, verb } => {
            let c = client(&common)?;
            let out = common.output;
            match verb {
                ProposalVerb::Create {
                    attach_point,
                    environment,
                    bandwidth,
                    remote_account,
                    description,
                    routing,
                } => {
                    let req = CreateProposalRequest {
                        attach_point,
                        environment_id: environment,
                        bandwidth,
                        remote_account,
                        description,
                        routing_policy: routing.policy()?,
                    };
                    print_object(out, &c.create_proposal(&req).await?)
                }
                ProposalVerb::List => {
                    let l = c.list_proposals().await?;
                    print_list(
                        out,
                        &l,
                        &values(&l.proposals),
                        &[
                            "id",
                            "state",
                            "environmentId",
                            "bandwidth",
                            "remoteAccount",
                            "connectionId",
                        ],
                    )
                }
                ProposalVerb::Describe { activation_key } => {
                    print_object(out, &c.describe_proposal(&activation_key).await?)
                }
                ProposalVerb::Withdraw { id } => {
                    print_object(out, &c.withdraw_proposal(&id).await?)
                }
            }
        }
        CliCommand::Environment { common, verb } => {
            let c = client(&common)?;
            let out = common.output;
            match verb {
                EnvironmentVerb::List => {
                    let l = c.list_environments().await?;
                    let rows: Vec<serde_json::Value> = l
                        .environments
                        .iter()
                        .map(|e| {
                            serde_json::json!({
                                "id": e.id, "provider": e.provider.name(), "location": e.location,
                                "type": e.product_type, "state": e.state,
                                "bandwidths": e.available_bandwidths,
                            })
                        })
                        .collect();
                    print_list(
                        out,
                        &l,
                        &rows,
                        &["id", "provider", "location", "type", "state", "bandwidths"],
                    )
                }
                EnvironmentVerb::Get { id } => print_object(out, &c.get_environment(&id).await?),
            }
        }
    }
}

/// `300s`, `5m`, `1h` or plain seconds.
pub(crate) fn parse_duration(s: &str) -> anyhow::Result<std::time::Duration> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('s') => (&s[..s.len() - 1], 1),
        Some('m') => (&s[..s.len() - 1], 60),
        Some('h') => (&s[..s.len() - 1], 3600),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| anyhow!("`{s}` is not a duration like 300s, 5m or 1h"))?;
    Ok(std::time::Duration::from_secs(n * mult))
}

/// Polls the connection until it is in `want`; shows each change of state or reason on stderr.
pub(crate) async fn wait_for_state(
    c: &Client,
    id: &str,
    want: &str,
    timeout: std::time::Duration,
) -> anyhow::Result<xc_types::api::ConnectionView> {
    let start = std::time::Instant::now();
    let mut last = String::new();
    loop {
        let conn = c.get_connection(id).await?;
        let state = conn.state.to_string();
        let reason = conn
            .state_reason
            .as_ref()
            .map(|r| format!(" ({}: {})", r.code, r.message))
            .unwrap_or_default();
        let line = format!("{state}{reason}");
        if line != last {
            eprintln!("[{:>4}s] {id}: {line}", start.elapsed().as_secs());
            last = line;
        }
        if state == want {
            return Ok(conn);
        }
        if (state == "failed" || state == "deleted") && want != state {
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
