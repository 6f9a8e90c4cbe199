//! The domain records the control plane keeps, and the catalog it serves.

use crate::{
    AccessKeyId, AccountId, Asn, AttachPointId, Bandwidth, ConnectionId, Description,
    EnvironmentId, InvalidValue, Prefix, ProductType, ProposalId, SharedId, StateReason, Tags,
    string_newtype,
};
use std::collections::BTreeMap;

/// Lifecycle of a connection (the AWS model's `ConnectionState`). The wire names are the
/// model's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    Requested,
    Pending,
    Available,
    Down,
    Updating,
    Deleting,
    Deleted,
    Failed,
}

impl ConnectionState {
    pub const ALL: [ConnectionState; 8] = [
        Self::Requested,
        Self::Pending,
        Self::Available,
        Self::Down,
        Self::Updating,
        Self::Deleting,
        Self::Deleted,
        Self::Failed,
    ];

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                InvalidValue::new(
                    "a state is one of available, requested, pending, down, deleting, deleted, failed, updating",
                )
            })
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Pending => "pending",
            Self::Available => "available",
            Self::Down => "down",
            Self::Updating => "updating",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
            Self::Failed => "failed",
        }
    }
    /// States from which nothing but reading is possible.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Deleted | Self::Deleting)
    }
}
string_newtype!(
    ConnectionState,
    values = ConnectionState::ALL.iter().map(|s| s.as_str()).collect()
);

/// Who started a connection: its owner (`CreateConnection`) or the remote side
/// (`CreateProposal`, then the owner's `AcceptConnectionProposal`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Initiator {
    Owner,
    Remote,
}

/// What a side announces and accepts over the connection.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum RoutingPolicy {
    /// Announce the attach point's prefixes; accept the other side's. (A variant with no
    /// members rather than a unit one: serde lets a unit variant of an internally tagged enum
    /// take any members, this refuses them.)
    Automatic {},
    /// Announce exactly `announce` (a subset of the attach point's prefixes); accept `accept`.
    Manual {
        #[schemars(length(min = 1, max = 100))]
        announce: Vec<Prefix>,
        #[schemars(length(max = 100))]
        accept: Vec<Prefix>,
    },
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        Self::Automatic {}
    }
}

impl RoutingPolicy {
    /// Checks a manual policy against the prefixes of the attach point it belongs to.
    pub fn validate(&self, attach_point_prefixes: &[Prefix]) -> Result<(), InvalidValue> {
        let RoutingPolicy::Manual { announce, accept } = self else {
            return Ok(());
        };
        if announce.is_empty() {
            return Err(InvalidValue::new(
                "a manual routing policy announces at least one prefix",
            ));
        }
        for p in announce {
            if !attach_point_prefixes.iter().any(|ap| ap.covers(p)) {
                return Err(InvalidValue::new(format!(
                    "announced prefix {p} is not within the attach point's prefixes"
                )));
            }
        }
        if accept.len() > crate::MAX_PREFIXES {
            return Err(InvalidValue::new(format!(
                "a manual policy accepts at most {} prefixes",
                crate::MAX_PREFIXES
            )));
        }
        Ok(())
    }
}

/// The installation's accounts: one operator, any number of tenants.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    Operator,
    Tenant,
}

#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub account_id: AccountId,
    pub name: String,
    pub kind: AccountKind,
    pub created_at: i64,
}

/// What an access key may do within its account.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum KeyRole {
    Admin,
    ReadOnly,
}

impl KeyRole {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "admin" => Ok(Self::Admin),
            "read-only" => Ok(Self::ReadOnly),
            _ => Err(InvalidValue::new("a role is admin or read-only")),
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Inactive,
}

/// An access key's metadata. The secret is never part of this record.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct AccessKey {
    pub access_key_id: AccessKeyId,
    pub account_id: AccountId,
    pub role: KeyRole,
    pub status: KeyStatus,
    pub created_at: i64,
}

