//! A link's own liveness, sans-IO: is the peer's traffic arriving? The link thread notes every
//! frame that validates (data, or a keepalive), and sends a keepalive every interval, whatever
//! else it sends (so that what a keepalive says, below, is never stale behind data); when
//! nothing has validated for `interval x multiplier`, the link is dead, and the first frame
//! that validates again makes it alive. The link thread turns the TAP's
//! carrier off and on with it, so the kernel stops using the routes through the link at once
//! (every route whose next hop is on it, in one event), without waiting for BFD.
//!
//! A keepalive also says whether its sender hears this end: a cut in one direction kills the
//! link at both ends, the end that still hears learning it from the other's keepalives.
//!
//! Silence counts only while this end was looking: the thread looks at least once an interval,
//! and time it did not (the thread, or the whole machine, stalled: a VM's vCPUs descheduled by
//! its host for tens of milliseconds stop every link at once, peers included when they share the
//! machine) is no evidence that the peer went quiet. A peer that did send meanwhile is heard
//! anyway: its frames wait in the socket and are read before the link looks.
//!
//! Only validated frames count: a forged or replayed datagram cannot keep a dead link alive.
//! Until the peer's first keepalive that hears this end validates, the link is neither alive
//! nor dead and its carrier is left alone: so an end whose peer runs no liveness (an older
//! gateway, a static file that leaves it out, a configuration not yet applied over there) never
//! finds the link dead between two BFD packets. An end whose liveness is turned off says so in
//! its last keepalives ([`keepalive_off`]), and the peer goes back to that unknown state.

use std::time::{Duration, Instant};

/// How quickly a dead link is noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessConfig {
    /// A keepalive goes out this often.
    pub interval: Duration,
    /// The link is dead after `interval x multiplier` without a validated frame.
    pub multiplier: u32,
}

impl LivenessConfig {
    pub fn detect_time(&self) -> Duration {
        self.interval * self.multiplier.max(1)
    }
}

/// What the link thread is to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing validated within the detection time: carrier off.
    Died,
    /// A frame validated while dead: carrier on.
    Revived,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No frame has validated yet.
    Unknown,
    Alive,
    Dead,
}

#[derive(Debug, Clone)]
pub struct Liveness {
    cfg: LivenessConfig,
    state: State,
    last_rx: Option<Instant>,
    last_tx: Instant,
    /// When the link last looked ([`Liveness::received`] or [`Liveness::check`]).
    last_look: Instant,
    /// What the peer's last keepalive said: whether it hears this end.
    peer_hears: bool,
}

impl Liveness {
    pub fn new(cfg: LivenessConfig, now: Instant) -> Self {
        Self {
            cfg,
            state: State::Unknown,
            last_rx: None,
            last_tx: now,
            last_look: now,
            // Armed by the peer's first keepalive that hears this end.
            peer_hears: false,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the peer's frames arrive: one validated within the detection time (what this
    /// end's keepalives tell the peer).
    pub fn hears(&self, now: Instant) -> bool {
        self.last_rx
            .is_some_and(|rx| now.saturating_duration_since(rx) < self.cfg.detect_time())
    }

    /// A frame from the peer validated; a keepalive says whether the peer hears this end.
    pub fn received(&mut self, now: Instant, peer_hears: Option<bool>) -> Option<Change> {
        self.look(now);
        self.last_rx = Some(now);
        if let Some(h) = peer_hears {
            self.peer_hears = h;
        }
        self.settle(now)
    }

    /// A keepalive went to the peer (or could not: no transmit SA yet).
    pub fn sent(&mut self, now: Instant) {
        self.last_tx = now;
    }

    /// Whether a keepalive is due (the caller sends one only when it can protect it).
    pub fn keepalive_due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_tx) >= self.cfg.interval
    }

