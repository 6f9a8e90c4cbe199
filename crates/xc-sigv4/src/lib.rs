//! AWS Signature Version 4, both ends: [`sign`] for our client, [`verify`] for the server.
//!
//! Sans-IO: a request is described by [`Request`] (method, raw path, raw query, headers, body) and
//! the time is an argument. One implementation serves both sides, so our client and server can
//! never disagree with each other; the AWS CLI and the Rust SDK keep them honest with AWS.
//!
//! Not handled: presigned URLs (query-string auth), chunked payload signing, SigV4a. The
//! comparison of signatures is constant-time.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use time::OffsetDateTime;
use time::macros::format_description;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far the client's clock may be from ours (AWS allows 5 minutes).
pub const MAX_SKEW: time::Duration = time::Duration::minutes(5);

/// The parts of an HTTP request that SigV4 covers.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent, still percent-encoded, without the query.
    pub path: &'a str,
    /// The query string as sent, without `?`.
    pub query: &'a str,
    /// Every header of the request (names in any case).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Why a signature was refused. The messages are safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the request is not signed: an Authorization header with AWS4-HMAC-SHA256 is required")]
    Missing,
    #[error("malformed Authorization header: {0}")]
    Malformed(&'static str),
    #[error("unsupported signing algorithm; use AWS4-HMAC-SHA256")]
    UnsupportedAlgorithm,
    #[error("credential scope is for service `{0}`, expected `{1}`")]
    WrongService(String, String),
    #[error("credential scope is for region `{0}`, expected `{1}`")]
    WrongRegion(String, String),
    #[error("header `{0}` is in the request but not in SignedHeaders: it must be signed")]
    UnsignedHeader(String),
    #[error("signed header `{0}` is missing from the request")]
    SignedHeaderAbsent(String),
    #[error("X-Amz-Date is missing or malformed (expected YYYYMMDDTHHMMSSZ)")]
    BadDate,
    #[error("credential scope date does not match X-Amz-Date")]
    ScopeDateMismatch,
    #[error(
        "signature expired: the request time {request} is more than 5 minutes from the server time {server}"
    )]
    Skew { request: String, server: String },
    #[error("x-amz-content-sha256 does not match the body")]
    BodyHashMismatch,
    #[error(
        "the request signature we calculated does not match the signature you provided; check your secret access key and signing method"
    )]
    Mismatch,
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: [u8; 32],
}

impl Authorization {
    pub fn parse(value: &str) -> Result<Self, Error> {
        let rest = value.strip_prefix(ALGORITHM).ok_or(
            if value.starts_with("AWS4-") || value.starts_with("AWS ") {
                Error::UnsupportedAlgorithm
            } else {
                Error::Malformed(
                    "expected AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...",
                )
            },
        )?;
        if !rest.starts_with(' ') {
            return Err(Error::Malformed("expected a space after the algorithm"));
        }
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim();
            let (k, v) = part
                .split_once('=')
                .ok_or(Error::Malformed("each component is Name=value"))?;
            let slot = match k {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => return Err(Error::Malformed("unknown component")),
            };
            if slot.replace(v).is_some() {
                return Err(Error::Malformed("a component is repeated"));
            }
        }
        let credential = credential.ok_or(Error::Malformed("Credential is missing"))?;
        let signed = signed.ok_or(Error::Malformed("SignedHeaders is missing"))?;
        let signature = signature.ok_or(Error::Malformed("Signature is missing"))?;

        let mut scope = credential.split('/');
        let (Some(key), Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
        ) else {
            return Err(Error::Malformed(
                "Credential is AccessKeyId/YYYYMMDD/region/service/aws4_request",
            ));
        };
        if key.is_empty() || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Malformed(
                "Credential is AccessKeyId/YYYYMMDD/region/service/aws4_request",
            ));
        }
        let signed_headers: Vec<String> = signed.split(';').map(str::to_owned).collect();
        if signed_headers.iter().any(|h| {
            h.is_empty()
                || h.bytes()
                    .any(|b| b.is_ascii_uppercase() || b.is_ascii_whitespace())
        }) || !signed_headers.is_sorted()
        {
            return Err(Error::Malformed(
                "SignedHeaders is a sorted ;-list of lowercase names",
            ));
        }
        let mut sig = [0u8; 32];
        hex::decode_to_slice(signature, &mut sig)
            .map_err(|_| Error::Malformed("Signature is 64 hex digits"))?;
        Ok(Self {
            access_key_id: key.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signed_headers,
            signature: sig,
        })
    }
}

/// What the verifier expects of every request.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    pub region: &'a str,
    pub service: &'a str,
    pub now: OffsetDateTime,
    /// Headers (lowercase) that must be signed whenever the request has them, beyond `host`,
    /// `x-amz-date` and every `x-amz-*` header, which always must: those whose value changes
    /// what the request means (`content-type`, a protocol's `smithy-protocol`). A header left
    /// unsigned could be changed by whoever replays the request.
    pub signed_if_present: &'a [&'a str],
}

