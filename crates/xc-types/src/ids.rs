//! Identifiers. Each validates the pattern of the AWS Interconnect model where the model has one.

use crate::{InvalidValue, string_newtype};

/// A 12-digit account id (`OwnerAccountId`: `[0-9]{12}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    /// The installation's operator account.
    pub const OPERATOR: &'static str = "000000000000";

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new("an account id is 12 digits"))
        }
    }
    pub fn operator() -> Self {
        Self(Self::OPERATOR.to_owned())
    }
    /// Builds an account id from a number below 10^12.
    pub fn from_number(n: u64) -> Self {
        Self(format!("{:012}", n % 1_000_000_000_000))
    }
    pub fn is_operator(&self) -> bool {
        self.0 == Self::OPERATOR
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(AccountId, pattern = "^[0-9]{12}$");

/// Whether a connection is multicloud (`mcc-`) or last mile (`lmcc-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProductType {
    Multicloud,
    LastMile,
}

impl ProductType {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "multicloud" => Ok(Self::Multicloud),
            "lastmile" => Ok(Self::LastMile),
            _ => Err(InvalidValue::new(
                "product type is `multicloud` or `lastmile`",
            )),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Self::Multicloud => "multicloud",
            Self::LastMile => "lastmile",
        }
    }
    /// The prefix of the connection ids of this product type.
    pub fn id_prefix(&self) -> &'static str {
        match self {
            Self::Multicloud => "mcc",
            Self::LastMile => "lmcc",
        }
    }
}
string_newtype!(ProductType, values = vec!["multicloud", "lastmile"]);

/// `(mcc|lmcc)-[a-z0-9]{8}` (`ConnectionId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(String);

impl ConnectionId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let suffix = s
            .strip_prefix("mcc-")
            .or_else(|| s.strip_prefix("lmcc-"))
            .ok_or_else(|| InvalidValue::new("a connection id is mcc-xxxxxxxx or lmcc-xxxxxxxx"))?;
        if suffix.len() == 8
            && suffix
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "a connection id is mcc- or lmcc- followed by 8 lowercase letters or digits",
            ))
        }
    }
    /// Builds an id from 8 random bytes (the caller supplies the randomness).
    pub fn from_random(kind: ProductType, random: [u8; 8]) -> Self {
        const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let suffix: String = random
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
            .collect();
        Self(format!("{}-{suffix}", kind.id_prefix()))
    }
    pub fn product_type(&self) -> ProductType {
        if self.0.starts_with("lmcc-") {
            ProductType::LastMile
        } else {
            ProductType::Multicloud
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(ConnectionId, pattern = "^(mcc|lmcc)-[a-z0-9]{8}$");

/// `arn:aws:interconnect:<region>:<account>:connection/<id>` (`AmazonResourceName`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionArn {
    pub region: String,
    pub account: AccountId,
    pub connection: ConnectionId,
}

impl ConnectionArn {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let bad = || {
            InvalidValue::new("an ARN is arn:aws:interconnect:<region>:<account>:connection/<id>")
        };
        if !(59..=150).contains(&s.len()) {
            return Err(bad());
        }
        let mut parts = s.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some("interconnect"),
            Some(region),
            Some(account),
            Some(res),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(bad());
        };
        let partition_ok = partition
            .strip_prefix("aws")
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
        if !partition_ok || region.is_empty() {
            return Err(bad());
        }
        let account = AccountId::parse(account).map_err(|_| bad())?;
        let connection = res
            .strip_prefix("connection/")
            .and_then(|id| ConnectionId::parse(id).ok())
            .ok_or_else(bad)?;
        Ok(Self {
            region: region.to_owned(),
            account,
            connection,
        })
    }
}

impl std::fmt::Display for ConnectionArn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "arn:aws:interconnect:{}:{}:connection/{}",
            self.region, self.account, self.connection
        )
    }
}

/// A catalog environment id (`EnvironmentId`: 1 to 64 characters). We also restrict the
/// characters to `[a-z0-9-]` so ids are safe in URLs and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvironmentId(String);

impl EnvironmentId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "an environment id is 1 to 64 lowercase letters, digits or dashes",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(EnvironmentId, pattern = "^[a-z0-9-]{1,64}$");

/// A UUID in its canonical 36-character form, used for attach points and shared ids.
fn parse_uuid(s: &str, what: &str) -> Result<uuid::Uuid, InvalidValue> {
    if s.len() != 36 {
        return Err(InvalidValue::new(format!("{what} is a 36-character UUID")));
    }
    uuid::Uuid::parse_str(s)
        .map_err(|_| InvalidValue::new(format!("{what} is a 36-character UUID")))
}

