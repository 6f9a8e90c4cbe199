//! PostgreSQL as the store (`xconnect server --database postgres://...`): while the database is
//! down every request is answered 503 with `Retry-After`, never a 500 or a wrong answer; the
//! server takes requests again by itself once it is back, with nothing lost and nothing
//! refused left half-done.
//!
//! Needs PostgreSQL's programs (Debian: `postgresql`; `scripts/test.sh` installs it): each test
//! runs a private cluster of its own, made with initdb in a temporary directory.

mod common;

use common::*;
use std::time::{Duration, Instant};
use xc_store::testing::TestPostgres;

#[tokio::test(flavor = "multi_thread")]
async fn a_database_outage_answers_503_then_service_resumes_with_nothing_lost() {
    let pg = TestPostgres::start_private();
    let db = pg.database();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(dir.path(), &["--database", &db.url]);
    assert!(
        !dir.path().join("xconnect.db").exists(),
        "the server keeps its data in PostgreSQL, not in a SQLite file"
    );
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "a").await;
    let before = attach_point(&a, "before", &["10.1.0.0/16"]).await;

    pg.stop();
    let raw = Raw::new(&server);
    let outage = Instant::now();
    let (mut reads, mut writes) = (0, 0);
    while outage.elapsed() < Duration::from_secs(10) {
        // A read through the AWS protocol: 503 (the model's server error), with Retry-After.
        let (status, headers, body) = raw
            .post(
                "/",
                &[
                    ("content-type", "application/x-amz-json-1.0"),
                    ("x-amz-target", "Interconnect.ListConnections"),
                ],
                b"{}".to_vec(),
                Some(&a.creds),
                time::Duration::ZERO,
            )
            .await;
        assert_eq!(
            status,
            503,
            "a read while the database is down: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(
            headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(|s| s > 0),
            Some(true),
            "a 503 says when to try again"
        );
        reads += 1;
        // A write through the native API: refused as unavailable, with its reason.
        match a
            .client
            .create_attach_point(&xc_types::api::CreateAttachPointRequest {
                name: format!("during-{writes}"),
                prefixes: vec!["10.2.0.0/16".into()],
                asn: None,
            })
            .await
        {
            Err(xc_client::ClientError::Api { status, reason, .. }) => {
                assert_eq!(status, 503);
                assert_eq!(reason.as_deref(), Some("STORAGE_UNAVAILABLE"));
            }
            other => panic!("a write while the database is down: {other:?}"),
        }
        writes += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(reads > 5 && writes > 5, "{reads} reads, {writes} writes");

    pg.start_again();
    let after = eventually(
        Duration::from_secs(60),
        "a write once the database is back",
        || {
            let client = a.client.clone();
            async move {
                client
                    .create_attach_point(&xc_types::api::CreateAttachPointRequest {
                        name: "after".into(),
                        prefixes: vec!["10.3.0.0/16".into()],
                        asn: None,
                    })
                    .await
                    .ok()
            }
        },
    )
    .await;
    let mut names: Vec<(String, String)> = a
        .client
        .list_attach_points()
        .await
        .expect("list")
        .attach_points
        .into_iter()
        .map(|ap| (ap.id.to_string(), ap.name))
        .collect();
    names.sort();
    let mut expected = vec![
        (before, "before".to_owned()),
        (after.id.to_string(), "after".to_owned()),
    ];
    expected.sort();
    assert_eq!(
        names, expected,
        "what was acknowledged is there, nothing refused during the outage is"
    );
}

