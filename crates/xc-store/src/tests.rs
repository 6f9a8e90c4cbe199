use super::*;
use xc_types::*;

fn account(n: u64) -> Account {
    Account {
        account_id: AccountId::from_number(n),
        name: format!("acct{n}"),
        kind: AccountKind::Tenant,
        created_at: 1,
    }
}

#[tokio::test]
async fn write_is_durable_and_failed_writes_leave_nothing() {
    let fresh = testing::Fresh::new();
    {
        let store = fresh.open();
        store
            .write(|db| db.insert_account(&account(1)))
            .await
            .expect("insert");
        // A closure that inserts and then fails leaves no trace.
        let r: Result<(), StoreError> = store
            .write(|db| {
                db.insert_account(&account(2))?;
                Err(StoreError::Corrupt("rolled back on purpose".into()))
            })
            .await;
        assert!(r.is_err());
        // A duplicate is reported as such.
        let dup = store.write(|db| db.insert_account(&account(1))).await;
        assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
    }
    let store = fresh.open();
    let accounts = store.read(|db| db.list_accounts()).await.expect("list");
    assert_eq!(accounts, vec![account(1)]);
}

/// A tried write sees its own changes and keeps none of them, whether it succeeds or fails.
#[tokio::test]
async fn a_tried_write_sees_its_changes_and_keeps_none() {
    let fresh = testing::Fresh::new();
    let store = fresh.open();
    store
        .write(|db| db.insert_account(&account(1)))
        .await
        .expect("insert");
    let seen = store
        .try_write(|db| {
            db.insert_account(&account(2))?;
            db.list_accounts()
        })
        .await
        .expect("tried");
    assert_eq!(
        seen,
        vec![account(1), account(2)],
        "the try sees its insert"
    );
    let failed: Result<(), StoreError> = store
        .try_write(|db| {
            db.insert_account(&account(3))?;
            Err(StoreError::Corrupt("failed on purpose".into()))
        })
        .await;
    assert!(failed.is_err());
    // Writes queued with the tries are kept: only the tries are rolled back.
    store
        .write(|db| db.insert_account(&account(4)))
        .await
        .expect("insert");
    let accounts = store.read(|db| db.list_accounts()).await.expect("list");
    assert_eq!(accounts, vec![account(1), account(4)]);
}

#[tokio::test]
async fn concurrent_writes_are_group_committed_without_loss() {
    let fresh = testing::Fresh::new();
    let store = std::sync::Arc::new(fresh.open());
    let mut tasks = Vec::new();
    for n in 0..200u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .write(move |db| db.insert_account(&account(n + 10)))
                .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("write");
    }
    let n = store
        .read(|db| db.list_accounts())
        .await
        .expect("list")
        .len();
    assert_eq!(n, 200);
}

/// Migration 4's triggers: creation, each change of state or reason code and each change of
/// bandwidth are events; an update that changes neither is none; the newest 200 are kept.
#[tokio::test]
async fn connection_history_is_written_by_the_triggers_and_bounded() {
    let fresh = testing::Fresh::new();
    let store = std::sync::Arc::new(fresh.open());
    let raw = |sql: String, at: i64| {
        let store = store.clone();
        async move {
            store
                .write(move |db| Ok::<_, StoreError>(db.sql().execute(&sql, [at])?))
                .await
        }
    };
    raw(
        "INSERT INTO connections (id, shared_id, owner, owner_attach_point, owner_routing, \
         remote_allowed, initiator, environment, bandwidth_mbps, description, state, \
         billing_tier, key_id, key_expires_at, tags, created_at, updated_at) \
         VALUES ('mcc-aaaaaaaa', 's', 'o', 'ap', '{}', 'r', 'owner', 'e', 1000, '', 'requested', \
         1, 'k', 0, '{}', ?1, 1)"
            .into(),
        1,
    )
    .await
    .expect("insert");
    let update = |sql: &str, at: i64| {
        raw(
            format!("UPDATE connections SET {sql}, updated_at = ?1 WHERE id = 'mcc-aaaaaaaa'"),
            at,
        )
    };
    update("state = 'pending'", 2).await.expect("update");
    update("description = 'renamed'", 3).await.expect("update"); // not an event
    update("pending_bandwidth_mbps = 2000", 4)
        .await
        .expect("update");
    let id = ConnectionId::parse("mcc-aaaaaaaa").expect("id");
    let events = {
        let id = id.clone();
        store
            .read(move |db| db.connection_events(&id))
            .await
            .expect("events")
    };
    let kinds: Vec<(String, &str, i64)> = events
        .iter()
        .map(|e| (e.kind.to_string(), e.state.as_str(), e.at))
        .collect();
    assert_eq!(
        kinds,
        [
            ("created".to_owned(), "requested", 1),
            ("state".to_owned(), "pending", 2),
            ("bandwidth".to_owned(), "pending", 4)
        ]
    );
    assert_eq!(
        events[1].previous_state.map(|s| s.as_str()),
        Some("requested")
    );
    for i in 0..250 {
        let state = if i % 2 == 0 { "down" } else { "available" };
        update(&format!("state = '{state}'"), 10 + i)
            .await
            .expect("update");
    }
    let events = store
        .read(move |db| db.connection_events(&id))
        .await
        .expect("events");
    assert_eq!(events.len(), 200);
    assert_eq!(events.last().map(|e| e.at), Some(259));
}

