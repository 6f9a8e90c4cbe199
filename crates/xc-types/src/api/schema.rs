//! The JSON Schemas of the native API's request members that are strings with rules: each says
//! exactly what the server's parser takes (the server checks the same rule, by hand, and a test
//! compares the two), so that the OpenAPI document describes every request the server accepts
//! and no other. Rules that depend on the state of things (whether an id exists, whether a
//! bandwidth is sold in an environment, whether a prefix has host bits set) are not syntax and
//! are not here.

use schemars::{Schema, SchemaGenerator, json_schema};

/// An IPv4 address as `std::net::Ipv4Addr` parses it: dotted quad, no leading zeros.
const V4: &str = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}";
/// An IPv6 address in the forms `std::net::Ipv6Addr` parses, but the ones with an IPv4 tail.
const V6: &str = r"(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}|:((:[0-9a-fA-F]{1,4}){1,7}|:))";

/// A prefix: `10.0.0.0/16` or `2001:db8::/32` (lengths without leading zeros).
pub fn prefix_pattern() -> String {
    format!("^({V4}/(3[0-2]|[12]?[0-9])|{V6}/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))$")
}

// Character classes are spelled out (no `\w`, `\s` or `\p{..}`): JSON Schema's regular
// expressions (ECMA 262), Python's (what schemathesis generates from) and Rust's read those
// differently.

/// Characters a name may hold: anything but control characters (`char::is_control`).
const PRINTABLE: &str = r"[^\u0000-\u001f\u007f-\u009f]";
/// The same, and not whitespace (`char::is_whitespace`): a name's first and last character.
const PRINTABLE_SOLID: &str =
    r"[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// A name of 1 to `max` printable characters, neither beginning nor ending with whitespace.
pub fn name_pattern(max: usize) -> String {
    format!(
        "^{PRINTABLE_SOLID}({PRINTABLE}{{0,{}}}{PRINTABLE_SOLID})?$",
        max - 2
    )
}

/// Whether `s` is a name as [`name_pattern`] says: 1 to `max` characters, no control
/// character, no whitespace first or last. The server checks names with this.
pub fn is_name(s: &str, max: usize) -> bool {
    let n = s.chars().count();
    (1..=max).contains(&n)
        && !s.chars().any(char::is_control)
        && !s.starts_with(char::is_whitespace)
        && !s.ends_with(char::is_whitespace)
}

/// Whether `s` is an account name as [`ACCOUNT_NAME`] says.
pub fn is_account_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b' '))
        && !s.starts_with(' ')
        && !s.ends_with(' ')
}

/// An account name: 1 to 64 of letters, digits, `.`, `_`, `-` and (not first or last) spaces.
pub const ACCOUNT_NAME: &str = r"^[A-Za-z0-9._-]([A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?$";

/// A bandwidth: 1 to 4 digits, not all zeros, then `Mbps` or `Gbps`.
pub const BANDWIDTH: &str =
    r"^([1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9])(Mbps|Gbps)$";

/// Tag characters (AWS's tagging set, in ASCII): letters, digits, spaces and `_ . : / = + - @`.
const TAG_CHAR: &str = "[A-Za-z0-9 _.:/=+@-]";

/// A tag key: 1 to 128 tag characters, not beginning with `aws:`.
pub fn tag_key_pattern() -> String {
    // "Not beginning with aws:" without lookahead: under four characters, or a first four that
    // differ from it at their first difference.
    let c = TAG_CHAR;
    let (not_a, not_w, not_s, not_colon) = (
        "[B-Zb-z0-9 _.:/=+@A-]",
        "[A-Za-vx-z0-9 _.:/=+@-]",
        "[A-Za-rt-z0-9 _.:/=+@-]",
        "[A-Za-z0-9 _./=+@-]",
    );
    format!(
        "^({c}{{1,3}}|{not_a}{c}{{3,127}}|a{not_w}{c}{{2,126}}|aw{not_s}{c}{{1,125}}|aws{not_colon}{c}{{0,124}})$"
    )
}

fn string(pattern: String) -> Schema {
    json_schema!({ "type": "string", "pattern": pattern })
}

/// `s`, or null (JSON Schema 2020-12: `null` among the types, and among the values of an enum).
fn nullable(mut s: Schema) -> Schema {
    if let Some(t) = s.get("type").and_then(|t| t.as_str()).map(str::to_owned) {
        s.insert("type".into(), serde_json::json!([t, "null"]));
    }
    if let Some(serde_json::Value::Array(values)) = s.get_mut("enum") {
        values.push(serde_json::Value::Null);
    }
    s
}

