//! Managed gateways: registration tokens, registration, the per-gateway credential, each
//! gateway's configuration (computed from the connections its attach point takes part in), what
//! gateways report, and the links view of a connection.

use super::attach_points::parse_attach_point_id;
use super::connections::{fmt_time, load_visible, parse_connection_id};
use super::last_mile;
use super::wakes::{Scope, Waiter};
use super::{Caller, Service};
use crate::Secrets;
use crate::intent::{self, AttachPoints};
use crate::planner;
use crate::{Result, ServiceError};
use base64::Engine as _;
use sha2::Digest;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use xc_store::{AskKind, Db, Signal};
use xc_types::filter::FilterPolicy;
use xc_types::flowlog::FlowLogRecord;
use xc_types::gateway::{
    AccessDoc, BgpDoc, ConfigDoc, CustomerSessionView, DryRunRequest, EgressShare, FlowSyncDoc,
    GatewayRecord, GatewaySection, GatewayStatus, GatewayView, LinkDoc, LinkEnd, LinkRecord,
    LinkState, LinkView, LinksResponse, MetricSample, NeighborDoc, PrefixListDoc, RegisterRequest,
    RegisterResponse, ReportAck, Side, TestRequest, TestResult, TokenRecord, TokenRequest,
    TokenResponse,
};
use xc_types::*;

/// Connectivity tests and filter dry runs in flight: requests per gateway, and where each
/// answer goes.
#[derive(Debug, Default)]
pub struct PendingTests {
    requests: std::collections::HashMap<String, Vec<TestRequest>>,
    waiting: std::collections::HashMap<String, tokio::sync::oneshot::Sender<TestResult>>,
    pub(crate) dry_runs: std::collections::HashMap<String, Vec<xc_types::gateway::DryRunRequest>>,
    pub(crate) dry_run_waiting: std::collections::HashMap<
        String,
        tokio::sync::oneshot::Sender<xc_types::gateway::DryRunAnswer>,
    >,
}

/// How long a registration token can be used.
const TOKEN_LIFETIME_SECS: i64 = 24 * 3600;
const TOKEN_PREFIX: &str = "xcgt1.";

fn sha256(b: &[u8]) -> Vec<u8> {
    sha2::Sha256::digest(b).to_vec()
}

