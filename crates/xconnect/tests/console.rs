//! The web console in a real browser: Playwright (`playwright-core`, installed by
//! `scripts/test.sh` into `tests/console/node_modules`) drives Debian's Chromium against a real
//! server: sign-in, the multicloud wizard to an activation key, the other tenant accepting it,
//! the connection page and its timeline, a used and a foreign key refused, a last-mile creation,
//! validation as you type, attach-point prefixes edited, a phone-sized window, access keys, a
//! read-only key, CSRF and cookie flags, a keyboard-only walk through the wizard, and (in their own
//! tests) the usage and quotas pages and the filters page. Screenshots of each step land in
//! `target/console-screenshots/`. Needs node, npm's `playwright-core` and `/usr/bin/chromium`
//! (`.ci/run` installs them); fails, rather than skips, without them.

mod common;

use common::Server;
use std::path::Path;
use std::process::Command;
use xc_types::api::CreateAccessKeyRequest;

#[tokio::test(flavor = "multi_thread")]
async fn the_console_in_chromium() {
    scripts();
    let server = Server::start();
    let op_creds = server.operator();
    let op = server.client(&op_creds);
    let a = op.create_account("acme").await.expect("account a");
    let b = op.create_account("globex").await.expect("account b");
    let lumen = op.create_account("lumen").await.expect("provider");
    let ro = op
        .create_access_key(
            Some(a.account_id.as_str()),
            &CreateAccessKeyRequest {
                role: xc_types::KeyRole::ReadOnly,
            },
        )
        .await
        .expect("read-only key");
    run_node(
        "console.mjs",
        vec![
            ("XC_ENDPOINT", server.endpoint.clone()),
            ("XC_A_KEY", a.access_key_id.to_string()),
            ("XC_A_SECRET", a.secret_access_key.clone()),
            ("XC_B_KEY", b.access_key_id.to_string()),
            ("XC_B_SECRET", b.secret_access_key.clone()),
            ("XC_B_ACCOUNT", b.account_id.to_string()),
            ("XC_RO_KEY", ro.access_key_id.to_string()),
            ("XC_RO_SECRET", ro.secret_access_key.clone()),
            ("XC_LUMEN_ACCOUNT", lumen.account_id.to_string()),
            ("XC_OP_KEY", op_creds.access_key_id.to_string()),
            ("XC_OP_SECRET", op_creds.secret_access_key.clone()),
        ],
        "console test passed",
    )
    .await;
}

