//! MKPDUs (IEEE 802.1X-2010 11.11): EAPOL-MKA frames made of parameter sets, authenticated by an
//! AES-CMAC ICV under the ICK.
//!
//! ```text
//!  DA SA 888E | ver=3 type=5 len | Basic Parameter Set | [Live Peer List] [Potential Peer List]
//!            [MACsec SAK Use] [Distributed SAK] [XPN] | ICV Indicator (255, len 16) | ICV(16)
//! ```
//! Decoding checks every length against the frame and never panics; unknown parameter sets are
//! skipped. The ICV covers everything from the DA to the end of the ICV Indicator's header.

use super::kdf::aes_cmac;
use crate::{CipherSuite, Sci};

pub const EAPOL_ETHERTYPE: u16 = 0x888e;
/// The nearest non-TPMR bridge group address, used for MKPDUs on point-to-point links.
pub const MKA_GROUP_ADDRESS: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x03];
pub const EAPOL_VERSION: u8 = 3;
pub const EAPOL_MKA: u8 = 5;
pub const MKA_VERSION: u8 = 3;
/// Algorithm agility of 802.1X-2010 (AES-CMAC-128 and the 2010 KDF).
pub const ALGORITHM_AGILITY: [u8; 4] = [0x00, 0x80, 0xc2, 0x01];
const ICV_LEN: usize = 16;

const LIVE_PEER_LIST: u8 = 1;
const POTENTIAL_PEER_LIST: u8 = 2;
const SAK_USE: u8 = 3;
const DISTRIBUTED_SAK: u8 = 4;
const XPN: u8 = 8;
const ICV_INDICATOR: u8 = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MkpduError {
    #[error("frame too short")]
    TooShort,
    #[error("not an EAPOL-MKA frame")]
    NotMka,
    #[error("EAPOL body length does not match the frame")]
    Length,
    #[error("parameter set {0} overruns the frame")]
    ParameterSet(u8),
    #[error("malformed parameter set {0}")]
    Malformed(u8),
    #[error("unsupported algorithm agility")]
    Agility,
    #[error("bad ICV")]
    Icv,
}

/// A member identifier and message number, as carried in peer lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerEntry {
    pub mi: [u8; 12],
    pub mn: u32,
}

/// A key identifier: the key server's MI and the key number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId {
    pub mi: [u8; 12],
    pub kn: u32,
}

