//! The audit trail against a real server: each way in (the AWS CLI's JSON protocol, the CBOR
//! protocol, the native API, the console's session, a gateway's registration) leaves exactly one
//! record with who, from where, what and how it went, under the request id the response carried;
//! a read-only key's refused write is recorded as denied; a tenant reads only its own account's
//! records and cannot check the chain; `xconnect audit verify` passes on the trail as written and
//! fails, naming the record, once a record is edited in the database or deleted from it.

mod common;

use common::*;
use serde_json::{Value, json};
use xc_types::KeyRole;
use xc_types::api::CreateAccessKeyRequest;
use xc_types::api::audit::{AuditOutcome, AuditQuery, AuditRecord, PrincipalKind};

/// The tenant's records of `operation`, as its admin key reads them.
async fn records(t: &Tenant, operation: &str) -> Vec<AuditRecord> {
    t.client
        .list_audit(&AuditQuery {
            operation: Some(operation.into()),
            ..AuditQuery::default()
        })
        .await
        .expect("list audit records")
        .records
}

/// The one record of `operation` (there must be exactly one), once it is written: a record is
/// appended while its request is answered, so it may come a moment after the answer.
async fn one(t: &Tenant, operation: &str) -> AuditRecord {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut r = records(t, operation).await;
        if !r.is_empty() || std::time::Instant::now() > deadline {
            assert_eq!(r.len(), 1, "one {operation} record: {r:#?}");
            return r.remove(0);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_way_in_leaves_one_record_and_verify_finds_an_edit() {
    let server = Server::start();
    let operator = server.client(&server.operator());
    let t = tenant(&server, &operator, "audited").await;
    let account = t.creds.account_id.to_string();
    let key = t.creds.access_key_id.to_string();
    let http = reqwest::Client::new();

    // The AWS CLI (JSON protocol): one record, its user agent the CLI's.
    aws(&server.endpoint, &t.creds, None, &["list-connections"]).expect_ok("list-connections");
    let r = one(&t, "ListConnections").await;
    assert_eq!(
        (
            &r.account_id,
            r.access_key_id.as_deref(),
            r.principal,
            r.outcome
        ),
        (
            &account,
            Some(key.as_str()),
            PrincipalKind::AccessKey,
            AuditOutcome::Success
        )
    );
    assert_eq!(r.source_address.as_deref(), Some("127.0.0.1"));
    assert!(
        r.user_agent
            .as_deref()
            .is_some_and(|u| u.contains("aws-cli")),
        "{r:?}"
    );

    // The CBOR protocol, failing: the record names the resource asked for and the error code,
    // under the request id the response carried.
    let raw = Raw::new(&server);
    let input = xc_api::cbor::encode(&json!({ "identifier": "mcc-00000000" }));
    let (status, headers, _) = raw.cbor("GetConnection", &input, &t.creds).await;
    assert_eq!(status, 404);
    let request_id = headers
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .expect("x-amzn-RequestId")
        .to_owned();
    let r = one(&t, "GetConnection").await;
    assert_eq!(r.request_id, request_id);
    assert_eq!(r.resource.as_deref(), Some("mcc-00000000"));
    assert_eq!(
        (r.outcome, r.error_code.as_deref()),
        (AuditOutcome::Failed, Some("ResourceNotFoundException"))
    );

    // The native API: a create names what it made.
    let ap = attach_point(&t, "edge", &["10.60.0.0/16"]).await;
    let r = one(&t, "CreateAttachPoint").await;
    assert_eq!(
        (r.resource.as_deref(), r.outcome),
        (Some(ap.as_str()), AuditOutcome::Success)
    );

    // The console: the sign-in and a change through the session, each recorded once as the
    // session's, with the key that opened it.
    let signed = http
        .post(format!("{}/console/api/sign-in", server.endpoint))
        .json(&json!({ "accessKeyId": key, "secretAccessKey": t.creds.secret_access_key }))
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed.status(), 200);
    let cookie = signed
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("cookie")
        .to_owned();
    let csrf = signed.json::<Value>().await.expect("session")["csrfToken"]
        .as_str()
        .expect("csrf")
        .to_owned();
    let renamed = http
        .patch(format!("{}/v1/attach-points/{ap}", server.endpoint))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({ "name": "edge-renamed" }))
        .send()
        .await
        .expect("rename");
    assert_eq!(renamed.status(), 200);
    let r = one(&t, "ConsoleSignIn").await;
    assert_eq!(
        (r.principal, r.access_key_id.as_deref(), r.outcome),
        (
            PrincipalKind::ConsoleSession,
            Some(key.as_str()),
            AuditOutcome::Success
        )
    );
    let r = one(&t, "UpdateAttachPoint").await;
    assert_eq!(
        (r.principal, r.resource.as_deref()),
        (PrincipalKind::ConsoleSession, Some(ap.as_str()))
    );

    // A gateway's registration: the gateway's account, no key.
    let token = t
        .client
        .create_gateway_token(&xc_types::gateway::TokenRequest {
            attach_point_id: Some(ap.clone()),
            facility: None,
        })
        .await
        .expect("token");
    let registered: Value = http
        .post(format!("{}/v1/gateway/register", server.endpoint))
        .json(&json!({
            "token": token.token,
            "name": "audited-gw",
            "underlayAddress": "10.200.0.7",
            "version": "test",
        }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("registered");
    let gateway = registered["gatewayId"].as_str().expect("gateway id");
    let r = one(&t, "RegisterGateway").await;
    assert_eq!(
        (
            r.principal,
            r.access_key_id.as_deref(),
            r.resource.as_deref()
        ),
        (PrincipalKind::Gateway, None, Some(gateway))
    );
    // Its secret is nowhere in the trail.
    let secret = registered["secret"].as_str().expect("secret");
    let all = t
        .client
        .list_audit(&AuditQuery::default())
        .await
        .expect("all records");
    assert!(!serde_json::to_string(&all).expect("json").contains(secret));

    // A read-only key's write: refused, and recorded as denied.
    let reader = t
        .client
        .create_access_key(
            None,
            &CreateAccessKeyRequest {
                role: KeyRole::ReadOnly,
            },
        )
        .await
        .expect("read-only key");
    aws(
        &server.endpoint,
        &reader,
        None,
        &["delete-connection", "--identifier", "mcc-00000001"],
    )
    .expect_err("AccessDeniedException", &[]);
    let r = one(&t, "DeleteConnection").await;
    assert_eq!(
        (
            r.access_key_id.as_deref(),
            r.outcome,
            r.error_code.as_deref(),
            r.resource.as_deref()
        ),
        (
            Some(reader.access_key_id.as_str()),
            AuditOutcome::Denied,
            Some("AccessDeniedException"),
            Some("mcc-00000001")
        )
    );
    // The read-only key may not read the trail (its refusal is recorded too), and a tenant
    // sees only its own account's records and cannot check the chain.
    let Run {
        ok, stderr: err, ..
    } = xconnect(&server, &reader, &["audit", "list"]);
    assert!(!ok && err.contains("read-only"), "{err}");
    let Run {
        ok, stderr: err, ..
    } = xconnect(
        &server,
        &t.creds,
        &["audit", "list", "--account", "000000000000"],
    );
    assert!(!ok && err.contains("operator"), "{err}");
    let Run {
        ok, stderr: err, ..
    } = xconnect(&server, &t.creds, &["audit", "verify"]);
    assert!(!ok && err.contains("operator"), "{err}");
    let Run {
        ok,
        stdout: out,
        stderr: err,
    } = xconnect(
        &server,
        &server.operator(),
        &["audit", "list", "--account", &account, "--output", "json"],
    );
    assert!(ok, "{err}");
    let listed: Value = serde_json::from_str(&out).expect("json");
    let accounts: Vec<&str> = listed["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["accountId"].as_str())
        .collect();
    assert!(
        accounts.len() >= 8 && accounts.iter().all(|a| *a == account),
        "{accounts:?}"
    );

    // Exported as JSON lines: one record per line, numbered in order.
    let Run {
        ok,
        stdout: out,
        stderr: err,
    } = xconnect(
        &server,
        &server.operator(),
        &["audit", "export", "--since", "1h"],
    );
    assert!(ok, "{err}");
    let seqs: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("a JSON line")["seq"]
                .as_u64()
                .expect("seq")
        })
        .collect();
    assert!(
        seqs.len() >= 10 && seqs.windows(2).all(|w| w[1] > w[0]),
        "{seqs:?}"
    );

    // The chain holds as written.
    let Run {
        ok,
        stdout: out,
        stderr: err,
    } = xconnect(&server, &server.operator(), &["audit", "verify"]);
    assert!(ok && out.starts_with("intact:"), "{out}{err}");

    // Edited in the database (its append-only trigger dropped first, as someone with the file
    // could): verify fails and names the record.
    let denied = one(&t, "DeleteConnection").await.seq;
    let db = rusqlite::Connection::open(server.data_dir.join("xconnect.db")).expect("open db");
    let refused = db.execute(
        "UPDATE audit_records SET outcome = 'success' WHERE seq = ?1",
        [denied as i64],
    );
    assert!(refused.is_err(), "the trail refuses an update");
    db.execute_batch("DROP TRIGGER audit_records_append_only")
        .expect("drop trigger");
    db.execute(
        "UPDATE audit_records SET outcome = 'success', error_code = NULL WHERE seq = ?1",
        [denied as i64],
    )
    .expect("edit");
    let Run {
        ok, stderr: err, ..
    } = xconnect(&server, &server.operator(), &["audit", "verify"]);
    assert!(!ok, "verify passed an edited trail");
    assert!(
        err.contains(&format!("broken at record {denied} (edited)")),
        "{err}"
    );
    // Put back as it was, then one deleted: missing.
    db.execute(
        "UPDATE audit_records SET outcome = 'denied', error_code = 'AccessDeniedException' WHERE seq = ?1",
        [denied as i64],
    )
    .expect("restore");
    let Run {
        ok, stderr: err, ..
    } = xconnect(&server, &server.operator(), &["audit", "verify"]);
    assert!(ok, "{err}");
    db.execute("DELETE FROM audit_records WHERE seq = ?1", [denied as i64])
        .expect("delete");
    let Run {
        ok, stderr: err, ..
    } = xconnect(&server, &server.operator(), &["audit", "verify"]);
    assert!(!ok, "verify passed a trail with a record deleted");
    assert!(
        err.contains(&format!("broken at record {} (missing)", denied + 1)),
        "{err}"
    );
}
