//! Filters at the connection edge, in EC2's vocabulary: security groups (stateful allow rules),
//! network ACLs (stateless, numbered, allow or deny) and prefix lists.
//!
//! A rule travels as a [`RuleSpec`] (the JSON of the API, the gateway's configuration and the
//! store: `ipProtocol`, `fromPort`, `toPort`, `icmpType`, `icmpCode`, `cidrIp`, `cidrIpv6`,
//! `prefixListId`, `ruleNumber`, `ruleAction`) and is used as a validated [`SgRule`] or
//! [`AclRule`]. Every refusal is a [`RuleError`] that names the field at fault, so the API, the
//! CLI and the console can point at it. What a policy means for packets is `xc-filter`'s business.

use crate::{NetworkAclId, Prefix, PrefixListId, SecurityGroupId, SecurityGroupRuleId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Which way a packet crosses the attach point's edge: `inbound` comes from the other side of
/// the connection into the attach point's network, `outbound` leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub const ALL: [Direction; 2] = [Direction::Inbound, Direction::Outbound];

    pub fn parse(s: &str) -> Result<Self, crate::InvalidValue> {
        match s {
            "inbound" => Ok(Self::Inbound),
            "outbound" => Ok(Self::Outbound),
            _ => Err(crate::InvalidValue::new(
                "direction is `inbound` or `outbound`",
            )),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }
    pub fn reverse(self) -> Self {
        match self {
            Self::Inbound => Self::Outbound,
            Self::Outbound => Self::Inbound,
        }
    }
}
crate::string_newtype!(Direction, values = vec!["inbound", "outbound"]);

/// Whether an ACL rule lets a packet through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleAction {
    Allow,
    Deny,
}

impl RuleAction {
    pub fn parse(s: &str) -> Result<Self, crate::InvalidValue> {
        match s {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            _ => Err(crate::InvalidValue::new("rule action is `allow` or `deny`")),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}
crate::string_newtype!(RuleAction, values = vec!["allow", "deny"]);

/// The IP protocol a rule matches: a name, `all` (EC2's `-1`), or a protocol number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    All,
    /// Any other protocol, by number (never 1, 6, 17 or 58: those have names).
    Other(u8),
}

impl IpProtocol {
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMP: u8 = 1;
    pub const ICMPV6: u8 = 58;

    /// `tcp`, `udp`, `icmp`, `icmpv6`, `all` or `-1`, or a number from 0 to 255.
    pub fn parse(s: &str) -> Result<Self, crate::InvalidValue> {
        match s {
            "tcp" => Ok(Self::Tcp),
            "udp" => Ok(Self::Udp),
            "icmp" => Ok(Self::Icmp),
            "icmpv6" => Ok(Self::Icmpv6),
            "all" | "-1" => Ok(Self::All),
            // Digits only, without leading zeros (`06` and `+6` are not numbers here).
            n if n.is_empty()
                || !n.bytes().all(|b| b.is_ascii_digit())
                || (n.len() > 1 && n.starts_with('0')) =>
            {
                Err(crate::InvalidValue::new(format!(
                    "`{s}` is not tcp, udp, icmp, icmpv6, all or a protocol number from 0 to 255"
                )))
            }
            n => n.parse::<u8>().map(Self::from_number).map_err(|_| {
                crate::InvalidValue::new(format!(
                    "`{s}` is not tcp, udp, icmp, icmpv6, all or a protocol number from 0 to 255"
                ))
            }),
        }
    }
    pub fn from_number(n: u8) -> Self {
        match n {
            Self::TCP => Self::Tcp,
            Self::UDP => Self::Udp,
            Self::ICMP => Self::Icmp,
            Self::ICMPV6 => Self::Icmpv6,
            n => Self::Other(n),
        }
    }
    /// The protocol number; `None` for `all`.
    pub fn number(&self) -> Option<u8> {
        match self {
            Self::Tcp => Some(Self::TCP),
            Self::Udp => Some(Self::UDP),
            Self::Icmp => Some(Self::ICMP),
            Self::Icmpv6 => Some(Self::ICMPV6),
            Self::All => None,
            Self::Other(n) => Some(*n),
        }
    }
    fn has_ports(&self) -> bool {
        matches!(self, Self::Tcp | Self::Udp)
    }
    fn is_icmp(&self) -> bool {
        matches!(self, Self::Icmp | Self::Icmpv6)
    }
}

impl std::fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp => f.write_str("tcp"),
            Self::Udp => f.write_str("udp"),
            Self::Icmp => f.write_str("icmp"),
            Self::Icmpv6 => f.write_str("icmpv6"),
            Self::All => f.write_str("all"),
            Self::Other(n) => write!(f, "{n}"),
        }
    }
}
impl std::str::FromStr for IpProtocol {
    type Err = crate::InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// What a rule asks of the transport header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortMatch {
    /// Any port, any ICMP message, or a protocol without ports.
    Any,
    /// TCP or UDP destination ports `from..=to`.
    Range { from: u16, to: u16 },
    /// An ICMP type, and a code within it; `None` is any.
    Icmp { icmp_type: u8, code: Option<u8> },
}

