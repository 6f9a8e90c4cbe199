//! `xconnect environment ...`: the catalog.

use crate::output::{Format, columns, print_list, print_object};
use serde_json::json;
use xc_client::Client;
use xc_types::Environment;

#[derive(Debug, clap::Subcommand)]
pub enum EnvironmentVerb {
    /// The environments connections can be made in: provider, location, bandwidths, product type.
    List,
    /// One environment.
    Get { id: String },
}

pub async fn run(c: &Client, out: Format, verb: EnvironmentVerb) -> anyhow::Result<()> {
    match verb {
        EnvironmentVerb::List => {
            let l = c.list_environments().await?;
            let cols = columns![Environment;
                "id" => |e| json!(e.id),
                "provider" => |e| json!(e.provider.name()),
                "location" => |e| json!(e.location),
                "type" => |e| json!(e.product_type),
                "state" => |e| json!(e.state),
                "bandwidths" => |e| json!(e.available_bandwidths),
            ];
            print_list(out, &l, &l.environments, cols)
        }
        EnvironmentVerb::Get { id } => print_object(out, &c.get_environment(&id).await?),
    }
}
