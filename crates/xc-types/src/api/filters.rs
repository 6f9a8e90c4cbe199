//! Security groups, network ACLs and prefix lists at the connection edge, and "would this pass?"
//! (`/v1/security-groups`, `/v1/network-acls`, `/v1/prefix-lists`,
//! `/v1/attach-points/{id}/check`). The rules travel in EC2's vocabulary
//! ([`crate::filter::RuleSpec`]); every refusal names the field at fault.

use crate::filter::{AclRule, RuleSpec, SgRule};
use crate::{AccountId, AttachPointId, ConnectionId, NetworkAclId, Prefix, PrefixListId};
use crate::{SecurityGroupId, SecurityGroupRuleId};
use serde::{Deserialize, Serialize};

/// `POST /v1/security-groups`: a group of the attach point's account, attached to it. It starts
/// with AWS's default: all outbound traffic allowed (IPv4 and IPv6), nothing inbound.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSecurityGroupRequest {
    /// 1 to 64 characters, unique in the account.
    #[schemars(schema_with = "super::schema::filter_name")]
    pub name: String,
    #[schemars(schema_with = "super::schema::uuid")]
    pub attach_point_id: String,
    /// Up to 255 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_rule_description")]
    pub description: Option<String>,
}

/// A security group: stateful allow rules, inbound and outbound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    pub security_group_id: SecurityGroupId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub account_id: AccountId,
    /// The attach points whose gateways enforce it.
    pub attach_point_ids: Vec<AttachPointId>,
    pub rules: Vec<SgRule>,
    pub created_at: String,
    pub updated_at: String,
    /// With `?dryRun=true`: nothing was changed; the group above is as it would be, and these
    /// are the tracked flows its gateways would cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<FilterDryRun>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupList {
    pub security_groups: Vec<SecurityGroup>,
}

/// `POST /v1/security-groups/{id}/authorize` and `.../revoke`: rules to add, or to remove (by
/// `ruleId`, or by the same protocol, ports and peer).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecurityGroupRulesRequest {
    /// 1 to 100 rules.
    #[schemars(length(min = 1, max = 100))]
    pub rules: Vec<RuleSpec>,
}

/// `POST /v1/security-groups/{id}/attach` and `.../detach`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttachmentRequest {
    #[schemars(schema_with = "super::schema::uuid")]
    pub attach_point_id: String,
}

/// `POST /v1/network-acls`: the attach point's network ACL (one per attach point; without one,
/// the default ACL allows everything). It starts with no rules: the final implicit deny refuses
/// everything until rules are added.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateNetworkAclRequest {
    /// 1 to 64 characters, unique in the account.
    #[schemars(schema_with = "super::schema::filter_name")]
    pub name: String,
    #[schemars(schema_with = "super::schema::uuid")]
    pub attach_point_id: String,
}

/// A network ACL: stateless numbered rules, lowest number first, then an implicit deny.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkAcl {
    pub network_acl_id: NetworkAclId,
    pub name: String,
    pub account_id: AccountId,
    pub attach_point_id: AttachPointId,
    /// Ordered by direction, then number.
    pub rules: Vec<AclRule>,
    pub created_at: String,
    pub updated_at: String,
    /// With `?dryRun=true`: nothing was changed; the ACL above is as it would be, and these
    /// are the tracked flows its gateways would cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<FilterDryRun>,
}

/// `?dryRun=true`: check the change and ask the gateways which of their tracked flows it would
/// cut; change nothing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DryRunQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// What a filter change would cut, gateway by gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterDryRun {
    pub gateways: Vec<GatewayCuts>,
}

/// One gateway's tracked flows that a change would cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayCuts {
    pub gateway_id: String,
    pub gateway_name: String,
    pub attach_point_id: AttachPointId,
    /// Whether the gateway answered in time (if not, `flows` is empty: unknown, not none).
    pub answered: bool,
    /// At most [`crate::gateway::MAX_CUT_FLOWS`], in the order of their addresses and ports.
    pub flows: Vec<crate::gateway::CutFlow>,
    /// How many there are in all.
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkAclList {
    pub network_acls: Vec<NetworkAcl>,
}

