/// A cryptographic operation that could not be completed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// libsodium could not be initialised (no entropy source).
    #[error("libsodium failed to initialise")]
    Init,
    /// A public key is not a valid point (or is a low-order point).
    #[error("invalid public key")]
    InvalidKey,
    /// Authenticated decryption failed: wrong key, tampered or truncated ciphertext.
    #[error("decryption failed")]
    Decrypt,
    /// A key file exists but has the wrong size or cannot be read or written.
    #[error("key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
}
