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
    environment: Vec<EnvironmentEntry>,
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
            }
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
        })
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
    }
}
