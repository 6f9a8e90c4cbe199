//! The control plane's service layer: every rule about accounts, the catalog, attach points,
//! connections and proposals lives here, once, behind [`Service`]. Both API front-ends (the AWS
//! protocols and the native `/v1` API) call the same functions with an authenticated [`Caller`].
//!
//! Architecture invariants:
//! - No HTTP and no SQL here: requests arrive as typed values, persistence goes through
//!   `xc_store::Store`, whose write closures make each check and the change it guards one
//!   transaction.
//! - Time comes from a [`Clock`] and randomness from `rand`, both replaceable in tests.
//! - Secrets (access-key secrets, activation keys) never reach logs or `Debug` output.

mod alarms;
pub mod audit;
pub mod billing;
pub mod catalog;
pub mod destinations;
mod error;
mod intent;
mod metrics;
pub mod planner;
pub mod rate;
mod reconciler;
pub mod secrets;
mod service;
pub mod share;
#[cfg(test)]
mod test_fixture;
pub mod throttle;
pub mod tokens;

pub use catalog::Catalog;
pub use error::{Result, ServiceError};
pub use secrets::Secrets;
pub use service::*;

/// Where the service reads the time (Unix seconds).
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> i64;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock tests move by hand.
#[derive(Debug, Default)]
pub struct ManualClock(pub std::sync::atomic::AtomicI64);

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
