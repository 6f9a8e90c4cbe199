//! The catalog: facilities and environments, loaded from TOML (`examples/catalog.toml` is both the
//! documented example and the built-in default).

use std::collections::{BTreeMap, BTreeSet};
use xc_types::{
    Bandwidth, Environment, EnvironmentId, EnvironmentState, Facility, ProductType, Provider,
    RemoteIdentifierType,
};

/// The default catalog, compiled in.
pub const DEFAULT_CATALOG: &str = include_str!("../../../examples/catalog.toml");

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog is not valid TOML or has unknown keys: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("catalog: {0}")]
    Invalid(String),
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    currency: String,
    #[serde(default)]
    facility: Vec<Facility>,
    #[serde(default)]
    price_list: BTreeMap<String, BTreeMap<String, f64>>,
    #[serde(default)]
    price_change: Vec<PriceChangeEntry>,
    #[serde(default)]
    comparator: ComparatorEntries,
    #[serde(default)]
    sla: Option<SlaEntry>,
    #[serde(default)]
    environment: Vec<EnvironmentEntry>,
}

/// The key of a price list that is the data-transfer price per GB, not a bandwidth's.
const PER_GB_KEY: &str = "data_transfer_per_gb";

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceChangeEntry {
    price_list: String,
    /// A UTC date (`2026-11-15`): the prices apply from its first second on.
    effective: String,
    #[serde(default)]
    prices: BTreeMap<String, f64>,
    data_transfer_per_gb: Option<f64>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ComparatorEntries {
    vpn: Option<VpnComparator>,
    public: Option<PublicComparator>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaEntry {
    target_percent: f64,
    credits: Vec<SlaCredit>,
    maintenance_notice_hours: Option<u32>,
}

/// What the same traffic would cost over a site-to-site VPN: `connections` of it (one per
/// `tunnel_mbps` of the bandwidth, rounded up) by the hour, and the data out by the GB.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpnComparator {
    pub name: String,
    pub hourly: f64,
    pub per_gb: f64,
    pub tunnel_mbps: u64,
}

/// What the same data would cost sent over the public internet, by the GB.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicComparator {
    pub name: String,
    pub per_gb: f64,
}

/// A credit tier of the SLA: availability below `below_percent` earns `credit_percent` of the
/// month's connection charges back.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaCredit {
    pub below_percent: f64,
    pub credit_percent: f64,
}

/// The operator's availability commitment per connection and month.
#[derive(Debug, Clone, PartialEq)]
pub struct Sla {
    pub target_percent: f64,
    /// Highest `below_percent` first.
    pub credits: Vec<SlaCredit>,
    /// How long before it begins a maintenance window must be announced to be left out of the
    /// availability (seconds).
    pub maintenance_notice_secs: i64,
}

impl Default for Sla {
    /// AWS's: 99.99%, with 10% back below it, 25% below 99.0% and 100% below 95.0%; maintenance
    /// announced a day ahead is left out.
    fn default() -> Self {
        let tier = |below_percent, credit_percent| SlaCredit {
            below_percent,
            credit_percent,
        };
        Self {
            target_percent: 99.99,
            credits: vec![tier(99.99, 10.0), tier(99.0, 25.0), tier(95.0, 100.0)],
            maintenance_notice_secs: 24 * 3600,
        }
    }
}

impl Sla {
    /// The share of the month's connection charges credited at `availability` (percent).
    pub fn credit_percent(&self, availability: f64) -> f64 {
        self.credits
            .iter()
            .filter(|t| availability < t.below_percent)
            .map(|t| t.credit_percent)
            .fold(0.0, f64::max)
    }
}

/// An environment's prices from a moment on: per hour by bandwidth (Mbps), and per GB of data
/// transfer.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    pub from: i64,
    pub hourly: BTreeMap<u64, f64>,
    pub per_gb: f64,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvironmentEntry {
    id: String,
    cloud_service_provider: Option<String>,
    last_mile_provider: Option<String>,
    location: String,
    product_type: String,
    state: EnvironmentState,
    state_message: Option<String>,
    facilities: Vec<String>,
    bandwidths: Vec<String>,
    available_bandwidths: Option<Vec<String>>,
    billing_tier: u8,
    price_list: String,
    remote_identifier_type: RemoteIdentifierType,
    activation_page_url: Option<String>,
}

