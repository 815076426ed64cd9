//! AES-256-GCM and HMAC-SHA256 for onion requests (PROTOCOL §4.3), from RustCrypto.
//!
//! libsodium's AES-GCM needs AES-NI and refuses to run without it, so the relay uses RustCrypto
//! `aes-gcm` throughout (it picks hardware acceleration itself when present): one code path to test.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::CryptoError;

/// AES-GCM IV length used by Session (12 bytes).
pub const AES_GCM_IV_LEN: usize = 12;
/// AES-GCM tag length (16 bytes).
pub const AES_GCM_TAG_LEN: usize = 16;

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// AES-256-GCM encryption without AAD; returns ciphertext ‖ tag.
pub fn aes_gcm_encrypt(key: &[u8; 32], iv: &[u8; 12], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    // Encryption only fails for plaintexts beyond 64 GiB, far above any body the relay accepts.
    cipher
        .encrypt(Nonce::from_slice(iv), plaintext)
        .unwrap_or_default()
}

/// AES-256-GCM decryption of ciphertext ‖ tag without AAD.
pub fn aes_gcm_decrypt(
    key: &[u8; 32],
    iv: &[u8; 12],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(Nonce::from_slice(iv), ciphertext)
        .map_err(|_| CryptoError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn aes_gcm_round_trip_and_tamper() {
        let key = [9u8; 32];
        let iv = [1u8; 12];
        let mut ct = aes_gcm_encrypt(&key, &iv, b"hello");
        assert_eq!(ct.len(), 5 + AES_GCM_TAG_LEN);
        assert_eq!(aes_gcm_decrypt(&key, &iv, &ct).unwrap(), b"hello");
        ct[2] ^= 0x80;
        assert!(aes_gcm_decrypt(&key, &iv, &ct).is_err());
    }
}
