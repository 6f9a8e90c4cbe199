//! One BFD session (RFC 5880 6.8).

use crate::packet::{DecodeError, Diag, Packet, State};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Timers of a session. Defaults: 100 ms x 3, so a dead link is noticed in 300 ms.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub desired_min_tx: Duration,
    pub required_min_rx: Duration,
    pub detect_mult: u8,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            desired_min_tx: Duration::from_millis(100),
            required_min_rx: Duration::from_millis(100),
            detect_mult: 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    StateChange { from: State, to: State, diag: Diag },
}

/// While a session is not Up, it transmits no faster than once a second (RFC 5880 6.8.3).
const SLOW_TX: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Session {
    cfg: Config,
    state: State,
    remote_state: State,
    local_disc: u32,
    remote_disc: u32,
    diag: Diag,
    remote_min_rx: Duration,
    remote_desired_tx: Duration,
    remote_detect_mult: u8,
    /// A Poll sequence is in progress (P set until a packet with F arrives).
    polling: bool,
    /// A received Poll must be answered with Final at once.
    answer_final: bool,
    next_tx: Instant,
    detect_at: Option<Instant>,
    rng: ChaCha20Rng,
    transmit: VecDeque<[u8; crate::packet::LEN]>,
    events: VecDeque<Event>,
}

fn us(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

impl Session {
    /// A session in Down, with a local discriminator drawn from `seed`, transmitting from `now`.
    pub fn new(cfg: Config, seed: [u8; 32], now: Instant) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let local_disc = rng.gen_range(1..=u32::MAX);
        Self {
            cfg,
            state: State::Down,
            remote_state: State::Down,
            local_disc,
            remote_disc: 0,
            diag: Diag::None,
            // RFC 5880 6.8.1: initialised to 1 µs until the peer says otherwise.
            remote_min_rx: Duration::from_micros(1),
            remote_desired_tx: Duration::ZERO,
            remote_detect_mult: 0,
            polling: false,
            answer_final: false,
            next_tx: now,
            detect_at: None,
            rng,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }
    pub fn diag(&self) -> Diag {
        self.diag
    }
    pub fn local_discriminator(&self) -> u32 {
        self.local_disc
    }
    pub fn poll_transmit(&mut self) -> Option<[u8; crate::packet::LEN]> {
        self.transmit.pop_front()
    }
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.detect_at.map_or(self.next_tx, |d| d.min(self.next_tx)))
    }

    /// The interval this end advertises as DesiredMinTxInterval.
    fn desired_tx(&self) -> Duration {
        if self.state == State::Up {
            self.cfg.desired_min_tx
        } else {
            self.cfg.desired_min_tx.max(SLOW_TX)
        }
    }

    /// The time without a packet after which the session is declared down.
    fn detection_time(&self) -> Duration {
        self.cfg.required_min_rx.max(self.remote_desired_tx)
            * u32::from(self.remote_detect_mult.max(1))
    }

    fn transition(&mut self, to: State, diag: Diag, now: Instant) {
        if to == self.state {
            return;
        }
        let from = self.state;
        self.state = to;
        self.diag = diag;
        // Entering or leaving Up changes the advertised transmit interval: announce it with a
        // Poll sequence (RFC 5880 6.8.3).
        if to == State::Up || from == State::Up {
            self.polling = true;
        }
        if to == State::Down || to == State::AdminDown {
            self.detect_at = None;
        }
        self.events.push_back(Event::StateChange { from, to, diag });
        // Tell the peer now rather than at the next periodic packet.
        self.next_tx = now;
    }

    /// Takes the session administratively down (or back up to Down).
    pub fn set_admin_down(&mut self, down: bool, now: Instant) {
        if down {
            self.transition(State::AdminDown, Diag::AdministrativelyDown, now);
            self.remote_disc = 0;
        } else if self.state == State::AdminDown {
            self.transition(State::Down, Diag::None, now);
        }
    }

    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) -> Result<(), DecodeError> {
        let p = Packet::decode(bytes)?;
        // RFC 5880 6.8.6: discard what cannot belong to this session.
        if p.your_disc == 0 && !matches!(p.state, State::Down | State::AdminDown) {
            return Err(DecodeError::ZeroMyDiscriminator);
        }
        if p.your_disc != 0 && p.your_disc != self.local_disc {
            return Ok(()); // for another session
        }
        self.remote_disc = p.my_disc;
        self.remote_state = p.state;
        self.remote_desired_tx = Duration::from_micros(u64::from(p.desired_min_tx_us));
        self.remote_min_rx = Duration::from_micros(u64::from(p.required_min_rx_us));
        self.remote_detect_mult = p.detect_mult;
        if p.final_ && self.polling {
            self.polling = false;
        }
        if p.poll {
            self.answer_final = true;
            self.next_tx = now;
        }
        if self.state == State::AdminDown {
            return Ok(());
        }
        if p.state == State::AdminDown {
            if self.state != State::Down {
                self.transition(State::Down, Diag::NeighborSignaledDown, now);
            }
        } else {
            match (self.state, p.state) {
                (State::Down, State::Down) => self.transition(State::Init, Diag::None, now),
                (State::Down, State::Init) => self.transition(State::Up, Diag::None, now),
                (State::Init, State::Init | State::Up) => {
                    self.transition(State::Up, Diag::None, now)
                }
                (State::Up, State::Down) => {
                    self.transition(State::Down, Diag::NeighborSignaledDown, now)
                }
                _ => {}
            }
        }
        if matches!(self.state, State::Init | State::Up) {
            self.detect_at = Some(now + self.detection_time());
        }
        self.flush_due(now);
        Ok(())
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(d) = self.detect_at
            && now >= d
            && matches!(self.state, State::Init | State::Up)
        {
            self.transition(State::Down, Diag::ControlDetectionTimeExpired, now);
            self.remote_disc = 0;
        }
        self.flush_due(now);
    }

    /// Sends a packet when one is due, and schedules the next with jitter (RFC 5880 6.8.7).
    fn flush_due(&mut self, now: Instant) {
        if now < self.next_tx {
            return;
        }
        // A peer that asked for no packets gets none, except the answer to its Poll.
        if self.remote_min_rx.is_zero() && !self.answer_final {
            self.next_tx = now + self.desired_tx();
            return;
        }
        let p = Packet {
            diag: self.diag,
            state: self.state,
            poll: self.polling && !self.answer_final,
            final_: self.answer_final,
            control_plane_independent: false,
            demand: false,
            detect_mult: self.cfg.detect_mult,
            my_disc: self.local_disc,
            your_disc: self.remote_disc,
            desired_min_tx_us: us(self.desired_tx()),
            required_min_rx_us: us(self.cfg.required_min_rx),
            required_min_echo_rx_us: 0,
        };
        self.answer_final = false;
        self.transmit.push_back(p.encode());
        let interval = self.desired_tx().max(self.remote_min_rx);
        let jitter = if self.cfg.detect_mult == 1 {
            self.rng.gen_range(0.75..0.90)
        } else {
            self.rng.gen_range(0.75..1.0)
        };
        self.next_tx = now + interval.mul_f64(jitter);
    }
}
