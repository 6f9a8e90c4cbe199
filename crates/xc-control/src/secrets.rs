//! The server's secrets: a 32-byte master key (kept in the data dir, mode 0600) from which every
//! other key is derived. Access-key secrets are sealed with AES-256-GCM under it; activation keys
//! and page tokens are authenticated with HMAC-SHA256 keys derived from it.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

pub struct Secrets {
    seal: Aes256Gcm,
    activation_mac: Zeroizing<[u8; 32]>,
    page_mac: Zeroizing<[u8; 32]>,
    link_keys: Zeroizing<[u8; 32]>,
    session_mac: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

fn derive(master: &[u8; 32], purpose: &str) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(hmac_sha256(master, purpose.as_bytes()))
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl Secrets {
    /// A value that names a master key without revealing it (an HMAC of a fixed text), kept in
    /// the database so that a server started with another key is refused before it seals
    /// anything the others cannot unseal.
    pub fn key_check(master: &[u8; 32]) -> [u8; 32] {
        *derive(master, "xconnect master key check v1")
    }

    pub fn from_master(master: &[u8; 32]) -> Self {
        let seal_key = derive(master, "xconnect seal v1");
        Self {
            seal: Aes256Gcm::new_from_slice(&seal_key[..]).expect("32-byte key"),
            activation_mac: derive(master, "xconnect activation key v1"),
            page_mac: derive(master, "xconnect page token v1"),
            link_keys: derive(master, "xconnect link keys v1"),
            session_mac: derive(master, "xconnect console session v1"),
        }
    }

    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce: [u8; 12] = rand::random();
        let mut out = nonce.to_vec();
        let ct = self
            .seal
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .expect("AES-GCM encryption of a short secret cannot fail");
        out.extend_from_slice(&ct);
        out
    }

    pub fn unseal(&self, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = sealed.split_at(12);
        self.seal
            .decrypt(Nonce::from_slice(nonce), ct)
            .ok()
            .map(Zeroizing::new)
    }

    pub(crate) fn activation_mac(&self, data: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.activation_mac[..], data)
    }

    pub(crate) fn page_mac(&self, data: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.page_mac[..], data)
    }

    pub(crate) fn session_mac(&self, data: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.session_mac[..], data)
    }

    /// The key an attach point's gateways authenticate their shared connection table's
    /// messages with (`xc_filter::sync`), derived, never stored.
    pub(crate) fn flow_sync_key(&self, attach_point: &str) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(hmac_sha256(
            &self.link_keys[..],
            format!("flow sync {attach_point}").as_bytes(),
        ))
    }

    /// A link's CKN (16 bytes) and CAK (32 bytes), derived from a server secret and the link,
    /// never stored.
    pub(crate) fn link_keys(&self, link: u64, connection: &str) -> ([u8; 16], Zeroizing<[u8; 32]>) {
        let ckn_full = hmac_sha256(
            &self.link_keys[..],
            format!("ckn {link} {connection}").as_bytes(),
        );
        let mut ckn = [0u8; 16];
        ckn.copy_from_slice(&ckn_full[..16]);
        let cak = Zeroizing::new(hmac_sha256(
            &self.link_keys[..],
            format!("cak {link} {connection}").as_bytes(),
        ));
        (ckn, cak)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_tamper() {
        let s = Secrets::from_master(&[7; 32]);
        let sealed = s.seal(b"top secret");
        assert_eq!(
            s.unseal(&sealed).as_deref().map(|v| &v[..]),
            Some(&b"top secret"[..])
        );
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(s.unseal(&bad).is_none());
        assert!(Secrets::from_master(&[8; 32]).unseal(&sealed).is_none());
        assert!(!format!("{s:?}").contains("7"));
    }
}
