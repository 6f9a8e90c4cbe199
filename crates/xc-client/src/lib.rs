//! A typed client of the native API (`/v1/...`). Every request is signed with SigV4 by the same
//! code the server verifies with (`xc-sigv4`). Errors keep the server's code and message.

use serde::Serialize;
use serde::de::DeserializeOwned;
use xc_types::api::routes::{self as r, Endpoint};
use xc_types::api::*;
use xc_types::{AttachPoint, Environment};

/// Attempts of a request that is throttled (429), each after the server's `Retry-After`.
pub const THROTTLED_ATTEMPTS: u32 = 6;
/// The longest wait before a throttled request's next attempt.
pub const MAX_THROTTLED_WAIT_SECS: u64 = 20;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{message} ({code})")]
    Api {
        status: u16,
        code: String,
        message: String,
        field: Option<String>,
        /// The reason code of a refusal that has one (`PREFIX_OVERLAP`, `STORAGE_UNAVAILABLE`),
        /// as sent: a newer server may send codes this build does not know.
        reason: Option<String>,
    },
    #[error("cannot reach {endpoint}: {detail}")]
    Transport { endpoint: String, detail: String },
    #[error("unexpected response from the server: {0}")]
    Decode(String),
}

impl ClientError {
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    key_id: String,
    secret: String,
    region: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// Percent-encodes a query value.
pub use xc_types::api::routes::encode as encode_query;

/// Reads a response: the body as `T`, or the server's error.
async fn decode_response<T: DeserializeOwned>(
    endpoint: &str,
    resp: reqwest::Response,
) -> Result<T, ClientError> {
    let bytes = response_body(endpoint, resp).await?;
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
}

/// A response body that was read with members this build does not know: they are left out,
/// and named (`config.link[0].colour`) so the caller can say so.
#[derive(Debug)]
pub struct Lenient<T> {
    pub value: T,
    pub ignored: Vec<String>,
}

/// Reads a response leniently: unknown members are ignored and listed.
async fn decode_lenient<T: DeserializeOwned>(
    endpoint: &str,
    resp: reqwest::Response,
) -> Result<Lenient<T>, ClientError> {
    let bytes = response_body(endpoint, resp).await?;
    decode_json_lenient(&bytes)
}

/// Decodes JSON into `T`, ignoring and naming the members `T` has no field for.
pub fn decode_json_lenient<T: DeserializeOwned>(bytes: &[u8]) -> Result<Lenient<T>, ClientError> {
    let mut ignored = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_ignored::deserialize(&mut de, |p| ignored.push(member_path(&p)))
        .map_err(|e| ClientError::Decode(e.to_string()))?;
    Ok(Lenient { value, ignored })
}

/// `config.link[0].colour`
fn member_path(p: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match p {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", member_path(parent)),
        Path::Map { parent, key } => match member_path(parent) {
            s if s.is_empty() => key.clone(),
            s => format!("{s}.{key}"),
        },
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => member_path(parent),
    }
}

/// A successful response's body, or the server's error.
async fn response_body(endpoint: &str, resp: reqwest::Response) -> Result<Vec<u8>, ClientError> {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(|e| ClientError::Transport {
        endpoint: endpoint.to_owned(),
        detail: e.to_string(),
    })?;
    if !(200..300).contains(&status) {
        /// `ErrorBody`, with the reason as a string.
        #[derive(serde::Deserialize)]
        struct Body {
            code: String,
            message: String,
            #[serde(default)]
            field: Option<String>,
            #[serde(default)]
            reason: Option<String>,
        }
        return Err(match serde_json::from_slice::<Body>(&bytes) {
            Ok(e) => ClientError::Api {
                status,
                code: e.code,
                message: e.message,
                field: e.field,
                reason: e.reason,
            },
            Err(_) => ClientError::Api {
                status,
                code: "HttpError".into(),
                message: format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes).trim()),
                field: None,
                reason: None,
            },
        });
    }
    Ok(bytes.to_vec())
}

