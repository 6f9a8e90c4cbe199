//! Adaptive busy polling, sans-IO: after a burst that carried frames, the link thread keeps
//! looking at its socket and TAP for a short window before it sleeps in `poll`.
//!
//! Why: most of a link's added round-trip time at low rates is wake-ups. A ping crosses four link
//! threads' turns (out of the TAP and into the peer's TAP, then back), and each sleeping thread
//! must be woken: a few microseconds on bare metal, tens on a virtual machine whose idle vCPU
//! halts. The answer to a frame usually comes back within tens of microseconds, so a thread that
//! is still looking when it comes takes it at once, with no wake-up at all.
//!
//! Bounded: the window is at most the configured `max` (`busy_poll_us`, default
//! [`DEFAULT_MAX`]), and only after a frame: an idle link sleeps. Adaptive: the window shrinks to
//! a sixteenth of `max` while spins seldom see a frame come (traffic that goes one way only, or
//! that is sparse), and grows back to `max` as they do again (request and answer, or a busy
//! link), following a moving average of the spins that caught a frame. And it gives way: the
//! thread yields on every turn, and a turn that took longer than [`CONTENDED`] means another
//! thread ran on the core meanwhile (on a machine where the thread that will answer shares the
//! core, spinning only delays it), so the spin ends there, counted as one that caught nothing.

use std::time::{Duration, Instant};

/// The window after a frame unless configured otherwise.
pub const DEFAULT_MAX: Duration = Duration::from_micros(100);
/// The most that may be configured.
pub const MAX_ALLOWED: Duration = Duration::from_millis(1);
/// The average's scale: a rate of `SCALE` is every spin catching a frame.
const SCALE: u32 = 256;
/// The average weighs the latest spin 1/8.
const WEIGHT_SHIFT: u32 = 3;
/// A turn of the spin that took longer than this means something else ran on the core meanwhile
/// (the thread yields each turn): the core is wanted, and the spin ends.
pub const CONTENDED: Duration = Duration::from_micros(20);

/// A link thread's busy polling.
#[derive(Debug, Clone)]
pub struct BusyPoll {
    max: Duration,
    last_frame: Option<Instant>,
    /// A spin is going on (since the last frame), and when it last looked.
    spinning: bool,
    last_turn: Option<Instant>,
    /// Moving average of the spins that caught a frame, of `SCALE`.
    hit_rate: u32,
}

impl BusyPoll {
    /// Busy polling for up to `max` after each frame (zero: off).
    pub fn new(max: Duration) -> Self {
        Self {
            max: max.min(MAX_ALLOWED),
            last_frame: None,
            spinning: false,
            last_turn: None,
            hit_rate: SCALE,
        }
    }

    /// The window now: `max` while at least a quarter of the spins catch a frame, down to a
    /// sixteenth of it as they do not.
    pub fn window(&self) -> Duration {
        let scale = (self.hit_rate * 4).clamp(SCALE / 16, SCALE);
        self.max * scale / SCALE
    }

    fn spin_ended(&mut self, caught: bool) {
        self.spinning = false;
        self.last_turn = None;
        // Rounded up, so that it reaches zero.
        self.hit_rate -= (self.hit_rate + (1 << WEIGHT_SHIFT) - 1) >> WEIGHT_SHIFT;
        if caught {
            self.hit_rate += SCALE >> WEIGHT_SHIFT;
        }
    }

    /// A burst carried frames at `now`.
    pub fn frame(&mut self, now: Instant) {
        if self.spinning {
            self.spin_ended(true);
        }
        self.last_frame = Some(now);
    }

