//! The README's "First steps", typed as written: every command of its blocks for the control
//! plane (the server, the operator's accounts, each tenant's attach point, create, accept, the
//! connection's links and events, the AWS CLI), run by bash in a directory where
//! `./target/release/xconnect` is this build, with the placeholders (`<attach-point-id>`,
//! `<key>`, ...) filled in from what the commands before printed, as a reader would. The only
//! commands not run are the build (done already) and the three that need gateways (`wait`,
//! `test` and the AWS CLI's waiter: `managed_e2e` runs those), named below so that a command
//! added to the README is run, or the test fails. Needs `jq` and the AWS CLI (`.venv`), as the
//! README says. Uses 127.0.0.1:7700, the README's address.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `sh` blocks of a README section, each as its commands (continuation lines joined,
/// comments and blank lines left out).
fn blocks(readme: &str, section: &str) -> Vec<Vec<String>> {
    let start = readme.find(section).expect("the section");
    let rest = &readme[start + section.len()..];
    let body = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut out = Vec::new();
    for block in body.split("```sh\n").skip(1) {
        let block = block.split("```").next().unwrap_or_default();
        let mut commands = Vec::new();
        let mut current = String::new();
        for line in block.lines() {
            let line = line.trim_end();
            if current.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#'))
            {
                continue;
            }
            match line.strip_suffix('\\') {
                Some(head) => current.push_str(head),
                None => {
                    current.push_str(line);
                    commands.push(std::mem::take(&mut current));
                }
            }
        }
        out.push(commands);
    }
    out
}

/// A reader's shell: runs one command at a time in `dir`, keeping what it exports.
struct Shell {
    dir: std::path::PathBuf,
    env: BTreeMap<String, String>,
}

impl Shell {
    fn run(&mut self, command: &str) -> String {
        let env_file = self.dir.join(".env-after");
        let script = format!(
            "{command}\nrc=$?\nenv -0 > {}\nexit $rc",
            env_file.display()
        );
        let out = self.bash(&script);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "`{command}` failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let after = std::fs::read(&env_file).expect("the environment after");
        self.env = after
            .split(|b| *b == 0)
            .filter_map(|kv| std::str::from_utf8(kv).ok()?.split_once('='))
            .filter(|(k, _)| !matches!(*k, "rc" | "_" | "SHLVL" | "PWD" | "OLDPWD"))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        stdout
    }
}

