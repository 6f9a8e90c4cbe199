//! The MAC Security TAG (802.1AE-2018 clause 9.3): EtherType 0x88E5, TCI and AN, short length,
//! packet number, optional SCI.
//!
//! ```text
//!  DA(6) SA(6) | 88E5 | TCI/AN | SL | PN(4) | [SCI(8)] | secure data | ICV(16)
//!  TCI: V(0) ES SC SCB E C | AN(2 bits)
//! ```

use crate::Sci;

pub const ETHERTYPE: u16 = 0x88e5;
pub const ICV_LEN: usize = 16;
/// Secure data shorter than this is carried with its length in SL.
pub const SHORT_LEN_LIMIT: usize = 48;

pub const TCI_V: u8 = 0x80;
pub const TCI_ES: u8 = 0x40;
pub const TCI_SC: u8 = 0x20;
pub const TCI_SCB: u8 = 0x10;
pub const TCI_E: u8 = 0x08;
pub const TCI_C: u8 = 0x04;

/// Why a frame's SecTAG is not valid (802.1AE 9.12: such frames count as InPktsBadTag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("frame too short for a SecTAG and ICV")]
    TooShort,
    #[error("not a MACsec frame (EtherType is not 0x88E5)")]
    NotMacsec,
    #[error("version bit set")]
    Version,
    #[error("SC set together with ES or SCB")]
    ScWithEsOrScb,
    #[error("C set without E (reserved)")]
    ChangedWithoutEncrypted,
    #[error("reserved bits of the short length are set")]
    ReservedSl,
    #[error("short length does not match the secure data")]
    ShortLength,
    #[error("packet number zero")]
    ZeroPn,
}

/// A decoded SecTAG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecTag {
    pub tci: u8,
    pub an: u8,
    pub short_len: u8,
    /// The low 32 bits of the packet number, as carried.
    pub pn: u32,
    /// The SCI when carried explicitly (SC set).
    pub sci: Option<Sci>,
}

/// The length of the frame that a MACsec frame (`DA SA 88E5 ...`) protects, its SecTAG and ICV
/// left out, read from the TCI's SC bit alone (nothing else is checked): the length the sender
/// counted before protecting it. Zero for a frame too short to hold a tag and an ICV.
pub fn protected_len(frame: &[u8]) -> usize {
    let Some(&tci) = frame.get(14) else {
        return 0;
    };
    let tag = if tci & TCI_SC != 0 { 16 } else { 8 };
    frame.len().saturating_sub(tag + ICV_LEN)
}

impl SecTag {
    /// Length of the tag on the wire, EtherType included.
    pub fn len(&self) -> usize {
        if self.sci.is_some() { 16 } else { 8 }
    }
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn encrypted(&self) -> bool {
        self.tci & TCI_E != 0
    }

    /// Writes the tag (from the EtherType on).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&ETHERTYPE.to_be_bytes());
        out.push(self.tci | (self.an & 0x03));
        out.push(self.short_len & 0x3f);
        out.extend_from_slice(&self.pn.to_be_bytes());
        if let Some(sci) = self.sci {
            out.extend_from_slice(&sci.0);
        }
    }

    /// Decodes the tag of a frame (`DA SA 88E5 ...`), checking every TCI rule and the short length
    /// against the frame's length. Returns the tag; the secure data runs from
    /// `12 + tag.len()` to `frame.len() - 16`.
    pub fn parse(frame: &[u8]) -> Result<SecTag, TagError> {
        if frame.len() < 12 + 8 + ICV_LEN {
            return Err(TagError::TooShort);
        }
        if u16::from_be_bytes([frame[12], frame[13]]) != ETHERTYPE {
            return Err(TagError::NotMacsec);
        }
        let tci_an = frame[14];
        let tci = tci_an & 0xfc;
        let an = tci_an & 0x03;
        if tci & TCI_V != 0 {
            return Err(TagError::Version);
        }
        if tci & TCI_SC != 0 && tci & (TCI_ES | TCI_SCB) != 0 {
            return Err(TagError::ScWithEsOrScb);
        }
        if tci & TCI_C != 0 && tci & TCI_E == 0 {
            return Err(TagError::ChangedWithoutEncrypted);
        }
        let sl = frame[15];
        if sl & 0xc0 != 0 {
            return Err(TagError::ReservedSl);
        }
        let pn = u32::from_be_bytes([frame[16], frame[17], frame[18], frame[19]]);
        let sci = if tci & TCI_SC != 0 {
            if frame.len() < 12 + 16 + ICV_LEN {
                return Err(TagError::TooShort);
            }
            let mut s = [0u8; 8];
            s.copy_from_slice(&frame[20..28]);
            Some(Sci(s))
        } else {
            None
        };
        let tag = SecTag {
            tci,
            an,
            short_len: sl,
            pn,
            sci,
        };
        let data_len = frame.len() - 12 - tag.len() - ICV_LEN;
        let expected_sl = if data_len < SHORT_LEN_LIMIT {
            data_len
        } else {
            0
        };
        if usize::from(sl) != expected_sl {
            return Err(TagError::ShortLength);
        }
        Ok(tag)
    }
}
