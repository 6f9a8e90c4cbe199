//! The OpenAPI document against the server, by schemathesis with all its checks: every
//! operation fuzzed with valid and invalid requests (signed with SigV4 by botocore's signer, see
//! `tests/schemathesis/hooks.py`), every answer checked against the document (statuses, content
//! types, bodies, headers), authentication probed, and a stateful phase that chains operations.
//! A fixed seed makes the run the same every time. The requests and answers are kept (a HAR
//! file) and the test checks that the operations a tenant uses were answered with success, so
//! that a run whose requests were all refused (unsigned, say) cannot pass. Needs `.venv` with
//! schemathesis and botocore (`bash scripts/test.sh` makes it).

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn schemathesis() -> PathBuf {
    if let Ok(p) = std::env::var("XCONNECT_SCHEMATHESIS") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/schemathesis");
    assert!(
        venv.exists(),
        "this test needs schemathesis: run `bash scripts/test.sh` (it installs it into .venv) or `.venv/bin/pip install schemathesis botocore`"
    );
    venv
}

/// The route template a request's path matches (`/v1/connections/mcc-x/tags` is
/// `/v1/connections/{id}/tags`), from the document's paths.
fn template<'a>(paths: &'a [String], path: &str) -> Option<&'a str> {
    let parts: Vec<&str> = path.split('/').collect();
    paths
        .iter()
        .filter(|t| {
            let t: Vec<&str> = t.split('/').collect();
            t.len() == parts.len()
                && t.iter()
                    .zip(&parts)
                    .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
        })
        // A literal segment wins over a parameter (`/v1/connections/accept`).
        .min_by_key(|t| t.matches('{').count())
        .map(String::as_str)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_what_the_server_does() {
    let server = Server::start();
    let op = server.client(&server.operator());
    let peer = tenant(&server, &op, "schemathesis-peer")
        .await
        .creds
        .account_id
        .to_string();
    let tenant = tenant(&server, &op, "schemathesis").await;
    // Generated requests create far more than an account's default quotas allow; the quotas
    // have their own tests (aws_cli.rs).
    for &quota in xc_types::api::quotas::QuotaName::ALL {
        op.set_quota(&xc_types::api::quotas::SetQuotaRequest {
            account_id: tenant.creds.account_id.to_string(),
            quota,
            value: Some(xc_types::api::quotas::MAX_QUOTA),
        })
        .await
        .expect("raise the quota");
    }
    // What well-formed ids in generated requests are made to name (see hooks.py).
    let ap = attach_point(&tenant, "schemathesis", &["10.200.0.0/16"]).await;
    let conn = tenant
        .client
        .create_connection(&connection_request("gcp-us-east4", &ap, &peer))
        .await
        .expect("create the fixture connection");
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let report = tempfile::tempdir().expect("tempdir");
    let har = report.path().join("run.har");
    let out = Command::new(schemathesis())
        .current_dir(&hooks)
        .args(["run", &format!("{}/v1/openapi.json", server.endpoint)])
        .args([
            "--checks",
            "all",
            // A deleted connection stays describable with state `deleted`, as AWS's do; the
            // check wants a 404.
            "--exclude-checks",
            "use_after_free",
            "--max-examples",
            "30",
            "--seed",
            "20261202",
        ])
        .args(["--generation-database", "none"])
        .args(["--request-timeout", "30", "--no-color"])
        .args(["--report", "har", "--report-har-path"])
        .arg(&har)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", &hooks)
        .env("XC_KEY", tenant.creds.access_key_id.as_str())
        .env("XC_SECRET", &tenant.creds.secret_access_key)
        .env("XC_REGION", REGION)
        .env("XC_ENDPOINT", &server.endpoint)
        .env("XC_ATTACH_POINT", &ap)
        .env("XC_ANNOUNCE", "10.200.0.0/16")
        .env("XC_ENVIRONMENT", "gcp-us-east4")
        .env("XC_REMOTE_ACCOUNT", &peer)
        .env("XC_CONNECTION", conn.id.to_string())
        .output()
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Selected: 86/86"), "{text}");

    // Which operations were answered with success, from the requests as sent.
    let doc: Value = reqwest::get(format!("{}/v1/openapi.json", server.endpoint))
        .await
        .expect("document")
        .json()
        .await
        .expect("json");
    let paths: Vec<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    let har: Value =
        serde_json::from_slice(&std::fs::read(&har).expect("the HAR report")).expect("HAR json");
    let mut succeeded: BTreeMap<String, usize> = BTreeMap::new();
    for e in har["log"]["entries"].as_array().expect("entries") {
        let status = e["response"]["status"].as_u64().unwrap_or(0);
        let url = e["request"]["url"].as_str().unwrap_or_default();
        let path = url
            .strip_prefix(server.endpoint.as_str())
            .unwrap_or(url)
            .split('?')
            .next()
            .unwrap_or_default();
        if let (200..=299, Some(t)) = (status, template(&paths, path)) {
            let method = e["request"]["method"].as_str().unwrap_or_default();
            *succeeded.entry(format!("{method} {t}")).or_default() += 1;
        }
    }
    // Everything a tenant does; not what needs another party's key or a gateway's credential
    // (accepting, describing a proposal, the gateway routes), nor the operator's own.
    for operation in [
        "GET /v1/whoami",
        "GET /v1/environments",
        "GET /v1/environments/{id}",
        "GET /v1/facilities",
        "POST /v1/attach-points",
        "GET /v1/attach-points",
        "GET /v1/attach-points/{id}",
        "PATCH /v1/attach-points/{id}",
        "DELETE /v1/attach-points/{id}",
        "POST /v1/connections",
        "GET /v1/connections",
        "GET /v1/connections/{id}",
        "PATCH /v1/connections/{id}",
        "GET /v1/connections/{id}/events",
        "GET /v1/connections/{id}/links",
        "GET /v1/connections/{id}/metrics",
        "POST /v1/connections/{id}/flow-log",
        "GET /v1/connections/{id}/flow-log",
        "GET /v1/connections/{id}/flow-log/records",
        "POST /v1/connections/{id}/tags",
        "DELETE /v1/connections/{id}/tags",
        "GET /v1/events",
        "POST /v1/alarms",
        "GET /v1/alarms",
        "POST /v1/webhooks",
        "GET /v1/webhooks",
        "POST /v1/proposals",
        "GET /v1/proposals",
        "DELETE /v1/proposals/{id}",
        "POST /v1/access-keys",
        "GET /v1/access-keys",
        "PATCH /v1/access-keys/{id}",
        "DELETE /v1/access-keys/{id}",
        "POST /v1/gateway-tokens",
        "GET /v1/gateways",
        "POST /v1/attach-points/{id}/check",
        "GET /v1/security-groups",
        "GET /v1/network-acls",
        "POST /v1/prefix-lists",
        "GET /v1/prefix-lists",
    ] {
        assert!(
            succeeded.get(operation).is_some_and(|n| *n > 0),
            "no request to {operation} succeeded; those that did: {succeeded:?}\n{text}"
        );
    }
}