/// One key's entry in a SAK Use parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUse {
    pub key: KeyId,
    pub an: u8,
    pub tx: bool,
    pub rx: bool,
    /// The low 32 bits of the lowest acceptable PN (XPN carries the high bits separately).
    pub lowest_pn: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SakUse {
    pub latest: Option<KeyUse>,
    pub old: Option<KeyUse>,
    pub plain_tx: bool,
    pub plain_rx: bool,
    pub delay_protect: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributedSak {
    pub an: u8,
    pub confidentiality_offset: u8,
    pub kn: u32,
    /// `None` means the default suite, GCM-AES-128.
    pub cipher: Option<CipherSuite>,
    pub wrapped: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XpnParams {
    pub suspension_time: u8,
    pub latest_lowest_pn_high: u32,
    pub old_lowest_pn_high: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mkpdu {
    pub version: u8,
    pub key_server_priority: u8,
    pub key_server: bool,
    pub macsec_desired: bool,
    /// MACsec capability (0 to 3; 3 = integrity and confidentiality with offsets).
    pub capability: u8,
    pub sci: Sci,
    pub mi: [u8; 12],
    pub mn: u32,
    pub ckn: Vec<u8>,
    pub live: Vec<PeerEntry>,
    pub potential: Vec<PeerEntry>,
    pub sak_use: Option<SakUse>,
    pub distributed_sak: Option<DistributedSak>,
    pub xpn: Option<XpnParams>,
}

pub fn cipher_suite_id(c: CipherSuite) -> [u8; 8] {
    let n = match c {
        CipherSuite::GcmAes128 => 1,
        CipherSuite::GcmAes256 => 2,
        CipherSuite::GcmAesXpn128 => 3,
        CipherSuite::GcmAesXpn256 => 4,
    };
    [0x00, 0x80, 0xc2, 0x00, 0x01, 0x00, 0x00, n]
}

fn cipher_suite_from_id(id: &[u8]) -> Option<CipherSuite> {
    CipherSuite::ALL
        .into_iter()
        .find(|c| cipher_suite_id(*c) == id)
}

/// Pads the parameter set just written to a multiple of 4 octets, counted from the start of the
/// MKPDU body (`body_start`), where parameter-set alignment is defined.
fn pad4(out: &mut Vec<u8>, body_start: usize) {
    while !(out.len() - body_start).is_multiple_of(4) {
        out.push(0);
    }
}

/// Writes a parameter set header; `b1` and the high nibble of `b2` are type-specific.
fn header(out: &mut Vec<u8>, ty: u8, b1: u8, b2_hi: u8, len: usize) {
    out.extend_from_slice(&[
        ty,
        b1,
        (b2_hi & 0xf0) | ((len >> 8) as u8 & 0x0f),
        len as u8,
    ]);
}

fn key_use_bits(k: &Option<KeyUse>) -> (u8, bool, bool) {
    k.map(|k| (k.an & 3, k.tx, k.rx))
        .unwrap_or((0, false, false))
}

impl Mkpdu {
    /// Encodes the MKPDU as an Ethernet frame from `src` to `dst`, with its ICV under `ick`.
    pub fn encode(
        &self,
        ick: &[u8],
        dst: [u8; 6],
        src: [u8; 6],
    ) -> Result<Vec<u8>, super::kdf::KeyError> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(&dst);
        out.extend_from_slice(&src);
        out.extend_from_slice(&EAPOL_ETHERTYPE.to_be_bytes());
        out.extend_from_slice(&[EAPOL_VERSION, EAPOL_MKA, 0, 0]);
        let body_start = out.len();
        // Basic parameter set.
        let basic_len = 28 + self.ckn.len();
        let flags = (u8::from(self.key_server) << 7)
            | (u8::from(self.macsec_desired) << 6)
            | ((self.capability & 3) << 4);
        out.extend_from_slice(&[
            self.version,
            self.key_server_priority,
            flags | ((basic_len >> 8) as u8 & 0x0f),
            basic_len as u8,
        ]);
        out.extend_from_slice(&self.sci.0);
        out.extend_from_slice(&self.mi);
        out.extend_from_slice(&self.mn.to_be_bytes());
        out.extend_from_slice(&ALGORITHM_AGILITY);
        out.extend_from_slice(&self.ckn);
        pad4(&mut out, body_start);
        for (ty, list) in [
            (LIVE_PEER_LIST, &self.live),
            (POTENTIAL_PEER_LIST, &self.potential),
        ] {
            if list.is_empty() {
                continue;
            }
            header(&mut out, ty, 0, 0, list.len() * 16);
            for p in list {
                out.extend_from_slice(&p.mi);
                out.extend_from_slice(&p.mn.to_be_bytes());
            }
        }
        if let Some(u) = &self.sak_use {
            let (lan, ltx, lrx) = key_use_bits(&u.latest);
            let (oan, otx, orx) = key_use_bits(&u.old);
            let b1 = (lan << 6)
                | (u8::from(ltx) << 5)
                | (u8::from(lrx) << 4)
                | (oan << 2)
                | (u8::from(otx) << 1)
                | u8::from(orx);
            let b2 = (u8::from(u.plain_tx) << 7)
                | (u8::from(u.plain_rx) << 6)
                | (u8::from(u.delay_protect) << 4);
            let any = u.latest.is_some() || u.old.is_some();
            header(&mut out, SAK_USE, b1, b2, if any { 40 } else { 0 });
            if any {
                for k in [u.latest, u.old] {
                    let k = k.unwrap_or(KeyUse {
                        key: KeyId { mi: [0; 12], kn: 0 },
                        an: 0,
                        tx: false,
                        rx: false,
                        lowest_pn: 0,
                    });
                    out.extend_from_slice(&k.key.mi);
                    out.extend_from_slice(&k.key.kn.to_be_bytes());
                    out.extend_from_slice(&k.lowest_pn.to_be_bytes());
                }
            }
        }
        if let Some(d) = &self.distributed_sak {
            let len = 4 + d.cipher.map_or(0, |_| 8) + d.wrapped.len();
            header(
                &mut out,
                DISTRIBUTED_SAK,
                ((d.an & 3) << 6) | ((d.confidentiality_offset & 3) << 4),
                0,
                len,
            );
            out.extend_from_slice(&d.kn.to_be_bytes());
            if let Some(c) = d.cipher {
                out.extend_from_slice(&cipher_suite_id(c));
            }
            out.extend_from_slice(&d.wrapped);
            pad4(&mut out, body_start);
        }
        if let Some(x) = &self.xpn {
            header(&mut out, XPN, x.suspension_time, 0, 8);
            out.extend_from_slice(&x.latest_lowest_pn_high.to_be_bytes());
            out.extend_from_slice(&x.old_lowest_pn_high.to_be_bytes());
        }
        header(&mut out, ICV_INDICATOR, 0, 0, ICV_LEN);
        let body_len = out.len() - body_start + ICV_LEN;
        out[body_start - 2..body_start].copy_from_slice(&(body_len as u16).to_be_bytes());
        let icv = aes_cmac(ick, &[&out])?;
        out.extend_from_slice(&icv);
        Ok(out)
    }

    /// Decodes an MKPDU frame (from the DA). The ICV is not checked here: see [`verify_icv`].
    pub fn decode(frame: &[u8]) -> Result<Mkpdu, MkpduError> {
        if frame.len() < 18 + 32 + ICV_LEN {
            return Err(MkpduError::TooShort);
        }
        if u16::from_be_bytes([frame[12], frame[13]]) != EAPOL_ETHERTYPE || frame[15] != EAPOL_MKA {
            return Err(MkpduError::NotMka);
        }
        let body_len = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
        if 18 + body_len != frame.len() {
            return Err(MkpduError::Length);
        }
        let body = &frame[18..frame.len() - ICV_LEN];
        // Basic parameter set.
        let basic_len = usize::from(body[2] & 0x0f) << 8 | usize::from(body[3]);
        if basic_len < 28 || 4 + basic_len > body.len() {
            return Err(MkpduError::ParameterSet(0));
        }
        let ckn_len = basic_len - 28;
        if ckn_len > 32 {
            return Err(MkpduError::Malformed(0));
        }
        if body[28..32] != ALGORITHM_AGILITY {
            return Err(MkpduError::Agility);
        }
        let mut sci = [0u8; 8];
        sci.copy_from_slice(&body[4..12]);
        let mut mi = [0u8; 12];
        mi.copy_from_slice(&body[12..24]);
        let mut m = Mkpdu {
            version: body[0],
            key_server_priority: body[1],
            key_server: body[2] & 0x80 != 0,
            macsec_desired: body[2] & 0x40 != 0,
            capability: (body[2] >> 4) & 3,
            sci: Sci(sci),
            mi,
            mn: u32::from_be_bytes([body[24], body[25], body[26], body[27]]),
            ckn: body[32..32 + ckn_len].to_vec(),
            live: Vec::new(),
            potential: Vec::new(),
            sak_use: None,
            distributed_sak: None,
            xpn: None,
        };
        let mut at = (4 + basic_len).next_multiple_of(4);
        while at + 4 <= body.len() {
            let ty = body[at];
            if ty == ICV_INDICATOR {
                // Its body is the ICV itself, the last 16 octets (outside `body`).
                break;
            }
            let len = usize::from(body[at + 2] & 0x0f) << 8 | usize::from(body[at + 3]);
            let start = at + 4;
            let end = start + len;
            if end > body.len() {
                return Err(MkpduError::ParameterSet(ty));
            }
            let p = &body[start..end];
            match ty {
                LIVE_PEER_LIST | POTENTIAL_PEER_LIST => {
                    if !len.is_multiple_of(16) {
                        return Err(MkpduError::Malformed(ty));
                    }
                    let list: Vec<PeerEntry> = p
                        .chunks_exact(16)
                        .map(|c| {
                            let mut mi = [0u8; 12];
                            mi.copy_from_slice(&c[..12]);
                            PeerEntry {
                                mi,
                                mn: u32::from_be_bytes([c[12], c[13], c[14], c[15]]),
                            }
                        })
                        .collect();
                    if ty == LIVE_PEER_LIST {
                        m.live = list
                    } else {
                        m.potential = list
                    }
                }
                SAK_USE => {
                    let b1 = body[at + 1];
                    let b2 = body[at + 2];
                    let mut u = SakUse {
                        plain_tx: b2 & 0x80 != 0,
                        plain_rx: b2 & 0x40 != 0,
                        delay_protect: b2 & 0x10 != 0,
                        ..SakUse::default()
                    };
                    if len == 40 {
                        let entry = |off: usize, an: u8, tx: bool, rx: bool| {
                            let mut mi = [0u8; 12];
                            mi.copy_from_slice(&p[off..off + 12]);
                            let kn = u32::from_be_bytes([
                                p[off + 12],
                                p[off + 13],
                                p[off + 14],
                                p[off + 15],
                            ]);
                            let lowest_pn = u32::from_be_bytes([
                                p[off + 16],
                                p[off + 17],
                                p[off + 18],
                                p[off + 19],
                            ]);
                            // An all-zero key identifier means "no key".
                            (mi != [0; 12] || kn != 0).then_some(KeyUse {
                                key: KeyId { mi, kn },
                                an,
                                tx,
                                rx,
                                lowest_pn,
                            })
                        };
                        u.latest = entry(0, b1 >> 6, b1 & 0x20 != 0, b1 & 0x10 != 0);
                        u.old = entry(20, (b1 >> 2) & 3, b1 & 0x02 != 0, b1 & 0x01 != 0);
                    } else if len != 0 {
                        return Err(MkpduError::Malformed(ty));
                    }
                    m.sak_use = Some(u);
                }
                DISTRIBUTED_SAK if len > 0 => {
                    let b1 = body[at + 1];
                    let (cipher, wrapped) = match len {
                        28 => (None, &p[4..]),
                        36 | 52 => (
                            Some(cipher_suite_from_id(&p[4..12]).ok_or(MkpduError::Malformed(ty))?),
                            &p[12..],
                        ),
                        _ => return Err(MkpduError::Malformed(ty)),
                    };
                    m.distributed_sak = Some(DistributedSak {
                        an: b1 >> 6,
                        confidentiality_offset: (b1 >> 4) & 3,
                        kn: u32::from_be_bytes([p[0], p[1], p[2], p[3]]),
                        cipher,
                        wrapped: wrapped.to_vec(),
                    });
                }
                XPN => {
                    if len != 8 {
                        return Err(MkpduError::Malformed(ty));
                    }
                    m.xpn = Some(XpnParams {
                        suspension_time: body[at + 1],
                        latest_lowest_pn_high: u32::from_be_bytes([p[0], p[1], p[2], p[3]]),
                        old_lowest_pn_high: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
                    });
                }
                // Distributed CAK, KMD, announcements, unknown: not used on our links.
                _ => {}
            }
            at = end.next_multiple_of(4);
        }
        Ok(m)
    }
}

/// Checks the ICV of an MKPDU frame (the last 16 octets) under `ick`, in constant time.
pub fn verify_icv(frame: &[u8], ick: &[u8]) -> Result<(), MkpduError> {
    if frame.len() < ICV_LEN {
        return Err(MkpduError::TooShort);
    }
    let (signed, icv) = frame.split_at(frame.len() - ICV_LEN);
    let expected = aes_cmac(ick, &[signed]).map_err(|_| MkpduError::Icv)?;
    if subtle::ConstantTimeEq::ct_eq(&expected[..], icv).into() {
        Ok(())
    } else {
        Err(MkpduError::Icv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Mkpdu {
        Mkpdu {
            version: MKA_VERSION,
            key_server_priority: 16,
            key_server: true,
            macsec_desired: true,
            capability: 3,
            sci: Sci([2, 0, 0, 0, 0, 1, 0, 1]),
            mi: [7; 12],
            mn: 42,
            ckn: b"link-101".to_vec(),
            live: vec![PeerEntry { mi: [9; 12], mn: 3 }],
            potential: vec![
                PeerEntry { mi: [8; 12], mn: 1 },
                PeerEntry { mi: [6; 12], mn: 9 },
            ],
            sak_use: Some(SakUse {
                latest: Some(KeyUse {
                    key: KeyId { mi: [7; 12], kn: 2 },
                    an: 1,
                    tx: true,
                    rx: true,
                    lowest_pn: 5,
                }),
                old: None,
                plain_tx: false,
                plain_rx: false,
                delay_protect: false,
            }),
            distributed_sak: Some(DistributedSak {
                an: 1,
                confidentiality_offset: 0,
                kn: 2,
                cipher: Some(CipherSuite::GcmAesXpn256),
                wrapped: vec![0xab; 40],
            }),
            xpn: Some(XpnParams {
                suspension_time: 0,
                latest_lowest_pn_high: 1,
                old_lowest_pn_high: 0,
            }),
        }
    }

    #[test]
    fn round_trip_and_icv() {
        let ick = [0x33u8; 16];
        let m = sample();
        let frame = m
            .encode(&ick, MKA_GROUP_ADDRESS, [2, 0, 0, 0, 0, 1])
            .expect("encode");
        assert_eq!(
            frame.len() % 4,
            2,
            "DA SA and EtherType, then 4-aligned parameter sets"
        );
        assert_eq!(Mkpdu::decode(&frame).expect("decode"), m);
        verify_icv(&frame, &ick).expect("icv");
        assert_eq!(verify_icv(&frame, &[0x34u8; 16]), Err(MkpduError::Icv));
        let mut tampered = frame.clone();
        tampered[40] ^= 1;
        assert_eq!(verify_icv(&tampered, &ick), Err(MkpduError::Icv));
        // Default cipher suite: no cipher suite field.
        let mut d = sample();
        d.distributed_sak = Some(DistributedSak {
            an: 0,
            confidentiality_offset: 0,
            kn: 1,
            cipher: None,
            wrapped: vec![1; 24],
        });
        d.sak_use = Some(SakUse::default());
        d.xpn = None;
        let f = d
            .encode(&ick, MKA_GROUP_ADDRESS, [2, 0, 0, 0, 0, 1])
            .expect("encode");
        assert_eq!(Mkpdu::decode(&f).expect("decode"), d);
    }

    #[test]
    fn truncations_and_bad_lengths_are_errors() {
        let ick = [0x33u8; 16];
        let frame = sample()
            .encode(&ick, MKA_GROUP_ADDRESS, [2, 0, 0, 0, 0, 1])
            .expect("encode");
        for n in 0..frame.len() {
            assert!(Mkpdu::decode(&frame[..n]).is_err(), "truncated to {n}");
        }
        let mut bad = frame.clone();
        bad[18 + 3] = 0xff; // basic parameter set longer than the frame
        assert!(Mkpdu::decode(&bad).is_err());
    }
}
