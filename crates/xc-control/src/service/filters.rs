//! Security groups, network ACLs and prefix lists: their API, the policy each attach point's
//! gateways enforce ([`policy_of`], part of a managed gateway's configuration), and "would this
//! pass?" ([`Service::check_attach_point`]), answered by the same classifier the gateways run.
//!
//! Only the attach point's account sees and changes its filters. Every change is checked whole
//! before it is written: the rule itself (each refusal names its field, as
//! `rules[2].fromPort`), then the policy of every attach point it reaches (ACL numbers, prefix
//! lists that exist, sizes), so a gateway is never handed a policy it would refuse.

use super::connections::fmt_time;
use super::dryrun::Change;
use super::{Caller, Service};
use crate::{Result, ServiceError};
use std::net::IpAddr;
use xc_filter::{AclVerdict, Compiled, Detail, Probe, RuleRef, SgVerdict};
use xc_store::{Db, NetworkAclRow, PrefixListRow, SecurityGroupRow};
use xc_types::api::events::EventType;
use xc_types::api::filters::*;
use xc_types::filter::{
    AclRule, AclRules, Direction, FilterPolicy, GroupRules, IpProtocol, Peer, PortMatch,
    PrefixListEntries, RuleError, RuleSpec, SgRule, check_acl_numbers,
};
use xc_types::{
    AccountId, AttachPoint, AttachPointId, NetworkAclId, Prefix, PrefixListId, SecurityGroupId,
    SecurityGroupRuleId,
};

/// Most security groups one attach point may have attached (EC2's default per interface).
pub const MAX_GROUPS_PER_ATTACH_POINT: usize = 5;

fn parse_id<T>(
    parse: fn(&str) -> std::result::Result<T, xc_types::InvalidValue>,
    field: &str,
    s: &str,
) -> Result<T> {
    parse(s).map_err(|e| ServiceError::validation(field, e))
}

/// A name: 1 to 64 characters, no control characters, no whitespace first or last.
fn validate_name(name: &str) -> Result<String> {
    if !xc_types::api::schema::is_name(name, 64) {
        return Err(ServiceError::validation(
            "name",
            "is 1 to 64 characters without control characters, not beginning or ending with whitespace",
        ));
    }
    Ok(name.to_owned())
}

fn rule_error(prefix: &str, e: RuleError) -> ServiceError {
    ServiceError::validation(&format!("{prefix}{}", e.field), e.message)
}

fn parse_prefixes(list: &[String]) -> Result<Vec<Prefix>> {
    if list.len() > xc_types::filter::MAX_PREFIX_LIST_ENTRIES {
        return Err(ServiceError::validation(
            "prefixes",
            format!(
                "{} prefixes; at most {}",
                list.len(),
                xc_types::filter::MAX_PREFIX_LIST_ENTRIES
            ),
        ));
    }
    let mut out: Vec<Prefix> = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        let prefix = Prefix::parse(p.trim())
            .map_err(|e| ServiceError::validation(&format!("prefixes[{i}]"), e))?;
        if !out.contains(&prefix) {
            out.push(prefix);
        }
    }
    Ok(out)
}

/// The attach point, if the caller's account owns it (a tenant's filters are its own: the
/// operator, too, changes them only through the tenant's keys).
fn own_attach_point(db: &Db<'_>, caller: &Caller, id: &AttachPointId) -> Result<AttachPoint> {
    db.get_attach_point(id)?
        .filter(|ap| ap.account_id == caller.account)
        .ok_or_else(|| ServiceError::not_found("attach point", id))
}

fn may_see(caller: &Caller, owner: &AccountId) -> bool {
    owner == &caller.account || caller.is_operator()
}

fn own_group(db: &Db<'_>, caller: &Caller, id: &SecurityGroupId) -> Result<SecurityGroupRow> {
    db.security_group(id)?
        .filter(|g| g.account_id == caller.account)
        .ok_or_else(|| ServiceError::not_found("security group", id))
}

fn own_acl(db: &Db<'_>, caller: &Caller, id: &NetworkAclId) -> Result<NetworkAclRow> {
    db.network_acl(id)?
        .filter(|a| a.account_id == caller.account)
        .ok_or_else(|| ServiceError::not_found("network ACL", id))
}

fn own_list(db: &Db<'_>, caller: &Caller, id: &PrefixListId) -> Result<PrefixListRow> {
    db.prefix_list(id)?
        .filter(|p| p.account_id == caller.account)
        .ok_or_else(|| ServiceError::not_found("prefix list", id))
}

/// The policy an attach point's gateways enforce: its groups (in the order they were attached),
/// its ACL, and the prefix lists their rules name. None: it filters nothing.
pub(crate) fn policy_of(db: &Db<'_>, ap: &AttachPointId) -> Result<Option<FilterPolicy>> {
    let groups = db.security_groups_of_attach_point(ap)?;
    let acl = db.network_acl_of_attach_point(ap)?;
    if groups.is_empty() && acl.is_none() {
        return Ok(None);
    }
    let mut lists: Vec<PrefixListEntries> = Vec::new();
    for rule in groups.iter().flat_map(|g| &g.rules) {
        if let Peer::PrefixList(id) = &rule.peer
            && !lists.iter().any(|l| &l.prefix_list_id == id)
            && let Some(l) = db.prefix_list(id)?
        {
            lists.push(PrefixListEntries {
                prefix_list_id: l.id,
                prefixes: l.prefixes,
            });
        }
    }
    Ok(Some(FilterPolicy {
        security_groups: groups
            .into_iter()
            .map(|g| GroupRules {
                group_id: g.id,
                rules: g.rules,
            })
            .collect(),
        network_acl: acl.map(|a| AclRules {
            acl_id: a.id,
            rules: a.rules,
        }),
        prefix_lists: lists,
        flow_logs: Default::default(),
    }))
}

/// Checks the policy of each attach point after a change (in the change's transaction): a
/// gateway must never be handed one it would refuse.
fn check_policies<'a>(db: &Db<'_>, aps: impl IntoIterator<Item = &'a AttachPointId>) -> Result<()> {
    for ap in aps {
        if let Some(p) = policy_of(db, ap)? {
            p.validate().map_err(|e| rule_error("", e))?;
        }
    }
    Ok(())
}

