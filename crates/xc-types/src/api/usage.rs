//! Usage and cost: an account's monthly statement from its metered hours (`GET /v1/usage`), the
//! operator's view of every account (`GET /v1/usage/accounts`), and a what-if against a VPN and
//! public transfer (`GET /v1/cost/compare`).

use serde::{Deserialize, Serialize};

/// `GET /v1/usage` and `GET /v1/usage/accounts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageQuery {
    /// The calendar month, `YYYY-MM` (UTC); default: this month, to date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_month")]
    pub month: Option<String>,
    /// The account (the operator; a tenant's statement is its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::optional_account_id")]
    pub account_id: Option<String>,
}

/// What a line charges for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum LineKind {
    /// Hours in a billable state at a bandwidth (`available`, `down`, `updating`).
    ConnectionHours,
    /// GB the account's side sent over the connection.
    DataTransferOut,
    /// GB it received.
    DataTransferIn,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionHours => "connection-hours",
            Self::DataTransferOut => "data-transfer-out",
            Self::DataTransferIn => "data-transfer-in",
        }
    }

    /// The unit of its quantity.
    pub fn unit(self) -> &'static str {
        match self {
            Self::ConnectionHours => "hours",
            Self::DataTransferOut | Self::DataTransferIn => "GB",
        }
    }
}

/// One line: a quantity at a unit price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatementLine {
    pub connection_id: String,
    pub kind: LineKind,
    /// The bandwidth of connection hours (`1Gbps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<String>,
    /// Hours (to the second, as a fraction) or GB (10^9 bytes).
    pub quantity: f64,
    /// `hours` or `GB`.
    pub unit: String,
    pub unit_price: f64,
    /// `quantity` x `unitPrice`, to the cent.
    pub amount: f64,
}

/// A span a connection was down (RFC 3339).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outage {
    pub start: String,
    pub end: String,
    pub minutes: f64,
}

/// What the SLA owes a connection for the month, applied to the statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatementCredit {
    pub connection_id: String,
    /// The share of its billable minutes it was not down (percent), maintenance windows
    /// announced in time left out.
    pub availability_percent: f64,
    /// Billable minutes left out for those windows.
    pub excluded_minutes: f64,
    /// What the SLA promises (percent).
    pub sla_percent: f64,
    /// The share of the connection's hour charges credited (percent).
    pub credit_percent: f64,
    /// Credited, to the cent (subtracted from the total).
    pub amount: f64,
    pub outages: Vec<Outage>,
}

/// What the same month would have cost another way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alternative {
    /// The comparator, named and dated as the catalog has it.
    pub name: String,
    pub amount: f64,
}

/// One day's charges (before credits), for a chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayAmount {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub amount: f64,
}

/// What to do about a connection's bandwidth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SizingAdvice {
    /// Its 95th percentile fits the bandwidth.
    Keep,
    /// A smaller bandwidth carries its 95th percentile within 80%, for less.
    Smaller,
    /// It runs above 90% for 5% of the month's 5-minute periods or more.
    Larger,
}

/// How a connection used its bandwidth in the month (its owner's side, the busier way, in
/// 5-minute periods), and what that suggests, with the money at stake a month at today's
/// prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RightSizing {
    pub connection_id: String,
    pub bandwidth: String,
    pub p95_bps: f64,
    /// `p95Bps` as a share of the bandwidth (percent).
    pub p95_percent: f64,
    /// The share of the periods above 90% of the bandwidth (percent).
    pub above90_percent: f64,
    pub periods: u64,
    pub advice: SizingAdvice,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_bandwidth: Option<String>,
    /// What the suggestion changes a month (negative: saved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_change: Option<f64>,
    /// The advice in words.
    pub message: String,
}

/// An account's statement for a calendar month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    pub account: String,
    /// `YYYY-MM`.
    pub month: String,
    pub currency: String,
    /// Whether the month is still running (the statement covers what is metered so far).
    pub month_to_date: bool,
    /// Every hour before this time is metered (RFC 3339).
    pub metered_through: String,
    pub lines: Vec<StatementLine>,
    pub credits: Vec<StatementCredit>,
    /// The lines' amounts summed.
    pub subtotal: f64,
    /// `subtotal` less the credits.
    pub total: f64,
    /// The same connections over a site-to-site VPN, and their data over public transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_vpn: Option<Alternative>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_public: Option<Alternative>,
    pub days: Vec<DayAmount>,
    /// Each connection's use of its bandwidth, and advice.
    pub right_sizing: Vec<RightSizing>,
}

/// An account's total for the month, in the operator's view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountTotal {
    pub account: String,
    pub subtotal: f64,
    pub credits: f64,
    pub total: f64,
}

/// Every account's total for the month, and theirs together (operator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageSummary {
    pub month: String,
    pub currency: String,
    pub month_to_date: bool,
    pub accounts: Vec<AccountTotal>,
    pub total: f64,
}

/// `GET /v1/cost/compare`: a connection that does not exist yet.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CostCompareQuery {
    #[schemars(schema_with = "super::schema::environment_id")]
    pub environment_id: String,
    /// `1Gbps`, `500Mbps`: one the environment offers.
    #[schemars(schema_with = "super::schema::bandwidth")]
    pub bandwidth: String,
    /// GB sent a month.
    #[schemars(range(min = 0.0, max = 1.0e12))]
    pub gb_per_month: f64,
}

/// One way of carrying it, a month (730 hours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WayCost {
    pub name: String,
    /// The hourly part, a month.
    pub fixed: f64,
    /// The per-GB part.
    pub per_gb: f64,
    pub total: f64,
}

/// The cost of a connection a month against the alternatives, and where it pays off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CostComparison {
    pub environment_id: String,
    pub bandwidth: String,
    pub gb_per_month: f64,
    pub currency: String,
    pub hours: f64,
    pub interconnect: WayCost,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpn: Option<WayCost>,
    /// VPN connections it takes (one per tunnel's bandwidth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpn_connections: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<WayCost>,
    /// Above this many GB a month the connection costs less than the VPN (none: it always does,
    /// or never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_even_gb_vs_vpn: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_even_gb_vs_public: Option<f64>,
}
