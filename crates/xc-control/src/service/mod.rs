//! [`Service`]: construction, callers and authentication, accounts and keys, the catalog.

pub(crate) mod alarms;
mod attach_points;
mod audit;
pub mod cluster;
mod connections;
mod console;
pub(crate) mod dryrun;
pub(crate) mod events;
pub(crate) mod filters;
pub(crate) mod flowlogs;
pub(crate) mod gateways;
pub(crate) mod last_mile;
mod maintenance;
pub(crate) mod metrics;
mod proposals;
pub(crate) mod quotas;
mod usage;
mod views;
pub mod wakes;

#[cfg(test)]
mod tests;

pub use alarms::{Answer, EVALUATION_DELAY_SECS, Outgoing};
pub use audit::{AuditEntry, DEFAULT_AUDIT_RETENTION_SECS};
pub use connections::AbsentKeys;
pub use connections::ConnectionDetail;
pub use connections::ListConnectionsInput;
pub use connections::fmt_time;
pub(crate) use connections::provisioning_reason;
pub use console::{ConsoleSession, SESSION_SECS};
pub use dryrun::Change;
pub use gateways::Registered;
pub use metrics::{LATEST_WITHIN_SECS, LatestValue, Telemetry};
pub use proposals::ProposalSummary;
pub use usage::METER_DELAY_SECS;

use crate::tokens::{self, PagePayload};
use crate::{Catalog, Clock, Result, Secrets, ServiceError};
use std::sync::Arc;
use xc_store::Store;
use xc_types::api::{AccessKeyList, Credentials};
use xc_types::*;
use zeroize::Zeroizing;

/// How long an activation key stays valid, by default: 7 days.
pub const DEFAULT_KEY_LIFETIME_SECS: i64 = 7 * 24 * 3600;
/// How long a deleted connection stays listed.
pub const DELETED_VISIBLE_SECS: i64 = 24 * 3600;
/// How long a clientToken is remembered.
pub const IDEMPOTENCY_SECS: i64 = 24 * 3600;
/// The default and largest page.
pub const MAX_RESULTS: usize = 100;

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub region: String,
    /// The URL this server is reached at, written into activation keys.
    pub endpoint: String,
    pub key_lifetime_secs: i64,
    /// Networks webhooks may go to although they are not public (see [`crate::destinations`]).
    pub webhook_allow: Vec<ipnet::IpNet>,
    /// Request rates per access key (see [`crate::rate`]); none set: not throttled.
    pub rate_limits: crate::rate::RateLimits,
    /// How long audit records are kept ([`DEFAULT_AUDIT_RETENTION_SECS`] by default).
    pub audit_retention_secs: i64,
}

/// The authenticated principal of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: AccountId,
    pub account_name: String,
    pub key: AccessKeyId,
    pub role: KeyRole,
}

impl Caller {
    pub fn is_operator(&self) -> bool {
        self.account.is_operator()
    }
    pub(crate) fn require_write(&self) -> Result<()> {
        match self.role {
            KeyRole::Admin => Ok(()),
            KeyRole::ReadOnly => Err(ServiceError::AccessDenied(
                "this access key is read-only".to_owned(),
            )),
        }
    }
    pub(crate) fn require_operator(&self) -> Result<()> {
        if self.is_operator() {
            self.require_write()
        } else {
            Err(ServiceError::AccessDenied(
                "only the operator account may do this".to_owned(),
            ))
        }
    }
}