/// Notes a change in the account's events: what changed (`resource`, `action`) and the attach
/// points whose gateways take it.
fn note_change(
    db: &Db<'_>,
    account: &AccountId,
    now: i64,
    resource: &str,
    action: &str,
    attach_points: &[AttachPointId],
) -> Result<()> {
    let detail = serde_json::json!({
        "resource": resource,
        "action": action,
        "attachPointIds": attach_points,
    });
    db.insert_event(
        account,
        now,
        EventType::FilterChange.as_str(),
        None,
        &detail.to_string(),
    )?;
    Ok(())
}

fn group_view(g: SecurityGroupRow) -> SecurityGroup {
    SecurityGroup {
        security_group_id: g.id,
        name: g.name,
        description: g.description,
        account_id: g.account_id,
        attach_point_ids: g.attach_points,
        rules: g.rules,
        created_at: fmt_time(g.created_at),
        updated_at: fmt_time(g.updated_at),
        dry_run: None,
    }
}

fn acl_view(a: NetworkAclRow) -> NetworkAcl {
    let mut rules = a.rules;
    rules.sort_by_key(|r| (r.direction, r.number));
    NetworkAcl {
        network_acl_id: a.id,
        name: a.name,
        account_id: a.account_id,
        attach_point_id: a.attach_point,
        rules,
        created_at: fmt_time(a.created_at),
        updated_at: fmt_time(a.updated_at),
        dry_run: None,
    }
}

fn list_view(p: PrefixListRow) -> PrefixList {
    PrefixList {
        prefix_list_id: p.id,
        name: p.name,
        account_id: p.account_id,
        prefixes: p.prefixes,
        created_at: fmt_time(p.created_at),
        updated_at: fmt_time(p.updated_at),
        dry_run: None,
    }
}

/// AWS's default outbound rules of a new group: everything, to anywhere, both families.
fn default_outbound() -> Vec<SgRule> {
    ["0.0.0.0/0", "::/0"]
        .iter()
        .map(|p| SgRule {
            id: SecurityGroupRuleId::from_random(rand::random()),
            direction: Direction::Outbound,
            protocol: IpProtocol::All,
            ports: PortMatch::Any,
            peer: Peer::Cidr(Prefix::parse(p).expect("a literal prefix")),
            description: None,
        })
        .collect()
}

impl Service {
    pub async fn create_security_group(
        &self,
        caller: &Caller,
        req: CreateSecurityGroupRequest,
        mode: Change,
    ) -> Result<SecurityGroup> {
        caller.require_write()?;
        let name = validate_name(&req.name)?;
        let ap = parse_id(AttachPointId::parse, "attachPointId", &req.attach_point_id)?;
        let description = req
            .description
            .map(|d| {
                if d.chars().count() > 255 || d.chars().any(char::is_control) {
                    Err(ServiceError::validation(
                        "description",
                        "is at most 255 characters, none of them control characters",
                    ))
                } else {
                    Ok(d)
                }
            })
            .transpose()?;
        let now = self.now();
        let caller = caller.clone();
        let (g, dry_run) = self
            .filter_change(mode, move |db| {
                own_attach_point(db, &caller, &ap)?;
                if db.security_group_name_taken(&caller.account, &name)? {
                    return Err(ServiceError::Conflict(format!(
                        "a security group named {name:?} exists already"
                    )));
                }
                if db.security_groups_of_attach_point(&ap)?.len() >= MAX_GROUPS_PER_ATTACH_POINT {
                    return Err(ServiceError::QuotaExceeded(format!(
                        "attach point {ap} has {MAX_GROUPS_PER_ATTACH_POINT} security groups, the most it may have"
                    )));
                }
                let g = SecurityGroupRow {
                    id: SecurityGroupId::from_random(rand::random()),
                    account_id: caller.account.clone(),
                    name,
                    description,
                    rules: default_outbound(),
                    attach_points: vec![ap],
                    created_at: now,
                    updated_at: now,
                };
                db.insert_security_group(&g)?;
                check_policies(db, [&ap])?;
                note_change(db, &g.account_id, now, g.id.as_str(), "created", &g.attach_points)?;
                Ok((g, vec![ap]))
            })
            .await?;
        if dry_run.is_none() {
            tracing::info!(group = %g.id, attach_point = ?g.attach_points, "security group created");
        }
        Ok(SecurityGroup {
            dry_run,
            ..group_view(g)
        })
    }

