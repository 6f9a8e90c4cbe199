//! Connections: create, accept, read, list, update, delete, tag.

use super::alarms::insert_default_alarms;
use super::attach_points::parse_attach_point_id;
use super::{Caller, DELETED_VISIBLE_SECS, Service, page_limit};
use crate::tokens::{self, ActivationPayload};
use crate::{Result, ServiceError};
use sha2::Digest;
use xc_store::{ConnectionFilter, Db, IdempotencyRecord};
use xc_types::api::ActivationKeyKind;
use xc_types::api::{
    AcceptConnectionRequest, ConnectionEvents, CreateConnectionRequest, UpdateConnectionRequest,
};
use xc_types::*;

/// A connection with what it takes to show it: its environment, ARN, and the activation key when
/// the caller may see it.
#[derive(Debug, Clone)]
pub struct ConnectionDetail {
    pub connection: Connection,
    pub environment: Environment,
    pub arn: String,
    /// The activation key, for the connection's owner only.
    pub activation_key: Option<String>,
    /// Whether the caller is the connection's owner (else its remote side or the operator).
    pub caller_is_owner: bool,
}

/// Filters of a connection listing.
#[derive(Debug, Clone, Default)]
pub struct ListConnectionsInput {
    pub state: Option<String>,
    pub environment_id: Option<String>,
    pub provider: Option<Provider>,
    pub attach_point: Option<String>,
    pub max_results: Option<usize>,
    pub next_token: Option<String>,
}

pub(crate) fn request_hash<T: serde::Serialize>(req: &T) -> Vec<u8> {
    sha2::Sha256::digest(serde_json::to_vec(req).unwrap_or_default()).to_vec()
}

pub(crate) fn validate_client_token(token: Option<&str>) -> Result<()> {
    if let Some(t) = token
        && (!(1..=64).contains(&t.chars().count()) || t.chars().any(|c| c.is_control()))
    {
        return Err(ServiceError::validation(
            "clientToken",
            "must be 1 to 64 printable characters",
        ));
    }
    Ok(())
}

/// Looks up a clientToken inside a transaction: `Some(connection)` replays the first result.
pub(crate) fn idempotent_replay(
    db: &Db<'_>,
    caller: &AccountId,
    op: &str,
    token: Option<&str>,
    hash: &[u8],
) -> Result<Option<Connection>> {
    let Some(token) = token else { return Ok(None) };
    let Some(rec) = db.get_idempotency(caller, op, token)? else {
        return Ok(None);
    };
    if rec.request_hash != hash {
        return Err(ServiceError::Conflict(
            "clientToken was already used with a different request; use a new token for a new request".into(),
        ));
    }
    let id = ConnectionId::parse(&rec.response)
        .map_err(|e| ServiceError::Internal(format!("idempotency record: {e}")))?;
    db.get_connection(&id)?
        .map(Some)
        .ok_or_else(|| ServiceError::not_found("connection", id))
}

pub(crate) fn remember(
    db: &Db<'_>,
    caller: &AccountId,
    op: &str,
    token: Option<&str>,
    hash: Vec<u8>,
    id: &ConnectionId,
    now: i64,
) -> Result<()> {
    if let Some(token) = token {
        db.put_idempotency(
            caller,
            op,
            token,
            &IdempotencyRecord {
                request_hash: hash,
                response: id.to_string(),
            },
            now,
        )?;
    }
    Ok(())
}

pub(crate) fn load_visible(db: &Db<'_>, caller: &Caller, id: &ConnectionId) -> Result<Connection> {
    db.get_connection(id)?
        .filter(|c| c.is_party(&caller.account) || caller.is_operator())
        .ok_or_else(|| ServiceError::not_found("connection", id))
}

pub(crate) fn parse_connection_id(field: &str, s: &str) -> Result<ConnectionId> {
    ConnectionId::parse(s).map_err(|e| ServiceError::validation(field, e))
}

fn parse_description(s: Option<&str>) -> Result<Option<Description>> {
    s.map(Description::parse)
        .transpose()
        .map_err(|e| ServiceError::validation("description", e))
}

pub(crate) fn parse_tags(tags: Option<Tags>) -> Result<Tags> {
    let tags = tags.unwrap_or_default();
    validate_tags(&tags).map_err(|e| ServiceError::validation("tags", e))?;
    Ok(tags)
}