impl PortMatch {
    pub fn port(&self, port: u16) -> bool {
        match self {
            Self::Any => true,
            Self::Range { from, to } => (*from..=*to).contains(&port),
            Self::Icmp { .. } => false,
        }
    }
    pub fn icmp(&self, icmp_type: u8, icmp_code: u8) -> bool {
        match self {
            Self::Any => true,
            Self::Range { .. } => false,
            Self::Icmp { icmp_type: t, code } => {
                *t == icmp_type && code.is_none_or(|c| c == icmp_code)
            }
        }
    }
}

/// Whom a security group rule lets in (inbound: the source) or out to (outbound: the destination).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    Cidr(Prefix),
    PrefixList(PrefixListId),
}

/// A rule refused, with the field at fault (`fromPort`, `cidrIp`, `ruleNumber`, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    pub field: &'static str,
    pub message: String,
}

impl RuleError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// A rule as it travels: the API's request and response, the gateway's configuration, the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    /// A security group rule's id (`sgr-...`); given by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::optional_rule_id")]
    pub rule_id: Option<String>,
    /// A network ACL rule's number, 1 to 32766; lowest is evaluated first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::optional_rule_number")]
    pub rule_number: Option<i64>,
    /// A network ACL rule's action: `allow` or `deny`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::optional_rule_action")]
    pub rule_action: Option<String>,
    /// `inbound` or `outbound`.
    #[schemars(schema_with = "crate::api::schema::direction")]
    pub direction: String,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `all` (or `-1`), or a protocol number.
    #[schemars(schema_with = "crate::api::schema::ip_protocol")]
    pub ip_protocol: String,
    /// First destination port (TCP and UDP only); with no ports, every port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::optional_port")]
    pub from_port: Option<i64>,
    /// Last destination port; defaults to `fromPort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::optional_port")]
    pub to_port: Option<i64>,
    /// ICMP or ICMPv6 type (icmp and icmpv6 only); with none, every message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::optional_icmp")]
    pub icmp_type: Option<i64>,
    /// ICMP code within `icmpType`; with none, every code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::optional_icmp")]
    pub icmp_code: Option<i64>,
    /// An IPv4 prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::optional_cidr_ip")]
    pub cidr_ip: Option<String>,
    /// An IPv6 prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::optional_cidr_ipv6")]
    pub cidr_ipv6: Option<String>,
    /// A prefix list (security group rules only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::optional_prefix_list_id")]
    pub prefix_list_id: Option<String>,
    /// Free text, up to 255 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::optional_rule_description")]
    pub description: Option<String>,
}