fn random_b64(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether a connection in this state has its links configured on the gateways.
pub(crate) fn carries_links(s: ConnectionState) -> bool {
    matches!(
        s,
        ConnectionState::Pending
            | ConnectionState::Available
            | ConnectionState::Down
            | ConnectionState::Updating
    )
}

/// A BGP router id for a gateway: its underlay address when IPv4, else derived from its id.
fn router_id(g: &GatewayRecord) -> String {
    match g.underlay_address {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(_) => {
            let h = sha256(g.id.as_bytes());
            std::net::Ipv4Addr::new(10, h[0], h[1], h[2].max(1)).to_string()
        }
    }
}

/// How long the gateways heard from are gathered before they are written ([`Service::touch_gateway`]).
const TOUCH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A gateway registered: the answer it gets, and the account it belongs to.
#[derive(Debug)]
pub struct Registered {
    pub response: RegisterResponse,
    pub account: AccountId,
}

impl Service {
    /// Wakes the blocking queries of gateways, on this replica and the others: their
    /// configuration may have changed.
    pub(crate) fn config_changed(&self) {
        self.config_changed_for(Scope::Everyone);
    }

    /// Wakes the blocking queries of the gateways `scope` names, on this replica and the others.
    pub(crate) fn config_changed_for(&self, scope: Scope) {
        if scope.is_nobody() {
            return;
        }
        self.config_wakes.changed(&scope);
        let about = match scope {
            Scope::Everyone => Vec::new(),
            Scope::Gateways(ids) => ids.into_iter().collect(),
        };
        self.tell_replicas_about(Signal::ConfigChanged, about);
    }

    /// Wakes the leader's planner, on whichever replica it runs.
    pub(crate) fn work_waiting(&self) {
        self.work.notify_one();
        self.tell_replicas(Signal::Work);
    }

    /// Sends `signal` to the other replicas (none on SQLite), without waiting: the change it
    /// announces is committed already, and a lost signal only delays a waiter until its next
    /// look (a planner pass each second; a gateway's next blocking query).
    fn tell_replicas(&self, signal: Signal) {
        self.tell_replicas_about(signal, Vec::new());
    }

    /// Sends `signal` about `about` (nothing named: about everything).
    fn tell_replicas_about(&self, signal: Signal, about: Vec<String>) {
        if !self.store.is_shared() {
            return;
        }
        let store = self.store.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = store.signal_about(signal, &about).await {
                    tracing::warn!(error = %e, ?signal, "cannot tell the other replicas");
                }
            });
        }
    }

    /// Listens to the other replicas' signals (on PostgreSQL; nothing to hear on SQLite), for
    /// as long as this service lives.
    pub fn listen_to_replicas(self: &Arc<Self>) -> Result<bool> {
        let service = Arc::downgrade(self);
        let heard = self.store.listen(move |heard| {
            let Some(service) = service.upgrade() else {
                return;
            };
            match heard.signal {
                Signal::ConfigChanged => service.config_wakes.changed(&match heard.about {
                    Some(ids) => Scope::gateways(ids),
                    None => Scope::Everyone,
                }),
                Signal::Work => service.work.notify_one(),
                Signal::Answered => service.answered.send_modify(|e| *e += 1),
            }
        })?;
        Ok(heard)
    }

    /// What a gateway's blocking query waits on: a change that concerns it.
    pub fn config_waiter(&self) -> Waiter<'_> {
        self.config_wakes.waiter()
    }

    pub async fn create_gateway_token(
        &self,
        caller: &Caller,
        req: TokenRequest,
    ) -> Result<TokenResponse> {
        caller.require_write()?;
        let ap = req
            .attach_point_id
            .as_deref()
            .map(|a| parse_attach_point_id("attachPointId", a))
            .transpose()?;
        if let Some(f) = &req.facility
            && !self.catalog.facilities().iter().any(|x| &x.id == f)
        {
            return Err(ServiceError::not_found(
                "facility",
                format!("{f} (xconnect environment list shows the facilities)"),
            ));
        }
        if ap.is_none() && req.facility.is_none() {
            return Err(ServiceError::validation(
                "attachPointId",
                "give the attach point the gateway serves (or, for a provider edge, a facility)",
            ));
        }
        if ap.is_none() && !caller.is_operator() {
            return Err(ServiceError::AccessDenied(
                "only the operator registers provider-edge gateways (a facility without an attach point)".into(),
            ));
        }
        let token = format!("{TOKEN_PREFIX}{}", random_b64(24));
        let now = self.now();
        let record = TokenRecord {
            token_hash: sha256(token.as_bytes()),
            account_id: caller.account.clone(),
            attach_point: ap,
            facility: req.facility.clone(),
            expires_at: now + TOKEN_LIFETIME_SECS,
            used_by: None,
            created_at: now,
        };
        let caller2 = caller.clone();
        self.store
            .write(move |db| {
                if let Some(ap) = &record.attach_point {
                    let found = db
                        .get_attach_point(ap)?
                        .filter(|a| a.account_id == caller2.account || caller2.is_operator());
                    if found.is_none() {
                        return Err(ServiceError::not_found("attach point", ap));
                    }
                }
                db.insert_gateway_token(&record)?;
                Ok(())
            })
            .await?;
        Ok(TokenResponse {
            token,
            attach_point_id: ap.map(|a| a.to_string()),
            facility: req.facility,
            expires_at: fmt_time(now + TOKEN_LIFETIME_SECS),
        })
    }

    /// Redeems a registration token: the gateway gets its id and secret (shown once).
    pub async fn register_gateway(&self, req: RegisterRequest) -> Result<Registered> {
        let name = req.name.clone();
        if !xc_types::api::schema::is_name(&name, 64) {
            return Err(ServiceError::validation(
                "name",
                "is 1 to 64 printable characters, without spaces first or last",
            ));
        }
        let underlay: IpAddr = req.underlay_address.parse().map_err(|_| {
            ServiceError::validation(
                "underlayAddress",
                "is the gateway's IP address on the underlay",
            )
        })?;
        let access_interface = req.access_interface.clone();
        if let Some(i) = &access_interface
            && (i.is_empty()
                || i.len() > 10
                || !i
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
        {
            return Err(ServiceError::validation(
                "accessInterface",
                "is an interface name of 1 to 10 letters, digits, - or _ (its VLANs are named <interface>.<vlan>)",
            ));
        }
        if !req.token.starts_with(TOKEN_PREFIX) {
            return Err(ServiceError::AccessDenied(
                "this is not a gateway registration token (they start with xcgt1.)".into(),
            ));
        }
        let hash = sha256(req.token.as_bytes());
        let id = format!("gw-{}", hex::encode(rand::random::<[u8; 4]>()));
        let secret = random_b64(32);
        let secret_hash = sha256(secret.as_bytes());
        let now = self.now();
        let version = req.version.chars().take(64).collect::<String>();
        let gid = id.clone();
        let account = self
            .store
            .write(move |db| {
                let t = db.get_gateway_token(&hash)?.ok_or_else(|| {
                    ServiceError::AccessDenied("unknown registration token".into())
                })?;
                if t.used_by.is_some() {
                    return Err(ServiceError::AccessDenied(
                        "this registration token was already used; create another".into(),
                    ));
                }
                if t.expires_at <= now {
                    return Err(ServiceError::AccessDenied(
                        "this registration token expired; create another".into(),
                    ));
                }
                if t.attach_point.is_none() && access_interface.is_none() {
                    return Err(ServiceError::validation(
                        "accessInterface",
                        "a provider edge (a gateway of a facility) needs its customer-facing interface: give --access-interface",
                    ));
                }
                if !db.use_gateway_token(&hash, &gid)? {
                    return Err(ServiceError::AccessDenied(
                        "this registration token was already used; create another".into(),
                    ));
                }
                db.insert_gateway(&GatewayRecord {
                    id: gid.clone(),
                    account_id: t.account_id.clone(),
                    attach_point: t.attach_point,
                    facility: t.facility,
                    name,
                    underlay_address: underlay,
                    secret_hash,
                    version: Some(version),
                    last_contact: Some(now),
                    status: None,
                    created_at: now,
                    access_interface,
                })?;
                Ok(t.account_id)
            })
            .await?;
        tracing::info!(gateway = %id, "gateway registered");
        self.work_waiting();
        self.config_changed();
        Ok(Registered {
            response: RegisterResponse {
                gateway_id: id,
                secret,
            },
            account,
        })
    }

    /// Checks `<gatewayId>.<secret>`.
    pub async fn authenticate_gateway(&self, credential: &str) -> Result<GatewayRecord> {
        let denied = || {
            ServiceError::Refused {
            code: StateReasonCode::GatewayCredentialRefused,
            field: None,
            message: "unknown gateway credential: the gateway was deleted, or registered with another control plane; register it again with a new token".into(),
        }
        };
        let (id, secret) = credential.split_once('.').ok_or_else(denied)?;
        let id = id.to_owned();
        let g = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.get_gateway(&id)?))
            .await?
            .ok_or_else(denied)?;
        let presented = sha256(secret.as_bytes());
        if subtle::ConstantTimeEq::ct_eq(&presented[..], &g.secret_hash[..]).into() {
            Ok(g)
        } else {
            Err(denied())
        }
    }

    /// The gateway's configuration and its index (a digest: it changes exactly when the
    /// configuration does).
    pub async fn gateway_config(&self, gateway_id: &str) -> Result<(String, ConfigDoc)> {
        let id = gateway_id.to_owned();
        let secrets = self.secrets.clone();
        let doc = self
            .store
            .read(move |db| {
                let g = db
                    .get_gateway(&id)?
                    .ok_or_else(|| ServiceError::not_found("gateway", &id))?;
                build_config(db, &g, &secrets)
            })
            .await?;
        let json = serde_json::to_vec(&doc).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let index = hex::encode(&sha256(&json)[..8]);
        Ok((index, doc))
    }

    /// A gateway's status report, its minute samples (stored once each, by sequence number
    /// within `boot`) and its flow-log records; answers the samples held.
    pub async fn gateway_report(
        &self,
        gateway_id: &str,
        version: String,
        status: GatewayStatus,
        boot: u64,
        samples: Vec<MetricSample>,
        flow_logs: Vec<FlowLogRecord>,
    ) -> Result<ReportAck> {
        let id = gateway_id.to_owned();
        let now = self.now();
        let samples = super::metrics::admissible(samples, now)?;
        super::flowlogs::admissible(&flow_logs)?;
        let through = self
            .store
            .write(move |db| {
                db.gateway_report(&id, &version, now, &status)?;
                super::flowlogs::take_records(db, &id, &flow_logs, now)?;
                Ok::<_, ServiceError>(db.record_samples(&id, boot, &samples)?)
            })
            .await?;
        self.work.notify_one();
        let id = gateway_id.to_owned();
        let egress = self
            .store
            .read(move |db| egress_shares(db, &id, now))
            .await?;
        Ok(ReportAck {
            samples_through: through,
            egress,
        })
    }

    /// Notes that a gateway was heard from (its blocking query). Written within
    /// [`TOUCH_EVERY`], every gateway heard meanwhile in one transaction: one write a second per
    /// replica, not one per query (5,000 gateways each asking every 25 s are 200 writes a second,
    /// which queued before every other write on PostgreSQL's shared write lock in `bench/scale`).
    pub fn touch_gateway(&self, gateway_id: &str) {
        let now = self.now();
        let Ok(mut pending) = self.touches.lock() else {
            return;
        };
        let first = pending.is_empty();
        let at = pending.entry(gateway_id.to_owned()).or_insert(now);
        *at = (*at).max(now);
        drop(pending);
        if !first {
            return; // a flush is on its way
        }
        let (store, touches) = (self.store.clone(), self.touches.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                tokio::time::sleep(TOUCH_EVERY).await;
                let heard: Vec<(String, i64)> = match touches.lock() {
                    Ok(mut p) => std::mem::take(&mut *p).into_iter().collect(),
                    Err(_) => return,
                };
                let n = heard.len();
                let written = store
                    .write(move |db| {
                        for (id, at) in &heard {
                            db.touch_gateway(id, *at)?;
                        }
                        Ok::<_, xc_store::StoreError>(())
                    })
                    .await;
                if let Err(e) = written {
                    // The gateways ask again within 30 s and are noted then.
                    tracing::warn!(error = %e, gateways = n, "cannot note when gateways were last heard from");
                }
            });
        }
    }

    fn gateway_view(&self, g: GatewayRecord) -> GatewayView {
        let now = self.now();
        GatewayView {
            id: g.id,
            name: g.name,
            account_id: g.account_id.to_string(),
            attach_point_id: g.attach_point.map(|a| a.to_string()),
            facility: g.facility,
            underlay_address: g.underlay_address.to_string(),
            version: g.version,
            registered_at: fmt_time(g.created_at),
            last_contact: g.last_contact.map(fmt_time),
            last_contact_age_secs: g.last_contact.map(|t| now - t),
            status: g.status,
        }
    }

    pub async fn list_gateways(&self, caller: &Caller) -> Result<Vec<GatewayView>> {
        let account = (!caller.is_operator()).then(|| caller.account.clone());
        let list = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.list_gateways(account.as_ref())?))
            .await?;
        Ok(list.into_iter().map(|g| self.gateway_view(g)).collect())
    }

    async fn visible_gateway(&self, caller: &Caller, id: &str) -> Result<GatewayRecord> {
        let gid = id.to_owned();
        let g = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.get_gateway(&gid)?))
            .await?;
        g.filter(|g| g.account_id == caller.account || caller.is_operator())
            .ok_or_else(|| ServiceError::not_found("gateway", id))
    }

    pub async fn get_gateway(&self, caller: &Caller, id: &str) -> Result<GatewayView> {
        Ok(self.gateway_view(self.visible_gateway(caller, id).await?))
    }

    /// Forgets a gateway: its links are planned again on the attach point's other gateways.
    pub async fn delete_gateway(&self, caller: &Caller, id: &str) -> Result<()> {
        caller.require_write()?;
        let g = self.visible_gateway(caller, id).await?;
        self.store
            .write(move |db| {
                for l in db.links_of_gateway(&g.id)? {
                    db.delete_link(l.id)?;
                }
                db.delete_gateway(&g.id)?;
                Ok::<_, ServiceError>(())
            })
            .await?;
        self.work_waiting();
        self.config_changed();
        Ok(())
    }

    /// Asks a gateway of the caller's side of the connection (one with a link up, if any) to
    /// ping and trace `target` through it, and waits for the answer.
    pub async fn test_connection(
        &self,
        caller: &Caller,
        id: &str,
        target: &str,
        count: Option<u32>,
    ) -> Result<TestResult> {
        let target_ip: IpAddr = target.parse().map_err(|_| {
            ServiceError::validation("target", "is an IP address on the other side")
        })?;
        let count = count.unwrap_or(5);
        if !(1..=100).contains(&count) {
            return Err(ServiceError::validation("count", "is 1 to 100"));
        }
        let id = parse_connection_id("identifier", id)?;
        let caller2 = caller.clone();
        let now = self.now();
        let gateway = self
            .store
            .read(move |db| {
                let c = load_visible(db, &caller2, &id)?;
                let is_b = c.owner != caller2.account;
                let mut best: Option<String> = None;
                for l in db.links_of_connection(&c.id)? {
                    let gid = if is_b { &l.gateway_b } else { &l.gateway_a };
                    let other = if is_b { &l.gateway_a } else { &l.gateway_b };
                    let (g, other) = (db.get_gateway(gid)?, db.get_gateway(other)?);
                    let peer = intent::link_peer(&c, &l, is_b);
                    let up = planner::end_health(g.as_ref(), other.as_ref(), &l, peer, false, now)
                        .is_ok();
                    if up || best.is_none() {
                        best = Some(gid.clone());
                    }
                    if up {
                        break;
                    }
                }
                best.ok_or_else(|| {
                    ServiceError::Conflict(format!(
                        "{} has no link yet: nothing to test through",
                        c.id
                    ))
                })
            })
            .await?;
        let test_id = hex::encode(rand::random::<[u8; 8]>());
        let request = TestRequest {
            id: test_id.clone(),
            target: target_ip.to_string(),
            count,
        };
        let wait = std::time::Duration::from_secs(u64::from(count) + 40);
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Ok(mut t) = self.tests.lock() {
            t.waiting.insert(test_id.clone(), tx);
            if !self.store.is_shared() {
                t.requests
                    .entry(gateway.clone())
                    .or_default()
                    .push(request.clone());
            }
        }
        if self.store.is_shared() {
            self.put_ask(&gateway, AskKind::Test, &test_id, &request, wait)
                .await?;
        }
        // The asked gateway's blocking query carries the request.
        self.config_changed_for(Scope::gateways([gateway.clone()]));
        let r = self
            .answer_of(&test_id, rx, tokio::time::Instant::now() + wait)
            .await;
        if let Ok(mut t) = self.tests.lock() {
            t.waiting.remove(&test_id);
            if let Some(list) = t.requests.get_mut(&gateway) {
                list.retain(|x| x.id != test_id);
            }
        }
        self.drop_ask(&test_id).await;
        match r {
            Some(result) => Ok(result),
            None => Err(ServiceError::Conflict(format!(
                "gateway {gateway} did not answer the test within {} s (is it running and in contact?)",
                wait.as_secs()
            ))),
        }
    }

    /// The tests and filter dry runs waiting for a gateway, each handed over once: from this
    /// replica's memory on SQLite, from the database on PostgreSQL (any replica may have been
    /// asked).
    pub async fn take_asks(
        &self,
        gateway_id: &str,
    ) -> Result<(Vec<TestRequest>, Vec<DryRunRequest>)> {
        let (mut tests, mut dry_runs) = self
            .tests
            .lock()
            .map(|mut t| {
                (
                    t.requests.remove(gateway_id).unwrap_or_default(),
                    t.dry_runs.remove(gateway_id).unwrap_or_default(),
                )
            })
            .unwrap_or_default();
        if !self.store.is_shared() {
            return Ok((tests, dry_runs));
        }
        let now_ms = self.now().saturating_mul(1000);
        let id = gateway_id.to_owned();
        // A look first: most answers to a blocking query have nothing to hand over, and a
        // look is a read where a take is a write.
        let waiting = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.asks_waiting(&id, now_ms)?))
            .await?;
        if !waiting {
            return Ok((tests, dry_runs));
        }
        let id = gateway_id.to_owned();
        let taken = self
            .store
            .write(move |db| Ok::<_, ServiceError>(db.take_asks(&id, now_ms)?))
            .await?;
        for ask in taken {
            let bad = |e: serde_json::Error| ServiceError::Internal(format!("ask {}: {e}", ask.id));
            match ask.kind {
                AskKind::Test => tests.push(serde_json::from_str(&ask.request).map_err(bad)?),
                AskKind::DryRun => dry_runs.push(serde_json::from_str(&ask.request).map_err(bad)?),
            }
        }
        Ok((tests, dry_runs))
    }

    /// Puts a request for gateway `gateway` in the database, for whichever replica holds its
    /// blocking query, good for `wait`.
    pub(crate) async fn put_ask(
        &self,
        gateway: &str,
        kind: AskKind,
        id: &str,
        request: &impl serde::Serialize,
        wait: std::time::Duration,
    ) -> Result<()> {
        let json =
            serde_json::to_string(request).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let now_ms = self.now().saturating_mul(1000);
        let expires_ms = now_ms + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
        let (gateway, id) = (gateway.to_owned(), id.to_owned());
        self.store
            .write(move |db| {
                Ok::<_, ServiceError>(db.put_ask(&id, &gateway, kind, &json, now_ms, expires_ms)?)
            })
            .await
    }

    /// Forgets request `id` in the database (its asker is done with it).
    pub(crate) async fn drop_ask(&self, id: &str) {
        if !self.store.is_shared() {
            return;
        }
        let id = id.to_owned();
        if let Err(e) = self
            .store
            .write(move |db| Ok::<_, ServiceError>(db.drop_ask(&id)?))
            .await
        {
            tracing::warn!(error = %e, "cannot forget a gateway's request; the next one deletes it");
        }
    }

    /// The answer to request `id`: sent through `rx` when the gateway answers this replica,
    /// found in the database when it answers another (PostgreSQL); `None` at `deadline`.
    pub(crate) async fn answer_of<T>(
        &self,
        id: &str,
        mut rx: tokio::sync::oneshot::Receiver<T>,
        deadline: tokio::time::Instant,
    ) -> Option<T>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        if !self.store.is_shared() {
            return tokio::time::timeout_at(deadline, rx).await.ok()?.ok();
        }
        // Subscribed before the look, so an answer recorded after the look still wakes it.
        let mut answered = self.answered.subscribe();
        loop {
            let look = id.to_owned();
            if let Ok(Some(json)) = self
                .store
                .read(move |db| Ok::<_, ServiceError>(db.ask_answer(&look)?))
                .await
            {
                match serde_json::from_str(&json) {
                    Ok(answer) => return Some(answer),
                    Err(e) => tracing::warn!(error = %e, id, "a gateway's answer does not read"),
                }
            }
            tokio::select! {
                r = &mut rx => return r.ok(),
                _ = answered.changed() => {}
                _ = tokio::time::sleep_until(deadline) => return None,
            }
        }
    }

    /// A gateway's answer to request `id`, for an asker on another replica: recorded, and the
    /// replicas told. Whether `gateway_id` was asked that.
    pub(crate) async fn record_answer(
        &self,
        gateway_id: &str,
        id: &str,
        answer: &impl serde::Serialize,
    ) -> Result<bool> {
        if !self.store.is_shared() {
            return Ok(false);
        }
        let json =
            serde_json::to_string(answer).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let (gateway, id) = (gateway_id.to_owned(), id.to_owned());
        let asked = self
            .store
            .write(move |db| Ok::<_, ServiceError>(db.answer_ask(&id, &gateway, &json)?))
            .await?;
        if asked {
            self.tell_replicas(Signal::Answered);
        }
        Ok(asked)
    }

    /// A gateway's answer to a test.
    pub async fn test_result(&self, gateway_id: &str, mut result: TestResult) -> Result<()> {
        result.gateway = gateway_id.to_owned();
        let waiter = self
            .tests
            .lock()
            .ok()
            .and_then(|mut t| t.waiting.remove(&result.id));
        self.deliver(gateway_id, waiter, &result.id.clone(), result)
            .await
    }

    /// Hands a gateway's answer to request `id` to its asker: through `waiter` when the asker is
    /// this replica, else through the database ([`Self::record_answer`]).
    pub(crate) async fn deliver<T: serde::Serialize>(
        &self,
        gateway_id: &str,
        waiter: Option<tokio::sync::oneshot::Sender<T>>,
        id: &str,
        answer: T,
    ) -> Result<()> {
        match waiter {
            Some(tx) => {
                let _ = tx.send(answer);
            }
            None => {
                self.record_answer(gateway_id, id, &answer).await?;
            }
        }
        Ok(())
    }

    /// Every link of a connection with what both of its gateways report.
    pub async fn connection_links(&self, caller: &Caller, id: &str) -> Result<LinksResponse> {
        let id = parse_connection_id("identifier", id)?;
        let caller = caller.clone();
        let now = self.now();
        self.store
            .read(move |db| {
                let c = load_visible(db, &caller, &id)?;
                let aps = attach_points_of(db, &c)?;
                let mut links = Vec::new();
                for l in db.links_of_connection(&c.id)? {
                    links.push(link_view(db, &aps, &c, &l, now)?);
                }
                Ok(LinksResponse { links })
            })
            .await
    }
}

