//! Quotas: how much of each resource an account may hold, set per account by the operator over
//! defaults; a create that would pass one is refused with `ServiceQuotaExceededException` naming
//! it, its value and the use (`GET /v1/quotas`, `POST /v1/quotas`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

macro_rules! quotas {
    ($($name:ident => $text:literal, $default:literal, $doc:literal;)*) => {
        /// A quota's name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum QuotaName {
            $(#[doc = $doc] #[serde(rename = $text)] $name,)*
        }

        impl QuotaName {
            pub const ALL: &'static [QuotaName] = &[$(Self::$name,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => $text,)*
                }
            }

            /// The value an account has unless the operator sets another.
            pub fn default_value(self) -> u64 {
                match self {
                    $(Self::$name => $default,)*
                }
            }

            /// What it limits.
            pub fn describe(self) -> &'static str {
                match self {
                    $(Self::$name => $doc,)*
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|q| q.as_str() == s)
            }
        }
    };
}

quotas! {
    ConnectionsPerEnvironment => "connections-per-environment", 50,
        "Connections in one environment the account is a side of (not being deleted, deleted or failed).";
    BandwidthMbps => "bandwidth-mbps", 500_000,
        "The bandwidth of all the connections the account is a side of, in Mbps (a change asked for counts at the greater of the two).";
    AttachPoints => "attach-points", 50, "Attach points.";
    AccessKeys => "access-keys", 20, "Access keys.";
    Alarms => "alarms", 10_000, "Alarms (three per connection by default).";
    Webhooks => "webhooks", 50, "Webhooks.";
}

impl std::fmt::Display for QuotaName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The greatest value a quota may be set to.
pub const MAX_QUOTA: u64 = 1_000_000_000;

/// One quota of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaView {
    pub name: QuotaName,
    pub value: u64,
    /// The value without the operator's setting.
    pub default_value: u64,
    /// How much is in use: for `connections-per-environment`, in the busiest environment.
    pub used: u64,
    /// `connections-per-environment` only: the use in each environment that has any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub used_by_environment: BTreeMap<String, u64>,
    pub description: String,
}

/// `GET /v1/quotas`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaList {
    pub account_id: String,
    pub quotas: Vec<QuotaView>,
}

/// `POST /v1/quotas` (the operator): an account's quota set to a value, or back to its
/// default (`value` null).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetQuotaRequest {
    #[schemars(schema_with = "super::schema::account_id")]
    pub account_id: String,
    pub quota: QuotaName,
    /// 0 to 1,000,000,000; null: the default again.
    #[serde(default)]
    #[schemars(range(max = 1_000_000_000))]
    pub value: Option<u64>,
}