/// `xconnect store copy` moves a populated installation from SQLite to PostgreSQL: the server
/// on the copy answers the same keys with the same resources, their history and their events,
/// and goes on numbering new ones after the copied. A second copy into the same database is
/// refused, changing nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_copy_moves_an_installation_to_postgres() {
    let pg = TestPostgres::start_private();
    let db = pg.database();
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = format!("sqlite:{}", dir.path().join("xconnect.db").display());
    let mut server = Server::start_with(dir.path(), &["--database", &sqlite]);
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "a").await;
    let b = tenant(&server, &op, "b").await;
    let ap = attach_point(&a, "vpc", &["10.1.0.0/16"]).await;
    let mut req = connection_request("gcp-us-east4", &ap, b.creds.account_id.as_str());
    req.tags = Some([("team".to_owned(), "net".to_owned())].into());
    let created = a.client.create_connection(&req).await.expect("create");
    // What a tenant sees; the connection's history, for its owner (the remote side sees it once
    // it accepts).
    let seen = |t: &Tenant, owner: bool| {
        let client = t.client.clone();
        let id = created.id.to_string();
        async move {
            let mut connections = serde_json::to_value(
                client
                    .list_connections(&Default::default())
                    .await
                    .expect("list"),
            )
            .expect("json");
            // An activation key names the server's URL, which has a new port after the move.
            for c in connections["connections"].as_array_mut().expect("array") {
                c.as_object_mut().expect("object").remove("activationKey");
            }
            let attach_points = client.list_attach_points().await.expect("attach points");
            let history = match owner {
                true => Some(client.connection_events(&id).await.expect("history")),
                false => None,
            };
            let events = client
                .list_events(&Default::default())
                .await
                .expect("events");
            serde_json::json!({
                "connections": connections,
                "attachPoints": serde_json::to_value(attach_points).expect("json"),
                "history": serde_json::to_value(history).expect("json"),
                "events": serde_json::to_value(events).expect("json"),
            })
        }
    };
    let (before_a, before_b) = (seen(&a, true).await, seen(&b, false).await);
    assert!(server.terminate(), "the server stops cleanly");

    let copy = std::process::Command::new(env!("CARGO_BIN_EXE_xconnect"))
        .args(["store", "copy", "--from", &sqlite, "--to", &db.url])
        .output()
        .expect("run store copy");
    let stdout = String::from_utf8_lossy(&copy.stdout);
    assert!(
        copy.status.success(),
        "store copy: {}",
        String::from_utf8_lossy(&copy.stderr)
    );
    assert!(stdout.starts_with("copied "), "{stdout}");

    let server = Server::start_with(dir.path(), &["--database", &db.url]);
    let a = Tenant {
        client: server.client(&a.creds),
        creds: a.creds,
    };
    let b = Tenant {
        client: server.client(&b.creds),
        creds: b.creds,
    };
    assert_eq!(seen(&a, true).await, before_a, "the owner sees what it saw");
    assert_eq!(
        seen(&b, false).await,
        before_b,
        "the remote side sees what it saw"
    );
    // New resources are numbered after the copied ones.
    let second = attach_point(&a, "second", &["10.2.0.0/16"]).await;
    let listed: Vec<String> = a
        .client
        .list_attach_points()
        .await
        .expect("list")
        .attach_points
        .into_iter()
        .map(|ap| ap.id.to_string())
        .collect();
    assert_eq!(listed, [ap, second], "the new one after the copied one");

    // Into a database that holds an installation: refused, nothing changed.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_xconnect"))
        .args(["store", "copy", "--from", &sqlite, "--to", &db.url])
        .output()
        .expect("run store copy");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert!(stderr.contains("not empty"), "{stderr}");
    assert_eq!(
        a.client
            .list_attach_points()
            .await
            .expect("list")
            .attach_points
            .len(),
        2
    );
}

/// The cluster status of `server` (as the operator).
async fn cluster(server: &Server, op: &xc_types::api::Credentials) -> ClusterStatus {
    server
        .client(op)
        .cluster_status()
        .await
        .expect("cluster status")
}

use xc_types::api::cluster::ClusterStatus;

