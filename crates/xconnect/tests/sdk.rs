//! The AWS SDK for Rust (`aws-sdk-interconnect`, smithy-rpc-v2-cbor) against a real server:
//! create, get, list with pagination, describe and accept a proposal, tag, delete; and the SDK's
//! view of our errors.

mod common;

use aws_sdk_interconnect::Client as Sdk;
use aws_sdk_interconnect::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_interconnect::types::{AttachPoint, RemoteAccountIdentifier};
use common::*;
use std::time::Duration;
use xc_types::api::CreateProposalRequest;

fn sdk(server: &Server, c: &xc_types::api::Credentials) -> Sdk {
    let config = aws_sdk_interconnect::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&server.endpoint)
        .credentials_provider(Credentials::new(
            c.access_key_id.as_str(),
            &c.secret_access_key,
            None,
            None,
            "test",
        ))
        .build();
    Sdk::from_conf(config)
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_sdk_create_get_list_accept_tag_delete() {
    let server = Server::start();
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "sdk-a").await;
    let b = tenant(&server, &op, "sdk-b").await;
    let ap_a = attach_point(&a, "vpc-a", &["172.16.0.0/16"]).await;
    let ap_b = attach_point(&b, "vpc-b", &["172.17.0.0/16"]).await;
    let sa = sdk(&server, &a.creds);
    let sb = sdk(&server, &b.creds);

    let envs = sa
        .list_environments()
        .send()
        .await
        .expect("list environments");
    assert_eq!(envs.environments().len(), 9);

    let mut ids = Vec::new();
    for bw in ["500Mbps", "1Gbps", "2Gbps", "5Gbps", "10Gbps"] {
        let out = sa
            .create_connection()
            .environment_id("gcp-us-east4")
            .bandwidth(bw)
            .attach_point(AttachPoint::DirectConnectGateway(ap_a.clone()))
            .remote_account(RemoteAccountIdentifier::Identifier(
                b.creds.account_id.to_string(),
            ))
            .description(format!("sdk {bw}"))
            .send()
            .await
            .expect("create connection");
        let c = out.connection().expect("connection");
        assert_eq!(c.state().as_str(), "requested");
        assert_eq!(c.bandwidth(), bw);
        ids.push((
            c.id().to_owned(),
            c.activation_key().to_owned(),
            c.arn().to_owned(),
        ));
    }
    let got = sa
        .get_connection()
        .identifier(&ids[0].0)
        .send()
        .await
        .expect("get");
    let got = got.connection().expect("connection");
    assert_eq!(got.description(), "sdk 500Mbps");
    assert_eq!(got.owner_account(), a.creds.account_id.as_str());

    // The SDK's paginator follows nextToken with maxResults 2: three pages, five items.
    let pages: Vec<_> = sa
        .list_connections()
        .max_results(2)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("paginate");
    assert_eq!(pages.len(), 3);
    let listed: Vec<String> = pages
        .iter()
        .flat_map(|p| p.connections().iter().map(|c| c.id().to_owned()))
        .collect();
    let expected: Vec<String> = ids.iter().map(|i| i.0.clone()).collect();
    assert_eq!(listed, expected);

    // Errors come back as the modeled exceptions.
    let err = sa
        .get_connection()
        .identifier("mcc-zzzzzzzz")
        .send()
        .await
        .expect_err("not found");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{err:?}"
    );
    let err = sa
        .create_connection()
        .environment_id("gcp-us-east4")
        .bandwidth("7Gbps")
        .attach_point(AttachPoint::DirectConnectGateway(ap_a.clone()))
        .remote_account(RemoteAccountIdentifier::Identifier(
            b.creds.account_id.to_string(),
        ))
        .send()
        .await
        .expect_err("validation");
    let svc = err.as_service_error().expect("service error");
    assert!(svc.is_interconnect_validation_exception(), "{svc:?}");
    assert!(svc.to_string().contains("bandwidth"), "{svc}");

    // Owner-initiated: B describes and accepts A's key.
    let d = sb
        .describe_connection_proposal()
        .activation_key(&ids[1].1)
        .send()
        .await
        .expect("describe");
    assert_eq!(d.bandwidth(), "1Gbps");
    assert_eq!(d.environment_id(), "gcp-us-east4");
    let acc = sb
        .accept_connection_proposal()
        .activation_key(&ids[1].1)
        .attach_point(AttachPoint::DirectConnectGateway(ap_b.clone()))
        .send()
        .await
        .expect("accept");
    assert_eq!(acc.connection().expect("c").state().as_str(), "pending");

    // Remote-initiated: B proposes, A describes and accepts.
    let p = b
        .client
        .create_proposal(&CreateProposalRequest {
            attach_point: ap_b.clone(),
            environment_id: "gcp-europe-west3".into(),
            bandwidth: "25Gbps".into(),
            remote_account: a.creds.account_id.to_string(),
            description: None,
            routing_policy: None,
        })
        .await
        .expect("proposal");
    let d = sa
        .describe_connection_proposal()
        .activation_key(&p.activation_key)
        .send()
        .await
        .expect("describe");
    assert_eq!(d.location(), "europe-west3");
    let acc = sa
        .accept_connection_proposal()
        .activation_key(&p.activation_key)
        .attach_point(AttachPoint::DirectConnectGateway(ap_a.clone()))
        .send()
        .await
        .expect("accept proposal");
    let pc = acc.connection().expect("connection");
    assert_eq!(pc.bandwidth(), "25Gbps");
    assert_eq!(pc.owner_account(), a.creds.account_id.as_str());

    // Tags.
    sa.tag_resource()
        .arn(&ids[0].2)
        .tags("owner", "netops")
        .send()
        .await
        .expect("tag");
    let tags = sa
        .list_tags_for_resource()
        .arn(&ids[0].2)
        .send()
        .await
        .expect("list tags");
    assert_eq!(
        tags.tags().and_then(|t| t.get("owner")).map(String::as_str),
        Some("netops")
    );
    sa.untag_resource()
        .arn(&ids[0].2)
        .tag_keys("owner")
        .send()
        .await
        .expect("untag");
    let tags = sa
        .list_tags_for_resource()
        .arn(&ids[0].2)
        .send()
        .await
        .expect("list tags");
    assert!(tags.tags().is_none_or(|t| t.is_empty()));

    // Update and delete.
    let up = sa
        .update_connection()
        .identifier(&ids[2].0)
        .description("renamed")
        .send()
        .await
        .expect("update");
    assert_eq!(up.connection().expect("c").description(), "renamed");
    let del = sa
        .delete_connection()
        .identifier(&ids[0].0)
        .send()
        .await
        .expect("delete");
    assert_eq!(del.connection().expect("c").state().as_str(), "deleting");
    eventually(Duration::from_secs(30), "deleted", || {
        let sa = sa.clone();
        let id = ids[0].0.clone();
        async move {
            let c = sa.get_connection().identifier(id).send().await.ok()?;
            (c.connection()?.state().as_str() == "deleted").then_some(())
        }
    })
    .await;

    let aps = sa
        .list_attach_points()
        .environment_id("gcp-us-east4")
        .send()
        .await
        .expect("attach points");
    assert_eq!(aps.attach_points().len(), 1);
    assert_eq!(aps.attach_points()[0].identifier(), ap_a);
}
