//! The outer body `[u32 LE N][N bytes ciphertext][JSON routing info]` (PROTOCOL §4.1, §4.2).

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde_json::Value;

use super::{EncType, OnionError};

/// The largest body accepted (PROTOCOL §13, LSU `DEFAULT_MAX_SIZE`).
pub const MAX_BODY: usize = 10_485_760;

/// Standard-alphabet base64, padded or not; trailing pad bits are ignored as by oxenc.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A parsed outer body; only `ephemeral_key` and `enc_type` are read from the routing info.
#[derive(Debug)]
pub struct Outer<'a> {
    /// The client's layer: `nonce ‖ ct ‖ tag`.
    pub ciphertext: &'a [u8],
    /// The client's ephemeral X25519 public key `A`.
    pub ephemeral_key: [u8; 32],
    /// The layer's cipher.
    pub enc_type: EncType,
}

/// Splits and checks an outer body (PROTOCOL §4.2 steps 1–3, in that order).
pub fn parse(body: &[u8]) -> Result<Outer<'_>, OnionError> {
    if body.len() < 4 {
        return Err(OnionError::TooShort);
    }
    if body.len() > MAX_BODY {
        return Err(OnionError::TooLarge);
    }
    let (prefix, rest) = body.split_at(4);
    let n = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if n > rest.len() {
        return Err(OnionError::LengthBeyondBody);
    }
    let (ciphertext, routing) = rest.split_at(n);
    let Ok(Value::Object(routing)) = serde_json::from_slice::<Value>(routing) else {
        return Err(OnionError::RoutingNotObject);
    };
    let ephemeral_key = match routing.get("ephemeral_key") {
        None | Some(Value::Null) => return Err(OnionError::MissingEphemeralKey),
        Some(Value::String(key)) => {
            decode_ephemeral_key(key).ok_or(OnionError::InvalidEphemeralKey)?
        }
        Some(_) => return Err(OnionError::InvalidEphemeralKey),
    };
    let enc_type = match routing.get("enc_type") {
        None | Some(Value::Null) => EncType::from_wire(None)?,
        Some(Value::String(name)) => EncType::from_wire(Some(name))?,
        Some(_) => return Err(OnionError::UnknownEncType),
    };
    Ok(Outer {
        ciphertext,
        ephemeral_key,
        enc_type,
    })
}

/// A 32-byte key as 64 hex, 43/44 standard base64 or 52 z-base-32 characters (LSU parser).
fn decode_ephemeral_key(text: &str) -> Option<[u8; 32]> {
    let bytes = match text.len() {
        64 => hex::decode(text).ok()?,
        43 | 44 => BASE64.decode(text).ok()?,
        52 => base32::decode(base32::Alphabet::Z, text)?,
        _ => return None,
    };
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::onion::tests::{hex32, vectors};

    fn body(ct: &[u8], routing: &str) -> Vec<u8> {
        let mut out = (ct.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(ct);
        out.extend_from_slice(routing.as_bytes());
        out
    }

    #[test]
    fn lsu_parser_vectors() {
        let op = &vectors()["outer_parser"];
        for case in op["cases"].as_array().unwrap() {
            let raw = hex::decode(case["body"].as_str().unwrap()).unwrap();
            let outer = parse(&raw).unwrap();
            assert_eq!(outer.ephemeral_key, hex32(&op["A"]));
            let expected = EncType::from_wire(case["enc_type"].as_str()).unwrap();
            assert_eq!(outer.enc_type, expected);
            let n = u32::from_le_bytes(raw[..4].try_into().unwrap()) as usize;
            assert_eq!(outer.ciphertext, &raw[4..4 + n]);
        }
    }

    #[test]
    fn every_key_encoding_gives_the_same_key() {
        let key = [0xfbu8; 32];
        let encodings = [
            hex::encode(key),
            hex::encode_upper(key),
            base64::engine::general_purpose::STANDARD.encode(key),
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(key),
            base32::encode(base32::Alphabet::Z, &key),
        ];
        for text in encodings {
            assert_eq!(decode_ephemeral_key(&text), Some(key), "{text}");
        }
        let url_safe = base64::engine::general_purpose::URL_SAFE.encode(key);
        assert!(url_safe.contains('-') || url_safe.contains('_'));
        for bad in [
            String::new(),
            "zz".repeat(32),
            hex::encode([1u8; 31]),
            url_safe,
            "!".repeat(52),
            "a".repeat(65),
        ] {
            assert_eq!(decode_ephemeral_key(&bad), None, "{bad}");
        }
    }

    #[test]
    fn outer_failures_in_order() {
        let key = format!(r#"{{"ephemeral_key":"{}"}}"#, "11".repeat(32));
        let cases: Vec<(Vec<u8>, OnionError)> = vec![
            (vec![], OnionError::TooShort),
            (vec![1, 0, 0], OnionError::TooShort),
            (vec![5, 0, 0, 0, 1, 2], OnionError::LengthBeyondBody),
            (vec![0xff, 0xff, 0xff, 0xff], OnionError::LengthBeyondBody),
            (vec![0, 0, 0, 0], OnionError::RoutingNotObject),
            (body(b"ct", "[1,2]"), OnionError::RoutingNotObject),
            (body(b"ct", "{\"a\":"), OnionError::RoutingNotObject),
            (body(b"ct", "{}"), OnionError::MissingEphemeralKey),
            (
                body(b"ct", r#"{"ephemeral_key":7}"#),
                OnionError::InvalidEphemeralKey,
            ),
            (
                body(b"ct", r#"{"ephemeral_key":"abc"}"#),
                OnionError::InvalidEphemeralKey,
            ),
            (
                body(b"ct", &key.replace('}', r#","enc_type":"rot13"}"#)),
                OnionError::UnknownEncType,
            ),
            (
                body(b"ct", &key.replace('}', r#","enc_type":1}"#)),
                OnionError::UnknownEncType,
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse(&raw).unwrap_err(), expected, "{raw:?}");
        }
        let too_big = vec![0u8; MAX_BODY + 1];
        assert_eq!(parse(&too_big).unwrap_err(), OnionError::TooLarge);
    }

    #[test]
    fn absent_or_null_enc_type_means_aes_gcm_and_other_keys_are_ignored() {
        let k = "11".repeat(32);
        for routing in [
            format!(r#"{{"ephemeral_key":"{k}"}}"#),
            format!(r#"{{"ephemeral_key":"{k}","enc_type":null,"host":1,"port":"x"}}"#),
        ] {
            let raw = body(b"", &routing);
            let outer = parse(&raw).unwrap();
            assert_eq!(outer.enc_type, EncType::AesGcm);
            assert!(outer.ciphertext.is_empty());
        }
    }
}