impl Shell {
    /// Runs `script` with bash in the shell's directory and environment.
    fn bash(&self, script: &str) -> std::process::Output {
        Command::new("bash")
            .args(["-o", "pipefail", "-c", script])
            .current_dir(&self.dir)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null())
            .output()
            .expect("bash")
    }

    /// Runs a command that is to fail; what it said on stderr.
    fn fails(&self, command: &str) -> String {
        let out = self.bash(command);
        assert!(!out.status.success(), "`{command}` was to fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// `text` with each placeholder replaced.
fn filled(text: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = text.to_owned();
    for (placeholder, value) in values {
        out = out.replace(placeholder, value);
    }
    // A placeholder is `<` then a letter, up to a `>` (a redirection has a space or a digit).
    let left = out.match_indices('<').find(|(i, _)| {
        out[i + 1..].starts_with(|c: char| c.is_ascii_alphabetic()) && out[*i..].contains('>')
    });
    assert!(left.is_none(), "a placeholder left unfilled in `{out}`");
    out
}

fn first_uuid(text: &str) -> String {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .find(|w| uuid::Uuid::parse_str(w).is_ok() && w.len() == 36)
        .unwrap_or_else(|| panic!("an id in:\n{text}"))
        .to_owned()
}

fn json_values(text: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("JSON from `--output json`: {e}\n{text}"))
}

#[test]
fn the_first_steps_work_as_written() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md");
    let blocks = blocks(&readme, "## First steps");
    let dir = tempfile::tempdir().expect("tempdir");
    // `./target/release/xconnect` is this build.
    std::fs::create_dir_all(dir.path().join("target/release")).expect("mkdir");
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_xconnect"),
        dir.path().join("target/release/xconnect"),
    )
    .expect("symlink");
    let aws_dir = aws_cli()
        .parent()
        .expect("the AWS CLI's directory")
        .to_owned();
    let mut shell = Shell {
        dir: dir.path().to_owned(),
        env: BTreeMap::from([
            ("HOME".to_owned(), dir.path().display().to_string()),
            (
                "PATH".to_owned(),
                format!(
                    "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    aws_dir.display()
                ),
            ),
        ]),
    };
    let mut values: BTreeMap<&str, String> = BTreeMap::new();

    // The server: built already; started as written, in the background (a terminal of its own).
    let [build, server] = blocks[0].as_slice() else {
        panic!(
            "the first block builds and starts the server: {:?}",
            blocks[0]
        );
    };
    assert_eq!(build, "cargo build --release -p xconnect");
    let mut server = Command::new("bash")
        .args(["-c", &format!("exec {server}")])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .expect("the server");
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _kill = Kill(&mut server);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect("127.0.0.1:7700").is_err()
        || !dir
            .path()
            .join(".xconnect/operator-credentials.json")
            .exists()
    {
        assert!(
            Instant::now() < deadline,
            "the server listens on 127.0.0.1:7700 within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The operator's block: the exports and two accounts.
    let mut accounts = Vec::new();
    for command in &blocks[1] {
        accounts.extend(json_values(&shell.run(&filled(command, &values))));
    }
    let [aws_team, gcp_team] = accounts.as_slice() else {
        panic!("two accounts: {accounts:?}");
    };
    let as_tenant = |shell: &mut Shell, account: &Value| {
        for (var, member) in [
            ("AWS_ACCESS_KEY_ID", "accessKeyId"),
            ("AWS_SECRET_ACCESS_KEY", "secretAccessKey"),
        ] {
            shell
                .env
                .insert(var.into(), account[member].as_str().expect(member).into());
        }
    };
    values.insert(
        "<gcp-team account id>",
        gcp_team["accountId"].as_str().expect("id").into(),
    );

    // As the first tenant: an attach point, the catalog, a connection.
    as_tenant(&mut shell, aws_team);
    let mut connection = Value::Null;
    for command in &blocks[2] {
        let out = shell.run(&filled(command, &values));
        if command.starts_with("xconnect attach-point create") {
            values.insert("<attach-point-id>", first_uuid(&out));
        } else if command.starts_with("xconnect connection create") {
            connection = json_values(&out).remove(0);
        }
    }
    assert_eq!(connection["state"], "requested", "{connection}");
    values.insert(
        "<key>",
        connection["activationKey"].as_str().expect("key").into(),
    );
    values.insert(
        "<connection-id>",
        connection["id"].as_str().expect("id").into(),
    );

    // As the second tenant: its attach point, and accept.
    as_tenant(&mut shell, gcp_team);
    let mut accepted = String::new();
    for command in &blocks[3] {
        let out = shell.run(&filled(command, &values));
        if command.starts_with("xconnect attach-point create") {
            values.insert("<attach-point-id>", first_uuid(&out));
        } else if command.starts_with("xconnect connection accept") {
            accepted = out;
        }
    }
    assert!(
        accepted.contains("pending"),
        "accepted, pending: {accepted}"
    );

    // The connection's views (as its owner); what needs gateways is run by managed_e2e.
    as_tenant(&mut shell, aws_team);
    let needs_gateways = [
        "xconnect connection wait",
        "xconnect connection test",
        "aws --endpoint-url $XCONNECT_ENDPOINT --region us-east-1 interconnect wait",
    ];
    let mut left_out = Vec::new();
    for command in &blocks[4] {
        if needs_gateways.iter().any(|p| command.starts_with(p)) {
            left_out.push(command.clone());
            continue;
        }
        let out = shell.run(&filled(command, &values));
        assert!(!out.trim().is_empty(), "`{command}` printed something");
    }
    assert_eq!(left_out.len(), needs_gateways.len(), "{left_out:?}");

    // The AWS CLI against the same server: the owner lists its connections; the second tenant
    // would describe a key before accepting it (this one has been used: the answer says so).
    for command in &blocks[5] {
        if command.contains("describe-connection-proposal") {
            as_tenant(&mut shell, gcp_team);
            let out = shell.fails(&filled(command, &values));
            assert!(out.contains("already been used"), "`{command}`: {out}");
        } else {
            as_tenant(&mut shell, aws_team);
            let out = shell.run(&filled(command, &values));
            assert!(
                out.contains(values["<connection-id>"].as_str()),
                "`{command}`: {out}"
            );
        }
    }
    assert_eq!(blocks.len(), 6, "a new block in First steps: run it here");
}
