//! Path-MTU check of a link's underlay, sans-IO: does the underlay carry the link's largest
//! packets, both ways? An underlay interface with an MTU of 9000 gives the link an MTU of 8918
//! ([`crate::mtu`]), but a switch or tunnel on the way with a smaller MTU drops larger packets
//! silently (no ICMP comes back from layer 2): small packets cross, a full-size TCP segment never
//! does, and a big transfer hangs. The check finds that at link start and lowers the link's MTU
//! to the largest size that crosses, so the kernel tells senders (ICMP "too big", a smaller MSS)
//! instead of the underlay swallowing their packets.
//!
//! How: probe frames, unprotected inside VXLAN like MKPDUs, with the IEEE 802 local
//! experimental EtherType 88B5. The peer's link answers a request with a frame of the same
//! length, so one answered probe proves both directions. First a small probe (is the peer there,
//! and does it answer probes?); then a probe as long as a protected data frame of the link's
//! MTU, three tries; if none comes back, the next size down the ladder (the MTU a 1500-byte
//! underlay gives, then 1280, IPv6's minimum). The largest size answered becomes the link's MTU.
//! The check runs again every [`RECHECK`], from the top, so a mended underlay gets its MTU back.
//!
//! A probe carries a nonce that its answer must echo; answers to anything else are ignored.
//! Requests are answered at most [`ANSWERS_PER_SECOND`] a second (an answer is never larger than
//! its request). Cost: one 64-byte probe and one full-size probe a minute, each way, per link.
//!
//! Parsing never panics: anything that is not a probe of this version is an error.

use crate::mtu;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use xc_types::gateway::{PathMtuState, PathMtuStatus};

/// IEEE Std 802 Local Experimental EtherType 1.
pub const ETHERTYPE: [u8; 2] = [0x88, 0xb5];
const MAGIC: [u8; 4] = *b"XCPM";
const VERSION: u8 = 1;
/// Ethernet header, magic, version, kind, two reserved bytes, the frame's length, the nonce.
pub const HEADER_LEN: usize = 14 + 4 + 1 + 1 + 2 + 4 + 8;
/// The small probe's frame length.
pub const SMALL: usize = 64;
/// What protection adds to a data frame: the SecTAG with its SCI, and the ICV.
pub const PROTECTION: usize = 16 + 16;
/// The largest probe frame (a link MTU of 65535 and its Ethernet header and protection).
pub const MAX_LEN: usize = 65_535 + 14 + PROTECTION;

/// Between the checks of a link whose check ended.
pub const RECHECK: Duration = Duration::from_secs(60);
/// Between small probes while the peer has not answered one.
pub const REACH_EVERY: Duration = Duration::from_secs(1);
/// Small probes unanswered before the first check says the peer does not answer.
const REACH_TRIES: u32 = 5;
/// Full-size probes of one size unanswered before the next size down is tried.
const SIZE_TRIES: u8 = 3;
/// Requests answered per second at most.
pub const ANSWERS_PER_SECOND: u32 = 20;

/// What a probe frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request = 1,
    Answer = 2,
}

/// A parsed probe frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub kind: Kind,
    pub nonce: u64,
    /// The frame's length, as its sender wrote it (and as it arrived).
    pub len: usize,
}

/// Why a frame is not a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("{0} bytes, shorter than a probe header ({HEADER_LEN})")]
    Short(usize),
    #[error("not a path-MTU probe (EtherType or magic)")]
    NotProbe,
    #[error("probe version {0}, not {VERSION}")]
    Version(u8),
    #[error("probe kind {0} is neither request nor answer")]
    Kind(u8),
    #[error("the probe says it is {said} bytes long and is {got}")]
    Length { said: usize, got: usize },
    #[error("an answer, not a request")]
    NotRequest,
}

/// A probe frame of `len` bytes (at least [`HEADER_LEN`], at most [`MAX_LEN`]), from `src`.
pub fn encode(kind: Kind, nonce: u64, len: usize, src: [u8; 6]) -> Vec<u8> {
    let len = len.clamp(HEADER_LEN, MAX_LEN);
    let mut f = vec![0u8; len];
    f[0..6].fill(0xff);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&ETHERTYPE);
    f[14..18].copy_from_slice(&MAGIC);
    f[18] = VERSION;
    f[19] = kind as u8;
    f[22..26].copy_from_slice(&(len as u32).to_be_bytes());
    f[26..34].copy_from_slice(&nonce.to_be_bytes());
    f
}

