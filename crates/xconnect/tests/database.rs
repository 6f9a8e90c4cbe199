//! PostgreSQL as the store (`xconnect server --database postgres://...`): while the database is
//! down every request is answered 503 with `Retry-After`, never a 500 or a wrong answer; the
//! server takes requests again by itself once it is back, with nothing lost and nothing
//! refused left half-done.
//!
//! Needs PostgreSQL's programs (Debian: `postgresql`; `scripts/test.sh` installs it): each test
//! runs a private cluster of its own, made with initdb in a temporary directory.

mod common;
#[path = "common/sim.rs"]
mod sim;

use common::*;
use sim::SimGateway;
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

/// `n` replicas on the database at `url`, each with a data directory of its own and the same
/// master key (every replica seals and unseals with it).
fn replicas(url: &str, n: usize) -> (Vec<tempfile::TempDir>, Vec<Server>) {
    let dirs: Vec<tempfile::TempDir> = (0..n)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let mut servers = vec![Server::start_with(dirs[0].path(), &["--database", url])];
    for d in &dirs[1..] {
        std::fs::copy(
            dirs[0].path().join("master.key"),
            d.path().join("master.key"),
        )
        .expect("copy the master key");
        servers.push(Server::start_with(d.path(), &["--database", url]));
    }
    (dirs, servers)
}

/// What three replicas run on: a private PostgreSQL cluster, a database in it, and their data
/// directories (dropped after the servers, which are declared after it).
struct Cluster {
    _dirs: Vec<tempfile::TempDir>,
    _db: xc_store::testing::TestDatabase,
    _pg: TestPostgres,
}

/// Three replicas on a database of their own, once every one has reported and one leads; the
/// operator's credentials.
async fn three_replicas() -> (
    Cluster,
    Vec<Server>,
    xc_types::api::Credentials,
    ClusterStatus,
) {
    let pg = TestPostgres::start_private();
    let db = pg.database();
    let (dirs, servers) = replicas(&db.url, 3);
    let op = servers[0].operator();
    let status = settled(&servers, &op).await;
    let cluster = Cluster {
        _dirs: dirs,
        _db: db,
        _pg: pg,
    };
    (cluster, servers, op, status)
}

/// The cluster once every replica has reported and one leads.
async fn settled(servers: &[Server], op: &xc_types::api::Credentials) -> ClusterStatus {
    eventually(
        Duration::from_secs(30),
        "every replica and a leader",
        || {
            let (s, op) = (&servers[0], op.clone());
            async move {
                let c = cluster(s, &op).await;
                (c.replicas.len() == servers.len() && c.leader.is_some()).then_some(c)
            }
        },
    )
    .await
}

/// Which of `servers` leads.
fn leader_of(servers: &[Server], status: &ClusterStatus) -> usize {
    let leader = status.leader.as_deref().expect("a leader");
    let address = status
        .replicas
        .iter()
        .find(|r| r.id == leader)
        .map(|r| r.address.as_str())
        .expect("the leader's address");
    servers
        .iter()
        .position(|s| s.endpoint == address)
        .expect("the leader is one of ours")
}

/// Three replicas on one PostgreSQL database serve the same data; one leads at a time. SIGKILL
/// the leader: another takes the lease (with a higher fencing token) and runs the leader's work
/// (a deleted connection still becomes `deleted`), and the CLI shows it.
#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_share_a_database_and_a_killed_leader_is_replaced() {
    let (_cluster, mut servers, op, status) = three_replicas().await;
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
    let dead = leader_of(&servers, &status);
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