/// A validated catalog. Environments keep the order of the file.
#[derive(Debug, Clone)]
pub struct Catalog {
    facilities: Vec<Facility>,
    environments: Vec<Environment>,
    currency: String,
    /// Each environment's prices, oldest first (the first from the beginning of time).
    prices: BTreeMap<EnvironmentId, Vec<Prices>>,
    vpn: Option<VpnComparator>,
    public: Option<PublicComparator>,
    sla: Sla,
}

fn price_ok(p: f64) -> bool {
    p >= 0.0 && p.is_finite()
}

/// `2026-11-15` as the Unix time of its first second (UTC).
fn date_start(s: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &format)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp())
}

fn bandwidths(list: &[String], what: &str) -> Result<Vec<Bandwidth>, CatalogError> {
    list.iter()
        .map(|s| Bandwidth::parse(s).map_err(|e| CatalogError::Invalid(format!("{what}: {e}"))))
        .collect()
}

impl Catalog {
    pub fn default_catalog() -> Self {
        Self::parse(DEFAULT_CATALOG).expect("the built-in catalog is valid (tested)")
    }

    pub fn parse(text: &str) -> Result<Self, CatalogError> {
        let file: File = toml::from_str(text)?;
        let invalid = |m: String| CatalogError::Invalid(m);
        let mut facility_ids = BTreeSet::new();
        for f in &file.facility {
            if !facility_ids.insert(f.id.as_str()) {
                return Err(invalid(format!("facility `{}` is defined twice", f.id)));
            }
        }
        for (name, list) in &file.price_list {
            for k in list.keys() {
                if k != PER_GB_KEY && Bandwidth::parse(k).is_err() {
                    return Err(invalid(format!(
                        "price_list `{name}`: `{k}` is neither a bandwidth (1Gbps) nor {PER_GB_KEY}"
                    )));
                }
            }
        }
        for c in &file.price_change {
            let ctx = format!("price_change of `{}` on {}", c.price_list, c.effective);
            let Some(list) = file.price_list.get(&c.price_list) else {
                return Err(invalid(format!("{ctx}: unknown price_list")));
            };
            if date_start(&c.effective).is_none() {
                return Err(invalid(format!(
                    "{ctx}: effective is a date, YYYY-MM-DD (UTC)"
                )));
            }
            for (k, v) in &c.prices {
                let known = Bandwidth::parse(k)
                    .ok()
                    .is_some_and(|b| list.keys().any(|l| Bandwidth::parse(l).ok() == Some(b)));
                if !known {
                    return Err(invalid(format!(
                        "{ctx}: `{k}` is not a bandwidth the price list prices"
                    )));
                }
                if !price_ok(*v) {
                    return Err(invalid(format!(
                        "{ctx}: the price of {k} must be a non-negative number"
                    )));
                }
            }
            if c.data_transfer_per_gb.is_some_and(|g| !price_ok(g)) {
                return Err(invalid(format!(
                    "{ctx}: data_transfer_per_gb must be a non-negative number"
                )));
            }
        }
        if let Some(v) = &file.comparator.vpn
            && (!price_ok(v.hourly) || !price_ok(v.per_gb) || v.tunnel_mbps == 0)
        {
            return Err(invalid(
                "comparator.vpn: hourly and per_gb are non-negative, tunnel_mbps positive".into(),
            ));
        }
        if let Some(p) = &file.comparator.public
            && !price_ok(p.per_gb)
        {
            return Err(invalid("comparator.public: per_gb is non-negative".into()));
        }
        let sla = match file.sla {
            None => Sla::default(),
            Some(s) => {
                let pct = |v: f64| (0.0..=100.0).contains(&v);
                if !pct(s.target_percent)
                    || s.credits
                        .iter()
                        .any(|c| !pct(c.below_percent) || !pct(c.credit_percent))
                {
                    return Err(invalid(
                        "sla: target_percent, below_percent and credit_percent are 0 to 100".into(),
                    ));
                }
                let mut credits = s.credits;
                credits.sort_by(|a, b| b.below_percent.total_cmp(&a.below_percent));
                Sla {
                    target_percent: s.target_percent,
                    credits,
                    maintenance_notice_secs: i64::from(s.maintenance_notice_hours.unwrap_or(24))
                        * 3600,
                }
            }
        };
        let mut prices_of = BTreeMap::new();
        let mut environments = Vec::new();
        let mut env_ids = BTreeSet::new();
        for e in file.environment {
            let ctx = format!("environment `{}`", e.id);
            let id = EnvironmentId::parse(&e.id).map_err(|err| invalid(format!("{ctx}: {err}")))?;
            if !env_ids.insert(id.clone()) {
                return Err(invalid(format!("{ctx} is defined twice")));
            }
            let provider = match (e.cloud_service_provider, e.last_mile_provider) {
                (Some(p), None) => Provider::CloudServiceProvider(p),
                (None, Some(p)) => Provider::LastMileProvider(p),
                _ => {
                    return Err(invalid(format!(
                        "{ctx}: set exactly one of cloud_service_provider and last_mile_provider"
                    )));
                }
            };
            if provider.name().len() > 32 {
                return Err(invalid(format!(
                    "{ctx}: a provider name is at most 32 characters"
                )));
            }
            let product_type = ProductType::parse(&e.product_type)
                .map_err(|err| invalid(format!("{ctx}: {err}")))?;
            match (&provider, product_type) {
                (Provider::CloudServiceProvider(_), ProductType::Multicloud)
                | (Provider::LastMileProvider(_), ProductType::LastMile) => {}
                _ => {
                    return Err(invalid(format!(
                        "{ctx}: multicloud goes with cloud_service_provider, lastmile with last_mile_provider"
                    )));
                }
            }
            if e.facilities.len() < 2 {
                return Err(invalid(format!(
                    "{ctx}: name at least two facilities for resilience"
                )));
            }
            for f in &e.facilities {
                if !facility_ids.contains(f.as_str()) {
                    return Err(invalid(format!("{ctx}: unknown facility `{f}`")));
                }
            }
            if e.billing_tier > 8 {
                return Err(invalid(format!("{ctx}: billing_tier is 0 to 8")));
            }
            let supported = bandwidths(&e.bandwidths, &ctx)?;
            if supported.is_empty() {
                return Err(invalid(format!("{ctx}: list at least one bandwidth")));
            }
            let available = match &e.available_bandwidths {
                Some(list) => bandwidths(list, &ctx)?,
                None if e.state == EnvironmentState::Unavailable => Vec::new(),
                None => supported.clone(),
            };
            if let Some(b) = available.iter().find(|b| !supported.contains(b)) {
                return Err(invalid(format!(
                    "{ctx}: available bandwidth {b} is not in `bandwidths`"
                )));
            }
            let prices = file
                .price_list
                .get(&e.price_list)
                .ok_or_else(|| invalid(format!("{ctx}: unknown price_list `{}`", e.price_list)))?;
            let per_gb = prices.get(PER_GB_KEY).copied().unwrap_or(0.0);
            if !price_ok(per_gb) {
                return Err(invalid(format!(
                    "price_list `{}`: {PER_GB_KEY} must be a non-negative number",
                    e.price_list
                )));
            }
            let mut schedule = vec![Prices {
                from: i64::MIN,
                hourly: BTreeMap::new(),
                per_gb,
            }];
            let mut hourly_price = BTreeMap::new();
            for b in &supported {
                let key = b.to_string();
                let price = prices
                    .iter()
                    .find(|(k, _)| Bandwidth::parse(k).ok() == Some(*b))
                    .map(|(_, v)| *v)
                    .ok_or_else(|| {
                        invalid(format!(
                            "{ctx}: price_list `{}` has no price for {key}",
                            e.price_list
                        ))
                    })?;
                if !(price >= 0.0 && price.is_finite()) {
                    return Err(invalid(format!(
                        "{ctx}: the price of {key} must be a non-negative number"
                    )));
                }
                hourly_price.insert(key, price);
                schedule[0].hourly.insert(b.mbps(), price);
            }
            // Price changes of this environment's list, in date order, each over the one
            // before.
            let mut changes: Vec<&PriceChangeEntry> = file
                .price_change
                .iter()
                .filter(|c| c.price_list == e.price_list)
                .collect();
            changes.sort_by_key(|c| date_start(&c.effective));
            for c in changes {
                let from = date_start(&c.effective).unwrap_or(i64::MIN);
                let mut next = schedule
                    .last()
                    .cloned()
                    .unwrap_or_else(|| schedule[0].clone());
                next.from = from;
                for (k, v) in &c.prices {
                    let Some(b) = Bandwidth::parse(k)
                        .ok()
                        .filter(|b| next.hourly.contains_key(&b.mbps()))
                    else {
                        continue;
                    };
                    next.hourly.insert(b.mbps(), *v);
                }
                if let Some(g) = c.data_transfer_per_gb {
                    next.per_gb = g;
                }
                schedule.push(next);
            }
            prices_of.insert(id.clone(), schedule);
            if e.location.len() > 255 {
                return Err(invalid(format!(
                    "{ctx}: a location is at most 255 characters"
                )));
            }
            environments.push(Environment {
                id,
                provider,
                location: e.location,
                product_type,
                state: e.state,
                state_message: e.state_message,
                facilities: e.facilities,
                supported_bandwidths: supported,
                available_bandwidths: available,
                billing_tier: e.billing_tier,
                remote_identifier_type: e.remote_identifier_type,
                activation_page_url: e.activation_page_url,
                hourly_price,
                currency: file.currency.clone(),
            });
        }
        Ok(Self {
            facilities: file.facility,
            environments,
            currency: file.currency,
            prices: prices_of,
            vpn: file.comparator.vpn,
            public: file.comparator.public,
            sla,
        })
    }

