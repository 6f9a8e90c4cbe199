//! Shared harness of the integration tests: a real `xconnect server` process on a free loopback
//! port with its own data dir, clients signed with its keys, and the AWS CLI.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use xc_client::Client;
use xc_types::api::Credentials;

pub const REGION: &str = "us-east-1";

/// The `--database` flag of a server on `dir`: none (SQLite under the data dir) unless
/// `XC_TEST_DATABASE=postgres`, then a database of the cluster at `XC_TEST_POSTGRES` of its own,
/// the same one each time a server starts on `dir` (a restart finds its data).
pub fn database_args(dir: &Path) -> Vec<String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    use xc_store::testing::{TestDatabase, TestPostgres};
    if !xc_store::testing::postgres_requested() {
        return Vec::new();
    }
    static CLUSTER: OnceLock<TestPostgres> = OnceLock::new();
    static DATABASES: OnceLock<Mutex<HashMap<PathBuf, TestDatabase>>> = OnceLock::new();
    let cluster = CLUSTER.get_or_init(|| {
        assert!(
            std::env::var("XC_TEST_POSTGRES").is_ok_and(|v| !v.is_empty()),
            "XC_TEST_DATABASE=postgres: servers need a running cluster in XC_TEST_POSTGRES \
             (scripts/test-postgres.sh starts one and runs the tests against it)"
        );
        TestPostgres::start()
    });
    let mut dbs = DATABASES
        .get_or_init(Default::default)
        .lock()
        .expect("databases");
    let db = dbs
        .entry(dir.to_owned())
        .or_insert_with(|| cluster.database());
    vec!["--database".into(), db.url.clone()]
}

pub struct Server {
    child: Child,
    pub endpoint: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut s = Self::start_in(tmp.path());
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on an existing data dir (to restart one).
    pub fn start_in(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    /// Starts a server with extra flags.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(dir, extra, Stdio::inherit())
    }

    /// Starts a server whose log (at `warn`) goes to `log`, for a test to read.
    pub fn start_logged(dir: &Path, log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("log file");
        Self::spawn(dir, &[], Stdio::from(file))
    }

