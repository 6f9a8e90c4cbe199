//! The whole connection lifecycle driven by the real AWS CLI (`aws interconnect ...` with
//! `--endpoint-url`): all 13 operations, validation, not-found, signature and isolation errors,
//! pagination, idempotency, and both directions of initiation.
//!
//! Needs the AWS CLI (`.ci/run` installs it into `.venv`).

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;
use xc_types::api::*;

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_cli_drives_the_whole_lifecycle() {
    let server = Server::start();
    let ep = server.endpoint.clone();
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "alpha").await;
    let b = tenant(&server, &op, "beta").await;
    let c = tenant(&server, &op, "gamma").await;
    let ap_a = attach_point(&a, "aws-vpc", &["10.1.0.0/16"]).await;
    let ap_b = attach_point(&b, "gcp-vpc", &["10.2.0.0/16", "fd00:2::/48"]).await;
    let ap_b_overlap = attach_point(&b, "overlapping", &["10.1.128.0/17"]).await;
    let b_id = b.creds.account_id.to_string();
    let a_id = a.creds.account_id.to_string();

    // ---- catalog: ListEnvironments (filters, pagination), GetEnvironment ----
    let envs = aws(
        &ep,
        &a.creds,
        None,
        &["list-environments", "--page-size", "2"],
    )
    .expect_ok("list-environments");
    assert_eq!(
        envs["environments"].as_array().expect("list").len(),
        9,
        "{envs}"
    );
    let google = aws(
        &ep,
        &a.creds,
        None,
        &[
            "list-environments",
            "--provider",
            "cloudServiceProvider=Google Cloud",
        ],
    )
    .expect_ok("list-environments by provider");
    assert_eq!(google["environments"].as_array().expect("list").len(), 5);
    let first2 = aws(
        &ep,
        &a.creds,
        None,
        &["list-environments", "--max-items", "2"],
    )
    .expect_ok("max-items");
    assert_eq!(first2["environments"].as_array().expect("list").len(), 2);
    let rest = aws(
        &ep,
        &a.creds,
        None,
        &[
            "list-environments",
            "--starting-token",
            s(&first2["NextToken"]),
        ],
    )
    .expect_ok("starting-token");
    assert_eq!(rest["environments"].as_array().expect("list").len(), 7);
    let azure = aws(
        &ep,
        &a.creds,
        None,
        &["get-environment", "--id", "azure-eastus"],
    )
    .expect_ok("get-environment");
    assert_eq!(azure["environment"]["state"], "limited");
    assert_eq!(
        azure["environment"]["bandwidths"]["available"],
        serde_json::json!(["1Gbps"])
    );
    assert_eq!(
        azure["environment"]["provider"]["cloudServiceProvider"],
        "Microsoft Azure"
    );
    aws(
        &ep,
        &a.creds,
        None,
        &["get-environment", "--id", "nowhere-1"],
    )
    .expect_err("ResourceNotFoundException", &["nowhere-1"]);
    aws(
        &ep,
        &a.creds,
        None,
        &["get-environment", "--id", "Not An_Env"],
    )
    .expect_err("ResourceNotFoundException", &[]);
    aws(
        &ep,
        &a.creds,
        None,
        &["list-attach-points", "--environment-id", "nowhere-1"],
    )
    .expect_err("ResourceNotFoundException", &[]);

    // ---- ListAttachPoints ----
    let aps = aws(
        &ep,
        &a.creds,
        None,
        &["list-attach-points", "--environment-id", "gcp-us-east4"],
    )
    .expect_ok("list-attach-points");
    assert_eq!(
        aps["attachPoints"],
        serde_json::json!([{ "type": "DirectConnectGateway", "identifier": ap_a, "name": "aws-vpc" }])
    );

    // ---- CreateConnection, owner-initiated ----
    let dcg = format!("directConnectGateway={ap_a}");
    let remote_b = format!("identifier={b_id}");
    let created = aws(
        &ep,
        &a.creds,
        None,
        &[
            "create-connection",
            "--environment-id",
            "gcp-us-east4",
            "--bandwidth",
            "1Gbps",
            "--attach-point",
            &dcg,
            "--remote-account",
            &remote_b,
            "--description",
            "aws to gcp",
            "--tags",
            "team=net",
        ],
    )
    .expect_ok("create-connection");
    let conn = &created["connection"];
    let id = s(&conn["id"]).to_owned();
    assert!(id.starts_with("mcc-") && id.len() == 12, "{id}");
    assert_eq!(conn["state"], "requested");
    assert_eq!(conn["ownerAccount"], a_id.as_str());
    assert_eq!(conn["provider"]["cloudServiceProvider"], "Google Cloud");
    assert_eq!(conn["location"], "us-east4");
    assert_eq!(conn["type"], "multicloud");
    assert_eq!(conn["tags"]["team"], "net");
    assert_eq!(conn["attachPoint"]["directConnectGateway"], ap_a.as_str());
    let arn = s(&conn["arn"]).to_owned();
    assert_eq!(
        arn,
        format!("arn:aws:interconnect:us-east-1:{a_id}:connection/{id}")
    );
    let key = s(&conn["activationKey"]).to_owned();
    assert!(key.len() > 20);

    // ---- validation errors name the field ----
    aws(
        &ep,
        &a.creds,
        None,
        &[
            "create-connection",
            "--environment-id",
            "gcp-us-east4",
            "--bandwidth",
            "3Gbps",
            "--attach-point",
            &dcg,
            "--remote-account",
            &remote_b,
        ],
    )
    .expect_err(
        "InterconnectValidationException",
        &["bandwidth", "available"],
    );
    aws(
        &ep,
        &a.creds,
        None,
        &[
            "create-connection",
            "--environment-id",
            "gcp-us-east4",
            "--bandwidth",
            "1 Gbps",
            "--attach-point",
            &dcg,
            "--remote-account",
            &remote_b,
        ],
    )
    .expect_err("InterconnectValidationException", &["bandwidth"]);
    aws(
        &ep,
        &a.creds,
        None,
        &[
            "create-connection",
            "--environment-id",
            "gcp-us-east4",
            "--bandwidth",
            "1Gbps",
            "--attach-point",
            &dcg,
            "--remote-account",
            &remote_b,
            "--description",
            "semi;colon",
        ],
    )
    .expect_err("InterconnectValidationException", &["description"]);
    aws(
        &ep,
        &a.creds,
        None,
        &[
            "create-connection",
            "--environment-id",
            "oci-us-ashburn-1",
            "--bandwidth",
            "1Gbps",
            "--attach-point",
            &dcg,
            "--remote-account",
            &remote_b,
        ],
    )
    .expect_err(
        "InterconnectClientException",
        &["unavailable", "coming later"],
    );
    aws(
        &ep,
        &a.creds,
        None,
        &["get-connection", "--identifier", "mcc-NOTVALID"],
    )
    .expect_err("InterconnectValidationException", &["identifier"]);
    aws(
        &ep,
        &a.creds,
        None,
        &["get-connection", "--identifier", "mcc-zzzzzzzz"],
    )
    .expect_err("ResourceNotFoundException", &["mcc-zzzzzzzz"]);
    aws(
        &ep,
        &a.creds,
        None,
        &[
            "create-connection",
            "--environment-id",
            "gcp-us-east4",
            "--bandwidth",
            "1Gbps",
            "--attach-point",
            &format!("directConnectGateway={ap_b}"),
            "--remote-account",
            &remote_b,
        ],
    )
    .expect_err("ResourceNotFoundException", &["attach point"]);

    // ---- signature failures ----
    aws(&ep, &a.creds, Some("not-the-secret"), &["list-connections"])
        .expect_err("InvalidSignatureException", &["signature"]);
    let mut unknown = a.creds.clone();
    unknown.access_key_id = xc_types::AccessKeyId::parse("XCAAAAAAAAAAAAAAAAAA").expect("id");
    aws(&ep, &unknown, None, &["list-connections"]).expect_err("UnrecognizedClientException", &[]);

    // ---- isolation: an unrelated account sees nothing; the remote sees nothing before accepting ----
    aws(
        &ep,
        &c.creds,
        None,
        &["get-connection", "--identifier", &id],
    )
    .expect_err("ResourceNotFoundException", &[]);
    aws(
        &ep,
        &b.creds,
        None,
        &["get-connection", "--identifier", &id],
    )
    .expect_err("ResourceNotFoundException", &[]);
    let c_list = aws(&ep, &c.creds, None, &["list-connections"]).expect_ok("list as c");
    assert_eq!(c_list["connections"], serde_json::json!([]));
    aws(
        &ep,
        &c.creds,
        None,
        &["delete-connection", "--identifier", &id],
    )
    .expect_err("ResourceNotFoundException", &[]);
    aws(
        &ep,
        &c.creds,
        None,
        &["list-tags-for-resource", "--arn", &arn],
    )
    .expect_err("ResourceNotFoundException", &[]);

    // ---- idempotency ----
    let tok = ["--client-token", "retry-1"];
    let args = [
        "create-connection",
        "--environment-id",
        "gcp-us-west2",
        "--bandwidth",
        "500Mbps",
        "--attach-point",
        &dcg,
        "--remote-account",
        &remote_b,
    ];
    let first = aws(&ep, &a.creds, None, &[&args[..], &tok[..]].concat()).expect_ok("first");
    let again = aws(&ep, &a.creds, None, &[&args[..], &tok[..]].concat()).expect_ok("again");
    assert_eq!(first["connection"]["id"], again["connection"]["id"]);
    let mut changed = args.to_vec();
    changed[4] = "1Gbps";
    // A valid request that conflicts with the one the token was first used for.
    aws(&ep, &a.creds, None, &[&changed[..], &tok[..]].concat())
        .expect_err("InterconnectClientException", &["clientToken"]);

    // ---- DescribeConnectionProposal, then the remote accepts ----
    let described = aws(
        &ep,
        &b.creds,
        None,
        &["describe-connection-proposal", "--activation-key", &key],
    )
    .expect_ok("describe");
    assert_eq!(described["bandwidth"], "1Gbps");
    assert_eq!(described["environmentId"], "gcp-us-east4");
    assert_eq!(described["location"], "us-east4");
    aws(
        &ep,
        &c.creds,
        None,
        &["describe-connection-proposal", "--activation-key", &key],
    )
    .expect_err("AccessDeniedException", &["another account"]);
    let mut forged = key.clone();
    forged.replace_range(10..11, if &key[10..11] == "A" { "B" } else { "A" });
    aws(
        &ep,
        &b.creds,
        None,
        &["describe-connection-proposal", "--activation-key", &forged],
    )
    .expect_err("ResourceNotFoundException", &["activation key"]);
    // Overlapping address space is refused and changes nothing.
    b.client
        .accept_connection(&AcceptConnectionRequest {
            default_alarms: None,
            activation_key: key.clone(),
            attach_point: ap_b_overlap.clone(),
            routing_policy: None,
            description: None,
            tags: None,
            client_token: None,
        })
        .await
        .map(|_| ())
        .map_err(|e| assert!(e.to_string().contains("PREFIX_OVERLAP"), "{e}"))
        .expect_err("overlap must be refused");
    // The native accept (owner-initiated direction).
    let accepted = b
        .client
        .accept_connection(&AcceptConnectionRequest {
            default_alarms: None,
            activation_key: key.clone(),
            attach_point: ap_b.clone(),
            routing_policy: None,
            description: None,
            tags: None,
            client_token: None,
        })
        .await
        .expect("accept");
    assert_eq!(accepted.state, xc_types::ConnectionState::Pending);
    assert_eq!(accepted.your_side, xc_types::gateway::Side::Remote);
    assert!(
        accepted.activation_key.is_none(),
        "the key is shown to the owner only"
    );
    // Single use.
    aws(
        &ep,
        &b.creds,
        None,
        &[
            "accept-connection-proposal",
            "--activation-key",
            &key,
            "--attach-point",
            &format!("directConnectGateway={ap_b}"),
        ],
    )
    .expect_err("InterconnectClientException", &["already been used"]);

    // ---- the remote reads, cannot change; the owner updates ----
    let seen = aws(
        &ep,
        &b.creds,
        None,
        &["get-connection", "--identifier", &id],
    )
    .expect_ok("remote get");
    assert_eq!(seen["connection"]["state"], "pending");
    aws(
        &ep,
        &b.creds,
        None,
        &[
            "update-connection",
            "--identifier",
            &id,
            "--description",
            "mine now",
        ],
    )
    .expect_err("AccessDeniedException", &[]);
    aws(
        &ep,
        &b.creds,
        None,
        &["tag-resource", "--arn", &arn, "--tags", "x=y"],
    )
    .expect_err("AccessDeniedException", &[]);
    let updated = aws(
        &ep,
        &a.creds,
        None,
        &[
            "update-connection",
            "--identifier",
            &id,
            "--bandwidth",
            "2Gbps",
            "--description",
            "aws to gcp fast",
        ],
    )
    .expect_ok("update");
    assert_eq!(updated["connection"]["state"], "updating");
    assert_eq!(updated["connection"]["description"], "aws to gcp fast");
    let settled = eventually(
        Duration::from_secs(30),
        "the bandwidth change to apply",
        || {
            let out = aws(
                &ep,
                &a.creds,
                None,
                &["get-connection", "--identifier", &id],
            )
            .expect_ok("get");
            async move { (out["connection"]["state"] == "pending").then_some(out) }
        },
    )
    .await;
    assert_eq!(settled["connection"]["bandwidth"], "2Gbps");
    aws(
        &ep,
        &a.creds,
        None,
        &[
            "update-connection",
            "--identifier",
            &id,
            "--bandwidth",
            "3Gbps",
        ],
    )
    .expect_err("InterconnectValidationException", &["bandwidth"]);

    // ---- tags ----
    aws(
        &ep,
        &a.creds,
        None,
        &["tag-resource", "--arn", &arn, "--tags", "env=prod,cost=42"],
    )
    .expect_ok("tag");
    let tags = aws(
        &ep,
        &b.creds,
        None,
        &["list-tags-for-resource", "--arn", &arn],
    )
    .expect_ok("list tags as remote");
    assert_eq!(
        tags["tags"],
        serde_json::json!({ "team": "net", "env": "prod", "cost": "42" })
    );
    aws(
        &ep,
        &a.creds,
        None,
        &[
            "untag-resource",
            "--arn",
            &arn,
            "--tag-keys",
            "team",
            "cost",
        ],
    )
    .expect_ok("untag");
    let tags = aws(
        &ep,
        &a.creds,
        None,
        &["list-tags-for-resource", "--arn", &arn],
    )
    .expect_ok("list tags");
    assert_eq!(tags["tags"], serde_json::json!({ "env": "prod" }));
    aws(
        &ep,
        &a.creds,
        None,
        &[
            "list-tags-for-resource",
            "--arn",
            "arn:aws:interconnect:us-east-1:123456789012:connection/mcc-00000000",
        ],
    )
    .expect_err("ResourceNotFoundException", &[]);

    // ---- ListConnections: pagination and filters ----
    for bw in ["500Mbps", "1Gbps", "2Gbps", "5Gbps"] {
        aws(
            &ep,
            &a.creds,
            None,
            &[
                "create-connection",
                "--environment-id",
                "gcp-europe-west2",
                "--bandwidth",
                bw,
                "--attach-point",
                &dcg,
                "--remote-account",
                &remote_b,
            ],
        )
        .expect_ok("create more");
    }
    let all = aws(
        &ep,
        &a.creds,
        None,
        &["list-connections", "--page-size", "2"],
    )
    .expect_ok("list all");
    let all = all["connections"].as_array().expect("list").clone();
    assert_eq!(all.len(), 6, "{all:?}");
    let ids: std::collections::BTreeSet<&str> = all.iter().map(|c| s(&c["id"])).collect();
    assert_eq!(ids.len(), 6, "pages must not repeat items");
    let page = aws(
        &ep,
        &a.creds,
        None,
        &["list-connections", "--max-items", "4", "--page-size", "3"],
    )
    .expect_ok("page");
    assert_eq!(page["connections"].as_array().expect("list").len(), 4);
    let next = aws(
        &ep,
        &a.creds,
        None,
        &[
            "list-connections",
            "--starting-token",
            s(&page["NextToken"]),
            "--page-size",
            "3",
        ],
    )
    .expect_ok("next");
    assert_eq!(next["connections"].as_array().expect("list").len(), 2);
    let europe = aws(
        &ep,
        &a.creds,
        None,
        &[
            "list-connections",
            "--environment-id",
            "gcp-europe-west2",
            "--page-size",
            "1",
        ],
    )
    .expect_ok("env filter");
    assert_eq!(europe["connections"].as_array().expect("list").len(), 4);
    let requested = aws(
        &ep,
        &a.creds,
        None,
        &["list-connections", "--state", "requested"],
    )
    .expect_ok("state filter");
    assert_eq!(requested["connections"].as_array().expect("list").len(), 5);
    let by_ap = aws(
        &ep,
        &b.creds,
        None,
        &[
            "list-connections",
            "--attach-point",
            &format!("directConnectGateway={ap_b}"),
        ],
    )
    .expect_ok("ap filter");
    assert_eq!(by_ap["connections"].as_array().expect("list").len(), 1);
    let by_provider = aws(
        &ep,
        &a.creds,
        None,
        &["list-connections", "--provider", "lastMileProvider=Lumen"],
    )
    .expect_ok("provider filter");
    assert_eq!(by_provider["connections"], serde_json::json!([]));
    aws(
        &ep,
        &a.creds,
        None,
        &["list-connections", "--next-token", "xcpt1.e30.AAAA"],
    )
    .expect_err("InterconnectValidationException", &["nextToken"]);
    // A token only continues the listing that made it (another caller or filter is refused).
    let one = aws(
        &ep,
        &a.creds,
        None,
        &["list-connections", "--max-results", "1"],
    )
    .expect_ok("one");
    let token = s(&one["nextToken"]).to_owned();
    aws(
        &ep,
        &a.creds,
        None,
        &[
            "list-connections",
            "--max-results",
            "1",
            "--state",
            "pending",
            "--next-token",
            &token,
        ],
    )
    .expect_err("InterconnectValidationException", &["nextToken"]);
    aws(
        &ep,
        &c.creds,
        None,
        &["list-connections", "--next-token", &token],
    )
    .expect_err("InterconnectValidationException", &["nextToken"]);

    // ---- remote-initiated: B proposes, A describes and accepts on the AWS API ----
    let proposal = b
        .client
        .create_proposal(&CreateProposalRequest {
            attach_point: ap_b.clone(),
            environment_id: "gcp-us-west1".into(),
            bandwidth: "500Mbps".into(),
            remote_account: a_id.clone(),
            description: Some("from gcp".into()),
            routing_policy: None,
        })
        .await
        .expect("proposal");
    let pkey = proposal.activation_key.clone();
    let d = aws(
        &ep,
        &a.creds,
        None,
        &["describe-connection-proposal", "--activation-key", &pkey],
    )
    .expect_ok("describe proposal");
    assert_eq!(d["environmentId"], "gcp-us-west1");
    assert_eq!(d["bandwidth"], "500Mbps");
    assert_eq!(d["provider"]["cloudServiceProvider"], "Google Cloud");
    let acc = aws(
        &ep,
        &a.creds,
        None,
        &[
            "accept-connection-proposal",
            "--activation-key",
            &pkey,
            "--attach-point",
            &dcg,
            "--tags",
            "via=proposal",
        ],
    )
    .expect_ok("accept proposal");
    let pconn = &acc["connection"];
    assert_eq!(pconn["state"], "pending");
    assert_eq!(pconn["ownerAccount"], a_id.as_str());
    assert_eq!(pconn["environmentId"], "gcp-us-west1");
    assert_eq!(pconn["bandwidth"], "500Mbps");
    assert_eq!(pconn["sharedId"], proposal.shared_id.to_string().as_str());
    let pid = s(&pconn["id"]).to_owned();
    let from_b = b
        .client
        .get_connection(&pid)
        .await
        .expect("proposer sees the connection");
    assert_eq!(from_b.your_side, xc_types::gateway::Side::Remote);
    aws(
        &ep,
        &a.creds,
        None,
        &[
            "accept-connection-proposal",
            "--activation-key",
            &pkey,
            "--attach-point",
            &dcg,
        ],
    )
    .expect_err("InterconnectClientException", &["already"]);

    // ---- DeleteConnection from the remote side: both sides end deleted ----
    let del = aws(
        &ep,
        &b.creds,
        None,
        &["delete-connection", "--identifier", &id],
    )
    .expect_ok("delete by remote");
    assert!(
        ["deleting", "deleted"].contains(&s(&del["connection"]["state"])),
        "{del}"
    );
    for who in [&a.creds, &b.creds] {
        eventually(
            Duration::from_secs(30),
            "the connection to be deleted",
            || {
                let out = aws(&ep, who, None, &["get-connection", "--identifier", &id])
                    .expect_ok("get deleted");
                async move { (out["connection"]["state"] == "deleted").then_some(()) }
            },
        )
        .await;
    }
    // Deleting again is harmless; deleted connections are still listed for a while.
    aws(
        &ep,
        &a.creds,
        None,
        &["delete-connection", "--identifier", &id],
    )
    .expect_ok("delete again");
    let deleted = aws(
        &ep,
        &a.creds,
        None,
        &["list-connections", "--state", "deleted"],
    )
    .expect_ok("deleted list");
    assert_eq!(deleted["connections"][0]["id"], id.as_str());
    // The attach point is free again once nothing uses it... but A's is still used by others.
    let in_use = a
        .client
        .delete_attach_point(&ap_a)
        .await
        .expect_err("in use");
    assert!(in_use.to_string().contains("used by"), "{in_use}");
}