impl Client {
    pub fn new(
        endpoint: &str,
        key_id: &str,
        secret: &str,
        region: &str,
    ) -> Result<Self, ClientError> {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&endpoint).map_err(|e| ClientError::Transport {
            endpoint: endpoint.clone(),
            detail: format!("not a URL: {e}"),
        })?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => {
                return Err(ClientError::Transport {
                    endpoint,
                    detail: "the URL has no host".into(),
                });
            }
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .connect_timeout(std::time::Duration::from_secs(5))
            .pool_idle_timeout(POOL_IDLE)
            .build()
            .map_err(|e| ClientError::Transport {
                endpoint: endpoint.clone(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            endpoint,
            host,
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
            region: region.to_owned(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one signed request. `path` may carry a query string.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, ClientError> {
        let body = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| ClientError::Decode(e.to_string()))?,
            None => Vec::new(),
        };
        let mut attempt = 1;
        loop {
            let req = self.signed(&self.http, method, path, &body)?;
            let resp = req.send().await.map_err(|e| ClientError::Transport {
                endpoint: self.endpoint.clone(),
                detail: e.without_url().to_string(),
            })?;
            // Throttled (nothing was done): wait as long as the server says, then again, as the
            // AWS SDKs do.
            if resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS
                && attempt < THROTTLED_ATTEMPTS
            {
                let wait = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(1)
                    .clamp(1, MAX_THROTTLED_WAIT_SECS);
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
                continue;
            }
            return decode_response(&self.endpoint, resp).await;
        }
    }

    /// A request signed with the client's key: `path` may carry a query string.
    fn signed(
        &self,
        http: &reqwest::Client,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let (p, q) = path.split_once('?').unwrap_or((path, ""));
        let mut headers = vec![("host", self.host.as_str())];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        let added = xc_sigv4::sign(
            &xc_sigv4::Request {
                method,
                path: p,
                query: q,
                headers: &headers,
                body,
            },
            &self.key_id,
            self.secret.as_bytes(),
            &self.region,
            "interconnect",
            time::OffsetDateTime::now_utc(),
        );
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        let mut req = http.request(m, format!("{}{path}", self.endpoint));
        for (k, v) in headers
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .chain(added)
        {
            req = req.header(k, v);
        }
        Ok(req.body(body.to_vec()))
    }

    /// The live stream of the caller's events (`GET /v1/events/stream`), from the event after
    /// `after` or, without it, from `since` (RFC 3339) or from now.
    pub async fn stream_events(
        &self,
        after: Option<u64>,
        since: Option<&str>,
    ) -> Result<EventStream, ClientError> {
        let transport = |detail: String| ClientError::Transport {
            endpoint: self.endpoint.clone(),
            detail,
        };
        // No limit on the whole answer, which does not end; one on each silence (the server
        // sends a comment every 15 s).
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .read_timeout(std::time::Duration::from_secs(45))
            .build()
            .map_err(|e| transport(e.to_string()))?;
        let q = events::EventsQuery {
            since: since.map(str::to_owned),
            after,
            ..Default::default()
        };
        let path = format!("/v1/events/stream{}", query_string(&q)?);
        let resp = self
            .signed(&http, "GET", &path, &[])?
            .send()
            .await
            .map_err(|e| transport(e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(decode_response::<serde_json::Value>(&self.endpoint, resp)
                .await
                .err()
                .unwrap_or_else(|| {
                    ClientError::Decode("an event stream answered an error".into())
                }));
        }
        Ok(EventStream {
            resp,
            buf: Vec::new(),
        })
    }

    /// Route `E` with its path parameters, query string and body.
    pub async fn send<E: Endpoint>(
        &self,
        params: &[&str],
        query: Option<&E::Query>,
        body: Option<&E::Body>,
    ) -> Result<E::Response, ClientError> {
        let mut path = E::path(params);
        if let Some(q) = query {
            path.push_str(&query_string(q)?);
        }
        self.call(E::METHOD.as_str(), &path, body).await
    }

    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.send::<r::WhoAmIEndpoint>(&[], None, None).await
    }
    pub async fn create_account(&self, name: &str) -> Result<Credentials, ClientError> {
        let req = CreateAccountRequest {
            name: name.to_owned(),
        };
        self.send::<r::CreateAccount>(&[], None, Some(&req)).await
    }
    pub async fn list_accounts(&self) -> Result<AccountList, ClientError> {
        self.send::<r::ListAccounts>(&[], None, None).await
    }
    pub async fn create_access_key(
        &self,
        account: Option<&str>,
        req: &CreateAccessKeyRequest,
    ) -> Result<Credentials, ClientError> {
        let q = AccountQuery {
            account_id: account.map(str::to_owned),
        };
        self.send::<r::CreateAccessKey>(&[], Some(&q), Some(req))
            .await
    }
    pub async fn list_access_keys(
        &self,
        account: Option<&str>,
    ) -> Result<AccessKeyList, ClientError> {
        let q = AccountQuery {
            account_id: account.map(str::to_owned),
        };
        self.send::<r::ListAccessKeys>(&[], Some(&q), None).await
    }
    pub async fn list_quotas(
        &self,
        account: Option<&str>,
    ) -> Result<xc_types::api::quotas::QuotaList, ClientError> {
        let q = AccountQuery {
            account_id: account.map(str::to_owned),
        };
        self.send::<r::ListQuotas>(&[], Some(&q), None).await
    }
    pub async fn list_audit(
        &self,
        q: &xc_types::api::audit::AuditQuery,
    ) -> Result<xc_types::api::audit::AuditList, ClientError> {
        self.send::<r::ListAuditRecords>(&[], Some(q), None).await
    }
    pub async fn create_maintenance(
        &self,
        req: &xc_types::api::maintenance::CreateMaintenanceRequest,
    ) -> Result<xc_types::api::maintenance::MaintenanceWindow, ClientError> {
        self.send::<r::CreateMaintenanceWindow>(&[], None, Some(req))
            .await
    }
    pub async fn list_maintenance(
        &self,
    ) -> Result<xc_types::api::maintenance::MaintenanceList, ClientError> {
        self.send::<r::ListMaintenanceWindows>(&[], None, None)
            .await
    }
    pub async fn delete_maintenance(
        &self,
        id: &str,
    ) -> Result<xc_types::api::Deleted, ClientError> {
        self.send::<r::DeleteMaintenanceWindow>(&[id], None, None)
            .await
    }
    pub async fn usage(
        &self,
        q: &xc_types::api::usage::UsageQuery,
    ) -> Result<xc_types::api::usage::Statement, ClientError> {
        self.send::<r::GetUsage>(&[], Some(q), None).await
    }
    pub async fn account_usage(
        &self,
        q: &xc_types::api::usage::UsageQuery,
    ) -> Result<xc_types::api::usage::UsageSummary, ClientError> {
        self.send::<r::ListAccountUsage>(&[], Some(q), None).await
    }
    pub async fn compare_cost(
        &self,
        q: &xc_types::api::usage::CostCompareQuery,
    ) -> Result<xc_types::api::usage::CostComparison, ClientError> {
        self.send::<r::CompareCost>(&[], Some(q), None).await
    }
    pub async fn verify_audit(
        &self,
    ) -> Result<xc_types::api::audit::AuditVerification, ClientError> {
        self.send::<r::VerifyAuditTrail>(&[], None, None).await
    }
    pub async fn set_quota(
        &self,
        req: &xc_types::api::quotas::SetQuotaRequest,
    ) -> Result<xc_types::api::quotas::QuotaList, ClientError> {
        self.send::<r::SetQuota>(&[], None, Some(req)).await
    }
    pub async fn update_access_key(
        &self,
        id: &str,
        req: &UpdateAccessKeyRequest,
    ) -> Result<AccessKeyUpdated, ClientError> {
        self.send::<r::UpdateAccessKey>(&[id], None, Some(req))
            .await
    }
    pub async fn delete_access_key(&self, id: &str) -> Result<AccessKeyDeleted, ClientError> {
        self.send::<r::DeleteAccessKey>(&[id], None, None).await
    }
    pub async fn cluster_status(
        &self,
    ) -> Result<xc_types::api::cluster::ClusterStatus, ClientError> {
        self.send::<r::GetCluster>(&[], None, None).await
    }
    pub async fn list_environments(&self) -> Result<EnvironmentList, ClientError> {
        self.send::<r::ListEnvironments>(&[], None, None).await
    }
    pub async fn get_environment(&self, id: &str) -> Result<Environment, ClientError> {
        self.send::<r::GetEnvironment>(&[id], None, None).await
    }
    pub async fn create_attach_point(
        &self,
        req: &CreateAttachPointRequest,
    ) -> Result<AttachPoint, ClientError> {
        self.send::<r::CreateAttachPoint>(&[], None, Some(req))
            .await
    }
    pub async fn get_attach_point(&self, id: &str) -> Result<AttachPoint, ClientError> {
        self.send::<r::GetAttachPoint>(&[id], None, None).await
    }
    pub async fn list_attach_points(&self) -> Result<AttachPointList, ClientError> {
        self.send::<r::ListAttachPoints>(&[], None, None).await
    }
    pub async fn update_attach_point(
        &self,
        id: &str,
        req: &UpdateAttachPointRequest,
    ) -> Result<AttachPoint, ClientError> {
        self.send::<r::UpdateAttachPoint>(&[id], None, Some(req))
            .await
    }
    pub async fn delete_attach_point(&self, id: &str) -> Result<Deleted, ClientError> {
        self.send::<r::DeleteAttachPoint>(&[id], None, None).await
    }
    pub async fn create_connection(
        &self,
        req: &CreateConnectionRequest,
    ) -> Result<ConnectionView, ClientError> {
        self.send::<r::CreateConnection>(&[], None, Some(req)).await
    }
    pub async fn accept_connection(
        &self,
        req: &AcceptConnectionRequest,
    ) -> Result<ConnectionView, ClientError> {
        self.send::<r::AcceptConnection>(&[], None, Some(req)).await
    }
    pub async fn get_connection(&self, id: &str) -> Result<ConnectionView, ClientError> {
        self.send::<r::GetConnection>(&[id], None, None).await
    }
    /// Adds tags; answers all the connection's tags.
    pub async fn tag_connection(
        &self,
        id: &str,
        tags: xc_types::Tags,
    ) -> Result<TagRequest, ClientError> {
        self.send::<r::TagConnection>(&[id], None, Some(&TagRequest { tags }))
            .await
    }
    /// Removes tags by key (any key, commas included); answers the tags left. Not found when
    /// no key matched.
    pub async fn untag_connection(
        &self,
        id: &str,
        keys: &[&str],
    ) -> Result<TagRequest, ClientError> {
        let q = UntagQuery {
            keys: keys.iter().map(|k| k.to_string()).collect(),
        };
        self.send::<r::UntagConnection>(&[id], Some(&q), None).await
    }
    pub async fn list_connections(
        &self,
        q: &ListConnectionsQuery,
    ) -> Result<ConnectionList, ClientError> {
        self.send::<r::ListConnections>(&[], Some(q), None).await
    }
    pub async fn update_connection(
        &self,
        id: &str,
        req: &UpdateConnectionRequest,
    ) -> Result<ConnectionView, ClientError> {
        self.send::<r::UpdateConnection>(&[id], None, Some(req))
            .await
    }
    pub async fn delete_connection(&self, id: &str) -> Result<ConnectionView, ClientError> {
        self.send::<r::DeleteConnection>(&[id], None, None).await
    }
    pub async fn create_proposal(
        &self,
        req: &CreateProposalRequest,
    ) -> Result<ProposalView, ClientError> {
        self.send::<r::CreateProposal>(&[], None, Some(req)).await
    }
    pub async fn list_proposals(&self) -> Result<ProposalList, ClientError> {
        self.send::<r::ListProposals>(&[], None, None).await
    }
    pub async fn withdraw_proposal(&self, id: &str) -> Result<ProposalView, ClientError> {
        self.send::<r::WithdrawProposal>(&[id], None, None).await
    }
    pub async fn describe_proposal(&self, key: &str) -> Result<ProposalDescription, ClientError> {
        let req = DescribeProposalRequest {
            activation_key: key.to_owned(),
        };
        self.send::<r::DescribeProposal>(&[], None, Some(&req))
            .await
    }
    pub async fn connection_events(
        &self,
        id: &str,
    ) -> Result<xc_types::api::ConnectionEvents, ClientError> {
        self.send::<r::ConnectionHistory>(&[id], None, None).await
    }
    pub async fn list_events(
        &self,
        q: &events::EventsQuery,
    ) -> Result<events::EventList, ClientError> {
        self.send::<r::ListEvents>(&[], Some(q), None).await
    }
    pub async fn create_alarm(
        &self,
        req: &alarms::CreateAlarmRequest,
    ) -> Result<alarms::AlarmView, ClientError> {
        self.send::<r::CreateAlarm>(&[], None, Some(req)).await
    }
    pub async fn list_alarms(
        &self,
        q: &alarms::ListAlarmsQuery,
    ) -> Result<alarms::AlarmList, ClientError> {
        self.send::<r::ListAlarms>(&[], Some(q), None).await
    }
    pub async fn get_alarm(&self, id: &str) -> Result<alarms::AlarmView, ClientError> {
        self.send::<r::GetAlarm>(&[id], None, None).await
    }
    pub async fn alarm_history(&self, id: &str) -> Result<alarms::AlarmHistory, ClientError> {
        self.send::<r::GetAlarmHistory>(&[id], None, None).await
    }
    pub async fn update_alarm(
        &self,
        id: &str,
        req: &alarms::UpdateAlarmRequest,
    ) -> Result<alarms::AlarmView, ClientError> {
        self.send::<r::UpdateAlarm>(&[id], None, Some(req)).await
    }
    pub async fn delete_alarm(&self, id: &str) -> Result<Deleted, ClientError> {
        self.send::<r::DeleteAlarm>(&[id], None, None).await
    }
    pub async fn create_webhook(
        &self,
        req: &alarms::CreateWebhookRequest,
    ) -> Result<alarms::WebhookView, ClientError> {
        self.send::<r::CreateWebhook>(&[], None, Some(req)).await
    }
    pub async fn list_webhooks(&self) -> Result<alarms::WebhookList, ClientError> {
        self.send::<r::ListWebhooks>(&[], None, None).await
    }
    pub async fn get_webhook(&self, id: &str) -> Result<alarms::WebhookView, ClientError> {
        self.send::<r::GetWebhook>(&[id], None, None).await
    }
    pub async fn delete_webhook(&self, id: &str) -> Result<Deleted, ClientError> {
        self.send::<r::DeleteWebhook>(&[id], None, None).await
    }
    pub async fn webhook_deliveries(&self, id: &str) -> Result<alarms::DeliveryList, ClientError> {
        self.send::<r::WebhookDeliveries>(&[id], None, None).await
    }
    pub async fn connection_metrics(
        &self,
        id: &str,
        q: &xc_types::api::metrics::MetricsQuery,
    ) -> Result<xc_types::api::metrics::MetricsResponse, ClientError> {
        self.send::<r::ConnectionMetrics>(&[id], Some(q), None)
            .await
    }
    pub async fn connection_links(
        &self,
        id: &str,
    ) -> Result<xc_types::gateway::LinksResponse, ClientError> {
        self.send::<r::ConnectionLinks>(&[id], None, None).await
    }
    pub async fn test_connection(
        &self,
        id: &str,
        req: &xc_types::gateway::TestConnectionRequest,
    ) -> Result<xc_types::gateway::TestResult, ClientError> {
        self.send::<r::TestConnection>(&[id], None, Some(req)).await
    }
    pub async fn create_gateway_token(
        &self,
        req: &xc_types::gateway::TokenRequest,
    ) -> Result<xc_types::gateway::TokenResponse, ClientError> {
        self.send::<r::CreateGatewayToken>(&[], None, Some(req))
            .await
    }
    pub async fn list_gateways(&self) -> Result<xc_types::gateway::GatewayList, ClientError> {
        self.send::<r::ListGateways>(&[], None, None).await
    }
    pub async fn get_gateway(
        &self,
        id: &str,
    ) -> Result<xc_types::gateway::GatewayView, ClientError> {
        self.send::<r::GetGateway>(&[id], None, None).await
    }
    pub async fn delete_gateway(&self, id: &str) -> Result<Deleted, ClientError> {
        self.send::<r::DeleteGateway>(&[id], None, None).await
    }
}

/// A query string (`?a=1&b=x`) of the members of `q` that are set.
fn query_string<Q: Serialize>(q: &Q) -> Result<String, ClientError> {
    let v = serde_json::to_value(q).map_err(|e| ClientError::Decode(e.to_string()))?;
    let mut parts = Vec::new();
    if let Some(map) = v.as_object() {
        for (k, v) in map {
            let values = match v {
                serde_json::Value::Null => continue,
                // A list is the parameter repeated.
                serde_json::Value::Array(items) => items.clone(),
                one => vec![one.clone()],
            };
            for v in values {
                let value = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                parts.push(format!("{k}={}", encode_query(&value)));
            }
        }
    }
    Ok(if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    })
}

/// The gateway's side of the gateway API: registration, then the configuration (a blocking
/// query) and reports with the gateway's credential.
#[derive(Clone)]
pub struct GatewayClient {
    http: reqwest::Client,
    endpoint: String,
    credential: Option<String>,
}

impl std::fmt::Debug for GatewayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl GatewayClient {
    pub fn new(endpoint: &str) -> Result<Self, ClientError> {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        reqwest::Url::parse(&endpoint).map_err(|e| ClientError::Transport {
            endpoint: endpoint.clone(),
            detail: format!("not a URL: {e}"),
        })?;
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .pool_idle_timeout(POOL_IDLE)
            .build()
            .map_err(|e| ClientError::Transport {
                endpoint: endpoint.clone(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            endpoint,
            credential: None,
        })
    }

    /// The control plane's URL this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Uses `<gatewayId>.<secret>` from now on.
    pub fn with_credential(mut self, gateway_id: &str, secret: &str) -> Self {
        self.credential = Some(format!("{gateway_id}.{secret}"));
        self
    }

    fn transport(&self, e: reqwest::Error) -> ClientError {
        ClientError::Transport {
            endpoint: self.endpoint.clone(),
            detail: e.without_url().to_string(),
        }
    }

    fn authed(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credential {
            Some(c) => r.bearer_auth(c),
            None => r,
        }
    }

    pub async fn register(
        &self,
        req: &xc_types::gateway::RegisterRequest,
    ) -> Result<xc_types::gateway::RegisterResponse, ClientError> {
        let resp = self
            .http
            .post(format!("{}{}", self.endpoint, r::RegisterGateway::PATH))
            .json(req)
            .timeout(std::time::Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        decode_response(&self.endpoint, resp).await
    }

    /// The configuration; with the index of the one the gateway has, waits (up to `wait`) for
    /// a different one. Read leniently: members a newer control plane added are ignored and
    /// named, so that a control plane can be upgraded before its gateways.
    pub async fn config(
        &self,
        index: Option<&str>,
        wait: std::time::Duration,
    ) -> Result<Lenient<xc_types::gateway::ConfigResponse>, ClientError> {
        let q = xc_types::gateway::ConfigQuery {
            index: index.map(str::to_owned),
            wait: Some(wait.as_secs()),
        };
        let url = format!(
            "{}{}{}",
            self.endpoint,
            r::GetGatewayConfig::PATH,
            query_string(&q)?
        );
        let resp = self
            .authed(self.http.get(url))
            .timeout(wait + std::time::Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        decode_lenient(&self.endpoint, resp).await
    }

    pub async fn test_result(&self, r: &xc_types::gateway::TestResult) -> Result<(), ClientError> {
        self.post_answer(r::ReportTestResult::PATH, r).await
    }

    /// Answers a filter dry run.
    pub async fn dry_run_answer(
        &self,
        a: &xc_types::gateway::DryRunAnswer,
    ) -> Result<(), ClientError> {
        self.post_answer(r::ReportDryRun::PATH, a).await
    }

    async fn post_answer(&self, path: &str, body: &impl Serialize) -> Result<(), ClientError> {
        let resp = self
            .authed(self.http.post(format!("{}{path}", self.endpoint)))
            .json(body)
            .timeout(std::time::Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        decode_response::<serde_json::Value>(&self.endpoint, resp)
            .await
            .map(|_| ())
    }

    /// Sends a status report; the answer says which samples the control plane holds.
    pub async fn report(
        &self,
        req: &xc_types::gateway::ReportRequest,
    ) -> Result<xc_types::gateway::ReportAck, ClientError> {
        let resp = self
            .authed(
                self.http
                    .post(format!("{}{}", self.endpoint, r::ReportGatewayStatus::PATH)),
            )
            .json(req)
            .timeout(std::time::Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        decode_response::<xc_types::gateway::ReportAck>(&self.endpoint, resp).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xc_types::gateway::ConfigResponse;

    /// A configuration from a newer control plane, with members this build does not know,
    /// is read, and the unknown members are named.
    #[test]
    fn a_newer_configuration_is_read_and_its_new_members_named() {
        let body = br#"{"index": "ab", "tests": [], "futureTop": 1, "config": {
            "schema": 2,
            "gateway": {"name": "gw-1", "colour": "red"},
            "link": [{"name": "l1", "underlay_local": "10.0.0.1:10001",
                      "underlay_remote": "10.0.0.2:10001", "vni": 1, "ckn": "00",
                      "cak": "01", "fec": "rs528"}]}}"#;
        let r: Lenient<ConfigResponse> = decode_json_lenient(body).expect("readable");
        assert_eq!(r.value.config.schema, 2);
        assert_eq!(r.value.config.link[0].name, "l1");
        assert_eq!(
            r.ignored,
            vec![
                "futureTop".to_owned(),
                "config.gateway.colour".to_owned(),
                "config.link[0].fec".to_owned()
            ]
        );
        let strict = serde_json::from_slice::<ConfigResponse>(body);
        assert!(
            strict.is_ok(),
            "the schema itself does not refuse them either"
        );
    }
}

/// The events of `GET /v1/events/stream` as they come.
#[derive(Debug)]
pub struct EventStream {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

/// How long a connection waits in the pool for its next request: well under the server's idle
/// timeout (60 s by default), so that the client, not the server, closes an idle connection and
/// a request never goes out on one the server is closing.
const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(20);

/// The longest server-sent event kept while it arrives.
const MAX_SSE_EVENT: usize = 1 << 20;

impl EventStream {
    /// The next event; none once the server ends the stream.
    pub async fn next(&mut self) -> Result<Option<events::Event>, ClientError> {
        loop {
            // An event ends with a blank line; its `data:` lines hold the JSON.
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..end + 2).collect();
                let text = String::from_utf8_lossy(&block);
                let data: Vec<&str> = text
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|d| d.strip_prefix(' ').unwrap_or(d))
                    .collect();
                if data.is_empty() {
                    continue; // a comment (keep-alive)
                }
                return serde_json::from_str(&data.join("\n"))
                    .map(Some)
                    .map_err(|e| ClientError::Decode(format!("an event: {e}")));
            }
            if self.buf.len() > MAX_SSE_EVENT {
                return Err(ClientError::Decode("an event of more than 1 MiB".into()));
            }
            match self.resp.chunk().await {
                Ok(Some(c)) => self.buf.extend(c.iter().filter(|&&b| b != b'\r')),
                Ok(None) => return Ok(None),
                Err(e) => return Err(ClientError::Decode(e.without_url().to_string())),
            }
        }
    }
}