    pub async fn list_security_groups(&self, caller: &Caller) -> Result<SecurityGroupList> {
        let account = caller.account.clone();
        let groups = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.security_groups_of_account(&account)?))
            .await?;
        Ok(SecurityGroupList {
            security_groups: groups.into_iter().map(group_view).collect(),
        })
    }

    pub async fn get_security_group(&self, caller: &Caller, id: &str) -> Result<SecurityGroup> {
        let id = parse_id(SecurityGroupId::parse, "id", id)?;
        let caller = caller.clone();
        self.store
            .read(move |db| {
                db.security_group(&id)?
                    .filter(|g| may_see(&caller, &g.account_id))
                    .map(group_view)
                    .ok_or_else(|| ServiceError::not_found("security group", id))
            })
            .await
    }

    /// Deletes a group; the attach points it was attached to stop enforcing it.
    pub async fn delete_security_group(
        &self,
        caller: &Caller,
        id: &str,
        mode: Change,
    ) -> Result<FilterDeleted> {
        caller.require_write()?;
        let id = parse_id(SecurityGroupId::parse, "id", id)?;
        let caller = caller.clone();
        let now = self.now();
        let (id, dry_run) = self
            .filter_change(mode, move |db| {
                let g = own_group(db, &caller, &id)?;
                db.delete_security_group(&g.id)?;
                note_change(
                    db,
                    &g.account_id,
                    now,
                    g.id.as_str(),
                    "deleted",
                    &g.attach_points,
                )?;
                Ok((g.id, g.attach_points))
            })
            .await?;
        Ok(FilterDeleted::new(id.to_string(), dry_run))
    }

    /// Adds rules (each checked, none a duplicate of a rule the group has); all or none.
    pub async fn authorize_security_group(
        &self,
        caller: &Caller,
        id: &str,
        req: SecurityGroupRulesRequest,
        mode: Change,
    ) -> Result<SecurityGroup> {
        caller.require_write()?;
        let id = parse_id(SecurityGroupId::parse, "id", id)?;
        let new = parse_new_rules(&req.rules)?;
        self.change_group(caller, id, "rulesAuthorized", mode, move |db, g| {
            for (i, r) in new.iter().enumerate() {
                if let Some(old) = g.rules.iter().find(|o| o.same_match(r)) {
                    return Err(ServiceError::Conflict(format!(
                        "rules[{i}]: the group has this rule already ({})",
                        old.id
                    )));
                }
                if let Peer::PrefixList(pl) = &r.peer
                    && db
                        .prefix_list(pl)?
                        .is_none_or(|l| l.account_id != g.account_id)
                {
                    return Err(ServiceError::Conflict(format!(
                        "rules[{i}].prefixListId: {pl} is not a prefix list of this account"
                    )));
                }
            }
            g.rules.extend(new);
            Ok(())
        })
        .await
    }

    /// Removes rules, each named by its `ruleId` or by what it matches; all or none.
    pub async fn revoke_security_group(
        &self,
        caller: &Caller,
        id: &str,
        req: SecurityGroupRulesRequest,
        mode: Change,
    ) -> Result<SecurityGroup> {
        caller.require_write()?;
        let id = parse_id(SecurityGroupId::parse, "id", id)?;
        check_count(&req.rules)?;
        let specs = req.rules;
        self.change_group(caller, id, "rulesRevoked", mode, move |_, g| {
            for (i, spec) in specs.iter().enumerate() {
                let at = match &spec.rule_id {
                    Some(rid) => {
                        let rid = SecurityGroupRuleId::parse(rid).map_err(|e| {
                            ServiceError::validation(&format!("rules[{i}].ruleId"), e)
                        })?;
                        g.rules.iter().position(|r| r.id == rid)
                    }
                    None => {
                        let probe = SgRule::new(spec, SecurityGroupRuleId::from_random([0; 8]))
                            .map_err(|e| rule_error(&format!("rules[{i}]."), e))?;
                        g.rules.iter().position(|r| r.same_match(&probe))
                    }
                };
                let Some(at) = at else {
                    return Err(ServiceError::not_found(
                        "security group rule",
                        format!("rules[{i}] (the group has no such rule)"),
                    ));
                };
                g.rules.remove(at);
            }
            Ok(())
        })
        .await
    }

    pub async fn attach_security_group(
        &self,
        caller: &Caller,
        id: &str,
        req: AttachmentRequest,
        mode: Change,
    ) -> Result<SecurityGroup> {
        self.attachment(caller, id, req, true, mode).await
    }

    pub async fn detach_security_group(
        &self,
        caller: &Caller,
        id: &str,
        req: AttachmentRequest,
        mode: Change,
    ) -> Result<SecurityGroup> {
        self.attachment(caller, id, req, false, mode).await
    }

    async fn attachment(
        &self,
        caller: &Caller,
        id: &str,
        req: AttachmentRequest,
        attach: bool,
        mode: Change,
    ) -> Result<SecurityGroup> {
        caller.require_write()?;
        let id = parse_id(SecurityGroupId::parse, "id", id)?;
        let ap = parse_id(AttachPointId::parse, "attachPointId", &req.attach_point_id)?;
        let caller = caller.clone();
        let now = self.now();
        let (g, dry_run) = self
            .filter_change(mode, move |db| {
                let g = own_group(db, &caller, &id)?;
                own_attach_point(db, &caller, &ap)?;
                if attach {
                    if db.security_groups_of_attach_point(&ap)?.len()
                        >= MAX_GROUPS_PER_ATTACH_POINT
                    {
                        return Err(ServiceError::QuotaExceeded(format!(
                            "attach point {ap} has {MAX_GROUPS_PER_ATTACH_POINT} security groups, the most it may have"
                        )));
                    }
                    if !db.attach_security_group(&g.id, &ap, now)? {
                        return Err(ServiceError::Conflict(format!(
                            "{} is attached to {ap} already",
                            g.id
                        )));
                    }
                    check_policies(db, [&ap])?;
                } else if !db.detach_security_group(&g.id, &ap)? {
                    return Err(ServiceError::Conflict(format!(
                        "{} is not attached to {ap}",
                        g.id
                    )));
                }
                let action = if attach { "attached" } else { "detached" };
                note_change(db, &g.account_id, now, g.id.as_str(), action, &[ap])?;
                let g = db
                    .security_group(&g.id)?
                    .ok_or_else(|| ServiceError::not_found("security group", &g.id))?;
                Ok((g, vec![ap]))
            })
            .await?;
        Ok(SecurityGroup {
            dry_run,
            ..group_view(g)
        })
    }

    /// Changes a group's rules with `change`, checks the policy of every attach point it is
    /// attached to, and writes it: in one transaction.
    async fn change_group<F>(
        &self,
        caller: &Caller,
        id: SecurityGroupId,
        action: &'static str,
        mode: Change,
        change: F,
    ) -> Result<SecurityGroup>
    where
        F: FnOnce(&Db<'_>, &mut SecurityGroupRow) -> Result<()> + Send + 'static,
    {
        let caller = caller.clone();
        let now = self.now();
        let (g, dry_run) = self
            .filter_change(mode, move |db| {
                let mut g = own_group(db, &caller, &id)?;
                change(db, &mut g)?;
                g.updated_at = now;
                db.update_security_group_rules(&g.id, &g.rules, now)?;
                check_policies(db, &g.attach_points)?;
                note_change(
                    db,
                    &g.account_id,
                    now,
                    g.id.as_str(),
                    action,
                    &g.attach_points,
                )?;
                let aps = g.attach_points.clone();
                Ok((g, aps))
            })
            .await?;
        Ok(SecurityGroup {
            dry_run,
            ..group_view(g)
        })
    }

    pub async fn create_network_acl(
        &self,
        caller: &Caller,
        req: CreateNetworkAclRequest,
        mode: Change,
    ) -> Result<NetworkAcl> {
        caller.require_write()?;
        let name = validate_name(&req.name)?;
        let ap = parse_id(AttachPointId::parse, "attachPointId", &req.attach_point_id)?;
        let caller = caller.clone();
        let now = self.now();
        let (acl, dry_run) = self
            .filter_change(mode, move |db| {
                own_attach_point(db, &caller, &ap)?;
                if let Some(a) = db.network_acl_of_attach_point(&ap)? {
                    return Err(ServiceError::Conflict(format!(
                        "attach point {ap} has network ACL {} already: one per attach point",
                        a.id
                    )));
                }
                if db.network_acl_name_taken(&caller.account, &name)? {
                    return Err(ServiceError::Conflict(format!(
                        "a network ACL named {name:?} exists already"
                    )));
                }
                let acl = NetworkAclRow {
                    id: NetworkAclId::from_random(rand::random()),
                    account_id: caller.account.clone(),
                    attach_point: ap,
                    name,
                    rules: Vec::new(),
                    created_at: now,
                    updated_at: now,
                };
                db.insert_network_acl(&acl)?;
                note_change(db, &acl.account_id, now, acl.id.as_str(), "created", &[ap])?;
                Ok((acl, vec![ap]))
            })
            .await?;
        if dry_run.is_none() {
            tracing::info!(acl = %acl.id, attach_point = %acl.attach_point, "network ACL created");
        }
        Ok(NetworkAcl {
            dry_run,
            ..acl_view(acl)
        })
    }

    pub async fn list_network_acls(&self, caller: &Caller) -> Result<NetworkAclList> {
        let account = caller.account.clone();
        let acls = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.network_acls_of_account(&account)?))
            .await?;
        Ok(NetworkAclList {
            network_acls: acls.into_iter().map(acl_view).collect(),
        })
    }

    pub async fn get_network_acl(&self, caller: &Caller, id: &str) -> Result<NetworkAcl> {
        let id = parse_id(NetworkAclId::parse, "id", id)?;
        let caller = caller.clone();
        self.store
            .read(move |db| {
                db.network_acl(&id)?
                    .filter(|a| may_see(&caller, &a.account_id))
                    .map(acl_view)
                    .ok_or_else(|| ServiceError::not_found("network ACL", id))
            })
            .await
    }

    /// Deletes an ACL: its attach point goes back to the default, which allows everything.
    pub async fn delete_network_acl(
        &self,
        caller: &Caller,
        id: &str,
        mode: Change,
    ) -> Result<FilterDeleted> {
        caller.require_write()?;
        let id = parse_id(NetworkAclId::parse, "id", id)?;
        let caller = caller.clone();
        let now = self.now();
        let (id, dry_run) = self
            .filter_change(mode, move |db| {
                let a = own_acl(db, &caller, &id)?;
                db.delete_network_acl(&a.id)?;
                note_change(
                    db,
                    &a.account_id,
                    now,
                    a.id.as_str(),
                    "deleted",
                    &[a.attach_point],
                )?;
                Ok((a.id, vec![a.attach_point]))
            })
            .await?;
        Ok(FilterDeleted::new(id.to_string(), dry_run))
    }

    /// Adds a numbered rule; a number is used once per direction.
    pub async fn add_network_acl_rule(
        &self,
        caller: &Caller,
        id: &str,
        spec: RuleSpec,
        mode: Change,
    ) -> Result<NetworkAcl> {
        caller.require_write()?;
        let id = parse_id(NetworkAclId::parse, "id", id)?;
        let rule = AclRule::try_from(spec).map_err(|e| rule_error("", e))?;
        self.change_acl(caller, id, "ruleAdded", mode, move |a| {
            if a.rules
                .iter()
                .any(|r| (r.direction, r.number) == (rule.direction, rule.number))
            {
                return Err(ServiceError::Conflict(format!(
                    "ruleNumber: {} is used by another {} rule; each number once per direction",
                    rule.number,
                    rule.direction.as_str()
                )));
            }
            a.rules.push(rule);
            check_acl_numbers(&a.rules).map_err(|e| rule_error("", e))
        })
        .await
    }

    pub async fn remove_network_acl_rule(
        &self,
        caller: &Caller,
        id: &str,
        q: RemoveAclRuleQuery,
    ) -> Result<NetworkAcl> {
        caller.require_write()?;
        let id = parse_id(NetworkAclId::parse, "id", id)?;
        let direction =
            Direction::parse(&q.direction).map_err(|e| ServiceError::validation("direction", e))?;
        let number = q.rule_number;
        let mode = Change::from_query(q.dry_run);
        self.change_acl(caller, id, "ruleRemoved", mode, move |a| {
            let before = a.rules.len();
            a.rules
                .retain(|r| (r.direction, r.number) != (direction, number));
            if a.rules.len() == before {
                return Err(ServiceError::not_found(
                    "network ACL rule",
                    format!("{} {number}", direction.as_str()),
                ));
            }
            Ok(())
        })
        .await
    }

    async fn change_acl<F>(
        &self,
        caller: &Caller,
        id: NetworkAclId,
        action: &'static str,
        mode: Change,
        change: F,
    ) -> Result<NetworkAcl>
    where
        F: FnOnce(&mut NetworkAclRow) -> Result<()> + Send + 'static,
    {
        let caller = caller.clone();
        let now = self.now();
        let (a, dry_run) = self
            .filter_change(mode, move |db| {
                let mut a = own_acl(db, &caller, &id)?;
                change(&mut a)?;
                a.updated_at = now;
                db.update_network_acl_rules(&a.id, &a.rules, now)?;
                check_policies(db, [&a.attach_point])?;
                note_change(
                    db,
                    &a.account_id,
                    now,
                    a.id.as_str(),
                    action,
                    std::slice::from_ref(&a.attach_point),
                )?;
                let ap = a.attach_point;
                Ok((a, vec![ap]))
            })
            .await?;
        Ok(NetworkAcl {
            dry_run,
            ..acl_view(a)
        })
    }

    pub async fn create_prefix_list(
        &self,
        caller: &Caller,
        req: CreatePrefixListRequest,
    ) -> Result<PrefixList> {
        caller.require_write()?;
        let name = validate_name(&req.name)?;
        let prefixes = parse_prefixes(&req.prefixes)?;
        let caller = caller.clone();
        let now = self.now();
        let p = self
            .store
            .write(move |db| {
                if db.prefix_list_name_taken(&caller.account, &name)? {
                    return Err(ServiceError::Conflict(format!(
                        "a prefix list named {name:?} exists already"
                    )));
                }
                let p = PrefixListRow {
                    id: PrefixListId::from_random(rand::random()),
                    account_id: caller.account.clone(),
                    name,
                    prefixes,
                    created_at: now,
                    updated_at: now,
                };
                db.insert_prefix_list(&p)?;
                note_change(db, &p.account_id, now, p.id.as_str(), "created", &[])?;
                Ok::<_, ServiceError>(p)
            })
            .await?;
        Ok(list_view(p))
    }

    pub async fn list_prefix_lists(&self, caller: &Caller) -> Result<PrefixListCollection> {
        let account = caller.account.clone();
        let lists = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.prefix_lists_of_account(&account)?))
            .await?;
        Ok(PrefixListCollection {
            prefix_lists: lists.into_iter().map(list_view).collect(),
        })
    }

    pub async fn get_prefix_list(&self, caller: &Caller, id: &str) -> Result<PrefixList> {
        let id = parse_id(PrefixListId::parse, "id", id)?;
        let caller = caller.clone();
        self.store
            .read(move |db| {
                db.prefix_list(&id)?
                    .filter(|p| may_see(&caller, &p.account_id))
                    .map(list_view)
                    .ok_or_else(|| ServiceError::not_found("prefix list", id))
            })
            .await
    }

    /// Renames a list or replaces its prefixes: live on every attach point whose groups name it.
    pub async fn update_prefix_list(
        &self,
        caller: &Caller,
        id: &str,
        req: UpdatePrefixListRequest,
        mode: Change,
    ) -> Result<PrefixList> {
        caller.require_write()?;
        let id = parse_id(PrefixListId::parse, "id", id)?;
        let name = req.name.as_deref().map(validate_name).transpose()?;
        let prefixes = req.prefixes.as_deref().map(parse_prefixes).transpose()?;
        let caller = caller.clone();
        let now = self.now();
        let (p, dry_run) = self
            .filter_change(mode, move |db| {
                let mut p = own_list(db, &caller, &id)?;
                let before = (p.name.clone(), p.prefixes.clone());
                if let Some(n) = name {
                    if n != p.name && db.prefix_list_name_taken(&caller.account, &n)? {
                        return Err(ServiceError::Conflict(format!(
                            "a prefix list named {n:?} exists already"
                        )));
                    }
                    p.name = n;
                }
                if let Some(list) = prefixes {
                    p.prefixes = list;
                }
                if (&p.name, &p.prefixes) == (&before.0, &before.1) {
                    // Nothing changes: nothing is written, no event, no attach point reached.
                    return Ok((p, Vec::new()));
                }
                p.updated_at = now;
                db.update_prefix_list(&p)?;
                let users = attach_points_naming(db, &caller.account, &p.id)?;
                check_policies(db, &users)?;
                note_change(db, &p.account_id, now, p.id.as_str(), "updated", &users)?;
                Ok((p, users))
            })
            .await?;
        Ok(PrefixList {
            dry_run,
            ..list_view(p)
        })
    }

    /// Deletes a list that no rule names.
    pub async fn delete_prefix_list(&self, caller: &Caller, id: &str) -> Result<String> {
        caller.require_write()?;
        let id = parse_id(PrefixListId::parse, "id", id)?;
        let caller = caller.clone();
        let now = self.now();
        let id = self
            .store
            .write(move |db| {
                let p = own_list(db, &caller, &id)?;
                if let Some(g) = db
                    .security_groups_of_account(&caller.account)?
                    .into_iter()
                    .find(|g| names_list(g, &p.id))
                {
                    return Err(ServiceError::Conflict(format!(
                        "security group {} has rules naming {}: revoke them first",
                        g.id, p.id
                    )));
                }
                db.delete_prefix_list(&p.id)?;
                note_change(db, &p.account_id, now, p.id.as_str(), "deleted", &[])?;
                Ok::<_, ServiceError>(p.id)
            })
            .await?;
        Ok(id.to_string())
    }

    /// Would a packet pass? This side's policy, then the other side's for each connection of the
    /// attach point whose other side holds the packet's other address.
    pub async fn check_attach_point(
        &self,
        caller: &Caller,
        id: &str,
        req: CheckRequest,
    ) -> Result<CheckResult> {
        let id = parse_id(AttachPointId::parse, "id", id)?;
        let caller = caller.clone();
        self.store
            .read(move |db| {
                let ap = db
                    .get_attach_point(&id)?
                    .filter(|ap| may_see(&caller, &ap.account_id))
                    .ok_or_else(|| ServiceError::not_found("attach point", id))?;
                let packet = Packet::parse(&req)?;
                let inside =
                    |a: IpAddr, ap: &AttachPoint| ap.prefixes.iter().any(|p| p.net().contains(&a));
                let direction = match (inside(packet.from, &ap), inside(packet.to, &ap)) {
                    (true, false) => Direction::Outbound,
                    (false, true) => Direction::Inbound,
                    (true, true) => {
                        return Err(ServiceError::validation(
                            "to",
                            "both addresses are inside the attach point's prefixes: such a packet does not cross a connection",
                        ));
                    }
                    (false, false) => {
                        return Err(ServiceError::validation(
                            "from",
                            format!(
                                "neither {} nor {} is inside the attach point's prefixes",
                                packet.from, packet.to
                            ),
                        ));
                    }
                };
                let other_address = match direction {
                    Direction::Outbound => packet.to,
                    Direction::Inbound => packet.from,
                };
                let mut sides = vec![judge(db, &ap.id, None, direction, &packet)?];
                for c in db.connections_of_attach_point(&ap.id)? {
                    if !super::gateways::carries_links(c.state) {
                        continue;
                    }
                    let other = if c.owner_attach_point == ap.id {
                        c.remote_attach_point
                    } else {
                        Some(c.owner_attach_point)
                    };
                    let Some(other) = other.and_then(|o| db.get_attach_point(&o).ok().flatten())
                    else {
                        continue;
                    };
                    if inside(other_address, &other) {
                        sides.push(judge(
                            db,
                            &other.id,
                            Some(c.id.clone()),
                            direction.reverse(),
                            &packet,
                        )?);
                    }
                }
                Ok(CheckResult {
                    allowed: sides.iter().all(|s| s.allowed),
                    sides,
                })
            })
            .await
    }
}

