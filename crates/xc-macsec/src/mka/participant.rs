//! One MKA participant (IEEE 802.1X-2010 9.4-9.8) for a pre-shared CAK, sans-IO.
//!
//! Calling contract (as quinn-proto's): feed received MKPDUs to [`Participant::handle_mkpdu`],
//! call [`Participant::handle_timeout`] when [`Participant::poll_timeout`] passes, and after any
//! call drain [`Participant::poll_transmit`] (MKPDUs to send on the link) and
//! [`Participant::poll_event`] (SAs to install in the SecY, peers coming and going). Report the
//! SecY's packet numbers with [`Participant::report_pn`] so keys rotate before they run out.
//!
//! What it does: authenticates MKPDUs with the ICK; tracks potential and live peers (a peer is live
//! once it lists our member identifier); elects the key server (lowest priority value, then lowest
//! SCI); the key server generates SAKs, wraps them under the KEK and distributes them; every
//! participant installs a new SAK for receive first and for transmit only once every live
//! participant reports it can receive with it, so a rotation loses no frame; old keys are retired
//! afterwards. Rotation happens on a configured interval and before packet numbers near
//! exhaustion.
//!
//! XPN: each participant's SSCI is its position (from 1) among the live participants' SCIs in
//! ascending order, and the salt is the key server's MI with its first four octets XORed with the
//! key number. Both ends of an xconnect link derive them the same way; the keylog records them so
//! captures can be decrypted by other tools.

use super::kdf::{self, KeyError};
use super::mkpdu::{
    DistributedSak, KeyId, KeyUse, MKA_GROUP_ADDRESS, MKA_VERSION, Mkpdu, MkpduError, PeerEntry,
    SakUse, XpnParams, verify_icv,
};
use crate::{CipherSuite, RxSaConfig, Sci, TxSaConfig};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Static configuration of a participant.
#[derive(Clone)]
pub struct MkaConfig {
    pub cak: Zeroizing<Vec<u8>>,
    pub ckn: Vec<u8>,
    pub sci: Sci,
    /// Lower is preferred as key server.
    pub key_server_priority: u8,
    pub cipher: CipherSuite,
    pub hello: Duration,
    pub lifetime: Duration,
    /// Distribute a fresh SAK this often (None: only before PN exhaustion).
    pub rekey_interval: Option<Duration>,
    /// Rotate once any packet number of the current key reaches this.
    pub pn_threshold: u64,
    /// How long the previous key stays installed for receive after a rotation.
    pub retire_after: Duration,
}

impl std::fmt::Debug for MkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MkaConfig")
            .field("ckn", &self.ckn)
            .field("sci", &self.sci)
            .field("cipher", &self.cipher)
            .field("key_server_priority", &self.key_server_priority)
            .finish_non_exhaustive()
    }
}

impl MkaConfig {
    /// Defaults of 802.1X-2010 (hello 2 s, lifetime 6 s) and a PN threshold at three quarters of
    /// the suite's packet number space.
    pub fn new(cak: Zeroizing<Vec<u8>>, ckn: Vec<u8>, sci: Sci, cipher: CipherSuite) -> Self {
        Self {
            cak,
            ckn,
            sci,
            key_server_priority: 16,
            cipher,
            hello: Duration::from_secs(2),
            lifetime: Duration::from_secs(6),
            rekey_interval: None,
            pn_threshold: cipher.max_pn() / 4 * 3,
            retire_after: Duration::from_secs(3),
        }
    }
}

/// What the driver must do or know after a call.
#[derive(Debug, Clone)]
pub enum Event {
    /// Install this SA for receiving from a peer.
    InstallRx(RxSaConfig),
    /// Protect transmitted frames with this SA from now on.
    InstallTx(TxSaConfig),
    /// Remove a retired receive SA.
    RemoveRx {
        sci: Sci,
        an: u8,
    },
    PeerLive {
        sci: Sci,
    },
    PeerLost {
        sci: Sci,
    },
    /// The key server changed (`sci` is ours when we are it).
    KeyServer {
        sci: Sci,
    },
    /// The latest key is installed for transmit and receive.
    Secured {
        kn: u32,
        an: u8,
    },
}