/// Protocol, ports and the prefix of a spec, checked together.
fn parse_match(spec: &RuleSpec) -> Result<(IpProtocol, PortMatch), RuleError> {
    let protocol =
        IpProtocol::parse(&spec.ip_protocol).map_err(|e| RuleError::new("ipProtocol", e.0))?;
    let number = |field: &'static str, v: i64, max: i64| {
        if (0..=max).contains(&v) {
            Ok(v)
        } else {
            Err(RuleError::new(
                field,
                format!("{v} is not between 0 and {max}"),
            ))
        }
    };
    let ports = match (spec.from_port, spec.to_port, spec.icmp_type, spec.icmp_code) {
        (None, None, None, None) => PortMatch::Any,
        (from, to, None, None) if protocol.has_ports() => {
            let Some(from) = from else {
                return Err(RuleError::new(
                    "fromPort",
                    "toPort is given without fromPort",
                ));
            };
            let from = number("fromPort", from, 65535)? as u16;
            let to = number("toPort", to.unwrap_or(i64::from(from)), 65535)? as u16;
            if to < from {
                return Err(RuleError::new(
                    "toPort",
                    format!("{to} is below fromPort {from}"),
                ));
            }
            if (from, to) == (0, 65535) {
                PortMatch::Any
            } else {
                PortMatch::Range { from, to }
            }
        }
        (Some(_), _, _, _) | (_, Some(_), _, _) => {
            let field = if spec.from_port.is_some() {
                "fromPort"
            } else {
                "toPort"
            };
            return Err(RuleError::new(
                field,
                format!("ports apply to tcp and udp only, not to {protocol}"),
            ));
        }
        (None, None, icmp_type, code) => {
            if !protocol.is_icmp() {
                let field = if icmp_type.is_some() {
                    "icmpType"
                } else {
                    "icmpCode"
                };
                return Err(RuleError::new(
                    field,
                    format!("ICMP types apply to icmp and icmpv6 only, not to {protocol}"),
                ));
            }
            let Some(icmp_type) = icmp_type else {
                return Err(RuleError::new(
                    "icmpCode",
                    "icmpCode is given without icmpType",
                ));
            };
            PortMatch::Icmp {
                icmp_type: number("icmpType", icmp_type, 255)? as u8,
                code: code
                    .map(|c| number("icmpCode", c, 255).map(|c| c as u8))
                    .transpose()?,
            }
        }
    };
    Ok((protocol, ports))
}

/// The one prefix of `cidrIp`/`cidrIpv6`, or `None` when neither is given.
fn parse_cidr(spec: &RuleSpec, protocol: IpProtocol) -> Result<Option<Prefix>, RuleError> {
    let parse = |field: &'static str, s: &str, v4: bool| {
        let p = Prefix::parse(s).map_err(|e| RuleError::new(field, e.0))?;
        if p.is_ipv4() != v4 {
            return Err(RuleError::new(
                field,
                format!(
                    "`{s}` is not an {} prefix",
                    if v4 { "IPv4" } else { "IPv6" }
                ),
            ));
        }
        Ok(p)
    };
    let prefix = match (&spec.cidr_ip, &spec.cidr_ipv6) {
        (Some(_), Some(_)) => {
            return Err(RuleError::new(
                "cidrIpv6",
                "give one of cidrIp and cidrIpv6 per rule",
            ));
        }
        (Some(s), None) => parse("cidrIp", s, true)?,
        (None, Some(s)) => parse("cidrIpv6", s, false)?,
        (None, None) => return Ok(None),
    };
    match protocol {
        IpProtocol::Icmp if !prefix.is_ipv4() => Err(RuleError::new(
            "ipProtocol",
            "icmp is IPv4's; use icmpv6 with cidrIpv6",
        )),
        IpProtocol::Icmpv6 if prefix.is_ipv4() => Err(RuleError::new(
            "ipProtocol",
            "icmpv6 is IPv6's; use icmp with cidrIp",
        )),
        _ => Ok(Some(prefix)),
    }
}

fn parse_description(spec: &RuleSpec) -> Result<Option<String>, RuleError> {
    match &spec.description {
        Some(d) if d.chars().count() > 255 || d.chars().any(char::is_control) => Err(
            RuleError::new("description", "up to 255 characters, no control characters"),
        ),
        d => Ok(d.clone()),
    }
}

fn parse_direction(spec: &RuleSpec) -> Result<Direction, RuleError> {
    Direction::parse(&spec.direction).map_err(|e| RuleError::new("direction", e.0))
}

