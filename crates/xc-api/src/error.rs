//! [`ApiError`]: every failure an API answers with, and its one mapping to the AWS error shapes
//! and HTTP statuses (`__type`, message) and to the native error body.

use xc_control::ServiceError;
use xc_sigv4::Error as SigError;

/// `Retry-After` of a 503 for a store that cannot be reached or written: a database restart
/// or failover takes seconds.
pub const UNAVAILABLE_RETRY_SECS: i64 = 2;

/// The namespace of the AWS Interconnect shapes, used in `__type`.
pub const NAMESPACE: &str = "com.amazonaws.interconnect";

#[derive(Debug)]
pub enum ApiError {
    Service(ServiceError),
    /// The request could not be decoded (bad JSON/CBOR, wrong type for a member).
    Serialization(String),
    /// Authentication failed: a missing, malformed, unknown or wrong signature.
    Auth(AuthFailure),
    UnknownOperation(String),
    /// A body over the route's limit.
    TooLarge {
        limit: usize,
    },
    /// A body that did not arrive in time.
    BodyTimeout {
        limit: std::time::Duration,
    },
    /// No route has this path.
    NoRoute {
        method: String,
        path: String,
    },
    /// The path is a route, the method is not one of its.
    MethodNotAllowed {
        method: String,
        path: String,
    },
}

#[derive(Debug)]
pub enum AuthFailure {
    Missing,
    UnknownKey,
    Signature(SigError),
    /// A console session that is unknown, expired, or whose key was disabled.
    Session,
    /// A change through a console session without its CSRF token.
    Csrf,
    /// A gateway API request without its `Authorization: Bearer` credential.
    GatewayCredentialMissing,
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        Self::Service(e)
    }
}

impl ApiError {
    pub fn validation(field: &str, message: impl std::fmt::Display) -> Self {
        Self::Service(ServiceError::validation(field, message))
    }

    /// The reason code of a refusal that has one.
    pub fn reason(&self) -> Option<xc_types::StateReasonCode> {
        match self {
            Self::Service(ServiceError::Refused { code, .. })
            | Self::Service(ServiceError::Unavailable { code, .. }) => Some(*code),
            _ => None,
        }
    }

    /// Whether the request failed for want of valid credentials (rather than for what they may
    /// do).
    pub fn unauthenticated(&self) -> bool {
        matches!(
            self,
            Self::Auth(
                AuthFailure::Missing
                    | AuthFailure::UnknownKey
                    | AuthFailure::Signature(_)
                    | AuthFailure::Session
                    | AuthFailure::GatewayCredentialMissing
            )
        )
    }

    /// Whether a valid request conflicts with the state of a resource.
    pub fn is_conflict(&self) -> bool {
        match self {
            Self::Service(ServiceError::Conflict(_)) => true,
            // Refusals with a reason: an expired activation key, overlapping address space, an
            // ASN clash. Not a gateway's refused credential: that one is authentication (401).
            Self::Service(ServiceError::Refused { code, .. }) => {
                *code != xc_types::StateReasonCode::GatewayCredentialRefused
            }
            _ => false,
        }
    }

    /// Whether the connection is closed after this answer (`Connection: close`): the request's
    /// body was left unread, so the connection cannot carry another request.
    pub fn closes_connection(&self) -> bool {
        matches!(self, Self::TooLarge { .. } | Self::BodyTimeout { .. })
    }

