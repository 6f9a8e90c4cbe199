//! The reconciler with a real store: plans written with their numbers, guarded by the snapshot
//! they came from, and numbers that come back. The 100,000-cycle test is the one that used to
//! end with "has no registered gateway" once 32,767 links had been planned.

use super::*;
use crate::test_fixture::{Fixture, fixture};
use std::collections::BTreeSet;
use xc_types::gateway::Pool;

fn facilities(service: &Service) -> BTreeMap<EnvironmentId, Vec<String>> {
    service
        .catalog
        .environments()
        .iter()
        .map(|e| (e.id.clone(), e.facilities.clone()))
        .collect()
}

async fn links(f: &Fixture) -> Vec<LinkRecord> {
    let id = f.connection.clone();
    f.service
        .store
        .read(move |db| Ok::<_, ServiceError>(db.links_of_connection(&id)?))
        .await
        .expect("links")
}

#[tokio::test]
async fn a_hundred_thousand_plans_and_removals_leave_the_pools_as_they_were() {
    let f = crate::test_fixture::fixture_on_sqlite().await;
    let fac = facilities(&f.service);
    let now = f.service.now();
    let id = f.connection.clone();
    let mut vnis = BTreeSet::new();
    for _ in 0..100 {
        let (fac, id) = (fac.clone(), id.clone());
        let seen = f
            .service
            .store
            .write(move |db| {
                let mut seen = BTreeSet::new();
                for _ in 0..1_000 {
                    let world = snapshot(db, now, &fac)?;
                    let plan = planner::plan(&world);
                    apply(db, &world, &planned(&world, plan))?;
                    for l in db.links_of_connection(&id)? {
                        seen.insert((l.numbers.vni, l.numbers.port, l.numbers.v4));
                        db.delete_link(l.id)?;
                    }
                }
                Ok::<_, ServiceError>(seen)
            })
            .await
            .expect("cycles");
        vnis.extend(seen);
    }
    assert_eq!(
        vnis.into_iter().collect::<Vec<_>>(),
        vec![(1, 10_001, 1)],
        "every cycle took the same, lowest numbers"
    );
    let held = f
        .service
        .store
        .read(|db| Ok::<_, ServiceError>(db.numbers_held()?))
        .await
        .expect("held");
    assert_eq!(held, 0, "every number went back to its pool");
    // And afterwards, a connection still gets its link.
    assert!(f.service.reconcile_pass().await.expect("pass"));
    let l = links(&f).await;
    assert_eq!(l.len(), 1);
    assert!(l[0].id > 100_000, "ids are never reused: {}", l[0].id);
    assert_eq!((l[0].numbers.vni, l[0].numbers.port), (1, 10_001));
    assert_eq!(l[0].name(), "l1");
    let c = f
        .service
        .get_connection(&f.owner, f.connection.as_str())
        .await
        .expect("get");
    assert_eq!(
        c.connection.state_reason.map(|r| r.code),
        Some(StateReasonCode::GatewayUnreachable),
        "the link waits for its gateways' reports"
    );
}

#[tokio::test]
async fn an_exhausted_pool_says_so_and_a_returned_number_is_used_again() {
    let f = crate::test_fixture::fixture_on_sqlite().await;
    let (ga, _) = f.gateways.clone();
    // Other links of gateway A hold every UDP port.
    let connection = f.connection.clone();
    let filler = f
        .service
        .store
        .write(move |db| {
            let mut ids = Vec::new();
            for i in 0..Pool::Port.range().count() {
                let new = NewLink {
                    connection: connection.clone(),
                    gateway_a: ga.clone(),
                    gateway_b: format!("elsewhere-{i}"),
                    slot: 0,
                    created_at: 0,
                };
                let l = db.insert_link(&new)?.expect("numbers left");
                ids.push(l.id);
            }
            let last = NewLink {
                connection: connection.clone(),
                gateway_a: ga.clone(),
                gateway_b: "one-more".into(),
                slot: 0,
                created_at: 0,
            };
            assert_eq!(db.insert_link(&last)?, Err(Pool::Port));
            for id in &ids {
                db.delete_link(*id)?;
            }
            // Hold them again, from links of another connection (the planner ignores those).
            let mut held = Vec::new();
            for i in 0..Pool::Port.range().count() {
                let new = NewLink {
                    connection: ConnectionId::parse("mcc-ffffffff").expect("id"),
                    gateway_a: ga.clone(),
                    gateway_b: format!("elsewhere-{i}"),
                    slot: 0,
                    created_at: 0,
                };
                held.push(db.insert_link(&new)?.expect("numbers left"));
            }
            Ok::<_, ServiceError>(held)
        })
        .await
        .expect("fill");
    f.service.reconcile_pass().await.expect("pass");
    assert!(links(&f).await.is_empty(), "no number, no link");
    let c = f
        .service
        .get_connection(&f.owner, f.connection.as_str())
        .await
        .expect("get");
    let reason = c.connection.state_reason.expect("a reason");
    assert_eq!(reason.code, StateReasonCode::AddressPoolExhausted);
    assert!(
        reason
            .message
            .contains("gw-a and gw-b have no UDP ports left"),
        "{}",
        reason.message
    );
    // One link elsewhere goes: its port is the one the connection gets.
    let freed = filler[1234].clone();
    f.service
        .store
        .write(move |db| Ok::<_, ServiceError>(db.delete_link(freed.id)?))
        .await
        .expect("free");
    f.service.reconcile_pass().await.expect("pass");
    let l = links(&f).await;
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].numbers.port, filler[1234].numbers.port);
}