/// Refuses to join two attach points whose address space overlaps.
/// Whether two attach points can be joined: distinct address space, and distinct ASNs (with the
/// same AS on both sides, each side drops the other's routes as an AS-path loop and the
/// connection never carries anything).
pub(crate) fn check_joinable(mine: &AttachPoint, theirs: &AttachPoint) -> Result<()> {
    if mine.asn == theirs.asn {
        return Err(ServiceError::Refused {
            code: StateReasonCode::AsnConflict,
            field: Some("attachPoint".to_owned()),
            message: format!(
                "attach point {} has ASN {}, the same as the other side's: each side would refuse the other's routes as a loop; \
                 create an attach point with another ASN (leave --asn out to get a free one) and accept with it",
                mine.id, mine.asn
            ),
        });
    }
    if let Some((a, b)) = first_overlap(&mine.prefixes, &theirs.prefixes) {
        return Err(ServiceError::Refused {
            code: StateReasonCode::PrefixOverlap,
            field: Some("attachPoint".to_owned()),
            message: format!(
                "prefix {a} of attach point {} overlaps prefix {b} of the other side; \
                 the two networks must use distinct address space",
                mine.id
            ),
        });
    }
    Ok(())
}

pub(crate) fn validate_routing(
    routing: Option<RoutingPolicy>,
    ap: &AttachPoint,
) -> Result<RoutingPolicy> {
    let routing = routing.unwrap_or_default();
    routing
        .validate(&ap.prefixes)
        .map_err(|e| ServiceError::validation("routingPolicy", e))?;
    Ok(routing)
}

/// The checks of a new connection that need the database, in the transaction that stores it (or,
/// for a dry run, in a read): the caller's attach point, the routing policy against it, and a
/// last-mile site's VLAN and addresses.
/// The quotas an account uses up by becoming a side of `c`.
pub(crate) fn side_quotas(db: &Db<'_>, account: &AccountId, c: &Connection) -> Result<()> {
    use super::quotas::check_quota;
    use xc_types::api::quotas::QuotaName;
    check_quota(
        db,
        account,
        QuotaName::ConnectionsPerEnvironment,
        1,
        c.environment.as_str(),
    )?;
    let mbps = c
        .pending_bandwidth
        .map_or(c.bandwidth.mbps(), |p| p.mbps().max(c.bandwidth.mbps()));
    check_quota(db, account, QuotaName::BandwidthMbps, mbps, "")
}

fn complete_new(
    db: &Db<'_>,
    account: &AccountId,
    ap_id: AttachPointId,
    routing: Option<RoutingPolicy>,
    mut c: Connection,
) -> Result<Connection> {
    let ap = db
        .get_attach_point(&ap_id)?
        .filter(|ap| &ap.account_id == account)
        .ok_or_else(|| ServiceError::not_found("attach point", ap_id))?;
    c.owner_routing = validate_routing(routing, &ap)?;
    side_quotas(db, account, &c)?;
    if let Some(lm) = &mut c.last_mile {
        super::last_mile::allocate(db, lm, &ap, &c.environment)?;
    }
    Ok(c)
}

impl Service {
    pub(crate) fn detail(
        &self,
        caller: &Caller,
        connection: Connection,
    ) -> Result<ConnectionDetail> {
        let environment = self
            .catalog
            .environment(connection.environment.as_str())
            .cloned()
            .ok_or_else(|| {
                ServiceError::Internal(format!(
                    "environment {} left the catalog",
                    connection.environment
                ))
            })?;
        let caller_is_owner = connection.owner == caller.account;
        let activation_key = caller_is_owner.then(|| self.activation_key_of(&connection));
        Ok(ConnectionDetail {
            arn: ConnectionArn {
                region: self.config.region.clone(),
                account: connection.owner.clone(),
                connection: connection.id.clone(),
            }
            .to_string(),
            connection,
            environment,
            activation_key,
            caller_is_owner,
        })
    }

    /// Recomputes a connection's activation key from its grant (keys are never stored).
    fn activation_key_of(&self, c: &Connection) -> String {
        let (kind, reference) = match c.initiator {
            Initiator::Owner => (ActivationKeyKind::Connection, c.id.to_string()),
            // A proposal's key names the proposal; its key id is the proposal's.
            Initiator::Remote => (ActivationKeyKind::Proposal, c.shared_id.to_string()),
        };
        tokens::encode_activation_key(
            &self.secrets,
            &ActivationPayload {
                v: 1,
                server: self.server_id.clone(),
                endpoint: self.config.endpoint.clone(),
                shared_id: c.shared_id.to_string(),
                environment_id: c.environment.to_string(),
                bandwidth: c.bandwidth.to_string(),
                account: c.grant.allowed.clone(),
                expires_at: c.grant.expires_at,
                key_id: c.grant.key_id,
                kind: kind.to_owned(),
                reference,
            },
        )
    }