    /// Nothing to do at `now`: whether to look again rather than sleep.
    pub fn spin(&mut self, now: Instant) -> bool {
        let Some(last) = self.last_frame else {
            return false;
        };
        let contended = self
            .last_turn
            .is_some_and(|t| now.saturating_duration_since(t) > CONTENDED);
        if !contended && now.saturating_duration_since(last) < self.window() {
            self.spinning = true;
            self.last_turn = Some(now);
            return true;
        }
        if self.spinning {
            self.spin_ended(false);
        }
        // Sleep; the next spin begins after the next frame.
        self.last_frame = None;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_micros(100);

    /// Runs one spin after a frame at `t0`: polls every microsecond until the spin ends or a
    /// frame comes `answer` later. Returns how long it spun.
    fn one_spin(b: &mut BusyPoll, t0: Instant, answer: Option<Duration>) -> Duration {
        b.frame(t0);
        let mut t = t0;
        loop {
            t += Duration::from_micros(1);
            if answer.is_some_and(|a| t >= t0 + a) {
                b.frame(t);
                return t - t0;
            }
            if !b.spin(t) {
                return t - t0;
            }
        }
    }

    #[test]
    fn a_turn_that_took_long_ends_the_spin() {
        let mut b = BusyPoll::new(MAX);
        let t = Instant::now();
        b.frame(t);
        assert!(b.spin(t + Duration::from_micros(1)));
        assert!(b.spin(t + Duration::from_micros(5)));
        // The next look comes 30 us later: something else had the core.
        assert!(!b.spin(t + Duration::from_micros(35)));
        assert!(
            !b.spin(t + Duration::from_micros(36)),
            "asleep until the next frame"
        );
        b.frame(t + Duration::from_micros(500));
        assert!(b.spin(t + Duration::from_micros(501)));
        // Each such spin counts as one that caught nothing.
        let mut t = t + Duration::from_millis(1);
        for _ in 0..50 {
            b.frame(t);
            assert!(b.spin(t + Duration::from_micros(1)));
            assert!(!b.spin(t + Duration::from_micros(30)));
            t += Duration::from_millis(1);
        }
        assert_eq!(b.window(), MAX / 16);
    }

    #[test]
    fn off_never_spins() {
        let mut b = BusyPoll::new(Duration::ZERO);
        let t = Instant::now();
        b.frame(t);
        assert!(!b.spin(t));
    }

    #[test]
    fn no_frame_yet_no_spin_and_the_window_is_bounded() {
        let mut b = BusyPoll::new(Duration::from_secs(5));
        assert!(!b.spin(Instant::now()));
        assert_eq!(b.window(), MAX_ALLOWED);
    }

    #[test]
    fn request_and_answer_keep_the_full_window() {
        let mut b = BusyPoll::new(MAX);
        let mut t = Instant::now();
        // A ping a second: the answer comes 40 us after the request is sent (caught), then the
        // spin after the answer sees nothing (a miss). Half the spins catch: the window stays.
        for _ in 0..100 {
            assert_eq!(
                one_spin(&mut b, t, Some(Duration::from_micros(40))),
                Duration::from_micros(40)
            );
            t += Duration::from_micros(40);
            one_spin(&mut b, t, None);
            t += Duration::from_secs(1);
        }
        assert_eq!(b.window(), MAX);
    }

    #[test]
    fn one_way_traffic_shrinks_the_window_and_an_answer_grows_it_back() {
        let mut b = BusyPoll::new(MAX);
        let mut t = Instant::now();
        for _ in 0..50 {
            one_spin(&mut b, t, None);
            t += Duration::from_millis(10);
        }
        assert_eq!(b.window(), MAX / 16, "spinning a sixteenth of the bound");
        // Less spent per frame: a sixteenth of the bound, to the microsecond.
        let spun = one_spin(&mut b, t, None);
        assert!(spun <= MAX / 16 + Duration::from_micros(1), "{spun:?}");
        // Answers come within the short window again: it grows back.
        for _ in 0..40 {
            t += Duration::from_millis(10);
            one_spin(&mut b, t, Some(Duration::from_micros(3)));
        }
        assert_eq!(b.window(), MAX);
    }
}