/// Counters and state for status output.
#[derive(Debug, Clone, Default)]
pub struct MkaStatus {
    pub key_server: Option<Sci>,
    pub is_key_server: bool,
    pub live_peers: Vec<Sci>,
    pub potential_peers: usize,
    /// Key number and AN of the key in use for transmit.
    pub tx_key: Option<(u32, u8)>,
    /// When the transmit key was installed.
    pub tx_key_since: Option<Instant>,
    pub rotations: u64,
    pub mkpdus_sent: u64,
    pub mkpdus_received: u64,
    pub mkpdus_bad_icv: u64,
    pub mkpdus_bad: u64,
    /// MKPDUs whose message number was not above the last one seen from that member.
    pub mkpdus_replayed: u64,
    /// What went wrong last (cleared by nothing: the status says whether it still matters).
    pub last_error: Option<Problem>,
}

/// What a participant saw go wrong, for the status (and through it the control plane, which
/// tells a key mismatch from other trouble by these variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// An MKPDU for another CKN (the peer has another connectivity association).
    OtherCkn,
    /// An MKPDU whose ICV does not verify: the peer has a different CAK.
    IcvMismatch,
    /// The key server distributes a SAK for another cipher suite.
    CipherSuiteMismatch,
    /// A distributed SAK did not unwrap under our KEK.
    SakUnwrap,
    /// A SAK could not be wrapped (a local fault).
    SakWrap,
    /// An MKPDU could not be encoded (a local fault).
    Encode,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::OtherCkn => "MKPDU for another CKN",
            Self::IcvMismatch => "MKPDU failed its ICV check: the peer has a different CAK",
            Self::CipherSuiteMismatch => {
                "the key server distributes a SAK for another cipher suite"
            }
            Self::SakUnwrap => "a distributed SAK did not unwrap under our KEK",
            Self::SakWrap => "cannot wrap a SAK",
            Self::Encode => "cannot encode an MKPDU",
        })
    }
}

struct Peer {
    mi: [u8; 12],
    mn: u32,
    sci: Sci,
    priority: u8,
    live: bool,
    expires: Instant,
    sak_use: Option<SakUse>,
    xpn: Option<XpnParams>,
}

struct Key {
    id: KeyId,
    an: u8,
    sak: Zeroizing<Vec<u8>>,
    rx: bool,
    tx: bool,
    distributed_at: Instant,
    /// The XPN salt of this key.
    salt: [u8; 12],
    /// For keys we generated: the live peers' MIs at the time, sorted. A change in the live set
    /// (a peer joined, left or restarted) calls for a fresh key.
    members: Vec<[u8; 12]>,
}

pub struct Participant {
    cfg: MkaConfig,
    ick: Zeroizing<Vec<u8>>,
    kek: Zeroizing<Vec<u8>>,
    rng: ChaCha20Rng,
    mi: [u8; 12],
    mn: u32,
    peers: Vec<Peer>,
    key_server: Option<(Sci, [u8; 12])>,
    next_kn: u32,
    next_an: u8,
    latest: Option<Key>,
    old: Option<Key>,
    old_retire_at: Option<Instant>,
    distribute: Option<DistributedSak>,
    next_hello: Instant,
    send_now: bool,
    tx_pn: u64,
    rx_pn: u64,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    status: MkaStatus,
}

impl std::fmt::Debug for Participant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Participant")
            .field("cfg", &self.cfg)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

fn salt_for(key: &KeyId) -> [u8; 12] {
    let mut s = key.mi;
    for (b, k) in s.iter_mut().zip(key.kn.to_be_bytes()) {
        *b ^= k;
    }
    s
}

