//! Validated newtypes (ids, ARNs, prefixes, ASNs, bandwidths) and the domain records of xconnect.
//!
//! Everything here is pure: no I/O, no clock, no randomness. A value of one of these types is valid
//! by construction, so the layers above never re-check it. The native API's request and response
//! bodies live in [`api`], shared by the server, the client and the CLI.
//!
//! What this crate deliberately does not do: authorization, persistence, or anything that depends on
//! the catalog in force (whether a bandwidth is *available* in an environment is the control plane's
//! question; whether `"3Gbps"` is a bandwidth at all is this crate's).

pub mod api;
pub mod filter;
pub mod flowlog;
pub mod gateway;
mod ids;
mod model;
mod net;
mod reason;

pub use ids::*;
pub use model::*;
pub use net::*;
pub use reason::*;

/// Why a value was refused: always says what was expected, never echoes secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl InvalidValue {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// Implements `Display`, `FromStr`, `Serialize`, `Deserialize` and `JsonSchema` (a string, or
/// one of `values`) for a newtype that has `fn parse(&str) -> Result<Self, InvalidValue>` and
/// `fn as_str(&self) -> &str`.
macro_rules! string_newtype {
    ($t:ident, values = $values:expr) => {
        $crate::string_newtype!(@common $t);
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($t).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let values: Vec<&'static str> = $values;
                schemars::json_schema!({ "type": "string", "enum": values })
            }
        }
    };
    ($t:ident, pattern = $pattern:literal) => {
        $crate::string_newtype!(@common $t);
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($t).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "pattern": $pattern })
            }
        }
    };
    ($t:ident) => {
        $crate::string_newtype!(@common $t);
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($t).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string" })
            }
        }
    };
    (@common $t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $t {
            type Err = $crate::InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_newtype;
