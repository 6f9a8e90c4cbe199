//! The wire protocols signed by hand: what the AWS CLI and SDK validate before sending (unions,
//! ranges) still gets a clear answer from the server, and both protocols carry errors the way
//! their clients parse them. Also the native API's rules that the other tests do not reach.

mod common;

use common::*;
use serde_json::{Value, json};

fn cbor(v: &Value) -> Vec<u8> {
    xc_api::cbor::encode(v)
}

#[tokio::test(flavor = "multi_thread")]
async fn wire_level_validation_and_errors() {
    let server = Server::start();
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "raw-a").await;
    let b = tenant(&server, &op, "raw-b").await;
    let ap = attach_point(&a, "vpc", &["10.50.0.0/16"]).await;
    let raw = Raw::new(&server);
    let remote = json!({ "identifier": b.creds.account_id });

    // A union with both members, or none.
    let (status, body) = raw
        .json(
            "CreateConnection",
            json!({ "environmentId": "gcp-us-east4", "bandwidth": "1Gbps", "remoteAccount": remote,
                    "attachPoint": { "directConnectGateway": ap, "arn": "arn:aws:interconnect:us-east-1:123456789012:connection/mcc-abcdefgh" } }),
            Some(&a.creds),
        )
        .await;
    assert_eq!(
        (status, err_type(&body)),
        (400, "InterconnectValidationException"),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .expect("msg")
            .contains("attachPoint"),
        "{body}"
    );
    let (status, body) = raw
        .json(
            "CreateConnection",
            json!({ "environmentId": "gcp-us-east4", "bandwidth": "1Gbps", "attachPoint": {} }),
            Some(&a.creds),
        )
        .await;
    assert_eq!(
        (status, err_type(&body)),
        (400, "InterconnectValidationException"),
        "{body}"
    );
    // Required members, ranges, types.
    let (status, body) = raw
        .json(
            "CreateConnection",
            json!({ "bandwidth": "1Gbps" }),
            Some(&a.creds),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .expect("msg")
            .contains("environmentId: is required"),
        "{body}"
    );
    let (_, body) = raw
        .json(
            "ListConnections",
            json!({ "maxResults": 500 }),
            Some(&a.creds),
        )
        .await;
    assert!(
        body["message"]
            .as_str()
            .expect("msg")
            .contains("maxResults"),
        "{body}"
    );
    let (_, body) = raw
        .json(
            "ListConnections",
            json!({ "maxResults": "ten" }),
            Some(&a.creds),
        )
        .await;
    assert_eq!(err_type(&body), "InterconnectValidationException", "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("msg")
            .contains("maxResults"),
        "{body}"
    );
    let (_, body) = raw
        .json(
            "ListConnections",
            json!({ "state": "sleeping" }),
            Some(&a.creds),
        )
        .await;
    assert!(
        body["message"].as_str().expect("msg").starts_with("state:"),
        "{body}"
    );
    let (_, body) = raw
        .json(
            "ListTagsForResource",
            json!({ "arn": "arn:aws:s3:::bucket" }),
            Some(&a.creds),
        )
        .await;
    assert!(
        body["message"].as_str().expect("msg").starts_with("arn:"),
        "{body}"
    );
    // Unknown operation, unsigned request, clock skew.
    let (status, body) = raw
        .json("DeleteEverything", json!({}), Some(&a.creds))
        .await;
    assert_eq!(
        (status, err_type(&body)),
        (400, "UnknownOperationException")
    );
    let (status, body) = raw.json("ListConnections", json!({}), None).await;
    assert_eq!(
        (status, err_type(&body)),
        (403, "MissingAuthenticationTokenException")
    );
    let target = "Interconnect.ListConnections";
    let (status, _, bytes) = raw
        .post(
            "/",
            &[
                ("content-type", "application/x-amz-json-1.0"),
                ("x-amz-target", target),
            ],
            b"{}".to_vec(),
            Some(&a.creds),
            time::Duration::minutes(10),
        )
        .await;
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(
        (status, err_type(&body)),
        (403, "InvalidSignatureException")
    );
    assert!(
        body["message"]
            .as_str()
            .expect("msg")
            .contains("Signature expired"),
        "{body}"
    );
    // Not JSON at all.
    let (status, _, bytes) = raw
        .post(
            "/",
            &[
                ("content-type", "application/x-amz-json-1.0"),
                ("x-amz-target", target),
            ],
            b"{nope".to_vec(),
            Some(&a.creds),
            time::Duration::ZERO,
        )
        .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&bytes));

    // rpc-v2-cbor: success and errors carry smithy-protocol and a CBOR __type.
    let (status, headers, body) = raw
        .cbor(
            "ListEnvironments",
            &cbor(&json!({ "maxResults": 3 })),
            &a.creds,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["smithy-protocol"], "rpc-v2-cbor");
    assert_eq!(body["environments"].as_array().expect("list").len(), 3);
    assert!(body["nextToken"].is_string());
    let (status, headers, body) = raw
        .cbor(
            "GetConnection",
            &cbor(&json!({ "identifier": "mcc-00000000" })),
            &a.creds,
        )
        .await;
    assert_eq!(
        (status, err_type(&body)),
        (404, "ResourceNotFoundException")
    );
    assert_eq!(headers["smithy-protocol"], "rpc-v2-cbor");
    let (status, _, body) = raw
        .cbor("GetConnection", &[0xbf, 0xff, 0xff], &a.creds)
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = raw.cbor("GetEnvironment", &[], &a.creds).await;
    assert_eq!(
        (status, err_type(&body)),
        (400, "InterconnectValidationException"),
        "{body}"
    );
}