/// How old a gateway's report may be for its links' demand to count.
const DEMAND_FRESH_SECS: i64 = 10;

/// The parts of their connections' bandwidth that a gateway's links send at
/// ([`crate::share`]): for each connection with several links that the gateway sends on, the
/// ends on its side, with the demand their gateways last reported.
fn egress_shares(db: &Db<'_>, gateway_id: &str, now: i64) -> Result<Vec<EgressShare>> {
    let mut out = Vec::new();
    let mut done = std::collections::BTreeSet::new();
    let mut gateways: std::collections::BTreeMap<String, Option<GatewayRecord>> =
        std::collections::BTreeMap::new();
    for l in db.links_of_gateway(gateway_id)? {
        if !done.insert(l.connection_id.clone()) {
            continue;
        }
        let Some(c) = db.get_connection(&l.connection_id)? else {
            continue;
        };
        let links = db.links_of_connection(&c.id)?;
        if !carries_links(c.state) || links.len() < 2 {
            continue;
        }
        for is_b in [false, true] {
            let side = |x: &LinkRecord| if is_b { &x.gateway_b } else { &x.gateway_a }.clone();
            if !links.iter().any(|x| side(x) == gateway_id) {
                continue;
            }
            let mut ends = Vec::new();
            for x in &links {
                let gid = side(x);
                if !gateways.contains_key(&gid) {
                    gateways.insert(gid.clone(), db.get_gateway(&gid)?);
                }
                let g = gateways.get(&gid).and_then(Option::as_ref);
                let fresh = g
                    .and_then(|g| g.last_contact)
                    .is_some_and(|t| now - t <= DEMAND_FRESH_SECS);
                let ls = g
                    .and_then(|g| g.status.as_ref())
                    .and_then(|s| planner::link_report(s, x));
                ends.push(crate::share::End {
                    link: x.id,
                    demand: ls.and_then(|s| s.demand).filter(|_| fresh),
                    part: ls.and_then(|s| s.egress_bps),
                });
            }
            let parts = crate::share::allocate(c.bandwidth.mbps() * 1_000_000, &ends);
            out.extend(
                parts
                    .into_iter()
                    .zip(&links)
                    .filter(|(_, x)| side(x) == gateway_id)
                    .map(|(p, _)| p),
            );
        }
    }
    Ok(out)
}

