//! The MKA key hierarchy (IEEE 802.1X-2010 6.2, 9.3): AES-CMAC, the AES-CMAC counter-mode KDF,
//! ICK and KEK from the CAK, and AES key wrap (RFC 3394) for distributing SAKs.

use aes::{Aes128, Aes256};
use cmac::{Cmac, Mac};
use zeroize::Zeroizing;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a CAK is 16 or 32 bytes")]
    CakLength,
    #[error("a CKN is 1 to 32 bytes")]
    CknLength,
    #[error("AES key unwrap failed: wrong KEK or corrupted key")]
    Unwrap,
    #[error("wrapped key has a bad length")]
    WrapLength,
}

/// AES-CMAC (RFC 4493) with a 128- or 256-bit key.
pub fn aes_cmac(key: &[u8], parts: &[&[u8]]) -> Result<[u8; 16], KeyError> {
    fn run<M: Mac>(mut m: M, parts: &[&[u8]]) -> [u8; 16] {
        for p in parts {
            m.update(p);
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&m.finalize().into_bytes()[..16]);
        out
    }
    match key.len() {
        16 => Ok(run(
            <Cmac<Aes128> as Mac>::new_from_slice(key).map_err(|_| KeyError::CakLength)?,
            parts,
        )),
        32 => Ok(run(
            <Cmac<Aes256> as Mac>::new_from_slice(key).map_err(|_| KeyError::CakLength)?,
            parts,
        )),
        _ => Err(KeyError::CakLength),
    }
}

/// KDF(Key, Label, Context, Length) of 802.1X-2010 6.2.1: NIST SP 800-108 counter mode with
/// AES-CMAC as the PRF: `PRF(Key, i || Label || 0x00 || Context || L)` for i = 1, 2, ...
pub fn kdf(
    key: &[u8],
    label: &str,
    context: &[u8],
    bits: u16,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let len = usize::from(bits / 8);
    let mut out = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut i: u8 = 1;
    while out.len() < len {
        let block = aes_cmac(
            key,
            &[&[i], label.as_bytes(), &[0], context, &bits.to_be_bytes()],
        )?;
        out.extend_from_slice(&block);
        i = i.wrapping_add(1);
    }
    out.truncate(len);
    Ok(out)
}

/// The key identifier used as KDF context: the first 16 octets of the CKN (zero-padded).
fn keyid(ckn: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 16];
    let n = ckn.len().min(16);
    k[..n].copy_from_slice(&ckn[..n]);
    k
}

/// ICK = KDF(CAK, "IEEE8021 ICK", KeyID, |CAK|).
pub fn derive_ick(cak: &[u8], ckn: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    check(cak, ckn)?;
    kdf(cak, "IEEE8021 ICK", &keyid(ckn), (cak.len() * 8) as u16)
}

/// KEK = KDF(CAK, "IEEE8021 KEK", KeyID, |CAK|).
pub fn derive_kek(cak: &[u8], ckn: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    check(cak, ckn)?;
    kdf(cak, "IEEE8021 KEK", &keyid(ckn), (cak.len() * 8) as u16)
}

fn check(cak: &[u8], ckn: &[u8]) -> Result<(), KeyError> {
    if cak.len() != 16 && cak.len() != 32 {
        return Err(KeyError::CakLength);
    }
    if ckn.is_empty() || ckn.len() > 32 {
        return Err(KeyError::CknLength);
    }
    Ok(())
}

/// AES key wrap (RFC 3394) of a SAK under the KEK.
pub fn wrap(kek: &[u8], key: &[u8]) -> Result<Vec<u8>, KeyError> {
    match kek.len() {
        16 => aes_kw::KekAes128::try_from(kek)
            .map_err(|_| KeyError::CakLength)?
            .wrap_vec(key),
        32 => aes_kw::KekAes256::try_from(kek)
            .map_err(|_| KeyError::CakLength)?
            .wrap_vec(key),
        _ => return Err(KeyError::CakLength),
    }
    .map_err(|_| KeyError::WrapLength)
}

/// AES key unwrap (RFC 3394); fails on any tampering or a wrong KEK.
pub fn unwrap(kek: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
        return Err(KeyError::WrapLength);
    }
    let r = match kek.len() {
        16 => aes_kw::KekAes128::try_from(kek)
            .map_err(|_| KeyError::CakLength)?
            .unwrap_vec(wrapped),
        32 => aes_kw::KekAes256::try_from(kek)
            .map_err(|_| KeyError::CakLength)?
            .unwrap_vec(wrapped),
        _ => return Err(KeyError::CakLength),
    };
    r.map(Zeroizing::new).map_err(|_| KeyError::Unwrap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// RFC 4493 section 4, all four examples.
    #[test]
    fn rfc4493_cmac_vectors() {
        let key = h("2b7e151628aed2a6abf7158809cf4f3c");
        let msg = h(
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
        );
        for (len, mac) in [
            (0, "bb1d6929e95937287fa37d129b756746"),
            (16, "070a16b46b4d4144f79bdd9dd04a287c"),
            (40, "dfa66747de9ae63030ca32611497c827"),
            (64, "51f0bebf7e3b9d92fc49741779363cfe"),
        ] {
            assert_eq!(
                aes_cmac(&key, &[&msg[..len]]).expect("cmac").to_vec(),
                h(mac),
                "length {len}"
            );
        }
        // Split input gives the same MAC.
        assert_eq!(
            aes_cmac(&key, &[&msg[..7], &msg[7..40]])
                .expect("cmac")
                .to_vec(),
            h("dfa66747de9ae63030ca32611497c827")
        );
    }

    /// RFC 3394 section 4.1 (128-bit KEK, 128-bit key) and 4.6 (256-bit KEK, 256-bit key).
    #[test]
    fn rfc3394_key_wrap_vectors() {
        let kek = h("000102030405060708090A0B0C0D0E0F");
        let key = h("00112233445566778899AABBCCDDEEFF");
        let wrapped = h("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5");
        assert_eq!(wrap(&kek, &key).expect("wrap"), wrapped);
        assert_eq!(&unwrap(&kek, &wrapped).expect("unwrap")[..], &key[..]);
        let kek = h("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
        let key = h("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
        let wrapped =
            h("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21");
        assert_eq!(wrap(&kek, &key).expect("wrap"), wrapped);
        assert_eq!(&unwrap(&kek, &wrapped).expect("unwrap")[..], &key[..]);
        let mut bad = wrapped.clone();
        bad[5] ^= 1;
        assert_eq!(unwrap(&kek, &bad).map(|_| ()), Err(KeyError::Unwrap));
    }

    #[test]
    fn ick_and_kek_differ_and_depend_on_ckn() {
        let cak = [0x11u8; 16];
        let ick = derive_ick(&cak, b"ckn-one").expect("ick");
        let kek = derive_kek(&cak, b"ckn-one").expect("kek");
        assert_eq!(ick.len(), 16);
        assert_ne!(ick, kek);
        assert_ne!(ick, derive_ick(&cak, b"ckn-two").expect("ick"));
        assert_eq!(derive_ick(&[0x22u8; 32], b"x").expect("ick").len(), 32);
        assert_eq!(
            derive_ick(&[0u8; 20], b"x").map(|_| ()),
            Err(KeyError::CakLength)
        );
    }
}
