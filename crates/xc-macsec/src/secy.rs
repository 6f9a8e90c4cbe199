//! The SecY (802.1AE-2018 clause 10): protect frames with the transmit SA, validate received frames
//! against the receive SAs of each peer's Secure Channel, and count what happens as 802.1AE names it.
//!
//! Sans-IO: `protect` and `validate` take a frame and an output buffer the caller reuses, so the
//! data path allocates nothing per frame in steady state.

use crate::Sci;
use crate::sectag::{
    ICV_LEN, SHORT_LEN_LIMIT, SecTag, TCI_C, TCI_E, TCI_ES, TCI_SC, TCI_SCB, TagError,
};
use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

/// The four MACsec cipher suites (802.1AE-2018 14.5, 14.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    GcmAes128,
    GcmAes256,
    GcmAesXpn128,
    GcmAesXpn256,
}

impl CipherSuite {
    pub const ALL: [CipherSuite; 4] = [
        Self::GcmAes128,
        Self::GcmAes256,
        Self::GcmAesXpn128,
        Self::GcmAesXpn256,
    ];

    /// The name used in configuration files and the keylog.
    pub fn name(&self) -> &'static str {
        match self {
            Self::GcmAes128 => "gcm-aes-128",
            Self::GcmAes256 => "gcm-aes-256",
            Self::GcmAesXpn128 => "gcm-aes-xpn-128",
            Self::GcmAesXpn256 => "gcm-aes-xpn-256",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s.to_ascii_lowercase())
    }
    pub fn key_len(&self) -> usize {
        match self {
            Self::GcmAes128 | Self::GcmAesXpn128 => 16,
            Self::GcmAes256 | Self::GcmAesXpn256 => 32,
        }
    }
    /// Extended packet numbering: 64-bit PNs, SSCI and salt in the IV.
    pub fn is_xpn(&self) -> bool {
        matches!(self, Self::GcmAesXpn128 | Self::GcmAesXpn256)
    }
    /// The largest packet number an SA may use.
    pub fn max_pn(&self) -> u64 {
        if self.is_xpn() {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        }
    }
}

/// What the SecY is configured to do (802.1AE 10.7).
#[derive(Debug, Clone)]
pub struct SecYConfig {
    pub cipher: CipherSuite,
    /// This SecY's own SCI (for transmit).
    pub sci: Sci,
    /// Encrypt (E and C set) rather than integrity-only.
    pub confidentiality: bool,
    /// Carry the SCI in every SecTAG (SC set). Otherwise ES is set and the SCI is implied by the
    /// source address and port 1.
    pub include_sci: bool,
    /// Discard frames below the lowest acceptable PN (replayProtect).
    pub replay_protect: bool,
    /// replayWindow: how far behind the highest PN seen a frame may still be accepted.
    pub replay_window: u64,
    /// Packet-number lanes, a power of two up to [`MAX_PN_LANES`]: the receiver keeps one replay
    /// state per lane (the PN modulo the lanes), so that senders which each own some lanes
    /// (several cores of one link) need not stay in step. 1 is 802.1AE's one sequence.
    pub pn_lanes: u8,
    /// The transmit side's lanes: it uses only the PNs congruent to `.0` modulo `.1` (`.1` a
    /// power of two dividing `pn_lanes`); (0, 1) uses every PN.
    pub tx_lane: (u8, u8),
}

/// The most packet-number lanes a SecY keeps (and so the most cores one link uses).
pub const MAX_PN_LANES: u8 = 8;

impl SecYConfig {
    pub fn new(cipher: CipherSuite, sci: Sci) -> Self {
        Self {
            cipher,
            sci,
            confidentiality: true,
            include_sci: true,
            replay_protect: true,
            replay_window: 0,
            pn_lanes: 1,
            tx_lane: (0, 1),
        }
    }
}

/// A transmit SA to install: the SAK from MKA, the first PN to use, and for XPN the SSCI and salt.
#[derive(Clone)]
pub struct TxSaConfig {
    pub an: u8,
    pub sak: Zeroizing<Vec<u8>>,
    pub next_pn: u64,
    pub ssci: [u8; 4],
    pub salt: [u8; 12],
}

/// A receive SA to install for the peer `sci`.
#[derive(Clone)]
pub struct RxSaConfig {
    pub sci: Sci,
    pub an: u8,
    pub sak: Zeroizing<Vec<u8>>,
    pub lowest_pn: u64,
    pub ssci: [u8; 4],
    pub salt: [u8; 12],
}