pub fn prefix(_: &mut SchemaGenerator) -> Schema {
    string(prefix_pattern())
}

fn prefix_list_schema() -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "string", "pattern": prefix_pattern() },
        "minItems": 1,
        "maxItems": crate::MAX_PREFIXES,
        "uniqueItems": true,
    })
}

pub fn prefix_list(_: &mut SchemaGenerator) -> Schema {
    prefix_list_schema()
}

pub fn optional_prefix_list(_: &mut SchemaGenerator) -> Schema {
    nullable(prefix_list_schema())
}

pub fn attach_point_name(_: &mut SchemaGenerator) -> Schema {
    string(name_pattern(100))
}

pub fn optional_attach_point_name(_: &mut SchemaGenerator) -> Schema {
    nullable(string(name_pattern(100)))
}

pub fn gateway_name(_: &mut SchemaGenerator) -> Schema {
    string(name_pattern(64))
}

pub fn account_name(_: &mut SchemaGenerator) -> Schema {
    string(ACCOUNT_NAME.into())
}

pub fn bandwidth(_: &mut SchemaGenerator) -> Schema {
    string(BANDWIDTH.into())
}

pub fn optional_bandwidth(_: &mut SchemaGenerator) -> Schema {
    nullable(string(BANDWIDTH.into()))
}

pub fn optional_description(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "string", "pattern": "^[-a-zA-Z0-9_ ]{1,255}$" }))
}

pub fn account_id(_: &mut SchemaGenerator) -> Schema {
    string("^[0-9]{12}$".into())
}

pub fn optional_account_id(_: &mut SchemaGenerator) -> Schema {
    nullable(string("^[0-9]{12}$".into()))
}

pub fn environment_id(_: &mut SchemaGenerator) -> Schema {
    string("^[a-z0-9-]{1,64}$".into())
}

pub fn optional_environment_id(_: &mut SchemaGenerator) -> Schema {
    nullable(string("^[a-z0-9-]{1,64}$".into()))
}

const UUID: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

pub fn uuid(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "format": "uuid", "pattern": UUID })
}

pub fn optional_uuid(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "string", "format": "uuid", "pattern": UUID }))
}

/// An attach point id, or (a provider accepting last mile) nothing.
pub fn uuid_or_empty(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": format!("^$|{UUID}") })
}

/// An idempotency token: 1 to 64 printable characters.
pub fn optional_client_token(_: &mut SchemaGenerator) -> Schema {
    nullable(string(format!("^{PRINTABLE}{{1,64}}$")))
}

/// An activation key: 1 to 2048 characters.
pub fn activation_key(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "minLength": 1, "maxLength": 2048 })
}

pub fn asn(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "minimum": 1,
        "maximum": 4_294_967_294u64,
        "not": { "enum": [23456] },
    })
}

pub fn optional_asn(g: &mut SchemaGenerator) -> Schema {
    nullable(asn(g))
}

fn tags_schema() -> Schema {
    json_schema!({
        "type": "object",
        "maxProperties": crate::MAX_TAGS,
        "propertyNames": { "pattern": tag_key_pattern() },
        "additionalProperties": {
            "type": "string",
            "pattern": format!("^{TAG_CHAR}{{0,256}}$"),
        },
    })
}

pub fn tags(_: &mut SchemaGenerator) -> Schema {
    tags_schema()
}

pub fn optional_tags(_: &mut SchemaGenerator) -> Schema {
    nullable(tags_schema())
}

pub fn tag_keys(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "string", "pattern": tag_key_pattern() },
        "minItems": 1,
        "maxItems": crate::MAX_TAGS,
    })
}

/// An IP address (either family).
pub fn ip_address(_: &mut SchemaGenerator) -> Schema {
    string(format!("^({V4}|{V6})$"))
}

/// A last-mile session's provider address with its subnet: a /24 to /31 (IPv4) or a /120 to
/// /127 (IPv6).
pub fn session_interface_address(_: &mut SchemaGenerator) -> Schema {
    string(format!("^({V4}/(2[4-9]|3[01])|{V6}/(12[0-7]))$"))
}

/// A last-mile IPv6 session's provider address with its subnet (a /120 to /127), or null.
pub fn optional_session_interface_address6(_: &mut SchemaGenerator) -> Schema {
    nullable(string(format!("^({V6})/(12[0-7])$")))
}

/// An IPv6 address, or null.
pub fn optional_ipv6_address(_: &mut SchemaGenerator) -> Schema {
    nullable(string(format!("^({V6})$")))
}

/// A circuit id or service address: a name of 1 to 100 characters.
pub fn circuit_id(_: &mut SchemaGenerator) -> Schema {
    string(name_pattern(100))
}