/// A tenant's network edge (the Direct Connect gateway analogue).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct AttachPoint {
    pub id: AttachPointId,
    pub account_id: AccountId,
    pub name: String,
    pub asn: Asn,
    pub prefixes: Vec<Prefix>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The single-use, expiring grant behind an activation key. The key itself is not stored: it is
/// recomputed from this grant and the server secret when its owner reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationGrant {
    pub key_id: uuid::Uuid,
    /// The identifier the creator named as remote account (an account id, or an email).
    pub allowed: String,
    pub expires_at: i64,
}

/// How fast a connection's links find a dead link: a protected keepalive every `interval_ms`
/// on each link, and the link dead after `multiplier` intervals without a frame from the peer
/// (its carrier then goes off, and the kernel moves every route through it to the other links at
/// once). `interval_ms` 0: off, and BFD alone finds a dead link (in about 300 ms).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkLiveness {
    /// Milliseconds between keepalives: 1 to 10000, or 0 for off.
    #[schemars(range(max = 10000))]
    pub interval_ms: u32,
    /// Intervals without a frame before the link is dead: 2 to 100.
    #[schemars(range(min = 2, max = 100))]
    pub multiplier: u32,
}

impl LinkLiveness {
    /// The default: dead within 30 ms (10 ms x 3), the target. See ARCHITECTURE.md
    /// ("A link's own liveness") for why a busy machine does not flap with it.
    pub const DEFAULT: Self = Self {
        interval_ms: 10,
        multiplier: 3,
    };
    pub const OFF: Self = Self {
        interval_ms: 0,
        multiplier: Self::DEFAULT.multiplier,
    };
    /// The longest interval, in milliseconds (the shortest is 1; 0 is off).
    pub const MAX_INTERVAL_MS: u32 = 10_000;
    /// The multipliers allowed.
    pub const MULTIPLIERS: std::ops::RangeInclusive<u32> = 2..=100;

    pub fn is_on(&self) -> bool {
        self.interval_ms > 0
    }

    /// Checks the bounds; the error says which.
    pub fn validate(&self) -> Result<(), String> {
        if self.interval_ms > Self::MAX_INTERVAL_MS {
            return Err(format!(
                "intervalMs is 1 to {} (or 0 for off), not {}",
                Self::MAX_INTERVAL_MS,
                self.interval_ms
            ));
        }
        if !Self::MULTIPLIERS.contains(&self.multiplier) {
            return Err(format!(
                "multiplier is {} to {}, not {}",
                Self::MULTIPLIERS.start(),
                Self::MULTIPLIERS.end(),
                self.multiplier
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: ConnectionId,
    /// Store-assigned insertion order: the stable key that pagination walks.
    pub seq: i64,
    pub shared_id: SharedId,
    pub owner: AccountId,
    pub owner_attach_point: AttachPointId,
    pub owner_routing: RoutingPolicy,
    pub remote_account: Option<AccountId>,
    pub remote_attach_point: Option<AttachPointId>,
    pub remote_routing: Option<RoutingPolicy>,
    pub initiator: Initiator,
    pub environment: EnvironmentId,
    pub bandwidth: Bandwidth,
    /// A bandwidth change being applied (state `updating`).
    pub pending_bandwidth: Option<Bandwidth>,
    pub description: Description,
    pub state: ConnectionState,
    pub state_reason: Option<StateReason>,
    pub billing_tier: u8,
    pub grant: ActivationGrant,
    pub tags: Tags,
    pub created_at: i64,
    pub updated_at: i64,
    /// Last mile: the on-premises site (absent for multicloud, and for a last-mile connection
    /// created through the AWS API, which has no such fields).
    pub last_mile: Option<LastMile>,
    /// The links' liveness as the owner set it; none: [`LinkLiveness::DEFAULT`].
    pub link_liveness: Option<LinkLiveness>,
}

/// The on-premises side of a last-mile connection: the customer's router (CPE) on the provider's
/// fabric, reached over an 802.1Q VLAN on one or two provider edges.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastMile {
    /// The provider's circuit id or service address.
    pub circuit_id: String,
    /// Provider edges (1, or 2 in two facilities).
    pub redundancy: u8,
    pub customer_asn: Asn,
    /// What the customer router may announce (exactly these prefixes).
    pub on_premises_prefixes: Vec<Prefix>,
    pub max_prefixes: u32,
    /// 3: the edge routes (BGP with the customer router); 2: the edge bridges the VLAN onto the
    /// link and the customer router peers with the tenant's gateway.
    pub layer: u8,
    /// The 802.1Q VLAN id on the edges' customer-facing interfaces.
    pub vlan: u16,
    /// One BGP session per edge: its addresses.
    pub sessions: Vec<CustomerPeering>,
    /// The TCP MD5 password, sealed with the server's key; never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_sealed: Option<String>,
}

impl std::fmt::Debug for LastMile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LastMile")
            .field("circuit_id", &self.circuit_id)
            .field("layer", &self.layer)
            .field("vlan", &self.vlan)
            .field("md5", &self.md5_sealed.is_some())
            .finish_non_exhaustive()
    }
}

/// The addresses of one customer BGP session: the provider's side (the edge in layer 3, the
/// tenant's gateway in layer 2), with its prefix length, and the customer router's; and, when
/// the site carries IPv6 over an IPv4 session, those of the second (IPv6) session on the same
/// VLAN. A session carries the prefixes of its own address family.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPeering {
    #[schemars(with = "String")]
    pub provider_address: ipnet::IpNet,
    pub customer_address: std::net::IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub provider_address6: Option<ipnet::IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_address6: Option<std::net::IpAddr>,
}