impl std::fmt::Debug for TxSaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxSaConfig")
            .field("an", &self.an)
            .field("next_pn", &self.next_pn)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RxSaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxSaConfig")
            .field("sci", &self.sci)
            .field("an", &self.an)
            .field("lowest_pn", &self.lowest_pn)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtectError {
    #[error("no transmit SA is installed")]
    NoSa,
    #[error("the transmit SA's packet numbers are exhausted")]
    PnExhausted,
    #[error("frame shorter than an Ethernet header")]
    TooShort,
}

/// Why a received frame was discarded; each maps to an 802.1AE counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValidateError {
    #[error("not a MACsec frame (InPktsNoTag)")]
    NoTag,
    #[error("invalid SecTAG: {0} (InPktsBadTag)")]
    BadTag(TagError),
    #[error("unknown SCI (InPktsNoSCI)")]
    UnknownSci,
    #[error("no receive SA for this AN (InPktsNotUsingSA)")]
    NoSa,
    #[error("packet number below the replay window (InPktsLate)")]
    Late,
    #[error("ICV check failed (InPktsNotValid)")]
    NotValid,
}

/// The SecY's counters, named as in 802.1AE-2018 10.7.9 and 10.7.18.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// OutPktsProtected: transmitted integrity-only.
    pub out_pkts_protected: u64,
    /// OutPktsEncrypted.
    pub out_pkts_encrypted: u64,
    pub out_octets_protected: u64,
    pub out_octets_encrypted: u64,
    /// InPktsOK: received and validated.
    pub in_pkts_ok: u64,
    /// InPktsNoTag: not MACsec frames.
    pub in_pkts_no_tag: u64,
    /// InPktsBadTag: invalid SecTAG.
    pub in_pkts_bad_tag: u64,
    /// InPktsNoSCI: no matching receive SC.
    pub in_pkts_no_sci: u64,
    /// InPktsNotUsingSA: no receive SA for the AN.
    pub in_pkts_not_using_sa: u64,
    /// InPktsLate: below the lowest acceptable PN.
    pub in_pkts_late: u64,
    /// InPktsDelayed: below the lowest acceptable PN, delivered because replayProtect is off.
    pub in_pkts_delayed: u64,
    /// InPktsNotValid: ICV check failed.
    pub in_pkts_not_valid: u64,
    pub in_octets_validated: u64,
    pub in_octets_decrypted: u64,
}

impl Counters {
    /// Adds another SecY's counts to these (the SecYs of one link's cores, reported as one).
    pub fn add(&mut self, o: &Counters) {
        self.out_pkts_protected += o.out_pkts_protected;
        self.out_pkts_encrypted += o.out_pkts_encrypted;
        self.out_octets_protected += o.out_octets_protected;
        self.out_octets_encrypted += o.out_octets_encrypted;
        self.in_pkts_ok += o.in_pkts_ok;
        self.in_pkts_no_tag += o.in_pkts_no_tag;
        self.in_pkts_bad_tag += o.in_pkts_bad_tag;
        self.in_pkts_no_sci += o.in_pkts_no_sci;
        self.in_pkts_not_using_sa += o.in_pkts_not_using_sa;
        self.in_pkts_late += o.in_pkts_late;
        self.in_pkts_delayed += o.in_pkts_delayed;
        self.in_pkts_not_valid += o.in_pkts_not_valid;
        self.in_octets_validated += o.in_octets_validated;
        self.in_octets_decrypted += o.in_octets_decrypted;
    }
}

struct Sa {
    key: LessSafeKey,
    ssci: [u8; 4],
    salt: [u8; 12],
}

impl Sa {
    fn new(cipher: CipherSuite, sak: &[u8], ssci: [u8; 4], salt: [u8; 12]) -> Option<Self> {
        if sak.len() != cipher.key_len() {
            return None;
        }
        let alg = if cipher.key_len() == 16 {
            &AES_128_GCM
        } else {
            &AES_256_GCM
        };
        let key = UnboundKey::new(alg, sak).ok()?;
        Some(Self {
            key: LessSafeKey::new(key),
            ssci,
            salt,
        })
    }