/// A connection created through one replica and accepted through another, neither of them the
/// leader, becomes `available`: the leader plans its links, and the plan reaches gateways whose
/// blocking queries wait on the other replicas through LISTEN/NOTIFY (a query waits up to 60 s,
/// longer than this test gives the connection, and the gateways learn their links only from it).
/// A connectivity test asked through a replica other than the one serving the gateway is
/// answered.
#[tokio::test(flavor = "multi_thread")]
async fn a_connection_accepted_through_a_replica_that_does_not_lead_becomes_available() {
    let (_cluster, servers, op, status) = three_replicas().await;
    let leader = leader_of(&servers, &status);
    let (x, y) = ((leader + 1) % 3, (leader + 2) % 3);
    let a = tenant(&servers[x], &servers[x].client(&op), "a").await;
    let b = tenant(&servers[y], &servers[y].client(&op), "b").await;
    let ap_a = attach_point(&a, "vpc-a", &["10.1.0.0/16"]).await;
    let ap_b = attach_point(&b, "vpc-b", &["10.2.0.0/16"]).await;
    let ga = SimGateway::start(&servers[x].endpoint, &a.client, &ap_a, "gw-a", "127.0.0.2").await;
    let gb = SimGateway::start(&servers[y].endpoint, &b.client, &ap_b, "gw-b", "127.0.0.3").await;

    // Through replicas that do not lead: a's client is x's, b's is y's.
    let created = connect(&a, &ap_a, &b, &ap_b).await;
    let id = created.id.to_string();
    let available = eventually(Duration::from_secs(45), "the connection available", || {
        let (client, id) = (a.client.clone(), id.clone());
        async move {
            let c = client.get_connection(&id).await.ok()?;
            (c.state == xc_types::ConnectionState::Available).then_some(c)
        }
    })
    .await;
    assert!(
        ga.links() >= 1 && gb.links() >= 1,
        "both gateways got their links"
    );
    assert_eq!(available.id.to_string(), id);

    // A connectivity test asked through one replica reaches the gateway whose blocking query
    // another holds, and its answer comes back through the database.
    let on_y = xc_client::Client::new(
        &servers[y].endpoint,
        a.creds.access_key_id.as_str(),
        &a.creds.secret_access_key,
        REGION,
    )
    .expect("client");
    let tested = on_y
        .test_connection(
            &id,
            &xc_types::gateway::TestConnectionRequest {
                target: "10.2.0.1".into(),
                count: Some(3),
            },
        )
        .await
        .expect("a test through a replica that does not hold the gateway's query");
    assert_eq!((tested.sent, tested.received), (3, 3), "{tested:?}");
    // The leader did not change on the way.
    assert_eq!(cluster(&servers[x], &op).await.leader, status.leader);
}