    /// Seconds a client should wait before trying again (`Retry-After`), when it must.
    /// (A 503 for the store names [`UNAVAILABLE_RETRY_SECS`].)
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            Self::Service(
                ServiceError::Throttled { retry_after_secs }
                | ServiceError::RateExceeded { retry_after_secs },
            ) => Some(*retry_after_secs),
            // The database is unreachable or cannot take writes: worth a retry soon.
            Self::Service(ServiceError::Unavailable { .. }) => Some(UNAVAILABLE_RETRY_SECS),
            _ => None,
        }
    }

    /// [`Self::parts`] for the AWS protocols: a code the service model does not have becomes
    /// the model's nearest one (the status stays, so a 503 is still retried as one).
    pub fn aws_parts(&self) -> (&'static str, u16, String) {
        let (code, status, message, _) = self.parts();
        let code = match code {
            "ServiceUnavailableException" => "InterconnectServerException",
            "RequestEntityTooLargeException" | "RequestTimeoutException" => {
                "InterconnectValidationException"
            }
            other => other,
        };
        (code, status, message)
    }

    /// The AWS error code (shape name), the HTTP status, the message, and the field it concerns.
    pub fn parts(&self) -> (&'static str, u16, String, Option<String>) {
        match self {
            Self::Service(e) => match e {
                ServiceError::Validation { field, message } => (
                    "InterconnectValidationException",
                    400,
                    format!("{field}: {message}"),
                    Some(field.clone()),
                ),
                ServiceError::NotFound { .. } => ("ResourceNotFoundException", 404, e.to_string(), None),
                ServiceError::AccessDenied(m) => ("AccessDeniedException", 403, m.clone(), None),
                ServiceError::Conflict(m) => ("InterconnectClientException", 400, m.clone(), None),
                ServiceError::Refused {
                    code: xc_types::StateReasonCode::GatewayCredentialRefused,
                    ..
                } => ("UnrecognizedClientException", 401, e.to_string(), None),
                ServiceError::Refused {
                    field: Some(field), ..
                } => (
                    "InterconnectValidationException",
                    400,
                    format!("{field}: {e}"),
                    Some(field.clone()),
                ),
                ServiceError::Refused { field: None, .. } => {
                    ("InterconnectClientException", 400, e.to_string(), None)
                }
                ServiceError::QuotaExceeded(m) => ("ServiceQuotaExceededException", 402, m.clone(), None),
                ServiceError::Throttled { .. } | ServiceError::RateExceeded { .. } => {
                    ("ThrottlingException", 429, e.to_string(), None)
                }
                ServiceError::Unavailable { message, .. } => (
                    "ServiceUnavailableException",
                    503,
                    message.clone(),
                    None,
                ),
                ServiceError::Internal(_) => (
                    "InterconnectServerException",
                    500,
                    "internal error; the server log has the details".to_owned(),
                    None,
                ),
            },
            Self::Serialization(m) => ("InterconnectValidationException", 400, m.clone(), None),
            Self::TooLarge { limit } => (
                "RequestEntityTooLargeException",
                413,
                format!("the request body is over {limit} bytes"),
                None,
            ),
            Self::BodyTimeout { limit } => (
                "RequestTimeoutException",
                408,
                format!("the request body did not arrive within {} s", limit.as_secs()),
                None,
            ),
            Self::NoRoute { method, path } => (
                "UnknownOperationException",
                404,
                format!("no route {method} {path}; /v1/openapi.json lists them"),
                None,
            ),
            Self::MethodNotAllowed { method, path } => (
                "UnknownOperationException",
                405,
                format!("{path} does not take {method}; the Allow header says what it takes"),
                None,
            ),
            Self::UnknownOperation(op) => (
                "UnknownOperationException",
                400,
                format!("unknown operation `{op}`"),
                None,
            ),
            Self::Auth(AuthFailure::Missing) => (
                "MissingAuthenticationTokenException",
                403,
                "the request is not signed: sign it with AWS Signature Version 4 (an access key of this server)".to_owned(),
                None,
            ),
            Self::Auth(AuthFailure::UnknownKey) => (
                "UnrecognizedClientException",
                403,
                "the security token included in the request is invalid: unknown or disabled access key".to_owned(),
                None,
            ),
            Self::Auth(AuthFailure::Session) => (
                "UnrecognizedClientException",
                401,
                "the console session expired or its access key was disabled: sign in again".to_owned(),
                None,
            ),
            Self::Auth(AuthFailure::GatewayCredentialMissing) => (
                "MissingAuthenticationTokenException",
                401,
                "a gateway request carries Authorization: Bearer <gatewayId>.<secret>".to_owned(),
                None,
            ),
            Self::Auth(AuthFailure::Csrf) => (
                "AccessDeniedException",
                403,
                "a change through a console session needs its X-CSRF-Token header".to_owned(),
                None,
            ),
            Self::Auth(AuthFailure::Signature(e)) => match e {
                SigError::Skew { .. } => ("InvalidSignatureException", 403, format!("Signature expired: {e}"), None),
                SigError::Missing => ("MissingAuthenticationTokenException", 403, e.to_string(), None),
                SigError::Malformed(_) | SigError::UnsupportedAlgorithm => {
                    ("IncompleteSignatureException", 403, e.to_string(), None)
                }
                _ => ("InvalidSignatureException", 403, e.to_string(), None),
            },
        }
    }
}
