//! The `xconnect` CLI as scripts use it: `--output json` prints the resource, errors are one line
//! on stderr with a non-zero exit, credentials come from the AWS variables.

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;
use xc_types::api::Credentials;

fn json(r: Run) -> Value {
    assert!(r.ok, "command failed: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stdout))
}

fn one_line_error(r: Run, needle: &str) {
    assert!(!r.ok, "expected a failure, got: {}", r.stdout);
    assert_eq!(
        r.stderr.trim_end().lines().count(),
        1,
        "errors are one line: {:?}",
        r.stderr
    );
    assert!(
        r.stderr.contains(needle),
        "expected `{needle}` in {:?}",
        r.stderr
    );
}

#[test]
fn cli_for_people_and_scripts() {
    let server = Server::start();
    let op = server.operator();
    let a: Credentials = serde_json::from_value(json(xconnect(
        &server,
        &op,
        &["account", "create", "--name", "cli-a", "--output", "json"],
    )))
    .expect("credentials");
    let b: Credentials = serde_json::from_value(json(xconnect(
        &server,
        &op,
        &["account", "create", "--name", "cli-b", "--output", "json"],
    )))
    .expect("credentials");
    one_line_error(
        xconnect(&server, &a, &["account", "create", "--name", "nope"]),
        "only the operator",
    );

    let ap = json(xconnect(
        &server,
        &a,
        &[
            "attach-point",
            "create",
            "--name",
            "vpc",
            "--prefixes",
            "10.8.0.0/16,fd08::/48",
            "--asn",
            "65001",
            "--output",
            "json",
        ],
    ));
    let ap_id = ap["id"].as_str().expect("id").to_owned();
    assert_eq!(ap["asn"], 65001);
    let ap_b = json(xconnect(
        &server,
        &b,
        &[
            "attach-point",
            "create",
            "--name",
            "vpc-b",
            "--prefixes",
            "10.9.0.0/16",
            "--output",
            "json",
        ],
    ));
    one_line_error(
        xconnect(
            &server,
            &a,
            &[
                "attach-point",
                "create",
                "--name",
                "bad",
                "--prefixes",
                "10.8.0.1/16",
            ],
        ),
        "host bits",
    );

    let conn = json(xconnect(
        &server,
        &a,
        &[
            "connection",
            "create",
            "--environment",
            "gcp-us-east4",
            "--bandwidth",
            "1Gbps",
            "--attach-point",
            &ap_id,
            "--remote-account",
            b.account_id.as_str(),
            "--description",
            "cli test",
            "--tag",
            "env=test",
            "--output",
            "json",
        ],
    ));
    let id = conn["id"].as_str().expect("id").to_owned();
    assert_eq!(conn["state"], "requested");
    assert_eq!(conn["tags"]["env"], "test");
    let key = conn["activationKey"].as_str().expect("key").to_owned();

    // Table output for people names the columns.
    let table = xconnect(&server, &a, &["connection", "list"]);
    assert!(
        table.ok && table.stdout.starts_with("ID") && table.stdout.contains(&id),
        "{}",
        table.stdout
    );

    let accepted = json(xconnect(
        &server,
        &b,
        &[
            "connection",
            "accept",
            "--activation-key",
            &key,
            "--attach-point",
            ap_b["id"].as_str().expect("id"),
            "--output",
            "json",
        ],
    ));
    assert_eq!(accepted["state"], "pending");
    let listed = json(xconnect(
        &server,
        &b,
        &[
            "connection",
            "list",
            "--state",
            "pending",
            "--output",
            "json",
        ],
    ));
    assert_eq!(listed["connections"][0]["id"], id.as_str());

    one_line_error(
        xconnect(&server, &a, &["connection", "get", "mcc-zzzzzzzz"]),
        "ResourceNotFoundException",
    );
    one_line_error(
        xconnect(
            &server,
            &a,
            &["connection", "update", &id, "--bandwidth", "3Gbps"],
        ),
        "bandwidth",
    );
    let updated = json(xconnect(
        &server,
        &a,
        &[
            "connection",
            "update",
            &id,
            "--description",
            "renamed",
            "--output",
            "json",
        ],
    ));
    assert_eq!(updated["description"], "renamed");

    // Each side changes its own routing policy, live; the remote side nothing else.
    one_line_error(
        xconnect(
            &server,
            &b,
            &["connection", "update", &id, "--description", "mine"],
        ),
        "only the owner",
    );
    let policy = json(xconnect(
        &server,
        &b,
        &[
            "connection",
            "update",
            &id,
            "--routing-policy",
            "manual",
            "--announce",
            "10.9.0.0/24",
            "--accept",
            "10.8.0.0/16",
            "--output",
            "json",
        ],
    ));
    assert_eq!(policy["remoteRoutingPolicy"]["mode"], "manual");
    assert_eq!(policy["remoteRoutingPolicy"]["announce"][0], "10.9.0.0/24");
    assert_eq!(policy["routingPolicy"]["mode"], "automatic");
    assert_eq!(policy["description"], "renamed");
    // A prefix outside the attach point is refused, and nothing of the request is applied.
    one_line_error(
        xconnect(
            &server,
            &a,
            &[
                "connection",
                "update",
                &id,
                "--description",
                "half applied",
                "--routing-policy",
                "manual",
                "--announce",
                "10.99.0.0/16",
            ],
        ),
        "not within the attach point",
    );
    let unchanged = json(xconnect(
        &server,
        &a,
        &["connection", "get", &id, "--output", "json"],
    ));
    assert_eq!(unchanged["description"], "renamed");
    assert_eq!(unchanged["routingPolicy"]["mode"], "automatic");
    one_line_error(
        xconnect(&server, &a, &["connection", "update", &id]),
        "nothing to change",
    );
    let deleted = json(xconnect(
        &server,
        &b,
        &["connection", "delete", &id, "--output", "json"],
    ));
    assert!(
        deleted["state"] == "deleting" || deleted["state"] == "deleted",
        "{deleted}"
    );

    // The history: created, accepted (requested -> pending), deleted; both sides see it.
    let events = json(xconnect(
        &server,
        &b,
        &["connection", "events", &id, "--output", "json"],
    ));
    let events = events["events"].as_array().expect("events");
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or("?"),
                e["state"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(kinds[..2], [("created", "requested"), ("state", "pending")]);
    assert_eq!(events[1]["previousState"], "requested");
    assert!(
        kinds[2..]
            .iter()
            .any(|(_, s)| *s == "deleting" || *s == "deleted"),
        "{kinds:?}"
    );
    let table = xconnect(&server, &a, &["connection", "events", &id]);
    assert!(
        table.ok && table.stdout.contains("requested -> pending"),
        "{}",
        table.stdout
    );

    let env = json(xconnect(
        &server,
        &a,
        &["environment", "get", "lumen-new-york", "--output", "json"],
    ));
    assert_eq!(env["productType"], "lastmile");
    let envs = json(xconnect(
        &server,
        &a,
        &["environment", "list", "--output", "json"],
    ));
    assert_eq!(envs["environments"].as_array().expect("list").len(), 9);

    let proposal = json(xconnect(
        &server,
        &b,
        &[
            "proposal",
            "create",
            "--attach-point",
            ap_b["id"].as_str().expect("id"),
            "--environment",
            "gcp-us-west2",
            "--bandwidth",
            "5Gbps",
            "--remote-account",
            a.account_id.as_str(),
            "--output",
            "json",
        ],
    ));
    assert!(proposal["activationKey"].is_string());
    let described = json(xconnect(
        &server,
        &a,
        &[
            "proposal",
            "describe",
            "--activation-key",
            proposal["activationKey"].as_str().expect("key"),
            "--output",
            "json",
        ],
    ));
    assert_eq!(described["bandwidth"], "5Gbps");

    // No credentials, unreachable server: still one clear line.
    let out = Command::new(env!("CARGO_BIN_EXE_xconnect"))
        .args(["connection", "list"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AWS_ACCESS_KEY_ID"));
    let out = Command::new(env!("CARGO_BIN_EXE_xconnect"))
        .args(["connection", "list", "--endpoint", "http://127.0.0.1:1"])
        .env("AWS_ACCESS_KEY_ID", a.access_key_id.as_str())
        .env("AWS_SECRET_ACCESS_KEY", &a.secret_access_key)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach http://127.0.0.1:1") && err.trim_end().lines().count() == 1,
        "{err}"
    );
}

/// `xconnect events --follow` prints each of the account's events as it happens, one JSON
/// object a line; `xconnect events` lists them; an account that is no party sees none of them.
/// Alarms and webhooks by the CLI: the connection's default alarms, one made with the flags as
/// documented, refusals.
#[test]
fn events_follow_and_alarms_from_the_cli() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(dir.path(), &["--webhook-allow-network", "127.0.0.0/8"]);
    let op = server.operator();
    let account = |name: &str| -> Credentials {
        serde_json::from_value(json(xconnect(
            &server,
            &op,
            &["account", "create", "--name", name, "--output", "json"],
        )))
        .expect("credentials")
    };
    let (a, b, c) = (account("ev-a"), account("ev-b"), account("ev-c"));
    let ap = |who: &Credentials, prefix: &str| {
        json(xconnect(
            &server,
            who,
            &[
                "attach-point",
                "create",
                "--name",
                "vpc",
                "--prefixes",
                prefix,
                "--output",
                "json",
            ],
        ))["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let (ap_a, ap_b) = (ap(&a, "10.30.0.0/16"), ap(&b, "10.31.0.0/16"));

    // Follow a's stream (from a minute ago: whenever it connects, it misses nothing).
    let mut follow = Command::new(env!("CARGO_BIN_EXE_xconnect"))
        .args(["events", "--follow", "--since", "1m", "--output", "json"])
        .env("XCONNECT_ENDPOINT", &server.endpoint)
        .env("AWS_ACCESS_KEY_ID", a.access_key_id.as_str())
        .env("AWS_SECRET_ACCESS_KEY", &a.secret_access_key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("events --follow");
    let stdout = follow.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let conn = json(xconnect(
        &server,
        &a,
        &[
            "connection",
            "create",
            "--environment",
            "gcp-us-east4",
            "--bandwidth",
            "1Gbps",
            "--attach-point",
            &ap_a,
            "--remote-account",
            b.account_id.as_str(),
            "--output",
            "json",
        ],
    ));
    let id = conn["id"].as_str().expect("id").to_owned();
    let key = conn["activationKey"].as_str().expect("key").to_owned();
    json(xconnect(
        &server,
        &b,
        &[
            "connection",
            "accept",
            "--activation-key",
            &key,
            "--attach-point",
            &ap_b,
            "--no-default-alarms",
            "--output",
            "json",
        ],
    ));

    // The creation, then requested -> pending, each naming the connection.
    let mut seen: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen
        .iter()
        .any(|e| e["type"] == "connection.stateChange" && e["detail"]["state"] == "pending")
    {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "events seen within a minute: {seen:?}");
        if let Ok(e) = rx.recv_timeout(left.min(Duration::from_secs(1))) {
            seen.push(e);
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(
        seen.iter().all(|e| e["connectionId"] == id.as_str()),
        "{seen:?}"
    );
    assert!(
        seen.windows(2)
            .all(|w| w[0]["id"].as_u64() < w[1]["id"].as_u64())
    );
    let kinds: Vec<&str> = seen.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["connection.created", "connection.stateChange"],
        "{seen:?}"
    );
    assert_eq!(seen[1]["detail"]["previousState"], "requested");

    // The listing has both; c, no party to the connection, has nothing.
    let listed = json(xconnect(
        &server,
        &a,
        &["events", "--since", "1h", "--output", "json"],
    ));
    let listed_kinds: Vec<&str> = listed["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(
        listed_kinds.starts_with(&["connection.created", "connection.stateChange"]),
        "{listed}"
    );
    let theirs = json(xconnect(&server, &c, &["events", "--output", "json"]));
    assert_eq!(theirs["events"], serde_json::json!([]), "{theirs}");
    let table = xconnect(&server, &a, &["events"]);
    assert!(
        table.ok && table.stdout.contains("requested -> pending"),
        "{}",
        table.stdout
    );

    // The creator has its default alarms; b left them out.
    let alarms = json(xconnect(
        &server,
        &a,
        &["alarm", "list", "--output", "json"],
    ));
    let names: Vec<&str> = alarms["alarms"]
        .as_array()
        .expect("alarms")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            format!("{id}-down"),
            format!("{id}-loss"),
            format!("{id}-utilization")
        ]
    );
    let none = json(xconnect(
        &server,
        &b,
        &["alarm", "list", "--output", "json"],
    ));
    assert_eq!(none["alarms"], serde_json::json!([]));

    // Webhooks go to public addresses and the networks the operator allows (here loopback),
    // however the address is written.
    for (url, why) in [
        (
            "http://169.254.169.254/latest",
            "169.254.169.254 is a link-local address",
        ),
        ("http://10.1.2.3:8080/x", "10.1.2.3 is a private address"),
        ("http://167772161/x", "10.0.0.1 is a private address"),
    ] {
        one_line_error(
            xconnect(&server, &a, &["webhook", "create", "--url", url]),
            why,
        );
    }

    // A webhook with a secret of the server's, shown once; an alarm with every flag.
    let hook = json(xconnect(
        &server,
        &a,
        &[
            "webhook",
            "create",
            "--url",
            "http://127.0.0.1:9/x",
            "--output",
            "json",
        ],
    ));
    let hook_id = hook["id"].as_str().expect("id").to_owned();
    assert!(
        hook["secret"].as_str().is_some_and(|s| s.len() >= 32),
        "{hook}"
    );
    let got = json(xconnect(
        &server,
        &a,
        &["webhook", "get", &hook_id, "--output", "json"],
    ));
    assert!(
        got.get("secret").is_none(),
        "the secret is shown once: {got}"
    );
    let alarm = json(xconnect(
        &server,
        &a,
        &[
            "alarm",
            "create",
            "--name",
            "slow",
            "--connection",
            &id,
            "--metric",
            "ConnectionRttMilliseconds",
            "--stat",
            "p99",
            "--period",
            "5m",
            "--comparison",
            "GreaterThanOrEqualToThreshold",
            "--threshold",
            "20.5",
            "--evaluation-periods",
            "3",
            "--datapoints-to-alarm",
            "2",
            "--missing-data",
            "notBreaching",
            "--webhook",
            &hook_id,
            "--output",
            "json",
        ],
    ));
    assert_eq!(alarm["state"], "INSUFFICIENT_DATA");
    assert_eq!(alarm["period"], 300);
    assert_eq!(alarm["datapointsToAlarm"], 2);
    assert_eq!(alarm["missingData"], "notBreaching");
    assert_eq!(alarm["webhooks"][0], hook_id.as_str());
    let alarm_id = alarm["id"].as_str().expect("id");
    let history = json(xconnect(
        &server,
        &a,
        &["alarm", "history", alarm_id, "--output", "json"],
    ));
    assert_eq!(history["items"][0]["kind"], "ConfigurationUpdate");
    one_line_error(
        xconnect(
            &server,
            &a,
            &[
                "alarm",
                "create",
                "--name",
                "slow",
                "--connection",
                &id,
                "--metric",
                "ConnectionState",
                "--stat",
                "Minimum",
                "--period",
                "60",
                "--comparison",
                "LessThanThreshold",
                "--threshold",
                "1",
                "--evaluation-periods",
                "1",
            ],
        ),
        "already exists",
    );
    // (clap's own refusal: a line, and its hint to try --help.)
    let nope = xconnect(
        &server,
        &a,
        &[
            "alarm",
            "create",
            "--name",
            "x",
            "--connection",
            &id,
            "--metric",
            "Nope",
            "--stat",
            "Minimum",
            "--period",
            "60",
            "--comparison",
            "LessThanThreshold",
            "--threshold",
            "1",
            "--evaluation-periods",
            "1",
        ],
    );
    assert!(
        !nope.ok
            && nope
                .stderr
                .contains("`Nope` is not a metric: ConnectionState"),
        "{}",
        nope.stderr
    );
    // A default alarm takes a webhook by an update; the change is in its history, the rest of
    // its condition stays, and a change that breaks the rules changes nothing.
    let down = format!("{id}-down");
    let alarms = json(xconnect(
        &server,
        &a,
        &["alarm", "list", "--connection", &id, "--output", "json"],
    ));
    let down_id = alarms["alarms"]
        .as_array()
        .expect("alarms")
        .iter()
        .find(|x| x["name"] == down.as_str())
        .and_then(|x| x["id"].as_str())
        .expect("the default -down alarm")
        .to_owned();
    let updated = json(xconnect(
        &server,
        &a,
        &[
            "alarm",
            "update",
            &down_id,
            "--webhook",
            &hook_id,
            "--output",
            "json",
        ],
    ));
    assert_eq!(updated["webhooks"], serde_json::json!([hook_id]));
    assert_eq!(updated["metric"], "ConnectionState");
    assert_eq!(updated["threshold"], 1.0);
    let history = json(xconnect(
        &server,
        &a,
        &["alarm", "history", &down_id, "--output", "json"],
    ));
    assert_eq!(history["items"][0]["kind"], "ConfigurationUpdate");
    assert!(
        history["items"][0]["summary"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("webhooks none -> {hook_id}"))),
        "{history}"
    );
    one_line_error(
        xconnect(
            &server,
            &a,
            &["alarm", "update", &down_id, "--datapoints-to-alarm", "5"],
        ),
        "datapointsToAlarm",
    );
    let slower = json(xconnect(
        &server,
        &a,
        &[
            "alarm",
            "update",
            alarm_id,
            "--threshold",
            "30",
            "--evaluation-periods",
            "4",
            "--no-webhooks",
            "--output",
            "json",
        ],
    ));
    assert_eq!(slower["threshold"], 30.0);
    assert_eq!(slower["evaluationPeriods"], 4);
    assert_eq!(
        slower["datapointsToAlarm"], 2,
        "M of N stays when it was not all"
    );
    assert_eq!(slower["webhooks"], serde_json::json!([]));
    one_line_error(
        xconnect(
            &server,
            &b,
            &["alarm", "update", &down_id, "--threshold", "2"],
        ),
        "not found",
    );
    // Another account can see neither the alarm nor the webhook.
    one_line_error(
        xconnect(&server, &b, &["alarm", "get", alarm_id]),
        "not found",
    );
    one_line_error(
        xconnect(&server, &b, &["webhook", "deliveries", &hook_id]),
        "not found",
    );
    json(xconnect(
        &server,
        &a,
        &["alarm", "delete", alarm_id, "--output", "json"],
    ));
    json(xconnect(
        &server,
        &a,
        &["webhook", "delete", &hook_id, "--output", "json"],
    ));
    one_line_error(
        xconnect(&server, &a, &["alarm", "get", alarm_id]),
        "not found",
    );
}