/// The configuration of one gateway: a link and a BGP neighbour per link of a connection its
/// attach point takes part in, announcing its side's prefixes and accepting the other side's;
/// for a provider edge, also the customer-facing VLANs (and their BGP sessions, in layer 3).
/// Each link's CKN/CAK are derived here, and MD5 passwords unsealed: the document only ever goes
/// to this gateway.
fn build_config(db: &Db<'_>, g: &GatewayRecord, secrets: &Secrets) -> Result<ConfigDoc> {
    let mut doc = ConfigDoc {
        gateway: GatewaySection {
            name: g.name.clone(),
            ..GatewaySection::default()
        },
        ..ConfigDoc::default()
    };
    let mut announce: Vec<String> = Vec::new();
    let mut neighbors = Vec::new();
    let mut asn = None;
    // The links, by name, with their ids and connections: for the flow logs.
    let mut logged = Vec::new();
    for l in db.links_of_gateway(&g.id)? {
        let Some(c) = db.get_connection(&l.connection_id)? else {
            continue;
        };
        if !carries_links(c.state) {
            continue;
        }
        let is_b = l.gateway_b == g.id;
        let other_id = if is_b { &l.gateway_a } else { &l.gateway_b };
        let Some(other) = db.get_gateway(other_id)? else {
            continue;
        };
        let aps = attach_points_of(db, &c)?;
        logged.push((l.name(), l.id, c.id.clone()));
        let port = l.port();
        let (ckn, cak) = secrets.link_keys(l.id, c.id.as_str());
        let mut link = LinkDoc {
            name: l.name(),
            id: Some(l.id),
            underlay_local: SocketAddr::new(g.underlay_address, port).to_string(),
            underlay_remote: SocketAddr::new(other.underlay_address, port).to_string(),
            vni: l.numbers.vni,
            ckn: hex::encode(ckn),
            cak: Some(hex::encode(&cak[..])),
            address: Some(l.address(is_b).to_string()),
            address6: Some(l.address6(is_b).to_string()),
            bandwidth: Some(c.bandwidth.to_string()),
            bandwidth_shared_by: match db.links_of_connection(&c.id)?.len() {
                0 | 1 => None,
                n => Some(n as u32),
            },
            // The owner's side is the key server.
            key_server_priority: Some(if is_b { 32 } else { 16 }),
            ..LinkDoc::default()
        };
        let liveness = c.link_liveness.unwrap_or(xc_types::LinkLiveness::DEFAULT);
        if liveness.is_on() {
            link.liveness_interval_ms = Some(liveness.interval_ms);
            link.liveness_multiplier = Some(liveness.multiplier);
        }
        // A BGP neighbour across the link, at `address` (the other end's).
        let across = |address: IpAddr, remote_asn: u32, import: &[Prefix]| NeighborDoc {
            address: address.to_string(),
            remote_asn,
            import: Some(prefix_list(import)),
            max_prefixes: Some(100),
            bfd: true,
            hold_time: Some(30),
            connect_retry_secs: Some(1),
            // The owner's side connects, the remote side listens: no connection collisions.
            passive: is_b,
            ..NeighborDoc::default()
        };
        let link_neighbor = |remote_asn: u32, import: &[Prefix]| {
            across(IpAddr::V4(l.address(!is_b).addr()), remote_asn, import)
        };
        // IPv6 prefixes go over a session of their own between the link's IPv6 addresses (a
        // session exports a family with a next hop of that family: its own address).
        let link_neighbor6 = |remote_asn: u32, import: &[Prefix]| {
            across(IpAddr::V6(l.address6(!is_b).addr()), remote_asn, import)
        };
        if let Some(lm) = intent::site(&c) {
            let Some(ap) = aps.get(&c.owner_attach_point) else {
                continue;
            };
            let (tenant_announce, tenant_accept) = intent::last_mile_routes(ap, &c, lm);
            let Some(session) = lm.sessions.get(usize::from(l.slot)) else {
                continue;
            };
            let ipv6 = intent::site_carries_ipv6(lm);
            // One neighbour per session on the VLAN (IPv4, and IPv6 when the site carries it),
            // each with the prefixes of its own family.
            let customers = |import: &[Prefix], export: Option<&[Prefix]>| {
                session
                    .sessions()
                    .map(|(_, customer_address)| {
                        let v6 = customer_address.is_ipv6();
                        NeighborDoc {
                            address: customer_address.to_string(),
                            remote_asn: lm.customer_asn.get(),
                            import: Some(prefix_list(&of_family(import, v6))),
                            export: export.map(|e| prefix_list(&of_family(e, v6))),
                            md5_password: lm
                                .md5_sealed
                                .as_deref()
                                .and_then(|sealed| last_mile::unseal_md5(sealed, secrets)),
                            max_prefixes: Some(lm.max_prefixes as usize),
                            // Short enough that a customer router left with a stale session (its
                            // end never saw ours close) lets it go soon.
                            hold_time: Some(30),
                            connect_retry_secs: Some(5),
                            ..NeighborDoc::default()
                        }
                    })
                    .collect::<Vec<_>>()
            };
            if is_b {
                // The provider edge: the customer's VLAN on its customer-facing interface.
                let Some(iface) = &g.access_interface else {
                    continue;
                };
                let mut access = AccessDoc {
                    interface: iface.clone(),
                    vlan: lm.vlan,
                    ..AccessDoc::default()
                };
                if lm.layer == 2 {
                    let bridge = format!("xb{}", l.numbers.vni);
                    link.address = None;
                    link.address6 = None;
                    link.bridge = Some(bridge.clone());
                    access.bridge = Some(bridge);
                } else {
                    access.addresses = session.sessions().map(|(p, _)| p.to_string()).collect();
                    asn = Some(last_mile::EDGE_ASN);
                    let mut to_tenant = link_neighbor(ap.asn.get(), &tenant_announce);
                    to_tenant.export = Some(prefix_list(&lm.on_premises_prefixes));
                    neighbors.push(to_tenant);
                    if ipv6 {
                        let mut to_tenant6 =
                            link_neighbor6(ap.asn.get(), &of_family(&tenant_announce, true));
                        to_tenant6.export =
                            Some(prefix_list(&of_family(&lm.on_premises_prefixes, true)));
                        neighbors.push(to_tenant6);
                    }
                    neighbors.extend(customers(&lm.on_premises_prefixes, Some(&tenant_announce)));
                }
                doc.link.push(link);
                doc.access.push(access);
            } else {
                asn = Some(ap.asn.get());
                add_all(&mut announce, &tenant_announce);
                if lm.layer == 2 {
                    // One Ethernet segment with the customer router, through the edge's bridge:
                    // the link's addresses are the sessions' provider addresses.
                    link.address = None;
                    link.address6 = None;
                    for (p, _) in session.sessions() {
                        if p.addr().is_ipv4() {
                            link.address = Some(p.to_string());
                        } else {
                            link.address6 = Some(p.to_string());
                        }
                    }
                    neighbors.extend(customers(&tenant_accept, None));
                } else {
                    neighbors.push(link_neighbor(last_mile::EDGE_ASN, &tenant_accept));
                    if ipv6 {
                        neighbors.push(link_neighbor6(
                            last_mile::EDGE_ASN,
                            &of_family(&tenant_accept, true),
                        ));
                    }
                }
                doc.link.push(link);
            }
            continue;
        }
        let Some((own_ap, own_routing, other_ap, other_routing)) = intent::sides(&aps, &c, is_b)
        else {
            continue;
        };
        let (ann, acc) = intent::announce_and_accept(own_ap, own_routing, other_ap, other_routing);
        add_all(&mut announce, &ann);
        asn = Some(own_ap.asn.get());
        doc.link.push(link);
        neighbors.push(link_neighbor(other_ap.asn.get(), &acc));
        if intent::carries_ipv6(own_ap, other_ap) {
            neighbors.push(link_neighbor6(other_ap.asn.get(), &of_family(&acc, true)));
        }
    }
    // An attach point's gateways enforce its filters and write its flow logs (a provider
    // edge has neither of its own).
    if let Some(ap) = &g.attach_point {
        let mut policy = super::filters::policy_of(db, ap)?.unwrap_or_default();
        policy
            .flow_logs
            .extend(super::flowlogs::specs_of(db, ap, &logged)?);
        doc.filters = (policy != FilterPolicy::default()).then_some(policy);
        doc.flow_sync = flow_sync(db, g, ap, secrets)?;
    }
    if let Some(asn) = asn {
        doc.bgp = Some(BgpDoc {
            asn,
            router_id: router_id(g),
            announce,
            neighbor: neighbors,
            ..BgpDoc::default()
        });
    }
    Ok(doc)
}