/// A provider edge's customer-facing interface: 1 to 10 letters, digits, `-` or `_`.
pub fn optional_interface(_: &mut SchemaGenerator) -> Schema {
    nullable(string("^[A-Za-z0-9_-]{1,10}$".into()))
}

/// A connection state's wire name.
pub fn optional_state(_: &mut SchemaGenerator) -> Schema {
    let states: Vec<&str> = crate::ConnectionState::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    nullable(json_schema!({ "type": "string", "enum": states }))
}

/// A page size: 1 to 100.
/// A metric's name, or null.
pub fn optional_metric_name(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = super::metrics::MetricName::ALL
        .iter()
        .map(|m| m.as_str())
        .collect();
    nullable(json_schema!({ "type": "string", "enum": names }))
}

/// A cause of dropped frames, or null.
pub fn optional_drop_cause(_: &mut SchemaGenerator) -> Schema {
    let causes: Vec<&str> = super::metrics::DropCause::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    nullable(json_schema!({ "type": "string", "enum": causes }))
}

/// A link id (decimal), or null.
pub fn optional_link_id(_: &mut SchemaGenerator) -> Schema {
    nullable(string("^[1-9][0-9]{0,15}$".into()))
}

/// An RFC 3339 time.
pub fn timestamp(_: &mut SchemaGenerator) -> Schema {
    string(TIMESTAMP.into())
}

const TIMESTAMP: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";

/// An RFC 3339 time, or null.
pub fn optional_timestamp(_: &mut SchemaGenerator) -> Schema {
    nullable(string(TIMESTAMP.into()))
}

/// A calendar month, `YYYY-MM`, or null.
pub fn optional_month(_: &mut SchemaGenerator) -> Schema {
    nullable(string(r"^[0-9]{4}-(0[1-9]|1[0-2])$".into()))
}

/// A period of the metrics API, seconds, or null.
pub fn optional_period(_: &mut SchemaGenerator) -> Schema {
    nullable(period(&mut SchemaGenerator::default()))
}

/// A period, seconds: one of [`super::metrics::PERIODS`].
pub fn period(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "integer", "enum": super::metrics::PERIODS })
}

/// A link id (1 or more), or null.
pub fn optional_link_number(_: &mut SchemaGenerator) -> Schema {
    nullable(
        json_schema!({ "type": "integer", "minimum": 1, "maximum": super::alarms::MAX_LINK_ID }),
    )
}

/// An alarm's evaluation periods: 1 to 1,440 (with the period, a day at most).
pub fn evaluation_periods(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "integer", "minimum": 1, "maximum": 1_440 })
}

/// An alarm's evaluation periods, or null.
pub fn optional_evaluation_periods(g: &mut SchemaGenerator) -> Schema {
    nullable(evaluation_periods(g))
}

/// An alarm's datapoints to alarm: 1 to 1,440 (at most its evaluation periods), or null.
pub fn optional_datapoints(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "integer", "minimum": 1, "maximum": 1_440 }))
}

/// A statistic, or null.
const STATISTIC: &str = r"^(Average|Minimum|Maximum|Sum|SampleCount|p(100|[1-9]?[0-9](\.[0-9])?))$";

pub fn optional_statistic(_: &mut SchemaGenerator) -> Schema {
    nullable(string(STATISTIC.into()))
}

/// A statistic: Average, Minimum, Maximum, Sum, SampleCount or pNN.
pub fn statistic(_: &mut SchemaGenerator) -> Schema {
    string(STATISTIC.into())
}

pub fn optional_page_size(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "integer", "minimum": 1, "maximum": 100 }))
}

/// An alarm's name: 1 to 255 characters, none of them a control character.
pub const ALARM_NAME: &str = r"^[^\x00-\x1f\x7f-\x9f]{1,255}$";

pub fn alarm_name(_: &mut SchemaGenerator) -> Schema {
    string(ALARM_NAME.into())
}

/// A webhook's URL: http or https, a host name or IPv4 address, maybe a port, a path and query of
/// URI characters; no credentials, no fragment.
pub const WEBHOOK_URL: &str = r"^https?://[A-Za-z0-9.-]+(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?([/?][A-Za-z0-9._~:/?@!$&'()*+,;=-]*)?$";

pub fn webhook_url(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": WEBHOOK_URL, "maxLength": 2048 })
}

/// A webhook's signing secret: 16 to 256 characters, or null (the server makes one).
pub fn optional_webhook_secret(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "string", "minLength": 16, "maxLength": 256 }))
}

// The filters' request members (`crate::filter::RuleSpec`, `super::filters`).

