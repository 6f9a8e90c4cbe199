//! The configuration's checks, through the file parser (lines and fields) and the document
//! (the control plane's path).

use super::*;

const GOOD: &str = r#"
[gateway]
name = "gw-a"
admin_listen = "127.0.0.1:7801"

[[link]]
name = "l1"
underlay_local = "10.200.0.1:4789"
underlay_remote = "10.200.0.2:4789"
vni = 101
ckn = "00112233445566778899aabbccddeeff"
cak = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"
address = "169.254.0.0/31"
bandwidth = "1Gbps"
"#;

fn err(text: &str) -> ConfigError {
    GatewayConfig::parse("gw.toml", text, None).expect_err("must be refused")
}

#[test]
fn vlan_sub_interfaces() {
    let text = "[gateway]\nname = \"edge\"\n[[access]]\ninterface = \"eth1\"\nvlan = 100\naddresses = [\"100.100.0.1/30\", \"fd00:100::1/64\"]\n[[access]]\ninterface = \"eth1\"\nvlan = 101\nbridge = \"xb7\"\n";
    let c = GatewayConfig::parse("gw.toml", text, None).expect("valid");
    assert_eq!(c.access.len(), 2);
    assert_eq!(c.access[0].tap_name(), "eth1.100");
    assert_eq!(c.access[0].addresses.len(), 2);
    assert_eq!(c.access[1].bridge.as_deref(), Some("xb7"));
    for (body, field, words) in [
        (
            "interface = \"eth1\"\nvlan = 4095\naddresses = [\"10.0.0.1/30\"]",
            "vlan",
            "1 to 4094",
        ),
        (
            "interface = \"eth1\"\nvlan = 0\naddresses = [\"10.0.0.1/30\"]",
            "vlan",
            "1 to 4094",
        ),
        ("interface = \"eth1\"\nvlan = 5", "addresses", "exactly one"),
        (
            "interface = \"eth1\"\nvlan = 5\naddresses = [\"10.0.0.1/30\"]\nbridge = \"b\"",
            "addresses",
            "exactly one",
        ),
        (
            "interface = \"a-very-long-if\"\nvlan = 3000\nbridge = \"b\"",
            "interface",
            "15 characters",
        ),
        (
            "interface = \"eth1\"\nvlan = 5\naddresses = [\"10.0.0.0/30\"]",
            "addresses",
            "network",
        ),
    ] {
        let e = err(&format!("[gateway]\nname = \"edge\"\n[[access]]\n{body}\n"));
        assert!(
            e.field.ends_with(field) && e.message.contains(words),
            "{body}: {e}"
        );
    }
    let twice = "[gateway]\nname = \"edge\"\n[[access]]\ninterface = \"eth1\"\nvlan = 5\nbridge = \"b\"\n[[access]]\ninterface = \"eth1\"\nvlan = 5\nbridge = \"c\"\n";
    assert!(err(twice).message.contains("twice"));
}

#[test]
fn a_good_file() {
    let c = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
    assert_eq!(c.links.len(), 1);
    assert_eq!(c.links[0].cipher, CipherSuite::GcmAesXpn256);
    assert_eq!(c.links[0].cak.len(), 32);
    assert!(
        !format!("{:?}", c.links[0]).contains("0001020304"),
        "the CAK is redacted"
    );
}

#[test]
fn mistakes_name_the_file_line_and_field() {
    let e = err(&GOOD.replace("vni = 101", "vni = 101\ncolour = \"red\""));
    assert_eq!((e.file.as_str(), e.line), ("gw.toml", 11), "{e}");
    assert!(e.message.contains("unknown field `colour`"), "{e}");
    // A file written for a newer schema says so, rather than naming its first new key.
    let e = err(&format!(
        "schema = 99\n{}",
        GOOD.replace("vni = 101", "vni = 101\ncolour = 1")
    ));
    assert_eq!((e.line, e.field.as_str()), (1, "schema"), "{e}");
    assert!(e.message.contains("schema 1 to 1, not 99"), "{e}");
    GatewayConfig::parse("gw.toml", &format!("schema = 1\n{GOOD}"), None).expect("schema 1");
    let e = err(&GOOD.replace("ckn = \"00112233", "ckn = \"zz112233"));
    assert_eq!((e.line, e.field.as_str()), (11, "link[l1].ckn"), "{e}");
    let e = err(&GOOD.replace("cak = \"0001020304050607", "cak = \"00"));
    assert!(
        e.field == "link[l1].cak" && e.message.contains("16 or 32 bytes"),
        "{e}"
    );
    let e = err(&GOOD.replace("169.254.0.0/31", "169.254.0.0/30"));
    assert!(
        e.field == "link[l1].address" && e.message.contains("network or broadcast"),
        "{e}"
    );
    let link2 = GOOD
        .split("[[link]]")
        .nth(1)
        .expect("link")
        .replace("name = \"l1\"", "name = \"l2\"");
    let e = err(&format!("{GOOD}[[link]]{link2}"));
    assert!(
        e.field == "link[l2].vni" && e.message.contains("already used by link l1"),
        "{e}"
    );
    assert!(e.to_string().starts_with("gw.toml:"), "{e}");
}

