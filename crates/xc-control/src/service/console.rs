//! Console sessions: an access key (id and secret) buys a browser a signed session token, kept
//! in an HttpOnly cookie, and a CSRF token derived from it that the console sends back on every
//! change. Nothing is stored: the token names the key and its expiry under the server's MAC,
//! and every request checks that the key is still active, so disabling a key ends its sessions.

use super::{Caller, Service};
use crate::{Result, ServiceError};
use base64::Engine as _;
use subtle::ConstantTimeEq;

/// How long a console session lasts.
pub const SESSION_SECS: i64 = 12 * 3600;
const PREFIX: &str = "xcs1.";

/// A new session: the cookie's value, the CSRF token and who signed in.
#[derive(Clone)]
pub struct ConsoleSession {
    pub token: String,
    pub csrf: String,
    pub expires_at: i64,
    pub caller: Caller,
}

impl std::fmt::Debug for ConsoleSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSession")
            .field("caller", &self.caller)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl Service {
    /// Checks an access key's secret and opens a session for it.
    pub async fn sign_in(&self, access_key_id: &str, secret: &str) -> Result<ConsoleSession> {
        let denied = || ServiceError::AccessDenied("unknown access key or wrong secret".into());
        let (caller, expected) = self
            .credentials_for(access_key_id.trim())
            .await?
            .ok_or_else(denied)?;
        if !bool::from(expected.as_slice().ct_eq(secret.trim().as_bytes())) {
            return Err(denied());
        }
        let expires_at = self.now() + SESSION_SECS;
        let nonce: [u8; 12] = rand::random();
        let body = format!("{}|{expires_at}|{}", caller.key, b64(&nonce));
        let mac = self.secrets.session_mac(body.as_bytes());
        let token = format!("{PREFIX}{}.{}", b64(body.as_bytes()), b64(&mac));
        let csrf = self.csrf_token(&token);
        tracing::info!(account = %caller.account, key = %caller.key, "console sign-in");
        Ok(ConsoleSession {
            token,
            csrf,
            expires_at,
            caller,
        })
    }

    /// The caller behind a session token, if it is genuine, unexpired, and its key still active.
    pub async fn session(&self, token: &str) -> Result<Option<Caller>> {
        let Some(rest) = token.strip_prefix(PREFIX) else {
            return Ok(None);
        };
        let Some((body, mac)) = rest.split_once('.') else {
            return Ok(None);
        };
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (Ok(body), Ok(mac)) = (engine.decode(body), engine.decode(mac)) else {
            return Ok(None);
        };
        let expected = self.secrets.session_mac(&body);
        if !bool::from(expected.as_slice().ct_eq(&mac)) {
            return Ok(None);
        }
        let Ok(body) = String::from_utf8(body) else {
            return Ok(None);
        };
        let mut parts = body.split('|');
        let (Some(key), Some(expires)) = (parts.next(), parts.next()) else {
            return Ok(None);
        };
        if expires.parse::<i64>().map_or(true, |e| e <= self.now()) {
            return Ok(None);
        }
        Ok(self.credentials_for(key).await?.map(|(c, _)| c))
    }

    /// The CSRF token of a session: changes with it, and only the server can make it.
    pub fn csrf_token(&self, session_token: &str) -> String {
        b64(&self
            .secrets
            .session_mac(format!("csrf|{session_token}").as_bytes()))
    }

    /// Whether `presented` is the CSRF token of `session_token` (constant time).
    pub fn csrf_ok(&self, session_token: &str, presented: &str) -> bool {
        self.csrf_token(session_token)
            .as_bytes()
            .ct_eq(presented.as_bytes())
            .into()
    }
}
