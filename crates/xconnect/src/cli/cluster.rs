//! `xconnect cluster ...`: the control plane's replicas (operator).

use crate::output::{Format, columns, print_list};
use serde_json::json;
use xc_client::Client;
use xc_types::api::cluster::Replica;

#[derive(Debug, clap::Subcommand)]
pub enum ClusterVerb {
    /// The replicas serving from this database, which one leads, and how fresh its lease is
    /// (`--output json`: {"replicas": [...], "leader", "leaseAgeMs", "leaseToken"}).
    Status,
}

pub async fn run(c: &Client, out: Format, verb: ClusterVerb) -> anyhow::Result<()> {
    match verb {
        ClusterVerb::Status => {
            let s = c.cluster_status().await?;
            let cols = columns![Replica;
                "id" => |r| json!(r.id),
                "address" => |r| json!(r.address),
                "leader" => |r| json!(if r.leader { "leader" } else { "" }),
                "last seen" => |r| json!(r.last_seen),
                "db latency ms" => |r| json!(r.db_latency_ms),
            ];
            print_list(out, &s, &s.replicas, cols)?;
            if out != Format::Json {
                match (&s.leader, s.lease_age_ms) {
                    (Some(l), Some(age)) => println!(
                        "leader {l}, lease renewed {age} ms ago (token {})",
                        s.lease_token.unwrap_or_default()
                    ),
                    _ => println!("no leader now: the lease has expired or was never taken"),
                }
            }
            Ok(())
        }
    }
}
