//! The output shapes against the service model (`model/aws-interconnect-2022-07-26.json`): for
//! every operation, a fully populated output serialised here has exactly the model's members,
//! each of the model's type (structures, unions with one member, lists, maps, strings of the
//! enums' values, integers), and every member the model has.

use super::shapes::*;
use serde_json::Value;
use xc_types::{
    Bandwidth, ConnectionState, EnvironmentState, ProductType, RemoteIdentifierType, Tags,
};

const MODEL: &str = include_str!("../../model/aws-interconnect-2022-07-26.json");

fn connection(provider: Provider, attach_point: AttachPoint) -> Connection {
    Connection {
        id: "mcc-12345678".into(),
        arn: "arn:aws:interconnect:us-east-1:111111111111:connection/mcc-12345678".into(),
        description: "to gcp".into(),
        bandwidth: Bandwidth::from_mbps(1000),
        attach_point,
        environment_id: "gcp-us-east4".into(),
        provider,
        location: "us-east4".into(),
        product_type: ProductType::Multicloud,
        state: ConnectionState::Available,
        shared_id: "5bd5d9b2-4c7b-4f3a-8a51-6f1f1c2f2a11".into(),
        billing_tier: Some(1),
        owner_account: "111111111111".into(),
        activation_key: "key".into(),
        tags: Some(Tags::from([("team".to_owned(), "net".to_owned())])),
    }
}

fn summary() -> ConnectionSummary {
    let c = connection(
        Provider::LastMileProvider("lumen".into()),
        AttachPoint::Arn(
            "arn:aws:directconnect::111111111111:dx-gateway/5bd5d9b2-4c7b-4f3a-8a51-6f1f1c2f2a13"
                .into(),
        ),
    );
    ConnectionSummary {
        id: c.id,
        arn: c.arn,
        description: c.description,
        bandwidth: c.bandwidth,
        attach_point: c.attach_point,
        environment_id: c.environment_id,
        provider: c.provider,
        location: c.location,
        product_type: ProductType::LastMile,
        state: ConnectionState::Requested,
        shared_id: c.shared_id,
        billing_tier: c.billing_tier,
    }
}

fn environment() -> Environment {
    Environment {
        provider: Provider::CloudServiceProvider("gcp".into()),
        location: "us-east4".into(),
        environment_id: "gcp-us-east4".into(),
        state: EnvironmentState::Limited,
        bandwidths: Bandwidths {
            available: vec![Bandwidth::from_mbps(1000)],
            supported: vec![Bandwidth::from_mbps(1000), Bandwidth::from_mbps(10_000)],
        },
        product_type: ProductType::Multicloud,
        activation_page_url: Some("https://example.net/activate".into()),
        remote_identifier_type: Some(RemoteIdentifierType::Email),
    }
}

/// A fully populated output of every operation.
fn outputs() -> Vec<(&'static str, Value)> {
    let v = |x: &dyn erased::Ser| x.value();
    let dx = AttachPoint::DirectConnectGateway("5bd5d9b2-4c7b-4f3a-8a51-6f1f1c2f2a12".into());
    let csp = Provider::CloudServiceProvider("gcp".into());
    let one = || ConnectionResponse {
        connection: connection(csp.clone(), dx.clone()),
    };
    vec![
        ("CreateConnection", v(&one())),
        ("AcceptConnectionProposal", v(&one())),
        ("GetConnection", v(&one())),
        ("UpdateConnection", v(&one())),
        ("DeleteConnection", v(&one())),
        (
            "DescribeConnectionProposal",
            v(&DescribeConnectionProposalResponse {
                bandwidth: Bandwidth::from_mbps(50),
                environment_id: "gcp-us-east4".into(),
                provider: csp.clone(),
                location: "us-east4".into(),
            }),
        ),
        (
            "GetEnvironment",
            v(&GetEnvironmentResponse {
                environment: environment(),
            }),
        ),
        (
            "ListEnvironments",
            v(&ListEnvironmentsResponse {
                environments: vec![environment()],
                next_token: Some("t".into()),
            }),
        ),
        (
            "ListConnections",
            v(&ListConnectionsResponse {
                connections: vec![summary()],
                next_token: Some("t".into()),
            }),
        ),
        (
            "ListAttachPoints",
            v(&ListAttachPointsResponse {
                attach_points: vec![AttachPointDescriptor {
                    kind: AttachPointType::DirectConnectGateway,
                    identifier: "x".into(),
                    name: "vpc".into(),
                }],
                next_token: Some("t".into()),
            }),
        ),
        (
            "ListTagsForResource",
            v(&ListTagsForResourceResponse {
                tags: Tags::from([("k".to_owned(), "v".to_owned())]),
            }),
        ),
        ("TagResource", v(&Empty {})),
        ("UntagResource", v(&Empty {})),
    ]
}