/// `DELETE /v1/network-acls/{id}/rules?direction=&ruleNumber=`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveAclRuleQuery {
    /// `inbound` or `outbound`.
    #[schemars(schema_with = "super::schema::direction")]
    pub direction: String,
    #[schemars(schema_with = "super::schema::rule_number")]
    pub rule_number: u16,
    /// Check and report what would be cut; change nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `POST /v1/prefix-lists`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePrefixListRequest {
    /// 1 to 64 characters, unique in the account.
    #[schemars(schema_with = "super::schema::filter_name")]
    pub name: String,
    /// IPv4 and IPv6 prefixes (host bits clear), at most 5,000; a prefix given twice is kept once.
    #[schemars(schema_with = "super::schema::filter_prefixes")]
    pub prefixes: Vec<String>,
}

/// `PATCH /v1/prefix-lists/{id}`: a new name, new prefixes (replacing the old ones, live on
/// every gateway whose rules name the list), or both.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePrefixListRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_filter_name")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_filter_prefixes")]
    pub prefixes: Option<Vec<String>>,
}

/// A prefix list: a named set of prefixes that security group rules name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrefixList {
    pub prefix_list_id: PrefixListId,
    pub name: String,
    pub account_id: AccountId,
    pub prefixes: Vec<Prefix>,
    pub created_at: String,
    pub updated_at: String,
    /// With `?dryRun=true`: nothing was changed; the list above is as it would be, and these
    /// are the tracked flows the gateways of the attach points whose rules name it would cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<FilterDryRun>,
}

/// A deleted security group or network ACL; with `?dryRun=true`, one that would be (`deleted`
/// false) and the tracked flows its attach points' gateways would cut without it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterDeleted {
    pub id: String,
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<FilterDryRun>,
}

impl FilterDeleted {
    /// Deleted, or (with a dry run's findings) only tried.
    pub fn new(id: String, dry_run: Option<FilterDryRun>) -> Self {
        Self {
            id,
            deleted: dry_run.is_none(),
            dry_run,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrefixListCollection {
    pub prefix_lists: Vec<PrefixList>,
}

/// `POST /v1/attach-points/{id}/check`: would a packet pass? `from` and `to` are addresses; the
/// one inside the attach point's prefixes says the direction (from it: outbound; to it:
/// inbound). The answer covers this side, and the other side of every connection of the attach
/// point whose prefixes hold the other address.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckRequest {
    #[schemars(schema_with = "super::schema::ip_address")]
    pub from: String,
    #[schemars(schema_with = "super::schema::ip_address")]
    pub to: String,
    /// `tcp`, `udp`, `icmp`, `icmpv6` or a protocol number.
    #[schemars(schema_with = "super::schema::packet_protocol")]
    pub protocol: String,
    /// The destination port (tcp and udp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// ICMP type and code (icmp and icmpv6; default echo request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
}

/// Which stage of one side decided, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DecidedBy {
    /// The side filters nothing (no group, no ACL).
    NoFilters,
    /// A network ACL rule (allow or deny).
    AclRule,
    /// No ACL rule matched: the final implicit deny.
    AclImplicitDeny,
    /// A security group rule allows it.
    SecurityGroupRule,
    /// No group is attached: everything passes the groups (and the ACL allowed it).
    NoSecurityGroups,
    /// Groups are attached and none of their rules allows it.
    NoSecurityGroupRule,
}

/// One side's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SideVerdict {
    pub attach_point_id: AttachPointId,
    /// The connection that carries the packet to this side (none: the attach point asked about).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<ConnectionId>,
    /// The packet's direction at this side: `inbound` or `outbound`.
    pub direction: String,
    pub allowed: bool,
    pub decided_by: DecidedBy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_acl_id: Option<NetworkAclId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_number: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<SecurityGroupId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<SecurityGroupRuleId>,
    /// In words: which rule decided.
    pub explanation: String,
}

/// `POST /v1/attach-points/{id}/check`'s answer: allowed when every side allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub allowed: bool,
    pub sides: Vec<SideVerdict>,
}