/// One allow rule of a security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "RuleSpec", into = "RuleSpec")]
#[schemars(with = "RuleSpec")]
pub struct SgRule {
    pub id: SecurityGroupRuleId,
    pub direction: Direction,
    pub protocol: IpProtocol,
    pub ports: PortMatch,
    pub peer: Peer,
    pub description: Option<String>,
}

impl SgRule {
    /// A new rule from a request; `id` is the one the server gives it (a `ruleId` in the
    /// request, like the ACL-only fields, is refused).
    pub fn new(spec: &RuleSpec, id: SecurityGroupRuleId) -> Result<Self, RuleError> {
        if spec.rule_id.is_some() {
            return Err(RuleError::new("ruleId", "the server gives rule ids"));
        }
        Self::parse(spec, id)
    }

    fn parse(spec: &RuleSpec, id: SecurityGroupRuleId) -> Result<Self, RuleError> {
        if spec.rule_number.is_some() {
            return Err(RuleError::new(
                "ruleNumber",
                "security group rules are not numbered (network ACL rules are)",
            ));
        }
        if spec.rule_action.is_some() {
            return Err(RuleError::new(
                "ruleAction",
                "security group rules only allow (network ACL rules can deny)",
            ));
        }
        let direction = parse_direction(spec)?;
        let (protocol, ports) = parse_match(spec)?;
        let cidr = parse_cidr(spec, protocol)?;
        let peer = match (cidr, &spec.prefix_list_id) {
            (Some(_), Some(_)) => {
                return Err(RuleError::new(
                    "prefixListId",
                    "give a prefix or a prefix list per rule, not both",
                ));
            }
            (Some(p), None) => Peer::Cidr(p),
            (None, Some(pl)) => Peer::PrefixList(
                PrefixListId::parse(pl).map_err(|e| RuleError::new("prefixListId", e.0))?,
            ),
            (None, None) => {
                return Err(RuleError::new(
                    "cidrIp",
                    "a rule needs a peer: cidrIp, cidrIpv6 or prefixListId",
                ));
            }
        };
        Ok(Self {
            id,
            direction,
            protocol,
            ports,
            peer,
            description: parse_description(spec)?,
        })
    }

    /// Whether two rules let the same packets through (their ids and descriptions aside).
    pub fn same_match(&self, other: &SgRule) -> bool {
        (self.direction, self.protocol, self.ports, &self.peer)
            == (other.direction, other.protocol, other.ports, &other.peer)
    }
}

fn spec_of(protocol: IpProtocol, ports: PortMatch, spec: &mut RuleSpec) {
    spec.ip_protocol = protocol.to_string();
    match ports {
        PortMatch::Any => {}
        PortMatch::Range { from, to } => {
            spec.from_port = Some(i64::from(from));
            spec.to_port = Some(i64::from(to));
        }
        PortMatch::Icmp { icmp_type, code } => {
            spec.icmp_type = Some(i64::from(icmp_type));
            spec.icmp_code = code.map(i64::from);
        }
    }
}

fn set_cidr(prefix: &Prefix, spec: &mut RuleSpec) {
    if prefix.is_ipv4() {
        spec.cidr_ip = Some(prefix.to_string());
    } else {
        spec.cidr_ipv6 = Some(prefix.to_string());
    }
}

impl From<SgRule> for RuleSpec {
    fn from(r: SgRule) -> Self {
        let mut spec = RuleSpec {
            rule_id: Some(r.id.to_string()),
            direction: r.direction.as_str().to_owned(),
            description: r.description,
            ..RuleSpec::default()
        };
        spec_of(r.protocol, r.ports, &mut spec);
        match r.peer {
            Peer::Cidr(p) => set_cidr(&p, &mut spec),
            Peer::PrefixList(pl) => spec.prefix_list_id = Some(pl.to_string()),
        }
        spec
    }
}

impl TryFrom<RuleSpec> for SgRule {
    type Error = RuleError;
    fn try_from(spec: RuleSpec) -> Result<Self, RuleError> {
        let id = spec
            .rule_id
            .as_deref()
            .ok_or_else(|| RuleError::new("ruleId", "a stored rule has an id"))
            .and_then(|id| {
                SecurityGroupRuleId::parse(id).map_err(|e| RuleError::new("ruleId", e.0))
            })?;
        Self::parse(&spec, id)
    }
}

