//! Self-describing signed tokens: activation keys and pagination tokens.
//!
//! Both are `<prefix>.<base64url(JSON payload)>.<base64url(HMAC-SHA256)>`. Decoding checks the tag
//! (constant time) before it parses anything, so a forged token costs one HMAC and is refused.

use crate::secrets::Secrets;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

const ACTIVATION_PREFIX: &str = "xcak1";
const PAGE_PREFIX: &str = "xcpt1";
/// The model's limit for `ActivationKey`.
pub const MAX_ACTIVATION_KEY_LEN: usize = 2048;
/// The model's limit for `NextToken`.
pub const MAX_PAGE_TOKEN_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("is malformed")]
    Malformed,
    #[error("has an invalid signature")]
    BadSignature,
}

/// What an activation key says. Bound to one account, expiring, single use (`key_id`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationPayload {
    pub v: u8,
    /// The issuing server's id and endpoint.
    pub server: String,
    pub endpoint: String,
    pub shared_id: String,
    pub environment_id: String,
    pub bandwidth: String,
    /// The identifier the key is bound to.
    pub account: String,
    pub expires_at: i64,
    pub key_id: uuid::Uuid,
    /// `connection` (owner-initiated) or `proposal` (remote-initiated).
    pub kind: xc_types::api::ActivationKeyKind,
    /// The connection or proposal id.
    pub reference: String,
}

impl std::fmt::Debug for ActivationPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivationPayload")
            .field("kind", &self.kind)
            .field("reference", &self.reference)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn encode<T: Serialize>(prefix: &str, payload: &T, mac: impl Fn(&[u8]) -> [u8; 32]) -> String {
    encode_bytes(
        prefix,
        &serde_json::to_vec(payload).unwrap_or_default(),
        mac,
    )
}

fn encode_bytes(prefix: &str, payload: &[u8], mac: impl Fn(&[u8]) -> [u8; 32]) -> String {
    let body = B64.encode(payload);
    let signed = format!("{prefix}.{body}");
    let tag = B64.encode(mac(signed.as_bytes()));
    format!("{signed}.{tag}")
}

fn decode<T: for<'de> Deserialize<'de>>(
    prefix: &str,
    token: &str,
    max_len: usize,
    mac: impl Fn(&[u8]) -> [u8; 32],
) -> Result<T, TokenError> {
    if token.len() > max_len {
        return Err(TokenError::Malformed);
    }
    let (signed, tag) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (p, body) = signed.split_once('.').ok_or(TokenError::Malformed)?;
    if p != prefix {
        return Err(TokenError::Malformed);
    }
    let tag = B64.decode(tag).map_err(|_| TokenError::Malformed)?;
    let expected = mac(signed.as_bytes());
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &tag[..])) {
        return Err(TokenError::BadSignature);
    }
    let json = B64.decode(body).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)
}

pub fn encode_activation_key(secrets: &Secrets, p: &ActivationPayload) -> String {
    encode(ACTIVATION_PREFIX, p, |d| secrets.activation_mac(d))
}

/// Signs arbitrary payload bytes as an activation key: for tests and fuzzing of the payload
/// parser behind a valid tag.
pub fn encode_raw_activation_key(secrets: &Secrets, payload: &[u8]) -> String {
    encode_bytes(ACTIVATION_PREFIX, payload, |d| secrets.activation_mac(d))
}

pub fn decode_activation_key(
    secrets: &Secrets,
    key: &str,
) -> Result<ActivationPayload, TokenError> {
    decode(ACTIVATION_PREFIX, key.trim(), MAX_ACTIVATION_KEY_LEN, |d| {
        secrets.activation_mac(d)
    })
}

/// Where a listing stopped, bound to the caller, the operation and its filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagePayload {
    pub after: i64,
    /// Hash of (caller, operation, filters): a token only continues the listing that made it.
    pub scope: String,
}

pub fn encode_page_token(secrets: &Secrets, p: &PagePayload) -> String {
    encode(PAGE_PREFIX, p, |d| secrets.page_mac(d))
}

pub fn decode_page_token(secrets: &Secrets, token: &str) -> Result<PagePayload, TokenError> {
    decode(PAGE_PREFIX, token, MAX_PAGE_TOKEN_LEN, |d| {
        secrets.page_mac(d)
    })
}

/// The scope string of a listing (hex of a hash of its parts).
pub fn page_scope(parts: &[&str]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn payload() -> ActivationPayload {
        ActivationPayload {
            v: 1,
            server: "s1".into(),
            endpoint: "http://127.0.0.1:7700".into(),
            shared_id: uuid::Uuid::nil().to_string(),
            environment_id: "gcp-us-east4".into(),
            bandwidth: "1Gbps".into(),
            account: "111111111111".into(),
            expires_at: 1_000,
            key_id: uuid::Uuid::nil(),
            kind: xc_types::api::ActivationKeyKind::Connection,
            reference: "mcc-abcd1234".into(),
        }
    }

    #[test]
    fn activation_key_round_trip_and_forgery() {
        let s = Secrets::from_master(&[1; 32]);
        let key = encode_activation_key(&s, &payload());
        assert!(key.len() <= MAX_ACTIVATION_KEY_LEN);
        assert_eq!(decode_activation_key(&s, &key), Ok(payload()));
        // Another server's key does not verify.
        let other = Secrets::from_master(&[2; 32]);
        assert_eq!(
            decode_activation_key(&other, &key),
            Err(TokenError::BadSignature)
        );
        // Changing the payload (e.g. the bound account) breaks the tag.
        let (_, body, tag) = {
            let mut it = key.split('.');
            (
                it.next().expect("p"),
                it.next().expect("b"),
                it.next().expect("t"),
            )
        };
        let mut p = payload();
        p.account = "222222222222".into();
        let forged_body = B64.encode(serde_json::to_vec(&p).expect("json"));
        assert_ne!(forged_body, body);
        let forged = format!("xcak1.{forged_body}.{tag}");
        assert_eq!(
            decode_activation_key(&s, &forged),
            Err(TokenError::BadSignature)
        );
        // A validly signed key whose payload is not ours is malformed, not accepted.
        let odd = encode_raw_activation_key(&s, br#"{"v":1}"#);
        assert_eq!(decode_activation_key(&s, &odd), Err(TokenError::Malformed));
        // A page token is not an activation key.
        let page = encode_page_token(
            &s,
            &PagePayload {
                after: 1,
                scope: "x".into(),
            },
        );
        assert!(decode_activation_key(&s, &page).is_err());
    }

    proptest! {
        #[test]
        fn decoders_never_panic(s in "\\PC{0,300}") {
            let secrets = Secrets::from_master(&[3; 32]);
            let _ = decode_activation_key(&secrets, &s);
            let _ = decode_page_token(&secrets, &s);
        }

        #[test]
        fn page_tokens_round_trip(after in any::<i64>(), scope in "[a-f0-9]{0,24}") {
            let secrets = Secrets::from_master(&[4; 32]);
            let p = PagePayload { after, scope };
            let t = encode_page_token(&secrets, &p);
            prop_assert!(t.len() <= MAX_PAGE_TOKEN_LEN);
            prop_assert_eq!(decode_page_token(&secrets, &t), Ok(p));
        }
    }
}