/// Three replicas on one PostgreSQL database serve the same data; one leads at a time. SIGKILL
/// the leader: another takes the lease (with a higher fencing token) and runs the leader's work
/// (a deleted connection still becomes `deleted`), and the CLI shows it.
#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_share_a_database_and_a_killed_leader_is_replaced() {
    let pg = TestPostgres::start_private();
    let db = pg.database();
    let dirs: Vec<tempfile::TempDir> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let mut servers = vec![Server::start_with(dirs[0].path(), &["--database", &db.url])];
    // Every replica seals and unseals with the same master key.
    for d in &dirs[1..] {
        std::fs::copy(
            dirs[0].path().join("master.key"),
            d.path().join("master.key"),
        )
        .expect("copy the master key");
        servers.push(Server::start_with(d.path(), &["--database", &db.url]));
    }
    let op = servers[0].operator();
    let status = eventually(
        Duration::from_secs(30),
        "three replicas and a leader",
        || {
            let s = &servers[0];
            let op = op.clone();
            async move {
                let c = cluster(s, &op).await;
                (c.replicas.len() == 3 && c.leader.is_some()).then_some(c)
            }
        },
    )
    .await;
    assert_eq!(
        status.replicas.iter().filter(|r| r.leader).count(),
        1,
        "{status:?}"
    );
    let addresses: Vec<&str> = status.replicas.iter().map(|r| r.address.as_str()).collect();
    for s in &servers {
        assert!(addresses.contains(&s.endpoint.as_str()), "{addresses:?}");
    }

    // What one replica writes, the others serve.
    let a = tenant(&servers[1], &servers[1].client(&op), "a").await;
    let b = tenant(&servers[2], &servers[2].client(&op), "b").await;
    let ap = attach_point(&a, "vpc", &["10.1.0.0/16"]).await;
    let endpoints: Vec<String> = servers.iter().map(|s| s.endpoint.clone()).collect();
    let on = |i: usize, t: &Tenant| {
        xc_client::Client::new(
            &endpoints[i],
            t.creds.access_key_id.as_str(),
            &t.creds.secret_access_key,
            REGION,
        )
        .expect("client")
    };
    let listed = on(2, &a)
        .list_attach_points()
        .await
        .expect("list on another replica");
    assert_eq!(listed.attach_points.len(), 1);

    // A page token from one replica is good on another (tokens are sealed under the master key
    // every replica has).
    for _ in 0..2 {
        on(0, &a)
            .create_connection(&connection_request(
                "gcp-us-east4",
                &ap,
                b.creds.account_id.as_str(),
            ))
            .await
            .expect("create");
    }
    let first = on(0, &a)
        .list_connections(&xc_types::api::ListConnectionsQuery {
            max_results: Some(1),
            ..Default::default()
        })
        .await
        .expect("first page");
    let second = on(1, &a)
        .list_connections(&xc_types::api::ListConnectionsQuery {
            max_results: Some(1),
            next_token: first.next_token.clone(),
            ..Default::default()
        })
        .await
        .expect("the next page, from another replica");
    assert!(first.next_token.is_some());
    assert_eq!((first.connections.len(), second.connections.len()), (1, 1));
    assert_ne!(first.connections[0].id, second.connections[0].id);

    // SIGKILL the leader.
    let leader = status.leader.clone().expect("leader");
    let leader_address = status
        .replicas
        .iter()
        .find(|r| r.id == leader)
        .map(|r| r.address.clone())
        .expect("the leader's address");
    let dead = servers
        .iter()
        .position(|s| s.endpoint == leader_address)
        .expect("the leader is one of ours");
    let killed = Instant::now();
    servers[dead].kill();
    let survivor = (dead + 1) % 3;
    let after = eventually(Duration::from_secs(30), "another leader", || {
        let s = &servers[survivor];
        let op = op.clone();
        let leader = leader.clone();
        async move {
            let c = cluster(s, &op).await;
            c.leader.as_ref().is_some_and(|l| *l != leader).then_some(c)
        }
    })
    .await;
    eprintln!(
        "a new leader {} after {} ms",
        after.leader.as_deref().unwrap_or_default(),
        killed.elapsed().as_millis()
    );
    assert!(
        after.lease_token > status.lease_token,
        "the fencing token is raised: {:?} then {:?}",
        status.lease_token,
        after.lease_token
    );

    // The new leader runs the leader's work: a deleted connection becomes `deleted`.
    let created = on(survivor, &a)
        .create_connection(&connection_request(
            "gcp-us-east4",
            &ap,
            b.creds.account_id.as_str(),
        ))
        .await
        .expect("create");
    on(survivor, &a)
        .delete_connection(created.id.as_str())
        .await
        .expect("delete");
    eventually(Duration::from_secs(30), "the connection deleted", || {
        let client = on(survivor, &a);
        let id = created.id.to_string();
        async move {
            let events = client.connection_events(&id).await.ok()?;
            events
                .events
                .iter()
                .any(|e| e.state == xc_types::ConnectionState::Deleted)
                .then_some(())
        }
    })
    .await;

    // The CLI's view of it.
    let run = xconnect(&servers[survivor], &op, &["cluster", "status"]);
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stdout.contains("leader"), "{}", run.stdout);
    let json = xconnect(
        &servers[survivor],
        &op,
        &["cluster", "status", "--output", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["leader"], serde_json::json!(after.leader));
    assert!(v["leaseAgeMs"].is_number(), "{v}");
    assert!(v["replicas"][0]["dbLatencyMs"].is_number(), "{v}");
    // A tenant may not look.
    assert!(matches!(
        on(survivor, &a).cluster_status().await,
        Err(xc_client::ClientError::Api { status: 403, .. })
    ));
}