fn check_count(rules: &[RuleSpec]) -> Result<()> {
    if rules.is_empty() || rules.len() > 100 {
        return Err(ServiceError::validation("rules", "give 1 to 100 rules"));
    }
    Ok(())
}

/// Each new rule checked, with a fresh id; two of them alike are refused.
fn parse_new_rules(specs: &[RuleSpec]) -> Result<Vec<SgRule>> {
    check_count(specs)?;
    let mut out: Vec<SgRule> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let r = SgRule::new(spec, SecurityGroupRuleId::from_random(rand::random()))
            .map_err(|e| rule_error(&format!("rules[{i}]."), e))?;
        // The same rule twice in one request is one rule.
        if !out.iter().any(|o| o.same_match(&r)) {
            out.push(r);
        }
    }
    Ok(out)
}

fn names_list(g: &SecurityGroupRow, list: &PrefixListId) -> bool {
    g.rules
        .iter()
        .any(|r| matches!(&r.peer, Peer::PrefixList(p) if p == list))
}

/// The attach points whose groups name `list`.
fn attach_points_naming(
    db: &Db<'_>,
    account: &AccountId,
    list: &PrefixListId,
) -> Result<Vec<AttachPointId>> {
    let mut aps = Vec::new();
    for g in db.security_groups_of_account(account)? {
        if names_list(&g, list) {
            for ap in g.attach_points {
                if !aps.contains(&ap) {
                    aps.push(ap);
                }
            }
        }
    }
    Ok(aps)
}