impl Participant {
    /// A participant with keys derived from the CAK, randomness from `seed`, starting at `now`.
    pub fn new(cfg: MkaConfig, seed: [u8; 32], now: Instant) -> Result<Self, KeyError> {
        let ick = kdf::derive_ick(&cfg.cak, &cfg.ckn)?;
        let kek = kdf::derive_kek(&cfg.cak, &cfg.ckn)?;
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut mi = [0u8; 12];
        rng.fill_bytes(&mut mi);
        Ok(Self {
            cfg,
            ick,
            kek,
            rng,
            mi,
            mn: 0,
            peers: Vec::new(),
            key_server: None,
            next_kn: 1,
            next_an: 0,
            latest: None,
            old: None,
            old_retire_at: None,
            distribute: None,
            next_hello: now,
            send_now: true,
            tx_pn: 1,
            rx_pn: 1,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            status: MkaStatus::default(),
        })
    }

    pub fn status(&self) -> &MkaStatus {
        &self.status
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next moment [`Participant::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.next_hello;
        for p in &self.peers {
            t = t.min(p.expires);
        }
        if let Some(r) = self.old_retire_at {
            t = t.min(r);
        }
        if let (Some(i), Some(k)) = (self.cfg.rekey_interval, &self.latest)
            && self.is_key_server()
        {
            t = t.min(k.distributed_at + i);
        }
        Some(t)
    }

    /// The SecY's next transmit PN and next expected receive PN for the current key.
    pub fn report_pn(&mut self, now: Instant, tx_next_pn: u64, rx_next_pn: u64) {
        self.tx_pn = tx_next_pn;
        self.rx_pn = rx_next_pn;
        self.step(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.step(now);
    }

    /// Processes a received frame with EtherType 0x888E.
    pub fn handle_mkpdu(&mut self, now: Instant, frame: &[u8]) -> Result<(), MkpduError> {
        let m = match Mkpdu::decode(frame) {
            Ok(m) => m,
            Err(e) => {
                self.status.mkpdus_bad += 1;
                return Err(e);
            }
        };
        if m.ckn != self.cfg.ckn {
            self.status.mkpdus_bad += 1;
            self.status.last_error = Some(Problem::OtherCkn);
            return Err(MkpduError::Icv);
        }
        if let Err(e) = verify_icv(frame, &self.ick) {
            self.status.mkpdus_bad_icv += 1;
            self.status.last_error = Some(Problem::IcvMismatch);
            return Err(e);
        }
        if m.mi == self.mi {
            return Ok(()); // our own, looped back
        }
        let lists_us = m
            .live
            .iter()
            .chain(&m.potential)
            .any(|p| p.mi == self.mi && p.mn <= self.mn);
        let expires = now + self.cfg.lifetime;
        match self.peers.iter_mut().position(|p| p.mi == m.mi) {
            Some(i) => {
                let p = &mut self.peers[i];
                if m.mn <= p.mn {
                    self.status.mkpdus_replayed += 1;
                    return Ok(()); // replayed or reordered MKPDU
                }
                p.mn = m.mn;
                p.expires = expires;
                p.priority = m.key_server_priority;
                p.sak_use = m.sak_use;
                p.xpn = m.xpn;
                if lists_us && !p.live {
                    p.live = true;
                    let sci = p.sci;
                    self.events.push_back(Event::PeerLive { sci });
                    self.send_now = true;
                    self.secured_again();
                }
            }
            None => {
                // A new member identifier from an SCI we knew means the peer restarted.
                if let Some(i) = self.peers.iter().position(|p| p.sci == m.sci) {
                    self.drop_peer(i);
                }
                self.peers.push(Peer {
                    mi: m.mi,
                    mn: m.mn,
                    sci: m.sci,
                    priority: m.key_server_priority,
                    live: lists_us,
                    expires,
                    sak_use: m.sak_use,
                    xpn: m.xpn,
                });
                if lists_us {
                    self.events.push_back(Event::PeerLive { sci: m.sci });
                    self.secured_again();
                }
                self.send_now = true;
            }
        }
        self.status.mkpdus_received += 1;
        if self.live().next().is_some() {
            self.elect();
        }
        if let Some(d) = &m.distributed_sak
            && self.key_server.is_some_and(|(_, mi)| mi == m.mi)
        {
            self.receive_sak(now, m.mi, d);
        }
        self.step(now);
        Ok(())
    }

    /// A peer that comes back after a loss (its MKPDUs were cut; it did not restart) still holds
    /// the key in use: the link is secured again without a new SAK.
    fn secured_again(&mut self) {
        let holds = |k: &Key| {
            if k.id.mi == self.mi {
                self.key_covers_live_set(k)
            } else {
                // A key received from the key server: good while that server is live.
                self.live().any(|p| p.mi == k.id.mi)
            }
        };
        if let Some(k) = &self.latest
            && k.tx
            && holds(k)
        {
            let (kn, an) = (k.id.kn, k.an);
            self.events.push_back(Event::Secured { kn, an });
        }
    }

    fn is_key_server(&self) -> bool {
        self.key_server.is_some_and(|(_, mi)| mi == self.mi)
    }

    fn live(&self) -> impl Iterator<Item = &Peer> {
        self.peers.iter().filter(|p| p.live)
    }

    fn drop_peer(&mut self, i: usize) {
        let p = self.peers.remove(i);
        if p.live {
            self.events.push_back(Event::PeerLost { sci: p.sci });
        }
        self.send_now = true;
    }

    /// All the work that depends on time and state: expiry, election, distribution, installation,
    /// retirement, rotation, and the hello.
    fn step(&mut self, now: Instant) {
        // Peers whose lifetime ran out.
        while let Some(i) = self.peers.iter().position(|p| p.expires <= now) {
            self.drop_peer(i);
        }
        if self.live().next().is_none() {
            self.key_server = None;
        } else {
            self.elect();
        }
        if self.is_key_server() && self.live().next().is_some() {
            let due_interval = match (self.cfg.rekey_interval, &self.latest) {
                (Some(i), Some(k)) => now >= k.distributed_at + i,
                _ => false,
            };
            let peer_pn = self
                .live()
                .filter_map(|p| self.reported_lowest_pn(p))
                .max()
                .unwrap_or(0);
            let due_pn = self.latest.as_ref().is_some_and(|k| k.tx)
                && self.tx_pn.max(self.rx_pn).max(peer_pn) >= self.cfg.pn_threshold;
            let stale = self
                .latest
                .as_ref()
                .is_none_or(|k| k.id.mi != self.mi || !self.key_covers_live_set(k));
            if stale || due_interval || due_pn {
                self.generate_sak(now);
            }
        }
        self.maybe_install_tx(now);
        if let Some(at) = self.old_retire_at
            && now >= at
        {
            self.old_retire_at = None;
            if let Some(old) = self.old.take() {
                self.remove_rx_of(&old);
            }
        }
        if self.send_now || now >= self.next_hello {
            self.send_mkpdu(now);
        }
    }

    fn live_members(&self) -> Vec<[u8; 12]> {
        let mut m: Vec<[u8; 12]> = self.live().map(|p| p.mi).collect();
        m.sort();
        m
    }

    /// The key was generated for exactly the participants live now.
    fn key_covers_live_set(&self, k: &Key) -> bool {
        k.members == self.live_members()
    }

    fn reported_lowest_pn(&self, p: &Peer) -> Option<u64> {
        let latest = self.latest.as_ref()?;
        let u = p.sak_use?.latest?;
        if u.key != latest.id {
            return None;
        }
        let high = p.xpn.map_or(0, |x| u64::from(x.latest_lowest_pn_high));
        Some(high << 32 | u64::from(u.lowest_pn))
    }

    fn elect(&mut self) {
        let mut best = (self.cfg.key_server_priority, self.cfg.sci, self.mi);
        for p in self.live() {
            if (p.priority, p.sci) < (best.0, best.1) {
                best = (p.priority, p.sci, p.mi);
            }
        }
        let new = (best.1, best.2);
        if self.key_server != Some(new) {
            self.key_server = Some(new);
            self.status.key_server = Some(best.1);
            self.status.is_key_server = best.2 == self.mi;
            self.events.push_back(Event::KeyServer { sci: best.1 });
            // A new key server (or a newly live peer set) needs a fresh key.
            if self.is_key_server() {
                self.latest_stale_for_new_server();
            }
        }
    }

    fn latest_stale_for_new_server(&mut self) {
        if self.latest.as_ref().is_some_and(|k| k.id.mi != self.mi) {
            // Keep it as old until our own key takes over.
            self.rotate_out_latest();
        }
    }

    fn rotate_out_latest(&mut self) {
        if let Some(prev) = self.latest.take() {
            let older = self.old.replace(prev);
            if let Some(older) = older {
                self.remove_rx_of(&older);
            }
        }
    }

    /// Removes the receive SAs of a key retired from use, unless a key still in use holds its
    /// association number now: a key server that restarted (same SCI, new member identifier)
    /// starts again from AN 0 and may hand out its new key on the AN of its former self's key,
    /// whose receive SA the new key's installation replaced.
    fn remove_rx_of(&mut self, retired: &Key) {
        let taken = [self.latest.as_ref(), self.old.as_ref()]
            .into_iter()
            .flatten()
            .any(|k| k.an == retired.an && k.id != retired.id);
        if taken {
            return;
        }
        for sci in self.live().map(|p| p.sci).collect::<Vec<_>>() {
            self.events.push_back(Event::RemoveRx {
                sci,
                an: retired.an,
            });
        }
    }

    fn generate_sak(&mut self, now: Instant) {
        let mut sak = Zeroizing::new(vec![0u8; self.cfg.cipher.key_len()]);
        self.rng.fill_bytes(&mut sak);
        let id = KeyId {
            mi: self.mi,
            kn: self.next_kn,
        };
        let an = self.next_an;
        self.next_kn = self.next_kn.wrapping_add(1).max(1);
        self.next_an = (self.next_an + 1) & 3;
        let wrapped = match kdf::wrap(&self.kek, &sak) {
            Ok(w) => w,
            Err(_) => {
                self.status.last_error = Some(Problem::SakWrap);
                return;
            }
        };
        self.distribute = Some(DistributedSak {
            an,
            confidentiality_offset: 0,
            kn: id.kn,
            cipher: (self.cfg.cipher != CipherSuite::GcmAes128).then_some(self.cfg.cipher),
            wrapped,
        });
        if self.latest.is_some() {
            self.status.rotations += 1;
        }
        self.rotate_out_latest();
        let members = self.live_members();
        self.latest = Some(Key {
            id,
            an,
            salt: salt_for(&id),
            sak,
            rx: false,
            tx: false,
            distributed_at: now,
            members,
        });
        self.install_rx();
        self.send_now = true;
    }

    fn receive_sak(&mut self, now: Instant, server_mi: [u8; 12], d: &DistributedSak) {
        let id = KeyId {
            mi: server_mi,
            kn: d.kn,
        };
        if self.latest.as_ref().is_some_and(|k| k.id == id)
            || self.old.as_ref().is_some_and(|k| k.id == id)
        {
            return;
        }
        if d.cipher.unwrap_or(CipherSuite::GcmAes128) != self.cfg.cipher {
            self.status.last_error = Some(Problem::CipherSuiteMismatch);
            return;
        }
        let sak = match kdf::unwrap(&self.kek, &d.wrapped) {
            Ok(k) if k.len() == self.cfg.cipher.key_len() => k,
            _ => {
                self.status.last_error = Some(Problem::SakUnwrap);
                return;
            }
        };
        self.rotate_out_latest();
        self.latest = Some(Key {
            id,
            an: d.an & 3,
            salt: salt_for(&id),
            sak,
            rx: false,
            tx: false,
            distributed_at: now,
            members: Vec::new(),
        });
        self.install_rx();
        self.send_now = true;
    }

    /// SSCI of `sci` for XPN: its position among the live participants' SCIs, from 1.
    fn ssci(&self, sci: &Sci) -> [u8; 4] {
        let mut all: Vec<Sci> = self.live().map(|p| p.sci).chain([self.cfg.sci]).collect();
        all.sort();
        let pos = all.iter().position(|s| s == sci).unwrap_or(0) as u32 + 1;
        pos.to_be_bytes()
    }

    fn install_rx(&mut self) {
        let Some(k) = &self.latest else { return };
        let peers: Vec<Sci> = self.live().map(|p| p.sci).collect();
        for sci in peers {
            let cfg = RxSaConfig {
                sci,
                an: k.an,
                sak: k.sak.clone(),
                lowest_pn: 1,
                ssci: self.ssci(&sci),
                salt: k.salt,
            };
            self.events.push_back(Event::InstallRx(cfg));
        }
        if let Some(k) = &mut self.latest {
            k.rx = true;
        }
    }

    /// Transmit switches to the latest key once every live participant can receive with it: the
    /// key server waits for all peers' SAK Use to report it; the others wait for the key server
    /// to report transmitting with it.
    fn maybe_install_tx(&mut self, now: Instant) {
        let Some(k) = &self.latest else { return };
        if k.tx || !k.rx {
            return;
        }
        let id = k.id;
        let ready = if self.is_key_server() {
            let mut live = self.live().peekable();
            live.peek().is_some()
                && live.all(|p| {
                    p.sak_use
                        .and_then(|u| u.latest)
                        .is_some_and(|u| u.key == id && u.rx)
                })
        } else {
            self.key_server.is_some_and(|(_, mi)| {
                self.peers
                    .iter()
                    .find(|p| p.mi == mi)
                    .and_then(|p| p.sak_use.and_then(|u| u.latest))
                    .is_some_and(|u| u.key == id && u.tx)
            })
        };
        if !ready {
            return;
        }
        let ssci = self.ssci(&self.cfg.sci);
        let Some(k) = &mut self.latest else { return };
        k.tx = true;
        let cfg = TxSaConfig {
            an: k.an,
            sak: k.sak.clone(),
            next_pn: 1,
            ssci,
            salt: k.salt,
        };
        let (kn, an) = (k.id.kn, k.an);
        self.events.push_back(Event::InstallTx(cfg));
        self.events.push_back(Event::Secured { kn, an });
        self.status.tx_key = Some((kn, an));
        self.status.tx_key_since = Some(now);
        self.tx_pn = 1;
        self.rx_pn = 1;
        if self.old.is_some() {
            self.old_retire_at = Some(now + self.cfg.retire_after);
        }
        if self.is_key_server() {
            self.distribute = None;
        }
        self.send_now = true;
    }

    fn key_use(k: &Key, lowest_pn: u64) -> KeyUse {
        KeyUse {
            key: k.id,
            an: k.an,
            tx: k.tx,
            rx: k.rx,
            lowest_pn: lowest_pn as u32,
        }
    }

    fn send_mkpdu(&mut self, now: Instant) {
        self.mn = self.mn.wrapping_add(1);
        self.send_now = false;
        self.next_hello = now + self.cfg.hello;
        let entry = |p: &Peer| PeerEntry { mi: p.mi, mn: p.mn };
        let sak_use = SakUse {
            latest: self.latest.as_ref().map(|k| Self::key_use(k, self.rx_pn)),
            old: self.old.as_ref().map(|k| Self::key_use(k, 1)),
            ..SakUse::default()
        };
        let xpn = self.cfg.cipher.is_xpn().then_some(XpnParams {
            suspension_time: 0,
            latest_lowest_pn_high: (self.rx_pn >> 32) as u32,
            old_lowest_pn_high: 0,
        });
        let m = Mkpdu {
            version: MKA_VERSION,
            key_server_priority: self.cfg.key_server_priority,
            key_server: self.is_key_server(),
            macsec_desired: true,
            capability: 3,
            sci: self.cfg.sci,
            mi: self.mi,
            mn: self.mn,
            ckn: self.cfg.ckn.clone(),
            live: self.peers.iter().filter(|p| p.live).map(entry).collect(),
            potential: self.peers.iter().filter(|p| !p.live).map(entry).collect(),
            sak_use: Some(sak_use),
            distributed_sak: if self.is_key_server() {
                self.distribute.clone()
            } else {
                None
            },
            xpn,
        };
        match m.encode(&self.ick, MKA_GROUP_ADDRESS, self.cfg.sci.mac()) {
            Ok(frame) => {
                self.status.mkpdus_sent += 1;
                self.transmit.push_back(frame);
            }
            Err(_) => self.status.last_error = Some(Problem::Encode),
        }
        self.status.live_peers = self.live().map(|p| p.sci).collect();
        self.status.potential_peers = self.peers.iter().filter(|p| !p.live).count();
    }
}
