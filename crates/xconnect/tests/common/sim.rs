//! A simulated managed gateway: it registers, holds the blocking configuration query, reports
//! every link of its configuration up (MACsec secured, BGP established with a prefix accepted)
//! once a second and answers every connectivity test with all probes back, with no data plane. For what the control plane does with what
//! gateways say, not for what links do.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use xc_client::GatewayClient;
use xc_types::gateway::{
    BgpState, ConfigDoc, GatewayStatus, LinkStatus, MkaState, MkaStatus, NeighborStatus,
    RegisterRequest, ReportRequest, RoutingStatus, TestResult, TokenRequest,
};

pub struct SimGateway {
    /// The configuration it last received.
    pub config: Arc<Mutex<Option<ConfigDoc>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for SimGateway {
    fn drop(&mut self) {
        self.tasks.iter().for_each(tokio::task::JoinHandle::abort);
    }
}

impl SimGateway {
    /// Registers a gateway of attach point `ap` at `endpoint` (with a token of `owner`, from
    /// any replica) and starts it: one task holds the configuration query (each waiting up to
    /// 60 s), another reports once a second.
    pub async fn start(
        endpoint: &str,
        owner: &xc_client::Client,
        ap: &str,
        name: &str,
        underlay: &str,
    ) -> Self {
        let token = owner
            .create_gateway_token(&TokenRequest {
                attach_point_id: Some(ap.to_owned()),
                facility: None,
            })
            .await
            .expect("token");
        let g = GatewayClient::new(endpoint).expect("gateway client");
        let creds = g
            .register(&RegisterRequest {
                token: token.token,
                name: name.to_owned(),
                underlay_address: underlay.to_owned(),
                version: "sim".to_owned(),
                access_interface: None,
            })
            .await
            .expect("register");
        let g = g.with_credential(&creds.gateway_id, &creds.secret);
        let config: Arc<Mutex<Option<ConfigDoc>>> = Arc::default();
        let watch = {
            let (g, config) = (g.clone(), config.clone());
            tokio::spawn(async move {
                let mut index: Option<String> = None;
                loop {
                    match g.config(index.as_deref(), Duration::from_secs(60)).await {
                        Ok(c) => {
                            // Every test answered: all probes back.
                            for t in &c.value.tests {
                                let _ = g
                                    .test_result(&TestResult {
                                        id: t.id.clone(),
                                        target: t.target.clone(),
                                        sent: t.count,
                                        received: t.count,
                                        ..TestResult::default()
                                    })
                                    .await;
                            }
                            index = Some(c.value.index);
                            *config.lock().expect("config") = Some(c.value.config);
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                }
            })
        };
        let report = {
            let (config, name) = (config.clone(), name.to_owned());
            tokio::spawn(async move {
                let boot = rand_boot();
                loop {
                    let doc = config.lock().expect("config").clone();
                    let _ = g.report(&all_up(&name, boot, doc.as_ref())).await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            })
        };
        Self {
            config,
            tasks: vec![watch, report],
        }
    }

    /// How many links its last configuration has.
    pub fn links(&self) -> usize {
        self.config
            .lock()
            .expect("config")
            .as_ref()
            .map_or(0, |c| c.link.len())
    }
}

fn rand_boot() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// A report with every link of `doc` up.
fn all_up(name: &str, boot: u64, doc: Option<&ConfigDoc>) -> ReportRequest {
    let links = doc.map_or(Vec::new(), |d| {
        d.link
            .iter()
            .map(|l| LinkStatus {
                name: l.name.clone(),
                id: l.id,
                mka: MkaStatus {
                    state: MkaState::Secured,
                    ..MkaStatus::default()
                },
                ..LinkStatus::default()
            })
            .collect()
    });
    let bgp = doc.and_then(|d| d.bgp.as_ref()).map(|b| RoutingStatus {
        asn: b.asn,
        router_id: b.router_id.clone(),
        neighbors: b
            .neighbor
            .iter()
            .map(|n| NeighborStatus {
                address: n.address.clone(),
                remote_asn: n.remote_asn,
                state: BgpState::Established,
                prefixes_received: 1,
                prefixes_accepted: 1,
                ..NeighborStatus::default()
            })
            .collect(),
        ..RoutingStatus::default()
    });
    ReportRequest {
        version: "sim".to_owned(),
        status: GatewayStatus {
            name: name.to_owned(),
            links,
            bgp,
            ..GatewayStatus::default()
        },
        boot,
        samples: Vec::new(),
        flow_logs: Vec::new(),
    }
}
