//! Time-dependent rules, on an in-process service with a temporary database and a hand-moved
//! clock: activation keys expire (refused, nothing changes) and the lifecycle driver fails the
//! expired request with ACTIVATION_KEY_EXPIRED; deleted connections leave listings after a day;
//! console sessions end after 12 hours, and at once when their key is disabled.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use xc_control::*;
use xc_types::api::*;
use xc_types::*;

struct Fixture {
    service: Arc<Service>,
    clock: Arc<ManualClock>,
    _db: xc_store::testing::Fresh,
}

async fn fixture() -> Fixture {
    let db = xc_store::testing::Fresh::new();
    let store = Arc::new(db.open());
    let clock = Arc::new(ManualClock::default());
    clock.0.store(1_800_000_000, Ordering::SeqCst);
    let config = ServiceConfig {
        region: "us-east-1".into(),
        endpoint: "http://test".into(),
        key_lifetime_secs: 3600,
        webhook_allow: vec!["127.0.0.0/8".parse().expect("network")],
        rate_limits: Default::default(),
        audit_retention_secs: xc_control::DEFAULT_AUDIT_RETENTION_SECS,
    };
    let service = Service::new(
        store,
        Catalog::default_catalog(),
        Secrets::from_master(&[9; 32]),
        config,
        clock.clone(),
    )
    .await
    .expect("service");
    Fixture {
        service,
        clock,
        _db: db,
    }
}

/// Where the test's sign-ins come from.
const HOME: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn caller(c: &Credentials, name: &str) -> Caller {
    Caller {
        account: c.account_id.clone(),
        account_name: name.into(),
        key: c.access_key_id.clone(),
        role: KeyRole::Admin,
    }
}