#[derive(Debug)]
pub struct Service {
    pub(crate) store: Arc<Store>,
    pub(crate) catalog: Catalog,
    pub(crate) secrets: Arc<Secrets>,
    pub(crate) config: ServiceConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) server_id: String,
    /// Whether this replica runs the leader's work ([`cluster`]).
    pub(crate) leadership: cluster::Leadership,
    /// Wakes the lifecycle driver when a write leaves it work.
    pub(crate) work: tokio::sync::Notify,
    /// Changes to gateways' configurations: wakes the blocking queries they concern.
    pub(crate) config_wakes: wakes::ConfigWakes,
    /// Gateways heard from since the last write of their last contact, and when
    /// ([`Service::touch_gateway`]); at most one entry per registered gateway.
    pub(crate) touches: Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>,
    /// Bumped when another replica says a gateway answered a request (a test, a dry run) that
    /// this one may be waiting for.
    pub(crate) answered: tokio::sync::watch::Sender<u64>,
    /// Connectivity tests waiting for their gateway, and the callers waiting for results.
    pub(crate) tests: std::sync::Mutex<gateways::PendingTests>,
    /// Each access key's request buckets.
    rates: std::sync::Mutex<crate::rate::Buckets>,
    /// What the buckets' clock counts from.
    started: std::time::Instant,
    /// Failed console sign-ins, by key and by address.
    pub(crate) sign_ins: std::sync::Mutex<crate::throttle::SignInThrottle>,
    /// How long things took: requests, reconciler passes (the server's `/metrics`).
    pub telemetry: metrics::Telemetry,
    /// Room for the audit records being appended behind their requests
    /// ([`Service::record_soon`]).
    pub(crate) audit_in_flight: Arc<tokio::sync::Semaphore>,
    /// Access keys used lately ([`Service::credentials_for`]): a signed request's key is looked
    /// up without a read of the store for [`KEY_CACHE_SECS`].
    key_cache: std::sync::Mutex<KeyCache>,
    /// The audit appender's queue, started with the first record.
    pub(crate) audit_queue: std::sync::OnceLock<tokio::sync::mpsc::Sender<audit::QueuedAudit>>,
}

/// How long a looked-up access key is used without reading the store again. A key disabled or
/// deleted through this server is forgotten at once; through another replica sharing the
/// database, within this time.
pub const KEY_CACHE_SECS: u64 = 5;
/// Most keys remembered; past it the cache starts over.
const KEY_CACHE_MAX: usize = 10_000;

/// The keys looked up lately, and how many key changes this server has made (a lookup that read
/// the store before a change does not keep what it read).
#[derive(Default)]
struct KeyCache {
    keys: std::collections::HashMap<String, CachedKey>,
    changes: u64,
}

impl std::fmt::Debug for KeyCache {
    /// How many, not which: the entries hold (sealed) secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("keys", &self.keys.len())
            .field("changes", &self.changes)
            .finish()
    }
}

/// An active access key as the store had it: who signs with it, and its sealed secret.
struct CachedKey {
    at: std::time::Instant,
    caller: Caller,
    sealed: Vec<u8>,
}

/// A fresh access key: its id, its secret (shown once) and the secret sealed for storage.
struct NewKey {
    id: AccessKeyId,
    secret: String,
    sealed: Vec<u8>,
}

impl NewKey {
    fn generate(secrets: &Secrets) -> Self {
        use base64::Engine as _;
        let bytes: [u8; 30] = rand::random();
        let secret = base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .replace(['+', '/'], "x");
        Self {
            id: AccessKeyId::from_random(rand::random()),
            sealed: secrets.seal(secret.as_bytes()),
            secret,
        }
    }

    /// Stores the key for `account`.
    fn insert(
        &self,
        db: &xc_store::Db<'_>,
        account: &AccountId,
        role: KeyRole,
        now: i64,
    ) -> Result<()> {
        let record = AccessKey {
            access_key_id: self.id.clone(),
            account_id: account.clone(),
            role,
            status: KeyStatus::Active,
            created_at: now,
        };
        Ok(db.insert_access_key(&record, &self.sealed)?)
    }

    fn credentials(self, account_id: AccountId) -> Credentials {
        Credentials {
            account_id,
            access_key_id: self.id,
            secret_access_key: self.secret,
        }
    }
}

