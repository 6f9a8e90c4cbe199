//! Attach points: a tenant's network edge and the prefixes it announces.

use super::wakes::Scope;
use super::{Caller, Service, page_limit};
use crate::{Result, ServiceError};
use xc_types::api::{CreateAttachPointRequest, UpdateAttachPointRequest};
use xc_types::*;

pub(crate) fn parse_prefixes(field: &str, list: &[String]) -> Result<Vec<Prefix>> {
    let prefixes = list
        .iter()
        .map(|s| Prefix::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServiceError::validation(field, e))?;
    validate_prefix_list(&prefixes).map_err(|e| ServiceError::validation(field, e))?;
    Ok(prefixes)
}

fn validate_name(name: &str) -> Result<String> {
    if !xc_types::api::schema::is_name(name, 100) {
        return Err(ServiceError::validation(
            "name",
            "a name is 1 to 100 printable characters, without spaces first or last",
        ));
    }
    Ok(name.to_owned())
}

pub(crate) fn parse_attach_point_id(field: &str, s: &str) -> Result<AttachPointId> {
    AttachPointId::parse(s).map_err(|e| ServiceError::validation(field, e))
}

impl Service {
    pub async fn create_attach_point(
        &self,
        caller: &Caller,
        req: CreateAttachPointRequest,
    ) -> Result<AttachPoint> {
        caller.require_write()?;
        let name = validate_name(&req.name)?;
        let prefixes = parse_prefixes("prefixes", &req.prefixes)?;
        let asn = req
            .asn
            .map(|n| Asn::new(n).map_err(|e| ServiceError::validation("asn", e)))
            .transpose()?;
        let now = self.now();
        let (id, account_id) = (
            AttachPointId::from_bytes(rand::random()),
            caller.account.clone(),
        );
        let ap = self
            .store
            .write(move |db| {
                super::quotas::check_quota(
                    db,
                    &account_id,
                    xc_types::api::quotas::QuotaName::AttachPoints,
                    1,
                    "",
                )?;
                let asn = match asn {
                    Some(asn) => asn,
                    // Its own ASN from the 4-byte private range, one per attach point.
                    None => db
                        .free_asn(Asn::PRIVATE_4BYTE)?
                        .and_then(|n| Asn::new(u64::from(n)).ok())
                        .ok_or_else(|| {
                            ServiceError::validation(
                                "asn",
                                "every private 4-byte ASN is taken: give one",
                            )
                        })?,
                };
                let ap = AttachPoint {
                    id,
                    account_id,
                    name,
                    asn,
                    prefixes,
                    created_at: now,
                    updated_at: now,
                };
                db.insert_attach_point(&ap)?;
                Ok::<_, ServiceError>(ap)
            })
            .await?;
        tracing::info!(attach_point = %ap.id, account = %ap.account_id, "attach point created");
        Ok(ap)
    }

    /// An attach point the caller owns (or any, for the operator).
    pub async fn get_attach_point(&self, caller: &Caller, id: &str) -> Result<AttachPoint> {
        let id = parse_attach_point_id("id", id)?;
        let caller = caller.clone();
        self.store
            .read(move |db| {
                db.get_attach_point(&id)?
                    .filter(|ap| ap.account_id == caller.account || caller.is_operator())
                    .ok_or_else(|| ServiceError::not_found("attach point", id))
            })
            .await
    }

    pub async fn list_own_attach_points(
        &self,
        caller: &Caller,
        max_results: Option<usize>,
        next_token: Option<&str>,
        scope_extra: &str,
    ) -> Result<(Vec<AttachPoint>, Option<String>)> {
        let scope = [caller.account.as_str(), "ListAttachPoints", scope_extra];
        let limit = page_limit(max_results)?;
        let after = self.page_start(next_token, &scope)?;
        let account = caller.account.clone();
        let page = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.list_attach_points(&account, after, limit)?))
            .await?;
        let next = page.more_after.map(|s| self.page_token(s, &scope));
        Ok((page.items, next))
    }

    /// Renames an attach point or replaces its prefixes. New prefixes must not overlap the
    /// prefixes of the other side of any live connection that uses this attach point.
    pub async fn update_attach_point(
        &self,
        caller: &Caller,
        id: &str,
        req: UpdateAttachPointRequest,
    ) -> Result<AttachPoint> {
        caller.require_write()?;
        let id = parse_attach_point_id("id", id)?;
        let name = req.name.as_deref().map(validate_name).transpose()?;
        let prefixes = req
            .prefixes
            .as_deref()
            .map(|p| parse_prefixes("prefixes", p))
            .transpose()?;
        let now = self.now();
        let caller = caller.clone();
        let ap = self
            .store
            .write(move |db| {
                let mut ap = db
                    .get_attach_point(&id)?
                    .filter(|ap| ap.account_id == caller.account)
                    .ok_or_else(|| ServiceError::not_found("attach point", id))?;
                if let Some(n) = name {
                    ap.name = n;
                }
                if let Some(p) = prefixes {
                    for c in db.connections_of_attach_point(&id)? {
                        let other = if c.owner_attach_point == id {
                            c.remote_attach_point
                        } else {
                            Some(c.owner_attach_point)
                        };
                        let Some(other) =
                            other.and_then(|o| db.get_attach_point(&o).ok().flatten())
                        else {
                            continue;
                        };
                        if let Some((a, b)) = first_overlap(&p, &other.prefixes) {
                            return Err(ServiceError::Refused {
                                code: StateReasonCode::PrefixOverlap,
                                field: Some("prefixes".to_owned()),
                                message: format!(
                                    "{a} overlaps {b} of the other side of connection {}",
                                    c.id
                                ),
                            });
                        }
                    }
                    ap.prefixes = p;
                }
                ap.updated_at = now;
                db.update_attach_point(&ap)?;
                // Its gateways announce, and its peers accept, the new prefixes: the gateways
                // at either end of its connections' links, and its own.
                let mut concerned: Vec<String> = db
                    .gateways_of_attach_point(&id)?
                    .into_iter()
                    .map(|g| g.id)
                    .collect();
                for c in db.connections_of_attach_point(&id)? {
                    for l in db.links_of_connection(&c.id)? {
                        concerned.extend([l.gateway_a, l.gateway_b]);
                    }
                }
                Ok((ap, concerned))
            })
            .await?;
        let (ap, concerned) = ap;
        self.config_changed_for(Scope::gateways(concerned));
        Ok(ap)
    }

    pub async fn delete_attach_point(&self, caller: &Caller, id: &str) -> Result<()> {
        caller.require_write()?;
        let id = parse_attach_point_id("id", id)?;
        let caller = caller.clone();
        self.store
            .write(move |db| {
                db.get_attach_point(&id)?
                    .filter(|ap| ap.account_id == caller.account)
                    .ok_or_else(|| ServiceError::not_found("attach point", id))?;
                if let Some(c) = db.attach_point_in_use(&id)? {
                    return Err(ServiceError::Conflict(format!(
                        "attach point {id} is used by {c}; delete that first"
                    )));
                }
                db.delete_attach_point(&id)?;
                Ok(())
            })
            .await
    }
}
