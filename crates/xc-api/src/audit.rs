//! The audit trail's side of HTTP: [`record`] wraps every routed request. It gives the request
//! an id (answered as `x-amzn-RequestId`, as AWS does) and a [`Slot`] that authentication fills
//! in with who the caller is ([`Slot::set`]); the response carries a [`Noted`] with its error code
//! and resource where the code that built it knew them. A request whose caller was established
//! (signed, through a console session, or a gateway's registration) is then recorded: the
//! answer goes out while its record is appended (`Service::record_soon`), so a request does not
//! wait for the disk twice. Requests that never authenticated are not recorded
//! (they are logged and counted instead), nor are a gateway's reports and configuration polls
//! (their effects are in the connection's history).

use crate::AppState;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::response::Response;
use http::HeaderValue;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use xc_control::{AuditEntry, Caller};
use xc_types::AccessKeyId;
use xc_types::AccountId;
use xc_types::api::audit::{AuditOutcome, PrincipalKind};

/// Who sent a request, once authentication knows.
#[derive(Debug, Clone)]
pub struct Who {
    pub account: AccountId,
    pub key: Option<AccessKeyId>,
    pub principal: PrincipalKind,
}

impl Who {
    pub fn caller(c: &Caller, principal: PrincipalKind) -> Self {
        Self {
            account: c.account.clone(),
            key: Some(c.key.clone()),
            principal,
        }
    }
}

/// Where authentication writes who the caller is (a request extension).
#[derive(Debug, Clone, Default)]
pub struct Slot(Arc<Mutex<Option<Who>>>);

impl Slot {
    /// Notes the caller of the request whose extensions hold the slot.
    pub fn set(extensions: &http::Extensions, who: Who) {
        if let Some(s) = extensions.get::<Slot>() {
            s.note(who);
        }
    }

    /// Notes the caller.
    pub fn note(&self, who: Who) {
        if let Ok(mut w) = self.0.lock() {
            *w = Some(who);
        }
    }

    fn take(&self) -> Option<Who> {
        self.0.lock().ok().and_then(|mut w| w.take())
    }
}

/// What a response says for its record (a response extension): the error code of a failure,
/// the resource a create made.
#[derive(Debug, Clone, Default)]
pub struct Noted {
    pub error: Option<&'static str>,
    pub resource: Option<String>,
}

impl Noted {
    pub fn error(code: &'static str) -> Self {
        Self {
            error: Some(code),
            resource: None,
        }
    }

    pub fn resource(resource: Option<String>) -> Self {
        Self {
            error: None,
            resource,
        }
    }
}

/// The resource an answer names: a connection's ARN, or another resource's id.
pub fn resource_of(v: &serde_json::Value) -> Option<String> {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    text(&v["arn"])
        .or_else(|| text(&v["connection"]["arn"]))
        .or_else(|| text(&v["id"]))
}

/// The resource an AWS operation's input names (`identifier`, `arn`).
pub fn named_in(v: &serde_json::Value) -> Option<String> {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    text(&v["identifier"]).or_else(|| text(&v["arn"]))
}

/// An operation's name as the AWS protocols carry it, or `?` when it is not one.
pub(crate) fn aws_operation(v: &str) -> &str {
    let ok = !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok { v } else { "?" }
}

/// What a request asks, by its route.
pub(crate) enum Operation<'a> {
    /// An AWS operation (either protocol).
    Aws(&'a str),
    /// A route of the native, console or gateway API: its method and path template.
    Route(&'a http::Method, &'a str),
}

impl<'a> Operation<'a> {
    pub(crate) fn of(req: &'a Request) -> Self {
        let path = req
            .extensions()
            .get::<MatchedPath>()
            .map_or("", MatchedPath::as_str);
        if path == "/" && req.method() == http::Method::POST {
            let target = req
                .headers()
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .and_then(|t| t.strip_prefix("Interconnect."))
                .unwrap_or_default();
            Self::Aws(aws_operation(target))
        } else if let Some(op) = req
            .uri()
            .path()
            .strip_prefix("/service/Interconnect/operation/")
        {
            Self::Aws(aws_operation(op))
        } else {
            Self::Route(req.method(), path)
        }
    }

    /// Its name in the trail: the AWS operation's, the route's (`CreateAttachPoint`,
    /// `ConsoleSignIn`), or the method and path template of another.
    fn name(&self) -> String {
        match self {
            Self::Aws(op) => (*op).to_owned(),
            Self::Route(method, path) => route_names()
                .get(&(method.as_str(), *path))
                .map_or_else(|| format!("{method} {path}"), |n| (*n).to_owned()),
        }
    }
}

/// The native and gateway routes' names by method and path, and the console's.
fn route_names() -> &'static HashMap<(&'static str, &'static str), &'static str> {
    static NAMES: OnceLock<HashMap<(&'static str, &'static str), &'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut m: HashMap<_, _> = xc_types::api::routes::all()
            .into_iter()
            .map(|r| ((r.method.as_str(), r.path), r.name))
            .collect();
        m.insert(("POST", "/console/api/sign-in"), "ConsoleSignIn");
        m.insert(("POST", "/console/api/sign-out"), "ConsoleSignOut");
        m.insert(("GET", "/console/api/session"), "ConsoleSession");
        m
    })
}

/// The header that carries a request's id.
const REQUEST_ID: &str = "x-amzn-requestid";

/// Gives the request its id and slot, runs it, and records it if its caller became known.
pub(crate) async fn record(
    State(s): State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let operation = Operation::of(&req).name();
    let (mut parts, body) = req.into_parts();
    let path_id = RawPathParams::from_request_parts(&mut parts, &s)
        .await
        .ok()
        .and_then(|p| {
            p.iter()
                .find(|(k, _)| *k == "id")
                .map(|(_, v)| v.to_owned())
        });
    let mut req = Request::from_parts(parts, body);
    let source = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let user_agent = req
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let slot = Slot::default();
    req.extensions_mut().insert(slot.clone());
    let mut response = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    let Some(who) = slot.take() else {
        return response;
    };
    let noted = response
        .extensions()
        .get::<Noted>()
        .cloned()
        .unwrap_or_default();
    let outcome = match noted.error {
        Some("AccessDeniedException") => AuditOutcome::Denied,
        Some("ThrottlingException") => AuditOutcome::Throttled,
        Some(_) => AuditOutcome::Failed,
        None if response.status().is_client_error() || response.status().is_server_error() => {
            AuditOutcome::Failed
        }
        None => AuditOutcome::Success,
    };
    let entry = AuditEntry {
        account: who.account,
        access_key: who.key,
        principal: who.principal,
        source,
        user_agent,
        operation,
        resource: noted.resource.or(path_id),
        outcome,
        error_code: noted.error.map(str::to_owned),
        request_id,
    };
    s.service.record_soon(entry).await;
    response
}
