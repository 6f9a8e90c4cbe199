//! Every route of the native API (`/v1/...`) and of the gateway API (`/v1/gateway/...`),
//! declared once: its method, path, query string, body, status and response type. The server
//! mounts its handlers on these ([`Endpoint::PATH`]), the client builds its requests from them,
//! and the OpenAPI document ([`super::openapi`]) is generated from them and from the types, so the
//! three cannot drift apart.

use super::*;
use crate::gateway::{
    ConfigQuery, ConfigResponse, GatewayList, GatewayView, LinksResponse, RegisterRequest,
    RegisterResponse, ReportAck, ReportRequest, TestConnectionRequest, TestResult, TokenRequest,
    TokenResponse,
};
use crate::{AttachPoint, Environment};
use schemars::{JsonSchema, Schema, SchemaGenerator};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// How a route's caller proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// AWS Signature Version 4 with an access key (or the console's session cookie).
    Sigv4,
    /// A gateway's credential: `Authorization: Bearer <gatewayId>.<secret>`.
    Gateway,
    /// None (the registration token travels in the body).
    None,
}

/// A body or query string a route does not have.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Nothing;

/// One route.
pub trait Endpoint {
    const NAME: &'static str;
    const METHOD: Method;
    /// The path, with `{name}` for each parameter (as axum and OpenAPI write it).
    const PATH: &'static str;
    /// The status of a success.
    const STATUS: u16;
    type Query: Serialize + serde::de::DeserializeOwned;
    type Body: Serialize + serde::de::DeserializeOwned;
    type Response: serde::de::DeserializeOwned + Serialize;

    /// The path with its parameters filled in (each percent-encoded).
    fn path(params: &[&str]) -> String {
        let mut out = String::new();
        let mut params = params.iter();
        for (i, part) in Self::PATH.split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            if part.starts_with('{') {
                out.push_str(&encode(params.next().copied().unwrap_or_default()));
            } else {
                out.push_str(part);
            }
        }
        out
    }
}

/// Percent-encodes a path segment or query value.
pub fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

fn inline_schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.root_schema_for::<T>()
}

/// What the OpenAPI document says of a route.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    pub name: &'static str,
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    pub status: u16,
    pub(crate) response: SchemaFn,
    /// Another success this route may answer with (the dry run of a create).
    pub(crate) alternative: Option<(u16, SchemaFn)>,
    pub(crate) query: Option<SchemaFn>,
    pub(crate) body: Option<SchemaFn>,
    /// The schema of the path's one parameter (`{id}`), when it has a form of its own.
    pub(crate) path_param: Option<SchemaFn>,
}

macro_rules! or_nothing {
    ($t:ty) => {
        $t
    };
    () => {
        Nothing
    };
}

macro_rules! endpoints {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident: $method:ident $path:literal $(, path: $pty:ty)? $(, query: $query:ty)? $(, body: $body:ty)?
            => $status:literal $resp:ty $(| $alt_status:literal $alt:ty)? , $auth:ident;
    )*) => {
        $(
            $(#[doc = $doc])+
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl Endpoint for $name {
                const NAME: &'static str = stringify!($name);
                const METHOD: Method = Method::$method;
                const PATH: &'static str = $path;
                const STATUS: u16 = $status;
                type Query = or_nothing!($($query)?);
                type Body = or_nothing!($($body)?);
                type Response = $resp;
            }
        )*

        /// Every route, as the OpenAPI document describes it.
        pub fn all() -> Vec<RouteDoc> {
            vec![$(
                RouteDoc {
                    name: stringify!($name),
                    method: Method::$method,
                    path: $path,
                    summary: concat!($($doc),+).trim_ascii(),
                    auth: Auth::$auth,
                    status: $status,
                    response: schema_of::<$resp>,
                    alternative: None $(.or(Some(($alt_status, schema_of::<$alt> as SchemaFn))))?,
                    query: None $(.or(Some(inline_schema_of::<$query> as SchemaFn)))?,
                    body: None $(.or(Some(schema_of::<$body> as SchemaFn)))?,
                    path_param: None $(.or(Some(schema_of::<$pty> as SchemaFn)))?,
                },
            )*]
        }
    };
}

