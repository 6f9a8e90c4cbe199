//! The CLI: `xconnect <resource> <verb>`, a client of the native API, one module per resource.
//! Credentials follow AWS conventions (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), the server
//! is `XCONNECT_ENDPOINT` or `--endpoint`. Output is a table for people or, with `--output json`,
//! the resource itself as one JSON object; errors are one line on stderr with a non-zero exit.

mod account;
mod alarm;
mod attach_point;
mod audit;
mod cluster;
mod connection;
mod environment;
mod events;
mod filter;
mod flowlog;
pub mod gateway;
mod metrics;
mod proposal;
mod quota;
mod usage;

pub(crate) use connection::wait_for_state;

use crate::output::Format;
use anyhow::{Context, anyhow};
use xc_client::Client;
use xc_types::RoutingPolicy;

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
    /// `table` for people, `json` for scripts, `csv` for spreadsheets, `text` for a command's
    /// plain-text export (flow-log query).
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
        verb: account::AccountVerb,
    },
    /// The network edges your connections attach to.
    #[command(name = "attach-point")]
    AttachPoint {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: attach_point::AttachPointVerb,
    },
    /// Security groups: stateful allow rules at an attach point's edge.
    #[command(name = "security-group")]
    SecurityGroup {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: filter::SecurityGroupVerb,
    },
    /// Network ACLs: stateless numbered allow and deny rules at an attach point's edge.
    #[command(name = "network-acl")]
    NetworkAcl {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: filter::NetworkAclVerb,
    },
    /// Flow logs: what crossed your side of a connection, and what its filters refused.
    #[command(name = "flow-log")]
    FlowLog {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: flowlog::FlowLogVerb,
    },
    /// Prefix lists: named sets of prefixes that security group rules name.
    #[command(name = "prefix-list")]
    PrefixList {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: filter::PrefixListVerb,
    },
    /// Private connections between two attach points.
    Connection {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: connection::ConnectionVerb,
    },
    /// Remote-initiated connections: propose, hand over the key.
    Proposal {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: proposal::ProposalVerb,
    },
    /// Your account's events: connections created, state and bandwidth changes, links added and
    /// removed, alarm transitions.
    Events {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: events::EventsArgs,
    },
    /// Alarms on connection metrics.
    Alarm {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: alarm::AlarmVerb,
    },
    /// Where alarm transitions are posted, signed.
    Webhook {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: alarm::WebhookVerb,
    },
    /// Quotas: how much of each resource an account may hold.
    Quota {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: quota::QuotaVerb,
    },
    /// What your connections cost: each month's statement, line by line.
    Usage {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: usage::UsageVerb,
    },
    /// What a connection would cost, against a site-to-site VPN and public transfer.
    Cost {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: usage::CostVerb,
    },
    /// Maintenance windows: when connections may be interrupted, announced ahead.
    Maintenance {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: usage::MaintenanceVerb,
    },
    /// The audit trail: who did what, when, from where, and how it went.
    Audit {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: audit::AuditVerb,
    },
    /// The control plane's replicas and which one leads (operator).
    Cluster {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: cluster::ClusterVerb,
    },
    /// The catalog: providers and locations you can connect through.
    Environment {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        verb: environment::EnvironmentVerb,
    },
}