    /// The peer's liveness was turned off (its last keepalive said so): back to unknown, neither
    /// alive nor dead, until its keepalives come again. `Revived` when the link was dead (its
    /// carrier goes on again).
    pub fn disarm(&mut self) -> Option<Change> {
        let was = self.state;
        self.state = State::Unknown;
        self.peer_hears = false;
        (was == State::Dead).then_some(Change::Revived)
    }

    /// Checks the detection time: call after the received frames were taken.
    pub fn check(&mut self, now: Instant) -> Option<Change> {
        self.look(now);
        self.settle(now)
    }

    /// Time beyond an interval since the last look was not watched: the silence so far is
    /// moved forward by it (see the module's documentation).
    fn look(&mut self, now: Instant) {
        let unwatched = now
            .saturating_duration_since(self.last_look)
            .saturating_sub(self.cfg.interval);
        if let Some(rx) = &mut self.last_rx
            && !unwatched.is_zero()
        {
            *rx = (*rx + unwatched).min(now);
        }
        self.last_look = now;
    }

    /// Alive while this end hears the peer and the peer hears it (a cut in one direction kills
    /// the link at both ends: the end that still hears learns it from the keepalives).
    fn settle(&mut self, now: Instant) -> Option<Change> {
        // Nothing has validated yet: neither alive nor dead.
        self.last_rx?;
        let alive = self.hears(now) && self.peer_hears;
        let (next, change) = match (self.state, alive) {
            (State::Alive, false) => (State::Dead, Some(Change::Died)),
            // (At the start, the peer's first keepalives may not hear this end yet: a link is
            // only found dead once it has been alive.)
            (State::Unknown, false) => (State::Unknown, None),
            (State::Dead, true) => (State::Alive, Some(Change::Revived)),
            (_, true) => (State::Alive, None),
            (State::Dead, false) => (State::Dead, None),
        };
        self.state = next;
        change
    }

    /// When the thread must look again at the latest: the next keepalive, or the moment the
    /// link would be dead.
    pub fn deadline(&self) -> Instant {
        let keepalive = self.last_tx + self.cfg.interval;
        match (self.state, self.last_rx) {
            (State::Alive, Some(rx)) => keepalive.min(rx + self.cfg.detect_time()),
            _ => keepalive,
        }
    }
}

/// The keepalive's inner frame: the IEEE 802 local experimental EtherType (as the path-MTU
/// probes, which travel unprotected; a keepalive is protected like data) and "XCKA".
pub const KEEPALIVE_MAGIC: [u8; 4] = *b"XCKA";

/// The keepalive's version (byte 18); byte 19's bit 0 says "I hear you", bit 1 "my liveness
/// is off from now on".
const KEEPALIVE_VERSION: u8 = 1;
const HEARS: u8 = 1;
const OFF: u8 = 2;

/// A keepalive frame from `src`: broadcast, EtherType 88B5, the magic, the version, whether
/// this end hears the peer, zero padding to the Ethernet minimum (60 bytes).
pub fn keepalive(src: [u8; 6], hears: bool) -> [u8; 60] {
    keepalive_with(src, if hears { HEARS } else { 0 })
}

/// The last keepalive of an end whose liveness is turned off: the peer stops expecting them.
pub fn keepalive_off(src: [u8; 6]) -> [u8; 60] {
    keepalive_with(src, OFF)
}

fn keepalive_with(src: [u8; 6], flags: u8) -> [u8; 60] {
    let mut f = [0u8; 60];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&crate::pathmtu::ETHERTYPE);
    f[14..18].copy_from_slice(&KEEPALIVE_MAGIC);
    f[18] = KEEPALIVE_VERSION;
    f[19] = flags;
    f
}

/// Whether a keepalive says its sender's liveness is off.
pub fn keepalive_says_off(frame: &[u8]) -> bool {
    matches!(frame.get(18..20), Some(&[KEEPALIVE_VERSION, flags]) if flags & OFF != 0)
}

/// What a keepalive says of this end: whether the peer hears it (none from a version that
/// does not say).
pub fn keepalive_hears(frame: &[u8]) -> Option<bool> {
    match frame.get(18..20) {
        Some(&[KEEPALIVE_VERSION, flags]) => Some(flags & HEARS != 0),
        _ => None,
    }
}