macro_rules! uuid_newtype {
    ($(#[$doc:meta])* $t:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $t(uuid::Uuid);
        impl $t {
            pub fn parse(s: &str) -> Result<Self, InvalidValue> {
                parse_uuid(s, $what).map(Self)
            }
            pub fn from_bytes(b: [u8; 16]) -> Self {
                Self(uuid::Builder::from_random_bytes(b).into_uuid())
            }
            pub fn uuid(&self) -> uuid::Uuid {
                self.0
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
        impl std::str::FromStr for $t {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0.hyphenated())
            }
        }
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($t).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "format": "uuid",
                    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                })
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

uuid_newtype!(
    /// An attach point (`DirectConnectGatewayAttachPoint`: a UUID).
    AttachPointId,
    "an attach point id"
);
uuid_newtype!(
    /// The id both sides of a connection know it by (`ConnectionSharedId`).
    SharedId,
    "a shared id"
);
uuid_newtype!(
    /// A remote-initiated proposal, before it is accepted.
    ProposalId,
    "a proposal id"
);

/// An access key id: `XC` + 18 uppercase letters or digits (AWS keys are `AKIA` + 16).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessKeyId(String);

impl AccessKeyId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.len() == 20
            && s.starts_with("XC")
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "an access key id is XC followed by 18 letters or digits",
            ))
        }
    }
    pub fn from_random(random: [u8; 18]) -> Self {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let s: String = random
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
            .collect();
        Self(format!("XC{s}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(AccessKeyId, pattern = "^XC[A-Z0-9]{18}$");

macro_rules! hex_id {
    ($(#[$doc:meta])* $t:ident, $prefix:literal, $pattern:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $t(String);

        impl $t {
            pub const PREFIX: &'static str = $prefix;

            pub fn parse(s: &str) -> Result<Self, InvalidValue> {
                let ok = s
                    .strip_prefix($prefix)
                    .and_then(|h| h.strip_prefix('-'))
                    .is_some_and(|h| {
                        h.len() == 16 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                    });
                if ok {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(InvalidValue::new(format!(
                        "`{s}` is not {} ({}- and 16 hex digits)",
                        stringify!($t), $prefix
                    )))
                }
            }

            pub fn from_random(random: [u8; 8]) -> Self {
                Self(format!("{}-{}", $prefix, random.iter().map(|b| format!("{b:02x}")).collect::<String>()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        string_newtype!($t, pattern = $pattern);
    };
}

hex_id!(
    /// An alarm: `alarm-` and 16 hex digits.
    AlarmId, "alarm", "^alarm-[0-9a-f]{16}$"
);
hex_id!(
    /// A webhook: `wh-` and 16 hex digits.
    WebhookId, "wh", "^wh-[0-9a-f]{16}$"
);
hex_id!(
    /// A security group: `sg-` and 16 hex digits.
    SecurityGroupId, "sg", "^sg-[0-9a-f]{16}$"
);
hex_id!(
    /// One rule of a security group: `sgr-` and 16 hex digits.
    SecurityGroupRuleId, "sgr", "^sgr-[0-9a-f]{16}$"
);
hex_id!(
    /// A network ACL: `acl-` and 16 hex digits.
    NetworkAclId, "acl", "^acl-[0-9a-f]{16}$"
);
hex_id!(
    /// A prefix list: `pl-` and 16 hex digits.
    PrefixListId, "pl", "^pl-[0-9a-f]{16}$"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn connection_ids() {
        assert!(ConnectionId::parse("mcc-abcd1234").is_ok());
        assert!(ConnectionId::parse("lmcc-00000000").is_ok());
        for bad in [
            "mcc-ABCD1234",
            "mcc-abc",
            "xcc-abcd1234",
            "mcc-abcd12345",
            "",
            "mcc-abcd123!",
        ] {
            assert!(ConnectionId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arn_round_trip() {
        let s = "arn:aws:interconnect:us-east-1:123456789012:connection/mcc-abcd1234";
        let arn = ConnectionArn::parse(s).expect("valid");
        assert_eq!(arn.to_string(), s);
        assert_eq!(arn.account.as_str(), "123456789012");
        assert!(
            ConnectionArn::parse("arn:aws:interconnect:us-east-1:1234:connection/mcc-abcd1234")
                .is_err()
        );
        assert!(
            ConnectionArn::parse("arn:aws:s3:us-east-1:123456789012:connection/mcc-abcd1234xx")
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn generated_connection_ids_are_valid(r in any::<[u8; 8]>(), lm in any::<bool>()) {
            let kind = if lm { ProductType::LastMile } else { ProductType::Multicloud };
            let id = ConnectionId::from_random(kind, r);
            prop_assert_eq!(ConnectionId::parse(id.as_str()), Ok(id.clone()));
            prop_assert_eq!(id.product_type(), kind);
        }

        #[test]
        fn generated_access_keys_are_valid(r in any::<[u8; 18]>()) {
            let id = AccessKeyId::from_random(r);
            prop_assert_eq!(AccessKeyId::parse(id.as_str()), Ok(id.clone()));
        }

        #[test]
        fn connection_id_parser_never_panics(s in ".{0,40}") {
            let _ = ConnectionId::parse(&s);
            let _ = ConnectionArn::parse(&s);
            let _ = AccountId::parse(&s);
        }

        #[test]
        fn account_ids_are_twelve_digits(n in 0u64..1_000_000_000_000) {
            let id = AccountId::from_number(n);
            prop_assert_eq!(AccountId::parse(id.as_str()), Ok(id.clone()));
        }
    }
}
