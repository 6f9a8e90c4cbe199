//! Restart safety: SIGKILL the server in the middle of a burst of creates, restart it on the same
//! data dir: every create that was answered 200 is there, none twice.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use xc_types::api::{CreateConnectionRequest, ListConnectionsQuery};

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_creates_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start_in(dir.path());
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "burst").await;
    // Hundreds of connections: more than an account's default quotas allow.
    for quota in [
        xc_types::api::quotas::QuotaName::ConnectionsPerEnvironment,
        xc_types::api::quotas::QuotaName::BandwidthMbps,
    ] {
        op.set_quota(&xc_types::api::quotas::SetQuotaRequest {
            account_id: a.creds.account_id.to_string(),
            quota,
            value: Some(100_000_000),
        })
        .await
        .expect("raise the quota");
    }
    let b = tenant(&server, &op, "peer").await;
    let ap = attach_point(&a, "vpc", &["10.9.0.0/16"]).await;

    let answered = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..16 {
        let client = a.client.clone();
        let ap = ap.clone();
        let remote = b.creds.account_id.to_string();
        let answered = answered.clone();
        workers.push(tokio::spawn(async move {
            let mut acked: Vec<(String, String)> = Vec::new();
            for n in 0.. {
                let description = format!("burst {w} {n}");
                let req = CreateConnectionRequest {
                    default_alarms: None,
                    environment_id: "gcp-us-east4".into(),
                    bandwidth: "1Gbps".into(),
                    attach_point: ap.clone(),
                    remote_account: Some(remote.clone()),
                    description: Some(description.clone()),
                    tags: None,
                    routing_policy: None,
                    client_token: None,
                    last_mile: None,
                };
                match client.create_connection(&req).await {
                    Ok(c) => {
                        acked.push((c.id.to_string(), description));
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    // The server is gone: this worker is done.
                    Err(_) => break,
                }
            }
            acked
        }));
    }
    eventually(Duration::from_secs(60), "300 answered creates", || {
        let n = answered.load(Ordering::SeqCst);
        async move { (n >= 300).then_some(()) }
    })
    .await;
    server.kill();
    let mut acked = Vec::new();
    for w in workers {
        acked.extend(w.await.expect("worker"));
    }
    assert!(acked.len() >= 300);

    let server = Server::start_in(dir.path());
    let client = server.client(&a.creds);
    let mut stored: Vec<(String, String)> = Vec::new();
    let mut q = ListConnectionsQuery::default();
    loop {
        let page = client
            .list_connections(&q)
            .await
            .expect("list after restart");
        stored.extend(
            page.connections
                .into_iter()
                .map(|c| (c.id.to_string(), c.description)),
        );
        match page.next_token {
            Some(t) => q.next_token = Some(t),
            None => break,
        }
    }
    let by_id: BTreeMap<&str, &str> = stored
        .iter()
        .map(|(i, d)| (i.as_str(), d.as_str()))
        .collect();
    assert_eq!(by_id.len(), stored.len(), "an id is listed twice");
    let descriptions: BTreeSet<&str> = stored.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(
        descriptions.len(),
        stored.len(),
        "a create was stored twice"
    );
    for (id, description) in &acked {
        assert_eq!(
            by_id.get(id.as_str()),
            Some(&description.as_str()),
            "acknowledged create {id} was lost"
        );
    }
    // Unanswered creates may or may not have landed, but nothing beyond one per in-flight worker.
    assert!(
        stored.len() <= acked.len() + 16,
        "{} stored, {} acknowledged",
        stored.len(),
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_shuts_down_gracefully_and_state_survives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start_in(dir.path());
    let operator = server.operator();
    let op = server.client(&operator);
    let t = tenant(&server, &op, "graceful").await;
    assert!(server.terminate(), "the server exits 0 on SIGTERM");
    // The operator credentials are not rewritten on restart; the tenant's key still works.
    let server = Server::start_in(dir.path());
    assert_eq!(server.operator().access_key_id, operator.access_key_id);
    let me = server
        .client(&t.creds)
        .whoami()
        .await
        .expect("whoami after restart");
    assert_eq!(me.account_name, "graceful");
}