/// Links take the lowest numbers free on both of their gateways, and give them back when
/// they go, whichever way they go (one link, or a connection's links at once).
#[tokio::test]
async fn link_numbers_come_from_pools_and_go_back() {
    use xc_types::gateway::Pool;
    let fresh = testing::Fresh::new();
    let store = fresh.open();
    let full_pool = matches!(fresh.database, Database::Sqlite(_));
    let c1 = ConnectionId::parse("mcc-aaaaaaaa").expect("id");
    let c2 = ConnectionId::parse("mcc-bbbbbbbb").expect("id");
    store
        .write(move |db| {
            let link = |c: &ConnectionId, a: &str, b: &str| {
                db.insert_link(&NewLink {
                    connection: c.clone(),
                    gateway_a: a.into(),
                    gateway_b: b.into(),
                    slot: 0,
                    created_at: 0,
                })
                .map(|r| r.expect("numbers left"))
            };
            let ab = link(&c1, "a", "b")?;
            let ac = link(&c1, "a", "c")?;
            let db_ = link(&c2, "d", "b")?;
            let de = link(&c2, "d", "e")?;
            // Unique on each gateway: a holds 1 and 2, b holds 1 and 2, d holds 2 and 1.
            let vni = |l: &xc_types::gateway::LinkRecord| l.numbers.vni;
            assert_eq!((vni(&ab), vni(&ac), vni(&db_), vni(&de)), (1, 2, 2, 1));
            assert_eq!(
                (ab.numbers.port, ab.numbers.v4, ab.numbers.v6),
                (10_001, 1, 1)
            );
            assert_eq!(ac.name(), "l2");
            // One link goes: its numbers come back, at both of its gateways.
            db.delete_link(ab.id)?;
            let again = link(&c1, "a", "b")?;
            assert_eq!(vni(&again), 1);
            assert!(again.id > de.id, "a new id, never the old one");
            // A connection's links go at once (the numbers follow by cascade).
            assert_eq!(db.delete_links_of_connection(&c1)?, 2);
            assert_eq!(
                db.numbers_held()?,
                2 * 4 * 2,
                "only c2's links hold numbers"
            );
            let fresh = link(&c1, "a", "c")?;
            assert_eq!(vni(&fresh), 1);
            // A full pool: every UDP port of gateway x is held. The same statements as above,
            // some 55,000 times: on SQLite only (a PostgreSQL round trip each makes it minutes).
            if !full_pool {
                return Ok(());
            }
            for i in 0..Pool::Port.range().count() {
                link(&c1, "x", &format!("peer{i}"))?;
            }
            let full = db.insert_link(&NewLink {
                connection: c1.clone(),
                gateway_a: "x".into(),
                gateway_b: "y".into(),
                slot: 0,
                created_at: 0,
            })?;
            assert_eq!(full, Err(Pool::Port));
            Ok::<_, StoreError>(())
        })
        .await
        .expect("pools");
}

