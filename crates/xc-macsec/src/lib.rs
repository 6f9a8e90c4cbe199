//! IEEE 802.1AE MACsec, sans-IO: frames and keys in, frames and counters out.
//!
//! - [`secy`]: the Security Entity's frame protection and validation for GCM-AES-128,
//!   GCM-AES-256, GCM-AES-XPN-128 and GCM-AES-XPN-256, with replay protection and the 802.1AE
//!   validation counters.
//! - [`sectag`]: the SecTAG codec and its TCI rules.
//!
//! No sockets, no clock, no threads: the link driver owns those and calls in. Keys are wiped on
//! drop and never printed.

pub mod mka;
pub mod sectag;
pub mod secy;

pub use sectag::{SecTag, TagError};
pub use secy::{
    CipherSuite, Counters, KeyLengthError, MAX_PN_LANES, ProtectError, RxSaConfig, SecY,
    SecYConfig, TxSaConfig, ValidateError,
};

/// A Secure Channel Identifier: the transmitter's MAC address and a port number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sci(pub [u8; 8]);

impl Sci {
    pub fn new(mac: [u8; 6], port: u16) -> Self {
        let mut b = [0u8; 8];
        b[..6].copy_from_slice(&mac);
        b[6..].copy_from_slice(&port.to_be_bytes());
        Self(b)
    }
    pub fn mac(&self) -> [u8; 6] {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.0[..6]);
        m
    }
}

impl std::fmt::Debug for Sci {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Sci {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}