/// Whether a decapsulated frame is a probe frame (by its EtherType), before it is parsed.
pub fn is_probe(frame: &[u8]) -> bool {
    frame.get(12..14) == Some(&ETHERTYPE[..])
}

pub fn parse(frame: &[u8]) -> Result<Probe, ProbeError> {
    if frame.len() < HEADER_LEN {
        return Err(ProbeError::Short(frame.len()));
    }
    if !is_probe(frame) || frame[14..18] != MAGIC {
        return Err(ProbeError::NotProbe);
    }
    if frame[18] != VERSION {
        return Err(ProbeError::Version(frame[18]));
    }
    let kind = match frame[19] {
        1 => Kind::Request,
        2 => Kind::Answer,
        k => return Err(ProbeError::Kind(k)),
    };
    let said = u32::from_be_bytes([frame[22], frame[23], frame[24], frame[25]]) as usize;
    if said != frame.len() {
        return Err(ProbeError::Length {
            said,
            got: frame.len(),
        });
    }
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&frame[26..34]);
    Ok(Probe {
        kind,
        nonce: u64::from_be_bytes(nonce),
        len: said,
    })
}

/// The answer to a request: the same length and nonce, from `src`.
pub fn answer(frame: &[u8], src: [u8; 6]) -> Result<Vec<u8>, ProbeError> {
    let p = parse(frame)?;
    if p.kind != Kind::Request {
        return Err(ProbeError::NotRequest);
    }
    Ok(encode(Kind::Answer, p.nonce, p.len, src))
}

/// The probe frame whose underlay datagram is as large as that of a protected data frame
/// carrying an IP packet of `mtu` bytes.
pub fn frame_len_for(mtu: u16) -> usize {
    usize::from(mtu) + 14 + PROTECTION
}

/// The sizes a check tries, largest first: the link's configured MTU, then what a 1500-byte
/// underlay gives, then 1280 (IPv6's minimum), each only when smaller than the ones before.
pub fn ladder(configured: u16, underlay: IpAddr) -> Vec<u16> {
    let mut l = vec![configured];
    for m in [mtu::link_mtu(1500, underlay), 1280] {
        if l.last().is_some_and(|&last| m < last) {
            l.push(m);
        }
    }
    l
}

/// Where a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Small probes until the peer answers one.
    Reach { tries: u32 },
    /// Full-size probes of `ladder[step]`.
    Size { step: usize, tries: u8 },
    /// Done until the next check.
    Idle,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    nonce: u64,
    len: usize,
    sent: Instant,
    deadline: Instant,
}

/// The path-MTU check of one link: probes out, answers in, and the MTU the link should have.
#[derive(Debug)]
pub struct PathMtuCheck {
    ladder: Vec<u16>,
    phase: Phase,
    state: PathMtuState,
    verified: Option<u16>,
    applied: u16,
    /// The small probe's round trip, which sets how long a full-size probe is waited for.
    rtt: Option<Duration>,
    pending: Option<Pending>,
    next: Instant,
    out: VecDeque<Vec<u8>>,
    src: [u8; 6],
    /// Nonces are `splitmix64(seed + n)`: unguessable off the path for a random seed.
    seed: u64,
    count: u64,
    /// Answers sent in the current second, and when it began.
    answered: (u32, Instant),
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl PathMtuCheck {
    /// A check for a link of MTU `configured` over an underlay of `underlay`'s family, whose
    /// frames come from `src`; `seed` should be random.
    pub fn new(configured: u16, underlay: IpAddr, src: [u8; 6], seed: u64, now: Instant) -> Self {
        Self {
            ladder: ladder(configured, underlay),
            phase: Phase::Reach { tries: 0 },
            state: PathMtuState::Checking,
            verified: None,
            applied: configured,
            rtt: None,
            pending: None,
            next: now,
            out: VecDeque::new(),
            src,
            seed,
            count: 0,
            answered: (0, now),
        }
    }

    /// The MTU the link should have now.
    pub fn mtu(&self) -> u16 {
        self.applied
    }

    pub fn status(&self) -> PathMtuStatus {
        PathMtuStatus {
            state: self.state,
            configured: self.ladder[0],
            verified: self.verified,
        }
    }

    /// When [`Self::handle_timeout`] has something to do: while a probe is out, only its
    /// deadline (nothing else is sent meanwhile).
    pub fn poll_timeout(&self) -> Instant {
        self.pending.map_or(self.next, |p| p.deadline)
    }

    /// The next frame to send to the peer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// Sends what is due, and counts a probe that was not answered in time as lost.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(p) = self.pending
            && now >= p.deadline
        {
            self.pending = None;
            self.lost(now);
        }
        if self.pending.is_some() || now < self.next {
            return;
        }
        let (len, wait) = match self.phase {
            Phase::Idle => {
                self.phase = Phase::Reach { tries: 0 };
                (SMALL, REACH_EVERY)
            }
            Phase::Reach { .. } => (SMALL, REACH_EVERY),
            Phase::Size { step, .. } => (frame_len_for(self.ladder[step]), self.size_wait()),
        };
        self.count += 1;
        let nonce = splitmix64(self.seed.wrapping_add(self.count));
        let frame = encode(Kind::Request, nonce, len, self.src);
        self.pending = Some(Pending {
            nonce,
            len: frame.len(),
            sent: now,
            deadline: now + wait,
        });
        self.out.push_back(frame);
    }