    /// The GCM IV: SCI and 32-bit PN, or for XPN (SSCI and 64-bit PN) XOR salt.
    fn nonce(&self, cipher: CipherSuite, sci: &Sci, pn: u64) -> Nonce {
        let mut iv = [0u8; 12];
        if cipher.is_xpn() {
            iv[..4].copy_from_slice(&self.ssci);
            iv[4..].copy_from_slice(&pn.to_be_bytes());
            for (b, s) in iv.iter_mut().zip(self.salt) {
                *b ^= s;
            }
        } else {
            iv[..8].copy_from_slice(&sci.0);
            iv[8..].copy_from_slice(&(pn as u32).to_be_bytes());
        }
        Nonce::assume_unique_for_key(iv)
    }
}

struct TxSa {
    an: u8,
    sa: Sa,
    next_pn: u64,
}

struct RxSa {
    sa: Sa,
    /// nextRxPN of each lane: one above the highest PN validated in it.
    next_pn: [u64; MAX_PN_LANES as usize],
    /// The lowest PN the SA was installed with.
    lowest_installed: u64,
}

struct RxSc {
    sci: Sci,
    sas: [Option<RxSa>; 4],
}

/// A MACsec Security Entity for one port: one transmit SC, any number of receive SCs.
pub struct SecY {
    cfg: SecYConfig,
    tx: Option<TxSa>,
    rx: Vec<RxSc>,
    counters: Counters,
}

impl std::fmt::Debug for SecY {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecY")
            .field("cipher", &self.cfg.cipher)
            .field("sci", &self.cfg.sci)
            .field("tx_an", &self.tx.as_ref().map(|t| t.an))
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

/// The SCI of a frame sent with ES set: its source address and port 1 (802.1AE 9.9).
fn es_sci(frame: &[u8]) -> Sci {
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&frame[6..12]);
    Sci::new(mac, 1)
}

impl SecY {
    /// A SecY as `cfg` says; lanes that are not a power of two up to [`MAX_PN_LANES`] are taken
    /// as one, and a transmit share that does not divide them as every PN.
    pub fn new(mut cfg: SecYConfig) -> Self {
        if !cfg.pn_lanes.is_power_of_two() || cfg.pn_lanes > MAX_PN_LANES {
            cfg.pn_lanes = 1;
        }
        let (index, of) = cfg.tx_lane;
        if !of.is_power_of_two() || of > cfg.pn_lanes || index >= of {
            cfg.tx_lane = (0, 1);
        }
        Self {
            cfg,
            tx: None,
            rx: Vec::new(),
            counters: Counters::default(),
        }
    }

    pub fn config(&self) -> &SecYConfig {
        &self.cfg
    }
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Installs (or replaces) the transmit SA; frames are protected with it from now on.
    pub fn install_tx_sa(&mut self, c: &TxSaConfig) -> Result<(), KeyLengthError> {
        let sa = Sa::new(self.cfg.cipher, &c.sak, c.ssci, c.salt).ok_or(KeyLengthError)?;
        self.tx = Some(TxSa {
            an: c.an & 3,
            sa,
            next_pn: self.in_tx_lane(c.next_pn.max(1)),
        });
        Ok(())
    }

    /// Installs (or replaces) a receive SA of the peer `c.sci`.
    pub fn install_rx_sa(&mut self, c: &RxSaConfig) -> Result<(), KeyLengthError> {
        let sa = Sa::new(self.cfg.cipher, &c.sak, c.ssci, c.salt).ok_or(KeyLengthError)?;
        let lowest = c.lowest_pn.max(1);
        let sc = match self.rx.iter_mut().position(|sc| sc.sci == c.sci) {
            Some(i) => &mut self.rx[i],
            None => {
                self.rx.push(RxSc {
                    sci: c.sci,
                    sas: [None, None, None, None],
                });
                self.rx.last_mut().expect("just pushed")
            }
        };
        sc.sas[usize::from(c.an & 3)] = Some(RxSa {
            sa,
            next_pn: [lowest; MAX_PN_LANES as usize],
            lowest_installed: lowest,
        });
        Ok(())
    }

    pub fn remove_rx_sa(&mut self, sci: &Sci, an: u8) {
        if let Some(sc) = self.rx.iter_mut().find(|sc| &sc.sci == sci) {
            sc.sas[usize::from(an & 3)] = None;
        }
    }