    /// Starts a server whose open-file limit is `nofile`, soft and hard (so it cannot raise it).
    pub fn start_with_file_limit(dir: &Path, nofile: u32, extra: &[&str]) -> Self {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            &format!("ulimit -Sn {nofile} && ulimit -Hn {nofile} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_xconnect"),
        ]);
        Self::spawn_command(cmd, dir, extra, Stdio::inherit())
    }

    fn spawn(dir: &Path, extra: &[&str], stderr: Stdio) -> Self {
        Self::spawn_command(
            Command::new(env!("CARGO_BIN_EXE_xconnect")),
            dir,
            extra,
            stderr,
        )
    }

    fn spawn_command(mut cmd: Command, dir: &Path, extra: &[&str], stderr: Stdio) -> Self {
        let mut child = cmd
            .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(if extra.contains(&"--database") {
                Vec::new()
            } else {
                database_args(dir)
            })
            .args(extra)
            .env("XCONNECT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn xconnect server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest
                        .split([',', ' '])
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_owned();
                    let _ = tx.send(url);
                }
            }
        });
        let endpoint = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server did not report its address within 60 s");
        Self {
            child,
            endpoint,
            data_dir: dir.to_owned(),
            _tmp: None,
        }
    }

    pub fn operator(&self) -> Credentials {
        let text = std::fs::read_to_string(self.data_dir.join("operator-credentials.json"))
            .expect("operator credentials");
        serde_json::from_str(&text).expect("credentials json")
    }

    pub fn client(&self, c: &Credentials) -> Client {
        Client::new(
            &self.endpoint,
            c.access_key_id.as_str(),
            &c.secret_access_key,
            REGION,
        )
        .expect("client")
    }

    /// Sends SIGTERM and waits (at most 30 s) for the process to exit; returns whether it exited 0.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.success();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the server did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What an `xconnect` command did.
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `xconnect` CLI against `server` with `c`'s access key (as a script would: the
/// endpoint and the key in the environment).
pub fn xconnect(server: &Server, c: &Credentials, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_xconnect"))
        .args(args)
        .env("XCONNECT_ENDPOINT", &server.endpoint)
        .env("AWS_ACCESS_KEY_ID", c.access_key_id.as_str())
        .env("AWS_SECRET_ACCESS_KEY", &c.secret_access_key)
        .env_remove("AWS_REGION")
        .output()
        .expect("run xconnect");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Polls `check` until it returns `Some`, for at most `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The AWS CLI: `$XCONNECT_AWS_CLI`, else `.venv/bin/aws` at the workspace root (made by
/// `.ci/run`), else `aws` on the PATH. Its absence fails the test with the way to fix it.
pub fn aws_cli() -> PathBuf {
    if let Ok(p) = std::env::var("XCONNECT_AWS_CLI") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/aws");
    if venv.exists() {
        return venv;
    }
    let on_path = Command::new("sh")
        .args(["-c", "command -v aws"])
        .output()
        .expect("sh");
    let p = String::from_utf8_lossy(&on_path.stdout).trim().to_owned();
    assert!(
        !p.is_empty(),
        "this test needs the AWS CLI: run `bash .ci/run` (it makes .venv with awscli) or `python3 -m venv .venv && .venv/bin/pip install awscli`"
    );
    PathBuf::from(p)
}

#[derive(Debug)]
pub struct AwsOutput {
    pub ok: bool,
    pub json: serde_json::Value,
    pub stderr: String,
}

/// Runs `aws interconnect <args>` against `endpoint` with the given credentials.
pub fn aws(
    endpoint: &str,
    c: &Credentials,
    secret_override: Option<&str>,
    args: &[&str],
) -> AwsOutput {
    aws_attempts(endpoint, c, secret_override, 1, args)
}

/// The AWS CLI with its standard retries, `attempts` in all (`aws` makes one).
pub fn aws_attempts(
    endpoint: &str,
    c: &Credentials,
    secret_override: Option<&str>,
    attempts: u32,
    args: &[&str],
) -> AwsOutput {
    let out = Command::new(aws_cli())
        .arg("--endpoint-url")
        .arg(endpoint)
        .args(["--output", "json", "interconnect"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_ACCESS_KEY_ID", c.access_key_id.as_str())
        .env(
            "AWS_SECRET_ACCESS_KEY",
            secret_override.unwrap_or(&c.secret_access_key),
        )
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", attempts.to_string())
        .env("AWS_RETRY_MODE", "standard")
        .env("AWS_PAGER", "")
        .output()
        .expect("run the AWS CLI");
    let stdout = String::from_utf8_lossy(&out.stdout);
    AwsOutput {
        ok: out.status.success(),
        json: if stdout.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&stdout).unwrap_or(serde_json::Value::String(stdout.into_owned()))
        },
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl AwsOutput {
    /// Asserts success and returns the JSON output.
    pub fn expect_ok(self, what: &str) -> serde_json::Value {
        assert!(self.ok, "{what} failed: {}", self.stderr);
        self.json
    }
    /// Asserts failure with `code` (and every `needle`) in the CLI's error line.
    pub fn expect_err(self, code: &str, needles: &[&str]) {
        assert!(!self.ok, "expected {code}, got success: {}", self.json);
        assert!(
            self.stderr.contains(code),
            "expected {code} in: {}",
            self.stderr
        );
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "expected `{n}` in: {}",
                self.stderr
            );
        }
    }
}

/// A tenant with its own client.
pub struct Tenant {
    pub creds: Credentials,
    pub client: Client,
}

pub async fn tenant(server: &Server, operator: &Client, name: &str) -> Tenant {
    let creds = operator.create_account(name).await.expect("create account");
    Tenant {
        client: server.client(&creds),
        creds,
    }
}

pub async fn attach_point(t: &Tenant, name: &str, prefixes: &[&str]) -> String {
    t.client
        .create_attach_point(&xc_types::api::CreateAttachPointRequest {
            name: name.into(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            asn: None,
        })
        .await
        .expect("create attach point")
        .id
        .to_string()
}

/// `t` accepts a connection with its activation key and attach point `ap`.
pub async fn accept(t: &Tenant, key: &str, ap: &str) -> xc_types::api::ConnectionView {
    t.client
        .accept_connection(&xc_types::api::AcceptConnectionRequest {
            default_alarms: None,
            activation_key: key.to_owned(),
            attach_point: ap.to_owned(),
            routing_policy: None,
            description: None,
            tags: None,
            client_token: None,
        })
        .await
        .expect("accept")
}

/// `a` creates a connection in gcp-us-east4 from its attach point `ap_a` to `b`, and `b`
/// accepts it with its attach point `ap_b`.
pub async fn connect(
    a: &Tenant,
    ap_a: &str,
    b: &Tenant,
    ap_b: &str,
) -> xc_types::api::ConnectionView {
    let created = a
        .client
        .create_connection(&connection_request(
            "gcp-us-east4",
            ap_a,
            b.creds.account_id.as_str(),
        ))
        .await
        .expect("create");
    accept(b, created.activation_key.as_deref().expect("key"), ap_b).await;
    created
}

/// A request for a 1 Gbps connection in `environment` from attach point `ap` to account
/// `remote`, with nothing else set (tests set what they are about with `..`).
pub fn connection_request(
    environment: &str,
    ap: &str,
    remote: &str,
) -> xc_types::api::CreateConnectionRequest {
    xc_types::api::CreateConnectionRequest {
        default_alarms: None,
        environment_id: environment.into(),
        bandwidth: "1Gbps".into(),
        attach_point: ap.into(),
        remote_account: Some(remote.into()),
        description: None,
        tags: None,
        client_token: None,
        routing_policy: None,
        last_mile: None,
    }
}

/// Requests signed by hand, for what the typed clients would never send.
pub struct Raw {
    http: reqwest::Client,
    endpoint: String,
    host: String,
}

impl Raw {
    pub fn new(server: &Server) -> Self {
        let host = server.endpoint.trim_start_matches("http://").to_owned();
        Self {
            http: reqwest::Client::new(),
            endpoint: server.endpoint.clone(),
            host,
        }
    }

    /// Sends a signed POST; `skew` moves the signing clock.
    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        creds: Option<&Credentials>,
        skew: time::Duration,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        self.post_with_unsigned(path, headers, &[], body, creds, skew)
            .await
    }

    /// Sends a POST signed over `headers`, with the `unsigned` ones added after signing (what
    /// someone who captured a request could do).
    pub async fn post_with_unsigned(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        unsigned: &[(&str, &str)],
        body: Vec<u8>,
        creds: Option<&Credentials>,
        skew: time::Duration,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut all: Vec<(&str, &str)> = vec![("host", &self.host)];
        all.extend_from_slice(headers);
        let mut req = self.http.post(format!("{}{path}", self.endpoint));
        for (k, v) in unsigned {
            req = req.header(*k, *v);
        }
        if let Some(c) = creds {
            let added = xc_sigv4::sign(
                &xc_sigv4::Request {
                    method: "POST",
                    path,
                    query: "",
                    headers: &all,
                    body: &body,
                },
                c.access_key_id.as_str(),
                c.secret_access_key.as_bytes(),
                REGION,
                "interconnect",
                time::OffsetDateTime::now_utc() + skew,
            );
            for (k, v) in added {
                req = req.header(k, v);
            }
        }
        for (k, v) in &all {
            req = req.header(*k, *v);
        }
        let resp = req.body(body).send().await.expect("send");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.bytes().await.expect("body").to_vec())
    }

    pub async fn json(
        &self,
        op: &str,
        body: serde_json::Value,
        creds: Option<&Credentials>,
    ) -> (u16, serde_json::Value) {
        let target = format!("Interconnect.{op}");
        let (status, _, bytes) = self
            .post(
                "/",
                &[
                    ("content-type", "application/x-amz-json-1.0"),
                    ("x-amz-target", &target),
                ],
                serde_json::to_vec(&body).expect("json"),
                creds,
                time::Duration::ZERO,
            )
            .await;
        (status, serde_json::from_slice(&bytes).expect("json body"))
    }

    pub async fn cbor(
        &self,
        op: &str,
        body: &[u8],
        creds: &Credentials,
    ) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
        let (status, headers, bytes) = self
            .post(
                &format!("/service/Interconnect/operation/{op}"),
                &[
                    ("content-type", "application/cbor"),
                    ("smithy-protocol", "rpc-v2-cbor"),
                ],
                body.to_vec(),
                Some(creds),
                time::Duration::ZERO,
            )
            .await;
        (
            status,
            headers,
            xc_api::cbor::decode(&bytes).expect("cbor body"),
        )
    }
}

/// The error code of an AWS error body (`__type`).
pub fn err_type(v: &serde_json::Value) -> &str {
    v["__type"]
        .as_str()
        .and_then(|t| t.split('#').nth(1))
        .unwrap_or("")
}