    /// How long a full-size probe is waited for: four round trips of the small one, within
    /// 200 ms and 2 s.
    fn size_wait(&self) -> Duration {
        self.rtt.map_or(Duration::from_secs(1), |r| {
            (r * 4).clamp(Duration::from_millis(200), Duration::from_secs(2))
        })
    }

    fn lost(&mut self, now: Instant) {
        match self.phase {
            Phase::Reach { tries } => {
                let tries = tries + 1;
                if tries >= REACH_TRIES && self.state == PathMtuState::Checking {
                    self.state = PathMtuState::Unanswered;
                }
                // The probe was waited for REACH_EVERY: the next one is due now.
                self.phase = Phase::Reach { tries };
                self.next = now;
            }
            Phase::Size { step, tries } => {
                let tries = tries + 1;
                self.phase = if tries < SIZE_TRIES {
                    Phase::Size { step, tries }
                } else if step + 1 < self.ladder.len() {
                    Phase::Size {
                        step: step + 1,
                        tries: 0,
                    }
                } else {
                    // Not even the smallest size crossed: the link gets it anyway (nothing
                    // smaller carries IPv6), and the next check looks again.
                    self.conclude(None, now);
                    return;
                };
                self.next = now;
            }
            Phase::Idle => {}
        }
    }

    fn conclude(&mut self, verified: Option<u16>, now: Instant) {
        self.verified = verified;
        self.applied = verified.unwrap_or(self.ladder[self.ladder.len() - 1]);
        self.state = if verified == Some(self.ladder[0]) {
            PathMtuState::Verified
        } else {
            PathMtuState::Reduced
        };
        self.phase = Phase::Idle;
        self.next = now + RECHECK;
    }

    /// A probe frame from the peer: a request is answered (within the rate limit), an answer to
    /// the pending probe moves the check on. Returns what was wrong with a frame that is not a
    /// probe.
    pub fn handle_frame(&mut self, frame: &[u8], now: Instant) -> Result<(), ProbeError> {
        let p = parse(frame)?;
        match p.kind {
            Kind::Request => {
                if now.duration_since(self.answered.1) >= Duration::from_secs(1) {
                    self.answered = (0, now);
                }
                if self.answered.0 < ANSWERS_PER_SECOND {
                    self.answered.0 += 1;
                    self.out
                        .push_back(encode(Kind::Answer, p.nonce, p.len, self.src));
                }
            }
            Kind::Answer => {
                let Some(pending) = self.pending else {
                    return Ok(());
                };
                if pending.nonce != p.nonce || pending.len != p.len {
                    return Ok(());
                }
                self.pending = None;
                match self.phase {
                    Phase::Reach { .. } => {
                        self.rtt = Some(now.saturating_duration_since(pending.sent));
                        self.phase = Phase::Size { step: 0, tries: 0 };
                        self.next = now;
                    }
                    Phase::Size { step, .. } => self.conclude(Some(self.ladder[step]), now),
                    Phase::Idle => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