    /// Checks an environment and bandwidth for a new connection or proposal.
    pub(crate) fn orderable(
        &self,
        environment_id: &str,
        bandwidth: &str,
    ) -> Result<(Environment, Bandwidth)> {
        let env = self.environment(environment_id)?.clone();
        if env.state == EnvironmentState::Unavailable {
            return Err(ServiceError::Conflict(format!(
                "environment {} is unavailable{}",
                env.id,
                env.state_message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )));
        }
        let bw =
            Bandwidth::parse(bandwidth).map_err(|e| ServiceError::validation("bandwidth", e))?;
        if !env.available_bandwidths.contains(&bw) {
            let list: Vec<String> = env
                .available_bandwidths
                .iter()
                .map(|b| b.to_string())
                .collect();
            return Err(ServiceError::validation(
                "bandwidth",
                format!(
                    "{bw} is not available in {}; available: {}",
                    env.id,
                    list.join(", ")
                ),
            ));
        }
        Ok((env, bw))
    }

    pub(crate) fn parse_remote_account(&self, s: Option<&str>) -> Result<String> {
        let s = s.ok_or_else(|| {
            ServiceError::validation(
                "remoteAccount",
                "is required: the activation key is bound to the account that may accept it",
            )
        })?;
        validate_remote_owner(s).map_err(|e| ServiceError::validation("remoteAccount", e))?;
        AccountId::parse(s).map_err(|_| {
            ServiceError::validation("remoteAccount", "must be a 12-digit account id")
        })?;
        Ok(s.to_owned())
    }

    /// `CreateConnection`: the owner-initiated request. Returns the connection in `requested`,
    /// with its activation key for the remote account.
    pub async fn create_connection(
        &self,
        caller: &Caller,
        req: CreateConnectionRequest,
    ) -> Result<ConnectionDetail> {
        self.create(caller, req, true).await
    }

    /// `CreateConnection` through the AWS API, whose shape has no on-premises site: a last-mile
    /// connection created this way waits in `pending` (`SITE_NOT_CONFIGURED`) once accepted.
    pub async fn create_connection_without_site(
        &self,
        caller: &Caller,
        req: CreateConnectionRequest,
    ) -> Result<ConnectionDetail> {
        self.create(caller, req, false).await
    }

    /// Checks a `CreateConnection` request against every rule that creating it would, and
    /// stores nothing: the console validates as the user types with it.
    pub async fn validate_connection(
        &self,
        caller: &Caller,
        req: CreateConnectionRequest,
    ) -> Result<()> {
        self.create_checked(caller, req, true, true)
            .await
            .map(|_| ())
    }

    async fn create(
        &self,
        caller: &Caller,
        req: CreateConnectionRequest,
        site_required: bool,
    ) -> Result<ConnectionDetail> {
        self.create_checked(caller, req, site_required, false)
            .await?
            .ok_or_else(|| ServiceError::Internal("a create stored nothing".into()))
    }