endpoints! {
    /// This document.
    OpenApiDocument: Get "/v1/openapi.json" => 200 serde_json::Value, None;
    /// Who the caller is: its account, access key and role.
    WhoAmIEndpoint: Get "/v1/whoami" => 200 WhoAmI, Sigv4;
    /// Creates a tenant account and its first access key, whose secret is shown only here
    /// (operator).
    CreateAccount: Post "/v1/accounts", body: CreateAccountRequest => 201 Credentials, Sigv4;
    /// Every account (operator).
    ListAccounts: Get "/v1/accounts" => 200 AccountList, Sigv4;
    /// Creates an access key; its secret is shown only here.
    CreateAccessKey: Post "/v1/access-keys", query: AccountQuery, body: CreateAccessKeyRequest
        => 201 Credentials, Sigv4;
    /// The access keys of an account (without their secrets).
    ListAccessKeys: Get "/v1/access-keys", query: AccountQuery => 200 AccessKeyList, Sigv4;
    /// Enables or disables an access key.
    UpdateAccessKey: Patch "/v1/access-keys/{id}", path: AccessKeyId, body: UpdateAccessKeyRequest
        => 200 AccessKeyUpdated, Sigv4;
    /// An account's quotas with their use (the operator names the account; a tenant sees its
    /// own).
    ListQuotas: Get "/v1/quotas", query: AccountQuery => 200 quotas::QuotaList, Sigv4;
    /// Sets an account's quota, or puts it back to its default (operator).
    SetQuota: Post "/v1/quotas", body: quotas::SetQuotaRequest => 200 quotas::QuotaList, Sigv4;
    /// The audit trail: one record per authenticated request, oldest first (an admin key reads
    /// its account's, the operator everyone's).
    ListAuditRecords: Get "/v1/audit", query: audit::AuditQuery => 200 audit::AuditList, Sigv4;
    /// Checks the audit trail's hash chain from its start: every record as written and in its
    /// place (operator).
    VerifyAuditTrail: Get "/v1/audit/verify" => 200 audit::AuditVerification, Sigv4;
    /// An account's statement for a month (default: this month, to date): its metered hours
    /// and data priced line by line, the SLA's credits, and the cost over a VPN.
    GetUsage: Get "/v1/usage", query: usage::UsageQuery => 200 usage::Statement, Sigv4;
    /// Every account's total for a month, and theirs together (operator).
    ListAccountUsage: Get "/v1/usage/accounts", query: usage::UsageQuery => 200 usage::UsageSummary, Sigv4;
    /// What a connection would cost a month, against a site-to-site VPN and public transfer,
    /// and the monthly GB above which it pays off.
    CompareCost: Get "/v1/cost/compare", query: usage::CostCompareQuery => 200 usage::CostComparison, Sigv4;
    /// Announces a maintenance window (operator): when all connections, or one environment's,
    /// may be interrupted. Announced far enough ahead, it is left out of the SLA.
    CreateMaintenanceWindow: Post "/v1/maintenance", body: maintenance::CreateMaintenanceRequest
        => 201 maintenance::MaintenanceWindow, Sigv4;
    /// The control plane's replicas on this database, the leader and its lease (operator).
    GetCluster: Get "/v1/cluster" => 200 cluster::ClusterStatus, Sigv4;
    /// The maintenance windows that have not ended, soonest first.
    ListMaintenanceWindows: Get "/v1/maintenance" => 200 maintenance::MaintenanceList, Sigv4;
    /// Withdraws a maintenance window that has not begun (operator).
    DeleteMaintenanceWindow: Delete "/v1/maintenance/{id}" => 200 Deleted, Sigv4;
    /// Deletes an access key.
    DeleteAccessKey: Delete "/v1/access-keys/{id}", path: AccessKeyId => 200 AccessKeyDeleted, Sigv4;
    /// The catalog: every environment (provider and location) with its bandwidths and state.
    ListEnvironments: Get "/v1/environments" => 200 EnvironmentList, Sigv4;
    /// One environment.
    GetEnvironment: Get "/v1/environments/{id}", path: crate::EnvironmentId => 200 Environment, Sigv4;
    /// The facilities where gateways meet.
    ListFacilities: Get "/v1/facilities" => 200 FacilityList, Sigv4;
    /// Creates an attach point: a network edge, the prefixes it announces and its ASN.
    CreateAttachPoint: Post "/v1/attach-points", body: CreateAttachPointRequest
        => 201 AttachPoint, Sigv4;
    /// The caller's attach points.
    ListAttachPoints: Get "/v1/attach-points" => 200 AttachPointList, Sigv4;
    /// One attach point.
    GetAttachPoint: Get "/v1/attach-points/{id}", path: crate::AttachPointId => 200 AttachPoint, Sigv4;
    /// Renames an attach point or changes its prefixes (they reach its connections live).
    UpdateAttachPoint: Patch "/v1/attach-points/{id}", path: crate::AttachPointId, body: UpdateAttachPointRequest
        => 200 AttachPoint, Sigv4;
    /// Deletes an attach point no connection uses.
    DeleteAttachPoint: Delete "/v1/attach-points/{id}", path: crate::AttachPointId => 200 Deleted, Sigv4;
    /// Would a packet pass? Evaluates it against the attach point's security groups and network
    /// ACL, and those of the other side of each of its connections the packet would cross.
    CheckAttachPoint: Post "/v1/attach-points/{id}/check", path: crate::AttachPointId, body: filters::CheckRequest
        => 200 filters::CheckResult, Sigv4;
    /// Creates a security group for an attach point, attached to it, allowing all outbound
    /// traffic (AWS's default) and nothing inbound; with `dryRun=true`, checks it and lists the
    /// tracked flows it would cut (200), creating nothing.
    CreateSecurityGroup: Post "/v1/security-groups", query: filters::DryRunQuery,
        body: filters::CreateSecurityGroupRequest
        => 201 filters::SecurityGroup | 200 filters::SecurityGroup, Sigv4;
    /// The caller's security groups.
    ListSecurityGroups: Get "/v1/security-groups" => 200 filters::SecurityGroupList, Sigv4;
    /// One security group with its rules and attach points.
    GetSecurityGroup: Get "/v1/security-groups/{id}", path: crate::SecurityGroupId => 200 filters::SecurityGroup, Sigv4;
    /// Deletes a security group (detached from every attach point first); with `dryRun=true`,
    /// lists the tracked flows its deletion would cut, deleting nothing.
    DeleteSecurityGroup: Delete "/v1/security-groups/{id}", path: crate::SecurityGroupId,
        query: filters::DryRunQuery => 200 filters::FilterDeleted, Sigv4;
    /// Adds rules to a security group (live on its attach points' gateways).
    AuthorizeSecurityGroupRules: Post "/v1/security-groups/{id}/authorize", path: crate::SecurityGroupId,
        query: filters::DryRunQuery, body: filters::SecurityGroupRulesRequest => 200 filters::SecurityGroup, Sigv4;
    /// Removes rules from a security group, by id or by what they match.
    RevokeSecurityGroupRules: Post "/v1/security-groups/{id}/revoke", path: crate::SecurityGroupId,
        query: filters::DryRunQuery, body: filters::SecurityGroupRulesRequest => 200 filters::SecurityGroup, Sigv4;
    /// Attaches a security group to another attach point of the account (`dryRun=true`: the
    /// flows it would cut, changing nothing).
    AttachSecurityGroup: Post "/v1/security-groups/{id}/attach", path: crate::SecurityGroupId,
        query: filters::DryRunQuery, body: filters::AttachmentRequest => 200 filters::SecurityGroup, Sigv4;
    /// Detaches a security group from an attach point (`dryRun=true`: the flows it would cut,
    /// changing nothing).
    DetachSecurityGroup: Post "/v1/security-groups/{id}/detach", path: crate::SecurityGroupId,
        query: filters::DryRunQuery, body: filters::AttachmentRequest => 200 filters::SecurityGroup, Sigv4;
    /// Gives an attach point its network ACL (no rules yet: the implicit deny refuses all); with
    /// `dryRun=true`, lists the tracked flows that would cut (200), creating nothing.
    CreateNetworkAcl: Post "/v1/network-acls", query: filters::DryRunQuery,
        body: filters::CreateNetworkAclRequest
        => 201 filters::NetworkAcl | 200 filters::NetworkAcl, Sigv4;
    /// The caller's network ACLs.
    ListNetworkAcls: Get "/v1/network-acls" => 200 filters::NetworkAclList, Sigv4;
    /// One network ACL with its rules.
    GetNetworkAcl: Get "/v1/network-acls/{id}", path: crate::NetworkAclId => 200 filters::NetworkAcl, Sigv4;
    /// Deletes a network ACL: its attach point goes back to the default (allow everything);
    /// with `dryRun=true`, lists the tracked flows its deletion would cut, deleting nothing.
    DeleteNetworkAcl: Delete "/v1/network-acls/{id}", path: crate::NetworkAclId,
        query: filters::DryRunQuery => 200 filters::FilterDeleted, Sigv4;
    /// Adds a numbered rule to a network ACL.
    AddNetworkAclRule: Post "/v1/network-acls/{id}/rules", path: crate::NetworkAclId,
        query: filters::DryRunQuery, body: crate::filter::RuleSpec => 200 filters::NetworkAcl, Sigv4;
    /// Removes a network ACL's rule, by direction and number.
    RemoveNetworkAclRule: Delete "/v1/network-acls/{id}/rules", path: crate::NetworkAclId,
        query: filters::RemoveAclRuleQuery => 200 filters::NetworkAcl, Sigv4;
    /// Creates a prefix list.
    CreatePrefixList: Post "/v1/prefix-lists", body: filters::CreatePrefixListRequest
        => 201 filters::PrefixList, Sigv4;
    /// The caller's prefix lists.
    ListPrefixLists: Get "/v1/prefix-lists" => 200 filters::PrefixListCollection, Sigv4;
    /// One prefix list.
    GetPrefixList: Get "/v1/prefix-lists/{id}", path: crate::PrefixListId => 200 filters::PrefixList, Sigv4;
    /// Renames a prefix list or replaces its prefixes (live wherever rules name it); with
    /// `dryRun=true`, lists the tracked flows the new prefixes would cut, changing nothing.
    UpdatePrefixList: Patch "/v1/prefix-lists/{id}", path: crate::PrefixListId,
        query: filters::DryRunQuery, body: filters::UpdatePrefixListRequest => 200 filters::PrefixList, Sigv4;
    /// Deletes a prefix list no rule names.
    DeletePrefixList: Delete "/v1/prefix-lists/{id}", path: crate::PrefixListId => 200 Deleted, Sigv4;
    /// Creates a connection (in `requested`, with its activation key for the remote account);
    /// with `dryRun=true`, checks the request and stores nothing.
    CreateConnection: Post "/v1/connections", query: CreateConnectionQuery, body: CreateConnectionRequest => 201 ConnectionView | 200 DryRunResult, Sigv4;
    /// The caller's connections (owned, or accepted as the remote account), a page at a time.
    ListConnections: Get "/v1/connections", query: ListConnectionsQuery
        => 200 ConnectionList, Sigv4;
    /// Redeems an activation key with the caller's attach point.
    AcceptConnection: Post "/v1/connections/accept", body: AcceptConnectionRequest
        => 200 ConnectionView, Sigv4;
    /// One connection.
    GetConnection: Get "/v1/connections/{id}", path: crate::ConnectionId => 200 ConnectionView, Sigv4;
    /// Changes a connection's description, bandwidth or (the caller's side's) routing policy.
    UpdateConnection: Patch "/v1/connections/{id}", path: crate::ConnectionId, body: UpdateConnectionRequest
        => 200 ConnectionView, Sigv4;
    /// Deletes a connection, from either side.
    DeleteConnection: Delete "/v1/connections/{id}", path: crate::ConnectionId => 200 ConnectionView, Sigv4;
    /// Adds tags to a connection; answers all its tags.
    TagConnection: Post "/v1/connections/{id}/tags", path: crate::ConnectionId, body: TagRequest => 200 TagRequest, Sigv4;
    /// Removes tags from a connection; answers the tags left.
    UntagConnection: Delete "/v1/connections/{id}/tags", path: crate::ConnectionId, query: UntagQuery
        => 200 TagRequest, Sigv4;
    /// Every link of a connection with what both of its gateways report.
    ConnectionLinks: Get "/v1/connections/{id}/links", path: crate::ConnectionId => 200 LinksResponse, Sigv4;
    /// A connection's metrics from its gateways' minute samples (one metric or all), as a
    /// statistic per period.
    ConnectionMetrics: Get "/v1/connections/{id}/metrics", path: crate::ConnectionId, query: metrics::MetricsQuery
        => 200 metrics::MetricsResponse, Sigv4;
    /// Turns the flow log of the caller's side(s) of a connection on (with a sampling rate and
    /// a window) or off; it reaches the side's gateways at once.
    SetFlowLog: Post "/v1/connections/{id}/flow-log", path: crate::ConnectionId, body: flowlogs::FlowLogUpdate
        => 200 flowlogs::FlowLogSettings, Sigv4;
    /// The flow log of the caller's side(s) of a connection.
    GetFlowLog: Get "/v1/connections/{id}/flow-log", path: crate::ConnectionId => 200 flowlogs::FlowLogSettings, Sigv4;
    /// The flow-log records of the caller's side(s) of a connection, by time and fields.
    QueryFlowLogs: Get "/v1/connections/{id}/flow-log/records", path: crate::ConnectionId, query: flowlogs::FlowLogQuery
        => 200 flowlogs::FlowLogPage, Sigv4;
    /// Creates an alarm on a connection's metric (evaluated as its data arrives).
    CreateAlarm: Post "/v1/alarms", body: alarms::CreateAlarmRequest => 201 alarms::AlarmView, Sigv4;
    /// The caller's alarms, with their states.
    ListAlarms: Get "/v1/alarms", query: alarms::ListAlarmsQuery => 200 alarms::AlarmList, Sigv4;
    /// One alarm.
    GetAlarm: Get "/v1/alarms/{id}", path: crate::AlarmId => 200 alarms::AlarmView, Sigv4;
    /// An alarm's history: its creation and each transition with its reason, newest first.
    GetAlarmHistory: Get "/v1/alarms/{id}/history", path: crate::AlarmId => 200 alarms::AlarmHistory, Sigv4;
    /// Changes an alarm's condition or webhooks (a default alarm's too).
    UpdateAlarm: Patch "/v1/alarms/{id}", path: crate::AlarmId, body: alarms::UpdateAlarmRequest
        => 200 alarms::AlarmView, Sigv4;
    /// Deletes an alarm.
    DeleteAlarm: Delete "/v1/alarms/{id}", path: crate::AlarmId => 200 Deleted, Sigv4;
    /// Creates a webhook: a URL that alarm transitions are posted to, signed with HMAC-SHA256.
    CreateWebhook: Post "/v1/webhooks", body: alarms::CreateWebhookRequest => 201 alarms::WebhookView, Sigv4;
    /// The caller's webhooks.
    ListWebhooks: Get "/v1/webhooks" => 200 alarms::WebhookList, Sigv4;
    /// One webhook.
    GetWebhook: Get "/v1/webhooks/{id}", path: crate::WebhookId => 200 alarms::WebhookView, Sigv4;
    /// Deletes a webhook (its pending deliveries are dropped; alarms stop naming it).
    DeleteWebhook: Delete "/v1/webhooks/{id}", path: crate::WebhookId => 200 Deleted, Sigv4;
    /// A webhook's deliveries with every attempt and its status code, newest first.
    WebhookDeliveries: Get "/v1/webhooks/{id}/deliveries", path: crate::WebhookId => 200 alarms::DeliveryList, Sigv4;
    /// The caller's events (every account's, for the operator), oldest first, a page at a time:
    /// connections created, state and bandwidth changes, links added and removed, alarm
    /// transitions. (`GET /v1/events/stream` gives the same as `text/event-stream`, live.)
    ListEvents: Get "/v1/events", query: events::EventsQuery => 200 events::EventList, Sigv4;
    /// A connection's history: each state with its reason, each bandwidth change.
    ConnectionHistory: Get "/v1/connections/{id}/events", path: crate::ConnectionId => 200 ConnectionEvents, Sigv4;
    /// Pings and traces an address on the other side from a gateway of the caller's side.
    TestConnection: Post "/v1/connections/{id}/test", path: crate::ConnectionId, body: TestConnectionRequest
        => 200 TestResult, Sigv4;
    /// A single-use token that registers one gateway for an attach point (or, operator only,
    /// a provider edge of a facility).
    CreateGatewayToken: Post "/v1/gateway-tokens", body: TokenRequest => 200 TokenResponse, Sigv4;
    /// The caller's gateways (every gateway, for the operator).
    ListGateways: Get "/v1/gateways" => 200 GatewayList, Sigv4;
    /// One gateway, with what it reported last.
    GetGateway: Get "/v1/gateways/{id}" => 200 GatewayView, Sigv4;
    /// Forgets a gateway; its links are planned again on others.
    DeleteGateway: Delete "/v1/gateways/{id}" => 200 Deleted, Sigv4;
    /// Creates a proposal: a connection the remote account will own, known by its activation
    /// key.
    CreateProposal: Post "/v1/proposals", body: CreateProposalRequest => 201 ProposalView, Sigv4;
    /// The caller's proposals.
    ListProposals: Get "/v1/proposals" => 200 ProposalList, Sigv4;
    /// What an activation key proposes, for the account about to redeem it.
    DescribeProposal: Post "/v1/proposals/describe", body: DescribeProposalRequest
        => 200 ProposalDescription, Sigv4;
    /// Withdraws an open proposal.
    WithdrawProposal: Delete "/v1/proposals/{id}", path: crate::ProposalId => 200 ProposalView, Sigv4;
    /// Gateway API: a registration token buys a gateway its id and secret (shown once).
    RegisterGateway: Post "/v1/gateway/register", body: RegisterRequest
        => 200 RegisterResponse, None;
    /// Gateway API: the gateway's configuration and its index; with the index the gateway has,
    /// waits (a blocking query) until there is a different one or `wait` seconds pass.
    GetGatewayConfig: Get "/v1/gateway/config", query: ConfigQuery => 200 ConfigResponse, Gateway;
    /// Gateway API: what the gateway reports, every few seconds.
    ReportGatewayStatus: Post "/v1/gateway/status", body: ReportRequest => 200 ReportAck, Gateway;
    /// Gateway API: the result of a connectivity test the gateway was asked to run.
    ReportTestResult: Post "/v1/gateway/tests", body: TestResult => 200 Ack, Gateway;
    /// Gateway API: the answer to a filter dry run the gateway was asked.
    ReportDryRun: Post "/v1/gateway/dry-runs", body: crate::gateway::DryRunAnswer => 200 Ack, Gateway;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fill_in_their_parameters() {
        assert_eq!(
            GetConnection::path(&["mcc-12345678"]),
            "/v1/connections/mcc-12345678"
        );
        assert_eq!(
            UntagConnection::path(&["a/b"]),
            "/v1/connections/a%2Fb/tags"
        );
        assert_eq!(ListConnections::path(&[]), "/v1/connections");
    }

    #[test]
    fn every_route_is_declared_once() {
        let all = all();
        for (i, r) in all.iter().enumerate() {
            assert!(r.path.starts_with("/v1/"), "{}", r.path);
            assert!(!r.summary.is_empty(), "{} has a summary", r.name);
            for other in &all[..i] {
                assert!(
                    (other.method, other.path) != (r.method, r.path),
                    "{} {} twice",
                    r.method.as_str(),
                    r.path
                );
            }
        }
    }
}
