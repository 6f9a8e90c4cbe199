//! Filter changes tried, not made (`?dryRun=true`): the change runs in a write transaction,
//! every check included, that is always rolled back ([`xc_store::Store::try_write`]); the policy
//! it would leave on each attach point it touches goes to that attach point's gateways, which answer with the tracked flows it would cut
//! (`xc_filter::Filter::would_cut`). A gateway that does not answer within [`ANSWER_WITHIN`] is
//! listed as not answered (its flows unknown, not none).

use super::Service;
use super::wakes::Scope;
use crate::Result;
use std::time::Duration;
use xc_store::{AskKind, Db};
use xc_types::AttachPointId;
use xc_types::api::filters::{FilterDryRun, GatewayCuts};
use xc_types::filter::FilterPolicy;
use xc_types::gateway::{DryRunAnswer, DryRunRequest};

/// How long the gateways have to answer.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// Whether a filter change is made or only tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Apply,
    DryRun,
}

impl Change {
    /// `?dryRun=true`.
    pub fn from_query(dry_run: Option<bool>) -> Self {
        if dry_run == Some(true) {
            Self::DryRun
        } else {
            Self::Apply
        }
    }
}

/// What a tried change would leave: per attach point it touches, its policy and its gateways
/// (id, name).
#[derive(Debug, Clone)]
struct Preview {
    sides: Vec<Side>,
}

/// An attach point, its policy as a change would leave it, and its gateways (id, name).
type Side = (AttachPointId, FilterPolicy, Vec<(String, String)>);

/// The preview of the attach points `aps`, read inside the change's transaction.
fn preview(db: &Db<'_>, aps: &[AttachPointId]) -> Result<Preview> {
    let mut sides = Vec::new();
    for ap in aps {
        let policy = super::filters::policy_of(db, ap)?.unwrap_or_default();
        let gateways = db
            .gateways_of_attach_point(ap)?
            .into_iter()
            .map(|g| (g.id, g.name))
            .collect();
        sides.push((*ap, policy, gateways));
    }
    Ok(Preview { sides })
}

impl Service {
    /// A filter change, `change` in one write transaction returning what it made and the attach
    /// points whose policy it touches. Made: committed, and the gateways are told. Tried: every
    /// check runs, then the transaction is rolled back and the gateways of those attach points
    /// are asked which of their flows the policy it would leave cuts.
    pub(crate) async fn filter_change<T, F>(
        &self,
        mode: Change,
        change: F,
    ) -> Result<(T, Option<FilterDryRun>)>
    where
        T: Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<(T, Vec<AttachPointId>)> + Send + 'static,
    {
        match mode {
            Change::Apply => {
                let (made, _) = self.store.write(change).await?;
                self.config_changed();
                Ok((made, None))
            }
            Change::DryRun => {
                let (tried, preview) = self
                    .store
                    .try_write(move |db| {
                        let (tried, aps) = change(db)?;
                        Ok::<_, crate::ServiceError>((tried, preview(db, &aps)?))
                    })
                    .await?;
                Ok((tried, Some(self.ask_gateways(preview).await)))
            }
        }
    }

