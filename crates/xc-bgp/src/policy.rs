//! Import policy: prefix lists with length ranges, and local preference from communities.

use ipnet::IpNet;
use std::fmt;
use std::str::FromStr;

/// One entry of a prefix list: `10.1.0.0/16` (the prefix itself or anything more specific),
/// `10.1.0.0/16 le 24` (down to /24), `10.1.0.0/16 ge 24` (only /24 and longer), or both bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixRule {
    pub prefix: IpNet,
    pub ge: u8,
    pub le: u8,
}

impl PrefixRule {
    /// The prefix and everything more specific.
    pub fn within(prefix: IpNet) -> Self {
        Self {
            prefix,
            ge: prefix.prefix_len(),
            le: prefix.max_prefix_len(),
        }
    }

    pub fn matches(&self, p: &IpNet) -> bool {
        self.prefix.contains(p) && (self.ge..=self.le).contains(&p.prefix_len())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}`: {reason} (a prefix list entry is `10.1.0.0/16`, `10.1.0.0/16 le 24` or `10.1.0.0/16 ge 20 le 24`)"
)]
pub struct PrefixRuleError {
    pub text: String,
    pub reason: String,
}

impl FromStr for PrefixRule {
    type Err = PrefixRuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| PrefixRuleError {
            text: s.to_owned(),
            reason: reason.to_owned(),
        };
        let mut words = s.split_whitespace();
        let prefix: IpNet = words
            .next()
            .ok_or_else(|| err("empty"))?
            .parse()
            .map_err(|_| err("not a prefix"))?;
        if prefix.trunc() != prefix {
            return Err(err(&format!(
                "host bits set; the prefix is {}",
                prefix.trunc()
            )));
        }
        let mut rule = Self::within(prefix);
        while let Some(w) = words.next() {
            let n: u8 = words
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| err("`ge` and `le` take a prefix length"))?;
            if n < prefix.prefix_len() || n > prefix.max_prefix_len() {
                return Err(err(&format!(
                    "{w} {n} is outside /{}../{}",
                    prefix.prefix_len(),
                    prefix.max_prefix_len()
                )));
            }
            match w {
                "ge" => rule.ge = n,
                "le" => rule.le = n,
                _ => return Err(err(&format!("unknown word `{w}`"))),
            }
        }
        if rule.ge > rule.le {
            return Err(err("ge is longer than le"));
        }
        Ok(rule)
    }
}

impl fmt::Display for PrefixRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.prefix)?;
        if self.ge != self.prefix.prefix_len() {
            write!(f, " ge {}", self.ge)?;
        }
        if self.le != self.prefix.max_prefix_len() {
            write!(f, " le {}", self.le)?;
        }
        Ok(())
    }
}

/// Which received prefixes are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportFilter {
    Any,
    List(Vec<PrefixRule>),
}

impl ImportFilter {
    /// Accepts each prefix given, and anything more specific.
    pub fn within(prefixes: &[IpNet]) -> Self {
        Self::List(prefixes.iter().map(|p| PrefixRule::within(*p)).collect())
    }

    pub fn accepts(&self, p: &IpNet) -> bool {
        match self {
            Self::Any => true,
            Self::List(list) => list.iter().any(|r| r.matches(p)),
        }
    }
}

/// The local preference of a route without a preference community.
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// Local preference from the communities AWS documents for Direct Connect: 7224:7100 (low),
/// 7224:7200 (medium, the default) and 7224:7300 (high). A customer tags the routes of the
/// standby link low, or those of the active link high. The highest one present wins.
pub fn local_pref_from_communities(communities: &[u32]) -> u32 {
    communities
        .iter()
        .filter_map(|c| match *c {
            0x1c38_1bbc => Some(50),                 // 7224:7100
            0x1c38_1c20 => Some(DEFAULT_LOCAL_PREF), // 7224:7200
            0x1c38_1c84 => Some(200),                // 7224:7300
            _ => None,
        })
        .max()
        .unwrap_or(DEFAULT_LOCAL_PREF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> PrefixRule {
        s.parse().expect("valid rule")
    }
    fn net(s: &str) -> IpNet {
        s.parse().expect("prefix")
    }

    #[test]
    fn rules_with_length_ranges() {
        let r = rule("10.1.0.0/16");
        assert!(r.matches(&net("10.1.0.0/16")) && r.matches(&net("10.1.2.0/24")));
        assert!(!r.matches(&net("10.0.0.0/8")) && !r.matches(&net("10.2.0.0/24")));
        let r = rule("10.1.0.0/16 le 24");
        assert!(r.matches(&net("10.1.2.0/24")) && !r.matches(&net("10.1.2.0/25")));
        let r = rule("10.1.0.0/16 ge 20 le 24");
        assert!(!r.matches(&net("10.1.0.0/16")) && r.matches(&net("10.1.16.0/20")));
        assert_eq!(r.to_string(), "10.1.0.0/16 ge 20 le 24");
        let r = rule("2001:db8::/32 le 48");
        assert!(r.matches(&net("2001:db8:1::/48")) && !r.matches(&net("2001:db8:1::/64")));
    }

    #[test]
    fn bad_rules_say_why() {
        for (text, why) in [
            ("10.1.0.1/16", "host bits set; the prefix is 10.1.0.0/16"),
            ("10.1.0.0/16 le 8", "outside /16../32"),
            ("10.1.0.0/16 ge 24 le 20", "ge is longer than le"),
            ("10.1.0.0/16 eq 20", "unknown word `eq`"),
            ("10.1.0.0/16 le", "take a prefix length"),
            ("banana", "not a prefix"),
        ] {
            let e = text.parse::<PrefixRule>().expect_err(text);
            assert!(e.to_string().contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn preference_communities() {
        assert_eq!(local_pref_from_communities(&[]), 100);
        assert_eq!(local_pref_from_communities(&[(7224 << 16) | 7100]), 50);
        assert_eq!(local_pref_from_communities(&[(7224 << 16) | 7300]), 200);
        assert_eq!(
            local_pref_from_communities(&[(7224 << 16) | 7100, (7224 << 16) | 7300, 65000 << 16]),
            200
        );
    }
}