/// The numbers a network ACL rule may have (EC2's range).
pub const ACL_RULE_NUMBERS: std::ops::RangeInclusive<u16> = 1..=32766;

/// One numbered rule of a network ACL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "RuleSpec", into = "RuleSpec")]
#[schemars(with = "RuleSpec")]
pub struct AclRule {
    pub number: u16,
    pub direction: Direction,
    pub action: RuleAction,
    pub protocol: IpProtocol,
    pub ports: PortMatch,
    pub cidr: Prefix,
    pub description: Option<String>,
}

impl From<AclRule> for RuleSpec {
    fn from(r: AclRule) -> Self {
        let mut spec = RuleSpec {
            rule_number: Some(i64::from(r.number)),
            rule_action: Some(r.action.as_str().to_owned()),
            direction: r.direction.as_str().to_owned(),
            description: r.description,
            ..RuleSpec::default()
        };
        spec_of(r.protocol, r.ports, &mut spec);
        set_cidr(&r.cidr, &mut spec);
        spec
    }
}

impl TryFrom<RuleSpec> for AclRule {
    type Error = RuleError;
    fn try_from(spec: RuleSpec) -> Result<Self, RuleError> {
        if spec.rule_id.is_some() {
            return Err(RuleError::new(
                "ruleId",
                "network ACL rules are known by their number",
            ));
        }
        if spec.prefix_list_id.is_some() {
            return Err(RuleError::new(
                "prefixListId",
                "network ACL rules take a prefix (cidrIp or cidrIpv6), not a prefix list",
            ));
        }
        let number = spec
            .rule_number
            .ok_or_else(|| RuleError::new("ruleNumber", "a network ACL rule needs a number"))?;
        let number = u16::try_from(number)
            .ok()
            .filter(|n| ACL_RULE_NUMBERS.contains(n))
            .ok_or_else(|| {
                RuleError::new("ruleNumber", format!("{number} is not between 1 and 32766"))
            })?;
        let action = spec
            .rule_action
            .as_deref()
            .ok_or_else(|| RuleError::new("ruleAction", "allow or deny"))
            .and_then(|a| RuleAction::parse(a).map_err(|e| RuleError::new("ruleAction", e.0)))?;
        let direction = parse_direction(&spec)?;
        let (protocol, ports) = parse_match(&spec)?;
        let cidr = parse_cidr(&spec, protocol)?
            .ok_or_else(|| RuleError::new("cidrIp", "a rule needs cidrIp or cidrIpv6"))?;
        Ok(Self {
            number,
            direction,
            action,
            protocol,
            ports,
            cidr,
            description: parse_description(&spec)?,
        })
    }
}

/// The rules of one security group, as its attach point's gateways receive them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupRules {
    pub group_id: SecurityGroupId,
    pub rules: Vec<SgRule>,
}

/// The rules of a network ACL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AclRules {
    pub acl_id: NetworkAclId,
    pub rules: Vec<AclRule>,
}

/// A prefix list's prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrefixListEntries {
    pub prefix_list_id: PrefixListId,
    pub prefixes: Vec<Prefix>,
}

/// Everything one attach point's gateways enforce. With no security group, every flow passes the
/// groups' stage (the connections that existed before filters keep working); with no network ACL,
/// every packet passes the ACL stage (EC2's default ACL allows everything).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterPolicy {
    #[serde(default)]
    pub security_groups: Vec<GroupRules>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_acl: Option<AclRules>,
    #[serde(default)]
    pub prefix_lists: Vec<PrefixListEntries>,
    /// The flow logs of the links that have one on, by link name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flow_logs: BTreeMap<String, crate::flowlog::FlowLogSpec>,
}

/// Most rules a network ACL may hold, each direction.
pub const MAX_ACL_RULES: usize = 5_000;
/// Most rules a policy's security groups may hold together.
pub const MAX_SG_RULES: usize = 5_000;
/// Most prefixes a prefix list may hold.
pub const MAX_PREFIX_LIST_ENTRIES: usize = 5_000;

