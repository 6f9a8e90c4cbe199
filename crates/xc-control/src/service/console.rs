//! Console sessions: an access key (id and secret) buys a browser a session token, kept in an
//! HttpOnly cookie, and a CSRF token derived from it that the console sends back on every
//! change. The server keeps each session (a hash of its token, the key, its expiry), so signing
//! out ends it for good, as does disabling or deleting its key (enabling the key again revives
//! none); every request also checks that the key is still active. Failed sign-ins are logged
//! with the key id and the source address and slow further attempts ([`crate::throttle`]).

use super::{Caller, Service};
use crate::throttle::Failures;
use crate::{Result, ServiceError};
use base64::Engine as _;
use sha2::Digest as _;
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// How long a console session lasts.
pub const SESSION_SECS: i64 = 12 * 3600;
const PREFIX: &str = "xcs2.";

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

/// What the store keeps of a token.
fn token_hash(token: &str) -> Vec<u8> {
    sha2::Sha256::digest(token.as_bytes()).to_vec()
}

/// An access key id as a caller typed it, fit for a log line: at most 64 characters, escaped.
fn loggable(key: &str) -> String {
    let k: String = key.chars().take(64).collect();
    format!("{k:?}")
}

impl Service {
    /// Checks an access key's secret and opens a session for it. `source` is the address the
    /// attempt came from: failures from it, and for the key, make later attempts wait.
    pub async fn sign_in(
        &self,
        access_key_id: &str,
        secret: &str,
        source: IpAddr,
    ) -> Result<ConsoleSession> {
        let caller = self
            .verify_secret(access_key_id, secret, source, "console sign-in")
            .await?;
        let now = self.now();
        let expires_at = now + SESSION_SECS;
        let token = format!("{PREFIX}{}", b64(&rand::random::<[u8; 32]>()));
        let (hash, key) = (token_hash(&token), caller.key.clone());
        self.store
            .write(move |db| {
                db.insert_console_session(&hash, &key, now, expires_at)?;
                Ok::<_, ServiceError>(())
            })
            .await?;
        let csrf = self.csrf_token(&token);
        tracing::info!(account = %caller.account, key = %caller.key, %source, "console sign-in");
        Ok(ConsoleSession {
            token,
            csrf,
            expires_at,
            caller,
        })
    }

    /// The caller whose access key and secret these are (HTTP basic authentication, as
    /// Prometheus scrapes with), throttled and logged as console sign-ins are.
    pub async fn authenticate_basic(
        &self,
        access_key_id: &str,
        secret: &str,
        source: IpAddr,
    ) -> Result<Caller> {
        self.verify_secret(access_key_id, secret, source, "basic authentication")
            .await
    }

    /// Checks an access key's secret: failures from `source`, and for the key, make later
    /// attempts wait; each is logged with the key id and the address (`what` says where).
    async fn verify_secret(
        &self,
        access_key_id: &str,
        secret: &str,
        source: IpAddr,
        what: &str,
    ) -> Result<Caller> {
        let key_id = access_key_id.trim();
        let now = self.now();
        let wait = self
            .sign_ins
            .lock()
            .map_err(|_| ServiceError::Internal("sign-in throttle poisoned".into()))?
            .wait(key_id, source, now);
        if let Some(secs) = wait {
            tracing::warn!(key = %loggable(key_id), %source, retry_after_secs = secs, "{what} refused: too many failures");
            return Err(ServiceError::Throttled {
                retry_after_secs: secs,
            });
        }
        let known = self.credentials_for(key_id).await?;
        let verified = known.filter(|(_, expected)| {
            bool::from(expected.as_slice().ct_eq(secret.trim().as_bytes()))
        });
        let Some((caller, _)) = verified else {
            let Failures { key, address } = self
                .sign_ins
                .lock()
                .map_err(|_| ServiceError::Internal("sign-in throttle poisoned".into()))?
                .failed(key_id, source, now);
            tracing::warn!(key = %loggable(key_id), %source, key_failures = key, address_failures = address, "{what} failed: unknown access key or wrong secret");
            return Err(ServiceError::AccessDenied(
                "unknown access key or wrong secret".into(),
            ));
        };
        if let Ok(mut t) = self.sign_ins.lock() {
            t.succeeded(key_id, source);
        }
        Ok(caller)
    }

    /// The caller behind a session token: a session the server holds, unexpired, whose key is
    /// still active.
    pub async fn session(&self, token: &str) -> Result<Option<Caller>> {
        if !token.starts_with(PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        let (hash, now) = (token_hash(token), self.now());
        let key = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.console_session(&hash, now)?))
            .await?;
        let Some(key) = key else {
            return Ok(None);
        };
        Ok(self.credentials_for(key.as_str()).await?.map(|(c, _)| c))
    }

    /// Ends a session for good; whether there was one.
    pub async fn sign_out(&self, token: &str) -> Result<bool> {
        let hash = token_hash(token);
        self.store
            .write(move |db| Ok::<_, ServiceError>(db.delete_console_session(&hash)?))
            .await
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