#[test]
fn transmit_offload_is_on_unless_switched_off() {
    let c = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
    assert!(c.transmit_offload, "on by default");
    let with = |v: &str| {
        GOOD.replace(
            "admin_listen = \"127.0.0.1:7801\"",
            &format!("admin_listen = \"127.0.0.1:7801\"\ntransmit_offload = {v}"),
        )
    };
    let c = GatewayConfig::parse("gw.toml", &with("false"), None).expect("valid");
    assert!(!c.transmit_offload);
    let e = err(&with("\"no\""));
    assert_eq!(e.line, 5, "{e}");
}

#[test]
fn busy_polling_is_100_us_unless_set_and_bounded() {
    let c = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
    assert_eq!(c.busy_poll_us, 100, "the default");
    let with = |v: &str| {
        GOOD.replace(
            "admin_listen = \"127.0.0.1:7801\"",
            &format!("admin_listen = \"127.0.0.1:7801\"\nbusy_poll_us = {v}"),
        )
    };
    assert_eq!(
        GatewayConfig::parse("gw.toml", &with("0"), None)
            .expect("valid")
            .busy_poll_us,
        0
    );
    let e = err(&with("1001"));
    assert_eq!(
        (e.line, e.field.as_str()),
        (5, "gateway.busy_poll_us"),
        "{e}"
    );
    assert!(e.message.contains("0 (off) to 1000 microseconds"), "{e}");
}

#[test]
fn links_use_one_core_unless_set_to_a_power_of_two_up_to_eight() {
    let c = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
    assert_eq!(c.link_cores, 1, "the default");
    let with = |v: &str| {
        GOOD.replace(
            "admin_listen = \"127.0.0.1:7801\"",
            &format!("admin_listen = \"127.0.0.1:7801\"\nlink_cores = {v}"),
        )
    };
    for n in [1u8, 2, 4, 8] {
        let c = GatewayConfig::parse("gw.toml", &with(&n.to_string()), None).expect("valid");
        assert_eq!(c.link_cores, n);
    }
    for bad in ["0", "3", "16"] {
        let e = err(&with(bad));
        assert_eq!((e.line, e.field.as_str()), (5, "gateway.link_cores"), "{e}");
        assert!(e.message.contains("1, 2, 4 or 8"), "{bad}: {e}");
    }
}

#[test]
fn idle_polling_is_off_unless_set_and_bounded() {
    let c = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
    assert_eq!(c.idle_poll_ms, 0, "off by default");
    let with = |v: &str| {
        GOOD.replace(
            "admin_listen = \"127.0.0.1:7801\"",
            &format!("admin_listen = \"127.0.0.1:7801\"\nidle_poll_ms = {v}"),
        )
    };
    let c = GatewayConfig::parse("gw.toml", &with("1000"), None).expect("valid");
    assert_eq!(c.idle_poll_ms, 1000);
    let e = err(&with("60001"));
    assert_eq!(
        (e.line, e.field.as_str()),
        (5, "gateway.idle_poll_ms"),
        "{e}"
    );
    assert!(e.message.contains("0 (off) to 60000"), "{e}");
    let e = err(&with("-1"));
    assert_eq!(e.line, 5, "{e}");
}

#[test]
fn the_flow_table_has_a_default_size_and_a_bounded_one() {
    let c = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
    assert_eq!(c.flow_table_size, 262_144);
    let with = |v: &str| {
        GOOD.replace(
            "admin_listen = \"127.0.0.1:7801\"",
            &format!("admin_listen = \"127.0.0.1:7801\"\nflow_table_size = {v}"),
        )
    };
    let c = GatewayConfig::parse("gw.toml", &with("2"), None).expect("valid");
    assert_eq!(c.flow_table_size, 2);
    for v in ["0", "4194305"] {
        let e = err(&with(v));
        assert_eq!(
            (e.line, e.field.as_str()),
            (5, "gateway.flow_table_size"),
            "{e}"
        );
        assert!(e.message.contains("1 to 4194304"), "{e}");
    }
}

