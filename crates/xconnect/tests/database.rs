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