mod erased {
    pub trait Ser {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("json")
        }
    }
}

/// Checks `v` against the model's shape `name`; `all`: every member of a structure must be
/// there (a fully populated example).
fn conforms(model: &Value, name: &str, v: &Value, path: &str, errors: &mut Vec<String>) {
    let shape = &model["shapes"][name];
    let kind = shape["type"].as_str().unwrap_or("?");
    match kind {
        "structure" => {
            let Some(obj) = v.as_object() else {
                return errors.push(format!("{path}: a {name} is an object, not {v}"));
            };
            let members = shape["members"].as_object().cloned().unwrap_or_default();
            if shape["union"] == true && obj.len() != 1 {
                errors.push(format!(
                    "{path}: the union {name} has exactly one member: {v}"
                ));
            }
            for (k, x) in obj {
                match members.get(k) {
                    Some(m) => conforms(
                        model,
                        m["shape"].as_str().unwrap_or("?"),
                        x,
                        &format!("{path}.{k}"),
                        errors,
                    ),
                    None => errors.push(format!("{path}: {name} has no member `{k}`")),
                }
            }
            if shape["union"] != true {
                for k in members.keys() {
                    if !obj.contains_key(k) {
                        errors.push(format!("{path}: member `{k}` of {name} is never written"));
                    }
                }
            }
        }
        "list" => match v.as_array() {
            Some(items) if !items.is_empty() => {
                for (i, x) in items.iter().enumerate() {
                    let m = shape["member"]["shape"].as_str().unwrap_or("?");
                    conforms(model, m, x, &format!("{path}[{i}]"), errors);
                }
            }
            _ => errors.push(format!(
                "{path}: a {name} is a non-empty list here, not {v}"
            )),
        },
        "map" => match v.as_object() {
            Some(m) => {
                let value = shape["value"]["shape"].as_str().unwrap_or("?");
                for (k, x) in m {
                    conforms(model, value, x, &format!("{path}[{k}]"), errors);
                }
            }
            None => errors.push(format!("{path}: a {name} is a map, not {v}")),
        },
        "string" => match v.as_str() {
            Some(s) => {
                if let Some(values) = shape["enum"].as_array()
                    && !values.iter().any(|e| e == s)
                {
                    errors.push(format!(
                        "{path}: `{s}` is not a value of {name}: {values:?}"
                    ));
                }
                if let Some(min) = shape["min"].as_u64()
                    && (s.len() as u64) < min
                {
                    errors.push(format!("{path}: `{s}` is shorter than {name}'s {min}"));
                }
            }
            None => errors.push(format!("{path}: a {name} is a string, not {v}")),
        },
        "integer" | "long" => {
            if !v.is_i64() && !v.is_u64() {
                errors.push(format!("{path}: a {name} is an integer, not {v}"));
            }
        }
        other => errors.push(format!(
            "{path}: {name} is a {other}, which no output here has"
        )),
    }
}

#[test]
fn every_output_has_the_models_members_and_types() {
    let model: Value = serde_json::from_str(MODEL).expect("the model");
    let mut errors = Vec::new();
    let outputs = outputs();
    for op in super::OPERATIONS {
        let Some((_, v)) = outputs.iter().find(|(o, _)| *o == op) else {
            errors.push(format!("{op}: no output checked"));
            continue;
        };
        let shape = model["operations"][op]["output"]["shape"]
            .as_str()
            .unwrap_or_else(|| panic!("{op} is in the model"));
        conforms(&model, shape, v, op, &mut errors);
    }
    let ops = model["operations"].as_object().expect("operations");
    assert_eq!(ops.len(), super::OPERATIONS.len(), "the model's operations");
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// The check finds what it is for: a member the model lacks, one missing, a wrong type.
#[test]
fn the_check_catches_mistakes() {
    let model: Value = serde_json::from_str(MODEL).expect("the model");
    let mut v = serde_json::to_value(GetEnvironmentResponse {
        environment: environment(),
    })
    .expect("json");
    v["environment"]["colour"] = "red".into();
    v["environment"]["state"] = "gone".into();
    v["environment"]["bandwidths"]["available"] = 3.into();
    if let Some(o) = v["environment"].as_object_mut() {
        o.remove("location");
    }
    let mut errors = Vec::new();
    conforms(
        &model,
        "GetEnvironmentResponse",
        &v,
        "GetEnvironment",
        &mut errors,
    );
    let all = errors.join("\n");
    for needle in [
        "has no member `colour`",
        "`gone` is not a value",
        "is a non-empty list here",
        "member `location` of Environment is never written",
    ] {
        assert!(all.contains(needle), "{needle} in:\n{all}");
    }
}
