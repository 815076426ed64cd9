//! Why a v4 onion request is refused.

/// A refused v4 onion request.
///
/// The outer variants (framing, keys, decryption) are answered with a plain HTTP 400 whose body
/// is the `Display` text (PROTOCOL §4.2, §4.3); the inner ones with the encrypted 400 reply
/// (§4.5). No variant carries request bytes, so the text is safe to log and to send.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OnionError {
    /// The body is shorter than the 4-byte length prefix.
    #[error("invalid onion request: body too short")]
    TooShort,
    /// The body is larger than the route's limit (`api::onion::body_limit`).
    #[error("invalid onion request: body too large")]
    TooLarge,
    /// The body broke off, or did not arrive within the body timeout.
    #[error("invalid onion request: body incomplete")]
    Incomplete,
    /// The length prefix points past the end of the body.
    #[error("invalid onion request: ciphertext length exceeds the body")]
    LengthBeyondBody,
    /// The part after the ciphertext is not a JSON object.
    #[error("invalid onion request: routing info is not a JSON object")]
    RoutingNotObject,
    /// `ephemeral_key` is absent.
    #[error("invalid onion request: missing ephemeral_key")]
    MissingEphemeralKey,
    /// `ephemeral_key` is not a 32-byte key in hex, base64 or base32z, or is a low-order point.
    #[error("invalid onion request: invalid ephemeral_key")]
    InvalidEphemeralKey,
    /// `enc_type` names no supported cipher.
    #[error("invalid onion request: unknown enc_type")]
    UnknownEncType,
    /// The ciphertext does not open with the derived key.
    #[error("invalid onion request: decryption failed")]
    Decrypt,
    /// The plaintext is not a bencoded list of one or two byte strings.
    #[error("invalid v4 request: bad framing")]
    InnerFraming,
    /// The meta is not a JSON object with string `method` and `/`-prefixed string `endpoint`.
    #[error("invalid v4 request: bad meta")]
    InnerMeta,
}