/// A protocol as `IpProtocol::parse` takes it: a name, `-1`, or a number from 0 to 255 written
/// without leading zeros.
const PROTOCOL_NUMBER: &str = "25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]";

pub fn ip_protocol(_: &mut SchemaGenerator) -> Schema {
    string(format!("^(tcp|udp|icmp|icmpv6|all|-1|{PROTOCOL_NUMBER})$"))
}

/// A packet's protocol: one of them (not `all`).
pub fn packet_protocol(_: &mut SchemaGenerator) -> Schema {
    string(format!("^(tcp|udp|icmp|icmpv6|{PROTOCOL_NUMBER})$"))
}

pub fn direction(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "enum": ["inbound", "outbound"] })
}

pub fn optional_rule_action(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "string", "enum": ["allow", "deny"] }))
}

fn range(min: u32, max: u32) -> Schema {
    json_schema!({ "type": "integer", "minimum": min, "maximum": max })
}

pub fn optional_port(_: &mut SchemaGenerator) -> Schema {
    nullable(range(0, 65535))
}

// Flow logs (`super::flowlogs`).

pub fn optional_sampling(_: &mut SchemaGenerator) -> Schema {
    nullable(range(1, crate::flowlog::MAX_SAMPLING))
}

pub fn optional_aggregation(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "integer", "enum": crate::flowlog::AGGREGATION_SECS }))
}

pub fn optional_flow_action(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "string", "enum": ["ACCEPT", "REJECT"] }))
}

pub fn optional_ip_address(g: &mut SchemaGenerator) -> Schema {
    nullable(ip_address(g))
}

pub fn optional_packet_protocol(g: &mut SchemaGenerator) -> Schema {
    nullable(packet_protocol(g))
}

pub fn optional_icmp(_: &mut SchemaGenerator) -> Schema {
    nullable(range(0, 255))
}

pub fn rule_number(_: &mut SchemaGenerator) -> Schema {
    range(1, 32766)
}

pub fn optional_rule_number(_: &mut SchemaGenerator) -> Schema {
    nullable(range(1, 32766))
}

pub fn optional_cidr_ip(_: &mut SchemaGenerator) -> Schema {
    nullable(string(format!("^{V4}/(3[0-2]|[12]?[0-9])$")))
}

pub fn optional_cidr_ipv6(_: &mut SchemaGenerator) -> Schema {
    nullable(string(format!("^{V6}/(12[0-8]|1[01][0-9]|[1-9]?[0-9])$")))
}

pub fn optional_prefix_list_id(_: &mut SchemaGenerator) -> Schema {
    nullable(string("^pl-[0-9a-f]{16}$".into()))
}

pub fn optional_rule_id(_: &mut SchemaGenerator) -> Schema {
    nullable(string("^sgr-[0-9a-f]{16}$".into()))
}

/// A rule's description: up to 255 characters, none of them control characters.
pub fn optional_rule_description(_: &mut SchemaGenerator) -> Schema {
    nullable(string(format!("^{PRINTABLE}{{0,255}}$")))
}

/// A security group's, ACL's or prefix list's name (as `schema::is_name` with 64).
pub fn filter_name(_: &mut SchemaGenerator) -> Schema {
    string(name_pattern(64))
}

pub fn optional_filter_name(_: &mut SchemaGenerator) -> Schema {
    nullable(string(name_pattern(64)))
}

/// A prefix list's prefixes: up to 5,000 (none is allowed: a list may start empty).
pub fn filter_prefixes(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "string", "pattern": prefix_pattern() },
        "maxItems": crate::filter::MAX_PREFIX_LIST_ENTRIES,
    })
}

