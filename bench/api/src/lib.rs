//! What the control-plane benches share: starting `xconnect server` on a fresh data dir.

use anyhow::Context;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Starts `xconnect server` on `dir` (on `database` when given, else SQLite in `dir`), with
/// `extra` arguments, and answers the process and its endpoint.
pub fn start_server(
    server: &str,
    dir: &std::path::Path,
    database: Option<&str>,
    extra: &[&str],
) -> anyhow::Result<(std::process::Child, String)> {
    let mut c = Command::new(server)
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--log",
            "warn",
            "--data-dir",
        ])
        .arg(dir)
        .args(database.iter().flat_map(|d| ["--database", d]))
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {server}"))?;
    let stdout = c.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut endpoint = None;
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.split("listening on ").nth(1) {
            endpoint = rest.split([',', ' ']).next().map(str::to_owned);
            break;
        }
    }
    // Keep reading what it prints, so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok((c, endpoint.context("the server did not start")?))
}

/// Starts `n` servers on `database` (each with the first one's master key; SQLite allows one)
/// under `dir`; the processes, their endpoints and the operator's credentials.
pub fn start_replicas(
    server: &str,
    dir: &std::path::Path,
    database: Option<&str>,
    n: usize,
    extra: &[&str],
) -> anyhow::Result<(
    Vec<std::process::Child>,
    Vec<String>,
    xc_types::api::Credentials,
)> {
    let mut children = Vec::new();
    let mut endpoints = Vec::new();
    for i in 0..n.max(1) {
        let d = dir.join(format!("replica{i}"));
        std::fs::create_dir_all(&d)?;
        if i > 0 {
            std::fs::copy(dir.join("replica0/master.key"), d.join("master.key"))?;
        }
        let (child, endpoint) = start_server(server, &d, database, extra)?;
        children.push(child);
        endpoints.push(endpoint);
    }
    let creds = std::fs::read_to_string(dir.join("replica0/operator-credentials.json"))?;
    Ok((children, endpoints, serde_json::from_str(&creds)?))
}
