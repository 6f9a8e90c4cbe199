//! `xconnect quota list|set`: an account's quotas with their use, and the operator's values.

use crate::output::{Format, columns, print_list};
use serde_json::json;
use xc_client::Client;
use xc_types::api::quotas::{QuotaName, QuotaView, SetQuotaRequest};

fn quota(s: &str) -> Result<QuotaName, String> {
    QuotaName::parse(s).ok_or_else(|| {
        format!(
            "`{s}` is not a quota: {}",
            QuotaName::ALL
                .iter()
                .map(|q| q.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

#[derive(Debug, clap::Subcommand)]
pub enum QuotaVerb {
    /// An account's quotas: value, default and use (your own; the operator names an account).
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Set an account's quota, or put it back to its default (operator).
    Set {
        #[arg(long)]
        account: String,
        /// connections-per-environment, bandwidth-mbps, attach-points, access-keys, alarms or
        /// webhooks.
        #[arg(long, value_parser = quota)]
        quota: QuotaName,
        /// The new value (0 to 1,000,000,000).
        #[arg(long, required_unless_present = "default", conflicts_with = "default")]
        value: Option<u64>,
        /// Back to the default value.
        #[arg(long)]
        default: bool,
    },
}

pub async fn run(c: &Client, out: Format, verb: QuotaVerb) -> anyhow::Result<()> {
    let list = match verb {
        QuotaVerb::List { account } => c.list_quotas(account.as_deref()).await?,
        QuotaVerb::Set {
            account,
            quota,
            value,
            default: _,
        } => {
            c.set_quota(&SetQuotaRequest {
                account_id: account,
                quota,
                value,
            })
            .await?
        }
    };
    let cols = columns![QuotaView;
        "name" => |q| json!(q.name),
        "value" => |q| json!(q.value),
        "default" => |q| json!(q.default_value),
        "used" => |q| json!(q.used),
    ];
    print_list(out, &list, &list.quotas, cols)
}
