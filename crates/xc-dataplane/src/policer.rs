//! A token bucket that holds a link to its bandwidth in one direction: the transmit side shapes
//! with it (waits for tokens), the receive side polices (drops what does not conform). Time is
//! an argument.

use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Policer {
    /// Bytes per second.
    rate: f64,
    /// Bucket depth in bytes.
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl Policer {
    /// A policer at `bits_per_second`, with a bucket of 100 ms at that rate (at least 256 KiB):
    /// deep enough that TCP, which sends in bursts, keeps most of the rate instead of collapsing
    /// on back-to-back drops.
    pub fn new(bits_per_second: u64) -> Self {
        let rate = bits_per_second as f64 / 8.0;
        let burst = (rate / 10.0).max(262_144.0);
        Self {
            rate,
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// Moves to another rate without a fresh bucket: the tokens saved so far are kept (up to
    /// the new depth), so a link whose rate is moved often gains no burst from each move.
    pub fn set_rate(&mut self, bits_per_second: u64, now: Instant) {
        self.refill(now);
        let next = Self::new(bits_per_second);
        self.rate = next.rate;
        self.burst = next.burst;
        self.tokens = self.tokens.min(self.burst);
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        }
        self.last = Some(now);
    }

    /// How long until a frame of `len` bytes conforms (zero when it does now).
    pub fn wait_time(&mut self, now: Instant, len: usize) -> std::time::Duration {
        self.refill(now);
        let need = (len as f64).min(self.burst);
        if self.tokens >= need {
            std::time::Duration::ZERO
        } else {
            std::time::Duration::from_secs_f64((need - self.tokens) / self.rate)
        }
    }

    /// Whether a frame of `len` bytes conforms; a conforming frame takes its tokens.
    pub fn allow(&mut self, now: Instant, len: usize) -> bool {
        self.refill(now);
        let need = len as f64;
        if self.tokens >= need {
            self.tokens -= need;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn holds_the_rate_over_time() {
        // 80 Mbit/s = 10 MB/s; offer 1500-byte frames at 20 MB/s for one simulated second.
        let mut p = Policer::new(80_000_000);
        let start = Instant::now();
        let mut passed = 0usize;
        for i in 0..13_333u64 {
            let now = start + Duration::from_micros(i * 75);
            if p.allow(now, 1500) {
                passed += 1500;
            }
        }
        let expected = 10_000_000.0 + 1_000_000.0; // one second of rate plus the 100 ms bucket
        assert!(
            (passed as f64 - expected).abs() < expected * 0.02,
            "{passed}"
        );
    }

    #[test]
    fn says_how_long_until_a_frame_conforms() {
        let mut p = Policer::new(8_000_000); // 1 MB/s
        let now = Instant::now();
        assert!(p.allow(now, 262_144), "the whole bucket");
        let w = p.wait_time(now, 1000);
        assert_eq!(w.as_micros(), 1000, "1000 bytes at 1 MB/s");
        assert!(!p.allow(now, 1000));
        assert!(p.allow(now + w, 1000));
    }

    #[test]
    fn a_new_rate_keeps_the_tokens_it_had() {
        let mut p = Policer::new(8_000_000); // 1 MB/s, 256 KiB bucket
        let now = Instant::now();
        assert!(p.allow(now, 262_144), "the whole bucket");
        p.set_rate(16_000_000, now);
        assert!(!p.allow(now, 1000), "no new bucket with the new rate");
        let w = p.wait_time(now, 1000);
        assert_eq!(w.as_micros(), 500, "1000 bytes at 2 MB/s");
        // Slower, with a full bucket: the bucket is cut to the new depth, no deeper.
        let mut q = Policer::new(80_000_000); // 10 MB/s, 1 MB bucket
        q.set_rate(8_000_000, now);
        let passed = (0..2000).filter(|_| q.allow(now, 1000)).count();
        assert_eq!(passed, 262);
    }

    #[test]
    fn bursts_up_to_the_bucket_then_drops() {
        let mut p = Policer::new(8_000_000); // 1 MB/s, 256 KiB bucket
        let now = Instant::now();
        let passed = (0..1000).filter(|_| p.allow(now, 1000)).count();
        assert_eq!(passed, 262);
    }
}