/// A captured request whose signature does not cover X-Amz-Target cannot be replayed as another
/// operation: a GetConnection signed without its target, sent as DeleteConnection, is refused
/// with 403 naming the header, and the connection is still there. The same for the CBOR
/// protocol's headers.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_cannot_be_replayed_as_another_operation() {
    let server = Server::start();
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "replay-a").await;
    let b = tenant(&server, &op, "replay-b").await;
    let ap = attach_point(&a, "vpc", &["10.60.0.0/16"]).await;
    let conn = a
        .client
        .create_connection(&connection_request(
            "gcp-us-east4",
            &ap,
            &b.creds.account_id.to_string(),
        ))
        .await
        .expect("create");
    let raw = Raw::new(&server);
    let body = serde_json::to_vec(&json!({ "identifier": conn.id })).expect("json");
    let (status, _, bytes) = raw
        .post_with_unsigned(
            "/",
            &[("content-type", "application/x-amz-json-1.0")],
            &[("x-amz-target", "Interconnect.DeleteConnection")],
            body.clone(),
            Some(&a.creds),
            time::Duration::ZERO,
        )
        .await;
    let answer: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(
        (status, err_type(&answer)),
        (403, "InvalidSignatureException"),
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("x-amz-target")),
        "{answer}"
    );
    let still = a
        .client
        .get_connection(conn.id.as_str())
        .await
        .expect("get");
    assert_eq!(still.state, xc_types::ConnectionState::Requested);
    // Signed with its target, the same request is an ordinary GetConnection.
    let (status, _, _) = raw
        .post(
            "/",
            &[
                ("content-type", "application/x-amz-json-1.0"),
                ("x-amz-target", "Interconnect.GetConnection"),
            ],
            body,
            Some(&a.creds),
            time::Duration::ZERO,
        )
        .await;
    assert_eq!(status, 200);
    // CBOR: the protocol header and the content type are signed too.
    let (status, _, bytes) = raw
        .post_with_unsigned(
            "/service/Interconnect/operation/GetConnection",
            &[],
            &[
                ("content-type", "application/cbor"),
                ("smithy-protocol", "rpc-v2-cbor"),
            ],
            cbor(&json!({ "identifier": conn.id })),
            Some(&a.creds),
            time::Duration::ZERO,
        )
        .await;
    let answer = xc_api::cbor::decode(&bytes).expect("cbor");
    assert_eq!(
        (status, err_type(&answer)),
        (403, "InvalidSignatureException"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn native_api_rules() {
    let server = Server::start();
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "native-a").await;
    let b = tenant(&server, &op, "native-b").await;

    // Only the operator creates accounts; names are unique.
    let e = a
        .client
        .create_account("sneaky")
        .await
        .expect_err("tenant cannot");
    assert_eq!(e.code(), Some("AccessDeniedException"));
    let e = op.create_account("native-a").await.expect_err("duplicate");
    assert!(e.to_string().contains("already exists"), "{e}");

    // Attach points: prefixes validated, updated, deletion refused while used.
    let bad = a
        .client
        .create_attach_point(&xc_types::api::CreateAttachPointRequest {
            name: "x".into(),
            prefixes: vec!["10.0.0.1/16".into()],
            asn: None,
        })
        .await
        .expect_err("host bits");
    assert!(
        bad.to_string().contains("did you mean 10.0.0.0/16"),
        "{bad}"
    );
    let bad = a
        .client
        .create_attach_point(&xc_types::api::CreateAttachPointRequest {
            name: "x".into(),
            prefixes: vec!["10.0.0.0/16".into()],
            asn: Some(23456),
        })
        .await
        .expect_err("AS_TRANS");
    assert!(bad.to_string().contains("asn"), "{bad}");
    let ap = attach_point(&a, "edge", &["10.60.0.0/16", "2001:db8:60::/48"]).await;
    let got = a.client.get_attach_point(&ap).await.expect("get");
    // Without --asn, an attach point takes a private 4-byte ASN of its own: two tenants who
    // follow the README literally do not collide.
    assert!(
        xc_types::Asn::PRIVATE_4BYTE.contains(&got.asn.get()),
        "{}",
        got.asn
    );
    let other = attach_point(&b, "other", &["10.62.0.0/16"]).await;
    let other = b.client.get_attach_point(&other).await.expect("get");
    assert!(xc_types::Asn::PRIVATE_4BYTE.contains(&other.asn.get()));
    assert_ne!(got.asn, other.asn);
    assert_eq!(
        b.client
            .get_attach_point(&ap)
            .await
            .expect_err("isolated")
            .code(),
        Some("ResourceNotFoundException")
    );
    let upd = a
        .client
        .update_attach_point(
            &ap,
            &xc_types::api::UpdateAttachPointRequest {
                name: None,
                prefixes: Some(vec!["10.61.0.0/16".into()]),
            },
        )
        .await
        .expect("update prefixes");
    assert_eq!(upd.prefixes.len(), 1);
    let site = xc_types::api::LastMileRequest {
        circuit_id: "LUMEN-CHI-0042".into(),
        redundancy: None,
        customer_asn: 65010,
        on_premises_prefixes: vec!["10.50.0.0/24".into()],
        max_prefixes: None,
        layer: None,
        peerings: vec![],
        md5_password: Some("cpe-password".into()),
    };
    let conn = a
        .client
        .create_connection(&xc_types::api::CreateConnectionRequest {
            default_alarms: None,
            environment_id: "lumen-chicago".into(),
            bandwidth: "1Gbps".into(),
            attach_point: ap.clone(),
            remote_account: Some(b.creds.account_id.to_string()),
            description: None,
            tags: None,
            routing_policy: Some(xc_types::RoutingPolicy::Manual {
                announce: vec![xc_types::Prefix::parse("10.99.0.0/24").expect("prefix")],
                accept: vec![],
            }),
            client_token: None,
            last_mile: Some(site.clone()),
        })
        .await
        .expect_err("manual announce must be within the attach point");
    assert!(conn.to_string().contains("routingPolicy"), "{conn}");
    // A last-mile connection needs its on-premises site through the native API.
    let mut req = connection_request("lumen-chicago", &ap, &b.creds.account_id.to_string());
    let e = a.client.create_connection(&req).await.expect_err("no site");
    assert!(e.to_string().contains("lastMile"), "{e}");
    req.last_mile = Some(xc_types::api::LastMileRequest {
        on_premises_prefixes: vec!["10.61.1.0/24".into()],
        ..site.clone()
    });
    let e = a.client.create_connection(&req).await.expect_err("overlap");
    assert!(e.to_string().contains("overlaps"), "{e}");
    req.last_mile = Some(site.clone());
    let conn = a
        .client
        .create_connection(&req)
        .await
        .expect("last-mile connection");
    assert!(conn.id.as_str().starts_with("lmcc-"), "{}", conn.id);
    // Its site: a VLAN and a /30 per session allocated; the MD5 password only said to be set.
    let lm = conn.last_mile.clone().expect("site");
    assert!(lm.vlan >= 100, "{lm:?}");
    assert_eq!(lm.peerings.len(), 2, "{lm:?}");
    assert!(
        lm.peerings[0]
            .provider_address
            .to_string()
            .starts_with("100.100.")
    );
    assert!(lm.md5);
    let json = serde_json::to_string(&conn).expect("json");
    assert!(!json.contains("cpe-password"), "{json}");
    // Another site on the same edges may not reuse the first one's prefixes (the edges route
    // in one table); with its own, it gets another VLAN and other addresses.
    let e = a
        .client
        .create_connection(&req)
        .await
        .expect_err("same site twice");
    assert!(e.to_string().contains("PREFIX_OVERLAP"), "{e}");
    req.last_mile = Some(xc_types::api::LastMileRequest {
        on_premises_prefixes: vec!["10.51.0.0/24".into()],
        ..site.clone()
    });
    let other = a.client.create_connection(&req).await.expect("second");
    let lm2 = other.last_mile.clone().expect("site");
    assert_ne!(lm2.vlan, lm.vlan);
    assert_ne!(
        lm2.peerings[0].provider_address,
        lm.peerings[0].provider_address
    );
    a.client
        .delete_connection(other.id.as_str())
        .await
        .expect("delete the second");
    assert_eq!(
        conn.state_reason.as_ref().map(|r| r.code.as_str()),
        Some("AWAITING_ACCEPTANCE")
    );
    let e = a.client.delete_attach_point(&ap).await.expect_err("in use");
    assert!(e.to_string().contains(conn.id.as_str()), "{e}");
    a.client
        .delete_connection(conn.id.as_str())
        .await
        .expect("delete");
    eventually(std::time::Duration::from_secs(30), "deleted", || {
        let c = a.client.clone();
        let id = conn.id.to_string();
        async move {
            (c.get_connection(&id).await.ok()?.state == xc_types::ConnectionState::Deleted)
                .then_some(())
        }
    })
    .await;
    a.client.delete_attach_point(&ap).await.expect("free now");

    // Keys: a read-only key cannot write; a disabled key is refused; you cannot disable the key
    // you sign with.
    let ro = a
        .client
        .create_access_key(
            None,
            &xc_types::api::CreateAccessKeyRequest {
                role: xc_types::KeyRole::ReadOnly,
            },
        )
        .await
        .expect("read-only key");
    let ro_client = server.client(&ro);
    ro_client
        .list_connections(&Default::default())
        .await
        .expect("read");
    let e = attach_point_err(&ro_client).await;
    assert_eq!(e.code(), Some("AccessDeniedException"));
    let e = a
        .client
        .update_access_key(
            a.creds.access_key_id.as_str(),
            &xc_types::api::UpdateAccessKeyRequest {
                status: xc_types::KeyStatus::Inactive,
            },
        )
        .await
        .expect_err("self");
    assert!(e.to_string().contains("signed the request"), "{e}");
    a.client
        .update_access_key(
            ro.access_key_id.as_str(),
            &xc_types::api::UpdateAccessKeyRequest {
                status: xc_types::KeyStatus::Inactive,
            },
        )
        .await
        .expect("disable");
    let e = ro_client.whoami().await.expect_err("disabled");
    assert_eq!(e.code(), Some("UnrecognizedClientException"));
    let keys = a.client.list_access_keys(None).await.expect("keys");
    assert_eq!(keys.access_keys.len(), 2);
    let listed = serde_json::to_string(&keys).expect("json");
    assert!(
        !listed.contains(&a.creds.secret_access_key),
        "secrets are never listed"
    );
    a.client
        .delete_access_key(ro.access_key_id.as_str())
        .await
        .expect("delete key");
    assert_eq!(
        a.client
            .list_access_keys(None)
            .await
            .expect("keys")
            .access_keys
            .len(),
        1
    );

    // OpenAPI is served without a signature.
    let doc: Value = reqwest::get(format!("{}/v1/openapi.json", server.endpoint))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/connections"]["post"].is_object());
    // Every route of the shared table is documented and served: without credentials each
    // answers with the API's error body (or, the document itself, with the document), never
    // with the router's 404 or 405.
    let http = reqwest::Client::new();
    let routes = xc_types::api::routes::all();
    assert!(routes.len() > 30, "{} routes", routes.len());
    for r in routes {
        let method = r.method.as_str();
        assert!(
            doc["paths"][r.path][method.to_ascii_lowercase()].is_object(),
            "{method} {} is not in openapi.json",
            r.path
        );
        let path = r.path.replace("{id}", "x");
        let resp = http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                format!("{}{path}", server.endpoint),
            )
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        assert!(
            status != 404 && status != 405
                || resp
                    .json::<Value>()
                    .await
                    .is_ok_and(|b| b["code"].is_string()),
            "{method} {path}: {status}: the router does not serve it"
        );
    }
}

