//! The OpenAPI 3.1 document of the native API, generated from the route table
//! ([`super::routes::all`]) and the types' JSON Schemas (schemars, JSON Schema 2020-12, which
//! OpenAPI 3.1 uses as it is: `propertyNames`, `not` and type lists mean what they say): every
//! route with its parameters, body, success statuses and the error body of every failure.

use super::ErrorBody;
use super::routes::{Auth, all};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// `schema`, or the definition its `$ref` names.
fn resolve(g: &schemars::SchemaGenerator, schema: &Value) -> Value {
    let name = schema["$ref"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_owned);
    match name {
        Some(n) => g.definitions().get(&n).cloned().unwrap_or(Value::Null),
        None => schema.clone(),
    }
}

/// A query parameter's schema: what the member's schema says but `null` (a parameter left out
/// is the member's `None`; there is no null in a query string), and never empty.
fn not_null(mut schema: Value) -> Value {
    if let Some(types) = schema["type"].as_array() {
        let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        schema["type"] = match types.as_slice() {
            [one] => one.clone(),
            _ => Value::Array(types),
        };
    }
    if let Some(values) = schema["enum"].as_array() {
        schema["enum"] = values.iter().filter(|v| !v.is_null()).cloned().collect();
    }
    if let Some(any) = schema["anyOf"].as_array() {
        let rest: Vec<&Value> = any.iter().filter(|s| s["type"] != "null").collect();
        if let [one] = rest.as_slice() {
            let one = (*one).clone();
            schema.as_object_mut().map(|o| o.remove("anyOf"));
            if let (Some(o), Some(inner)) = (schema.as_object_mut(), one.as_object()) {
                o.extend(inner.clone());
            }
        }
    }
    if let Some(o) = schema.as_object_mut() {
        if o.get("default").is_some_and(Value::is_null) {
            o.remove("default");
        }
        // A parameter given without a value is refused (`extract::Q`).
        if o.get("type").is_some_and(|t| t == "string")
            && !["minLength", "pattern", "enum"]
                .iter()
                .any(|k| o.contains_key(*k))
        {
            o.insert("minLength".into(), 1.into());
        }
    }
    schema
}

/// The document, as served at `/v1/openapi.json`.
pub fn openapi() -> Value {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    let error = g.subschema_for::<ErrorBody>();
    let mut paths: Map<String, Value> = Map::new();
    for r in all() {
        let path_schema = match r.path_param {
            Some(f) => f(&mut g).to_value(),
            None => json!({ "type": "string", "minLength": 1 }),
        };
        let mut parameters: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                json!({ "name": name, "in": "path", "required": true, "schema": path_schema })
            })
            .collect();
        if let Some(query) = r.query {
            let q = query(&mut g);
            let q = q.as_value();
            let required: Vec<&str> = q["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = q["properties"].as_object() {
                for (name, schema) in props {
                    let mut schema = not_null(schema.clone());
                    let description = schema.as_object_mut().and_then(|o| o.remove("description"));
                    let mut p = json!({
                        "name": name,
                        "in": "query",
                        "required": required.contains(&name.as_str()),
                        "schema": schema,
                    });
                    if let Some(d) = description {
                        p["description"] = d;
                    }
                    parameters.push(p);
                }
            }
        }
        let content = |schema: Value| json!({ "application/json": { "schema": schema } });
        let mut responses = Map::new();
        responses.insert(
            r.status.to_string(),
            json!({ "description": "success", "content": content((r.response)(&mut g).to_value()) }),
        );
        if let Some((status, schema)) = r.alternative {
            responses.insert(
                status.to_string(),
                json!({ "description": "success (another form)", "content": content(schema(&mut g).to_value()) }),
            );
        }
        responses.insert(
            "default".into(),
            json!({
                "description": "an error: its AWS error code, a message, and the request member it is about",
                "content": content(error.clone().to_value()),
            }),
        );
        let mut op = json!({
            "operationId": r.name,
            "summary": r.summary,
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(body) = r.body {
            let schema = body(&mut g).to_value();
            // A body whose members are all optional may be left out (it reads as `{}`); one that
            // needs a member, or one of several (`anyOf`), may not.
            let resolved = resolve(&g, &schema);
            let required = resolved["required"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
                || resolved.get("anyOf").is_some();
            op["requestBody"] = json!({ "required": required, "content": content(schema) });
        }
        op["security"] = match r.auth {
            Auth::Sigv4 => json!([{ "sigv4": [] }]),
            Auth::Gateway => json!([{ "gateway": [] }]),
            Auth::None => json!([]),
        };
        let item = paths
            .entry(r.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        item[r.method.as_str().to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "xconnect native API",
            "version": "1",
            "description": "JSON over HTTP, signed with AWS Signature Version 4 (service `interconnect`); the gateway API (`/v1/gateway/...`) takes a gateway's credential instead. The AWS Interconnect API is served at `/` as well. Generated from the route table and the types the server and the client share.",
        },
        "paths": paths,
        "components": {
            "schemas": g.take_definitions(true),
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "AWS4-HMAC-SHA256 (AWS Signature Version 4, service `interconnect`)",
                },
                "gateway": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "<gatewayId>.<secret>, from POST /v1/gateway/register",
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_with_its_schemas() {
        let doc = openapi();
        assert_eq!(doc["openapi"], "3.1.0");
        for r in all() {
            let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
            assert!(op.is_object(), "{} {}", r.method.as_str(), r.path);
            assert!(
                op["responses"][r.status.to_string()].is_object(),
                "{}",
                r.name
            );
            assert!(op["responses"]["default"].is_object(), "{}", r.name);
        }
        let create = &doc["paths"]["/v1/connections"]["post"];
        assert_eq!(
            create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/CreateConnectionRequest"
        );
        assert!(create["responses"]["200"].is_object(), "the dry run");
        assert!(create["parameters"].as_array().is_some_and(|p| {
            p.iter()
                .any(|p| p["name"] == "dryRun" && p["in"] == "query")
        }));
        // Every reference points at a schema of the document.
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for r in text.split("\"#/components/schemas/").skip(1) {
            let name = r.split('"').next().unwrap_or_default();
            assert!(
                schemas.contains_key(name),
                "{name} is referenced, not defined"
            );
        }
        let reason = &schemas["StateReasonCode"]["enum"];
        assert!(
            reason
                .as_array()
                .is_some_and(|v| v.iter().any(|c| c == "PREFIX_OVERLAP"))
        );
    }
}