    /// The AN and next PN of the transmit SA (MKA reports them and rotates before exhaustion).
    pub fn tx_state(&self) -> Option<(u8, u64)> {
        self.tx.as_ref().map(|t| (t.an, t.next_pn))
    }

    /// The next PN expected on a receive SA (with lanes, one above the highest validated).
    pub fn rx_next_pn(&self, sci: &Sci, an: u8) -> Option<u64> {
        let sc = self.rx.iter().find(|sc| &sc.sci == sci)?;
        let lanes = usize::from(self.cfg.pn_lanes);
        sc.sas[usize::from(an & 3)]
            .as_ref()
            .and_then(|sa| sa.next_pn[..lanes].iter().copied().max())
    }

    /// The first PN at or above `pn` in this end's transmit lanes.
    fn in_tx_lane(&self, pn: u64) -> u64 {
        let (index, of) = (u64::from(self.cfg.tx_lane.0), u64::from(self.cfg.tx_lane.1));
        let off = (index + of - pn % of) % of;
        pn.saturating_add(off)
    }

    /// Protects an Ethernet frame (`DA SA EtherType payload`) into `out` (cleared first).
    pub fn protect(&mut self, frame: &[u8], out: &mut Vec<u8>) -> Result<(), ProtectError> {
        out.clear();
        self.protect_append(frame, out)
    }

    /// Protects an Ethernet frame, appending the MACsec frame to `out` (which may already hold an
    /// encapsulation header, so the datagram is built in one buffer).
    pub fn protect_append(&mut self, frame: &[u8], out: &mut Vec<u8>) -> Result<(), ProtectError> {
        if frame.len() < 14 {
            return Err(ProtectError::TooShort);
        }
        let cipher = self.cfg.cipher;
        let tx = self.tx.as_mut().ok_or(ProtectError::NoSa)?;
        let pn = tx.next_pn;
        if pn == 0 || pn > cipher.max_pn() {
            return Err(ProtectError::PnExhausted);
        }
        tx.next_pn = pn.saturating_add(u64::from(self.cfg.tx_lane.1));
        let user = &frame[12..];
        let mut tci = if self.cfg.include_sci { TCI_SC } else { TCI_ES };
        if self.cfg.confidentiality {
            tci |= TCI_E | TCI_C;
        }
        let tag = SecTag {
            tci,
            an: tx.an,
            short_len: if user.len() < SHORT_LEN_LIMIT {
                user.len() as u8
            } else {
                0
            },
            pn: pn as u32,
            sci: self.cfg.include_sci.then_some(self.cfg.sci),
        };
        let start = out.len();
        out.reserve(frame.len() + tag.len() + ICV_LEN);
        out.extend_from_slice(&frame[..12]);
        tag.write(out);
        let header_end = out.len();
        out.extend_from_slice(user);
        let nonce = tx.sa.nonce(cipher, &self.cfg.sci, pn);
        // The AAD starts at the frame's DA, after whatever the caller put before it.
        let result = if self.cfg.confidentiality {
            let (head, data) = out.split_at_mut(header_end);
            tx.sa
                .key
                .seal_in_place_separate_tag(nonce, Aad::from(&head[start..]), data)
        } else {
            tx.sa
                .key
                .seal_in_place_separate_tag(nonce, Aad::from(&out[start..]), &mut [])
        };
        // Sealing only fails for inputs beyond GCM's limits (64 GiB), far above a frame.
        let tag = result.map_err(|_| ProtectError::TooShort)?;
        out.extend_from_slice(tag.as_ref());
        if self.cfg.confidentiality {
            self.counters.out_pkts_encrypted += 1;
            self.counters.out_octets_encrypted += user.len() as u64;
        } else {
            self.counters.out_pkts_protected += 1;
            self.counters.out_octets_protected += user.len() as u64;
        }
        Ok(())
    }

    /// Validates a received frame and writes the recovered Ethernet frame into `out` (cleared
    /// first). Every outcome is counted.
    pub fn validate(&mut self, frame: &[u8], out: &mut Vec<u8>) -> Result<(), ValidateError> {
        let r = self.validate_inner(frame, out);
        let c = &mut self.counters;
        match r {
            Ok(()) => c.in_pkts_ok += 1,
            Err(ValidateError::NoTag) => c.in_pkts_no_tag += 1,
            Err(ValidateError::BadTag(_)) => c.in_pkts_bad_tag += 1,
            Err(ValidateError::UnknownSci) => c.in_pkts_no_sci += 1,
            Err(ValidateError::NoSa) => c.in_pkts_not_using_sa += 1,
            Err(ValidateError::Late) => c.in_pkts_late += 1,
            Err(ValidateError::NotValid) => c.in_pkts_not_valid += 1,
        }
        r
    }