async fn attach_point_err(c: &xc_client::Client) -> xc_client::ClientError {
    c.create_attach_point(&xc_types::api::CreateAttachPointRequest {
        name: "ro".into(),
        prefixes: vec!["10.70.0.0/16".into()],
        asn: None,
    })
    .await
    .expect_err("read-only")
}

/// Every failure of the native API is its JSON error body: bad query strings, bodies over a
/// route's limit (signed or not), unknown routes and methods. Tag keys are removed by name,
/// commas included, and naming none that is there is an error.
#[tokio::test(flavor = "multi_thread")]
async fn native_errors_have_one_shape_and_any_tag_key_can_be_removed() {
    let server = Server::start();
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "shape-a").await;
    let b = tenant(&server, &op, "shape-b").await;
    let ap = attach_point(&a, "vpc", &["10.70.0.0/16"]).await;
    let conn = a
        .client
        .create_connection(&connection_request(
            "gcp-us-east4",
            &ap,
            &b.creds.account_id.to_string(),
        ))
        .await
        .expect("create");
    let id = conn.id.as_str();

    // Tags: each key is its own parameter, so `x,y` is one key (none such here: 404, and x and
    // y stay), and two parameters remove two keys.
    let tags = xc_types::Tags::from([
        ("x".to_owned(), "2".to_owned()),
        ("y".to_owned(), "3".to_owned()),
        ("team/net:owner".to_owned(), "ops@example.com".to_owned()),
    ]);
    a.client.tag_connection(id, tags).await.expect("tag");
    let e = a
        .client
        .untag_connection(id, &["x,y"])
        .await
        .expect_err("x,y is one key, not two");
    assert!(
        matches!(&e, xc_client::ClientError::Api { status: 404, code, .. } if code == "ResourceNotFoundException"),
        "{e:?}"
    );
    let left = a
        .client
        .untag_connection(id, &["x", "y"])
        .await
        .expect("two keys");
    assert_eq!(
        left.tags.keys().map(String::as_str).collect::<Vec<_>>(),
        ["team/net:owner"]
    );
    let e = a
        .client
        .untag_connection(id, &["nothing"])
        .await
        .expect_err("no such tag");
    assert!(
        matches!(&e, xc_client::ClientError::Api { status: 404, code, .. } if code == "ResourceNotFoundException"),
        "{e:?}"
    );
    // A tag with a control character is refused, in key and value.
    let e = a
        .client
        .tag_connection(id, xc_types::Tags::from([("a\nb".into(), "v".into())]))
        .await
        .expect_err("control character");
    assert_eq!(e.code(), Some("InterconnectValidationException"), "{e:?}");

    // Bad query strings: the error body, naming the query.
    for path in [
        "/v1/connections?maxResults=-1".to_owned(),
        "/v1/connections?maxResults=abc".to_owned(),
        format!("/v1/connections/{id}/tags"),
    ] {
        let method = if path.ends_with("/tags") {
            "DELETE"
        } else {
            "GET"
        };
        let e = a
            .client
            .call::<Value>(method, &path, None::<&Value>)
            .await
            .expect_err(&path);
        assert!(
            matches!(&e, xc_client::ClientError::Api { status: 400, code, field, .. }
                if code == "InterconnectValidationException" && field.as_deref() == Some("query")),
            "{path}: {e:?}"
        );
    }

    // Unsigned routes and routing failures, seen raw.
    let http = reqwest::Client::new();
    let error_body = |what: &str, status: u16, resp: (u16, Option<String>, Vec<u8>)| {
        assert_eq!(resp.0, status, "{what}");
        assert_eq!(resp.1.as_deref(), Some("application/json"), "{what}");
        let v: Value = serde_json::from_slice(&resp.2)
            .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {:?}", resp.2));
        assert!(
            v["code"].is_string() && v["message"].is_string(),
            "{what}: {v}"
        );
        v
    };
    let send = |req: reqwest::RequestBuilder| async move {
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        let ctype = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let allow = r
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = r.bytes().await.expect("body").to_vec();
        ((status, ctype, body), allow)
    };
    // Over-limit bodies, sent raw: the server may answer (and close) before the body is all
    // written, so the answer is read while the body is still going out.
    let host = server.endpoint.trim_start_matches("http://").to_owned();
    for path in [
        "/console/api/sign-in",
        "/v1/gateway/register",
        "/v1/gateway/status",
    ] {
        let (status, ctype, body) = oversized_post(&host, path, 3 << 20).await;
        let v = error_body(path, 413, (status, ctype, body));
        assert_eq!(v["code"], "RequestEntityTooLargeException", "{path}: {v}");
    }
    let (resp, _) = send(http.get(format!("{}/v1/no-such-thing", server.endpoint))).await;
    let v = error_body("unknown route", 404, resp);
    assert_eq!(v["code"], "UnknownOperationException", "{v}");
    let (resp, allow) = send(http.put(format!("{}/v1/connections", server.endpoint))).await;
    error_body("unknown method", 405, resp);
    let allow = allow.expect("an Allow header");
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
}

