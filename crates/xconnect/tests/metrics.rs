//! Metrics through the APIs, without namespaces: the test plays two managed gateways (registered
//! with tokens, reporting through the gateway API as a real one does); their minute samples are
//! stored once however often they are sent, read back by `GET /v1/connections/{id}/metrics` as
//! each side may see them, and scraped from `/metrics` by a real Prometheus with basic
//! authentication; `promtool check metrics` passes on the exposition, and the Grafana dashboard in
//! `docs/` queries only families it has. Needs Debian's
//! `prometheus` package (`prometheus` and `promtool`; `.ci/run` installs it).

mod common;

use common::*;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;
use xc_client::GatewayClient;
use xc_types::api::metrics::MetricsQuery;
use xc_types::gateway::{
    DropCounts, GatewayStatus, LinkSample, MetricSample, RegisterRequest, ReportRequest, RttStats,
    TokenRequest,
};

const WAIT: Duration = Duration::from_secs(60);

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A gateway of attach point `ap`, registered with a token of `owner`.
async fn gateway(server: &Server, owner: &Tenant, ap: &str, name: &str) -> GatewayClient {
    let token = owner
        .client
        .create_gateway_token(&TokenRequest {
            attach_point_id: Some(ap.to_owned()),
            facility: None,
        })
        .await
        .expect("token");
    let g = GatewayClient::new(&server.endpoint).expect("gateway client");
    let creds = g
        .register(&RegisterRequest {
            token: token.token,
            name: name.to_owned(),
            underlay_address: "127.0.0.2".to_owned(),
            version: "test".to_owned(),
            access_interface: None,
        })
        .await
        .expect("register");
    g.with_credential(&creds.gateway_id, &creds.secret)
}

fn report(boot: u64, samples: Vec<MetricSample>) -> ReportRequest {
    ReportRequest {
        version: "test".to_owned(),
        status: GatewayStatus {
            name: "gw".to_owned(),
            ..GatewayStatus::default()
        },
        boot,
        samples,
        flow_logs: Vec::new(),
    }
}

/// A minute of one link: 1 Mbit/s out, 0.5 Mbit/s in, 57 of 60 probes answered in 2 ms.
fn minute(seq: u64, minute: i64, link: u64) -> MetricSample {
    MetricSample {
        seq,
        minute,
        links: vec![LinkSample {
            id: link,
            secs: 60,
            tx_packets: 5_000,
            tx_bytes: 7_500_000,
            rx_packets: 2_500,
            rx_bytes: 3_750_000,
            drops: DropCounts {
                policer: 4,
                ..DropCounts::default()
            },
            probes_sent: 60,
            probes_answered: 57,
            rtt: Some(RttStats {
                min_us: 1_500,
                avg_us: 2_000,
                p99_us: 3_000,
                max_us: 3_000,
                jitter_us: 100,
            }),
            secured: true,
            bgp_established: true,
            prefixes_accepted: 1,
            prefixes_advertised: 1,
        }],
    }
}

/// `promtool check metrics` on an exposition.
fn promtool_check(what: &str, text: &str) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package)");
    use std::io::Write as _;
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success(),
        "promtool check metrics, {what}: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// A gateway's exposition (its admin `/metrics`), with a link, BGP and BFD, passes promtool.