/// Quotas through the AWS CLI: with `connections-per-environment` set to 2 for an account, its
/// third connection in one environment is refused with `ServiceQuotaExceededException` naming
/// the quota, its value and the use; another environment still takes one, and deleting one frees
/// a place. A tenant cannot set quotas; the operator puts one back to its default.
#[tokio::test(flavor = "multi_thread")]
async fn aws_cli_creates_up_to_the_quota_and_no_further() {
    use xc_types::api::quotas::{QuotaName, SetQuotaRequest};

    let server = Server::start();
    let ep = server.endpoint.clone();
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "alpha").await;
    let b = tenant(&server, &op, "beta").await;
    let a_id = a.creds.account_id.to_string();
    let ap = attach_point(&a, "vpc", &["10.1.0.0/16"]).await;
    let set = |quota: QuotaName, value: Option<u64>| SetQuotaRequest {
        account_id: a_id.clone(),
        quota,
        value,
    };
    op.set_quota(&set(QuotaName::ConnectionsPerEnvironment, Some(2)))
        .await
        .expect("set quota");
    let refused = a
        .client
        .set_quota(&set(QuotaName::ConnectionsPerEnvironment, Some(100)))
        .await;
    assert!(refused.is_err(), "a tenant sets no quota: {refused:?}");

    let dcg = format!("directConnectGateway={ap}");
    let remote = format!("identifier={}", b.creds.account_id);
    let create = |env: &'static str| {
        aws(
            &ep,
            &a.creds,
            None,
            &[
                "create-connection",
                "--environment-id",
                env,
                "--bandwidth",
                "1Gbps",
                "--attach-point",
                &dcg,
                "--remote-account",
                &remote,
            ],
        )
    };
    let first = create("gcp-us-east4").expect_ok("first");
    create("gcp-us-east4").expect_ok("second");
    create("gcp-us-east4").expect_err(
        "ServiceQuotaExceededException",
        &[
            "connections-per-environment",
            "is 2",
            "2 is in use in gcp-us-east4",
        ],
    );
    create("gcp-us-west1").expect_ok("another environment");
    let quotas = a.client.list_quotas(None).await.expect("list quotas");
    let per_env = quotas
        .quotas
        .iter()
        .find(|q| q.name == QuotaName::ConnectionsPerEnvironment)
        .expect("the quota");
    assert_eq!((per_env.value, per_env.used), (2, 2));
    assert_eq!(per_env.used_by_environment.get("gcp-us-west1"), Some(&1));
    let bandwidth = quotas
        .quotas
        .iter()
        .find(|q| q.name == QuotaName::BandwidthMbps)
        .expect("the quota");
    assert_eq!(bandwidth.used, 3_000);

    // A deleted connection frees its place.
    aws(
        &ep,
        &a.creds,
        None,
        &[
            "delete-connection",
            "--identifier",
            s(&first["connection"]["id"]),
        ],
    )
    .expect_ok("delete");
    create("gcp-us-east4").expect_ok("in the place freed");
    // Back to the default (10).
    let back = op
        .set_quota(&set(QuotaName::ConnectionsPerEnvironment, None))
        .await
        .expect("default");
    assert!(
        back.quotas
            .iter()
            .any(|q| q.name == QuotaName::ConnectionsPerEnvironment
                && q.value == QuotaName::ConnectionsPerEnvironment.default_value())
    );
    create("gcp-us-east4").expect_ok("under the default");
}

