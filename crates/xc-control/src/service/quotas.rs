//! Quotas: each account's values (the operator's, over the defaults of
//! `xc_types::api::quotas`), their use, and the check a create makes in its own transaction, so
//! that two creates at once cannot both pass a quota with one place left.

use super::{Caller, Service};
use crate::{Result, ServiceError};
use xc_store::{Counted, Db};
use xc_types::AccountId;
use xc_types::api::quotas::{MAX_QUOTA, QuotaList, QuotaName, QuotaView, SetQuotaRequest};

/// An account's value of a quota.
fn value_of(db: &Db<'_>, account: &AccountId, quota: QuotaName) -> Result<u64> {
    Ok(db
        .quota_values(account)?
        .get(&quota)
        .copied()
        .unwrap_or_else(|| quota.default_value()))
}

/// What `quota` counts for `account` now (`connections-per-environment`: in `environment`).
fn used(db: &Db<'_>, account: &AccountId, quota: QuotaName, environment: &str) -> Result<u64> {
    Ok(match quota {
        QuotaName::ConnectionsPerEnvironment => db
            .connections_by_environment(account)?
            .get(environment)
            .copied()
            .unwrap_or(0),
        QuotaName::BandwidthMbps => db.bandwidth_used_mbps(account)?,
        QuotaName::AttachPoints => db.count_of_account(Counted::AttachPoints, account)?,
        QuotaName::AccessKeys => db.count_of_account(Counted::AccessKeys, account)?,
        QuotaName::Alarms => db.count_of_account(Counted::Alarms, account)?,
        QuotaName::Webhooks => db.count_of_account(Counted::Webhooks, account)?,
    })
}

/// Fails with `ServiceQuotaExceededException` if adding `adding` to what `account` uses of
/// `quota` (in `environment`, for the per-environment one) would pass its value. Call it in the
/// transaction that makes the change.
pub(crate) fn check_quota(
    db: &Db<'_>,
    account: &AccountId,
    quota: QuotaName,
    adding: u64,
    environment: &str,
) -> Result<()> {
    let value = value_of(db, account, quota)?;
    let now = used(db, account, quota, environment)?;
    if now.saturating_add(adding) <= value {
        return Ok(());
    }
    let scope = if quota == QuotaName::ConnectionsPerEnvironment {
        format!(" in {environment}")
    } else {
        String::new()
    };
    Err(ServiceError::QuotaExceeded(format!(
        "quota {quota} is {value} for account {account} and {now} is in use{scope}, so {adding} more would pass it: free some, or ask the operator to raise it (xconnect quota set)"
    )))
}

impl Service {
    /// An account's quotas with their use: the caller's own, or for the operator any account's.
    pub async fn list_quotas(&self, caller: &Caller, account: Option<&str>) -> Result<QuotaList> {
        let account = self.key_owner(caller, account)?;
        self.store.read(move |db| quota_list(db, &account)).await
    }

    /// Sets an account's quota, or puts it back to its default (operator only).
    pub async fn set_quota(&self, caller: &Caller, req: SetQuotaRequest) -> Result<QuotaList> {
        caller.require_write()?;
        if !caller.is_operator() {
            return Err(ServiceError::AccessDenied(
                "only the operator sets quotas".into(),
            ));
        }
        let account = AccountId::parse(&req.account_id)
            .map_err(|e| ServiceError::validation("accountId", e))?;
        if req.value.is_some_and(|v| v > MAX_QUOTA) {
            return Err(ServiceError::validation(
                "value",
                format!("is 0 to {MAX_QUOTA}, or null for the default"),
            ));
        }
        let (quota, value) = (req.quota, req.value);
        let list = self
            .store
            .write(move |db| {
                if db.get_account(&account)?.is_none() {
                    return Err(ServiceError::not_found("account", &account));
                }
                db.set_quota_value(&account, quota, value)?;
                quota_list(db, &account)
            })
            .await?;
        tracing::info!(account = %list.account_id, quota = %quota, value = ?value, by = %caller.key, "quota set");
        Ok(list)
    }
}

fn quota_list(db: &Db<'_>, account: &AccountId) -> Result<QuotaList> {
    let values = db.quota_values(account)?;
    let by_environment = db.connections_by_environment(account)?;
    let quotas = QuotaName::ALL
        .iter()
        .map(|&q| {
            let (used, used_by_environment) = match q {
                QuotaName::ConnectionsPerEnvironment => (
                    by_environment.values().copied().max().unwrap_or(0),
                    by_environment.clone(),
                ),
                _ => (used(db, account, q, "")?, Default::default()),
            };
            Ok(QuotaView {
                name: q,
                value: values.get(&q).copied().unwrap_or_else(|| q.default_value()),
                default_value: q.default_value(),
                used,
                used_by_environment,
                description: q.describe().to_owned(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(QuotaList {
        account_id: account.to_string(),
        quotas,
    })
}