pub async fn run(cmd: CliCommand) -> anyhow::Result<()> {
    match cmd {
        CliCommand::Account { common, verb } => {
            account::run(&client(&common)?, common.output, verb).await
        }
        CliCommand::AttachPoint { common, verb } => {
            attach_point::run(&client(&common)?, common.output, verb).await
        }
        CliCommand::SecurityGroup { common, verb } => {
            filter::run_security_group(&client(&common)?, common.output, verb).await
        }
        CliCommand::NetworkAcl { common, verb } => {
            filter::run_network_acl(&client(&common)?, common.output, verb).await
        }
        CliCommand::FlowLog { common, verb } => {
            flowlog::run(&client(&common)?, common.output, verb).await
        }
        CliCommand::PrefixList { common, verb } => {
            filter::run_prefix_list(&client(&common)?, common.output, verb).await
        }
        CliCommand::Connection { common, verb } => {
            connection::run(&client(&common)?, common.output, verb).await
        }
        CliCommand::Proposal { common, verb } => {
            proposal::run(&client(&common)?, common.output, verb).await
        }
        CliCommand::Events { common, args } => {
            events::run(&client(&common)?, common.output, args).await
        }
        CliCommand::Alarm { common, verb } => {
            alarm::run_alarm(&client(&common)?, common.output, verb).await
        }
        CliCommand::Webhook { common, verb } => {
            alarm::run_webhook(&client(&common)?, common.output, verb).await
        }
        CliCommand::Quota { common, verb } => {
            quota::run(&client(&common)?, common.output, verb).await
        }
        CliCommand::Usage { common, verb } => {
            usage::run_usage(&client(&common)?, common.output, verb).await
        }
        CliCommand::Cost { common, verb } => {
            usage::run_cost(&client(&common)?, common.output, verb).await
        }
        CliCommand::Maintenance { common, verb } => {
            usage::run_maintenance(&client(&common)?, common.output, verb).await
        }
        CliCommand::Audit { common, verb } => {
            audit::run(&client(&common)?, common.output, verb).await
        }
        CliCommand::Cluster { common, verb } => {
            cluster::run(&client(&common)?, common.output, verb).await
        }
        CliCommand::Environment { common, verb } => {
            environment::run(&client(&common)?, common.output, verb).await
        }
    }
}

pub(crate) fn client(c: &Common) -> anyhow::Result<Client> {
    let key = std::env::var("AWS_ACCESS_KEY_ID").context(
        "set AWS_ACCESS_KEY_ID (and AWS_SECRET_ACCESS_KEY) to an access key of the server",
    )?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").context("set AWS_SECRET_ACCESS_KEY")?;
    Ok(Client::new(&c.endpoint, &key, &secret, &c.region)?)
}

/// One item of a comma-separated list (`--prefixes "10.1.0.0/16, 10.2.0.0/16"`), without the
/// spaces around it: the API takes prefixes exactly as written.
pub fn list_item(s: &str) -> Result<String, std::convert::Infallible> {
    Ok(s.trim().to_owned())
}

/// What a side announces and accepts (`connection create|accept|update`, `proposal create`).
#[derive(Debug, clap::Args)]
pub struct RoutingArgs {
    /// `automatic`: announce the attach point's prefixes, accept the other side's.
    /// `manual`: announce --announce, accept --accept.
    #[arg(long, value_enum)]
    routing_policy: Option<PolicyMode>,
    #[arg(long, value_delimiter = ',', value_parser = crate::cli::list_item)]
    announce: Vec<String>,
    #[arg(long, value_delimiter = ',', value_parser = crate::cli::list_item)]
    accept: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PolicyMode {
    Automatic,
    Manual,
}

impl RoutingArgs {
    fn policy(&self) -> anyhow::Result<Option<RoutingPolicy>> {
        let parse = |l: &[String]| -> anyhow::Result<Vec<xc_types::Prefix>> {
            l.iter()
                .map(|p| xc_types::Prefix::parse(p).map_err(|e| anyhow!("{e}")))
                .collect()
        };
        let lists = !self.announce.is_empty() || !self.accept.is_empty();
        match (self.routing_policy, lists) {
            (None, false) => Ok(None),
            (None | Some(PolicyMode::Manual), _) => Ok(Some(RoutingPolicy::Manual {
                announce: parse(&self.announce)?,
                accept: parse(&self.accept)?,
            })),
            (Some(PolicyMode::Automatic), true) => Err(anyhow!(
                "--announce and --accept go with --routing-policy manual"
            )),
            (Some(PolicyMode::Automatic), false) => Ok(Some(RoutingPolicy::Automatic {})),
        }
    }
}

/// `300s`, `5m`, `1h`, `7d` or plain seconds.
pub(crate) fn parse_duration(s: &str) -> anyhow::Result<std::time::Duration> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('s') => (&s[..s.len() - 1], 1),
        Some('m') => (&s[..s.len() - 1], 60),
        Some('h') => (&s[..s.len() - 1], 3600),
        Some('d') => (&s[..s.len() - 1], 86_400),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .ok()
        .and_then(|n: u64| n.checked_mul(mult))
        .ok_or_else(|| anyhow!("`{s}` is not a duration like 300s, 5m, 1h or 7d"))?;
    Ok(std::time::Duration::from_secs(n))
}