/// A database that cannot grow (SQLite's page limit stands in for a full disk here; the server
/// test fills a real one) refuses writes as `Unwritable(DiskFull)`, keeps what it had, and takes
/// writes again once it may grow.
#[tokio::test]
async fn a_full_database_refuses_writes_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    store
        .write(|db| db.insert_account(&account(1)))
        .await
        .expect("insert");
    let pages: i64 = store
        .write(|db| {
            let n = db.conn().query_row("PRAGMA page_count", [], |r| r.get(0))?;
            db.conn()
                .pragma_update(None, "max_page_count", n)
                .map_err(StoreError::from)?;
            Ok::<_, StoreError>(n)
        })
        .await
        .expect("limit");
    assert!(pages > 0);
    let mut refused = None;
    for n in 2..10_000 {
        if let Err(e) = store.write(move |db| db.insert_account(&account(n))).await {
            refused = Some(e);
            break;
        }
    }
    let refused = refused.expect("a write is refused once the database cannot grow");
    assert!(
        matches!(refused, StoreError::Unwritable(Unwritable::DiskFull)),
        "{refused:?}"
    );
    // Many writes at once, batched together while the database is full: each one that was
    // acknowledged is stored, and none that was refused is (SQLite rolls a batch back on its own
    // when it runs out of room; the rest of that batch must not commit behind the waiters' backs).
    let store = std::sync::Arc::new(store);
    let mut tasks = Vec::new();
    for n in 20_000..20_300u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let r = store.write(move |db| db.insert_account(&account(n))).await;
            (n, r)
        }));
    }
    let mut acknowledged = std::collections::BTreeSet::new();
    for t in tasks {
        let (n, r) = t.await.expect("join");
        match r {
            Ok(()) => {
                acknowledged.insert(n);
            }
            Err(e) => assert!(
                matches!(e, StoreError::Unwritable(Unwritable::DiskFull)),
                "{e:?}"
            ),
        }
    }
    let listed = store.read(|db| db.list_accounts()).await.expect("read");
    let stored: std::collections::BTreeSet<u64> = listed
        .iter()
        .filter_map(|a| a.name.strip_prefix("acct")?.parse().ok())
        .filter(|n| (20_000..20_300).contains(n))
        .collect();
    assert_eq!(stored, acknowledged);
    let before = listed.len();
    store
        .write(|db| {
            db.conn()
                .pragma_update(None, "max_page_count", 1_000_000)
                .map_err(StoreError::from)
        })
        .await
        .expect("room again");
    store
        .write(|db| db.insert_account(&account(99_999)))
        .await
        .expect("a write once there is room");
    let after = store
        .read(|db| db.list_accounts())
        .await
        .expect("read")
        .len();
    assert_eq!(after, before + 1);
}

/// Attach points without an ASN of their own get the next free one of a range: after the
/// highest taken, then (once the top is taken) the lowest gap.
#[tokio::test]
async fn free_asns_come_after_the_highest_then_from_gaps() {
    let fresh = testing::Fresh::new();
    let store = fresh.open();
    store
        .write(|db| db.insert_account(&account(1)))
        .await
        .expect("account");
    let add = |asn: u32| {
        let ap = AttachPoint {
            id: AttachPointId::from_bytes([asn as u8; 16]),
            account_id: AccountId::from_number(1),
            name: format!("ap{asn}"),
            asn: Asn::new(u64::from(asn)).expect("asn"),
            prefixes: vec![],
            created_at: 1,
            updated_at: 1,
        };
        store.write(move |db| db.insert_attach_point(&ap))
    };
    let free = || store.read(|db| db.free_asn(100..=104));
    assert_eq!(free().await.expect("free"), Some(100));
    add(100).await.expect("add");
    add(101).await.expect("add");
    assert_eq!(free().await.expect("free"), Some(102));
    add(104).await.expect("add");
    // The top is taken: the lowest gap.
    assert_eq!(free().await.expect("free"), Some(102));
    add(102).await.expect("add");
    add(103).await.expect("add");
    assert_eq!(free().await.expect("free"), None);
    // An ASN outside the range does not count.
    add(64512).await.expect("add");
    assert_eq!(
        store.read(|db| db.free_asn(200..=300)).await.expect("free"),
        Some(200)
    );
}

/// The copy names every table of the schema, parents first (so a migration that adds a table
/// cannot leave it behind in a move to PostgreSQL).
#[tokio::test]
async fn the_copy_names_every_table() {
    let fresh = testing::Fresh::sqlite();
    let store = fresh.open();
    let tables: std::collections::BTreeSet<String> = store
        .read(|db| {
            let mut st = db.sql().prepare_cached(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )?;
            let names = st.query_map((), |r| r.get::<_, String>(0))?;
            Ok::<_, StoreError>(names.collect::<Result<_, _>>()?)
        })
        .await
        .expect("tables");
    let listed: std::collections::BTreeSet<String> =
        copy::TABLES.iter().map(|t| t.to_string()).collect();
    assert_eq!(listed, tables);
    assert_eq!(listed.len(), copy::TABLES.len(), "each table once");
}