    async fn create_checked(
        &self,
        caller: &Caller,
        req: CreateConnectionRequest,
        site_required: bool,
        dry_run: bool,
    ) -> Result<Option<ConnectionDetail>> {
        caller.require_write()?;
        validate_client_token(req.client_token.as_deref())?;
        let hash = request_hash(&CreateConnectionRequest {
            client_token: None,
            ..req.clone()
        });
        let (env, bandwidth) = self.orderable(&req.environment_id, &req.bandwidth)?;
        let last_mile = match (&req.last_mile, env.product_type) {
            (Some(_), ProductType::Multicloud) => {
                return Err(ServiceError::validation(
                    "lastMile",
                    format!(
                        "{} is a multicloud environment: a connection there has no on-premises site",
                        env.id
                    ),
                ));
            }
            (Some(l), ProductType::LastMile) => Some(super::last_mile::parse(l, &self.secrets)?),
            (None, ProductType::LastMile) if site_required => {
                return Err(ServiceError::validation(
                    "lastMile",
                    format!(
                        "{} is a last-mile environment: give the on-premises site (circuit id, customer ASN, on-premises prefixes)",
                        env.id
                    ),
                ));
            }
            (None, _) => None,
        };
        let ap_id = parse_attach_point_id("attachPoint", &req.attach_point)?;
        let remote = self.parse_remote_account(req.remote_account.as_deref())?;
        let description = parse_description(req.description.as_deref())?;
        let tags = parse_tags(req.tags.clone())?;
        let now = self.now();
        let id = ConnectionId::from_random(env.product_type, rand::random());
        let connection = Connection {
            description: description.unwrap_or_else(|| {
                Description::parse(&format!("connection {id}")).expect("ids are valid descriptions")
            }),
            id,
            seq: 0,
            shared_id: SharedId::from_bytes(rand::random()),
            owner: caller.account.clone(),
            owner_attach_point: ap_id,
            owner_routing: RoutingPolicy::Automatic {},
            remote_account: None,
            remote_attach_point: None,
            remote_routing: None,
            initiator: Initiator::Owner,
            environment: env.id.clone(),
            bandwidth,
            pending_bandwidth: None,
            state: ConnectionState::Requested,
            state_reason: Some(StateReasonCode::AwaitingAcceptance.with(format!(
                "waiting for account {remote} to accept with the activation key"
            ))),
            billing_tier: env.billing_tier,
            grant: ActivationGrant {
                key_id: uuid::Uuid::new_v4(),
                allowed: remote,
                expires_at: now + self.config.key_lifetime_secs,
            },
            tags,
            created_at: now,
            updated_at: now,
            last_mile,
            link_liveness: None,
        };
        let account = caller.account.clone();
        let token = req.client_token.clone();
        let routing = req.routing_policy.clone();
        let defaults = req.default_alarms != Some(false);
        if dry_run {
            self.store
                .read(move |db| complete_new(db, &account, ap_id, routing, connection).map(|_| ()))
                .await?;
            return Ok(None);
        }
        let stored = self
            .store
            .write(move |db| {
                if let Some(c) =
                    idempotent_replay(db, &account, "CreateConnection", token.as_deref(), &hash)?
                {
                    return Ok::<_, ServiceError>(c);
                }
                let mut c = complete_new(db, &account, ap_id, routing, connection)?;
                c.seq = db.insert_connection(&c)?;
                if defaults {
                    insert_default_alarms(db, &account, &c.id, now)?;
                }
                remember(
                    db,
                    &account,
                    "CreateConnection",
                    token.as_deref(),
                    hash,
                    &c.id,
                    now,
                )?;
                Ok(c)
            })
            .await?;
        tracing::info!(connection = %stored.id, owner = %stored.owner, environment = %stored.environment, "connection requested");
        self.detail(caller, stored).map(Some)
    }

    pub async fn get_connection(&self, caller: &Caller, id: &str) -> Result<ConnectionDetail> {
        let id = parse_connection_id("identifier", id)?;
        let c = {
            let caller = caller.clone();
            self.store
                .read(move |db| load_visible(db, &caller, &id))
                .await?
        };
        self.detail(caller, c)
    }

    /// A connection's history, oldest first: for both of its sides and the operator.
    pub async fn connection_events(&self, caller: &Caller, id: &str) -> Result<ConnectionEvents> {
        let id = parse_connection_id("identifier", id)?;
        let caller = caller.clone();
        self.store
            .read(move |db| {
                let c = load_visible(db, &caller, &id)?;
                Ok(ConnectionEvents {
                    events: db.connection_events(&c.id)?,
                })
            })
            .await
    }

