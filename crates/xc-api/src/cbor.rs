//! CBOR bodies of smithy-rpc-v2-cbor, converted to and from the JSON values the dispatcher uses.
//! The decoder refuses what the model cannot contain (byte strings, non-text map keys, huge
//! nesting, bytes after the one top-level item) with an error, never a panic.

use serde_json::{Map, Number, Value};

const MAX_DEPTH: usize = 32;

/// Decodes a request body (empty means an empty structure).
pub fn decode(body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let mut rest = body;
    let v: ciborium::Value = ciborium::de::from_reader(&mut rest)
        .map_err(|e| format!("request body is not valid CBOR: {e}"))?;
    if !rest.is_empty() {
        return Err(format!(
            "request body has {} bytes after its CBOR item",
            rest.len()
        ));
    }
    to_json(v, 0)
}

fn to_json(v: ciborium::Value, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("request body is nested too deeply".into());
    }
    Ok(match v {
        ciborium::Value::Null => Value::Null,
        ciborium::Value::Bool(b) => Value::Bool(b),
        ciborium::Value::Integer(i) => {
            let i = i128::from(i);
            if let Ok(n) = i64::try_from(i) {
                Value::Number(n.into())
            } else if let Ok(n) = u64::try_from(i) {
                Value::Number(n.into())
            } else {
                return Err("integer out of range".into());
            }
        }
        ciborium::Value::Float(f) => Value::Number(Number::from_f64(f).ok_or("non-finite float")?),
        ciborium::Value::Text(s) => Value::String(s),
        ciborium::Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|x| to_json(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        ciborium::Value::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let ciborium::Value::Text(k) = k else {
                    return Err("map keys must be text".into());
                };
                out.insert(k, to_json(v, depth + 1)?);
            }
            Value::Object(out)
        }
        ciborium::Value::Tag(_, inner) => to_json(*inner, depth + 1)?,
        ciborium::Value::Bytes(_) => return Err("byte strings are not used by this API".into()),
        _ => return Err("unsupported CBOR value".into()),
    })
}

pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    // Writing a JSON value to a Vec cannot fail.
    let _ = ciborium::ser::into_writer(v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let v = serde_json::json!({"a": 1, "b": ["x", true, null], "c": {"d": -5}});
        assert_eq!(decode(&encode(&v)), Ok(v.clone()));
        assert!(decode(&[0xff]).is_err());
        // One item, then more bytes: a second item, or garbage.
        let mut two = encode(&v);
        two.extend(encode(&v));
        assert!(decode(&two).is_err_and(|e| e.contains("after its CBOR item")));
        let mut trailing = encode(&v);
        trailing.push(0x00);
        assert!(decode(&trailing).is_err());
        assert!(decode(&[0x41, 0x00]).is_err()); // a byte string
        // 100 nested arrays
        let deep: Vec<u8> = std::iter::repeat_n(0x81u8, 100).chain([0x00]).collect();
        assert!(decode(&deep).is_err());
    }
}