/// Two networks with one ASN would refuse each other's routes as loops and the connection would
/// stay pending for ever: the acceptance is refused with ASN_CONFLICT, saying how to fix it,
/// and nothing changes; the proposer's ASN is in the proposal's description.
#[tokio::test(flavor = "multi_thread")]
async fn accepting_with_the_same_asn_is_refused() {
    let server = Server::start();
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "asn-a").await;
    let b = tenant(&server, &op, "asn-b").await;
    let ap = |name: &str, prefix: &str, asn: u64| xc_types::api::CreateAttachPointRequest {
        name: name.into(),
        prefixes: vec![prefix.into()],
        asn: Some(asn),
    };
    let mine = a
        .client
        .create_attach_point(&ap("vpc", "10.80.0.0/16", 65100))
        .await
        .expect("ap");
    let same = b
        .client
        .create_attach_point(&ap("same", "10.81.0.0/16", 65100))
        .await
        .expect("ap");
    let conn = a
        .client
        .create_connection(&connection_request(
            "gcp-us-east4",
            &mine.id.to_string(),
            &b.creds.account_id.to_string(),
        ))
        .await
        .expect("create");
    let key = conn.activation_key.clone().expect("key");
    let described = b.client.describe_proposal(&key).await.expect("describe");
    assert_eq!(described.proposed_by_asn.get(), 65100);
    let e = b
        .client
        .accept_connection(&xc_types::api::AcceptConnectionRequest {
            default_alarms: None,
            activation_key: key.clone(),
            attach_point: same.id.to_string(),
            routing_policy: None,
            description: None,
            tags: None,
            client_token: None,
        })
        .await
        .expect_err("same ASN");
    match &e {
        xc_client::ClientError::Api {
            status,
            reason,
            message,
            ..
        } => {
            assert_eq!(
                *status, 409,
                "a valid request the other side's ASN conflicts with"
            );
            assert_eq!(reason.as_deref(), Some("ASN_CONFLICT"), "{e:?}");
            assert!(
                message.contains("65100") && message.contains("another ASN"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let still = a
        .client
        .get_connection(conn.id.as_str())
        .await
        .expect("get");
    assert_eq!(still.state, xc_types::ConnectionState::Requested);
    // With an attach point of its own ASN, the same key works.
    let own = attach_point(&b, "own", &["10.82.0.0/16"]).await;
    let accepted = b
        .client
        .accept_connection(&xc_types::api::AcceptConnectionRequest {
            default_alarms: None,
            activation_key: key,
            attach_point: own,
            routing_policy: None,
            description: None,
            tags: None,
            client_token: None,
        })
        .await
        .expect("accept");
    assert_eq!(accepted.state, xc_types::ConnectionState::Pending);

    // Last mile: the customer's router peers with the edges (AS 64999) in layer 3, with the
    // tenant's gateways in layer 2; the same ASN on both ends is refused at create.
    for (layer, customer_asn) in [(3u8, 64_999u64), (2, 65_100)] {
        let e = a
            .client
            .create_connection(&xc_types::api::CreateConnectionRequest {
                default_alarms: None,
                environment_id: "lumen-chicago".into(),
                bandwidth: "1Gbps".into(),
                attach_point: mine.id.to_string(),
                remote_account: Some(b.creds.account_id.to_string()),
                description: None,
                tags: None,
                client_token: None,
                routing_policy: None,
                last_mile: Some(xc_types::api::LastMileRequest {
                    circuit_id: "LUMEN-CHI-0099".into(),
                    redundancy: None,
                    customer_asn,
                    on_premises_prefixes: vec!["10.90.0.0/24".into()],
                    max_prefixes: None,
                    layer: Some(layer),
                    peerings: vec![],
                    md5_password: None,
                }),
            })
            .await
            .expect_err("the customer's ASN is its peer's");
        assert!(
            matches!(&e, xc_client::ClientError::Api { reason: Some(r), field: Some(f), .. }
                if r == "ASN_CONFLICT" && f == "customerAsn"),
            "layer {layer}: {e:?}"
        );
    }
}

/// POSTs a `len`-byte JSON body to `path`, reading the answer while the body goes out: its
/// status, content type and body.
async fn oversized_post(host: &str, path: &str, len: usize) -> (u16, Option<String>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        if wr.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b'x'; 64 << 10];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            if wr.write_all(&chunk[..n]).await.is_err() {
                return;
            }
            left -= n;
        }
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    // Until the headers and the whole body (its Content-Length) are in.
    loop {
        let n = tokio::time::timeout(std::time::Duration::from_secs(30), rd.read(&mut buf))
            .await
            .expect("an answer within 30 s")
            .unwrap_or(0);
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + length || n == 0 {
                writer.abort();
                let status = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let ctype = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-type:"))
                    .map(|v| v.trim().to_owned());
                return (status, ctype, raw[end + 4..].to_vec());
            }
        }
        assert!(
            n > 0,
            "the server closed without an answer: {:?}",
            String::from_utf8_lossy(&raw)
        );
    }
}