/// The packet asked about.
struct Packet {
    from: IpAddr,
    to: IpAddr,
    protocol: u8,
    detail: Detail,
}

impl Packet {
    fn parse(req: &CheckRequest) -> Result<Self> {
        let addr = |field: &str, s: &str| {
            s.trim()
                .parse::<IpAddr>()
                .map_err(|_| ServiceError::validation(field, format!("{s:?} is not an IP address")))
        };
        let (from, to) = (addr("from", &req.from)?, addr("to", &req.to)?);
        if from.is_ipv4() != to.is_ipv4() {
            return Err(ServiceError::validation(
                "to",
                "from and to are of different address families",
            ));
        }
        let protocol = IpProtocol::parse(&req.protocol)
            .map_err(|e| ServiceError::validation("protocol", e))?;
        let Some(number) = protocol.number() else {
            return Err(ServiceError::validation(
                "protocol",
                "a packet has one protocol: tcp, udp, icmp, icmpv6 or a number",
            ));
        };
        let detail = match protocol {
            IpProtocol::Tcp | IpProtocol::Udp => Detail::Port(req.port.ok_or_else(|| {
                ServiceError::validation("port", "a tcp or udp packet has a destination port")
            })?),
            IpProtocol::Icmp | IpProtocol::Icmpv6 => {
                if req.port.is_some() {
                    return Err(ServiceError::validation(
                        "port",
                        "icmp has no ports: give icmpType (and icmpCode)",
                    ));
                }
                // Echo request by default.
                let echo = if protocol == IpProtocol::Icmp { 8 } else { 128 };
                Detail::Icmp(req.icmp_type.unwrap_or(echo), req.icmp_code.unwrap_or(0))
            }
            _ => Detail::None,
        };
        Ok(Self {
            from,
            to,
            protocol: number,
            detail,
        })
    }
}

