//! Every cryptographic primitive the relay uses, as safe wrappers.
//!
//! **Owns:** the only calls into libsodium (`sodium.rs`), AES-256-GCM and HMAC-SHA256 for onion
//! requests (`aead.rs`, RustCrypto), and the relay's key files (`keys.rs`).
//! **Must not:** be bypassed: no other module names `libsodium_sys`.
//!
//! Data enters as byte slices and fixed-size arrays and leaves as owned arrays or `Vec<u8>`;
//! failures are `CryptoError` values, never panics.

mod aead;
mod error;
mod keys;
mod sodium;

pub use aead::{aes_gcm_decrypt, aes_gcm_encrypt, hmac_sha256, AES_GCM_IV_LEN, AES_GCM_TAG_LEN};
pub use error::CryptoError;
pub use keys::{onion_key_path, KeyPair, RelayKeys, StorageKey};
pub use sodium::{
    blake2b, blake2b_keyed, ct_eq, ed25519_keypair_from_seed, ed25519_pk_to_x25519, ed25519_sign,
    ed25519_verify, random_array, random_bytes, x25519, x25519_base, xchacha20_decrypt,
    xchacha20_encrypt, Blake2b, Ed25519SecretKey, XCHACHA_KEY_LEN, XCHACHA_NONCE_LEN,
    XCHACHA_TAG_LEN,
};

/// Initialises libsodium; safe to call many times and from many threads.
pub fn init() -> Result<(), CryptoError> {
    sodium::init()
}
