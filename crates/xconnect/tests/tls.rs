//! `--tls-cert/--tls-key`: the server speaks HTTPS (rustls) and a signed request goes through.
//! Needs `openssl` to make a throwaway certificate (installed by `.ci/run`).

mod common;

use common::*;
use std::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let ca = dir.path().join("ca.pem");
    let ca_key = dir.path().join("ca-key.pem");
    let csr = dir.path().join("cert.csr");
    let ext = dir.path().join("ext.cnf");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext");
    let p = |x: &std::path::Path| x.to_str().expect("utf8").to_owned();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for args in [
        [
            &["req", "-x509"][..],
            &ec[..],
            &[
                "-days",
                "1",
                "-subj",
                "/CN=xconnect test CA",
                "-keyout",
                &p(&ca_key),
                "-out",
                &p(&ca),
            ],
        ]
        .concat(),
        [
            &["req"][..],
            &ec[..],
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                &p(&key),
                "-out",
                &p(&csr),
            ],
        ]
        .concat(),
        vec![
            "x509",
            "-req",
            "-in",
            &p(&csr),
            "-CA",
            &p(&ca),
            "-CAkey",
            &p(&ca_key),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &p(&ext),
            "-out",
            &p(&cert),
        ],
    ] {
        let out = Command::new("openssl")
            .args(&args)
            .output()
            .expect("this test needs openssl (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let data = dir.path().join("data");
    let server = Server::start_with(
        &data,
        &[
            "--tls-cert",
            cert.to_str().expect("utf8"),
            "--tls-key",
            key.to_str().expect("utf8"),
        ],
    );
    assert!(
        server.endpoint.starts_with("https://127.0.0.1:"),
        "{}",
        server.endpoint
    );

    let root = reqwest::Certificate::from_pem(&std::fs::read(&ca).expect("ca")).expect("pem");
    let https = reqwest::Client::builder()
        .add_root_certificate(root)
        .build()
        .expect("client");
    let health = https
        .get(format!("{}/healthz", server.endpoint))
        .send()
        .await
        .expect("https");
    assert_eq!(health.status(), 200);
    // A client that does not trust the certificate is refused by TLS itself.
    assert!(
        reqwest::get(format!("{}/healthz", server.endpoint))
            .await
            .is_err()
    );
    // Plain HTTP to the TLS port gets no answer.
    let plain = server.endpoint.replace("https://", "http://");
    assert!(
        reqwest::get(format!("{plain}/healthz"))
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
    );
}
