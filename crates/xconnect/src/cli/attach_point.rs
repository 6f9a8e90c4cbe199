//! `xconnect attach-point ...`: the network edges connections attach to.

use crate::output::{Format, columns, print_list, print_object};
use serde_json::json;
use xc_client::Client;
use xc_types::AttachPoint;
use xc_types::api::{CreateAttachPointRequest, UpdateAttachPointRequest};

#[derive(Debug, clap::Subcommand)]
pub enum AttachPointVerb {
    /// An attach point: a network (its prefixes and ASN) that connections and gateways attach to.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated prefixes this network announces (IPv4 and IPv6).
        #[arg(long, value_delimiter = ',', value_parser = crate::cli::list_item, required = true)]
        prefixes: Vec<String>,
        /// BGP ASN of this network (default: a private 4-byte ASN of its own, 4200000000 and up).
        #[arg(long)]
        asn: Option<u64>,
    },
    /// One attach point.
    Get { id: String },
    /// Your attach points.
    List,
    /// Rename an attach point or change its prefixes: the other side of each of its connections
    /// accepts the new ones at once.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_delimiter = ',', value_parser = crate::cli::list_item)]
        prefixes: Option<Vec<String>>,
    },
    /// Delete an attach point that no connection uses.
    Delete { id: String },
    /// Would a packet pass? Evaluates it against the security groups and network ACL of this
    /// attach point and of the other side of each connection it would cross, and names the rule
    /// that decided on each side. The address inside this attach point's prefixes says the
    /// direction.
    Check {
        id: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// tcp, udp, icmp, icmpv6 or a protocol number.
        #[arg(long)]
        protocol: String,
        /// The destination port (tcp, udp).
        #[arg(long)]
        port: Option<u16>,
        /// ICMP type (default: echo request).
        #[arg(long)]
        icmp_type: Option<u8>,
        #[arg(long, requires = "icmp_type")]
        icmp_code: Option<u8>,
    },
}

pub async fn run(c: &Client, out: Format, verb: AttachPointVerb) -> anyhow::Result<()> {
    match verb {
        AttachPointVerb::Check {
            id,
            from,
            to,
            protocol,
            port,
            icmp_type,
            icmp_code,
        } => {
            let req = xc_types::api::filters::CheckRequest {
                from,
                to,
                protocol,
                port,
                icmp_type,
                icmp_code,
            };
            super::filter::check(c, out, &id, req).await
        }
        AttachPointVerb::Create {
            name,
            prefixes,
            asn,
        } => {
            let req = CreateAttachPointRequest {
                name,
                prefixes,
                asn,
            };
            print_object(out, &c.create_attach_point(&req).await?)
        }
        AttachPointVerb::Get { id } => print_object(out, &c.get_attach_point(&id).await?),
        AttachPointVerb::List => {
            let l = c.list_attach_points().await?;
            let cols = columns![AttachPoint;
                "id" => |a| json!(a.id),
                "name" => |a| json!(a.name),
                "asn" => |a| json!(a.asn),
                "prefixes" => |a| json!(a.prefixes),
            ];
            print_list(out, &l, &l.attach_points, cols)
        }
        AttachPointVerb::Update { id, name, prefixes } => {
            let req = UpdateAttachPointRequest { name, prefixes };
            print_object(out, &c.update_attach_point(&id, &req).await?)
        }
        AttachPointVerb::Delete { id } => print_object(out, &c.delete_attach_point(&id).await?),
    }
}