/// The lease goes to one replica at a time; a holder renews it, another takes it only once it
/// has expired (with a new token), and the deposed holder's token is refused from then on.
#[tokio::test]
async fn the_lease_has_one_holder_and_fences_a_deposed_one() {
    let fresh = testing::Fresh::new();
    let store = fresh.open();
    let claim = |who: &'static str, now: i64| store.write(move |db| db.claim_lease(who, now, 3000));
    // Renewed beside the writers' queue, as the replicas do (`Store::write_beside`): only by
    // its holder.
    let renew =
        |who: &'static str, now: i64| store.write_beside(move |db| db.renew_lease(who, now, 3000));
    assert_eq!(claim("a", 1000).await.expect("claim"), Some(1));
    assert_eq!(claim("b", 1500).await.expect("claim"), None, "a holds it");
    assert_eq!(
        claim("a", 2000).await.expect("renew"),
        Some(1),
        "renewed, same token"
    );
    assert_eq!(renew("b", 2000).await.expect("renew"), None, "not b's");
    assert_eq!(renew("a", 2000).await.expect("renew"), Some(1));
    assert_eq!(
        claim("b", 4999).await.expect("claim"),
        None,
        "not expired yet"
    );
    store
        .write(|db| db.check_fence("a", 1))
        .await
        .expect("a's token is current");
    assert_eq!(
        claim("b", 5001).await.expect("claim"),
        Some(2),
        "expired: b's"
    );
    let fenced = store.write(|db| db.check_fence("a", 1)).await;
    assert!(
        matches!(fenced, Err(StoreError::Fenced { token: 1 })),
        "{fenced:?}"
    );
    assert_eq!(
        claim("a", 5100).await.expect("claim"),
        None,
        "a cannot take it back"
    );
    let lease = store
        .read(|db| db.lease())
        .await
        .expect("lease")
        .expect("a lease");
    assert_eq!(
        (lease.holder.as_str(), lease.token, lease.acquired_ms),
        ("b", 2, 5001)
    );
    // A replica that stops gives it up at once.
    assert!(
        store
            .write(|db| db.release_lease("b"))
            .await
            .expect("release")
    );
    assert_eq!(claim("a", 5200).await.expect("claim"), Some(3));
}

/// A request for a gateway is handed over once, not after it expires, and only the gateway it
/// was for can answer it.
#[tokio::test]
async fn a_gateway_request_is_taken_once_and_answered_by_its_gateway() {
    let fresh = testing::Fresh::new();
    let store = fresh.open();
    store
        .write(|db| {
            db.put_ask("t1", "g1", AskKind::Test, "{\"id\":\"t1\"}", 1_000, 60_000)?;
            db.put_ask(
                "d1",
                "g1",
                AskKind::DryRun,
                "{\"id\":\"d1\"}",
                1_000,
                60_000,
            )?;
            db.put_ask("t2", "g2", AskKind::Test, "{}", 1_000, 60_000)?;
            db.put_ask("old", "g1", AskKind::Test, "{}", 1_000, 1_500)
        })
        .await
        .expect("put");
    assert!(
        store
            .read(|db| db.asks_waiting("g1", 2_000))
            .await
            .expect("look")
    );
    let taken = store
        .write(|db| db.take_asks("g1", 2_000))
        .await
        .expect("take");
    let kinds: Vec<(&str, AskKind)> = taken.iter().map(|a| (a.id.as_str(), a.kind)).collect();
    assert_eq!(kinds, vec![("d1", AskKind::DryRun), ("t1", AskKind::Test)]);
    assert_eq!(taken[1].request, "{\"id\":\"t1\"}");
    let again = store
        .write(|db| db.take_asks("g1", 2_000))
        .await
        .expect("take");
    assert!(again.is_empty(), "handed over once: {again:?}");
    assert!(
        !store
            .read(|db| db.asks_waiting("g1", 2_000))
            .await
            .expect("look")
    );
    // Only its gateway answers it.
    assert!(
        !store
            .write(|db| db.answer_ask("t1", "g2", "{}"))
            .await
            .expect("answer")
    );
    assert_eq!(
        store.read(|db| db.ask_answer("t1")).await.expect("read"),
        None
    );
    assert!(
        store
            .write(|db| db.answer_ask("t1", "g1", "{\"received\":3}"))
            .await
            .expect("answer")
    );
    assert_eq!(
        store.read(|db| db.ask_answer("t1")).await.expect("read"),
        Some("{\"received\":3}".to_owned())
    );
    store.write(|db| db.drop_ask("t1")).await.expect("drop");
    assert_eq!(
        store.read(|db| db.ask_answer("t1")).await.expect("read"),
        None
    );
    // The next put deletes what expired.
    store
        .write(|db| db.put_ask("t3", "g2", AskKind::Test, "{}", 70_000, 80_000))
        .await
        .expect("put");
    let left = store
        .write(|db| db.take_asks("g2", 70_000))
        .await
        .expect("take");
    assert_eq!(
        left.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        vec!["t3"]
    );
}