impl FilterPolicy {
    /// Whether the policy filters anything at all.
    pub fn is_empty(&self) -> bool {
        self.security_groups.is_empty() && self.network_acl.is_none()
    }

    /// The prefixes of a prefix list.
    pub fn prefix_list(&self, id: &PrefixListId) -> Option<&[Prefix]> {
        self.prefix_lists
            .iter()
            .find(|p| &p.prefix_list_id == id)
            .map(|p| p.prefixes.as_slice())
    }

    /// Checks what single rules cannot: ACL numbers unique per direction, every prefix list that a
    /// rule names present, and the sizes within bounds.
    pub fn validate(&self) -> Result<(), RuleError> {
        if let Some(acl) = &self.network_acl {
            check_acl_numbers(&acl.rules)?;
        }
        for (link, spec) in &self.flow_logs {
            spec.validate()
                .map_err(|e| RuleError::new("flowLogs", format!("link {link}: {e}")))?;
        }
        let sg_rules: usize = self.security_groups.iter().map(|g| g.rules.len()).sum();
        if sg_rules > MAX_SG_RULES {
            return Err(RuleError::new(
                "rules",
                format!("{sg_rules} security group rules; at most {MAX_SG_RULES}"),
            ));
        }
        for list in &self.prefix_lists {
            if list.prefixes.len() > MAX_PREFIX_LIST_ENTRIES {
                return Err(RuleError::new(
                    "prefixes",
                    format!(
                        "{} has {} prefixes; at most {MAX_PREFIX_LIST_ENTRIES}",
                        list.prefix_list_id,
                        list.prefixes.len()
                    ),
                ));
            }
        }
        for rule in self.security_groups.iter().flat_map(|g| &g.rules) {
            if let Peer::PrefixList(pl) = &rule.peer
                && self.prefix_list(pl).is_none()
            {
                return Err(RuleError::new(
                    "prefixListId",
                    format!("rule {} names {pl}, which does not exist", rule.id),
                ));
            }
        }
        Ok(())
    }
}