    /// The currency of every price.
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// An environment's prices in force at `t`.
    pub fn prices_at(&self, environment: &str, t: i64) -> Option<&Prices> {
        self.prices
            .iter()
            .find(|(id, _)| id.as_str() == environment)
            .and_then(|(_, s)| s.iter().rev().find(|p| p.from <= t))
    }

    pub fn vpn(&self) -> Option<&VpnComparator> {
        self.vpn.as_ref()
    }

    pub fn public(&self) -> Option<&PublicComparator> {
        self.public.as_ref()
    }

    pub fn sla(&self) -> &Sla {
        &self.sla
    }

    pub fn environments(&self) -> &[Environment] {
        &self.environments
    }

    pub fn environment(&self, id: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.id.as_str() == id)
    }

    pub fn facilities(&self) -> &[Facility] {
        &self.facilities
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalog_mirrors_the_real_service() {
        let c = Catalog::default_catalog();
        let gcp: Vec<&str> = c
            .environments()
            .iter()
            .filter(|e| e.provider.name() == "Google Cloud")
            .map(|e| e.location.as_str())
            .collect();
        assert_eq!(
            gcp,
            [
                "us-east4",
                "us-west2",
                "us-west1",
                "europe-west2",
                "europe-west3"
            ]
        );
        let azure = c.environment("azure-eastus").expect("azure");
        assert_eq!(azure.state, EnvironmentState::Limited);
        assert_eq!(
            azure.available_bandwidths,
            [Bandwidth::parse("1Gbps").expect("bw")]
        );
        let oci = c.environment("oci-us-ashburn-1").expect("oci");
        assert_eq!(oci.state, EnvironmentState::Unavailable);
        assert!(oci.available_bandwidths.is_empty());
        assert_eq!(oci.state_message.as_deref(), Some("coming later"));
        let lumen: Vec<&str> = c
            .environments()
            .iter()
            .filter(|e| e.product_type == ProductType::LastMile)
            .map(|e| e.location.as_str())
            .collect();
        assert_eq!(lumen, ["New York", "Chicago"]);
        for e in c.environments() {
            assert!(e.facilities.len() >= 2, "{}", e.id);
            for b in &e.supported_bandwidths {
                assert!(e.hourly_price_of(*b).is_some(), "{} {b}", e.id);
            }
        }
    }

    #[test]
    fn bad_catalogs_are_refused_with_the_reason() {
        let unknown_key = "currency = \"USD\"\nbogus = 1\n";
        assert!(matches!(
            Catalog::parse(unknown_key),
            Err(CatalogError::Toml(_))
        ));
        let base = r#"
currency = "USD"
[[facility]]
id = "f1"
name = "one"
metro = "m"
[[facility]]
id = "f2"
name = "two"
metro = "m"
[price_list.p]
"1Gbps" = 1.0
[[environment]]
id = "e1"
cloud_service_provider = "Cloud"
location = "here"
product_type = "multicloud"
state = "available"
facilities = FACILITIES
bandwidths = ["1Gbps"]
billing_tier = 1
price_list = "p"
remote_identifier_type = "account"
"#;
        assert!(Catalog::parse(&base.replace("FACILITIES", r#"["f1", "f2"]"#)).is_ok());
        let one_facility = base.replace("FACILITIES", r#"["f1"]"#);
        let err = Catalog::parse(&one_facility)
            .expect_err("one facility")
            .to_string();
        assert!(err.contains("at least two facilities"), "{err}");
        let unknown = base.replace("FACILITIES", r#"["f1", "f9"]"#);
        let err = Catalog::parse(&unknown)
            .expect_err("unknown facility")
            .to_string();
        assert!(err.contains("unknown facility `f9`"), "{err}");
        let unpriced = base.replace("FACILITIES", r#"["f1", "f2"]"#).replace(
            r#"bandwidths = ["1Gbps"]"#,
            r#"bandwidths = ["1Gbps", "2Gbps"]"#,
        );
        let err = Catalog::parse(&unpriced).expect_err("unpriced").to_string();
        assert!(err.contains("no price for 2Gbps"), "{err}");
        let ok = base.replace("FACILITIES", r#"["f1", "f2"]"#);
        for (extra, needle) in [
            (
                "\n[[price_change]]\nprice_list = \"q\"\neffective = \"2026-11-15\"\n",
                "unknown price_list",
            ),
            (
                "\n[[price_change]]\nprice_list = \"p\"\neffective = \"15/11/2026\"\n",
                "YYYY-MM-DD",
            ),
            (
                "\n[[price_change]]\nprice_list = \"p\"\neffective = \"2026-11-15\"\nprices = { \"5Gbps\" = 1.0 }\n",
                "`5Gbps` is not a bandwidth the price list prices",
            ),
            (
                "\n[[price_change]]\nprice_list = \"p\"\neffective = \"2026-11-15\"\nprices = { \"1Gbps\" = -1.0 }\n",
                "non-negative",
            ),
            (
                "\n[comparator.vpn]\nname = \"v\"\nhourly = 0.05\nper_gb = 0.09\ntunnel_mbps = 0\n",
                "tunnel_mbps positive",
            ),
            (
                "\n[sla]\ntarget_percent = 120.0\ncredits = []\n",
                "0 to 100",
            ),
        ] {
            let err = Catalog::parse(&format!("{ok}{extra}"))
                .expect_err(needle)
                .to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
        let bad_key = ok.replace("\"1Gbps\" = 1.0", "\"1Gbps\" = 1.0\nbogus = 2.0");
        let err = Catalog::parse(&bad_key).expect_err("bogus").to_string();
        assert!(err.contains("`bogus` is neither a bandwidth"), "{err}");
    }

    #[test]
    fn prices_change_on_their_dates() {
        let text = format!(
            "{DEFAULT_CATALOG}\n[[price_change]]\nprice_list = \"gcp\"\neffective = \"2027-01-01\"\nprices = {{ \"1Gbps\" = 0.27 }}\ndata_transfer_per_gb = 0.02\n\
             [[price_change]]\nprice_list = \"gcp\"\neffective = \"2026-12-01\"\nprices = {{ \"10Gbps\" = 2.0 }}\n"
        );
        let c = Catalog::parse(&text).expect("catalog");
        let dec = 1_796_083_200; // 2026-12-01T00:00:00Z
        let jan = 1_798_761_600;
        let at = |t: i64| c.prices_at("gcp-us-east4", t).expect("prices").clone();
        let (before, december, january) = (at(dec - 1), at(dec), at(jan));
        assert_eq!(
            (before.hourly[&1000], before.hourly[&10_000], before.per_gb),
            (0.25, 1.95, 0.0)
        );
        assert_eq!(
            (december.hourly[&1000], december.hourly[&10_000]),
            (0.25, 2.0)
        );
        // Each change is over the one before it.
        assert_eq!(
            (
                january.hourly[&1000],
                january.hourly[&10_000],
                january.per_gb
            ),
            (0.27, 2.0, 0.02)
        );
        // Another list's environments keep their prices; the comparators and the SLA are the
        // example's.
        assert_eq!(
            c.prices_at("azure-eastus", jan).expect("azure").hourly[&1000],
            0.27
        );
        assert_eq!(c.vpn().map(|v| v.tunnel_mbps), Some(1250));
        assert_eq!(c.sla(), &Sla::default());
    }
}
