//! Usage and cost from the CLI against a real server: `cost compare` prices a connection against
//! the example catalog's VPN and public transfer and says where it pays off; `usage show` prints
//! a statement as a table, JSON (the fields) and CSV, the operator's without --account is
//! every account's total, and a bad month is one line naming the flag's form. (The metering and
//! pricing of a whole month, by hand, is `xc-control`'s `a_month_is_metered_and_billed_as_computed_by_hand`.)

mod common;

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn cost_compare_and_statements_from_the_cli() {
    let server = Server::start();
    let op = server.operator();
    let t = tenant(&server, &server.client(&op), "payer").await;

    // 1 Gbps in gcp-us-east4 ($0.25 an hour, nothing per GB) with 1,000 GB a month: $182.50;
    // one VPN connection ($0.05 an hour) and $0.09 a GB: $126.50; cheaper than the VPN above
    // (182.50 - 36.50) / 0.09 GB.
    let args = [
        "cost",
        "compare",
        "--environment",
        "gcp-us-east4",
        "--bandwidth",
        "1Gbps",
        "--gb-per-month",
        "1000",
    ];
    let Run {
        ok,
        stdout: out,
        stderr: err,
    } = xconnect(&server, &t.creds, &args);
    assert!(ok, "{err}");
    for needle in [
        "$182.50",
        "$126.50",
        "$90.00",
        "AWS Site-to-Site VPN",
        "cheaper than the VPN above 1622.2 GB a month",
    ] {
        assert!(out.contains(needle), "`{needle}` in:\n{out}");
    }
    let Run {
        ok,
        stdout: out,
        stderr: err,
    } = xconnect(
        &server,
        &t.creds,
        &[&args[..], &["--output", "json"]].concat(),
    );
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["interconnect"]["total"], 182.5);
    assert_eq!(v["vpnConnections"], 1);
    assert_eq!(v["breakEvenGbVsVpn"], 1622.2);
    let Run {
        ok, stderr: err, ..
    } = xconnect(
        &server,
        &t.creds,
        &[
            "cost",
            "compare",
            "--environment",
            "gcp-us-east4",
            "--bandwidth",
            "3Gbps",
            "--gb-per-month",
            "1",
        ],
    );
    assert!(
        !ok && err.contains("3Gbps is not offered in gcp-us-east4"),
        "{err}"
    );

    // A statement with nothing metered yet: the JSON fields, empty.
    let Run {
        ok,
        stdout: out,
        stderr: err,
    } = xconnect(
        &server,
        &t.creds,
        &["usage", "show", "--month", "2026-11", "--output", "json"],
    );
    assert!(ok, "{err}");
    let s: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(s["account"], t.creds.account_id.as_str());
    assert_eq!(
        (s["month"].as_str(), s["currency"].as_str()),
        (Some("2026-11"), Some("USD"))
    );
    assert_eq!(
        (s["lines"].as_array().map(Vec::len), s["total"].as_f64()),
        (Some(0), Some(0.0))
    );
    assert!(s["credits"].is_array());
    let Run {
        ok,
        stdout: out,
        stderr: err,
    } = xconnect(
        &server,
        &t.creds,
        &["usage", "show", "--month", "2026-11", "--output", "csv"],
    );
    assert!(ok, "{err}");
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows,
        [
            "connectionId,kind,bandwidth,quantity,unit,unitPrice,amount",
            ",total,,,,,0.00"
        ]
    );
    let Run {
        ok,
        stdout: out,
        stderr: err,
    } = xconnect(&server, &t.creds, &["usage", "show"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!("Statement of account {}", t.creds.account_id)),
        "{out}"
    );
    assert!(out.contains("total     $0.00"), "{out}");

    // The operator: every account's total; a tenant may not read another's.
    let Run {
        ok,
        stdout: out,
        stderr: err,
    } = xconnect(&server, &op, &["usage", "show", "--month", "2026-11"]);
    assert!(ok, "{err}");
    assert!(out.contains("0 accounts, 2026-11: $0.00"), "{out}");
    let Run {
        ok, stderr: err, ..
    } = xconnect(
        &server,
        &t.creds,
        &["usage", "show", "--account", op.account_id.as_str()],
    );
    assert!(!ok && err.contains("only the operator"), "{err}");
    let Run {
        ok, stderr: err, ..
    } = xconnect(&server, &t.creds, &["usage", "show", "--month", "2026-13"]);
    assert!(!ok && err.contains("YYYY-MM"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // Maintenance: the operator announces a window two days ahead (so it is left out of the
    // SLA); tenants see it and cannot announce one; it is withdrawn before it begins.
    let at = |after: time::Duration| {
        (time::OffsetDateTime::now_utc() + after)
            .replace_nanosecond(0)
            .expect("whole seconds")
            .format(&time::format_description::well_known::Rfc3339)
            .expect("time")
    };
    let start = at(time::Duration::days(2));
    let end = at(time::Duration::days(2) + time::Duration::hours(1));
    let window = [
        "maintenance",
        "create",
        "--start",
        &start,
        "--end",
        &end,
        "--description",
        "line card swap",
        "--environment",
        "gcp-us-east4",
        "--output",
        "json",
    ];
    let Run {
        ok, stderr: err, ..
    } = xconnect(&server, &t.creds, &window);
    assert!(!ok && err.contains("only the operator"), "{err}");
    let Run {
        ok,
        stdout: out,
        stderr: err,
    } = xconnect(&server, &op, &window);
    assert!(ok, "{err}");
    let w: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(w["excludedFromSla"], true);
    let id = w["id"].as_str().expect("id").to_owned();
    let Run {
        ok,
        stdout: out,
        stderr: err,
    } = xconnect(&server, &t.creds, &["maintenance", "list"]);
    assert!(
        ok && out.contains(&id) && out.contains("line card swap"),
        "{out}{err}"
    );
    let Run {
        ok, stderr: err, ..
    } = xconnect(&server, &op, &["maintenance", "delete", &id]);
    assert!(ok, "{err}");
    let Run {
        ok, stdout: out, ..
    } = xconnect(&server, &t.creds, &["maintenance", "list"]);
    assert!(ok && out.contains("(none)"), "{out}");
}
