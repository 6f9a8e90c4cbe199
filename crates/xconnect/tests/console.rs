//! The web console in a real browser: Playwright (`playwright-core`, installed by
//! `scripts/test.sh` into `tests/console/node_modules`) drives Debian's Chromium against a real
//! server: sign-in, the multicloud wizard to an activation key, the other tenant accepting it,
//! the connection page and its timeline, a used and a foreign key refused, a last-mile creation,
//! validation as you type, attach-point prefixes edited, a phone-sized window, access keys, a
//! read-only key, CSRF and cookie flags, and a keyboard-only walk through the wizard. Screenshots of each step land in
//! `target/console-screenshots/`. Needs node, npm's `playwright-core` and `/usr/bin/chromium`
//! (`.ci/run` installs them); fails, rather than skips, without them.

mod common;

use common::Server;
use std::path::Path;
use std::process::Command;
use xc_types::api::CreateAccessKeyRequest;

#[tokio::test(flavor = "multi_thread")]
async fn the_console_in_chromium() {
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
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(dir.join("console.mjs"))
            .env("XC_ENDPOINT", &server.endpoint)
            .env("XC_SHOTS", &shots)
            .env("XC_A_KEY", a.access_key_id.as_str())
            .env("XC_A_SECRET", &a.secret_access_key)
            .env("XC_B_KEY", b.access_key_id.as_str())
            .env("XC_B_SECRET", &b.secret_access_key)
            .env("XC_B_ACCOUNT", b.account_id.as_str())
            .env("XC_RO_KEY", ro.access_key_id.as_str())
            .env("XC_RO_SECRET", &ro.secret_access_key)
            .env("XC_LUMEN_ACCOUNT", lumen.account_id.as_str())
            .env("XC_OP_KEY", op_creds.access_key_id.as_str())
            .env("XC_OP_SECRET", &op_creds.secret_access_key)
            .output()
            .expect("run node (is Node.js installed?)")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("console test passed"), "{stdout}");
}