    /// Asks each gateway of the preview which of its flows the previewed policy would cut.
    async fn ask_gateways(&self, preview: Preview) -> FilterDryRun {
        let shared = self.store.is_shared();
        let mut asked = Vec::new();
        let mut to_put = Vec::new();
        if let Ok(mut p) = self.tests.lock() {
            for (ap, policy, gateways) in &preview.sides {
                for (gid, name) in gateways {
                    let id = hex::encode(rand::random::<[u8; 8]>());
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let request = DryRunRequest {
                        id: id.clone(),
                        policy: policy.clone(),
                    };
                    if shared {
                        to_put.push((gid.clone(), request));
                    } else {
                        p.dry_runs.entry(gid.clone()).or_default().push(request);
                    }
                    p.dry_run_waiting.insert(id.clone(), tx);
                    asked.push((id, gid.clone(), name.clone(), *ap, rx));
                }
            }
        }
        // On PostgreSQL the gateways may wait on other replicas: the requests go through the
        // database. One that cannot be put is not answered, as a gateway that is away.
        for (gid, request) in to_put {
            if let Err(e) = self
                .put_ask(&gid, AskKind::DryRun, &request.id, &request, ANSWER_WITHIN)
                .await
            {
                tracing::warn!(error = %e, gateway = %gid, "cannot ask a gateway for a dry run");
            }
        }
        // The asked gateways' blocking queries carry the requests.
        self.config_changed_for(Scope::gateways(
            asked.iter().map(|(_, gid, ..)| gid.clone()),
        ));
        let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
        let mut gateways = Vec::new();
        for (id, gid, name, ap, rx) in asked {
            let answer = self.answer_of(&id, rx, deadline).await;
            if let Ok(mut p) = self.tests.lock() {
                p.dry_run_waiting.remove(&id);
                if let Some(list) = p.dry_runs.get_mut(&gid) {
                    list.retain(|r| r.id != id);
                }
            }
            self.drop_ask(&id).await;
            gateways.push(GatewayCuts {
                gateway_id: gid,
                gateway_name: name,
                attach_point_id: ap,
                answered: answer.is_some(),
                total: answer.as_ref().map_or(0, |a| a.total),
                flows: answer.map(|a| a.flows).unwrap_or_default(),
            });
        }
        FilterDryRun { gateways }
    }