/// Verifies `req` against its already parsed `auth` and the caller's secret.
pub fn verify(
    req: &Request<'_>,
    auth: &Authorization,
    secret: &[u8],
    expect: &Expect<'_>,
) -> Result<(), Error> {
    if auth.service != expect.service {
        return Err(Error::WrongService(
            auth.service.clone(),
            expect.service.to_owned(),
        ));
    }
    if auth.region != expect.region {
        return Err(Error::WrongRegion(
            auth.region.clone(),
            expect.region.to_owned(),
        ));
    }
    let is_signed = |name: &str| auth.signed_headers.iter().any(|h| h == name);
    for required in ["host", "x-amz-date"] {
        if !is_signed(required) {
            return Err(Error::UnsignedHeader(required.to_owned()));
        }
    }
    // As AWS requires: every x-amz-* header the request carries (X-Amz-Target names the
    // operation), and the headers the protocol reads.
    for (name, _) in req.headers {
        let lower = name.to_ascii_lowercase();
        let must =
            lower.starts_with("x-amz-") || expect.signed_if_present.contains(&lower.as_str());
        if must && !is_signed(&lower) {
            return Err(Error::UnsignedHeader(lower));
        }
    }
    let amz_date = header(req.headers, "x-amz-date").ok_or(Error::BadDate)?;
    let when = parse_amz_date(amz_date)?;
    if amz_date[..8] != auth.date {
        return Err(Error::ScopeDateMismatch);
    }
    if (when - expect.now).abs() > MAX_SKEW {
        return Err(Error::Skew {
            request: amz_date.to_owned(),
            server: format_amz_date(expect.now),
        });
    }
    let body_hash = hex::encode(Sha256::digest(req.body));
    if let Some(claimed) = header(req.headers, "x-amz-content-sha256")
        && claimed != body_hash
    {
        return Err(Error::BodyHashMismatch);
    }
    let canonical = canonical_request(req, &auth.signed_headers, &body_hash)?;
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let expected = signature(
        secret,
        &auth.date,
        &auth.region,
        &auth.service,
        amz_date,
        &scope,
        &canonical,
    );
    if subtle::ConstantTimeEq::ct_eq(&expected[..], &auth.signature[..]).into() {
        Ok(())
    } else {
        Err(Error::Mismatch)
    }
}

/// Signs a request: returns the headers to add (`x-amz-date`, `x-amz-content-sha256`,
/// `authorization`). `req.headers` must already hold `host` and any other header to be signed.
pub fn sign(
    req: &Request<'_>,
    access_key_id: &str,
    secret: &[u8],
    region: &str,
    service: &str,
    now: OffsetDateTime,
) -> Vec<(&'static str, String)> {
    let amz_date = format_amz_date(now);
    let date = &amz_date[..8];
    let body_hash = hex::encode(Sha256::digest(req.body));
    let mut headers: Vec<(&str, &str)> = req.headers.to_vec();
    headers.push(("x-amz-date", &amz_date));
    headers.push(("x-amz-content-sha256", &body_hash));
    let mut signed: Vec<String> = headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    signed.sort();
    signed.dedup();
    let with_date = Request {
        headers: &headers,
        ..*req
    };
    let canonical = canonical_request(&with_date, &signed, &body_hash).unwrap_or_default();
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let sig = signature(secret, date, region, service, &amz_date, &scope, &canonical);
    let authorization = format!(
        "{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={}",
        signed.join(";"),
        hex::encode(sig)
    );
    vec![
        ("x-amz-date", amz_date.clone()),
        ("x-amz-content-sha256", body_hash.clone()),
        ("authorization", authorization),
    ]
}

fn header<'a>(headers: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

pub fn parse_amz_date(s: &str) -> Result<OffsetDateTime, Error> {
    let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, &fmt)
        .map(|t| t.assume_utc())
        .map_err(|_| Error::BadDate)
}

pub fn format_amz_date(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

/// The canonical request of SigV4 (path double-encoded, as for every service but S3).
pub fn canonical_request(
    req: &Request<'_>,
    signed_headers: &[String],
    body_hash: &str,
) -> Result<String, Error> {
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_path(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query));
    out.push('\n');
    for name in signed_headers {
        let mut values = req
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| collapse_spaces(v))
            .peekable();
        if values.peek().is_none() {
            return Err(Error::SignedHeaderAbsent(name.clone()));
        }
        let joined: Vec<String> = values.collect();
        let _ = writeln!(out, "{name}:{}", joined.join(","));
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(body_hash);
    Ok(out)
}

fn collapse_spaces(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    // Normalise `.` and `..` and double slashes, then encode each segment (the path arrives encoded
    // once; encoding it again is the "double encoding" every service but S3 uses).
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 8);
    for seg in &segments {
        out.push('/');
        uri_encode(seg, &mut out);
    }
    if segments.is_empty() || path.ends_with('/') {
        out.push('/');
    }
    out
}

fn canonical_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let mut ek = String::new();
            let mut ev = String::new();
            uri_encode(&percent_decode(k), &mut ek);
            uri_encode(&percent_decode(v), &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn uri_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn signature(
    secret: &[u8],
    date: &str,
    region: &str,
    service: &str,
    amz_date: &str,
    scope: &str,
    canonical: &str,
) -> [u8; 32] {
    let mut k = Vec::with_capacity(secret.len() + 4);
    k.extend_from_slice(b"AWS4");
    k.extend_from_slice(secret);
    let k_date = hmac(&k, date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    hmac(&k_signing, string_to_sign.as_bytes())
}

#[cfg(test)]
mod tests;
