//! The web console, served by the server itself: a single-page application embedded in the
//! binary (`console/`: HTML, one script, one style sheet, and uPlot for the charts, vendored in
//! `console/vendor/` as its release publishes it; no build step), its sign-in and sign-out, and
//! the headers that keep it safe (a strict CSP, no framing, no sniffing).
//!
//! The console calls the native API (`/v1/...`) like any client, authenticated by its session
//! cookie instead of a signature (see [`crate::auth`]).

use crate::audit::{Slot, Who};
use crate::auth::{SESSION_COOKIE, cookie};
use crate::error::ApiError;
use crate::extract::{Body, Id, Q, Source};
use crate::{AppState, Reply};
use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::Digest;
use std::sync::LazyLock;
use xc_types::api::audit::PrincipalKind;

const INDEX: &str = include_str!("../console/index.html");

/// The page's assets: the name the page uses, the body and its type.
const ASSETS: [(&str, &str, &str); 4] = [
    (
        "app.js",
        include_str!("../console/app.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "app.css",
        include_str!("../console/app.css"),
        "text/css; charset=utf-8",
    ),
    // uPlot 1.6.32 (MIT, console/vendor/uPlot.LICENSE): the charts.
    (
        "uplot.js",
        include_str!("../console/vendor/uPlot.iife.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "uplot.css",
        include_str!("../console/vendor/uPlot.min.css"),
        "text/css; charset=utf-8",
    ),
];

/// A content hash per asset: the page names `app.js?v=<hash>`, which may then be cached for
/// good; the page itself is revalidated every time.
static VERSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|(_, body, _)| hex::encode(&sha2::Sha256::digest(body.as_bytes())[..6]))
        .collect()
});

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { redirect("/console/") }))
        .route("/console/", get(index))
        .route("/console/assets/{file}", get(asset))
        .route("/console/api/sign-in", post(sign_in))
        .route("/console/api/sign-out", post(sign_out))
        .route("/console/api/session", get(session))
}

fn redirect(to: &'static str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    r
}

/// The headers every console response carries.
fn secure(mut r: Response, cache: &'static str) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

async fn index() -> Response {
    let mut page = INDEX.to_owned();
    for ((name, _, _), version) in ASSETS.iter().zip(VERSIONS.iter()) {
        page = page.replace(
            &format!("{{{{{name}}}}}"),
            &format!("/console/assets/{name}?v={version}"),
        );
    }
    let mut r = page.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(r, "no-cache")
}

async fn asset(Id(file): Id, Q(q): Q<std::collections::HashMap<String, String>>) -> Response {
    let Some(((_, body, ctype), version)) = ASSETS
        .iter()
        .zip(VERSIONS.iter())
        .find(|((name, _, _), _)| *name == file)
    else {
        return secure(StatusCode::NOT_FOUND.into_response(), "no-store");
    };
    let mut r = (*body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    // Only the current version is cached for good; any other name is revalidated.
    let cache = if q.get("v") == Some(version) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    secure(r, cache)
}

/// A sign-in is two short strings.
const SIGN_IN_MAX_BODY: usize = 4096;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignIn {
    access_key_id: String,
    secret_access_key: String,
}

/// Who is signed in, as the console shows it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionView {
    signed_in: bool,
    account_id: String,
    account_name: String,
    access_key_id: String,
    role: String,
    operator: bool,
    csrf_token: String,
}

fn view(caller: &xc_control::Caller, csrf: String) -> SessionView {
    SessionView {
        signed_in: true,
        account_id: caller.account.to_string(),
        account_name: caller.account_name.clone(),
        access_key_id: caller.key.to_string(),
        role: serde_json::to_value(caller.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        operator: caller.is_operator(),
        csrf_token: csrf,
    }
}

/// Whether the browser reached us over HTTPS (directly, or through a proxy that says so).
fn https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
        || headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|o| o.starts_with("https://"))
}

fn session_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let c = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn sign_in(
    State(s): State<AppState>,
    Source(source): Source,
    slot: Option<Extension<Slot>>,
    headers: HeaderMap,
    Body(body): Body<SIGN_IN_MAX_BODY>,
) -> Response {
    let req: SignIn = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(_) => {
            return secure(
                ApiError::validation("body", "give accessKeyId and secretAccessKey")
                    .into_response(),
                "no-store",
            );
        }
    };
    match s
        .service
        .sign_in(&req.access_key_id, &req.secret_access_key, source)
        .await
    {
        Ok(session) => {
            if let Some(Extension(slot)) = slot {
                slot.note(Who::caller(&session.caller, PrincipalKind::ConsoleSession));
            }
            let mut r =
                Reply::json(200, &view(&session.caller, session.csrf.clone())).into_response();
            r.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(&session.token, xc_control::SESSION_SECS, https(&headers)),
            );
            secure(r, "no-store")
        }
        Err(e) => secure(ApiError::from(e).into_response(), "no-store"),
    }
}

/// Ends the session on the server (its cookie and CSRF token stop working everywhere) and
/// clears the cookie.
async fn sign_out(
    State(s): State<AppState>,
    slot: Option<Extension<Slot>>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        // Whose session ends, for the audit trail (an unknown one ends nothing).
        if let (Ok(Some(caller)), Some(Extension(slot))) = (s.service.session(token).await, &slot) {
            slot.note(Who::caller(&caller, PrincipalKind::ConsoleSession));
        }
        if let Err(e) = s.service.sign_out(token).await {
            return secure(ApiError::from(e).into_response(), "no-store");
        }
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0, https(&headers)));
    secure(r, "no-store")
}

/// Who is signed in: `{"signedIn": false}` when nobody is (not an error: the console asks this
/// first, on every load).
async fn session(
    State(s): State<AppState>,
    slot: Option<Extension<Slot>>,
    headers: HeaderMap,
) -> Response {
    let nobody = || {
        secure(
            Reply::json(200, &serde_json::json!({ "signedIn": false })).into_response(),
            "no-store",
        )
    };
    let Some(token) = cookie(&headers, SESSION_COOKIE) else {
        return nobody();
    };
    match s.service.session(token).await {
        Ok(Some(caller)) => {
            if let Some(Extension(slot)) = slot {
                slot.note(Who::caller(&caller, PrincipalKind::ConsoleSession));
            }
            let csrf = s.service.csrf_token(token);
            secure(
                Reply::json(200, &view(&caller, csrf)).into_response(),
                "no-store",
            )
        }
        Ok(None) => nobody(),
        Err(e) => secure(ApiError::from(e).into_response(), "no-store"),
    }
}
