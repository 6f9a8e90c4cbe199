//! Remote-initiated connections: a tenant proposes, the other tenant describes and accepts the
//! proposal with its key, which creates a connection owned by the acceptor.

use super::attach_points::parse_attach_point_id;
use super::connections::{
    check_joinable, idempotent_replay, provisioning_reason, redeem, remember, validate_routing,
};
use super::{Caller, Service};
use crate::tokens::{self, ActivationPayload};
use crate::{Result, ServiceError};
use xc_types::api::ActivationKeyKind;
use xc_types::api::{AcceptConnectionRequest, CreateProposalRequest, ProposalView};
use xc_types::*;

/// What `DescribeConnectionProposal` tells before accepting.
#[derive(Debug, Clone)]
pub struct ProposalSummary {
    pub environment: Environment,
    pub bandwidth: Bandwidth,
    /// Who proposed it: the account and its name.
    pub proposer: AccountId,
    pub proposer_name: String,
    /// The ASN of the proposer's attach point: the acceptor's must differ.
    pub proposer_asn: Asn,
    pub expires_at: i64,
    pub kind: xc_types::api::ActivationKeyKind,
}

impl Service {
    fn proposal_key(&self, p: &Proposal) -> String {
        tokens::encode_activation_key(
            &self.secrets,
            &ActivationPayload {
                v: 1,
                server: self.server_id.clone(),
                endpoint: self.config.endpoint.clone(),
                shared_id: p.shared_id.to_string(),
                environment_id: p.environment.to_string(),
                bandwidth: p.bandwidth.to_string(),
                account: p.grant.allowed.clone(),
                expires_at: p.grant.expires_at,
                key_id: p.grant.key_id,
                kind: ActivationKeyKind::Proposal,
                reference: p.shared_id.to_string(),
            },
        )
    }

    fn proposal_view(&self, p: &Proposal) -> ProposalView {
        ProposalView {
            id: p.id,
            shared_id: p.shared_id,
            state: p.state,
            attach_point: p.attach_point,
            environment_id: p.environment.to_string(),
            bandwidth: p.bandwidth,
            remote_account: p.grant.allowed.clone(),
            description: p.description.as_ref().map(|d| d.to_string()),
            routing_policy: p.routing.clone(),
            activation_key: self.proposal_key(p),
            expires_at: p.grant.expires_at,
            connection_id: p.connection.clone(),
            created_at: p.created_at,
        }
    }

    /// `CreateProposal` (native): the remote-initiated half, redeemable by `remoteAccount`.
    pub async fn create_proposal(
        &self,
        caller: &Caller,
        req: CreateProposalRequest,
    ) -> Result<ProposalView> {
        caller.require_write()?;
        let (env, bandwidth) = self.orderable(&req.environment_id, &req.bandwidth)?;
        let ap_id = parse_attach_point_id("attachPoint", &req.attach_point)?;
        let remote = self.parse_remote_account(Some(&req.remote_account))?;
        let description = req
            .description
            .as_deref()
            .map(Description::parse)
            .transpose()
            .map_err(|e| ServiceError::validation("description", e))?;
        let now = self.now();
        let shared_id = SharedId::from_bytes(rand::random());
        let mut proposal = Proposal {
            // The proposal is known by its shared id, which its key carries.
            id: ProposalId::parse(&shared_id.to_string())
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            shared_id,
            owner: caller.account.clone(),
            attach_point: ap_id,
            routing: RoutingPolicy::Automatic {},
            environment: env.id.clone(),
            bandwidth,
            description,
            grant: ActivationGrant {
                key_id: uuid::Uuid::new_v4(),
                allowed: remote,
                expires_at: now + self.config.key_lifetime_secs,
            },
            state: ProposalState::Open,
            connection: None,
            created_at: now,
        };
        let account = caller.account.clone();
        let routing = req.routing_policy;
        proposal = self
            .store
            .write(move |db| {
                let ap = db
                    .get_attach_point(&ap_id)?
                    .filter(|ap| ap.account_id == account)
                    .ok_or_else(|| ServiceError::not_found("attach point", ap_id))?;
                proposal.routing = validate_routing(routing, &ap)?;
                db.insert_proposal(&proposal)?;
                Ok::<_, ServiceError>(proposal)
            })
            .await?;
        tracing::info!(proposal = %proposal.id, owner = %proposal.owner, "proposal created");
        Ok(self.proposal_view(&proposal))
    }