/// Creates through three replicas at once while first the leader and then another replica are
/// SIGKILLed: a client whose replica went away sends the same request (the same `clientToken`)
/// to the next one, as a client behind a load balancer would, until it is answered. Every
/// acknowledged create is there exactly once, nothing else is, and sending a token again
/// answers the same connection.
#[tokio::test(flavor = "multi_thread")]
async fn creates_through_three_replicas_survive_two_replicas_killed() {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use xc_types::api::quotas::{QuotaName, SetQuotaRequest};

    let (_cluster, mut servers, op, status) = three_replicas().await;
    let operator = servers[0].client(&op);
    let a = tenant(&servers[0], &operator, "a").await;
    let b = tenant(&servers[0], &operator, "b").await;
    for t in [&a, &b] {
        operator
            .set_quota(&SetQuotaRequest {
                account_id: t.creds.account_id.to_string(),
                quota: QuotaName::ConnectionsPerEnvironment,
                value: Some(100_000),
            })
            .await
            .expect("raise the quota");
    }
    let ap = attach_point(&a, "vpc", &["10.1.0.0/16"]).await;
    let endpoints: Vec<String> = servers.iter().map(|s| s.endpoint.clone()).collect();
    let client_of = |endpoint: &str| {
        xc_client::Client::new(
            endpoint,
            a.creds.access_key_id.as_str(),
            &a.creds.secret_access_key,
            REGION,
        )
        .expect("client")
    };

    // Two clients per replica, each creating one connection after another.
    let acknowledged: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..6 {
        let clients: Vec<xc_client::Client> =
            (0..3).map(|i| client_of(&endpoints[(w + i) % 3])).collect();
        let (acknowledged, count, stop) = (acknowledged.clone(), count.clone(), stop.clone());
        let (ap, remote) = (ap.clone(), b.creds.account_id.to_string());
        workers.push(tokio::spawn(async move {
            let mut replica = 0;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let token = format!("w{w}-{n}");
                let req = xc_types::api::CreateConnectionRequest {
                    client_token: Some(token.clone()),
                    ..connection_request("gcp-us-east4", &ap, &remote)
                };
                let deadline = Instant::now() + Duration::from_secs(60);
                let created = loop {
                    match clients[replica].create_connection(&req).await {
                        Ok(c) => break c,
                        Err(e) => {
                            assert!(
                                Instant::now() < deadline,
                                "{token} not answered by any replica: {e}"
                            );
                            replica = (replica + 1) % clients.len();
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                };
                acknowledged
                    .lock()
                    .expect("acknowledged")
                    .insert(token, created.id.to_string());
                count.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    let at_least = |n: usize, what: &'static str| {
        let count = count.clone();
        async move {
            eventually(Duration::from_secs(60), what, || {
                let count = count.clone();
                async move { (count.load(Ordering::Relaxed) >= n).then_some(()) }
            })
            .await
        }
    };
    at_least(30, "30 creates before the first kill").await;
    let leader = leader_of(&servers, &status);
    servers[leader].kill();
    let before = count.load(Ordering::Relaxed);
    at_least(before + 30, "30 creates after the leader was killed").await;
    let second = (leader + 1) % 3;
    servers[second].kill();
    let before = count.load(Ordering::Relaxed);
    at_least(before + 30, "30 creates after another replica was killed").await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("a client");
    }

    // What the survivor has.
    let survivor = 3 - leader - second;
    let client = client_of(&endpoints[survivor]);
    let mut listed: Vec<String> = Vec::new();
    let mut next_token = None;
    loop {
        let page = client
            .list_connections(&xc_types::api::ListConnectionsQuery {
                next_token: next_token.clone(),
                ..Default::default()
            })
            .await
            .expect("list");
        listed.extend(page.connections.iter().map(|c| c.id.to_string()));
        next_token = page.next_token;
        if next_token.is_none() {
            break;
        }
    }
    let acknowledged = acknowledged.lock().expect("acknowledged").clone();
    eprintln!(
        "{} creates acknowledged, {} connections listed",
        acknowledged.len(),
        listed.len()
    );
    let ids: BTreeSet<&String> = acknowledged.values().collect();
    assert_eq!(
        ids.len(),
        acknowledged.len(),
        "two tokens made one connection"
    );
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "a connection listed twice");
    assert_eq!(
        unique, ids,
        "the connections are exactly the acknowledged creates"
    );
    // The same token again: the same connection, nothing new.
    for (token, id) in acknowledged.iter().step_by(10) {
        let again = client
            .create_connection(&xc_types::api::CreateConnectionRequest {
                client_token: Some(token.clone()),
                ..connection_request("gcp-us-east4", &ap, b.creds.account_id.as_str())
            })
            .await
            .expect("the same create again");
        assert_eq!(&again.id.to_string(), id, "{token}");
    }
}

/// A server given another master key than the database was set up with stops at start, saying
/// so, before it seals anything; given the first server's key with `--master-key-file`, it
/// serves the same data.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_with_another_master_key_is_refused() {
    let pg = TestPostgres::start_private();
    let db = pg.database();
    let (dirs, servers) = replicas(&db.url, 1);
    let op = servers[0].operator();
    let other = tempfile::tempdir().expect("tempdir");
    let run = tokio::task::spawn_blocking({
        let (dir, url) = (other.path().to_owned(), db.url.clone());
        move || {
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xconnect"))
                .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
                .arg(&dir)
                .args(["--database", &url])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start a server");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Some(status) = child.try_wait().expect("wait") {
                    let mut err = String::new();
                    std::io::Read::read_to_string(
                        &mut child.stderr.take().expect("stderr"),
                        &mut err,
                    )
                    .expect("stderr");
                    return (status, err);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("a server with another master key kept running");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    })
    .await
    .expect("run");
    let (status, stderr) = run;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("master key") && stderr.contains("--master-key-file"),
        "{stderr}"
    );
    // The key it made for its empty data dir is gone again, and it says so: the first server's
    // key copied there next is the one found.
    assert!(stderr.contains("removed again"), "{stderr}");
    assert!(!other.path().join("master.key").exists());
    // The first server's key, given as a file: the same data.
    let key = dirs[0].path().join("master.key");
    let second = Server::start_with(
        other.path(),
        &[
            "--database",
            &db.url,
            "--master-key-file",
            &key.display().to_string(),
        ],
    );
    let accounts = second
        .client(&op)
        .list_accounts()
        .await
        .expect("the operator's key works on the second server");
    assert!(!accounts.accounts.is_empty());
}
