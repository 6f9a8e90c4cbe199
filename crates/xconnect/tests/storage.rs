//! The server on a disk that fills up, and on a read-only one: a write that cannot be stored
//! answers 503 with `STORAGE_UNAVAILABLE` (the AWS protocols: 503 with the model's server
//! error), reads keep working, nothing is lost or half-written, the log says what happened
//! (never "corrupt"), and once there is room the same request succeeds. A data dir that cannot
//! be written at all stops the server at start, naming it. Needs root (it mounts a small tmpfs
//! on a temporary directory and unmounts it, by that path, even on failure).

mod common;

use common::*;
use serde_json::json;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use xc_client::ClientError;

/// A tmpfs mounted on a directory of its own, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_owned();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "xctest",
            ])
            .arg(&path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount a tmpfs (this test needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { path, _dir: dir }
    }

    fn remount_read_only(&self) {
        let out = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills the filesystem of `path` to the last byte; returns the filler file.
fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    let chunk = vec![0u8; 16 << 10];
    loop {
        if let Err(e) = f.write_all(&chunk) {
            assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "{e}");
            break;
        }
    }
    // What a 16 KiB write left.
    let _ = f.write_all(&chunk[..512]);
    let _ = f.write_all(&chunk[..1]);
    filler
}

fn create_ap(n: usize) -> xc_types::api::CreateAttachPointRequest {
    xc_types::api::CreateAttachPointRequest {
        name: format!("ap-{n}"),
        prefixes: vec![format!("10.{}.{}.0/24", n / 256, n % 256)],
        asn: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_refuses_writes_with_503_and_loses_nothing() {
    let disk = Tmpfs::mount("3m");
    let data = disk.path.join("data");
    let log_dir = tempfile::tempdir().expect("log dir");
    let log = log_dir.path().join("server.log");
    let server = Server::start_logged(&data, &log);
    let op = server.client(&server.operator());
    let a = tenant(&server, &op, "full-a").await;
    let b = tenant(&server, &op, "full-b").await;
    let ap = attach_point(&a, "vpc", &["10.250.0.0/16"]).await;
    let filler = fill(&disk.path);

    // Writes until one is refused: with 503 and the reason, never 500.
    let mut stored = 0usize;
    let mut refusal = None;
    for n in 0..2000 {
        match a.client.create_attach_point(&create_ap(n)).await {
            Ok(_) => stored += 1,
            Err(e) => {
                refusal = Some(e);
                break;
            }
        }
    }
    let refusal = refusal.expect("a full disk refuses a write within 2,000");
    match &refusal {
        ClientError::Api {
            status,
            code,
            reason,
            message,
            ..
        } => {
            assert_eq!(*status, 503, "{refusal:?}");
            assert_eq!(code, "ServiceUnavailableException", "{refusal:?}");
            assert_eq!(
                reason.as_deref(),
                Some("STORAGE_UNAVAILABLE"),
                "{refusal:?}"
            );
            assert!(message.contains("disk"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Reads are served meanwhile.
    let listed = a.client.list_attach_points().await.expect("list");
    assert_eq!(listed.attach_points.len(), stored + 1);
    // The AWS protocol answers 503 too, with the model's server error.
    let raw = Raw::new(&server);
    let (status, body) = raw
        .json(
            "CreateConnection",
            json!({ "environmentId": "gcp-us-east4", "bandwidth": "1Gbps",
                    "attachPoint": { "directConnectGateway": ap },
                    "remoteAccount": { "identifier": b.creds.account_id } }),
            Some(&a.creds),
        )
        .await;
    assert_eq!(
        (status, err_type(&body)),
        (503, "InterconnectServerException"),
        "{body}"
    );

    // Room again: the same request succeeds, and everything stored before is there.
    std::fs::remove_file(&filler).expect("free the disk");
    a.client
        .create_attach_point(&create_ap(stored))
        .await
        .expect("a write once there is room");
    let listed = a.client.list_attach_points().await.expect("list");
    assert_eq!(listed.attach_points.len(), stored + 2);
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("the disk holding the database is full"),
        "the log says why: {text}"
    );
    assert!(!text.contains("corrupt"), "nothing is corrupt: {text}");
}

#[test]
fn a_read_only_data_dir_stops_the_server_at_start_naming_it() {
    let disk = Tmpfs::mount("1m");
    let data = disk.path.join("data");
    std::fs::create_dir(&data).expect("data dir");
    disk.remount_read_only();
    let out = Command::new(env!("CARGO_BIN_EXE_xconnect"))
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .expect("run the server");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("the data dir {} is not writable", data.display()))
            && err.contains("Read-only file system"),
        "{err}"
    );
}