impl CustomerPeering {
    /// The sessions on this VLAN: (provider's address with length, customer router's), the
    /// first one's family first.
    pub fn sessions(&self) -> impl Iterator<Item = (ipnet::IpNet, std::net::IpAddr)> + '_ {
        std::iter::once((self.provider_address, self.customer_address))
            .chain(self.provider_address6.zip(self.customer_address6))
    }
}

impl Connection {
    /// Whether `account` is one of the connection's two sides.
    pub fn is_party(&self, account: &AccountId) -> bool {
        &self.owner == account || self.remote_account.as_ref() == Some(account)
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProposalState {
    Open,
    Accepted,
    Withdrawn,
}

/// The remote-initiated half of a connection, waiting for its key to be redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub id: ProposalId,
    pub shared_id: SharedId,
    pub owner: AccountId,
    pub attach_point: AttachPointId,
    pub routing: RoutingPolicy,
    pub environment: EnvironmentId,
    pub bandwidth: Bandwidth,
    pub description: Option<Description>,
    pub grant: ActivationGrant,
    pub state: ProposalState,
    pub connection: Option<ConnectionId>,
    pub created_at: i64,
}

// ---- catalog ----

/// Who is on the other side of an environment.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Provider {
    CloudServiceProvider(String),
    LastMileProvider(String),
}

impl Provider {
    pub fn name(&self) -> &str {
        match self {
            Self::CloudServiceProvider(n) | Self::LastMileProvider(n) => n,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentState {
    Available,
    Limited,
    Unavailable,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RemoteIdentifierType {
    Account,
    Email,
}

#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct Facility {
    pub id: String,
    pub name: String,
    pub metro: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub id: EnvironmentId,
    pub provider: Provider,
    pub location: String,
    pub product_type: ProductType,
    pub state: EnvironmentState,
    /// Why an environment is `limited` or `unavailable`.
    pub state_message: Option<String>,
    pub facilities: Vec<String>,
    pub supported_bandwidths: Vec<Bandwidth>,
    pub available_bandwidths: Vec<Bandwidth>,
    pub billing_tier: u8,
    pub remote_identifier_type: RemoteIdentifierType,
    pub activation_page_url: Option<String>,
    /// The operator's price, per hour, for each supported bandwidth (in `currency`).
    pub hourly_price: BTreeMap<String, f64>,
    pub currency: String,
}

impl Environment {
    pub fn hourly_price_of(&self, bw: Bandwidth) -> Option<f64> {
        self.hourly_price.get(&bw.to_string()).copied()
    }
}