/// The usage and quotas pages (`tests/console/usage.mjs`) on a server whose database holds last
/// month's metered hours of one connection, written here as the meter would have (the metering
/// itself is `xc-control`'s `a_month_is_metered_and_billed_as_computed_by_hand`): ten days at
/// 1 Gbps and $0.25 an hour, 30 minutes down on the 3rd, 2 GB sent on each of ten hours.
#[tokio::test(flavor = "multi_thread")]
async fn usage_and_quotas_in_chromium() {
    scripts();
    let server = Server::start();
    let op_creds = server.operator();
    let op = server.client(&op_creds);
    let a = op.create_account("acme").await.expect("account a");
    let b = op.create_account("globex").await.expect("account b");
    let client = server.client(&a);
    let ap = client
        .create_attach_point(&xc_types::api::CreateAttachPointRequest {
            name: "edge".into(),
            prefixes: vec!["10.70.0.0/16".into()],
            asn: None,
        })
        .await
        .expect("attach point");
    let c = client
        .create_connection(&common::connection_request(
            "gcp-us-east4",
            &ap.id.to_string(),
            b.account_id.as_str(),
        ))
        .await
        .expect("connection");
    // Last month, UTC.
    let now = time::OffsetDateTime::now_utc();
    let this_month = now
        .date()
        .replace_day(1)
        .expect("first")
        .midnight()
        .assume_utc();
    let last = (this_month - time::Duration::days(1))
        .date()
        .replace_day(1)
        .expect("first")
        .midnight()
        .assume_utc();
    let month = format!("{:04}-{:02}", last.year(), u8::from(last.month()));
    let start = last.unix_timestamp();
    let db = rusqlite::Connection::open(server.data_dir.join("xconnect.db")).expect("db");
    for h in 0..240_i64 {
        let hour = start + h * 3600;
        let down = if h == 2 * 24 + 10 { 1800 } else { 0 };
        let outages = if down > 0 {
            format!("[[{}, {}]]", hour + 600, hour + 2400)
        } else {
            "[]".to_owned()
        };
        let out: i64 = if h % 24 == 12 { 2_000_000_000 } else { 0 };
        db.execute(
            "INSERT INTO metered_hours (connection_id, hour, account_id, environment, billing_tier,
                 down_secs, outages, bytes_out, bytes_in, per_gb)
             VALUES (?1, ?2, ?3, 'gcp-us-east4', 1, ?4, ?5, ?6, 0, 0.0)",
            rusqlite::params![
                c.id.as_str(),
                hour,
                a.account_id.as_str(),
                down,
                outages,
                out
            ],
        )
        .expect("metered hour");
        db.execute(
            "INSERT INTO metered_tiers (connection_id, hour, bandwidth_mbps, billable_secs, hourly_price)
             VALUES (?1, ?2, 1000, 3600, 0.25)",
            rusqlite::params![c.id.as_str(), hour],
        )
        .expect("metered tier");
    }
    db.execute(
        "INSERT INTO meter_mark (one, through) VALUES (1, ?1)
         ON CONFLICT (one) DO UPDATE SET through = max(through, excluded.through)",
        [this_month.unix_timestamp()],
    )
    .expect("mark");
    run_node(
        "usage.mjs",
        vec![
            ("XC_ENDPOINT", server.endpoint.clone()),
            ("XC_KEY", a.access_key_id.to_string()),
            ("XC_SECRET", a.secret_access_key.clone()),
            ("XC_ACCOUNT", a.account_id.to_string()),
            ("XC_CONNECTION", c.id.to_string()),
            ("XC_MONTH", month),
            ("XC_OP_KEY", op_creds.access_key_id.to_string()),
            ("XC_OP_SECRET", op_creds.secret_access_key.clone()),
        ],
        "usage test passed",
    )
    .await;
}

/// The filters page (`tests/console/filters.mjs`): a tenant whose attach point has an accepted
/// connection makes its filters from the page and asks what would pass.
#[tokio::test(flavor = "multi_thread")]
async fn filters_in_chromium() {
    scripts();
    let server = Server::start();
    let op = server.client(&server.operator());
    let a = common::tenant(&server, &op, "filters-a").await;
    let b = common::tenant(&server, &op, "filters-b").await;
    let ap_a = common::attach_point(&a, "vpc-a", &["10.0.0.0/16"]).await;
    let ap_b = common::attach_point(&b, "vpc-b", &["10.1.0.0/16"]).await;
    let c = a
        .client
        .create_connection(&common::connection_request(
            "gcp-us-east4",
            &ap_a,
            b.creds.account_id.as_str(),
        ))
        .await
        .expect("connection");
    common::accept(&b, c.activation_key.as_deref().expect("key"), &ap_b).await;
    run_node(
        "filters.mjs",
        vec![
            ("XC_ENDPOINT", server.endpoint.clone()),
            ("XC_KEY", a.creds.access_key_id.to_string()),
            ("XC_SECRET", a.creds.secret_access_key.clone()),
        ],
        "filters test passed",
    )
    .await;
}

/// The console scripts' folder, with Playwright and Chromium there (the test fails, naming
/// what to install, without them).
fn scripts() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "npm's playwright-core is missing: run `npm ci` in {} (scripts/test.sh does)",
        dir.display()
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: apt-get install chromium (scripts/test.sh does)"
    );
    dir
}

/// Runs the console script `script` with `env` (and `XC_SHOTS`, where its screenshots go), and
/// checks it ran to the end, saying `passed`.
async fn run_node(script: &'static str, env: Vec<(&'static str, String)>, passed: &'static str) {
    let dir = scripts();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(dir.join(script))
            .env("XC_SHOTS", &shots)
            .envs(env)
            .output()
            .expect("run node (is Node.js installed?)")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(passed), "{stdout}");
}
