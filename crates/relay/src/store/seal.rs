//! At-rest sealing of device tokens and enc_keys (XChaCha20-Poly1305 with `storage.key`, a fresh
//! nonce each time) and the keyed BLAKE2b row key of (account, service, token), so a copy of the
//! database alone neither reveals a token or payload key nor shows which accounts share a device:
//! no device-derived column of one account's row equals that of another account's row.

use crate::crypto::{self, StorageKey};
use crate::subscription::AccountId;

/// Seals, opens and hashes device tokens (and seals enc_keys) with the storage key.
#[derive(Clone)]
pub struct Sealer {
    seal_key: [u8; 32],
    row_key: [u8; 32],
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
            // Not the "token lookup" key of the (service, token) hash before migration 0002, so
            // an old and a new row key never coincide by construction.
            row_key: crypto::blake2b_keyed(&key.0, &[b"session-push-relay row key"]),
        }
    }

    /// The row key (`token_hash` column) of (account, service, token): keyed, and different
    /// for each account holding the same device token.
    pub fn token_hash(&self, account: &AccountId, service: &str, token: &str) -> [u8; 32] {
        // The account has a fixed length and the service a length prefix, so no two triples
        // hash the same input.
        let len = (service.len() as u32).to_le_bytes();
        crypto::blake2b_keyed(
            &self.row_key,
            &[
                account.as_bytes(),
                &len,
                service.as_bytes(),
                token.as_bytes(),
            ],
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
        let (a, b) = (AccountId([5; 33]), AccountId([6; 33]));
        assert_eq!(s.token_hash(&a, "apns", "t"), s.token_hash(&a, "apns", "t"));
        assert_ne!(
            s.token_hash(&a, "apns", "t"),
            s.token_hash(&a, "firebase", "t")
        );
        assert_ne!(
            s.token_hash(&a, "apns", "t"),
            s.token_hash(&b, "apns", "t"),
            "one device, two accounts: unlinkable row keys"
        );
        let other = Sealer::new(&StorageKey([2; 32]));
        assert_eq!(other.open(&sealed), None);
        assert_ne!(
            other.token_hash(&a, "apns", "t"),
            s.token_hash(&a, "apns", "t")
        );
    }
}