/// Whether a validated frame is a keepalive (it goes no further than the link).
pub fn is_keepalive(frame: &[u8]) -> bool {
    frame.get(12..14) == Some(&crate::pathmtu::ETHERTYPE[..])
        && frame.get(14..18) == Some(&KEEPALIVE_MAGIC[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn cfg() -> LivenessConfig {
        LivenessConfig {
            interval: 10 * MS,
            multiplier: 3,
        }
    }

    #[test]
    fn dead_after_the_detection_time_without_a_frame_and_alive_at_the_next() {
        let t0 = Instant::now();
        let mut l = Liveness::new(cfg(), t0);
        // Nothing validated yet: never dead, whatever the wait.
        assert_eq!(l.check(t0 + 1000 * MS), None);
        assert_eq!(l.state(), State::Unknown);
        assert!(!l.hears(t0 + 1000 * MS));
        // A data frame does not arm it: the peer may run no liveness.
        assert_eq!(l.received(t0 + 990 * MS, None), None);
        assert_eq!(l.check(t0 + 1000 * MS), None);
        assert_eq!(l.state(), State::Unknown);
        let first = l.received(t0 + 1000 * MS, Some(true));
        assert_eq!(
            first, None,
            "the peer's keepalive that hears: alive, no change"
        );
        assert_eq!(l.state(), State::Alive);
        // It looks every interval (as the link thread does).
        assert_eq!(l.check(t0 + 1010 * MS), None);
        assert_eq!(l.check(t0 + 1020 * MS), None);
        assert!(l.hears(t0 + 1029 * MS));
        assert_eq!(l.check(t0 + 1029 * MS), None);
        l.sent(t0 + 1000 * MS);
        assert_eq!(l.deadline(), t0 + 1010 * MS, "the keepalive first");
        l.sent(t0 + 1025 * MS);
        assert_eq!(l.deadline(), t0 + 1030 * MS, "then the detection time");
        assert_eq!(l.check(t0 + 1030 * MS), Some(Change::Died));
        assert_eq!(l.check(t0 + 1031 * MS), None, "said once");
        assert_eq!(l.state(), State::Dead);
        assert!(!l.hears(t0 + 1031 * MS));
        assert_eq!(l.received(t0 + 1500 * MS, None), Some(Change::Revived));
        assert_eq!(l.check(t0 + 1520 * MS), None);
    }

    #[test]
    fn a_peer_that_no_longer_hears_this_end_kills_the_link_here_too() {
        let t0 = Instant::now();
        let mut l = Liveness::new(cfg(), t0);
        // At the start the peer does not hear this end yet: not dead, not alive.
        assert_eq!(l.received(t0, Some(false)), None);
        assert_eq!(l.state(), State::Unknown);
        assert_eq!(l.received(t0, Some(true)), None);
        assert_eq!(l.state(), State::Alive);
        // The peer's keepalives still arrive, but say it hears nothing from here.
        assert_eq!(l.received(t0 + 10 * MS, Some(false)), Some(Change::Died));
        assert_eq!(l.received(t0 + 20 * MS, Some(false)), None);
        assert!(l.hears(t0 + 20 * MS), "this end still hears the peer");
        // A data frame says nothing of that; the next keepalive that hears does.
        assert_eq!(l.received(t0 + 25 * MS, None), None);
        assert_eq!(l.state(), State::Dead);
        assert_eq!(l.received(t0 + 30 * MS, Some(true)), Some(Change::Revived));
    }

    /// Armed at `t0` by the peer's keepalive, then nothing from it while looking every
    /// interval: dead at the detection time.
    fn dead_at_30_ms(t0: Instant) -> Liveness {
        let mut l = Liveness::new(cfg(), t0);
        assert_eq!(l.received(t0, Some(true)), None);
        assert_eq!(l.check(t0 + 10 * MS), None);
        assert_eq!(l.check(t0 + 20 * MS), None);
        assert_eq!(l.check(t0 + 30 * MS), Some(Change::Died));
        l
    }

    #[test]
    fn a_peer_that_turns_its_liveness_off_leaves_the_link_neither_alive_nor_dead() {
        let t0 = Instant::now();
        let mut l = dead_at_30_ms(t0);
        // Its last keepalive says it is off: the carrier goes on, and no more deaths.
        assert_eq!(l.disarm(), Some(Change::Revived));
        assert_eq!(l.state(), State::Unknown);
        assert_eq!(l.received(t0 + 100 * MS, None), None);
        assert_eq!(l.check(t0 + 1000 * MS), None);
        assert_eq!(l.state(), State::Unknown);
        assert_eq!(l.disarm(), None, "not dead: nothing to revive");
        // Its keepalives come again: armed again.
        assert_eq!(l.received(t0 + 1100 * MS, Some(true)), None);
        assert_eq!(l.state(), State::Alive);
    }

    #[test]
    fn time_this_end_was_not_looking_is_not_silence() {
        let t0 = Instant::now();
        let mut l = dead_at_30_ms(t0);
        assert_eq!(l.received(t0 + 31 * MS, Some(true)), Some(Change::Revived));
        // The thread (or the machine) stalls for 100 ms: it was not watching, so the silence is
        // what it saw, one interval, and the link lives on.
        assert_eq!(l.check(t0 + 131 * MS), None);
        assert!(l.hears(t0 + 131 * MS), "its keepalive says it hears");
        assert_eq!(l.state(), State::Alive);
        // Then nothing from the peer while it looks: dead a detection time after the stall's
        // end, less the interval it counted.
        assert_eq!(l.check(t0 + 141 * MS), None);
        assert_eq!(l.check(t0 + 151 * MS), Some(Change::Died));
        // Looks 15 ms apart, each 5 ms later than meant: those 5 ms are not watched either, and
        // the link dies at 45 ms rather than 30.
        let mut l = Liveness::new(cfg(), t0);
        assert_eq!(l.received(t0, Some(true)), None);
        assert_eq!(l.check(t0 + 15 * MS), None);
        assert_eq!(l.check(t0 + 30 * MS), None);
        assert_eq!(l.check(t0 + 45 * MS), Some(Change::Died));
    }

    #[test]
    fn a_keepalive_is_due_an_interval_after_the_last() {
        let t0 = Instant::now();
        let mut l = Liveness::new(cfg(), t0);
        assert!(!l.keepalive_due(t0 + 9 * MS));
        assert!(l.keepalive_due(t0 + 10 * MS));
        l.sent(t0 + 10 * MS);
        assert!(!l.keepalive_due(t0 + 15 * MS));
    }

    #[test]
    fn a_keepalive_is_recognised_and_says_whether_it_hears() {
        let k = keepalive([2, 0, 0, 0, 0, 1], true);
        assert!(is_keepalive(&k));
        assert_eq!(&k[6..12], &[2, 0, 0, 0, 0, 1]);
        assert_eq!(keepalive_hears(&k), Some(true));
        assert_eq!(keepalive_hears(&keepalive([2; 6], false)), Some(false));
        assert!(!keepalive_says_off(&k));
        let off = keepalive_off([2; 6]);
        assert!(is_keepalive(&off) && keepalive_says_off(&off));
        assert_eq!(keepalive_hears(&off), Some(false));
        let mut unversioned = k;
        unversioned[18] = 0;
        assert_eq!(keepalive_hears(&unversioned), None);
        assert_eq!(keepalive_hears(&k[..18]), None);
        let mut probe = k;
        probe[14..18].copy_from_slice(b"XCPM");
        assert!(!is_keepalive(&probe));
        assert!(!is_keepalive(&k[..16]));
        let mut ipv4 = k;
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert!(!is_keepalive(&ipv4));
    }
}
