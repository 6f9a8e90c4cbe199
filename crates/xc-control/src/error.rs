//! The service layer's one error type. Each front-end maps it to its wire form in one place.

use xc_store::StoreError;
use xc_types::StateReasonCode;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input that breaks a rule; `field` names the request member.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// Unknown id, or one the caller may not see (the two are indistinguishable on purpose).
    #[error("{what} {id} was not found")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    AccessDenied(String),
    /// The request is valid but conflicts with the state of a resource.
    #[error("{0}")]
    Conflict(String),
    /// A refusal with a reason code of its own (`PREFIX_OVERLAP`): about a request member
    /// (`field`), or about the state of resources.
    #[error("{message} ({code})")]
    Refused {
        code: StateReasonCode,
        field: Option<String>,
        message: String,
    },
    #[error("{0}")]
    QuotaExceeded(String),
    /// Too many attempts: the next one is looked at after `retry_after_secs`.
    #[error("too many failed attempts: retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: i64 },
    /// The access key sent more requests than its rate allows (see [`crate::rate`]).
    #[error(
        "this access key is over its request rate: retry in {retry_after_secs} s (the operator sets the rates)"
    )]
    RateExceeded { retry_after_secs: i64 },
    /// The request was valid but could not be carried out now, and nothing of it was done; a
    /// retry succeeds once the cause is gone (the server's disk is full).
    #[error("{message}")]
    Unavailable {
        code: StateReasonCode,
        message: String,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn validation(field: &str, message: impl std::fmt::Display) -> Self {
        Self::Validation {
            field: field.to_owned(),
            message: message.to_string(),
        }
    }
    pub fn not_found(what: &'static str, id: impl std::fmt::Display) -> Self {
        Self::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unwritable(u) => {
                tracing::error!(
                    "a write was refused: {u}; nothing was written, the data is intact; the server answers 503 until the operator makes room"
                );
                Self::Unavailable {
                    code: StateReasonCode::StorageUnavailable,
                    message: format!(
                        "the server cannot store anything now ({u}): nothing was changed; retry later"
                    ),
                }
            }
            StoreError::Unreachable(why) => {
                tracing::error!(
                    "the database cannot be reached ({why}); the server answers 503 until it is back"
                );
                Self::Unavailable {
                    code: StateReasonCode::StorageUnavailable,
                    message:
                        "the server cannot reach its database now: nothing was changed; retry later"
                            .into(),
                }
            }
            e => {
                tracing::error!(error = %e, "store error");
                Self::Internal(e.to_string())
            }
        }
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
