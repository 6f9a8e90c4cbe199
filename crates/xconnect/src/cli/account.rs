//! `xconnect account ...`: tenant accounts and their access keys.

use crate::output::{Format, columns, print_list, print_object};
use anyhow::anyhow;
use serde_json::json;
use xc_client::Client;
use xc_types::api::{CreateAccessKeyRequest, UpdateAccessKeyRequest};
use xc_types::{AccessKey, Account, KeyRole, KeyStatus};

#[derive(Debug, clap::Subcommand)]
pub enum AccountVerb {
    /// Create a tenant account (operator only); prints its first access key once.
    Create {
        #[arg(long)]
        name: String,
    },
    /// The accounts (operator only).
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
    /// The access keys of your account (or --account-id as the operator); secrets are never shown again.
    ListKeys {
        #[arg(long)]
        account_id: Option<String>,
    },
    #[command(name = "disable-key")]
    /// Stop a key from signing requests, for now (a console session made with it ends).
    DisableKey { access_key_id: String },
    #[command(name = "enable-key")]
    /// Let a disabled key sign requests again.
    EnableKey { access_key_id: String },
    #[command(name = "delete-key")]
    /// Delete a key for good.
    DeleteKey { access_key_id: String },
}

pub async fn run(c: &Client, out: Format, verb: AccountVerb) -> anyhow::Result<()> {
    match verb {
        AccountVerb::Create { name } => print_object(out, &c.create_account(&name).await?),
        AccountVerb::List => {
            let l = c.list_accounts().await?;
            let cols = columns![Account;
                "accountId" => |a| json!(a.account_id),
                "name" => |a| json!(a.name),
                "kind" => |a| json!(a.kind),
            ];
            print_list(out, &l, &l.accounts, cols)
        }
        AccountVerb::Whoami => print_object(out, &c.whoami().await?),
        AccountVerb::CreateKey { account_id, role } => {
            let role = KeyRole::parse(&role).map_err(|e| anyhow!("{e}"))?;
            let req = CreateAccessKeyRequest { role };
            print_object(
                out,
                &c.create_access_key(account_id.as_deref(), &req).await?,
            )
        }
        AccountVerb::ListKeys { account_id } => {
            let l = c.list_access_keys(account_id.as_deref()).await?;
            let cols = columns![AccessKey;
                "accessKeyId" => |k| json!(k.access_key_id),
                "accountId" => |k| json!(k.account_id),
                "role" => |k| json!(k.role),
                "status" => |k| json!(k.status),
            ];
            print_list(out, &l, &l.access_keys, cols)
        }
        AccountVerb::DisableKey { access_key_id } => {
            set_status(c, out, &access_key_id, KeyStatus::Inactive).await
        }
        AccountVerb::EnableKey { access_key_id } => {
            set_status(c, out, &access_key_id, KeyStatus::Active).await
        }
        AccountVerb::DeleteKey { access_key_id } => {
            print_object(out, &c.delete_access_key(&access_key_id).await?)
        }
    }
}

async fn set_status(c: &Client, out: Format, id: &str, status: KeyStatus) -> anyhow::Result<()> {
    let req = UpdateAccessKeyRequest { status };
    print_object(out, &c.update_access_key(id, &req).await?)
}