#[tokio::test]
async fn a_connection_that_changed_since_the_snapshot_is_left_for_the_next_pass() {
    let f = fixture().await;
    let fac = facilities(&f.service);
    let now = f.service.now();
    let world = f
        .service
        .store
        .read(move |db| snapshot(db, now, &fac))
        .await
        .expect("snapshot");
    let plan = planner::plan(&world);
    assert_eq!(plan.connections.len(), 1);
    // The owner deletes the connection between the snapshot and the write.
    f.service
        .delete_connection(&f.owner, f.connection.as_str(), None)
        .await
        .expect("delete");
    let applied = f
        .service
        .store
        .write(move |db| apply(db, &world, &planned(&world, plan)))
        .await
        .expect("apply");
    assert_eq!(
        applied,
        Applied {
            concerned: Default::default(),
            skipped: 1
        }
    );
    assert!(
        links(&f).await.is_empty(),
        "no link for a deleted connection"
    );
}

#[tokio::test]
async fn keys_never_follow_the_numbers() {
    let f = fixture().await;
    let (ga, _) = f.gateways.clone();
    f.service.reconcile_pass().await.expect("pass");
    let (_, first) = f.service.gateway_config(&ga).await.expect("config");
    let old = links(&f).await;
    let old_id = old[0].id;
    f.service
        .store
        .write(move |db| Ok::<_, ServiceError>(db.delete_link(old_id)?))
        .await
        .expect("remove");
    f.service.reconcile_pass().await.expect("pass");
    let (_, second) = f.service.gateway_config(&ga).await.expect("config");
    let (a, b) = (&first.link[0], &second.link[0]);
    assert_eq!(
        (a.vni, &a.name, &a.underlay_local),
        (b.vni, &b.name, &b.underlay_local)
    );
    assert_ne!(a.id, b.id, "a new link");
    assert_ne!(a.cak, b.cak, "a new link never gets the old link's CAK");
    assert_ne!(a.ckn, b.ckn);
    assert_eq!(b.id, Some(old_id + 1));
}

/// A plan wakes the gateways at the ends of its links and no other; so does a change of an
/// attach point's prefixes. A third gateway, on an attach point with no connection, sleeps
/// through both (at 5,000 gateways, each needless wake is a configuration read).
#[tokio::test]
async fn a_change_wakes_only_the_gateways_it_concerns() {
    use crate::service::wakes::Scope;
    use std::time::Duration;
    use xc_types::api::{CreateAttachPointRequest, UpdateAttachPointRequest};
    let f = fixture().await;
    let (ga, gb) = f.gateways.clone();
    let idle = f
        .service
        .create_attach_point(
            &f.owner,
            CreateAttachPointRequest {
                name: "idle".into(),
                prefixes: vec!["10.9.0.0/16".into()],
                asn: Some(64_520),
            },
        )
        .await
        .expect("attach point");
    let gc = crate::test_fixture::register(&f.service, &f.owner, &idle, "gw-c").await;
    let concerned = crate::reconciler::reconcile(&f.service)
        .await
        .expect("pass");
    assert_eq!(concerned, BTreeSet::from([ga.clone(), gb.clone()]));

    async fn woken(service: &Service, gateway: &str, change: impl std::future::Future) -> bool {
        let mut w = service.config_waiter();
        w.read();
        change.await;
        tokio::time::timeout(Duration::from_millis(200), w.wait(gateway))
            .await
            .is_ok()
    }
    let plan_change = || async {
        f.service
            .config_changed_for(Scope::gateways(concerned.clone()))
    };
    assert!(woken(&f.service, &gb, plan_change()).await);
    assert!(!woken(&f.service, &gc, plan_change()).await);
    let ap = f
        .service
        .store
        .read({
            let id = f.connection.clone();
            move |db| Ok::<_, ServiceError>(db.get_connection(&id)?.expect("c").owner_attach_point)
        })
        .await
        .expect("read");
    let prefixes = |p: &str| UpdateAttachPointRequest {
        name: None,
        prefixes: Some(vec![p.into()]),
    };
    let update = |p: &'static str| {
        let (service, owner) = (f.service.clone(), f.owner.clone());
        async move {
            service
                .update_attach_point(&owner, &ap.to_string(), prefixes(p))
                .await
                .expect("update")
        }
    };
    assert!(
        woken(&f.service, &gb, update("10.0.0.0/17")).await,
        "the peer accepts the new prefixes"
    );
    assert!(
        woken(&f.service, &ga, update("10.0.0.0/16")).await,
        "its own gateway announces them"
    );
    assert!(!woken(&f.service, &gc, update("10.0.0.0/17")).await);
}