    pub async fn list_proposals(&self, caller: &Caller) -> Result<Vec<ProposalView>> {
        let account = caller.account.clone();
        let list = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.list_proposals(&account)?))
            .await?;
        Ok(list.iter().map(|p| self.proposal_view(p)).collect())
    }

    /// Withdraws an open proposal; its key stops working.
    pub async fn withdraw_proposal(&self, caller: &Caller, id: &str) -> Result<ProposalView> {
        caller.require_write()?;
        let id = ProposalId::parse(id).map_err(|e| ServiceError::validation("id", e))?;
        let account = caller.account.clone();
        let p = self
            .store
            .write(move |db| {
                let mut p = db
                    .get_proposal(&id)?
                    .filter(|p| p.owner == account)
                    .ok_or_else(|| ServiceError::not_found("proposal", id))?;
                if p.state != ProposalState::Open {
                    return Err(ServiceError::Conflict(format!(
                        "proposal {id} is no longer open"
                    )));
                }
                db.update_proposal_state(&id, ProposalState::Withdrawn, None)?;
                p.state = ProposalState::Withdrawn;
                Ok(p)
            })
            .await?;
        Ok(self.proposal_view(&p))
    }

    /// `DescribeConnectionProposal`: what a key would create, for the account it is bound to.
    pub async fn describe_proposal(&self, caller: &Caller, key: &str) -> Result<ProposalSummary> {
        let p = self.check_key(caller, key)?;
        let key_id = p.key_id;
        let (kind, reference) = (p.kind, p.reference.clone());
        let live = self
            .store
            .read(move |db| {
                if db.key_redeemed(&key_id)? {
                    return Ok::<_, ServiceError>(Err("has already been used"));
                }
                // The record the key names, if it is still open: who owns it, and the attach
                // point the acceptor's joins.
                let open = match kind {
                    ActivationKeyKind::Proposal => ProposalId::parse(&reference)
                        .ok()
                        .map(|id| db.get_proposal(&id))
                        .transpose()?
                        .flatten()
                        .filter(|pr| pr.state == ProposalState::Open && pr.grant.key_id == key_id)
                        .map(|pr| (pr.owner, pr.attach_point)),
                    ActivationKeyKind::Connection => ConnectionId::parse(&reference)
                        .ok()
                        .map(|id| db.get_connection(&id))
                        .transpose()?
                        .flatten()
                        .filter(|c| {
                            c.state == ConnectionState::Requested && c.grant.key_id == key_id
                        })
                        .map(|c| (c.owner, c.owner_attach_point)),
                };
                let Some((owner, ap)) = open else {
                    return Ok(Err("is no longer open: it was withdrawn or deleted"));
                };
                let name = db.get_account(&owner)?.map(|a| a.name).unwrap_or_default();
                let asn = db.get_attach_point(&ap)?.map(|ap| ap.asn).ok_or_else(|| {
                    ServiceError::Internal("the proposer's attach point is gone".into())
                })?;
                Ok(Ok((owner, name, asn)))
            })
            .await?;
        let (proposer, proposer_name, proposer_asn) =
            live.map_err(|m| ServiceError::Conflict(format!("this activation key {m}")))?;
        let environment = self.environment(&p.environment_id)?.clone();
        let bandwidth =
            Bandwidth::parse(&p.bandwidth).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(ProposalSummary {
            environment,
            bandwidth,
            proposer,
            proposer_name,
            proposer_asn,
            expires_at: p.expires_at,
            kind: p.kind,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn accept_proposal(
        &self,
        caller: &Caller,
        req: &AcceptConnectionRequest,
        payload: ActivationPayload,
        ap_id: AttachPointId,
        description: Option<Description>,
        tags: Tags,
        hash: Vec<u8>,
    ) -> Result<Connection> {
        let defaults = req.default_alarms != Some(false);
        let proposal_id = ProposalId::parse(&payload.reference)
            .map_err(|_| ServiceError::validation("activationKey", "names no proposal"))?;
        let env = self.environment(&payload.environment_id)?.clone();
        let account = caller.account.clone();
        let routing = req.routing_policy.clone();
        let token = req.client_token.clone();
        let now = self.now();
        let id = ConnectionId::from_random(env.product_type, rand::random());
        self.store
            .write(move |db| {
                if let Some(c) =
                    idempotent_replay(db, &account, "AcceptConnection", token.as_deref(), &hash)?
                {
                    return Ok::<_, ServiceError>(c);
                }
                let p = db
                    .get_proposal(&proposal_id)?
                    .filter(|p| p.grant.key_id == payload.key_id)
                    .ok_or_else(|| ServiceError::not_found("proposal", proposal_id))?;
                if p.state != ProposalState::Open {
                    return Err(ServiceError::Conflict(
                        "this activation key has already been used or its proposal was withdrawn"
                            .into(),
                    ));
                }
                let mine = db
                    .get_attach_point(&ap_id)?
                    .filter(|ap| ap.account_id == account)
                    .ok_or_else(|| ServiceError::not_found("attach point", ap_id))?;
                let theirs = db.get_attach_point(&p.attach_point)?.ok_or_else(|| {
                    ServiceError::Internal("the proposer's attach point is gone".into())
                })?;
                check_joinable(&mine, &theirs)?;
                let routing = validate_routing(routing, &mine)?;
                redeem(db, &payload.key_id, &account, now)?;
                let mut c = Connection {
                    description: description.or(p.description.clone()).unwrap_or_else(|| {
                        Description::parse(&format!("connection {id}")).expect("valid")
                    }),
                    id,
                    seq: 0,
                    shared_id: p.shared_id,
                    owner: account.clone(),
                    owner_attach_point: ap_id,
                    owner_routing: routing,
                    remote_account: Some(p.owner.clone()),
                    remote_attach_point: Some(p.attach_point),
                    remote_routing: Some(p.routing.clone()),
                    initiator: Initiator::Remote,
                    environment: p.environment.clone(),
                    bandwidth: p.bandwidth,
                    pending_bandwidth: None,
                    state: ConnectionState::Pending,
                    state_reason: Some(provisioning_reason()),
                    billing_tier: env.billing_tier,
                    grant: p.grant.clone(),
                    tags,
                    created_at: now,
                    updated_at: now,
                    last_mile: None,
                    link_liveness: None,
                };
                // Both sides become sides of it now.
                super::connections::side_quotas(db, &account, &c)?;
                super::connections::side_quotas(db, &p.owner, &c)?;
                c.seq = db.insert_connection(&c)?;
                if defaults {
                    super::alarms::insert_default_alarms(db, &account, &c.id, now)?;
                }
                db.update_proposal_state(&p.id, ProposalState::Accepted, Some(&c.id))?;
                remember(
                    db,
                    &account,
                    "AcceptConnection",
                    token.as_deref(),
                    hash,
                    &c.id,
                    now,
                )?;
                Ok(c)
            })
            .await
    }
}