/// Two stores on one PostgreSQL database: what one signals, the other hears, and a store does
/// not hear itself. Needs PostgreSQL's programs (Debian: `postgresql`).
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_reaches_the_other_stores_on_the_database() {
    use std::sync::{Arc, Mutex};
    let pg = testing::TestPostgres::start_private();
    let db = pg.database();
    let database: Database = db.url.parse().expect("url");
    let (a, b) = (
        Store::connect(&database).expect("a"),
        Store::connect(&database).expect("b"),
    );
    let heard_a: Arc<Mutex<Vec<Heard>>> = Arc::default();
    let heard_b: Arc<Mutex<Vec<Heard>>> = Arc::default();
    let heard = |list: &Arc<Mutex<Vec<Heard>>>, signal: Signal, about: Option<Vec<String>>| {
        list.lock()
            .expect("heard")
            .contains(&Heard { signal, about })
    };
    for (store, heard) in [(&a, &heard_a), (&b, &heard_b)] {
        let heard = heard.clone();
        assert!(
            store
                .listen(move |s| heard.lock().expect("heard").push(s))
                .expect("listen")
        );
    }
    // The listeners start on threads of their own: say it until it is heard.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !heard(&heard_b, Signal::Work, None) {
        assert!(std::time::Instant::now() < deadline, "b never heard a");
        a.signal(Signal::Work).await.expect("signal");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    a.signal(Signal::Answered).await.expect("signal");
    while !heard(&heard_b, Signal::Answered, None) {
        assert!(
            std::time::Instant::now() < deadline,
            "b never heard Answered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // A signal about some gateways names them; one about too many is about everyone.
    let named = vec!["gw-0001".to_owned(), "gw-0002".to_owned()];
    a.signal_about(Signal::ConfigChanged, &named)
        .await
        .expect("signal");
    let many: Vec<String> = (0..2_000).map(|i| format!("gw-{i:04}")).collect();
    a.signal_about(Signal::ConfigChanged, &many)
        .await
        .expect("signal");
    while !heard(&heard_b, Signal::ConfigChanged, None) {
        assert!(
            std::time::Instant::now() < deadline,
            "b never heard a signal about everyone"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(heard(&heard_b, Signal::ConfigChanged, Some(named)));
    assert!(
        heard_a.lock().expect("heard").is_empty(),
        "a store does not hear itself"
    );
    // SQLite has nobody to tell.
    let fresh = testing::Fresh::sqlite();
    let lite = fresh.open();
    assert!(!lite.is_shared());
    assert!(!lite.listen(|_| {}).expect("listen"));
    lite.signal(Signal::Work).await.expect("nothing to do");
}

/// Runs `openssl` with `args` in `dir` (the TLS test's throwaway CA and certificates).
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("this test needs openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA named `name` in `dir`: `name.crt`, `name.key`.
fn test_ca(dir: &std::path::Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

/// sslmode and sslrootcert as libpq reads them: `verify-full` checks the CA and the host's
/// name, `verify-ca` the CA alone, `require` encrypts without checking, `disable` does not
/// encrypt; a wrong CA or name is refused, with the reason. Needs PostgreSQL's programs and
/// openssl.
#[tokio::test(flavor = "multi_thread")]
async fn connections_to_postgres_are_encrypted_and_checked_as_sslmode_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    test_ca(d, "ca");
    test_ca(d, "other-ca");
    // The server's certificate names `localhost` only.
    std::fs::write(d.join("ext.cnf"), "subjectAltName=DNS:localhost\n").expect("ext");
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ],
    );
    let pg = testing::TestPostgres::start_private();
    pg.serve_tls(&d.join("server.crt"), &d.join("server.key"));
    let db = pg.database();
    let ca = d.join("ca.crt").display().to_string();
    let other = d.join("other-ca.crt").display().to_string();
    let by_name = db.url.replace("127.0.0.1", "localhost");
    // Whether the store's session is encrypted, or why it could not open.
    let encrypted = |url: String| {
        let database: Result<Database, String> = url.parse();
        async move {
            let store = Store::connect(&database?).map_err(|e| e.to_string())?;
            let n = store
                .read(|db| {
                    Ok::<_, StoreError>(db.conn.query_row(
                        "SELECT count(*) FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl",
                        (),
                        |r| r.get::<_, i64>(0),
                    )?)
                })
                .await
                .map_err(|e| e.to_string())?;
            store.close();
            Ok::<bool, String>(n == 1)
        }
    };
    let full = format!("{by_name}?sslmode=verify-full&sslrootcert={ca}");
    assert_eq!(encrypted(full).await, Ok(true));
    let by_ca = format!("{}?sslmode=verify-ca&sslrootcert={ca}", db.url);
    assert_eq!(
        encrypted(by_ca).await,
        Ok(true),
        "verify-ca ignores the name"
    );
    let required = format!("{}?sslmode=require", db.url);
    assert_eq!(encrypted(required).await, Ok(true));
    let disabled = format!("{}?sslmode=disable", db.url);
    assert_eq!(encrypted(disabled).await, Ok(false));

    let wrong_name = format!("{}?sslmode=verify-full&sslrootcert={ca}", db.url);
    let e = encrypted(wrong_name)
        .await
        .expect_err("the name is not 127.0.0.1");
    assert!(e.contains("certificate"), "{e}");
    let wrong_ca = format!("{by_name}?sslmode=verify-full&sslrootcert={other}");
    let e = encrypted(wrong_ca).await.expect_err("another CA");
    assert!(e.contains("certificate"), "{e}");
    // Said when the URL is read, before any connection.
    let e = format!("{}?sslmode=verify-everything", db.url)
        .parse::<Database>()
        .expect_err("no such mode");
    assert!(e.contains("sslmode=verify-everything"), "{e}");
    let e = format!(
        "{}?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
        db.url
    )
    .parse::<Database>()
    .expect_err("no such file");
    assert!(e.contains("/nonexistent/ca.crt"), "{e}");
    // Shown with its mode, never its password.
    let shown =
        format!("postgres://u:secret@db.example.net/x?sslmode=verify-full&sslrootcert={ca}")
            .parse::<Database>()
            .expect("url")
            .to_string();
    assert_eq!(
        shown,
        "postgres://u@db.example.net:5432/x?sslmode=verify-full"
    );
}

/// A lease renewal does not wait behind the writers: while a write holds the writers' lock (and
/// its replica's queue), a write beside it commits. Before, a leader's renewal queued behind a
/// burst of writes and the leader lost its lease under load (bench/scale).
#[tokio::test(flavor = "multi_thread")]
async fn a_write_beside_does_not_wait_for_the_writers() {
    let fresh = testing::Fresh::new();
    let store = std::sync::Arc::new(fresh.open());
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let long = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .write(move |db| {
                    db.heartbeat(
                        &ReplicaRow {
                            id: "busy".into(),
                            address: "a".into(),
                            started_ms: 1,
                            last_seen_ms: 1,
                            db_latency_us: 0,
                        },
                        0,
                    )?;
                    let _ = started.send(());
                    // Holds the writer (and on PostgreSQL the writers' lock) until told.
                    let _ = held.recv_timeout(std::time::Duration::from_secs(60));
                    Ok::<_, StoreError>(())
                })
                .await
        }
    });
    running.await.expect("the long write started");
    if store.is_shared() {
        let renewed = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            store.write_beside(|db| {
                db.heartbeat(
                    &ReplicaRow {
                        id: "leader".into(),
                        address: "b".into(),
                        started_ms: 1,
                        last_seen_ms: 1,
                        db_latency_us: 0,
                    },
                    0,
                )?;
                db.renew_lease("leader", 1000, 3000)
            }),
        )
        .await
        .expect("a write beside the writers does not wait for them");
        assert_eq!(renewed.expect("beat"), None, "nobody holds the lease yet");
    }
    release.send(()).expect("release");
    long.await.expect("join").expect("the long write commits");
    // On SQLite it is the writer's queue, in order.
    let claimed = store
        .write(|db| db.claim_lease("leader", 1000, 3000))
        .await
        .expect("claim");
    assert_eq!(claimed, Some(1));
    let renewed = store
        .write_beside(|db| db.renew_lease("leader", 2000, 3000))
        .await
        .expect("renew");
    assert_eq!(renewed, Some(1));
}