#[test]
fn the_gateway_exposition_passes_promtool() {
    use xc_types::gateway::{
        BfdState, BfdStatus, BgpState, LinkStatus, NeighborStatus, RoutingStatus,
    };
    let st = GatewayStatus {
        name: "gw".into(),
        links: vec![LinkStatus {
            name: "l1".into(),
            ..LinkStatus::default()
        }],
        bgp: Some(RoutingStatus {
            neighbors: vec![NeighborStatus {
                address: "169.254.0.1".into(),
                state: BgpState::Established,
                bfd: Some(BfdStatus {
                    state: BfdState::Up,
                    ..Default::default()
                }),
                ..Default::default()
            }],
            routes_installed: 3,
            ..Default::default()
        }),
        filters: Some(xc_types::gateway::FilterStatus {
            security_groups: 1,
            network_acl: Some("acl-00000000000000b1".into()),
            flows: 5,
            flow_capacity: 100,
            drops: xc_types::gateway::FilterDrops {
                no_rule: 9,
                ..Default::default()
            },
            rules: vec![xc_types::gateway::RuleHits {
                rule: "sgr-00000000000000b1".into(),
                action: xc_types::filter::RuleAction::Allow,
                hits: 4,
            }],
            shared: xc_types::gateway::FlowSharing {
                adopted: 2,
                ..Default::default()
            },
        }),
        ..GatewayStatus::default()
    };
    promtool_check("a gateway's", &xc_gateway::admin::render_metrics(&st));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread")]
async fn samples_are_stored_once_queried_by_side_and_scraped_by_prometheus() {
    let server = Server::start();
    let operator = server.client(&server.operator());
    let a = tenant(&server, &operator, "metrics-a").await;
    let b = tenant(&server, &operator, "metrics-b").await;
    let ap_a = attach_point(&a, "vpc-a", &["10.60.0.0/16"]).await;
    let ap_b = attach_point(&b, "vpc-b", &["10.61.0.0/16"]).await;
    let b_id = b
        .client
        .whoami()
        .await
        .expect("whoami")
        .account_id
        .to_string();
    let c = a
        .client
        .create_connection(&connection_request("gcp-us-east4", &ap_a, &b_id))
        .await
        .expect("create");
    accept(&b, c.activation_key.as_deref().expect("key"), &ap_b).await;
    let gw_a = gateway(&server, &a, &ap_a, "gw-a").await;
    let gw_b = gateway(&server, &b, &ap_b, "gw-b").await;
    // Both report; the control plane plans a link between them.
    let link = eventually(WAIT, "a link planned for the two gateways", || async {
        for g in [&gw_a, &gw_b] {
            g.report(&report(1, vec![])).await.ok()?;
        }
        let cfg = gw_a.config(None, Duration::ZERO).await.ok()?;
        cfg.value.config.link.first().and_then(|l| l.id)
    })
    .await;

    // Two closed minutes from gateway A, sent twice (a lost acknowledgement): stored once.
    let m = now() - now().rem_euclid(60);
    let samples = vec![minute(1, m - 120, link), minute(2, m - 60, link)];
    for _ in 0..2 {
        let ack = gw_a
            .report(&report(7, samples.clone()))
            .await
            .expect("report");
        assert_eq!(ack.samples_through, Some(2));
    }
    let query = |metric: &str| MetricsQuery {
        metric: Some(metric.to_owned()),
        start: Some(xc_control::fmt_time(m - 600)),
        ..MetricsQuery::default()
    };
    let points = |r: &xc_types::api::metrics::MetricsResponse| -> Vec<(String, f64)> {
        r.metrics[0]
            .points
            .iter()
            .map(|p| (p.timestamp.clone(), p.value))
            .collect()
    };
    let egress = a
        .client
        .connection_metrics(c.id.as_str(), &query("ConnectionBpsEgress"))
        .await
        .expect("metrics");
    assert_eq!(
        points(&egress),
        vec![
            (xc_control::fmt_time(m - 120), 1e6),
            (xc_control::fmt_time(m - 60), 1e6)
        ],
        "stored once: {egress:?}"
    );
    let loss = a
        .client
        .connection_metrics(c.id.as_str(), &query("ConnectionPacketLossPercent"))
        .await
        .expect("metrics");
    assert_eq!(points(&loss)[0].1, 5.0);
    // Every metric at once, over 5 minutes: one point each, the statistic over both minutes.
    let all = a
        .client
        .connection_metrics(
            c.id.as_str(),
            &MetricsQuery {
                start: Some(xc_control::fmt_time(m - 600)),
                period: Some(300),
                stat: Some("Maximum".into()),
                ..MetricsQuery::default()
            },
        )
        .await
        .expect("metrics");
    assert_eq!(all.metrics.len(), 15);
    assert_eq!(all.stat, "Maximum");
    // The other side sees its own side's measurements: its gateway sent none.
    let theirs = b
        .client
        .connection_metrics(c.id.as_str(), &query("ConnectionBpsEgress"))
        .await
        .expect("metrics");
    assert_eq!(theirs.side, xc_types::gateway::Side::Remote);
    assert!(points(&theirs).is_empty(), "{theirs:?}");
    // A third account cannot see it; a bad statistic says what it takes.
    let stranger = tenant(&server, &operator, "metrics-c").await;
    let e = stranger
        .client
        .connection_metrics(c.id.as_str(), &query("ConnectionBpsEgress"))
        .await
        .expect_err("not visible");
    assert!(e.to_string().contains("not found"), "{e}");
    let e = a
        .client
        .connection_metrics(
            c.id.as_str(),
            &MetricsQuery {
                stat: Some("p101".into()),
                ..query("ConnectionBpsEgress")
            },
        )
        .await
        .expect_err("bad stat");
    assert!(e.to_string().contains("stat"), "{e}");

    // The exposition: basic authentication required; a tenant sees its own series only.
    let http = reqwest::Client::new();
    let url = format!("{}/metrics", server.endpoint);
    let anonymous = http.get(&url).send().await.expect("scrape");
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Basic")),
        "{:?}",
        anonymous.headers()
    );
    let scrape = |creds: &xc_types::api::Credentials| {
        let (http, url) = (http.clone(), url.clone());
        let (key, secret) = (
            creds.access_key_id.to_string(),
            creds.secret_access_key.clone(),
        );
        async move {
            let r = http
                .get(&url)
                .basic_auth(key, Some(secret))
                .send()
                .await
                .expect("scrape");
            assert_eq!(r.status(), 200);
            r.text().await.expect("text")
        }
    };
    let series = format!(
        "xconnect_connection_bps_egress{{connection_id=\"{}\",account_id=\"{}\"}} 1000000\n",
        c.id,
        a.client.whoami().await.expect("whoami").account_id
    );
    let mine = scrape(&a.creds).await;
    assert!(mine.contains(&series), "{mine}");
    assert!(mine.contains(&format!("link_id=\"{link}\"")), "{mine}");
    let theirs = scrape(&b.creds).await;
    assert!(!theirs.contains(c.id.as_str()), "{theirs}");
    assert!(
        !theirs.contains("xconnect_store_commit"),
        "server health is the operator's"
    );
    let all = scrape(&server.operator()).await;
    assert!(all.contains(&series), "{all}");
    for family in [
        "xconnect_api_request_duration_seconds_bucket{operation=\"GET /v1/connections/{id}/metrics\",code=\"200\"",
        "xconnect_store_commit_duration_seconds_count",
        "xconnect_reconciler_pass_duration_seconds_count",
        "xconnect_gateways_connected 2",
    ] {
        assert!(all.contains(family), "{family}:\n{all}");
    }
    promtool_check("the server's exposition", &all);
    // The Grafana dashboard in docs/ is built on these families.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../docs/grafana-dashboard.json"),
        )
        .expect("docs/grafana-dashboard.json"),
    )
    .expect("the dashboard is JSON");
    let mut used = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("expr");
            for name in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("xconnect_"))
            {
                let family = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name);
                assert!(
                    all.contains(&format!("# TYPE {family} ")),
                    "the dashboard's {name} is not in the exposition"
                );
                used += 1;
            }
        }
    }
    assert!(used >= 10, "the dashboard queries the families: {used}");

    // A real Prometheus scrapes it with the tenant's key and answers a query for the series.
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let target = server
        .endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: xconnect\n    basic_auth:\n      username: {}\n      password: {}\n    static_configs:\n      - targets: ['{target}']\n",
            a.creds.access_key_id, a.creds.secret_access_key
        ),
    )
    .expect("config");
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("prometheus.log")).expect("log"),
        ))
        .spawn()
        .expect("prometheus (Debian's prometheus package)");
    let q = format!(
        "http://127.0.0.1:{port}/api/v1/query?query=xconnect_connection_bps_egress%7Bconnection_id%3D%22{}%22%7D",
        c.id
    );
    let answered = eventually(WAIT, "Prometheus to have scraped the series", || async {
        let v: Value = http.get(&q).send().await.ok()?.json().await.ok()?;
        v["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    assert_eq!(answered, "1000000");
}
