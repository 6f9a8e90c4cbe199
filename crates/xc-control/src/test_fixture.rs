//! A service on a temporary database with a hand-moved clock: two tenants, an attach point
//! and a registered gateway each, and an accepted connection between them.

use crate::{Caller, Catalog, ManualClock, Secrets, Service, ServiceConfig};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use xc_types::api::*;
use xc_types::gateway::{RegisterRequest, TokenRequest};
use xc_types::*;

pub(crate) struct Fixture {
    pub(crate) service: Arc<Service>,
    pub(crate) connection: ConnectionId,
    /// The owner's and the remote side's gateway.
    pub(crate) gateways: (String, String),
    pub(crate) owner: Caller,
    pub(crate) remote: Caller,
    pub(crate) operator: Caller,
    pub(crate) clock: Arc<ManualClock>,
    /// The database: SQLite, or PostgreSQL with `XC_TEST_DATABASE=postgres`.
    pub(crate) db: xc_store::testing::Fresh,
}

pub(crate) fn caller(c: &Credentials, name: &str) -> Caller {
    Caller {
        account: c.account_id.clone(),
        account_name: name.into(),
        key: c.access_key_id.clone(),
        role: KeyRole::Admin,
    }
}

pub(crate) async fn register(
    service: &Service,
    who: &Caller,
    ap: &AttachPoint,
    name: &str,
) -> String {
    let token = service
        .create_gateway_token(
            who,
            TokenRequest {
                attach_point_id: Some(ap.id.to_string()),
                facility: None,
            },
        )
        .await
        .expect("token");
    service
        .register_gateway(RegisterRequest {
            token: token.token,
            name: name.into(),
            underlay_address: "10.200.0.1".into(),
            version: "test".into(),
            access_interface: None,
        })
        .await
        .expect("register")
        .response
        .gateway_id
}

/// Two tenants, an attach point and a gateway each, and an accepted connection between them.
pub(crate) async fn fixture() -> Fixture {
    fixture_at(1_800_000_000, Catalog::default_catalog()).await
}

/// [`fixture`] on SQLite whatever `XC_TEST_DATABASE` asks, for the tests that run a hundred
/// thousand plans: the same statements as everywhere else, but a network round trip each on
/// PostgreSQL makes them take far longer than a test may.
pub(crate) async fn fixture_on_sqlite() -> Fixture {
    on(
        xc_store::testing::Fresh::sqlite(),
        1_800_000_000,
        Catalog::default_catalog(),
    )
    .await
}

/// The configuration of a fixture's service.
pub(crate) fn config() -> ServiceConfig {
    ServiceConfig {
        region: "us-east-1".into(),
        endpoint: "http://test".into(),
        key_lifetime_secs: 3600,
        webhook_allow: vec!["127.0.0.0/8".parse().expect("network")],
        rate_limits: Default::default(),
        audit_retention_secs: crate::DEFAULT_AUDIT_RETENTION_SECS,
    }
}

/// [`fixture`] with its clock at `now` and `catalog`.
pub(crate) async fn fixture_at(now: i64, catalog: Catalog) -> Fixture {
    on(xc_store::testing::Fresh::new(), now, catalog).await
}

async fn on(db: xc_store::testing::Fresh, now: i64, catalog: Catalog) -> Fixture {
    let store = Arc::new(db.open());
    let clock = Arc::new(ManualClock::default());
    clock.0.store(now, Ordering::SeqCst);
    let service = Service::new(
        store,
        catalog,
        Secrets::from_master(&[9; 32]),
        config(),
        clock.clone(),
    )
    .await
    .expect("service");
    let op = service.ensure_operator().await.expect("op").expect("new");
    let op = caller(&op, "operator");
    let a = caller(&service.create_account(&op, "a").await.expect("a"), "a");
    let b = caller(&service.create_account(&op, "b").await.expect("b"), "b");
    let mut aps = Vec::new();
    for (who, prefix, asn) in [(&a, "10.0.0.0/16", 64_512), (&b, "10.1.0.0/16", 64_513)] {
        aps.push(
            service
                .create_attach_point(
                    who,
                    CreateAttachPointRequest {
                        name: format!("ap-{}", who.account_name),
                        prefixes: vec![prefix.into()],
                        asn: Some(asn),
                    },
                )
                .await
                .expect("attach point"),
        );
    }
    let ga = register(&service, &a, &aps[0], "gw-a").await;
    let gb = register(&service, &b, &aps[1], "gw-b").await;
    let c = service
        .create_connection(
            &a,
            CreateConnectionRequest {
                default_alarms: None,
                environment_id: "gcp-us-west1".into(),
                bandwidth: "1Gbps".into(),
                attach_point: aps[0].id.to_string(),
                remote_account: Some(b.account.to_string()),
                description: None,
                tags: None,
                routing_policy: None,
                client_token: None,
                last_mile: None,
            },
        )
        .await
        .expect("create");
    service
        .accept(
            &b,
            AcceptConnectionRequest {
                default_alarms: None,
                activation_key: c.activation_key.clone().expect("key"),
                attach_point: aps[1].id.to_string(),
                routing_policy: None,
                description: None,
                tags: None,
                client_token: None,
            },
        )
        .await
        .expect("accept");
    Fixture {
        service,
        connection: c.connection.id,
        gateways: (ga, gb),
        operator: op,
        owner: a,
        remote: b,
        clock,
        db,
    }
}

impl Fixture {
    /// Runs a reconciler pass, which must plan something, and returns the connection's links.
    pub(crate) async fn planned_links(&self) -> Vec<xc_types::gateway::LinkRecord> {
        assert!(self.service.reconcile_pass().await.expect("plan"));
        self.links().await
    }

    /// The connection's links, as stored.
    pub(crate) async fn links(&self) -> Vec<xc_types::gateway::LinkRecord> {
        let key = self.connection.clone();
        self.service
            .store
            .read(move |db| Ok::<_, crate::ServiceError>(db.links_of_connection(&key)?))
            .await
            .expect("links")
    }
}