/// Throttling through the AWS CLI: with writes limited to one a second per key (a burst of
/// two), creates sent at once beyond the bucket get `ThrottlingException`; with the CLI's
/// standard retries the same burst completes. Reads and other keys are not held back.
#[tokio::test(flavor = "multi_thread")]
async fn aws_cli_is_throttled_past_the_rate_and_its_retries_get_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(dir.path(), &["--write-rate", "1", "--write-burst", "2"]);
    let ep = server.endpoint.clone();
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "alpha").await;
    let b = tenant(&server, &op, "beta").await;
    let ap = attach_point(&a, "vpc", &["10.1.0.0/16"]).await;
    let dcg = format!("directConnectGateway={ap}");
    let remote = format!("identifier={}", b.creds.account_id);
    let create = |attempts: u32| {
        aws_attempts(
            &ep,
            &a.creds,
            None,
            attempts,
            &[
                "create-connection",
                "--environment-id",
                "gcp-us-east4",
                "--bandwidth",
                "1Gbps",
                "--attach-point",
                &dcg,
                "--remote-account",
                &remote,
            ],
        )
    };
    let burst = |n: usize, attempts: u32| {
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..n).map(|_| s.spawn(|| create(attempts))).collect();
            runs.into_iter()
                .map(|r| r.join().expect("aws"))
                .collect::<Vec<_>>()
        })
    };
    // One attempt each: eight at once against a bucket of at most two (however the CLI's
    // start-ups spread them, a few seconds give a few more tokens at most).
    let once = burst(8, 1);
    let throttled: Vec<&AwsOutput> = once.iter().filter(|r| !r.ok).collect();
    assert!(!throttled.is_empty(), "some of eight at once are throttled");
    for r in &throttled {
        assert!(
            r.stderr.contains("ThrottlingException") && r.stderr.contains("request rate"),
            "{}",
            r.stderr
        );
    }
    // Reads have no limit here, and another key has its own bucket.
    aws(&ep, &a.creds, None, &["list-connections"]).expect_ok("a read meanwhile");
    attach_point(&b, "theirs", &["10.2.0.0/16"]).await;
    // With the CLI's retries, the same burst completes.
    for r in burst(4, 10) {
        let created = r.expect_ok("create with retries");
        assert_eq!(created["connection"]["state"], "requested");
    }
    // xconnect's own client waits out the server's Retry-After too.
    let peer = b.creds.account_id.to_string();
    for _ in 0..4 {
        a.client
            .create_connection(&connection_request("gcp-us-east4", &ap, &peer))
            .await
            .expect("the client waits and tries again");
    }
}
