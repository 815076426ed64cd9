//! At-rest sealing of device tokens and enc_keys (XChaCha20-Poly1305 with `storage.key`) and the
//! keyed BLAKE2b lookup hash of (service, token), so a copy of the database alone does not link an
//! account to a device token, nor reveal a payload key.

use crate::crypto::{self, StorageKey};

/// Seals, opens and hashes device tokens (and seals enc_keys) with the storage key.
#[derive(Clone)]
pub struct Sealer {
    seal_key: [u8; 32],
    hash_key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    /// Derives independent sealing and hashing keys from the storage key.
    pub fn new(key: &StorageKey) -> Self {
        Sealer {
            seal_key: crypto::blake2b_keyed(&key.0, &[b"session-push-relay token seal"]),
            hash_key: crypto::blake2b_keyed(&key.0, &[b"session-push-relay token lookup"]),
        }
    }

    /// The lookup hash of (service, token).
    pub fn token_hash(&self, service: &str, token: &str) -> [u8; 32] {
        let len = (service.len() as u32).to_le_bytes();
        crypto::blake2b_keyed(
            &self.hash_key,
            &[&len, service.as_bytes(), token.as_bytes()],
        )
    }

    /// nonce(24) ‖ ciphertext ‖ tag of the token.
    pub fn seal(&self, token: &str) -> Vec<u8> {
        self.seal_bytes(token.as_bytes())
    }

    /// Opens a sealed token; `None` if it was not sealed with this key.
    pub fn open(&self, sealed: &[u8]) -> Option<String> {
        String::from_utf8(self.open_bytes(sealed)?).ok()
    }

    /// nonce(24) ‖ ciphertext ‖ tag of any bytes (the enc_key).
    pub fn seal_bytes(&self, plain: &[u8]) -> Vec<u8> {
        let nonce: [u8; 24] = crypto::random_array();
        let mut out = nonce.to_vec();
        out.extend(crypto::xchacha20_encrypt(&self.seal_key, &nonce, plain));
        out
    }

    /// Opens what [`Sealer::seal_bytes`] made; `None` if it was not sealed with this key.
    pub fn open_bytes(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ct) = sealed.split_at_checked(24)?;
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        crypto::xchacha20_decrypt(&self.seal_key, &nonce, ct).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_hash_properties() {
        let s = Sealer::new(&StorageKey([1; 32]));
        let sealed = s.seal("token-123");
        assert!(!sealed.windows(9).any(|w| w == b"token-123"));
        assert_eq!(s.open(&sealed).as_deref(), Some("token-123"));
        assert_ne!(s.seal("token-123"), sealed, "fresh nonce each time");
        assert_eq!(s.token_hash("apns", "t"), s.token_hash("apns", "t"));
        assert_ne!(s.token_hash("apns", "t"), s.token_hash("firebase", "t"));
        let other = Sealer::new(&StorageKey([2; 32]));
        assert_eq!(other.open(&sealed), None);
        assert_ne!(other.token_hash("apns", "t"), s.token_hash("apns", "t"));
    }
}
