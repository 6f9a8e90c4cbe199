//! Backoff on failed sign-ins, per access key and per source address: a few failures are free,
//! then each further one doubles the wait before the next attempt is even looked at, up to a cap
//! (short for a key, so that someone guessing at a key cannot lock its owner out for long;
//! longer for an address). A success clears the key's and the address's record; a record with no
//! failure for [`FORGET_AFTER`] is forgotten. Pure: time is an argument; the table is bounded.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

/// Failures allowed before any wait.
pub const FREE_FAILURES: u32 = 3;
/// The longest a key waits.
pub const KEY_CAP_SECS: i64 = 30;
/// The longest an address waits.
pub const ADDRESS_CAP_SECS: i64 = 300;
/// A record with no failure for this long is forgotten.
pub const FORGET_AFTER: i64 = 900;
/// The most records kept of each kind; beyond it, the stalest are dropped.
pub const MAX_RECORDS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: i64,
    /// No attempt is looked at before this time.
    until: i64,
}

#[derive(Debug)]
struct Table<K> {
    records: HashMap<K, Record>,
    cap_secs: i64,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(cap_secs: i64) -> Self {
        Self {
            records: HashMap::new(),
            cap_secs,
        }
    }

    fn wait(&self, k: &K, now: i64) -> Option<i64> {
        let r = self.records.get(k)?;
        (r.until > now).then_some(r.until - now)
    }

    fn fail(&mut self, k: K, now: i64) -> u32 {
        if self.records.len() >= MAX_RECORDS && !self.records.contains_key(&k) {
            self.records
                .retain(|_, r| now - r.last_failure < FORGET_AFTER);
            if self.records.len() >= MAX_RECORDS
                && let Some(stalest) = self
                    .records
                    .iter()
                    .min_by_key(|(_, r)| r.last_failure)
                    .map(|(k, _)| k.clone())
            {
                self.records.remove(&stalest);
            }
        }
        let r = self.records.entry(k).or_insert(Record {
            failures: 0,
            last_failure: now,
            until: now,
        });
        if now - r.last_failure >= FORGET_AFTER {
            r.failures = 0;
        }
        r.failures += 1;
        r.last_failure = now;
        let over = r.failures.saturating_sub(FREE_FAILURES);
        if over > 0 {
            let wait = 1i64
                .checked_shl(over - 1)
                .unwrap_or(i64::MAX)
                .min(self.cap_secs);
            r.until = now + wait;
        }
        r.failures
    }

    fn clear(&mut self, k: &K) {
        self.records.remove(k);
    }
}

/// Failed sign-ins, by key and by source address.
#[derive(Debug)]
pub struct SignInThrottle {
    keys: Table<String>,
    addresses: Table<IpAddr>,
}

impl Default for SignInThrottle {
    fn default() -> Self {
        Self {
            keys: Table::new(KEY_CAP_SECS),
            addresses: Table::new(ADDRESS_CAP_SECS),
        }
    }
}

/// How many failures in a row a key and an address have now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub key: u32,
    pub address: u32,
}

impl SignInThrottle {
    /// Seconds to wait before an attempt with `key` from `address` is looked at, if any.
    pub fn wait(&self, key: &str, address: IpAddr, now: i64) -> Option<i64> {
        let k = self.keys.wait(&key.to_owned(), now);
        let a = self.addresses.wait(&address, now);
        k.max(a)
    }

    pub fn failed(&mut self, key: &str, address: IpAddr, now: i64) -> Failures {
        Failures {
            key: self.keys.fail(key.to_owned(), now),
            address: self.addresses.fail(address, now),
        }
    }

    pub fn succeeded(&mut self, key: &str, address: IpAddr) {
        self.keys.clear(&key.to_owned());
        self.addresses.clear(&address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn a_few_failures_are_free_then_the_wait_doubles_up_to_its_cap() {
        let mut t = SignInThrottle::default();
        let now = 1_000;
        for _ in 0..FREE_FAILURES {
            t.failed("XCKEY", A, now);
            assert_eq!(t.wait("XCKEY", A, now), None);
        }
        let mut waits = Vec::new();
        for _ in 0..8 {
            t.failed("XCKEY", A, now);
            waits.push(t.wait("XCKEY", A, now).expect("a wait"));
        }
        // The key's cap (30 s) and then the address's (300 s) bound it.
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128]);
        // From another address, the key alone counts: its cap.
        assert_eq!(t.wait("XCKEY", B, now), Some(KEY_CAP_SECS));
        // The wait passes.
        assert_eq!(t.wait("XCKEY", B, now + KEY_CAP_SECS), None);
    }

    #[test]
    fn a_success_clears_and_old_failures_are_forgotten() {
        let mut t = SignInThrottle::default();
        for _ in 0..6 {
            t.failed("XCKEY", A, 0);
        }
        assert!(t.wait("XCKEY", A, 0).is_some());
        t.succeeded("XCKEY", A);
        assert_eq!(t.wait("XCKEY", A, 0), None);
        for _ in 0..FREE_FAILURES {
            t.failed("XCKEY", A, 0);
        }
        // Long after, the count starts again.
        let f = t.failed("XCKEY", A, FORGET_AFTER);
        assert_eq!(f, Failures { key: 1, address: 1 });
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut t = SignInThrottle::default();
        for i in 0..(MAX_RECORDS + 500) {
            t.failed(&format!("K{i}"), A, i as i64);
        }
        assert!(t.keys.records.len() <= MAX_RECORDS);
        // The newest are the ones kept.
        assert!(
            t.keys
                .records
                .contains_key(&format!("K{}", MAX_RECORDS + 499))
        );
    }
}
