//! The audit trail: one record per authenticated request (the AWS protocols, the native API, the
//! console, a gateway's registration), append-only and chained by SHA-256 so that an edited or
//! deleted record shows (`GET /v1/audit`, `GET /v1/audit/verify`).

use serde::{Deserialize, Serialize};

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    /// A request signed with an access key (SigV4): the AWS CLI and SDKs, `xconnect`.
    AccessKey,
    /// The console, through a session opened with an access key.
    ConsoleSession,
    /// A gateway registering with its token.
    Gateway,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessKey => "access-key",
            Self::ConsoleSession => "console-session",
            Self::Gateway => "gateway",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::AccessKey, Self::ConsoleSession, Self::Gateway]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuditOutcome {
    /// It did what it asked.
    Success,
    /// The caller may not do it (`AccessDeniedException`: a read-only key's change, another
    /// account's resource, an operator's operation).
    Denied,
    /// Past the caller's rate (`ThrottlingException`): nothing was done.
    Throttled,
    /// Refused or failed otherwise; the error code says why.
    Failed,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Throttled => "throttled",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Success, Self::Denied, Self::Throttled, Self::Failed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One request, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Its place in the trail (1, 2, ...; one trail for all accounts).
    pub seq: u64,
    /// When the request arrived (RFC 3339, milliseconds).
    pub time: String,
    pub account_id: String,
    /// The access key that signed the request or opened the console session (none for a
    /// gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    pub principal: PrincipalKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The operation: the AWS model's (`CreateConnection`) or the native route's name
    /// (`CreateAttachPoint`), the console's (`ConsoleSignIn`).
    pub operation: String,
    /// What it acted on: a connection's ARN, or another resource's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub outcome: AuditOutcome,
    /// The error code of a request that did not succeed (`AccessDeniedException`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The request's id, also in its response's `x-amzn-RequestId` header.
    pub request_id: String,
    /// SHA-256 over the previous record's hash and this record's fields (hex).
    pub hash: String,
}

/// `GET /v1/audit`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditQuery {
    /// Records at this time (RFC 3339) or later; default: the last hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_timestamp")]
    pub since: Option<String>,
    /// Only this operation's records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Only this account's records (the operator; a tenant's admin sees its own account's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_account_id")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_page_size")]
    pub max_results: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A page of records, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditList {
    pub records: Vec<AuditRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// What a check of the chain found wrong first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuditBreakKind {
    /// The record's fields, chained to the record before it, do not give its hash: it was
    /// edited (or its hash was rewritten).
    Edited,
    /// A number is missing from the sequence (a record was deleted).
    Missing,
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditBreak {
    pub seq: u64,
    pub kind: AuditBreakKind,
    pub message: String,
}

/// `GET /v1/audit/verify` (operator): the whole trail checked from its start (or from the last
/// record that retention removed).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerification {
    /// Whether every record is as written and in its place.
    pub intact: bool,
    /// Records checked.
    pub checked: u64,
    /// The first and last records' numbers (none when the trail is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<u64>,
    /// Records before `firstSeq` removed by retention: the check starts from the last one's
    /// hash, kept.
    pub pruned_through: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_break: Option<AuditBreak>,
    /// The last record's hash (hex). Kept somewhere else, it shows a trail rewritten from
    /// some record on, hashes and all, which the chain alone cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_hash: Option<String>,
}