/// The connection table shared between an attach point's gateways: each listens on its underlay
/// address and sends to the others', under a key of the attach point's. None with one gateway.
fn flow_sync(
    db: &Db<'_>,
    g: &GatewayRecord,
    ap: &AttachPointId,
    secrets: &Secrets,
) -> Result<Option<FlowSyncDoc>> {
    let port = xc_filter::sync::PORT;
    let peers: Vec<String> = db
        .gateways_of_attach_point(ap)?
        .iter()
        .filter(|o| o.id != g.id)
        .map(|o| SocketAddr::new(o.underlay_address, port).to_string())
        .collect();
    if peers.is_empty() {
        return Ok(None);
    }
    Ok(Some(FlowSyncDoc {
        listen: SocketAddr::new(g.underlay_address, port).to_string(),
        peers,
        key: hex::encode(&secrets.flow_sync_key(&ap.to_string())[..]),
    }))
}

/// The prefixes of one address family (IPv6 when `v6`).
fn of_family(prefixes: &[Prefix], v6: bool) -> Vec<Prefix> {
    prefixes
        .iter()
        .filter(|p| p.net().addr().is_ipv6() == v6)
        .copied()
        .collect()
}

fn add_all(list: &mut Vec<String>, prefixes: &[Prefix]) {
    for p in prefixes {
        let p = p.to_string();
        if !list.contains(&p) {
            list.push(p);
        }
    }
}

