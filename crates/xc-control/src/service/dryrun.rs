//! Filter changes tried, not made (`?dryRun=true`): the change runs in its write transaction,
//! every check included, and is rolled back; the policy it would leave on each attach point it
//! touches goes to that attach point's gateways, which answer with the tracked flows it would cut
//! (`xc_filter::Filter::would_cut`). A gateway that does not answer within [`ANSWER_WITHIN`] is
//! listed as not answered (its flows unknown, not none).

use super::Service;
use crate::Result;
use std::time::Duration;
use xc_store::Db;
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
pub(crate) struct Preview {
    sides: Vec<Side>,
}

/// An attach point, its policy as a change would leave it, and its gateways (id, name).
type Side = (AttachPointId, FilterPolicy, Vec<(String, String)>);

/// The preview of the attach points `aps`, read inside the change's transaction.
pub(crate) fn preview(db: &Db<'_>, aps: &[AttachPointId]) -> Result<Preview> {
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

/// The marker error that rolls a tried change back (the preview travels beside it).
pub(crate) fn roll_back() -> crate::ServiceError {
    crate::ServiceError::Internal("a dry run rolls its change back".into())
}

impl Service {
    /// Asks each gateway of the preview which of its flows the previewed policy would cut.
    pub(crate) async fn ask_gateways(&self, preview: Preview) -> FilterDryRun {
        let mut asked = Vec::new();
        if let Ok(mut p) = self.tests.lock() {
            for (ap, policy, gateways) in &preview.sides {
                for (gid, name) in gateways {
                    let id = hex::encode(rand::random::<[u8; 8]>());
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    p.dry_runs
                        .entry(gid.clone())
                        .or_default()
                        .push(DryRunRequest {
                            id: id.clone(),
                            policy: policy.clone(),
                        });
                    p.dry_run_waiting.insert(id.clone(), tx);
                    asked.push((id, gid.clone(), name.clone(), *ap, rx));
                }
            }
        }
        self.config_changed();
        let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
        let mut gateways = Vec::new();
        for (id, gid, name, ap, rx) in asked {
            let answer = tokio::time::timeout_at(deadline, rx)
                .await
                .ok()
                .and_then(|r| r.ok());
            if let Ok(mut p) = self.tests.lock() {
                p.dry_run_waiting.remove(&id);
                if let Some(list) = p.dry_runs.get_mut(&gid) {
                    list.retain(|r| r.id != id);
                }
            }
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

    /// The dry runs waiting for a gateway (handed over with its next configuration answer).
    pub fn take_dry_runs(&self, gateway_id: &str) -> Vec<DryRunRequest> {
        self.tests
            .lock()
            .ok()
            .and_then(|mut p| p.dry_runs.remove(gateway_id))
            .unwrap_or_default()
    }

    /// A gateway's answer to a dry run (one it was asked: the id is unguessable and the
    /// answer goes only to the request that made it).
    pub fn dry_run_answer(&self, answer: DryRunAnswer) {
        if let Ok(mut p) = self.tests.lock()
            && let Some(tx) = p.dry_run_waiting.remove(&answer.id)
        {
            let _ = tx.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixture::fixture;
    use xc_types::api::filters::{CreateSecurityGroupRequest, SecurityGroupRulesRequest};
    use xc_types::filter::RuleSpec;
    use xc_types::gateway::CutFlow;

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
                    if let Some(d) = s.take_dry_runs(&gw).pop() {
                        assert!(
                            d.policy.security_groups[0].rules.len() == 1,
                            "the policy as the revoke would leave it: {d:?}"
                        );
                        s.dry_run_answer(DryRunAnswer {
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
                        });
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