/// One side's answer for `packet` going `direction` at attach point `ap`.
fn judge(
    db: &Db<'_>,
    ap: &AttachPointId,
    connection_id: Option<xc_types::ConnectionId>,
    direction: Direction,
    packet: &Packet,
) -> Result<SideVerdict> {
    let compiled = match policy_of(db, ap)? {
        Some(p) => Compiled::new(&p).map_err(|e| rule_error("", e))?,
        None => Compiled::open(),
    };
    let peer = match direction {
        Direction::Inbound => packet.from,
        Direction::Outbound => packet.to,
    };
    let probe = Probe {
        peer,
        protocol: packet.protocol,
        detail: packet.detail,
    };
    let e = xc_filter::evaluate(&compiled, direction, &probe);
    let mut v = SideVerdict {
        attach_point_id: *ap,
        connection_id,
        direction: direction.as_str().to_owned(),
        allowed: e.allowed(),
        decided_by: DecidedBy::NoFilters,
        network_acl_id: compiled.acl_id().cloned(),
        rule_number: None,
        security_group_id: None,
        rule_id: None,
        explanation: String::new(),
    };
    let acl_rule = match e.acl {
        AclVerdict::Rule(i, _) => match compiled.rule(i) {
            Some(RuleRef::Acl { number, .. }) => Some(*number),
            _ => None,
        },
        _ => None,
    };
    v.rule_number = acl_rule;
    let acl_name = compiled.acl_id().map(|a| a.to_string()).unwrap_or_default();
    (v.decided_by, v.explanation) = match (e.acl, e.security_groups) {
        (AclVerdict::ImplicitDeny, _) => (
            DecidedBy::AclImplicitDeny,
            format!("denied: no rule of {acl_name} matches (the final implicit deny)"),
        ),
        (AclVerdict::Rule(_, xc_types::filter::RuleAction::Deny), _) => (
            DecidedBy::AclRule,
            format!(
                "denied: rule {} of {acl_name}",
                acl_rule.unwrap_or_default()
            ),
        ),
        (_, Some(SgVerdict::Allowed(i))) => {
            if let Some(RuleRef::Sg { group, rule }) = compiled.rule(i) {
                v.security_group_id = Some(group.clone());
                v.rule_id = Some(rule.clone());
                (
                    DecidedBy::SecurityGroupRule,
                    format!("allowed: rule {rule} of security group {group}"),
                )
            } else {
                (DecidedBy::SecurityGroupRule, "allowed".to_owned())
            }
        }
        (_, Some(SgVerdict::NoRule)) => (
            DecidedBy::NoSecurityGroupRule,
            "denied: no rule of the attached security groups allows it".to_owned(),
        ),
        (AclVerdict::Rule(..), _) => (
            DecidedBy::AclRule,
            format!(
                "allowed: rule {} of {acl_name} (no security group is attached)",
                acl_rule.unwrap_or_default()
            ),
        ),
        _ => (
            DecidedBy::NoFilters,
            "allowed: this side filters nothing (no security group, no network ACL)".to_owned(),
        ),
    };
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_group_allows_all_outbound_of_both_families() {
        let rules = default_outbound();
        assert_eq!(rules.len(), 2);
        assert!(rules.iter().all(|r| r.direction == Direction::Outbound
            && r.protocol == IpProtocol::All
            && r.ports == PortMatch::Any));
        let policy = FilterPolicy {
            security_groups: vec![GroupRules {
                group_id: SecurityGroupId::from_random([1; 8]),
                rules,
            }],
            ..FilterPolicy::default()
        };
        let c = Compiled::new(&policy).expect("compiles");
        for peer in ["192.0.2.1", "2001:db8::1"] {
            let probe = Probe {
                peer: peer.parse().expect("addr"),
                protocol: 6,
                detail: Detail::Port(443),
            };
            assert!(xc_filter::evaluate(&c, Direction::Outbound, &probe).allowed());
            assert!(!xc_filter::evaluate(&c, Direction::Inbound, &probe).allowed());
        }
    }

    #[test]
    fn a_check_names_protocol_port_and_family_mistakes() {
        let req = |from: &str, to: &str, protocol: &str, port: Option<u16>| CheckRequest {
            from: from.into(),
            to: to.into(),
            protocol: protocol.into(),
            port,
            icmp_type: None,
            icmp_code: None,
        };
        let field = |r: CheckRequest| match Packet::parse(&r) {
            Err(ServiceError::Validation { field, .. }) => field,
            other => panic!("expected a refusal, got {:?}", other.map(|p| p.protocol)),
        };
        assert_eq!(field(req("10.0.0.1", "2001:db8::1", "tcp", Some(1))), "to");
        assert_eq!(field(req("10.0.0.1", "10.0.0.2", "tcp", None)), "port");
        assert_eq!(field(req("10.0.0.1", "10.0.0.2", "icmp", Some(1))), "port");
        assert_eq!(field(req("10.0.0.1", "10.0.0.2", "all", None)), "protocol");
        assert_eq!(field(req("nowhere", "10.0.0.2", "udp", Some(53))), "from");
        let p = Packet::parse(&req("10.0.0.1", "10.0.0.2", "icmp", None)).expect("icmp");
        assert_eq!((p.protocol, p.detail), (1, Detail::Icmp(8, 0)));
    }
}