pub fn optional_filter_prefixes(g: &mut SchemaGenerator) -> Schema {
    nullable(filter_prefixes(g))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, s: &str) -> bool {
        regex::Regex::new(pattern)
            .expect("pattern compiles")
            .is_match(s)
    }

    /// A rule's protocol as the schema and `IpProtocol::parse` take it: every number from 0 to
    /// 255 as written without leading zeros, the names, nothing else.
    #[test]
    fn the_protocol_pattern_is_the_rule_parser() {
        let g = &mut SchemaGenerator::default();
        let pattern = ip_protocol(g);
        let pattern = pattern
            .get("pattern")
            .and_then(|p| p.as_str())
            .expect("pattern");
        let mut inputs: Vec<String> = (0..=300).map(|n| n.to_string()).collect();
        inputs.extend(
            [
                "tcp", "udp", "icmp", "icmpv6", "all", "-1", "TCP", "06", "+6", "", " 6", "-2",
            ]
            .map(str::to_owned),
        );
        for s in &inputs {
            assert_eq!(
                matches(pattern, s),
                crate::filter::IpProtocol::parse(s).is_ok(),
                "{s:?}"
            );
        }
        let packet = packet_protocol(g);
        let packet = packet
            .get("pattern")
            .and_then(|p| p.as_str())
            .expect("pattern");
        assert!(matches(packet, "tcp") && matches(packet, "58"));
        assert!(!matches(packet, "all") && !matches(packet, "-1"));
        let name = filter_name(g);
        let name = name
            .get("pattern")
            .and_then(|p| p.as_str())
            .expect("pattern");
        for s in ["web", " web", "web\n", &"w".repeat(64), &"w".repeat(65)] {
            assert_eq!(matches(name, s), is_name(s, 64), "{s:?}");
        }
    }

    #[test]
    fn patterns_take_what_the_parsers_take() {
        let p = prefix_pattern();
        for (s, ok) in [
            ("10.0.0.0/16", true),
            ("0.0.0.0/0", true),
            ("255.255.255.255/32", true),
            ("2001:db8::/32", true),
            ("::/0", true),
            ("fd00:1::/128", true),
            ("10.0.0.0/08", false),
            ("010.0.0.0/8", false),
            ("10.0.0.0", false),
            (" 10.0.0.0/8", false),
            ("::ffff:1.2.3.4/128", false),
            ("10.0.0.0/33", false),
        ] {
            assert_eq!(matches(&p, s), ok, "{s}");
            if ok {
                // What the pattern takes, the parser takes as a prefix (host bits are a rule of
                // their own).
                assert!(s.parse::<ipnet::IpNet>().is_ok(), "{s}");
            }
        }
        let name = name_pattern(100);
        for s in [
            "aws vpc",
            "x",
            " x",
            "x ",
            "x\n",
            "\u{a0}x",
            "x\u{3000}",
            "é",
            "a\u{85}b",
        ] {
            assert_eq!(matches(&name, s), is_name(s, 100), "{s:?}");
        }
        for s in [
            "a",
            "a b",
            " a",
            "a ",
            "a.b-c_d",
            "a/b",
            &"a".repeat(64),
            &"a".repeat(65),
        ] {
            assert_eq!(matches(ACCOUNT_NAME, s), is_account_name(s), "{s:?}");
        }
        assert!(matches(&name, "aws vpc"));
        assert!(matches(&name, "x"));
        assert!(!matches(&name, " x"));
        assert!(!matches(&name, "x\n"));
        assert!(!matches(&name, &"x".repeat(101)));
        assert!(matches(&name, &"x".repeat(100)));
        for (s, ok) in [
            ("1Gbps", true),
            ("0100Mbps", true),
            ("0Mbps", false),
            ("10000Mbps", false),
            ("1gbps", false),
        ] {
            assert_eq!(matches(BANDWIDTH, s), ok, "{s}");
            assert_eq!(crate::Bandwidth::parse(s).is_ok(), ok, "{s}");
        }
        let key = tag_key_pattern();
        for (s, ok) in [
            ("env", true),
            ("a", true),
            ("aws", true),
            ("aws:", false),
            ("aws:x", false),
            ("awsx", true),
            ("Aws:x", true),
            ("team/net:owner", true),
            ("a\nb", false),
            ("a\u{202e}b", false),
        ] {
            assert_eq!(matches(&key, s), ok, "{s}");
            let tags = crate::Tags::from([(s.to_owned(), String::new())]);
            assert_eq!(crate::validate_tags(&tags).is_ok(), ok, "{s}");
        }
        assert!(matches(&key, &"k".repeat(128)) && !matches(&key, &"k".repeat(129)));
        // A last-mile session's provider address: /24 to /31, /120 to /127, as written.
        let session = session_interface_address(&mut SchemaGenerator::default());
        let session = session
            .get("pattern")
            .and_then(|p| p.as_str())
            .expect("pattern")
            .to_owned();
        for (s, ok) in [
            ("192.168.50.1/30", true),
            ("192.168.50.0/31", true),
            ("192.168.50.1/24", true),
            ("192.168.50.1/23", false),
            ("192.168.50.1/32", false),
            ("fd00:50::1/126", true),
            ("fd00:50::1/64", false),
            ("fd00:50::1/128", false),
            ("::ffff:192.168.50.1/126", false),
            (" 192.168.50.1/30", false),
        ] {
            assert_eq!(matches(&session, s), ok, "{s}");
        }
        let circuit = circuit_id(&mut SchemaGenerator::default());
        assert_eq!(
            circuit.get("pattern").and_then(|p| p.as_str()),
            Some(name_pattern(100).as_str())
        );
    }
}
