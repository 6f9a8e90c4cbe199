//! Network values: prefixes, ASNs, bandwidths, and the model's constrained strings.

use crate::{InvalidValue, string_newtype};
use std::collections::BTreeMap;

/// An IPv4 or IPv6 prefix with no host bits set (`10.0.0.0/16`, `2001:db8::/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix(ipnet::IpNet);

impl Prefix {
    /// A prefix as written (`10.0.0.0/16`, `2001:db8::/32`): no spaces, a length without
    /// leading zeros, an IPv6 address without an IPv4 tail ([`crate::api::schema::prefix_pattern`]
    /// says the same), and no host bits set.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let bad = || {
            InvalidValue::new(format!(
                "`{s}` is not a prefix like 10.0.0.0/16 or 2001:db8::/32"
            ))
        };
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        if (len.len() > 1 && len.starts_with('0')) || (addr.contains(':') && addr.contains('.')) {
            return Err(bad());
        }
        let net: ipnet::IpNet = s.parse().map_err(|_| bad())?;
        if net.trunc() != net {
            return Err(InvalidValue::new(format!(
                "`{s}` has host bits set; did you mean {}?",
                net.trunc()
            )));
        }
        Ok(Self(net))
    }
    pub fn net(&self) -> ipnet::IpNet {
        self.0
    }
    /// Whether the two prefixes share at least one address.
    pub fn overlaps(&self, other: &Prefix) -> bool {
        self.0.contains(&other.0.network()) || other.0.contains(&self.0.network())
    }
    /// Whether `other` lies entirely inside `self`.
    pub fn covers(&self, other: &Prefix) -> bool {
        self.0.contains(&other.0)
    }
    pub fn is_ipv4(&self) -> bool {
        matches!(self.0, ipnet::IpNet::V4(_))
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
impl std::str::FromStr for Prefix {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
impl serde::Serialize for Prefix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}
/// A prefix, and the JSON Schema of the strings of the API.
macro_rules! string_schema {
    ($t:ty, $description:literal, $pattern:expr) => {
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($t).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": $description,
                    "pattern": $pattern,
                })
            }
        }
    };
}
string_schema!(
    Prefix,
    "an IPv4 or IPv6 prefix without host bits: 10.0.0.0/16, fd00::/48",
    crate::api::schema::prefix_pattern()
);
string_schema!(
    Bandwidth,
    "a bandwidth: 1Gbps, 500Mbps",
    crate::api::schema::BANDWIDTH
);

impl schemars::JsonSchema for Asn {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Asn".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::api::schema::asn(g)
    }
}

impl<'de> serde::Deserialize<'de> for Prefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A non-empty list of prefixes without duplicates, at most [`PrefixList::MAX`].
pub fn validate_prefix_list(prefixes: &[Prefix]) -> Result<(), InvalidValue> {
    if prefixes.is_empty() {
        return Err(InvalidValue::new("at least one prefix is required"));
    }
    if prefixes.len() > MAX_PREFIXES {
        return Err(InvalidValue::new(format!(
            "at most {MAX_PREFIXES} prefixes"
        )));
    }
    for (i, p) in prefixes.iter().enumerate() {
        if prefixes[..i].contains(p) {
            return Err(InvalidValue::new(format!("prefix {p} is listed twice")));
        }
    }
    Ok(())
}

/// The most prefixes an attach point may announce (AWS's limit for a private VIF).
pub const MAX_PREFIXES: usize = 100;

/// The first pair `(a, b)` with `a` in `left` overlapping `b` in `right`.
pub fn first_overlap(left: &[Prefix], right: &[Prefix]) -> Option<(Prefix, Prefix)> {
    left.iter()
        .flat_map(|a| right.iter().map(move |b| (*a, *b)))
        .find(|(a, b)| a.overlaps(b))
}

/// A BGP autonomous system number (4-octet, RFC 6793). 0, 23456 (AS_TRANS) and 4294967295 are
/// reserved and refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Asn(u32);

impl Asn {
    /// The 4-byte private-use range (RFC 6996) that attach points take their default ASN from,
    /// one each, so that two networks never share one by accident.
    pub const PRIVATE_4BYTE: std::ops::RangeInclusive<u32> = 4_200_000_000..=4_294_967_294;

    pub fn new(n: u64) -> Result<Self, InvalidValue> {
        match n {
            0 | 23456 | 4_294_967_295.. => Err(InvalidValue::new(format!(
                "ASN {n} is reserved or out of range (1 to 4294967294, not 23456)"
            ))),
            n => Ok(Self(n as u32)),
        }
    }
    pub fn get(&self) -> u32 {
        self.0
    }
}