/// The filters through the service, as the API and the CLI use it, against a fixture with two
/// tenants, a gateway each and an accepted connection.
#[cfg(test)]
mod service_tests {
    use super::*;
    use crate::test_fixture::fixture;

    fn spec(json: serde_json::Value) -> RuleSpec {
        serde_json::from_value(json).expect("a rule spec")
    }

    fn field_of(e: ServiceError) -> String {
        match e {
            ServiceError::Validation { field, .. } => field,
            other => panic!("expected a refusal naming a field, got {other:?}"),
        }
    }

    fn check(from: &str, to: &str, protocol: &str, port: Option<u16>) -> CheckRequest {
        CheckRequest {
            from: from.into(),
            to: to.into(),
            protocol: protocol.into(),
            port,
            icmp_type: None,
            icmp_code: None,
        }
    }

    #[tokio::test]
    async fn filters_reach_their_attach_points_gateways_and_only_their_owner_changes_them() {
        let f = fixture().await;
        let s = &f.service;
        let (aps, _) = s
            .list_own_attach_points(&f.owner, None, None, "")
            .await
            .expect("list");
        let ap = aps[0].id.to_string();
        let (gw_a, gw_b) = &f.gateways;
        let config = |gw: String| {
            let s = s.clone();
            async move { s.gateway_config(&gw).await.expect("config") }
        };
        let (index_before, doc) = config(gw_a.clone()).await;
        assert_eq!(doc.filters, None, "no filters until some are made");

        // A group: attached at once, with AWS's default outbound rules, on the owner's gateway
        // only. The other tenant can neither make one on this attach point nor see it.
        let create = |name: &str| CreateSecurityGroupRequest {
            name: name.into(),
            attach_point_id: ap.clone(),
            description: None,
        };
        let refused = s
            .create_security_group(&f.remote, create("theirs"), Change::Apply)
            .await
            .expect_err("not their attach point");
        assert!(
            matches!(refused, ServiceError::NotFound { .. }),
            "{refused:?}"
        );
        let g = s
            .create_security_group(&f.owner, create("web"), Change::Apply)
            .await
            .expect("group");
        assert_eq!(g.rules.len(), 2);
        let gid = g.security_group_id.to_string();
        assert!(matches!(
            s.get_security_group(&f.remote, &gid).await,
            Err(ServiceError::NotFound { .. })
        ));
        let (index_after, doc) = config(gw_a.clone()).await;
        assert_ne!(index_before, index_after);
        let policy = doc.filters.expect("filters for gw-a");
        assert_eq!(policy.security_groups.len(), 1);
        assert_eq!(policy.security_groups[0].rules, g.rules);
        assert_eq!(config(gw_b.clone()).await.1.filters, None);

        // Bad rules are refused naming their field; nothing of the request is kept.
        for (rule, field) in [
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "icmp", "fromPort": 1, "cidrIp": "10.1.0.0/16"}),
                "rules[1].fromPort",
            ),
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "tcp", "fromPort": 22, "cidrIp": "10.1.0.1/16"}),
                "rules[1].cidrIp",
            ),
            (
                serde_json::json!({"direction": "sideways", "ipProtocol": "tcp", "cidrIp": "10.1.0.0/16"}),
                "rules[1].direction",
            ),
            (
                serde_json::json!({"direction": "inbound", "ipProtocol": "TCP", "fromPort": 22, "cidrIp": "10.1.0.0/16"}),
                "rules[1].ipProtocol",
            ),
        ] {
            let req = SecurityGroupRulesRequest {
                rules: vec![
                    spec(
                        serde_json::json!({"direction": "inbound", "ipProtocol": "tcp", "fromPort": 22, "cidrIp": "10.1.0.0/16"}),
                    ),
                    spec(rule),
                ],
            };
            let e = s
                .authorize_security_group(&f.owner, &gid, req, Change::Apply)
                .await
                .expect_err("a bad rule");
            assert_eq!(field_of(e), field);
        }
        assert_eq!(
            s.get_security_group(&f.owner, &gid)
                .await
                .expect("get")
                .rules
                .len(),
            2
        );

        // ssh from the other side in.
        let ssh = s
            .authorize_security_group(
                &f.owner,
                &gid,
                SecurityGroupRulesRequest {
                    rules: vec![spec(serde_json::json!({
                        "direction": "inbound", "ipProtocol": "tcp", "fromPort": 22,
                        "cidrIp": "10.1.0.0/16", "description": "ssh from b"
                    }))],
                },
                Change::Apply,
            )
            .await
            .expect("authorize");
        let ssh_rule = ssh.rules[2].id.clone();
        // The same rule again: refused as a conflict with the group's state, naming it.
        let again = s
            .authorize_security_group(
                &f.owner,
                &gid,
                SecurityGroupRulesRequest {
                    rules: vec![spec(serde_json::json!({
                        "direction": "inbound", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                        "cidrIp": "10.1.0.0/16"
                    }))],
                },
                Change::Apply,
            )
            .await
            .expect_err("a duplicate");
        assert!(
            matches!(&again, ServiceError::Conflict(m) if m.contains(ssh_rule.as_str())),
            "{again:?}"
        );
        let v = s
            .check_attach_point(
                &f.owner,
                &ap,
                check("10.1.2.3", "10.0.0.5", "tcp", Some(22)),
            )
            .await
            .expect("check");
        assert!(v.allowed, "{v:?}");
        assert_eq!(v.sides.len(), 2, "both sides of the connection: {v:?}");
        assert_eq!(v.sides[0].decided_by, DecidedBy::SecurityGroupRule);
        assert_eq!(v.sides[0].rule_id.as_ref(), Some(&ssh_rule));
        assert_eq!(v.sides[0].direction, "inbound");
        assert_eq!(
            (v.sides[1].direction.as_str(), v.sides[1].decided_by),
            ("outbound", DecidedBy::NoFilters)
        );
        let v = s
            .check_attach_point(
                &f.owner,
                &ap,
                check("10.1.2.3", "10.0.0.5", "tcp", Some(23)),
            )
            .await
            .expect("check");
        assert!(!v.allowed);
        assert_eq!(v.sides[0].decided_by, DecidedBy::NoSecurityGroupRule);

        // A network ACL: a deny with a lower number beats an allow with a higher one; a number
        // is used once per direction.
        let acl = s
            .create_network_acl(
                &f.owner,
                CreateNetworkAclRequest {
                    name: "edge".into(),
                    attach_point_id: ap.clone(),
                },
                Change::Apply,
            )
            .await
            .expect("acl");
        let aid = acl.network_acl_id.to_string();
        for (n, action, proto, port) in
            [(200, "allow", "all", None), (100, "deny", "tcp", Some(22))]
        {
            let mut r = serde_json::json!({
                "ruleNumber": n, "ruleAction": action, "direction": "inbound",
                "ipProtocol": proto, "cidrIp": "10.1.0.0/16"
            });
            if let Some(p) = port {
                r["fromPort"] = p.into();
            }
            s.add_network_acl_rule(&f.owner, &aid, spec(r), Change::Apply)
                .await
                .expect("acl rule");
        }
        let e = s
            .add_network_acl_rule(
                &f.owner,
                &aid,
                spec(serde_json::json!({"ruleNumber": 100, "ruleAction": "allow", "direction": "inbound", "ipProtocol": "udp", "cidrIp": "10.1.0.0/16"})), Change::Apply,
            )
            .await
            .expect_err("number reused");
        assert!(
            matches!(&e, ServiceError::Conflict(m) if m.starts_with("ruleNumber:")),
            "{e:?}"
        );
        let v = s
            .check_attach_point(
                &f.owner,
                &ap,
                check("10.1.2.3", "10.0.0.5", "tcp", Some(22)),
            )
            .await
            .expect("check");
        assert!(!v.allowed);
        assert_eq!(
            (v.sides[0].decided_by, v.sides[0].rule_number),
            (DecidedBy::AclRule, Some(100))
        );
        s.remove_network_acl_rule(
            &f.owner,
            &aid,
            RemoveAclRuleQuery {
                direction: "inbound".into(),
                rule_number: 100,
                dry_run: None,
            },
        )
        .await
        .expect("remove");
        let v = s
            .check_attach_point(
                &f.owner,
                &ap,
                check("10.1.2.3", "10.0.0.5", "tcp", Some(22)),
            )
            .await
            .expect("check");
        assert!(v.allowed, "{v:?}");
        // Outbound: the ACL has no outbound rule, so the implicit deny.
        let v = s
            .check_attach_point(
                &f.owner,
                &ap,
                check("10.0.0.5", "10.1.2.3", "udp", Some(53)),
            )
            .await
            .expect("check");
        assert_eq!(v.sides[0].decided_by, DecidedBy::AclImplicitDeny);

        // A prefix list named by a rule: in the gateway's policy, updated in place, and not
        // deletable while named.
        let pl = s
            .create_prefix_list(
                &f.owner,
                CreatePrefixListRequest {
                    name: "b-nets".into(),
                    prefixes: vec!["10.1.0.0/24".into()],
                },
            )
            .await
            .expect("list");
        let plid = pl.prefix_list_id.to_string();
        s.authorize_security_group(
            &f.owner,
            &gid,
            SecurityGroupRulesRequest {
                rules: vec![spec(serde_json::json!({
                    "direction": "inbound", "ipProtocol": "udp", "fromPort": 53, "prefixListId": plid
                }))],
            }, Change::Apply,
        )
        .await
        .expect("authorize with a list");
        s.update_prefix_list(
            &f.owner,
            &plid,
            UpdatePrefixListRequest {
                name: None,
                prefixes: Some(vec!["10.1.9.0/24".into()]),
            },
            Change::Apply,
        )
        .await
        .expect("update");
        let policy = config(gw_a.clone()).await.1.filters.expect("filters");
        assert_eq!(policy.prefix_lists.len(), 1);
        assert_eq!(
            policy.prefix_lists[0].prefixes[0].to_string(),
            "10.1.9.0/24"
        );
        assert!(policy.network_acl.is_some());
        assert!(matches!(
            s.delete_prefix_list(&f.owner, &plid).await,
            Err(ServiceError::Conflict(_))
        ));

        // Revoked by what it matches; the group deleted: only the ACL is left on the gateway.
        s.revoke_security_group(
            &f.owner,
            &gid,
            SecurityGroupRulesRequest {
                rules: vec![spec(serde_json::json!({
                    "direction": "inbound", "ipProtocol": "udp", "fromPort": 53, "prefixListId": plid
                }))],
            }, Change::Apply,
        )
        .await
        .expect("revoke");
        s.delete_prefix_list(&f.owner, &plid)
            .await
            .expect("delete list");
        s.delete_security_group(&f.owner, &gid, Change::Apply)
            .await
            .expect("delete group");
        let policy = config(gw_a.clone()).await.1.filters.expect("filters");
        assert!(policy.security_groups.is_empty() && policy.network_acl.is_some());

        // Each change is an event of the owner's.
        let events = s
            .list_events(&f.owner, xc_types::api::events::EventsQuery::default())
            .await
            .expect("events");
        let changes = events
            .events
            .iter()
            .filter(|e| e.kind == EventType::FilterChange)
            .count();
        assert!(changes >= 10, "{changes} filter changes recorded");
    }
}