/// Refuses an ACL whose rules reuse a number in one direction, or that has too many rules.
pub fn check_acl_numbers(rules: &[AclRule]) -> Result<(), RuleError> {
    let mut seen = BTreeSet::new();
    let mut per_direction = BTreeMap::<Direction, usize>::new();
    for r in rules {
        if !seen.insert((r.direction, r.number)) {
            return Err(RuleError::new(
                "ruleNumber",
                format!(
                    "{} is used twice for {} rules; each number once per direction",
                    r.number,
                    r.direction.as_str()
                ),
            ));
        }
        let n = per_direction.entry(r.direction).or_default();
        *n += 1;
        if *n > MAX_ACL_RULES {
            return Err(RuleError::new(
                "ruleNumber",
                format!("more than {MAX_ACL_RULES} {} rules", r.direction.as_str()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> RuleSpec {
        serde_json::from_value(json).expect("a spec")
    }
    fn rule_id() -> SecurityGroupRuleId {
        SecurityGroupRuleId::from_random([1; 8])
    }

    #[test]
    fn a_security_group_rule_round_trips() {
        let rule = SgRule::new(
            &spec(serde_json::json!({
                "direction": "inbound", "ipProtocol": "tcp", "fromPort": 22,
                "cidrIp": "10.1.0.0/16", "description": "ssh"
            })),
            rule_id(),
        )
        .expect("valid");
        assert_eq!(rule.ports, PortMatch::Range { from: 22, to: 22 });
        let json = serde_json::to_value(&rule).expect("json");
        assert_eq!(json["toPort"], 22);
        assert_eq!(json["ruleId"], rule_id().to_string());
        let back: SgRule = serde_json::from_value(json).expect("back");
        assert_eq!(back, rule);
    }

    #[test]
    fn bad_rules_are_refused_naming_their_field() {
        let cases = [
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "icmp", "fromPort": 1, "cidrIp": "10.0.0.0/8"}),
                "fromPort",
            ),
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "tcp", "fromPort": 22, "cidrIp": "10.0.0.1/8"}),
                "cidrIp",
            ),
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "tcp", "fromPort": 80, "toPort": 79, "cidrIp": "10.0.0.0/8"}),
                "toPort",
            ),
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "tcp", "fromPort": 70000, "cidrIp": "10.0.0.0/8"}),
                "fromPort",
            ),
            (
                serde_json::json!({"direction": "sideways", "ipProtocol": "tcp", "cidrIp": "10.0.0.0/8"}),
                "direction",
            ),
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "gre", "cidrIp": "10.0.0.0/8"}),
                "ipProtocol",
            ),
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "udp", "icmpType": 8, "cidrIp": "10.0.0.0/8"}),
                "icmpType",
            ),
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "icmp", "icmpCode": 0, "cidrIp": "10.0.0.0/8"}),
                "icmpCode",
            ),
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "icmp", "cidrIpv6": "2001:db8::/32"}),
                "ipProtocol",
            ),
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "all", "cidrIp": "2001:db8::/32"}),
                "cidrIp",
            ),
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "all"}),
                "cidrIp",
            ),
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "all", "cidrIp": "10.0.0.0/8", "ruleNumber": 100}),
                "ruleNumber",
            ),
        ];
        for (json, field) in cases {
            let err = SgRule::new(&spec(json.clone()), rule_id()).expect_err(&json.to_string());
            assert_eq!(err.field, field, "{json}: {err}");
        }
    }

    #[test]
    fn acl_rules_need_a_number_and_an_action_and_numbers_are_unique_per_direction() {
        let rule = |n: i64, dir: &str| -> Result<AclRule, RuleError> {
            spec(serde_json::json!({
                "ruleNumber": n, "ruleAction": "deny", "direction": dir,
                "ipProtocol": "tcp", "fromPort": 23, "cidrIp": "0.0.0.0/0"
            }))
            .try_into()
        };
        assert_eq!(rule(0, "inbound").expect_err("0").field, "ruleNumber");
        assert_eq!(
            rule(32767, "inbound").expect_err("32767").field,
            "ruleNumber"
        );
        let ok = [
            rule(100, "inbound").expect("valid"),
            rule(100, "outbound").expect("valid"),
        ];
        check_acl_numbers(&ok).expect("one number per direction");
        let twice = [ok[0].clone(), ok[0].clone()];
        assert_eq!(
            check_acl_numbers(&twice).expect_err("reused").field,
            "ruleNumber"
        );
        let back: AclRule =
            serde_json::from_value(serde_json::to_value(&ok[0]).expect("json")).expect("back");
        assert_eq!(back, ok[0]);
    }

    #[test]
    fn protocols_by_name_and_number() {
        assert_eq!(IpProtocol::parse("6").expect("6"), IpProtocol::Tcp);
        assert_eq!(IpProtocol::parse("-1").expect("-1"), IpProtocol::All);
        assert_eq!(IpProtocol::parse("47").expect("47"), IpProtocol::Other(47));
        assert_eq!(IpProtocol::Other(47).to_string(), "47");
        assert!(IpProtocol::parse("256").is_err());
    }

    #[test]
    fn a_policy_names_only_prefix_lists_it_carries() {
        let pl = PrefixListId::from_random([2; 8]);
        let rule = SgRule::new(
            &spec(serde_json::json!({
                "direction": "inbound", "ipProtocol": "all", "prefixListId": pl.to_string()
            })),
            rule_id(),
        )
        .expect("valid");
        let mut policy = FilterPolicy {
            security_groups: vec![GroupRules {
                group_id: SecurityGroupId::from_random([3; 8]),
                rules: vec![rule],
            }],
            ..FilterPolicy::default()
        };
        assert_eq!(
            policy.validate().expect_err("missing").field,
            "prefixListId"
        );
        policy.prefix_lists.push(PrefixListEntries {
            prefix_list_id: pl,
            prefixes: vec![Prefix::parse("10.0.0.0/8").expect("prefix")],
        });
        policy.validate().expect("complete");
    }
}