impl<'de> serde::Deserialize<'de> for Asn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(u64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Asn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A connection bandwidth, `\d+[MG]bps`, at most 8 characters (`ConnectionBandwidth`).
/// Kept in Mbps; displayed in the largest unit that divides it (`1000Mbps` shows as `1Gbps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bandwidth {
    mbps: u64,
}

impl Bandwidth {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let bad = || InvalidValue::new(format!("`{s}` is not a bandwidth like 500Mbps or 10Gbps"));
        if s.is_empty() || s.len() > 8 {
            return Err(bad());
        }
        let (digits, unit) = if let Some(d) = s.strip_suffix("Mbps") {
            (d, 1)
        } else if let Some(d) = s.strip_suffix("Gbps") {
            (d, 1000)
        } else {
            return Err(bad());
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(InvalidValue::new("bandwidth must be above zero"));
        }
        Ok(Self { mbps: n * unit })
    }
    pub fn from_mbps(mbps: u64) -> Self {
        Self { mbps }
    }
    pub fn mbps(&self) -> u64 {
        self.mbps
    }
    pub fn as_string(&self) -> String {
        if self.mbps.is_multiple_of(1000) {
            format!("{}Gbps", self.mbps / 1000)
        } else {
            format!("{}Mbps", self.mbps)
        }
    }
}

