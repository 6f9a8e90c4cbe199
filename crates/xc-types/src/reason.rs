//! Every reason code a user can see, in one place: a connection's `stateReason.code`, the
//! reason a link is down, and the code of a refusal that has one (`PREFIX_OVERLAP`). Decisions
//! match on these variants; the message beside a code is for people and never decides anything.

use crate::InvalidValue;

macro_rules! reason_codes {
    ($($(#[$doc:meta])* $variant:ident = $wire:literal : $meaning:literal,)*) => {
        /// A machine-readable reason (README, "Reason codes", lists them with these meanings).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum StateReasonCode {
            $($(#[$doc])* $variant,)*
        }

        impl StateReasonCode {
            pub const ALL: &'static [StateReasonCode] = &[$(Self::$variant,)*];

            /// The wire form (`PREFIX_OVERLAP`).
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)*
                }
            }

            /// What the code means, as README documents it.
            pub fn meaning(&self) -> &'static str {
                match self {
                    $(Self::$variant => $meaning,)*
                }
            }

            pub fn parse(s: &str) -> Result<Self, InvalidValue> {
                match s {
                    $($wire => Ok(Self::$variant),)*
                    _ => Err(InvalidValue::new(format!("{s:?} is not a reason code"))),
                }
            }
        }
    };
}

reason_codes! {
    AwaitingAcceptance = "AWAITING_ACCEPTANCE":
        "requested: waiting for the remote account to accept with the activation key",
    Provisioning = "PROVISIONING":
        "accepted: the links between the two attach points are being set up",
    BandwidthChange = "BANDWIDTH_CHANGE":
        "updating: a bandwidth change is being applied",
    DeleteRequested = "DELETE_REQUESTED":
        "deleting: one of the two sides deleted the connection",
    Deleted = "DELETED":
        "deleted: the links are gone",
    ActivationKeyExpired = "ACTIVATION_KEY_EXPIRED":
        "failed: the activation key expired before the remote account accepted it",
    NoGatewayAvailable = "NO_GATEWAY_AVAILABLE":
        "an attach point (or, in last mile, the environment's facilities) has no registered gateway; after 15 minutes in pending the connection fails",
    GatewayUnreachable = "GATEWAY_UNREACHABLE":
        "a gateway of the link has not reported for over 30 seconds (stopped, or cut off from the control plane)",
    LinkNotConfigured = "LINK_NOT_CONFIGURED":
        "a gateway has not set up the link yet",
    MacsecNotSecured = "MACSEC_NOT_SECURED":
        "MKA has not installed keys both ways on the link (no MKPDU from the peer yet, or keys being agreed)",
    MacsecKeyMismatch = "MACSEC_KEY_MISMATCH":
        "the two ends of the link hold different CAKs: the peer's MKPDUs fail their ICV check",
    PathMtuReduced = "PATH_MTU_REDUCED":
        "the link is up, but the underlay between its gateways drops packets of the size their interfaces allow (a smaller MTU on the way, often a jumbo interface facing a 1500-byte switch); the link's MTU was lowered to the largest size that crosses, so senders are told 'too big' instead of losing their packets",
    BgpNotEstablished = "BGP_NOT_ESTABLISHED":
        "the BGP session over the link is not Established",
    NoRoutesReceived = "NO_ROUTES_RECEIVED":
        "the BGP session is up but accepts no prefix from the other side",
    CustomerBgpNotEstablished = "CUSTOMER_BGP_NOT_ESTABLISHED":
        "last mile: the BGP session with the customer's router is not Established",
    SiteNotConfigured = "SITE_NOT_CONFIGURED":
        "last mile: the connection has no on-premises site (created through the AWS API, whose shapes have no site fields)",
    PrefixOverlap = "PREFIX_OVERLAP":
        "refused: the prefixes of the two networks overlap",
    AddressPoolExhausted = "ADDRESS_POOL_EXHAUSTED":
        "a gateway has no free VNI, UDP port or link address left for another link",
    AsnConflict = "ASN_CONFLICT":
        "refused: the two sides (or a side and the provider's edge or the customer's router) have the same BGP AS number, so each would drop the other's routes as a loop; give one attach point another ASN",
    GatewayCredentialRefused = "GATEWAY_CREDENTIAL_REFUSED":
        "refused (401): the control plane does not know this gateway's credential (the gateway was deleted, or its state directory belongs to another control plane); start it with a new --token to register again",
    StorageUnavailable = "STORAGE_UNAVAILABLE":
        "refused with 503: the server cannot write its database now (its disk is full, or it is read-only); nothing was changed, and a retry succeeds once the operator has made room",
}

crate::string_newtype!(
    StateReasonCode,
    values = StateReasonCode::ALL.iter().map(|c| c.as_str()).collect()
);

impl StateReasonCode {
    /// A reason with this code and a message for people.
    pub fn with(self, message: impl Into<String>) -> StateReason {
        StateReason {
            code: self,
            message: message.into(),
        }
    }
}

/// A machine-readable reason with a human message, carried by `failed`, `down` and by any state
/// where the user should know why (a bare `failed` tells a user nothing to act on).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct StateReason {
    pub code: StateReasonCode,
    pub message: String,
}

impl std::fmt::Display for StateReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_has_a_meaning() {
        for c in StateReasonCode::ALL {
            assert_eq!(StateReasonCode::parse(c.as_str()), Ok(*c));
            assert!(!c.meaning().is_empty());
            let json = serde_json::to_string(c).expect("json");
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert!(StateReasonCode::parse("ICV").is_err());
    }

    /// README documents every code, with the meaning given here.
    #[test]
    fn readme_lists_every_code() {
        let readme = include_str!("../../../README.md");
        for c in StateReasonCode::ALL {
            let row = format!("| `{}` | {} |", c.as_str(), c.meaning());
            assert!(readme.contains(&row), "README lacks the row: {row}");
        }
    }
}
