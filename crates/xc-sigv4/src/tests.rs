use super::*;
use proptest::prelude::*;

/// The worked example of the AWS documentation ("Examples of how to derive a signing key" and the
/// IAM `ListUsers` GET request of the SigV4 test suite), checked end to end.
#[test]
fn aws_documentation_example() {
    let headers = [
        ("Host", "iam.amazonaws.com"),
        (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("X-Amz-Date", "20150830T123600Z"),
    ];
    let req = Request {
        method: "GET",
        path: "/",
        query: "Action=ListUsers&Version=2010-05-08",
        headers: &headers,
        body: b"",
    };
    let auth = Authorization::parse(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, \
         Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    )
    .expect("parses");
    let expect = Expect {
        region: "us-east-1",
        service: "iam",
        now: parse_amz_date("20150830T123700Z").expect("date"),
        signed_if_present: &["content-type"],
    };
    verify(
        &req,
        &auth,
        b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        &expect,
    )
    .expect("valid");
    assert_eq!(verify(&req, &auth, b"wrong", &expect), Err(Error::Mismatch));
    let late = Expect {
        now: parse_amz_date("20150830T124200Z").expect("date"),
        ..expect.clone()
    };
    assert!(matches!(
        verify(
            &req,
            &auth,
            b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            &late
        ),
        Err(Error::Skew { .. })
    ));
    let other = Expect {
        region: "eu-west-1",
        ..expect
    };
    assert!(matches!(
        verify(&req, &auth, b"x", &other),
        Err(Error::WrongRegion(..))
    ));
}

fn signed_request<'a>(headers: &'a mut Vec<(&'a str, String)>) -> Vec<(&'a str, &'a str)> {
    headers.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn sign_then_verify_and_tamper() {
    let now = parse_amz_date("20261126T080000Z").expect("date");
    let base = [
        ("host", "127.0.0.1:7700"),
        ("content-type", "application/json"),
    ];
    let req = Request {
        method: "POST",
        path: "/v1/connections",
        query: "a=1&b=x%20y",
        headers: &base,
        body: b"{}",
    };
    let added = sign(&req, "XCAAAA", b"secret", "us-east-1", "interconnect", now);
    let mut all: Vec<(&str, String)> = base.iter().map(|(k, v)| (*k, v.to_string())).collect();
    all.extend(added);
    let headers = signed_request(&mut all);
    let auth_value = headers
        .iter()
        .find(|(k, _)| *k == "authorization")
        .expect("auth")
        .1;
    let auth = Authorization::parse(auth_value).expect("parses");
    let expect = Expect {
        region: "us-east-1",
        service: "interconnect",
        now,
        signed_if_present: &["content-type", "smithy-protocol"],
    };
    let signed = Request {
        headers: &headers,
        ..req
    };
    verify(&signed, &auth, b"secret", &expect).expect("valid");
    let tampered = Request {
        body: b"{\"x\":1}",
        ..signed
    };
    assert_eq!(
        verify(&tampered, &auth, b"secret", &expect),
        Err(Error::BodyHashMismatch)
    );
    let moved = Request {
        path: "/v1/accounts",
        ..signed
    };
    assert_eq!(
        verify(&moved, &auth, b"secret", &expect),
        Err(Error::Mismatch)
    );
}

/// A request signed without X-Amz-Target (or Content-Type) in SignedHeaders could be replayed
/// as another operation: verification names the unsigned header instead.
#[test]
fn headers_that_change_the_meaning_must_be_signed() {
    let now = parse_amz_date("20261126T080000Z").expect("date");
    let expect = Expect {
        region: "us-east-1",
        service: "interconnect",
        now,
        signed_if_present: &["content-type", "smithy-protocol"],
    };
    let verify_with = |signed: &[(&str, &str)], sent: &[(&str, &str)]| {
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: signed,
            body: b"{}",
        };
        let added = sign(&req, "XCAAAA", b"secret", "us-east-1", "interconnect", now);
        let auth = Authorization::parse(
            &added
                .iter()
                .find(|(k, _)| *k == "authorization")
                .expect("auth")
                .1,
        )
        .expect("parses");
        let mut all: Vec<(&str, &str)> = sent.to_vec();
        all.extend(added.iter().map(|(k, v)| (*k, v.as_str())));
        verify(
            &Request {
                headers: &all,
                ..req
            },
            &auth,
            b"secret",
            &expect,
        )
    };
    let host = ("host", "127.0.0.1:7700");
    let json = ("content-type", "application/x-amz-json-1.0");
    let get = ("x-amz-target", "Interconnect.GetConnection");
    let delete = ("X-Amz-Target", "Interconnect.DeleteConnection");
    assert_eq!(verify_with(&[host, json, get], &[host, json, get]), Ok(()));
    // Signed without the target, sent with one: refused, whatever the target says.
    assert_eq!(
        verify_with(&[host, json], &[host, json, delete]),
        Err(Error::UnsignedHeader("x-amz-target".into()))
    );
    assert_eq!(
        verify_with(&[host], &[host, ("Content-Type", "application/cbor")]),
        Err(Error::UnsignedHeader("content-type".into()))
    );
    assert_eq!(
        verify_with(&[host], &[host, ("smithy-protocol", "rpc-v2-cbor")]),
        Err(Error::UnsignedHeader("smithy-protocol".into()))
    );
    // Other headers may stay unsigned (proxies add and change them).
    assert_eq!(
        verify_with(&[host, json], &[host, json, ("user-agent", "x")]),
        Ok(())
    );
}

#[test]
fn malformed_authorizations() {
    for bad in [
        "",
        "Basic abc",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AK/20261126/r/s/aws4_request, SignedHeaders=host, Signature=zz",
        "AWS4-HMAC-SHA256 Credential=AK/20261126/r/s/aws4_request, SignedHeaders=x-amz-date;host, Signature=00",
    ] {
        assert!(Authorization::parse(bad).is_err(), "{bad}");
    }
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,300}") {
        let _ = Authorization::parse(&s);
        let _ = parse_amz_date(&s);
    }

    #[test]
    fn canonical_query_is_order_independent(a in "[a-z]{1,5}", b in "[A-Z]{1,5}", va in "[ -~]{0,8}", vb in "[ -~]{0,8}") {
        prop_assume!(a.to_lowercase() != b.to_lowercase());
        let mut ea = String::new(); uri_encode(&va, &mut ea);
        let mut eb = String::new(); uri_encode(&vb, &mut eb);
        let q1 = format!("{a}={ea}&{b}={eb}");
        let q2 = format!("{b}={eb}&{a}={ea}");
        prop_assert_eq!(canonical_query(&q1), canonical_query(&q2));
    }
}