#[cfg(test)]
mod example {
    /// The documented example file parses.
    #[test]
    fn example_file_is_valid() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/gateway.toml");
        let c = super::super::GatewayConfig::load(&path).expect("examples/gateway.toml");
        assert_eq!(c.links.len(), 1);
        assert!(c.keylog_file.is_none(), "the example keeps the keylog off");
        let bgp = c.bgp.expect("the example has BGP");
        assert_eq!((bgp.asn, bgp.neighbors.len()), (64512, 1));
        assert!(bgp.neighbors[0].bfd);
    }
}

#[cfg(test)]
mod bgp {
    use super::super::*;
    use xc_types::gateway::{
        AccessDoc, BgpDoc, ConfigDoc, GatewaySection, LinkDoc, NeighborDoc, PrefixListDoc,
    };

    #[test]
    fn a_document_from_the_controller_gets_the_same_checks() {
        let doc = ConfigDoc {
            schema: xc_types::gateway::SCHEMA_VERSION,
            gateway: GatewaySection {
                name: "gw-1".into(),
                admin_listen: Some("127.0.0.1:7809".into()),
                ..GatewaySection::default()
            },
            link: vec![LinkDoc {
                name: "l7".into(),
                underlay_local: "10.200.0.1:10007".into(),
                underlay_remote: "10.200.0.2:10007".into(),
                vni: 7,
                ckn: "00".repeat(16),
                cak: Some("01".repeat(32)),
                address: Some("169.254.0.14/31".into()),
                bandwidth: Some("1Gbps".into()),
                ..LinkDoc::default()
            }],
            bgp: Some(BgpDoc {
                asn: 64512,
                router_id: "10.200.0.1".into(),
                announce: vec!["10.0.0.0/16".into()],
                neighbor: vec![
                    NeighborDoc {
                        address: "169.254.0.15".into(),
                        remote_asn: 64513,
                        import: Some(PrefixListDoc::List(vec!["10.1.0.0/16".into()])),
                        bfd: true,
                        ..NeighborDoc::default()
                    },
                    NeighborDoc {
                        address: "100.100.0.2".into(),
                        remote_asn: 65010,
                        import: Some(PrefixListDoc::List(vec!["10.50.0.0/24".into()])),
                        export: Some(PrefixListDoc::List(vec!["10.0.0.0/16".into()])),
                        md5_password: Some("cpe-secret".into()),
                        ..NeighborDoc::default()
                    },
                ],
                ..BgpDoc::default()
            }),
            access: vec![AccessDoc {
                interface: "eth1".into(),
                vlan: 100,
                addresses: vec!["100.100.0.1/30".into()],
                ..AccessDoc::default()
            }],
            filters: None,
            flow_sync: Some(xc_types::gateway::FlowSyncDoc {
                listen: "10.200.0.1:7802".into(),
                peers: vec!["10.200.0.3:7802".into()],
                key: "ab".repeat(32),
            }),
        };
        let c = GatewayConfig::from_doc(&doc, None).expect("valid");
        let sync = c.flow_sync.as_ref().expect("flow sync");
        assert_eq!(sync.peers[0].port(), 7802);
        assert_eq!(*sync.key, [0xab; 32]);
        assert!(
            !format!("{doc:?} {c:?}").contains("abab"),
            "the sync key is redacted"
        );
        let mut short = doc.clone();
        if let Some(s) = &mut short.flow_sync {
            s.key = "ab".repeat(16);
        }
        let e = GatewayConfig::from_doc(&short, None).expect_err("a short key");
        assert!(e.to_string().contains("flow_sync.key"), "{e}");
        assert_eq!(c.links[0].vni, 7);
        assert_eq!(c.admin_listen.port(), 7809);
        assert_eq!(c.access[0].tap_name(), "eth1.100");
        let b = c.bgp.clone().expect("bgp");
        assert_eq!(b.neighbors[0].remote_asn, 64513);
        assert_eq!(b.neighbors[0].export, None);
        assert!(
            b.neighbors[1]
                .export
                .as_ref()
                .is_some_and(|e| e.accepts(&"10.0.0.0/16".parse().expect("net")))
        );
        assert_eq!(
            b.neighbors[1].md5_password.as_deref().map(String::as_str),
            Some("cpe-secret")
        );
        assert!(!format!("{doc:?}").contains("0101"), "the CAK is redacted");
        assert!(
            !format!("{doc:?}").contains("cpe-secret"),
            "the MD5 password is redacted"
        );
        // The same document written as a file reads back as the same configuration: one schema.
        let text = toml::to_string(&doc).expect("toml");
        let from_file = GatewayConfig::parse("gw.toml", &text, None).expect("the file form");
        assert_eq!(format!("{from_file:?}"), format!("{c:?}"));
        let mut bad = doc.clone();
        bad.link[0].cak = Some("zz".into());
        let e = GatewayConfig::from_doc(&bad, None).expect_err("bad hex");
        assert_eq!(e.field, "link[l7].cak", "{e}");
    }