    fn validate_inner(&mut self, frame: &[u8], out: &mut Vec<u8>) -> Result<(), ValidateError> {
        out.clear();
        let tag = match SecTag::parse(frame) {
            Ok(t) => t,
            Err(TagError::NotMacsec) => return Err(ValidateError::NoTag),
            Err(TagError::TooShort) if frame.len() >= 14 && frame[12..14] != [0x88, 0xe5] => {
                return Err(ValidateError::NoTag);
            }
            Err(e) => return Err(ValidateError::BadTag(e)),
        };
        let cipher = self.cfg.cipher;
        if !cipher.is_xpn() && tag.pn == 0 {
            return Err(ValidateError::BadTag(TagError::ZeroPn));
        }
        let sci = match tag.sci {
            Some(s) => s,
            None if tag.tci & TCI_ES != 0 => es_sci(frame),
            // SCB or point-to-point: the one peer we have.
            None if tag.tci & TCI_SCB != 0 || self.rx.len() == 1 => self
                .rx
                .first()
                .map(|sc| sc.sci)
                .ok_or(ValidateError::UnknownSci)?,
            None => return Err(ValidateError::UnknownSci),
        };
        let sc = self
            .rx
            .iter_mut()
            .find(|sc| sc.sci == sci)
            .ok_or(ValidateError::UnknownSci)?;
        let rx = sc.sas[usize::from(tag.an)]
            .as_mut()
            .ok_or(ValidateError::NoSa)?;
        let window = self.cfg.replay_window;
        // Lanes are a power of two dividing 2^32: the low 32 bits of an XPN name its lane too.
        let lane = (tag.pn % u32::from(self.cfg.pn_lanes)) as usize;
        let lowest = rx.next_pn[lane]
            .saturating_sub(window)
            .max(rx.lowest_installed);
        let pn = if cipher.is_xpn() {
            recover_xpn(lowest, tag.pn)
        } else {
            u64::from(tag.pn)
        };
        let late = pn < lowest;
        if late && self.cfg.replay_protect {
            return Err(ValidateError::Late);
        }
        let header_len = 12 + tag.len();
        let icv_at = frame.len() - ICV_LEN;
        let nonce = rx.sa.nonce(cipher, &sci, pn);
        if tag.tci & TCI_E != 0 {
            // Confidentiality: AAD is the header; decrypt data||ICV in `out` after the addresses.
            out.extend_from_slice(&frame[..12]);
            out.extend_from_slice(&frame[header_len..]);
            let (_, data) = out.split_at_mut(12);
            let plain_len = rx
                .sa
                .key
                .open_in_place(nonce, Aad::from(&frame[..header_len]), data)
                .map_err(|_| ValidateError::NotValid)?
                .len();
            out.truncate(12 + plain_len);
            self.counters.in_octets_decrypted += plain_len as u64;
        } else {
            let mut icv = [0u8; ICV_LEN];
            icv.copy_from_slice(&frame[icv_at..]);
            rx.sa
                .key
                .open_in_place(nonce, Aad::from(&frame[..icv_at]), &mut icv)
                .map_err(|_| ValidateError::NotValid)?;
            out.extend_from_slice(&frame[..12]);
            out.extend_from_slice(&frame[header_len..icv_at]);
            self.counters.in_octets_validated += (icv_at - header_len) as u64;
        }
        if late {
            self.counters.in_pkts_delayed += 1;
        }
        if pn >= rx.next_pn[lane] {
            rx.next_pn[lane] = pn.saturating_add(1);
        }
        Ok(())
    }
}

/// The full 64-bit PN of an XPN frame from its low 32 bits and the lowest acceptable PN
/// (802.1AE-2018 10.6.2).
pub fn recover_xpn(lowest: u64, low: u32) -> u64 {
    let high = lowest >> 32;
    if low >= lowest as u32 {
        (high << 32) | u64::from(low)
    } else {
        (high.wrapping_add(1) << 32) | u64::from(low)
    }
}

/// The SAK is not the cipher suite's key length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the SAK length does not match the cipher suite")]
pub struct KeyLengthError;