impl std::fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_string())
    }
}
impl std::str::FromStr for Bandwidth {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
impl serde::Serialize for Bandwidth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_string())
    }
}
impl<'de> serde::Deserialize<'de> for Bandwidth {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `ConnectionDescription`: 1 to 255 of `[-a-zA-Z0-9_ ]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Description(String);

impl Description {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.is_empty() || s.len() > 255 {
            return Err(InvalidValue::new("a description is 1 to 255 characters"));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' ')))
        {
            return Err(InvalidValue::new(format!(
                "a description may hold letters, digits, spaces, - and _ only, not {c:?}"
            )));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(Description, pattern = "^[-a-zA-Z0-9_ ]{1,255}$");

/// Resource tags: keys 1 to 128 characters, values up to 256, at most 50 tags, no `aws:` keys;
/// both of ASCII letters, digits, spaces and `_ . : / = + - @` (AWS's tagging characters, in
/// ASCII: no control or format character, no line or paragraph separator, can hide in a tag).
pub type Tags = BTreeMap<String, String>;

pub const MAX_TAGS: usize = 50;

pub fn validate_tags(tags: &Tags) -> Result<(), InvalidValue> {
    if tags.len() > MAX_TAGS {
        return Err(InvalidValue::new(format!("at most {MAX_TAGS} tags")));
    }
    for (k, v) in tags {
        validate_tag_key(k)?;
        if v.chars().count() > 256 {
            return Err(InvalidValue::new(format!(
                "the value of tag `{k}` is over 256 characters"
            )));
        }
        if let Some(c) = v.chars().find(|c| !tag_char(*c)) {
            return Err(InvalidValue::new(format!(
                "the value of tag `{k}` holds {c:?}: {TAG_CHARS}"
            )));
        }
    }
    Ok(())
}

const TAG_CHARS: &str = "tags hold ASCII letters, digits, spaces and _ . : / = + - @ only";

fn tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

pub fn validate_tag_key(k: &str) -> Result<(), InvalidValue> {
    let n = k.chars().count();
    if n == 0 || n > 128 {
        return Err(InvalidValue::new("a tag key is 1 to 128 characters"));
    }
    if let Some(c) = k.chars().find(|c| !tag_char(*c)) {
        return Err(InvalidValue::new(format!(
            "the tag key {k:?} holds {c:?}: {TAG_CHARS}"
        )));
    }
    if k.starts_with("aws:") {
        return Err(InvalidValue::new(
            "tag keys starting with aws: are reserved",
        ));
    }
    Ok(())
}

/// `RemoteOwnerAccount`: 1 to 255 of `[-a-zA-Z0-9_@.]`.
pub fn validate_remote_owner(s: &str) -> Result<(), InvalidValue> {
    if s.is_empty() || s.len() > 255 {
        return Err(InvalidValue::new(
            "a remote account identifier is 1 to 255 characters",
        ));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'@' | b'.'))
    {
        return Err(InvalidValue::new(
            "a remote account identifier may hold letters, digits, -, _, @ and . only",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            Prefix::parse("10.0.0.0/16").expect("ok").to_string(),
            "10.0.0.0/16"
        );
        assert!(Prefix::parse("2001:db8::/32").is_ok());
        let e = Prefix::parse("10.0.0.1/16").expect_err("host bits");
        assert!(e.0.contains("did you mean 10.0.0.0/16"), "{e}");
        assert!(Prefix::parse("10.0.0.0").is_err());
        assert!(Prefix::parse("10.0.0.0/33").is_err());
        let a = Prefix::parse("10.0.0.0/8").expect("ok");
        let b = Prefix::parse("10.1.0.0/16").expect("ok");
        let c = Prefix::parse("192.168.0.0/16").expect("ok");
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert_eq!(first_overlap(&[c, b], &[a]), Some((b, a)));
    }

    #[test]
    fn bandwidths() {
        assert_eq!(Bandwidth::parse("500Mbps").expect("ok").mbps(), 500);
        assert_eq!(Bandwidth::parse("10Gbps").expect("ok").mbps(), 10_000);
        assert_eq!(
            Bandwidth::parse("1000Mbps").expect("ok").to_string(),
            "1Gbps"
        );
        for bad in [
            "",
            "10gbps",
            "Gbps",
            "0Gbps",
            "1.5Gbps",
            "123456Gbps",
            "-1Gbps",
            "10 Gbps",
        ] {
            assert!(Bandwidth::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn asns() {
        assert!(Asn::new(64512).is_ok());
        assert!(Asn::new(4_200_000_000).is_ok());
        for bad in [0, 23456, 4_294_967_295, 1 << 40] {
            assert!(Asn::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn descriptions_and_tags() {
        assert!(Description::parse("aws to gcp_1-a").is_ok());
        assert!(Description::parse("").is_err());
        assert!(Description::parse("semi;colon").is_err());
        assert!(Description::parse(&"a".repeat(256)).is_err());
        let mut t = Tags::new();
        t.insert("env".into(), "prod".into());
        assert!(validate_tags(&t).is_ok());
        t.insert("aws:x".into(), "".into());
        assert!(validate_tags(&t).is_err());
        // AWS's tagging characters pass.
        let ok = Tags::from([
            ("team/net:owner".into(), "ops@example.com".into()),
            ("Kostenstelle".into(), "Zurich 4 + 5 = 9".into()),
            ("z".into(), "".into()),
        ]);
        assert_eq!(validate_tags(&ok), Ok(()));
        // Control, format and separator characters are refused in keys and values.
        for bad in [
            "a\0b",
            "a\rb",
            "a\nb",
            "a\tb",
            "a\u{202e}b",
            "\u{feff}ab",
            "a\u{85}b",
            "a\u{2028}b",
        ] {
            let as_key = Tags::from([(bad.to_owned(), "v".to_owned())]);
            let as_value = Tags::from([("k".to_owned(), bad.to_owned())]);
            assert!(validate_tags(&as_key).is_err(), "key {bad:?}");
            assert!(validate_tags(&as_value).is_err(), "value {bad:?}");
            assert!(validate_tag_key(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn bandwidth_display_parses_back(mbps in 1u64..99_999) {
            let bw = Bandwidth::from_mbps(mbps);
            let s = bw.to_string();
            if s.len() <= 8 {
                prop_assert_eq!(Bandwidth::parse(&s), Ok(bw));
            }
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,50}") {
            let _ = Bandwidth::parse(&s);
            let _ = Prefix::parse(&s);
            let _ = Description::parse(&s);
            let _ = validate_remote_owner(&s);
        }

        #[test]
        fn accepted_prefixes_have_no_host_bits(a in any::<u32>(), len in 0u8..=32) {
            let net = ipnet::Ipv4Net::new(a.into(), len).expect("len <= 32");
            match Prefix::parse(&net.to_string()) {
                Ok(p) => prop_assert_eq!(p.net(), p.net().trunc()),
                Err(_) => prop_assert_ne!(net, net.trunc()),
            }
        }

        #[test]
        fn overlap_is_symmetric(a in any::<u32>(), la in 0u8..=32, b in any::<u32>(), lb in 0u8..=32) {
            let pa = Prefix(ipnet::IpNet::V4(ipnet::Ipv4Net::new(a.into(), la).expect("ok").trunc()));
            let pb = Prefix(ipnet::IpNet::V4(ipnet::Ipv4Net::new(b.into(), lb).expect("ok").trunc()));
            prop_assert_eq!(pa.overlaps(&pb), pb.overlaps(&pa));
        }
    }
}