    const GOOD: &str = r#"
[gateway]
name = "gw"

[bgp]
asn = 4200000001
router_id = "10.0.0.1"
announce = ["10.0.0.0/16", "2001:db8::/48"]

[[bgp.neighbor]]
address = "169.254.0.1"
remote_asn = 64513
import = ["10.1.0.0/16 le 24"]
md5_password = "s3cret"
bfd = true

[[bgp.neighbor]]
address = "fe80::1"
remote_asn = 64513
import = "any"
"#;

    fn err(text: &str) -> ConfigError {
        GatewayConfig::parse("gw.toml", text, None).expect_err("must be refused")
    }

    #[test]
    fn unknown_keys_and_array_entries_are_located() {
        let text = format!("schema = 1\n{GOOD}")
            .replace("bfd = true", "bfd = true\nflap_dampening = true");
        let e = err(&text);
        assert_eq!(
            (e.line, e.field.as_str()),
            (17, "bgp.neighbor[0].flap_dampening"),
            "{e}"
        );
        assert!(e.message.contains("unknown field `flap_dampening`"), "{e}");
        let multi = GOOD.replace(
            "announce = [\"10.0.0.0/16\", \"2001:db8::/48\"]",
            "announce = [\n  \"10.0.0.0/16\",\n  \"2001:db8::1/48\",\n]",
        );
        let e = err(&multi);
        assert_eq!((e.line, e.field.as_str()), (10, "bgp.announce"), "{e}");
        assert!(e.message.contains("the prefix is 2001:db8::/48"), "{e}");
    }

    #[test]
    fn a_bgp_section_without_links() {
        let c = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
        assert!(c.links.is_empty());
        let b = c.bgp.expect("bgp");
        assert_eq!(b.asn, 4_200_000_001);
        assert_eq!(b.graceful_restart_secs, 120);
        let n = &b.neighbors[0];
        assert_eq!(
            (n.hold_time, n.max_prefixes, n.bfd_interval_ms),
            (90, 100, 100)
        );
        assert!(n.import.accepts(&"10.1.2.0/24".parse().expect("net")));
        assert!(!n.import.accepts(&"10.1.2.0/25".parse().expect("net")));
        assert_eq!(b.neighbors[1].import, xc_bgp::policy::ImportFilter::Any);
        assert!(
            !format!("{n:?}").contains("s3cret"),
            "the password is redacted"
        );
    }

    #[test]
    fn bgp_mistakes_name_the_line_and_field() {
        let e = err(&GOOD.replace("import = [\"10.1.0.0/16 le 24\"]\n", ""));
        assert!(
            e.field == "bgp.neighbor[169.254.0.1].import" && e.message.contains("required"),
            "{e}"
        );
        let e = err(&GOOD.replace("10.1.0.0/16 le 24", "10.1.0.0/16 le 8"));
        assert!(
            e.field.ends_with(".import") && e.message.contains("outside"),
            "{e}"
        );
        assert_eq!(e.line, 13, "{e}");
        let e = err(&GOOD.replace("asn = 4200000001", "asn = 23456"));
        assert!(
            e.field == "bgp.asn" && e.message.contains("AS_TRANS"),
            "{e}"
        );
        let e = err(&GOOD.replace("\"10.0.0.0/16\", ", "\"10.0.0.1/16\", "));
        assert!(e.message.contains("the prefix is 10.0.0.0/16"), "{e}");
        let e = err(&GOOD.replace("address = \"fe80::1\"", "address = \"169.254.0.1\""));
        assert!(e.message.contains("configured twice"), "{e}");
        let e = err(&GOOD.replace("bfd = true", "bfd = true\nhold_time = 2"));
        assert!(e.field.ends_with(".hold_time"), "{e}");
        let e = err(&GOOD.replace("router_id = \"10.0.0.1\"", "router_id = \"::1\""));
        assert_eq!(e.field, "bgp.router_id", "{e}");
    }
}