impl Service {
    /// Builds the service over an open store. Creates the server id on first use.
    pub async fn new(
        store: Arc<Store>,
        catalog: Catalog,
        secrets: Secrets,
        config: ServiceConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>> {
        let server_id = store
            .write(|db| {
                if let Some(v) = db.meta_get("server_id")? {
                    return Ok(String::from_utf8_lossy(&v).into_owned());
                }
                let id = uuid::Uuid::new_v4().to_string();
                db.meta_put("server_id", id.as_bytes())?;
                Ok::<_, ServiceError>(id)
            })
            .await?;
        let config_rates = config.rate_limits;
        Ok(Arc::new(Self {
            store,
            catalog,
            secrets: Arc::new(secrets),
            config,
            clock,
            server_id,
            leadership: cluster::Leadership::sole(),
            work: tokio::sync::Notify::new(),
            config_wakes: wakes::ConfigWakes::default(),
            touches: Arc::default(),
            answered: tokio::sync::watch::Sender::new(0),
            tests: std::sync::Mutex::default(),
            rates: std::sync::Mutex::new(crate::rate::Buckets::new(config_rates)),
            started: std::time::Instant::now(),
            sign_ins: std::sync::Mutex::default(),
            telemetry: metrics::Telemetry::default(),
            audit_in_flight: Arc::new(tokio::sync::Semaphore::new(
                audit::MAX_AUDIT_IN_FLIGHT as usize,
            )),
            audit_queue: std::sync::OnceLock::new(),
            key_cache: std::sync::Mutex::default(),
        }))
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Lets a request of `kind` through for the caller's access key, or says when to come back
    /// (`Throttled`, which the APIs answer as `ThrottlingException` with `Retry-After`).
    pub fn admit(&self, caller: &Caller, kind: crate::rate::Kind) -> Result<()> {
        let now = self.started.elapsed().as_secs_f64();
        let Ok(mut rates) = self.rates.lock() else {
            return Ok(());
        };
        rates.take(caller.key.as_str(), kind, now).map_err(|wait| {
            tracing::debug!(key = %caller.key, ?kind, wait, "throttled");
            ServiceError::RateExceeded {
                retry_after_secs: wait.ceil().clamp(1.0, 3600.0) as i64,
            }
        })
    }

    pub fn region(&self) -> &str {
        &self.config.region
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Creates the operator account and its first key if they do not exist yet. Returns the new
    /// credentials (to be written to `operator-credentials.json`) only when it created them.
    pub async fn ensure_operator(&self) -> Result<Option<Credentials>> {
        let now = self.now();
        let key = Arc::new(NewKey::generate(&self.secrets));
        let k = key.clone();
        let created = self
            .store
            .write(move |db| {
                let operator = AccountId::operator();
                if db.get_account(&operator)?.is_some() {
                    return Ok::<_, ServiceError>(false);
                }
                let account = Account {
                    account_id: operator.clone(),
                    name: "operator".to_owned(),
                    kind: AccountKind::Operator,
                    created_at: now,
                };
                db.insert_account(&account)?;
                k.insert(db, &operator, KeyRole::Admin, now)?;
                Ok(true)
            })
            .await?;
        let key = Arc::into_inner(key)
            .ok_or_else(|| ServiceError::Internal("key still shared".into()))?;
        Ok(created.then(|| key.credentials(AccountId::operator())))
    }

    /// Looks up an access key for signature verification: the caller it stands for and its
    /// secret. `None` for unknown or disabled keys.
    pub async fn credentials_for(
        &self,
        access_key_id: &str,
    ) -> Result<Option<(Caller, Zeroizing<Vec<u8>>)>> {
        if AccessKeyId::parse(access_key_id).is_err() {
            return Ok(None);
        }
        let unseal = |sealed: &[u8]| {
            self.secrets.unseal(sealed).ok_or_else(|| {
                ServiceError::Internal("an access key cannot be unsealed: wrong master key?".into())
            })
        };
        let fresh = std::time::Duration::from_secs(KEY_CACHE_SECS);
        let changes = match self.key_cache.lock() {
            Ok(cache) => {
                if let Some(k) = cache.keys.get(access_key_id)
                    && k.at.elapsed() < fresh
                {
                    return Ok(Some((k.caller.clone(), unseal(&k.sealed)?)));
                }
                cache.changes
            }
            Err(_) => u64::MAX,
        };
        let id = access_key_id.to_owned();
        let found = self
            .store
            .read(move |db| {
                let Some((key, sealed)) = db.get_access_key(&id)? else {
                    return Ok::<_, ServiceError>(None);
                };
                let account = db.get_account(&key.account_id)?;
                Ok(account.map(|a| (key, sealed, a)))
            })
            .await?;
        let Some((key, sealed, account)) = found else {
            return Ok(None);
        };
        if key.status != KeyStatus::Active {
            return Ok(None);
        }
        let secret = unseal(&sealed)?;
        let caller = Caller {
            account: key.account_id,
            account_name: account.name,
            key: key.access_key_id,
            role: key.role,
        };
        if let Ok(mut cache) = self.key_cache.lock()
            && cache.changes == changes
        {
            if cache.keys.len() >= KEY_CACHE_MAX {
                cache.keys.clear();
            }
            cache.keys.insert(
                access_key_id.to_owned(),
                CachedKey {
                    at: std::time::Instant::now(),
                    caller: caller.clone(),
                    sealed,
                },
            );
        }
        Ok(Some((caller, secret)))
    }

    /// Forgets a key looked up lately (it was disabled or deleted), and any lookup of it under
    /// way.
    fn forget_key(&self, key: &AccessKeyId) {
        if let Ok(mut cache) = self.key_cache.lock() {
            cache.keys.remove(key.as_str());
            cache.changes += 1;
        }
    }

    pub async fn create_account(&self, caller: &Caller, name: &str) -> Result<Credentials> {
        caller.require_operator()?;
        let name = name.to_owned();
        if !xc_types::api::schema::is_account_name(&name) {
            return Err(ServiceError::validation(
                "name",
                "an account name is 1 to 64 letters, digits, spaces (not first or last), -, _ or .",
            ));
        }
        let now = self.now();
        let account_id =
            AccountId::from_number(rand::random::<u64>() % 900_000_000_000 + 100_000_000_000);
        let key = Arc::new(NewKey::generate(&self.secrets));
        let (acct, k) = (account_id.clone(), key.clone());
        self.store
            .write(move |db| {
                db.insert_account(&Account {
                    account_id: acct.clone(),
                    name,
                    kind: AccountKind::Tenant,
                    created_at: now,
                })
                .map_err(|e| match e {
                    xc_store::StoreError::Duplicate(_) => {
                        ServiceError::Conflict("an account with this name already exists".into())
                    }
                    e => e.into(),
                })?;
                k.insert(db, &acct, KeyRole::Admin, now)
            })
            .await?;
        tracing::info!(account = %account_id, "account created");
        let key = Arc::into_inner(key)
            .ok_or_else(|| ServiceError::Internal("key still shared".into()))?;
        Ok(key.credentials(account_id))
    }

    pub async fn list_accounts(&self, caller: &Caller) -> Result<Vec<Account>> {
        if caller.is_operator() {
            self.store
                .read(|db| Ok::<_, ServiceError>(db.list_accounts()?))
                .await
        } else {
            let id = caller.account.clone();
            self.store
                .read(move |db| Ok::<_, ServiceError>(db.get_account(&id)?.into_iter().collect()))
                .await
        }
    }

    /// The account whose keys `caller` manages: its own, or any (operator).
    fn key_owner(&self, caller: &Caller, account: Option<&str>) -> Result<AccountId> {
        match account {
            None => Ok(caller.account.clone()),
            Some(a) => {
                let a =
                    AccountId::parse(a).map_err(|e| ServiceError::validation("accountId", e))?;
                if a == caller.account || caller.is_operator() {
                    Ok(a)
                } else {
                    Err(ServiceError::not_found("account", a))
                }
            }
        }
    }

    pub async fn create_access_key(
        &self,
        caller: &Caller,
        account: Option<&str>,
        role: KeyRole,
    ) -> Result<Credentials> {
        caller.require_write()?;
        let account_id = self.key_owner(caller, account)?;
        let now = self.now();
        let key = Arc::new(NewKey::generate(&self.secrets));
        let (acct, k) = (account_id.clone(), key.clone());
        self.store
            .write(move |db| {
                if db.get_account(&acct)?.is_none() {
                    return Err(ServiceError::not_found("account", &acct));
                }
                quotas::check_quota(
                    db,
                    &acct,
                    xc_types::api::quotas::QuotaName::AccessKeys,
                    1,
                    "",
                )?;
                k.insert(db, &acct, role, now)
            })
            .await?;
        let key = Arc::into_inner(key)
            .ok_or_else(|| ServiceError::Internal("key still shared".into()))?;
        Ok(key.credentials(account_id))
    }

    pub async fn list_access_keys(
        &self,
        caller: &Caller,
        account: Option<&str>,
    ) -> Result<AccessKeyList> {
        let account_id = self.key_owner(caller, account)?;
        let access_keys = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.list_access_keys(&account_id)?))
            .await?;
        Ok(AccessKeyList { access_keys })
    }

    /// Enables or disables (`status`) or deletes (`None`) a key. A caller cannot lock itself
    /// out by disabling or deleting the key it signs with.
    pub async fn change_access_key(
        &self,
        caller: &Caller,
        key_id: &str,
        status: Option<KeyStatus>,
    ) -> Result<()> {
        caller.require_write()?;
        let key =
            AccessKeyId::parse(key_id).map_err(|e| ServiceError::validation("accessKeyId", e))?;
        if key == caller.key && status != Some(KeyStatus::Active) {
            return Err(ServiceError::Conflict(
                "this is the key that signed the request; use another key to disable or delete it"
                    .into(),
            ));
        }
        let caller = caller.clone();
        let id = key.clone();
        let changed = self
            .store
            .write(move |db| {
                let visible = db
                    .get_access_key(id.as_str())?
                    .is_some_and(|(k, _)| k.account_id == caller.account || caller.is_operator());
                if !visible {
                    return Err(ServiceError::not_found("access key", &id));
                }
                match status {
                    Some(s) => db.set_access_key_status(&id, s)?,
                    None => db.delete_access_key(&id)?,
                };
                Ok(())
            })
            .await;
        // After the write: a lookup that read the key before it does not keep what it read.
        self.forget_key(&key);
        changed
    }

    // ---- catalog ----

    /// An environment by id. The model constrains ids only by length (1 to 64); any other id
    /// simply names no environment.
    pub fn environment(&self, id: &str) -> Result<&Environment> {
        if id.is_empty() || id.len() > 64 {
            return Err(ServiceError::validation(
                "environmentId",
                "must be 1 to 64 characters",
            ));
        }
        self.catalog
            .environment(id)
            .ok_or_else(|| ServiceError::not_found("environment", id))
    }

    /// Environments matching the filters, one page at a time.
    pub fn list_environments(
        &self,
        caller: &Caller,
        provider: Option<&Provider>,
        location: Option<&str>,
        max_results: Option<usize>,
        next_token: Option<&str>,
    ) -> Result<(Vec<Environment>, Option<String>)> {
        let scope_parts = [
            caller.account.as_str(),
            "ListEnvironments",
            &provider.map(|p| format!("{p:?}")).unwrap_or_default(),
            location.unwrap_or(""),
        ];
        let limit = page_limit(max_results)?;
        let start = self.page_start(next_token, &scope_parts)?;
        let matching: Vec<&Environment> = self
            .catalog
            .environments()
            .iter()
            .filter(|e| provider.is_none_or(|p| &e.provider == p))
            .filter(|e| location.is_none_or(|l| e.location == l))
            .collect();
        let start = start.max(0) as usize;
        let page: Vec<Environment> = matching
            .iter()
            .skip(start)
            .take(limit)
            .map(|e| (*e).clone())
            .collect();
        let next = (start + page.len() < matching.len())
            .then(|| self.page_token((start + page.len()) as i64, &scope_parts));
        Ok((page, next))
    }

    // ---- pagination ----

    pub(crate) fn page_token(&self, after: i64, scope: &[&str]) -> String {
        tokens::encode_page_token(
            &self.secrets,
            &PagePayload {
                after,
                scope: tokens::page_scope(scope),
            },
        )
    }

    /// Where a listing resumes: 0 without a token; the token's position if it was issued for
    /// this same caller, operation and filters.
    pub(crate) fn page_start(&self, token: Option<&str>, scope: &[&str]) -> Result<i64> {
        let Some(token) = token else { return Ok(0) };
        let bad = || {
            ServiceError::validation(
                "nextToken",
                "is not valid, or was issued for a different request",
            )
        };
        if token.is_empty() || token.len() > tokens::MAX_PAGE_TOKEN_LEN {
            return Err(ServiceError::validation(
                "nextToken",
                "must be 1 to 1024 characters",
            ));
        }
        let p = tokens::decode_page_token(&self.secrets, token).map_err(|_| bad())?;
        if p.scope != tokens::page_scope(scope) {
            return Err(bad());
        }
        Ok(p.after)
    }

    /// Removes rows with `prune` (one write transaction removing at most `step` rows) until a
    /// pass removes fewer, so that the writer is never held long; answers how many went.
    pub(crate) async fn prune_in_steps<F>(&self, step: usize, prune: F) -> Result<usize>
    where
        F: Fn(&xc_store::Db<'_>, usize) -> std::result::Result<usize, xc_store::StoreError>
            + Clone
            + Send
            + 'static,
    {
        let mut total = 0;
        loop {
            let once = prune.clone();
            let n = self
                .store
                .write(move |db| Ok::<_, ServiceError>(once(db, step)?))
                .await?;
            total += n;
            if n < step {
                return Ok(total);
            }
        }
    }

    /// Runs `pass` now and every `every` after, until `stop` turns true; a pass that fails is
    /// logged (as `what`) and the next one tries again.
    pub(crate) async fn every<F, Fut>(
        what: &'static str,
        every: std::time::Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
        mut pass: F,
    ) where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        loop {
            if let Err(e) = pass().await {
                tracing::warn!(error = %e, "{what} failed; retrying");
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    /// Runs the leader's work (the reconciler, the alarm evaluator, the metric rollups, the
    /// audit and flow-log retentions and the metering) whenever this replica leads, until
    /// `shutdown` resolves; a replica that stops leading stops it, and starts it again if it
    /// leads again ([`cluster`]). See [`crate::reconciler`] and [`alarms`]; webhooks are
    /// delivered by the API's task (`xc_api::webhooks`), which has the HTTP client.
    pub async fn run_lifecycle(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut leading = self.leadership.subscribe();
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                r = leading.wait_for(|l| *l) => if r.is_err() { return },
            }
            let mut lost = leading.clone();
            let mut stopping = false;
            self.clone()
                .run_leader_work(async {
                    tokio::select! {
                        _ = &mut shutdown => stopping = true,
                        _ = lost.wait_for(|l| !*l) => {}
                    }
                })
                .await;
            if stopping {
                return;
            }
            tracing::warn!("the leader's work stopped on this replica: another leads");
        }
    }

    /// The leader's work, until `shutdown` resolves.
    async fn run_leader_work(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let alarms = tokio::spawn(self.clone().run_alarms(stopped.clone()));
        let rollups = tokio::spawn(self.clone().run_rollups(stopped.clone()));
        let retention = tokio::spawn(self.clone().run_audit_retention(stopped.clone()));
        let flow_logs = tokio::spawn(self.clone().run_flow_log_retention(stopped.clone()));
        let metering = tokio::spawn(self.clone().run_metering(stopped));
        crate::reconciler::run(self, shutdown).await;
        let _ = stop.send(true);
        let _ = alarms.await;
        let _ = rollups.await;
        let _ = retention.await;
        let _ = flow_logs.await;
        let _ = metering.await;
    }

    /// One pass of the time-driven transitions (tests call it directly).
    pub async fn lifecycle_pass(&self) -> Result<usize> {
        crate::reconciler::pass(self).await
    }

    /// One pass of the link planner (tests call it directly); whether a gateway's configuration
    /// may have changed.
    pub async fn reconcile_pass(&self) -> Result<bool> {
        Ok(!crate::reconciler::reconcile(self).await?.is_empty())
    }
}

/// Request member `field`, an RFC 3339 time, as Unix seconds.
pub(crate) fn parse_time(field: &str, s: &str) -> Result<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| {
            ServiceError::validation(field, format!("`{s}` is not an RFC 3339 time ({e})"))
        })
}

pub(crate) fn page_limit(max_results: Option<usize>) -> Result<usize> {
    match max_results {
        None => Ok(MAX_RESULTS),
        Some(n) if (1..=MAX_RESULTS).contains(&n) => Ok(n),
        Some(_) => Err(ServiceError::validation(
            "maxResults",
            "must be between 1 and 100",
        )),
    }
}