#[tokio::test]
async fn expired_keys_are_refused_and_the_request_fails_with_a_reason() {
    let f = fixture().await;
    let op_creds = f
        .service
        .ensure_operator()
        .await
        .expect("op")
        .expect("created");
    assert!(
        f.service.ensure_operator().await.expect("op").is_none(),
        "created once"
    );
    let op = caller(&op_creds, "operator");
    let a = caller(&f.service.create_account(&op, "a").await.expect("a"), "a");
    let b = caller(&f.service.create_account(&op, "b").await.expect("b"), "b");
    let ap_a = f
        .service
        .create_attach_point(
            &a,
            CreateAttachPointRequest {
                name: "a".into(),
                prefixes: vec!["10.0.0.0/16".into()],
                asn: None,
            },
        )
        .await
        .expect("ap a");
    let ap_b = f
        .service
        .create_attach_point(
            &b,
            CreateAttachPointRequest {
                name: "b".into(),
                prefixes: vec!["10.1.0.0/16".into()],
                asn: None,
            },
        )
        .await
        .expect("ap b");
    let c = f
        .service
        .create_connection(
            &a,
            CreateConnectionRequest {
                default_alarms: None,
                environment_id: "gcp-us-west1".into(),
                bandwidth: "10Gbps".into(),
                attach_point: ap_a.id.to_string(),
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
    let key = c.activation_key.clone().expect("owner sees the key");

    // One second before expiry the key still describes; at expiry it is refused.
    f.clock.0.fetch_add(3599, Ordering::SeqCst);
    f.service
        .describe_proposal(&b, &key)
        .await
        .expect("still valid");
    f.clock.0.fetch_add(1, Ordering::SeqCst);
    let accept = AcceptConnectionRequest {
        default_alarms: None,
        activation_key: key.clone(),
        attach_point: ap_b.id.to_string(),
        routing_policy: None,
        description: None,
        tags: None,
        client_token: None,
    };
    let e = f.service.accept(&b, accept).await.expect_err("expired");
    assert!(e.to_string().contains("ACTIVATION_KEY_EXPIRED"), "{e}");
    assert!(
        e.to_string().contains("expired at 2027-01-15T09:00:00Z"),
        "{e}"
    );
    let still = f
        .service
        .get_connection(&a, c.connection.id.as_str())
        .await
        .expect("get");
    assert_eq!(
        still.connection.state,
        ConnectionState::Requested,
        "a refused key changes nothing"
    );

    assert_eq!(f.service.lifecycle_pass().await.expect("pass"), 1);
    let failed = f
        .service
        .get_connection(&a, c.connection.id.as_str())
        .await
        .expect("get");
    assert_eq!(failed.connection.state, ConnectionState::Failed);
    assert_eq!(
        failed.connection.state_reason.expect("reason").code,
        xc_types::StateReasonCode::ActivationKeyExpired
    );

    // Deleted connections are listed for a day, then only readable by id.
    f.service
        .delete_connection(&a, c.connection.id.as_str(), None)
        .await
        .expect("delete");
    f.service.lifecycle_pass().await.expect("pass");
    let listed = |svc: Arc<Service>, who: Caller| async move {
        svc.list_connections(&who, ListConnectionsInput::default())
            .await
            .expect("list")
            .0
            .len()
    };
    assert_eq!(listed(f.service.clone(), a.clone()).await, 1);
    f.clock
        .0
        .fetch_add(DELETED_VISIBLE_SECS + 1, Ordering::SeqCst);
    assert_eq!(listed(f.service.clone(), a.clone()).await, 0);
    let gone = f
        .service
        .get_connection(&a, c.connection.id.as_str())
        .await
        .expect("still readable by id");
    assert_eq!(gone.connection.state, ConnectionState::Deleted);
}

#[tokio::test]
async fn secrets_never_appear_in_debug_output() {
    let f = fixture().await;
    let creds = f
        .service
        .ensure_operator()
        .await
        .expect("op")
        .expect("created");
    let dbg = format!("{creds:?} {:?}", f.service);
    assert!(!dbg.contains(&creds.secret_access_key), "{dbg}");
}

#[tokio::test]
async fn console_sessions_expire_and_follow_their_key() {
    let f = fixture().await;
    let op_creds = f
        .service
        .ensure_operator()
        .await
        .expect("op")
        .expect("created");
    let op = caller(&op_creds, "operator");
    let a = f.service.create_account(&op, "a").await.expect("a");
    let e = f
        .service
        .sign_in(a.access_key_id.as_str(), "not-the-secret", HOME)
        .await
        .expect_err("a wrong secret");
    assert!(e.to_string().contains("wrong secret"), "{e}");
    let s = f
        .service
        .sign_in(a.access_key_id.as_str(), &a.secret_access_key, HOME)
        .await
        .expect("sign in");
    assert!(
        !format!("{s:?}").contains(&s.token),
        "the token stays out of Debug"
    );
    let who = f.service.session(&s.token).await.expect("session");
    assert_eq!(who.map(|c| c.account), Some(a.account_id.clone()));
    // The CSRF token belongs to its session only.
    assert!(f.service.csrf_ok(&s.token, &s.csrf));
    assert!(!f.service.csrf_ok(&s.token, "forged"));
    let other = f
        .service
        .sign_in(a.access_key_id.as_str(), &a.secret_access_key, HOME)
        .await
        .expect("another");
    assert!(!f.service.csrf_ok(&other.token, &s.csrf));
    // A tampered token is nobody's.
    let mut bad = s.token.clone();
    bad.insert(10, 'x');
    assert!(f.service.session(&bad).await.expect("checked").is_none());
    assert!(
        f.service
            .session("xcs2.garbage")
            .await
            .expect("checked")
            .is_none()
    );
    // Signing out ends that session, not the others.
    assert!(f.service.sign_out(&other.token).await.expect("sign out"));
    assert!(
        f.service
            .session(&other.token)
            .await
            .expect("checked")
            .is_none()
    );
    // Disabling the key ends its sessions for good: enabling it again revives none.
    f.service
        .change_access_key(&op, a.access_key_id.as_str(), Some(KeyStatus::Inactive))
        .await
        .expect("disable");
    assert!(
        f.service
            .session(&s.token)
            .await
            .expect("checked")
            .is_none()
    );
    f.service
        .change_access_key(&op, a.access_key_id.as_str(), Some(KeyStatus::Active))
        .await
        .expect("enable");
    assert!(
        f.service
            .session(&s.token)
            .await
            .expect("checked")
            .is_none()
    );
    // A new session lasts 12 hours.
    let s = f
        .service
        .sign_in(a.access_key_id.as_str(), &a.secret_access_key, HOME)
        .await
        .expect("sign in again");
    assert!(
        f.service
            .session(&s.token)
            .await
            .expect("checked")
            .is_some()
    );
    f.clock.0.fetch_add(SESSION_SECS + 1, Ordering::SeqCst);
    assert!(
        f.service
            .session(&s.token)
            .await
            .expect("checked")
            .is_none()
    );
}
