//! Console sessions over HTTP, as an attacker would try them: a cookie and CSRF token kept after
//! sign-out are refused (401), and so are they after the key is disabled and enabled again;
//! wrong secrets in a burst make even the right one wait (429 with Retry-After), and every
//! failure is logged with the key id and the source address, never the secret.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

struct Browser {
    http: reqwest::Client,
    endpoint: String,
}

struct Session {
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn sign_in(&self, key: &str, secret: &str) -> (u16, Option<u64>, Option<Session>) {
        let r = self
            .http
            .post(format!("{}/console/api/sign-in", self.endpoint))
            .json(&json!({ "accessKeyId": key, "secretAccessKey": secret }))
            .send()
            .await
            .expect("sign in");
        let status = r.status().as_u16();
        let retry = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let session = cookie.map(|cookie| Session {
            cookie,
            csrf: body["csrfToken"].as_str().unwrap_or_default().to_owned(),
        });
        (status, retry, session)
    }

    async fn whoami(&self, s: &Session) -> u16 {
        self.http
            .get(format!("{}/v1/whoami", self.endpoint))
            .header("cookie", &s.cookie)
            .send()
            .await
            .expect("whoami")
            .status()
            .as_u16()
    }

    /// A change through the session: an attach point.
    async fn change(&self, s: &Session) -> u16 {
        self.http
            .post(format!("{}/v1/attach-points", self.endpoint))
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .json(&json!({ "name": "from-console", "prefixes": ["10.77.0.0/16"] }))
            .send()
            .await
            .expect("change")
            .status()
            .as_u16()
    }

    async fn sign_out(&self, s: &Session) -> u16 {
        self.http
            .post(format!("{}/console/api/sign-out", self.endpoint))
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .send()
            .await
            .expect("sign out")
            .status()
            .as_u16()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_out_sessions_stay_out_and_guessing_is_slowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let server = Server::start_logged(&dir.path().join("data"), &log);
    let op = server.client(&server.operator());
    let a = op.create_account("console-a").await.expect("account");
    let key = a.access_key_id.as_str();
    let browser = Browser {
        http: reqwest::Client::new(),
        endpoint: server.endpoint.clone(),
    };

    // Sign-out ends the session on the server: the old cookie and CSRF token are refused.
    let (status, _, s) = browser.sign_in(key, &a.secret_access_key).await;
    assert_eq!(status, 200);
    let s = s.expect("a session cookie");
    assert_eq!(browser.whoami(&s).await, 200);
    assert_eq!(browser.sign_out(&s).await, 204);
    assert_eq!(browser.whoami(&s).await, 401, "a signed-out cookie");
    assert_eq!(
        browser.change(&s).await,
        401,
        "a signed-out cookie and its CSRF token"
    );

    // Disabling the key ends its sessions; enabling it again does not bring them back.
    let (_, _, s) = browser.sign_in(key, &a.secret_access_key).await;
    let s = s.expect("a session cookie");
    assert_eq!(browser.change(&s).await, 201);
    for status in [xc_types::KeyStatus::Inactive, xc_types::KeyStatus::Active] {
        op.update_access_key(key, &xc_types::api::UpdateAccessKeyRequest { status })
            .await
            .expect("disable, then enable");
    }
    assert_eq!(
        browser.whoami(&s).await,
        401,
        "a session of a re-enabled key"
    );

    // Fifty wrong secrets in a burst: the later ones, and then the right one, wait.
    let mut throttled = 0;
    for _ in 0..50 {
        let (status, retry, _) = browser.sign_in(key, "not-the-secret").await;
        match status {
            403 => {}
            429 => {
                throttled += 1;
                assert!(retry.is_some_and(|r| r >= 1), "Retry-After");
            }
            other => panic!("a wrong secret answered {other}"),
        }
    }
    assert!(throttled > 0, "a burst of wrong secrets is slowed");
    let (status, retry, _) = browser.sign_in(key, &a.secret_access_key).await;
    assert_eq!(
        status, 429,
        "the right secret waits too, in the middle of a burst"
    );
    let wait = Duration::from_secs(retry.expect("Retry-After"));
    assert!(wait <= Duration::from_secs(300), "{wait:?}");
    // The rightful owner is back once the wait is over (polled, generous deadline).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, retry, _) = browser.sign_in(key, &a.secret_access_key).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 429);
        assert!(Instant::now() < deadline, "still throttled after 120 s");
        tokio::time::sleep(Duration::from_secs(retry.unwrap_or(1))).await;
    }
    let text = std::fs::read_to_string(&log).expect("log");
    let failure = text
        .lines()
        .find(|l| l.contains("console sign-in failed"))
        .unwrap_or_else(|| panic!("failures are logged: {text}"));
    assert!(
        failure.contains(key) && failure.contains("127.0.0.1"),
        "with the key id and the source address: {failure}"
    );
    assert!(!text.contains("not-the-secret"), "never the secret");
    assert!(!text.contains(&a.secret_access_key), "never the secret");
}
