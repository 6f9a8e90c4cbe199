//! The keylog (DANGEROUS, off by default): one line per SAK as it is installed, so that a capture
//! of the underlay can be decrypted by another implementation.
//!
//! `MACSEC <link> <tx|rx> <sci 16 hex> <an 0-3> <cipher> <ssci 8 hex or -> <salt 24 hex or -> <sak hex>`

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use xc_macsec::{CipherSuite, Sci};

#[derive(Debug)]
pub struct KeyLog {
    file: Mutex<std::fs::File>,
}

impl std::fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("link", &self.link)
            .field("direction", &self.direction)
            .field("an", &self.an)
            .finish_non_exhaustive()
    }
}

pub struct Entry<'a> {
    pub link: &'a str,
    pub direction: &'a str,
    pub sci: Sci,
    pub an: u8,
    pub cipher: CipherSuite,
    pub ssci: [u8; 4],
    pub salt: [u8; 12],
    pub sak: &'a [u8],
}

pub fn format_line(e: &Entry<'_>) -> String {
    let (ssci, salt) = if e.cipher.is_xpn() {
        (hex::encode(e.ssci), hex::encode(e.salt))
    } else {
        ("-".into(), "-".into())
    };
    format!(
        "MACSEC {} {} {} {} {} {} {} {}",
        e.link,
        e.direction,
        hex::encode(e.sci.0),
        e.an,
        e.cipher.name(),
        ssci,
        salt,
        hex::encode(e.sak)
    )
}

impl KeyLog {
    /// Opens (appends to) the keylog, created with mode 0600.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    pub fn write(&self, e: &Entry<'_>) {
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{}", format_line(e));
            let _ = f.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format() {
        let sak = [0xabu8; 16];
        let e = Entry {
            link: "l1",
            direction: "tx",
            sci: Sci([2, 0, 0, 0, 0, 1, 0, 1]),
            an: 2,
            cipher: CipherSuite::GcmAes128,
            ssci: [0, 0, 0, 1],
            salt: [0; 12],
            sak: &sak,
        };
        assert_eq!(
            format_line(&e),
            format!(
                "MACSEC l1 tx 0200000000010001 2 gcm-aes-128 - - {}",
                "ab".repeat(16)
            )
        );
        let x = Entry {
            cipher: CipherSuite::GcmAesXpn256,
            salt: [0x11; 12],
            ..e
        };
        assert!(format_line(&x).contains(" gcm-aes-xpn-256 00000001 111111111111111111111111 "));
    }
}
