//! Security groups, network ACLs, prefix lists and "would this pass?" from the CLI against a real
//! server, with the command forms users type: each change shows the resource, a bad rule is one
//! line naming its field, and `attach-point check` names the rule that decided on each side of
//! the connection. (What the gateways do with these rules: `link_e2e`'s filter test; the rules'
//! checks, one by one: `xc-types`' filter tests; the service's: `xc-control`'s.)

mod common;

use common::*;
use serde_json::Value;

fn json_of(r: &Run) -> Value {
    assert!(r.ok, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_acls_and_lists_from_the_cli_and_check_names_the_deciding_rule() {
    let server = Server::start();
    let op = server.operator();
    let operator = server.client(&op);
    let a = tenant(&server, &operator, "filters-a").await;
    let b = tenant(&server, &operator, "filters-b").await;
    let ap_a = attach_point(&a, "a", &["10.0.0.0/16"]).await;
    let ap_b = attach_point(&b, "b", &["10.1.0.0/16"]).await;
    connect(&a, &ap_a, &b, &ap_b).await;
    let cli = |args: &[&str]| xconnect(&server, &a.creds, args);

    let g = json_of(&cli(&[
        "security-group",
        "create",
        "--name",
        "web",
        "--attach-point",
        &ap_a,
        "--output",
        "json",
    ]));
    let group = g["securityGroupId"].as_str().expect("id").to_owned();
    assert_eq!(g["rules"].as_array().map(Vec::len), Some(2), "{g}");
    let r = cli(&[
        "security-group",
        "authorize",
        &group,
        "--direction",
        "inbound",
        "--protocol",
        "tcp",
        "--port",
        "22",
        "--cidr",
        "10.1.0.0/16",
    ]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stdout.lines().any(|l| l.contains("inbound")
            && l.contains("tcp")
            && l.contains(" 22 ")
            && l.contains("10.1.0.0/16")),
        "{}",
        r.stdout
    );
    // A bad rule: one line on stderr naming the field, nothing changed.
    for (args, field) in [
        (
            vec![
                "--protocol",
                "icmp",
                "--port-range",
                "1-2",
                "--cidr",
                "10.1.0.0/16",
            ],
            "fromPort",
        ),
        (
            vec!["--protocol", "tcp", "--port", "22", "--cidr", "10.1.0.7/16"],
            "cidrIp",
        ),
        (
            vec!["--protocol", "tcp", "--port", "22", "--cidr", "10.1.0.0/16"],
            "rules[0]",
        ),
    ] {
        let r = cli(&[
            &[
                "security-group",
                "authorize",
                &group,
                "--direction",
                "inbound",
            ][..],
            &args,
        ]
        .concat());
        assert!(!r.ok && r.stderr.contains(field), "{field}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    }
    let g = json_of(&cli(&["security-group", "get", &group, "--output", "json"]));
    assert_eq!(g["rules"].as_array().map(Vec::len), Some(3), "{g}");

    let check = |port: &str| {
        cli(&[
            "attach-point",
            "check",
            &ap_a,
            "--from",
            "10.1.2.3",
            "--to",
            "10.0.0.5",
            "--protocol",
            "tcp",
            "--port",
            port,
        ])
    };
    let r = check("22");
    assert!(
        r.ok && r.stdout.trim_end().ends_with("ALLOW"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let rule_22 = g["rules"][2]["ruleId"].as_str().expect("rule id");
    assert!(r.stdout.contains(rule_22), "{}", r.stdout);
    let r = check("23");
    assert!(
        r.ok && r.stdout.trim_end().ends_with("DENY"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("no rule of the attached security groups"),
        "{}",
        r.stdout
    );

    // The ACL: deny 100 beats allow 200; removing 100 lets ssh in again.
    let acl = json_of(&cli(&[
        "network-acl",
        "create",
        "--name",
        "edge",
        "--attach-point",
        &ap_a,
        "--output",
        "json",
    ]));
    let acl = acl["networkAclId"].as_str().expect("id").to_owned();
    for args in [
        [
            "--number",
            "200",
            "--action",
            "allow",
            "--protocol",
            "all",
            "--cidr",
            "10.1.0.0/16",
        ]
        .as_slice(),
        &[
            "--number",
            "100",
            "--action",
            "deny",
            "--protocol",
            "tcp",
            "--port-range",
            "22-22",
            "--cidr",
            "10.1.0.0/16",
        ],
    ] {
        let r = cli(&[
            &["network-acl", "add-rule", &acl, "--direction", "inbound"][..],
            args,
        ]
        .concat());
        assert!(r.ok, "{}", r.stderr);
    }
    let r = cli(&[
        "network-acl",
        "add-rule",
        &acl,
        "--direction",
        "inbound",
        "--number",
        "100",
        "--action",
        "allow",
        "--protocol",
        "udp",
        "--cidr",
        "10.1.0.0/16",
    ]);
    assert!(!r.ok && r.stderr.contains("ruleNumber"), "{}", r.stderr);
    let r = check("22");
    assert!(
        r.stdout.trim_end().ends_with("DENY") && r.stdout.contains("rule 100"),
        "{}",
        r.stdout
    );
    let r = cli(&["network-acl", "get", &acl]);
    assert!(
        r.ok && r.stdout.contains("deny") && r.stdout.contains("(every other packet)"),
        "{}",
        r.stdout
    );
    let r = cli(&[
        "network-acl",
        "remove-rule",
        &acl,
        "--number",
        "100",
        "--direction",
        "inbound",
    ]);
    assert!(r.ok, "{}", r.stderr);
    assert!(check("22").stdout.trim_end().ends_with("ALLOW"));

    // Prefix lists, named by a rule.
    let pl = json_of(&cli(&[
        "prefix-list",
        "create",
        "--name",
        "b-nets",
        "--prefixes",
        "10.1.0.0/24,10.1.1.0/24",
        "--output",
        "json",
    ]));
    let pl = pl["prefixListId"].as_str().expect("id").to_owned();
    let r = cli(&[
        "security-group",
        "authorize",
        &group,
        "--direction",
        "inbound",
        "--protocol",
        "udp",
        "--port",
        "53",
        "--prefix-list",
        &pl,
    ]);
    assert!(r.ok && r.stdout.contains(&pl), "{}{}", r.stdout, r.stderr);
    let r = cli(&[
        "prefix-list",
        "update",
        &pl,
        "--prefixes",
        "10.1.9.0/24",
        "--output",
        "json",
    ]);
    assert_eq!(json_of(&r)["prefixes"], serde_json::json!(["10.1.9.0/24"]));
    let r = cli(&["prefix-list", "delete", &pl]);
    assert!(!r.ok && r.stderr.contains(&group), "{}", r.stderr);
    let r = cli(&["prefix-list", "list"]);
    assert!(
        r.ok && r.stdout.contains("b-nets") && r.stdout.contains("10.1.9.0/24"),
        "{}",
        r.stdout
    );

    // The other tenant sees none of it.
    let r = xconnect(&server, &b.creds, &["security-group", "get", &group]);
    assert!(!r.ok && r.stderr.contains("not found"), "{}", r.stderr);
    let r = xconnect(
        &server,
        &b.creds,
        &["security-group", "list", "--output", "json"],
    );
    assert_eq!(json_of(&r)["securityGroups"], serde_json::json!([]));

    // Dry runs: checked as the change would be, listing what it would cut (no gateway here:
    // none to ask), changing nothing.
    let r = cli(&["security-group", "delete", &group, "--dry-run"]);
    assert!(
        r.ok && r.stdout.contains(&format!("would delete {group}")) && r.stdout.contains("DRY RUN"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let r = json_of(&cli(&[
        "network-acl",
        "delete",
        &acl,
        "--dry-run",
        "--output",
        "json",
    ]));
    assert_eq!(r["deleted"], false, "{r}");
    assert_eq!(r["dryRun"]["gateways"], serde_json::json!([]), "{r}");
    let r = cli(&[
        "network-acl",
        "create",
        "--name",
        "second",
        "--attach-point",
        &ap_a,
        "--dry-run",
    ]);
    assert!(
        !r.ok && r.stderr.contains("one per attach point"),
        "{}",
        r.stderr
    );
    let r = cli(&[
        "prefix-list",
        "update",
        &pl,
        "--prefixes",
        "10.1.8.0/24",
        "--dry-run",
    ]);
    assert!(
        r.ok && r.stdout.contains("10.1.8.0/24") && r.stdout.contains("DRY RUN"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let r = json_of(&cli(&["prefix-list", "get", &pl, "--output", "json"]));
    assert_eq!(r["prefixes"], serde_json::json!(["10.1.9.0/24"]), "{r}");
    assert!(
        cli(&["network-acl", "get", &acl]).ok,
        "the ACL is still there"
    );
    assert!(
        cli(&["security-group", "get", &group]).ok,
        "the group is still there"
    );

    // Detach, list, delete; the changes are events.
    let r = cli(&[
        "security-group",
        "detach",
        &group,
        "--attach-point",
        &ap_a,
        "--output",
        "json",
    ]);
    assert_eq!(json_of(&r)["attachPointIds"], serde_json::json!([]));
    let r = cli(&["security-group", "list"]);
    assert!(r.ok && r.stdout.contains("web"), "{}", r.stdout);
    assert!(cli(&["security-group", "delete", &group]).ok);
    let r = cli(&["events", "--output", "json"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stdout
            .lines()
            .filter(|l| l.contains("filter.change"))
            .count()
            >= 8,
        "{}",
        r.stdout
    );
}