#[cfg(test)]
mod filters {
    use super::*;

    const RULE: &str = "\n[[filters.securityGroups]]\ngroupId = \"sg-0000000000000001\"\n[[filters.securityGroups.rules]]\nruleId = \"sgr-0000000000000001\"\ndirection = \"inbound\"\n";

    #[test]
    fn a_file_carries_the_attach_points_filters() {
        let text =
            format!("{GOOD}{RULE}ipProtocol = \"tcp\"\nfromPort = 22\ncidrIp = \"10.1.0.0/16\"\n");
        let c = GatewayConfig::parse("gw.toml", &text, None).expect("valid");
        assert_eq!(c.filters.security_groups.len(), 1);
        assert_eq!(c.filters.security_groups[0].rules.len(), 1);
        let none = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
        assert!(none.filters.is_empty(), "no filters: everything passes");
    }

    #[test]
    fn a_bad_rule_is_refused_at_its_line_naming_its_field() {
        let text =
            format!("{GOOD}{RULE}ipProtocol = \"icmp\"\nfromPort = 22\ncidrIp = \"10.1.0.0/16\"\n");
        let e = err(&text);
        assert!(e.message.contains("fromPort"), "{e}");
        assert!(e.line > GOOD.lines().count(), "{e}");
        let text =
            format!("{GOOD}{RULE}ipProtocol = \"all\"\nprefixListId = \"pl-0000000000000009\"\n");
        let e = err(&text);
        assert!(e.field.starts_with("filters"), "{e}");
        assert!(e.message.contains("pl-0000000000000009"), "{e}");
    }
}

#[test]
fn a_shared_bandwidth_starts_at_an_equal_part_and_needs_a_bandwidth() {
    let c = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
    assert_eq!(c.links[0].bandwidth_shared_by, 1, "alone by default");
    assert_eq!(c.links[0].initial_egress_bps(), Some(1_000_000_000));
    let shared = GOOD.replace(
        "bandwidth = \"1Gbps\"",
        "bandwidth = \"1Gbps\"\nbandwidth_shared_by = 4",
    );
    let c = GatewayConfig::parse("gw.toml", &shared, None).expect("valid");
    assert_eq!(c.links[0].initial_egress_bps(), Some(250_000_000));
    assert_eq!(
        c.links[0].bandwidth_bps(),
        Some(1_000_000_000),
        "policed whole"
    );
    let e = err(&GOOD.replace(
        "bandwidth = \"1Gbps\"",
        "bandwidth = \"1Gbps\"\nbandwidth_shared_by = 0",
    ));
    assert!(e.to_string().contains("1 to 64"), "{e}");
    let e = err(&GOOD.replace("bandwidth = \"1Gbps\"", "bandwidth_shared_by = 2"));
    assert!(e.to_string().contains("needs a bandwidth"), "{e}");
    assert_eq!(e.line, 14, "{e}");
}

#[test]
fn liveness_is_off_unless_set_and_bounded() {
    let c = GatewayConfig::parse("gw.toml", GOOD, None).expect("valid");
    assert_eq!(c.links[0].liveness, None, "off by default");
    let with = |v: &str| GOOD.replace("bandwidth = \"1Gbps\"", v);
    let c =
        GatewayConfig::parse("gw.toml", &with("liveness_interval_ms = 10"), None).expect("valid");
    let l = c.links[0].liveness.expect("on");
    assert_eq!(
        l.detect_time(),
        std::time::Duration::from_millis(30),
        "3 by default"
    );
    for (text, words, line) in [
        ("liveness_interval_ms = 0", "1 to 10000", 14),
        (
            "liveness_interval_ms = 10\nliveness_multiplier = 1",
            "2 to 100",
            15,
        ),
        ("liveness_multiplier = 3", "needs liveness_interval_ms", 14),
    ] {
        let e = err(&with(text));
        assert!(e.to_string().contains(words), "{text}: {e}");
        assert_eq!(e.line, line, "{e}");
    }
}