    pub async fn list_connections(
        &self,
        caller: &Caller,
        input: ListConnectionsInput,
    ) -> Result<(Vec<ConnectionDetail>, Option<String>)> {
        let state = input
            .state
            .as_deref()
            .map(ConnectionState::parse)
            .transpose()
            .map_err(|e| ServiceError::validation("state", e))?;
        let mut environments: Option<Vec<EnvironmentId>> = None;
        if let Some(e) = input.environment_id.as_deref() {
            let id = EnvironmentId::parse(e)
                .map_err(|err| ServiceError::validation("environmentId", err))?;
            environments = Some(vec![id]);
        }
        if let Some(p) = &input.provider {
            let ids: Vec<EnvironmentId> = self
                .catalog
                .environments()
                .iter()
                .filter(|e| &e.provider == p)
                .filter(|e| environments.as_ref().is_none_or(|l| l.contains(&e.id)))
                .map(|e| e.id.clone())
                .collect();
            environments = Some(ids);
        }
        let mut attach_point = None;
        let mut impossible = false;
        if let Some(a) = input.attach_point.as_deref() {
            match AttachPointId::parse(a) {
                Ok(id) => attach_point = Some(id),
                // An ARN names no attach point of ours: nothing matches.
                Err(_) if ConnectionArn::parse(a).is_ok() => impossible = true,
                Err(e) => return Err(ServiceError::validation("attachPoint", e)),
            }
        }
        let scope = [
            caller.account.as_str(),
            "ListConnections",
            input.state.as_deref().unwrap_or(""),
            input.environment_id.as_deref().unwrap_or(""),
            &input
                .provider
                .as_ref()
                .map(|p| format!("{p:?}"))
                .unwrap_or_default(),
            input.attach_point.as_deref().unwrap_or(""),
        ];
        let limit = page_limit(input.max_results)?;
        let after = self.page_start(input.next_token.as_deref(), &scope)?;
        if impossible {
            return Ok((Vec::new(), None));
        }
        let filter = ConnectionFilter {
            visible_to: (!caller.is_operator()).then(|| caller.account.clone()),
            state,
            environments,
            attach_point,
            hide_deleted_before: self.now() - DELETED_VISIBLE_SECS,
        };
        let page = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.list_connections(&filter, after, limit)?))
            .await?;
        let next = page.more_after.map(|s| self.page_token(s, &scope));
        let items = page
            .items
            .into_iter()
            .map(|c| self.detail(caller, c))
            .collect::<Result<_>>()?;
        Ok((items, next))
    }

    /// Decodes and checks an activation key presented by `caller`: signed by this server, bound to
    /// the caller, not expired. Single use is checked in the redeeming transaction.
    pub(crate) fn check_key(&self, caller: &Caller, key: &str) -> Result<ActivationPayload> {
        if !(1..=tokens::MAX_ACTIVATION_KEY_LEN).contains(&key.chars().count()) {
            return Err(ServiceError::validation(
                "activationKey",
                "must be 1 to 2048 characters",
            ));
        }
        // A key this server did not sign names nothing here (mistyped, or another server's).
        let p = tokens::decode_activation_key(&self.secrets, key)
            .map_err(|e| ServiceError::not_found("activation key", format!("(it {e})")))?;
        if p.account != caller.account.as_str() {
            return Err(ServiceError::AccessDenied(
                "this activation key was issued for another account; only that account can redeem it".into(),
            ));
        }
        if p.expires_at <= self.now() {
            return Err(ServiceError::Refused {
                code: StateReasonCode::ActivationKeyExpired,
                field: Some("activationKey".to_owned()),
                message: format!(
                    "expired at {}; ask the other side for a new one",
                    fmt_time(p.expires_at)
                ),
            });
        }
        Ok(p)
    }

    /// Redeems an activation key with the caller's attach point: accepts an owner-initiated
    /// connection, or turns a proposal into a connection owned by the caller.
    pub async fn accept(
        &self,
        caller: &Caller,
        req: AcceptConnectionRequest,
    ) -> Result<ConnectionDetail> {
        caller.require_write()?;
        validate_client_token(req.client_token.as_deref())?;
        let hash = request_hash(&AcceptConnectionRequest {
            client_token: None,
            ..req.clone()
        });
        let account = caller.account.clone();
        // A replayed request must answer even though its key is now spent.
        if let Some(token) = req.client_token.clone() {
            let hash = hash.clone();
            let a = account.clone();
            let replay = self
                .store
                .read(move |db| idempotent_replay(db, &a, "AcceptConnection", Some(&token), &hash))
                .await?;
            if let Some(c) = replay {
                return self.detail(caller, c);
            }
        }
        let payload = self.check_key(caller, &req.activation_key)?;
        let ap_id = if req.attach_point.trim().is_empty() {
            None
        } else {
            Some(parse_attach_point_id("attachPoint", &req.attach_point)?)
        };
        let need_ap = || {
            ServiceError::validation(
                "attachPoint",
                "is required: the attach point of yours that the connection joins",
            )
        };
        let description = parse_description(req.description.as_deref())?;
        let tags = parse_tags(req.tags.clone())?;
        let now = self.now();
        let defaults = req.default_alarms != Some(false);
        let c = match payload.kind {
            ActivationKeyKind::Connection => {
                let id = parse_connection_id("activationKey", &payload.reference)?;
                let routing = req.routing_policy.clone();
                let token = req.client_token.clone();
                self.store
                    .write(move |db| {
                        if let Some(c) = idempotent_replay(db, &account, "AcceptConnection", token.as_deref(), &hash)? {
                    return Ok::<_, ServiceError>(c);
                }
                        let mut c = db
                            .get_connection(&id)?
                            .filter(|c| c.grant.key_id == payload.key_id)
                            .ok_or_else(|| ServiceError::not_found("connection", &id))?;
                        if db.key_redeemed(&payload.key_id)? {
                            return Err(ServiceError::Conflict(
                                "this activation key has already been used; each key can be redeemed once".into(),
                            ));
                        }
                        if c.state != ConnectionState::Requested {
                            return Err(ServiceError::Conflict(format!(
                                "connection {} is {}; only a requested connection can be accepted",
                                c.id, c.state
                            )));
                        }
                        side_quotas(db, &account, &c)?;
                        if c.id.product_type() == ProductType::LastMile {
                            // The provider accepts (its partner-portal step): its edges carry
                            // the connection; no attach point of its own.
                            if ap_id.is_some() {
                                return Err(ServiceError::validation(
                                    "attachPoint",
                                    "a last-mile connection is accepted by its provider and joins no attach point: leave it out",
                                ));
                            }
                            redeem(db, &payload.key_id, &account, now)?;
                            c.remote_account = Some(account.clone());
                            c.state = ConnectionState::Pending;
                            c.state_reason = Some(provisioning_reason());
                            if let Some(d) = description {
                                c.description = d;
                            }
                            c.tags.extend(tags);
                            c.updated_at = now;
                            db.update_connection(&c)?;
                            if defaults {
                                insert_default_alarms(db, &account, &c.id, now)?;
                            }
                            remember(db, &account, "AcceptConnection", token.as_deref(), hash, &c.id, now)?;
                            return Ok(c);
                        }
                        let ap_id = ap_id.ok_or_else(need_ap)?;
                        let mine = db
                            .get_attach_point(&ap_id)?
                            .filter(|ap| ap.account_id == account)
                            .ok_or_else(|| ServiceError::not_found("attach point", ap_id))?;
                        let theirs = db
                            .get_attach_point(&c.owner_attach_point)?
                            .ok_or_else(|| ServiceError::Internal("the owner's attach point is gone".into()))?;
                        check_joinable(&mine, &theirs)?;
                        let routing = validate_routing(routing, &mine)?;
                        redeem(db, &payload.key_id, &account, now)?;
                        c.remote_account = Some(account.clone());
                        c.remote_attach_point = Some(ap_id);
                        c.remote_routing = Some(routing);
                        c.state = ConnectionState::Pending;
                        c.state_reason = Some(provisioning_reason());
                        if let Some(d) = description {
                            c.description = d;
                        }
                        c.tags.extend(tags);
                        c.updated_at = now;
                        db.update_connection(&c)?;
                        if defaults {
                            insert_default_alarms(db, &account, &c.id, now)?;
                        }
                        remember(db, &account, "AcceptConnection", token.as_deref(), hash, &c.id, now)?;
                        Ok(c)
                    })
                    .await?
            }
            ActivationKeyKind::Proposal => {
                let ap_id = ap_id.ok_or_else(need_ap)?;
                self.accept_proposal(caller, &req, payload, ap_id, description, tags, hash)
                    .await?
            }
        };
        tracing::info!(connection = %c.id, by = %caller.account, "connection accepted");
        self.work_waiting();
        self.detail(caller, c)
    }

    /// `UpdateConnection`: the description at once; a bandwidth change moves the connection to
    /// `updating` until the new bandwidth is applied (owner only); a side's routing policy
    /// (either side, its own) is applied live: the gateways change what they announce and accept
    /// without the links or sessions going down.
    pub async fn update_connection(
        &self,
        caller: &Caller,
        id: &str,
        req: UpdateConnectionRequest,
    ) -> Result<ConnectionDetail> {
        caller.require_write()?;
        validate_client_token(req.client_token.as_deref())?;
        let id = parse_connection_id("identifier", id)?;
        let hash = request_hash(&(
            id.as_str(),
            UpdateConnectionRequest {
                client_token: None,
                ..req.clone()
            },
        ));
        let description = parse_description(req.description.as_deref())?;
        let bandwidth = req
            .bandwidth
            .as_deref()
            .map(Bandwidth::parse)
            .transpose()
            .map_err(|e| ServiceError::validation("bandwidth", e))?;
        let now = self.now();
        let who = caller.clone();
        let catalog = self.catalog.clone();
        let token = req.client_token.clone();
        let routing = req.routing_policy.clone();
        if let Some(l) = &req.link_liveness {
            l.validate()
                .map_err(|e| ServiceError::validation("linkLiveness", e))?;
        }
        let liveness = req.link_liveness;
        let live_change = routing.is_some() || liveness.is_some();
        let c = self
            .store
            .write(move |db| {
                if let Some(c) = idempotent_replay(db, &who.account, "UpdateConnection", token.as_deref(), &hash)? {
                    return Ok::<_, ServiceError>(c);
                }
                let mut c = load_visible(db, &who, &id)?;
                let owner = c.owner == who.account;
                if !owner && (description.is_some() || bandwidth.is_some() || liveness.is_some()) {
                    return Err(ServiceError::AccessDenied(format!(
                        "only the owner of {} can change its description, bandwidth and link liveness; the remote side can change its own routing policy, read and delete it",
                        c.id
                    )));
                }
                if let Some(policy) = routing.clone() {
                    let ap_id = if owner { Some(c.owner_attach_point) } else { c.remote_attach_point };
                    let Some(ap) = ap_id.map(|a| db.get_attach_point(&a)).transpose()?.flatten() else {
                        return Err(ServiceError::Conflict(format!(
                            "{} has no attach point on your side yet: a routing policy applies once it is accepted",
                            c.id
                        )));
                    };
                    let policy = validate_routing(Some(policy), &ap)?;
                    if owner {
                        c.owner_routing = policy;
                    } else {
                        c.remote_routing = Some(policy);
                    }
                }
                let changeable = match (routing.is_some() || liveness.is_some(), description.is_some() || bandwidth.is_some()) {
                    // A routing policy or link liveness alone follows a connection that is down, too.
                    (true, false) => matches!(c.state, ConnectionState::Requested | ConnectionState::Pending | ConnectionState::Available | ConnectionState::Down),
                    _ => matches!(c.state, ConnectionState::Requested | ConnectionState::Pending | ConnectionState::Available),
                };
                if !changeable {
                    return Err(ServiceError::Conflict(format!(
                        "connection {} is {}; it can be changed when requested, pending or available",
                        c.id, c.state
                    )));
                }
                if let Some(d) = description {
                    c.description = d;
                }
                if let Some(l) = liveness {
                    c.link_liveness = Some(l);
                }
                if let Some(bw) = bandwidth
                    && bw != c.bandwidth
                {
                    let env = catalog
                        .environment(c.environment.as_str())
                        .ok_or_else(|| ServiceError::Internal("environment left the catalog".into()))?;
                    if !env.available_bandwidths.contains(&bw) {
                        let list: Vec<String> = env.available_bandwidths.iter().map(|b| b.to_string()).collect();
                        return Err(ServiceError::validation(
                            "bandwidth",
                            format!("{bw} is not available in {}; available: {}", env.id, list.join(", ")),
                        ));
                    }
                    // A greater bandwidth uses more of the owner's quota from the ask on.
                    let held = c.pending_bandwidth.map_or(c.bandwidth.mbps(), |p| p.mbps().max(c.bandwidth.mbps()));
                    let wanted = bw.mbps().max(c.bandwidth.mbps());
                    if wanted > held {
                        super::quotas::check_quota(
                            db,
                            &who.account,
                            xc_types::api::quotas::QuotaName::BandwidthMbps,
                            wanted - held,
                            "",
                        )?;
                    }
                    c.pending_bandwidth = Some(bw);
                    c.state = ConnectionState::Updating;
                    c.state_reason = Some(StateReasonCode::BandwidthChange.with(format!(
                        "changing bandwidth from {} to {bw}",
                        c.bandwidth
                    )));
                }
                c.updated_at = now;
                db.update_connection(&c)?;
                remember(db, &who.account, "UpdateConnection", token.as_deref(), hash, &c.id, now)?;
                Ok(c)
            })
            .await?;
        self.work_waiting();
        if live_change {
            // The gateways announce and accept by the new policy, and their links take the new
            // liveness, now, not at their next poll.
            self.config_changed();
        }
        self.detail(caller, c)
    }

    /// `DeleteConnection`, from either side: `deleting`, then `deleted` for both.
    pub async fn delete_connection(
        &self,
        caller: &Caller,
        id: &str,
        client_token: Option<&str>,
    ) -> Result<ConnectionDetail> {
        caller.require_write()?;
        validate_client_token(client_token)?;
        let id = parse_connection_id("identifier", id)?;
        let now = self.now();
        let who = caller.clone();
        let c = self
            .store
            .write(move |db| {
                let mut c = load_visible(db, &who, &id)?;
                if c.state.is_final() {
                    return Ok::<_, ServiceError>(c);
                }
                c.state = ConnectionState::Deleting;
                c.state_reason = Some(
                    StateReasonCode::DeleteRequested
                        .with(format!("deleted by account {}", who.account)),
                );
                c.pending_bandwidth = None;
                c.updated_at = now;
                db.update_connection(&c)?;
                Ok(c)
            })
            .await?;
        tracing::info!(connection = %c.id, by = %caller.account, "connection deleting");
        self.work_waiting();
        self.detail(caller, c)
    }

    /// Tags: the owner changes them, both sides read them. `arn` must name the connection as its
    /// owner's (the ARN carries the owner account).
    pub async fn tags(&self, caller: &Caller, arn: &str) -> Result<Tags> {
        let c = self.by_arn(caller, arn).await?;
        Ok(c.tags)
    }

    /// Adds (or replaces) tags. Owner only.
    pub async fn tag(&self, caller: &Caller, arn: &str, add: Tags) -> Result<()> {
        validate_tags(&add).map_err(|e| ServiceError::validation("tags", e))?;
        self.change_tags(caller, arn, move |tags| {
            let had = tags.len();
            tags.extend(add);
            if tags.len() > MAX_TAGS {
                // Valid in itself, too many with the tags the connection has: a conflict with
                // its state (409 on the native API), not a malformed request.
                return Err(ServiceError::Conflict(format!(
                    "a connection has at most {MAX_TAGS} tags: it has {had}, and these would make {}; remove some first",
                    tags.len()
                )));
            }
            Ok(())
        })
        .await
    }

    /// Removes tags by key. Any key of a legal length can be named, so that a tag stored before
    /// a rule tightened can still be removed. Owner only.
    pub async fn untag(
        &self,
        caller: &Caller,
        arn: &str,
        keys: Vec<String>,
        absent: AbsentKeys,
    ) -> Result<()> {
        if keys.is_empty() {
            return Err(ServiceError::validation(
                "tagKeys",
                "name at least one tag key",
            ));
        }
        for k in &keys {
            if !(1..=128).contains(&k.chars().count()) {
                return Err(ServiceError::validation(
                    "tagKeys",
                    "a tag key is 1 to 128 characters",
                ));
            }
        }
        self.change_tags(caller, arn, move |tags| {
            let removed = keys.iter().filter(|k| tags.remove(*k).is_some()).count();
            if removed == 0 && absent == AbsentKeys::Refuse {
                return Err(ServiceError::not_found("tag", keys.join(", ")));
            }
            Ok(())
        })
        .await
    }

    async fn change_tags(
        &self,
        caller: &Caller,
        arn: &str,
        change: impl FnOnce(&mut Tags) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        caller.require_write()?;
        let c = self.by_arn(caller, arn).await?;
        if c.owner != caller.account {
            return Err(ServiceError::AccessDenied(format!(
                "only the owner of {} can tag it",
                c.id
            )));
        }
        let now = self.now();
        let id = c.id;
        self.store
            .write(move |db| {
                let mut c = db
                    .get_connection(&id)?
                    .ok_or_else(|| ServiceError::not_found("connection", &id))?;
                change(&mut c.tags)?;
                c.updated_at = now;
                db.update_connection(&c)?;
                Ok(())
            })
            .await
    }

    async fn by_arn(&self, caller: &Caller, arn: &str) -> Result<Connection> {
        let parsed = ConnectionArn::parse(arn).map_err(|e| ServiceError::validation("arn", e))?;
        let who = caller.clone();
        let region = self.config.region.clone();
        self.store
            .read(move |db| {
                let c = load_visible(db, &who, &parsed.connection)
                    .map_err(|_| ServiceError::not_found("resource", arn_string(&parsed)))?;
                if c.owner != parsed.account || parsed.region != region {
                    return Err(ServiceError::not_found("resource", arn_string(&parsed)));
                }
                Ok(c)
            })
            .await
    }
}

fn arn_string(a: &ConnectionArn) -> String {
    a.to_string()
}

pub(crate) fn provisioning_reason() -> StateReason {
    StateReasonCode::Provisioning
        .with("accepted; links are being provisioned between the two attach points")
}

/// Marks a key spent, inside the accepting transaction.
pub(crate) fn redeem(db: &Db<'_>, key_id: &uuid::Uuid, by: &AccountId, now: i64) -> Result<()> {
    db.redeem_key(key_id, by, now).map_err(|e| match e {
        xc_store::StoreError::Duplicate(_) => ServiceError::Conflict(
            "this activation key has already been used; each key can be redeemed once".into(),
        ),
        e => e.into(),
    })
}

/// Seconds since the epoch as RFC 3339 (UTC), as the API and the CLI show times.
pub fn fmt_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{t} (Unix time)"))
}

/// What [`Service::untag`] does when none of the keys is on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbsentKeys {
    /// Succeed (AWS's UntagResource: removing what is not there is done).
    Ignore,
    /// Answer not found (the native API: a key that matches nothing is usually a mistake).
    Refuse,
}