/// A prefix list for a neighbour; nothing to accept is a list that matches nothing usable.
fn prefix_list(prefixes: &[Prefix]) -> PrefixListDoc {
    PrefixListDoc::List(if prefixes.is_empty() {
        vec!["0.0.0.0/32".into()]
    } else {
        prefixes.iter().map(|p| p.to_string()).collect()
    })
}

/// The attach points of a connection's two sides, as the pure decisions take them.
fn attach_points_of(db: &Db<'_>, c: &Connection) -> Result<AttachPoints> {
    let mut aps = AttachPoints::new();
    for id in std::iter::once(&c.owner_attach_point).chain(&c.remote_attach_point) {
        if let Some(ap) = db.get_attach_point(id)? {
            aps.insert(*id, ap);
        }
    }
    Ok(aps)
}

fn link_view(
    db: &Db<'_>,
    aps: &AttachPoints,
    c: &Connection,
    l: &LinkRecord,
    now: i64,
) -> Result<LinkView> {
    let mut ends = Vec::new();
    let mut gws = Vec::new();
    for is_b in [false, true] {
        let gid = if is_b { &l.gateway_b } else { &l.gateway_a };
        let g = db.get_gateway(gid)?;
        let peer = intent::link_peer(c, l, is_b).map(|p| p.to_string());
        let peer6 = intent::link_peer6(aps, c, l, is_b).map(|p| p.to_string());
        let st = g.as_ref().and_then(|g| g.status.as_ref());
        let neighbor = |addr: &Option<String>| {
            addr.as_ref().and_then(|a| {
                st.and_then(|s| s.bgp.as_ref())
                    .and_then(|b| b.neighbors.iter().find(|n| &n.address == a).cloned())
            })
        };
        let ls = st.and_then(|s| planner::link_report(s, l));
        ends.push(LinkEnd {
            side: if is_b { Side::Remote } else { Side::Owner },
            gateway_id: gid.clone(),
            gateway_name: g.as_ref().map(|g| g.name.clone()).unwrap_or_default(),
            facility: g.as_ref().and_then(|g| g.facility.clone()),
            underlay: g
                .as_ref()
                .map(|g| SocketAddr::new(g.underlay_address, l.port()).to_string())
                .unwrap_or_default(),
            address: l.address(is_b).to_string(),
            address6: peer6.is_some().then(|| l.address6(is_b).to_string()),
            mka: ls.map(|x| x.mka.clone()),
            mtu: ls.map(|x| x.mtu),
            path_mtu: ls.map(|x| x.path_mtu),
            routes: match st.and_then(|s| s.bgp.as_ref()) {
                Some(b) => b
                    .routes
                    .iter()
                    .filter(|r| {
                        [&peer, &peer6]
                            .into_iter()
                            .flatten()
                            .any(|p| r.next_hops.contains(p))
                    })
                    .map(|r| r.prefix.clone())
                    .collect(),
                None => Vec::new(),
            },
            bgp: neighbor(&peer),
            bgp6: neighbor(&peer6),
            counters: ls.map(|x| x.counters),
            egress_bps: ls.and_then(|x| x.egress_bps),
            demand: ls.and_then(|x| x.demand),
            alive: ls.and_then(|x| x.alive),
            last_contact_age_secs: g.as_ref().and_then(|g| g.last_contact).map(|t| now - t),
        });
        gws.push(g);
    }
    let problem = planner::link_health(aps, c, l, gws[0].as_ref(), gws[1].as_ref(), now).err();
    let warning = planner::link_warning(l, gws[0].as_ref(), gws[1].as_ref());
    let customer = match intent::site(c) {
        Some(lm) => lm.sessions.get(usize::from(l.slot)).map(|s| {
            let runs = if lm.layer == 2 { &gws[0] } else { &gws[1] };
            let edge = gws[1].as_ref();
            let reported = |addr: Option<String>| {
                let addr = addr?;
                runs.as_ref()
                    .and_then(|g| g.status.as_ref())
                    .and_then(|st| st.bgp.as_ref())
                    .and_then(|b| b.neighbors.iter().find(|n| n.address == addr).cloned())
            };
            let customer_address6 = s.customer_address6.map(|a| a.to_string());
            CustomerSessionView {
                gateway_id: runs.as_ref().map(|g| g.id.clone()).unwrap_or_default(),
                gateway_name: runs.as_ref().map(|g| g.name.clone()).unwrap_or_default(),
                edge: edge.map(|g| g.name.clone()).unwrap_or_default(),
                facility: edge.and_then(|g| g.facility.clone()),
                interface: edge
                    .and_then(|g| g.access_interface.as_ref())
                    .map(|i| format!("{i}.{}", lm.vlan)),
                vlan: lm.vlan,
                layer: lm.layer,
                provider_address: s.provider_address.to_string(),
                customer_address: s.customer_address.to_string(),
                provider_address6: s.provider_address6.map(|p| p.to_string()),
                customer_address6: customer_address6.clone(),
                customer_asn: lm.customer_asn.get(),
                bgp: reported(Some(s.customer_address.to_string())),
                bgp6: reported(customer_address6),
            }
        }),
        _ => None,
    };
    Ok(LinkView {
        id: l.id,
        name: l.name(),
        vni: l.numbers.vni,
        state: if problem.is_none() {
            LinkState::Up
        } else {
            LinkState::Down
        },
        reason: problem.or(warning),
        ends,
        customer,
    })
}
