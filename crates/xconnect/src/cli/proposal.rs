//! `xconnect proposal ...`: remote-initiated connections.

use super::RoutingArgs;
use crate::output::{Format, columns, print_list, print_object};
use serde_json::json;
use xc_client::Client;
use xc_types::api::{CreateProposalRequest, ProposalView};

#[derive(Debug, clap::Subcommand)]
pub enum ProposalVerb {
    /// Propose a connection from your attach point; prints the activation key the other account
    /// accepts it with.
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
    /// Your proposals and their state.
    List,
    /// What an activation key would create.
    Describe {
        #[arg(long)]
        activation_key: String,
    },
    /// Withdraw a proposal before it is accepted: its activation key stops working.
    Withdraw { id: String },
}

pub async fn run(c: &Client, out: Format, verb: ProposalVerb) -> anyhow::Result<()> {
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
            let cols = columns![ProposalView;
                "id" => |p| json!(p.id),
                "state" => |p| json!(p.state),
                "environmentId" => |p| json!(p.environment_id),
                "bandwidth" => |p| json!(p.bandwidth),
                "remoteAccount" => |p| json!(p.remote_account),
                "connectionId" => |p| json!(p.connection_id),
            ];
            print_list(out, &l, &l.proposals, cols)
        }
        ProposalVerb::Describe { activation_key } => {
            print_object(out, &c.describe_proposal(&activation_key).await?)
        }
        ProposalVerb::Withdraw { id } => print_object(out, &c.withdraw_proposal(&id).await?),
    }
}