    /// A gateway's answer to a dry run (one it was asked: the id is unguessable and the
    /// answer goes only to the request that made it, on whichever replica that waits).
    pub async fn dry_run_answer(&self, gateway_id: &str, answer: DryRunAnswer) -> Result<()> {
        let waiter = self
            .tests
            .lock()
            .ok()
            .and_then(|mut p| p.dry_run_waiting.remove(&answer.id));
        self.deliver(gateway_id, waiter, &answer.id.clone(), answer)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixture::fixture;
    use std::sync::{Arc, Mutex};
    use xc_types::api::events::EventsQuery;
    use xc_types::api::filters::{
        AttachmentRequest, CreateNetworkAclRequest, CreatePrefixListRequest,
        CreateSecurityGroupRequest, SecurityGroupRulesRequest, UpdatePrefixListRequest,
    };
    use xc_types::filter::RuleSpec;
    use xc_types::gateway::CutFlow;

    /// A gateway that answers every dry run it is handed (no flow cut) and keeps the policies
    /// it was shown, newest last.
    fn answering_gateway(
        s: Arc<Service>,
        gw: String,
    ) -> (Arc<Mutex<Vec<FilterPolicy>>>, tokio::task::JoinHandle<()>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                for d in s.take_asks(&gw).await.expect("asks").1 {
                    kept.lock().expect("seen").push(d.policy);
                    s.dry_run_answer(
                        &gw,
                        DryRunAnswer {
                            id: d.id,
                            total: 0,
                            flows: Vec::new(),
                        },
                    )
                    .await
                    .expect("answer");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        (seen, task)
    }

    /// Every filter change that alters a policy can be tried: creating, deleting, attaching and
    /// detaching a group, creating and deleting an ACL, updating a prefix list. Each is checked
    /// as if made (a conflict is still refused), shows the gateway the policy it would leave,
    /// and changes nothing: no resource, no event.
    #[tokio::test]
    async fn every_policy_change_can_be_tried_without_a_trace() {
        let f = fixture().await;
        let s = f.service.clone();
        let (seen, gateway) = answering_gateway(s.clone(), f.gateways.0.clone());
        // The policy the gateway was shown by the latest try (a try that reached no gateway
        // fails here rather than finding the one before's).
        let shown = std::cell::Cell::new(0);
        let last = || {
            let seen = seen.lock().expect("seen");
            assert_eq!(
                seen.len(),
                shown.get() + 1,
                "the try reached the gateway once"
            );
            shown.set(seen.len());
            seen.last().cloned().expect("a policy")
        };
        let events = || async {
            s.list_events(
                &f.owner,
                EventsQuery {
                    since: Some("2000-01-01T00:00:00Z".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("events")
            .events
            .len()
        };
        let (aps, _) = s
            .list_own_attach_points(&f.owner, None, None, "")
            .await
            .expect("list");
        let ap = aps[0].id.to_string();
        let create = || CreateSecurityGroupRequest {
            name: "web".into(),
            attach_point_id: ap.clone(),
            description: None,
        };
        let before = events().await;

        // A group tried: its gateway would hold a group with only the outbound rules.
        let tried = s
            .create_security_group(&f.owner, create(), Change::DryRun)
            .await
            .expect("tried create");
        assert!(
            tried
                .dry_run
                .as_ref()
                .is_some_and(|d| d.gateways[0].answered)
        );
        let p = last();
        assert_eq!(p.security_groups.len(), 1);
        assert!(
            p.security_groups[0]
                .rules
                .iter()
                .all(|r| r.direction == xc_types::filter::Direction::Outbound)
        );
        let none = s.list_security_groups(&f.owner).await.expect("list");
        assert!(none.security_groups.is_empty(), "created nothing");
        assert_eq!(events().await, before, "recorded nothing");

        // Made, then its deletion and its detachment tried: the gateway would hold no group.
        let g = s
            .create_security_group(&f.owner, create(), Change::Apply)
            .await
            .expect("create");
        let gid = g.security_group_id.to_string();
        let before = events().await;
        let deleted = s
            .delete_security_group(&f.owner, &gid, Change::DryRun)
            .await
            .expect("tried delete");
        assert!(!deleted.deleted && deleted.dry_run.is_some(), "{deleted:?}");
        assert!(last().security_groups.is_empty());
        let detach = AttachmentRequest {
            attach_point_id: ap.clone(),
        };
        let detached = s
            .detach_security_group(&f.owner, &gid, detach.clone(), Change::DryRun)
            .await
            .expect("tried detach");
        assert!(detached.attach_point_ids.is_empty() && detached.dry_run.is_some());
        assert!(last().security_groups.is_empty());
        // A tried attach to where it is attached already is refused as the real one would be.
        let again = s
            .attach_security_group(&f.owner, &gid, detach, Change::DryRun)
            .await
            .expect_err("attached already");
        assert!(
            matches!(again, crate::ServiceError::Conflict(_)),
            "{again:?}"
        );
        let still = s.get_security_group(&f.owner, &gid).await.expect("get");
        assert_eq!(still.attach_point_ids.len(), 1, "still attached");
        assert_eq!(events().await, before, "the tries recorded nothing");

        // An ACL tried: the gateway would hold an empty ACL (the implicit deny refuses all).
        let acl_req = || CreateNetworkAclRequest {
            name: "edge".into(),
            attach_point_id: ap.clone(),
        };
        let acl = s
            .create_network_acl(&f.owner, acl_req(), Change::DryRun)
            .await
            .expect("tried ACL");
        assert!(acl.dry_run.is_some());
        assert!(last().network_acl.is_some_and(|a| a.rules.is_empty()));
        let acls = s.list_network_acls(&f.owner).await.expect("list");
        assert!(acls.network_acls.is_empty(), "created nothing");
        let acl = s
            .create_network_acl(&f.owner, acl_req(), Change::Apply)
            .await
            .expect("ACL");
        let before_acl = events().await;
        let deleted = s
            .delete_network_acl(&f.owner, &acl.network_acl_id.to_string(), Change::DryRun)
            .await
            .expect("tried ACL delete");
        assert!(!deleted.deleted);
        assert!(last().network_acl.is_none());
        let acls = s.list_network_acls(&f.owner).await.expect("list");
        assert_eq!(acls.network_acls.len(), 1, "deleted nothing");
        assert_eq!(events().await, before_acl, "the try recorded nothing");

        // A prefix list a rule names, its prefixes replaced in a try.
        let pl = s
            .create_prefix_list(
                &f.owner,
                CreatePrefixListRequest {
                    name: "peers".into(),
                    prefixes: vec!["10.1.0.0/24".into()],
                },
            )
            .await
            .expect("list");
        let plid = pl.prefix_list_id.to_string();
        let rule = RuleSpec {
            direction: "inbound".into(),
            ip_protocol: "tcp".into(),
            from_port: Some(22),
            to_port: Some(22),
            prefix_list_id: Some(plid.clone()),
            ..RuleSpec::default()
        };
        s.authorize_security_group(
            &f.owner,
            &gid,
            SecurityGroupRulesRequest { rules: vec![rule] },
            Change::Apply,
        )
        .await
        .expect("authorize");
        let before_pl = events().await;
        let updated = s
            .update_prefix_list(
                &f.owner,
                &plid,
                UpdatePrefixListRequest {
                    name: None,
                    prefixes: Some(vec!["10.1.9.0/24".into()]),
                },
                Change::DryRun,
            )
            .await
            .expect("tried update");
        assert!(updated.dry_run.is_some());
        assert_eq!(
            updated.prefixes[0].to_string(),
            "10.1.9.0/24",
            "as it would be"
        );
        assert_eq!(
            last().prefix_lists[0].prefixes[0].to_string(),
            "10.1.9.0/24"
        );
        let now = s.get_prefix_list(&f.owner, &plid).await.expect("get");
        assert_eq!(
            now.prefixes[0].to_string(),
            "10.1.0.0/24",
            "changed nothing"
        );
        assert_eq!(events().await, before_pl, "recorded nothing");
        assert!(before_acl > before, "the real changes were recorded");
        gateway.abort();
    }

    /// A tried revoke changes nothing, hands the policy it would leave to the attach point's
    /// gateway, and answers with what the gateway says it would cut.
    #[tokio::test]
    async fn a_dry_run_asks_the_gateways_and_changes_nothing() {
        let f = fixture().await;
        let s = f.service.clone();
        let (aps, _) = s
            .list_own_attach_points(&f.owner, None, None, "")
            .await
            .expect("list");
        let g = s
            .create_security_group(
                &f.owner,
                CreateSecurityGroupRequest {
                    name: "web".into(),
                    attach_point_id: aps[0].id.to_string(),
                    description: None,
                },
                Change::Apply,
            )
            .await
            .expect("group");
        let gid = g.security_group_id.to_string();
        let outbound = g.rules[0].id.to_string();
        // The gateway: takes the dry run with its next configuration answer and answers it.
        let gateway = {
            let (s, gw) = (s.clone(), f.gateways.0.clone());
            tokio::spawn(async move {
                loop {
                    if let Some(d) = s.take_asks(&gw).await.expect("asks").1.pop() {
                        assert!(
                            d.policy.security_groups[0].rules.len() == 1,
                            "the policy as the revoke would leave it: {d:?}"
                        );
                        let answer = DryRunAnswer {
                            id: d.id,
                            total: 1,
                            flows: vec![CutFlow {
                                protocol: 6,
                                srcaddr: "10.0.0.5".parse().expect("addr"),
                                dstaddr: "10.1.0.5".parse().expect("addr"),
                                srcport: 40000,
                                dstport: 443,
                                direction: xc_types::filter::Direction::Outbound,
                                idle_secs: 0,
                            }],
                        };
                        s.dry_run_answer(&gw, answer).await.expect("answer");
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        let revoke = SecurityGroupRulesRequest {
            rules: vec![RuleSpec {
                rule_id: Some(outbound.clone()),
                ..RuleSpec::default()
            }],
        };
        let tried = s
            .revoke_security_group(&f.owner, &gid, revoke, Change::DryRun)
            .await
            .expect("dry run");
        gateway.await.expect("the gateway answered");
        assert_eq!(tried.rules.len(), 1, "the group as it would be");
        let d = tried.dry_run.expect("a dry run's answer");
        assert_eq!(d.gateways.len(), 1);
        assert!(d.gateways[0].answered);
        assert_eq!(d.gateways[0].flows[0].dstport, 443);
        let now = s.get_security_group(&f.owner, &gid).await.expect("get");
        assert_eq!(now.rules.len(), 2, "nothing was changed");
        assert_eq!(now.dry_run, None);
    }
}
