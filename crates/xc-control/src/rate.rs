//! Request throttling per access key: a token bucket for reads and one for writes, each with the
//! operator's rate (tokens a second) and burst (the bucket's size). A request takes a token; an
//! empty bucket answers how long until the next token, which the API returns as
//! `ThrottlingException` with `Retry-After`. Every key has its own buckets, so a script on one
//! key never slows the console or a script on another. Pure: time is an argument (seconds as
//! `f64`); the table is bounded, full buckets being the first to go.

use std::collections::HashMap;

/// A bucket's rate and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Tokens added each second.
    pub rate: f64,
    /// The most tokens the bucket holds: the burst allowed after a quiet spell.
    pub burst: f64,
}

/// The limits of each kind of request (none: that kind is not throttled).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateLimits {
    pub read: Option<Limit>,
    pub write: Option<Limit>,
}

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Read,
    Write,
}

/// The most keys with buckets kept; beyond it, full buckets are dropped (they are what a new
/// bucket would be), then the least recently used.
pub const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: f64,
}

/// Each key's buckets.
#[derive(Debug, Default)]
pub struct Buckets {
    limits: RateLimits,
    buckets: HashMap<(String, Kind), Bucket>,
}

impl Buckets {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for `key`'s request of `kind` at `now`, or says how many seconds until
    /// one is there.
    pub fn take(&mut self, key: &str, kind: Kind, now: f64) -> Result<(), f64> {
        let limit = match kind {
            Kind::Read => self.limits.read,
            Kind::Write => self.limits.write,
        };
        let Some(l) = limit else {
            return Ok(());
        };
        if self.buckets.len() >= MAX_KEYS && !self.buckets.contains_key(&(key.to_owned(), kind)) {
            self.make_room(now);
        }
        let b = self
            .buckets
            .entry((key.to_owned(), kind))
            .or_insert(Bucket {
                tokens: l.burst,
                at: now,
            });
        b.tokens = (b.tokens + (now - b.at).max(0.0) * l.rate).min(l.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else if l.rate > 0.0 {
            Err((1.0 - b.tokens) / l.rate)
        } else {
            Err(f64::INFINITY)
        }
    }

    fn make_room(&mut self, now: f64) {
        let limits = self.limits;
        self.buckets.retain(|(_, kind), b| {
            let l = match kind {
                Kind::Read => limits.read,
                Kind::Write => limits.write,
            };
            l.is_some_and(|l| b.tokens + (now - b.at) * l.rate < l.burst)
        });
        if self.buckets.len() >= MAX_KEYS
            && let Some(oldest) = self
                .buckets
                .iter()
                .min_by(|a, b| a.1.at.total_cmp(&b.1.at))
                .map(|(k, _)| k.clone())
        {
            self.buckets.remove(&oldest);
        }
    }

    /// How many buckets are kept.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: RateLimits = RateLimits {
        read: Some(Limit {
            rate: 10.0,
            burst: 20.0,
        }),
        write: Some(Limit {
            rate: 1.0,
            burst: 2.0,
        }),
    };

    #[test]
    fn a_burst_then_the_rate_and_each_key_apart() {
        let mut b = Buckets::new(LIMITS);
        // Two writes at once, the third waits a second, and the wait shrinks as time passes.
        assert_eq!(b.take("k1", Kind::Write, 0.0), Ok(()));
        assert_eq!(b.take("k1", Kind::Write, 0.0), Ok(()));
        assert_eq!(b.take("k1", Kind::Write, 0.0), Err(1.0));
        assert_eq!(b.take("k1", Kind::Write, 0.5), Err(0.5));
        assert_eq!(b.take("k1", Kind::Write, 1.0), Ok(()));
        // Reads have their own bucket, and another key its own.
        for _ in 0..20 {
            assert_eq!(b.take("k1", Kind::Read, 1.0), Ok(()));
        }
        assert!(b.take("k1", Kind::Read, 1.0).is_err());
        assert_eq!(b.take("k2", Kind::Write, 1.0), Ok(()));
        // A quiet spell refills only up to the burst.
        assert_eq!(b.take("k1", Kind::Write, 100.0), Ok(()));
        assert_eq!(b.take("k1", Kind::Write, 100.0), Ok(()));
        assert!(b.take("k1", Kind::Write, 100.0).is_err());
        // Without a limit, nothing is throttled or kept.
        let mut free = Buckets::new(RateLimits::default());
        for _ in 0..1_000 {
            assert_eq!(free.take("k", Kind::Write, 0.0), Ok(()));
        }
        assert!(free.is_empty());
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut b = Buckets::new(LIMITS);
        for i in 0..MAX_KEYS + 10 {
            let _ = b.take(&format!("key{i}"), Kind::Write, i as f64 * 1e-6);
        }
        assert!(b.len() <= MAX_KEYS, "{}", b.len());
    }
}
