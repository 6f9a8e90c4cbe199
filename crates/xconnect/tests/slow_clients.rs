//! Clients that hold connections and do nothing useful, against a server with a low open-file
//! limit (256, which it cannot raise): connections that send nothing, that send their headers a
//! byte every half second, and that declare a 1 MB body and send a byte a second. Signed
//! requests from another address keep succeeding; the slow ones are cut at their timeouts (the
//! body with a 408 in the error shape); the ones with no room are answered 503 at once.

mod common;

use common::*;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

async fn connect_from(source: Ipv4Addr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::from((source, 0)))?;
    s.connect(server).await
}

/// Reads what the server says until it closes (or `within` passes): the bytes, and whether it
/// closed.
async fn until_closed(s: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slow_clients_do_not_starve_signed_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with_file_limit(
        &dir.path().join("data"),
        256,
        &[
            "--header-timeout",
            "3s",
            "--body-timeout",
            "4s",
            "--idle-timeout",
            "5s",
        ],
    );
    let op = server.client(&server.operator());
    let addr: SocketAddr = server
        .endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let idle_from = Ipv4Addr::new(127, 0, 0, 2);
    let slow_head_from = Ipv4Addr::new(127, 0, 0, 3);
    let slow_body_from = Ipv4Addr::new(127, 0, 0, 4);

    // 150 connections that send nothing.
    let mut idle = Vec::new();
    for _ in 0..150 {
        idle.push(connect_from(idle_from, addr).await.expect("connect"));
    }
    // 60 that send a request's headers a byte every half second.
    let mut trickles = tokio::task::JoinSet::new();
    for _ in 0..60 {
        let mut s = connect_from(slow_head_from, addr).await.expect("connect");
        trickles.spawn(async move {
            let head = b"GET /v1/whoami HTTP/1.1\r\nhost: x\r\nx-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
            let started = Instant::now();
            for b in head {
                if s.write_all(&[*b]).await.is_err() {
                    return Some(started.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            None
        });
    }
    // 60 that declare a 1 MB body and send a byte a second.
    let mut bodies = Vec::new();
    for _ in 0..60 {
        let mut s = connect_from(slow_body_from, addr).await.expect("connect");
        s.write_all(
            b"POST /v1/connections HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1048576\r\n\r\n{",
        )
        .await
        .expect("head");
        bodies.push(s);
    }
    let mut dripping = tokio::task::JoinSet::new();
    for mut s in bodies {
        dripping.spawn(async move {
            // A byte a second, reading the server's answer between bytes.
            for _ in 0..30 {
                let (said, closed) = until_closed(&mut s, Duration::from_secs(1)).await;
                if closed || !said.is_empty() {
                    let (more, closed) = until_closed(&mut s, Duration::from_secs(30)).await;
                    return ([said, more].concat(), closed);
                }
                let _ = s.write_all(b" ").await;
            }
            until_closed(&mut s, Duration::from_secs(30)).await
        });
    }

    // Meanwhile, signed requests from 127.0.0.1, each on a new connection, succeed.
    for i in 0..10 {
        let started = Instant::now();
        let who = op.whoami().await;
        println!(
            "signed request {i}: {:?} in {:?}",
            who.is_ok(),
            started.elapsed()
        );
        who.expect("a signed request while idle and slow clients hold connections");
    }

    // The slow bodies: cut with a 408 in the error shape, or (no room) a 503 at once.
    let (mut timed_out, mut refused) = (0, 0);
    while let Some(r) = dripping.join_next().await {
        let (said, closed) = r.expect("join");
        let text = String::from_utf8_lossy(&said);
        assert!(closed, "a slow body is cut: {text}");
        if text.starts_with("HTTP/1.1 408") {
            assert!(text.contains("RequestTimeoutException"), "{text}");
            timed_out += 1;
        } else if text.starts_with("HTTP/1.1 503") {
            assert!(text.contains("ServiceUnavailableException"), "{text}");
            refused += 1;
        } else {
            panic!("a slow body got: {text}");
        }
    }
    println!("slow bodies: {timed_out} timed out (408), {refused} refused (503)");
    assert!(
        timed_out > 0 && refused > 0,
        "{timed_out} 408, {refused} 503"
    );
    // The trickled headers are cut before they are complete.
    while let Some(r) = trickles.join_next().await {
        let cut = r.expect("join");
        assert!(cut.is_some(), "a header sent a byte every 0.5 s is cut");
    }
    // The silent connections are closed: made room for, or idle too long.
    for (i, s) in idle.iter_mut().enumerate() {
        let (_, closed) = until_closed(s, Duration::from_secs(60)).await;
        assert!(closed, "silent connection {i} is closed");
    }
    op.whoami().await.expect("and afterwards");
}
