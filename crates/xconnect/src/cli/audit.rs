//! `xconnect audit list|export|verify`: the audit trail, read a page at a time, exported as JSON
//! lines, and its hash chain checked.

use crate::output::{Format, columns, print_list, print_object};
use serde_json::json;
use xc_client::Client;
use xc_types::api::audit::{AuditList, AuditQuery, AuditRecord};

#[derive(Debug, clap::Args)]
pub struct Filter {
    /// From this long ago (`30m`, `1h`, `7d`) or this time (RFC 3339); default: the last hour.
    #[arg(long)]
    since: Option<String>,
    /// Only this operation's records (`CreateConnection`, `ConsoleSignIn`).
    #[arg(long)]
    operation: Option<String>,
    /// Only this account's (the operator; an admin key reads its own account's).
    #[arg(long)]
    account: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditVerb {
    /// Records, oldest first: time, account, key, source, operation, resource, outcome.
    List {
        #[command(flatten)]
        filter: Filter,
    },
    /// Every record the filter takes, one JSON object per line (to archive, or for another
    /// tool).
    Export {
        #[command(flatten)]
        filter: Filter,
    },
    /// Check the hash chain from its start (operator): fails, naming the record, when one was
    /// edited or deleted.
    Verify,
}

/// Every record of the filter, a page at a time; `each` sees each page.
async fn pages(
    c: &Client,
    f: Filter,
    mut each: impl FnMut(Vec<AuditRecord>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut q = AuditQuery {
        since: f
            .since
            .as_deref()
            .map(crate::cli::events::since_time)
            .transpose()?,
        operation: f.operation,
        account_id: f.account,
        max_results: None,
        next_token: None,
    };
    loop {
        let page = c.list_audit(&q).await?;
        each(page.records)?;
        match page.next_token {
            Some(t) => q.next_token = Some(t),
            None => return Ok(()),
        }
    }
}

pub async fn run(c: &Client, out: Format, verb: AuditVerb) -> anyhow::Result<()> {
    match verb {
        AuditVerb::List { filter } => {
            let mut records = Vec::new();
            pages(c, filter, |page| {
                records.extend(page);
                Ok(())
            })
            .await?;
            let list = AuditList {
                records,
                next_token: None,
            };
            let cols = columns![AuditRecord;
                "time" => |r| json!(r.time),
                "account" => |r| json!(r.account_id),
                "key" => |r| json!(r.access_key_id.as_deref().unwrap_or(r.principal.as_str())),
                "source" => |r| json!(r.source_address),
                "operation" => |r| json!(r.operation),
                "resource" => |r| json!(r.resource),
                "outcome" => |r| json!(match &r.error_code {
                    Some(code) => format!("{} ({code})", r.outcome.as_str()),
                    None => r.outcome.as_str().to_owned(),
                }),
            ];
            print_list(out, &list, &list.records, cols)
        }
        AuditVerb::Export { filter } => {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            pages(c, filter, |page| {
                for r in page {
                    writeln!(stdout, "{}", serde_json::to_string(&r)?)?;
                }
                Ok(())
            })
            .await
        }
        AuditVerb::Verify => {
            let v = c.verify_audit().await?;
            match out {
                Format::Json => print_object(out, &v)?,
                Format::Table | Format::Text | Format::Csv => {
                    match (&v.first_break, v.first_seq, v.last_seq) {
                        (None, Some(first), Some(last)) => println!(
                            "intact: {} records checked ({first} to {last}), each as written and in its place\nlast hash: {}",
                            v.checked,
                            v.last_hash.as_deref().unwrap_or_default()
                        ),
                        (None, _, _) => println!("intact: the trail has no records"),
                        (Some(_), _, _) => {}
                    }
                }
            }
            if let Some(b) = v.first_break {
                anyhow::bail!(
                    "the audit trail is broken at record {} ({}): {}",
                    b.seq,
                    serde_json::to_value(b.kind)?.as_str().unwrap_or_default(),
                    b.message
                );
            }
            Ok(())
        }
    }
}
