//! The encrypted device payload (PROTOCOL §10.1, §10.2).
//!
//! Metadata JSON (Python `json.dumps` style, keys `@ # n t z l B`) or, for APNs without a data
//! element, a bencoded dict; a bencoded list of metadata and data; zero padding to a multiple
//! of 256; XChaCha20-Poly1305 under the device's `enc_key` with a random nonce in front;
//! standard padded base64.

use std::fmt::Write as _;

use base64::Engine as _;
use bendy::encoding::Encoder;

use super::DeliveryError;
use crate::crypto;
use crate::subscription::EncKey;
use crate::swarm::Notification;

/// Largest data forwarded to a device; longer data is dropped and `B` set (PROTOCOL §13).
pub const MAX_DEVICE_DATA: usize = 2_500;
/// Plaintexts are zero-padded to a multiple of this (PROTOCOL §10.1).
pub const PADDING: usize = 256;

/// How the metadata travels when the payload carries no data element (PROTOCOL §10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoDataForm {
    /// A string holding the metadata JSON (`too_big_form = "json"`; `log`'s default).
    Json,
    /// A bencoded dict (`too_big_form = "dict"`, every real provider's default).
    Dict,
}

/// A built payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePayload {
    /// `enc_payload`: base64 of nonce ‖ ciphertext.
    pub enc_payload: String,
    /// Whether the data travels as element 1 (present and ≤ 2 500 bytes).
    pub has_data: bool,
}

/// Builds and encrypts the payload for one device. `data` is the message data when this
/// subscription gets it (PROTOCOL §9 step 3); `nonce` is random in production.
pub fn build(
    msg: &Notification,
    data: Option<&[u8]>,
    form: NoDataForm,
    key: &EncKey,
    nonce: &[u8; crypto::XCHACHA_NONCE_LEN],
) -> Result<DevicePayload, DeliveryError> {
    let plain = plaintext(msg, data, form)?;
    Ok(DevicePayload {
        enc_payload: seal(&plain, key, nonce),
        has_data: data.is_some_and(|d| d.len() <= MAX_DEVICE_DATA),
    })
}

/// The padded plaintext `P` of §10.1.
pub fn plaintext(
    msg: &Notification,
    data: Option<&[u8]>,
    form: NoDataForm,
) -> Result<Vec<u8>, DeliveryError> {
    let mut enc = Encoder::new();
    let listed = enc.emit_list(|e| match data {
        Some(d) if d.len() <= MAX_DEVICE_DATA => {
            e.emit_bytes(metadata_json(msg, data).as_bytes())?;
            e.emit_bytes(d)
        }
        _ if form == NoDataForm::Dict => e.emit_dict(|mut d| {
            // Keys in byte order: # @ B l n t z.
            d.emit_pair_with(b"#", |v| v.emit_bytes(&msg.hash))?;
            d.emit_pair_with(b"@", |v| v.emit_str(&msg.account.to_hex()))?;
            if data.is_some() {
                d.emit_pair(b"B", 1)?;
            }
            if let Some(data) = data {
                d.emit_pair(b"l", data.len())?;
            }
            d.emit_pair(b"n", msg.namespace)?;
            d.emit_pair(b"t", msg.timestamp_ms)?;
            d.emit_pair(b"z", msg.expiry_ms)
        }),
        _ => e.emit_bytes(metadata_json(msg, data).as_bytes()),
    });
    let mut p = listed
        .and_then(|()| enc.get_output())
        .map_err(DeliveryError::Encode)?;
    p.resize(p.len().div_ceil(PADDING) * PADDING, 0);
    Ok(p)
}

/// Encrypts a padded plaintext: base64(nonce ‖ XChaCha20-Poly1305(key, nonce, P)).
pub fn seal(plaintext: &[u8], key: &EncKey, nonce: &[u8; crypto::XCHACHA_NONCE_LEN]) -> String {
    let mut out = nonce.to_vec();
    out.extend(crypto::xchacha20_encrypt(key.expose(), nonce, plaintext));
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// The metadata JSON in `json.dumps` style: `{"@": "05…", "#": "…", "n": 0, …}`.
fn metadata_json(msg: &Notification, data: Option<&[u8]>) -> String {
    let mut j = String::with_capacity(200);
    let _ = write!(j, "{{\"@\": \"{}\", \"#\": ", msg.account.to_hex());
    push_json_string(&mut j, &String::from_utf8_lossy(&msg.hash));
    let _ = write!(
        j,
        ", \"n\": {}, \"t\": {}, \"z\": {}",
        msg.namespace, msg.timestamp_ms, msg.expiry_ms
    );
    if let Some(d) = data {
        let _ = write!(j, ", \"l\": {}", d.len());
        if d.len() > MAX_DEVICE_DATA {
            j.push_str(", \"B\": true");
        }
    }
    j.push('}');
    j
}

/// A JSON string as Python's `json.dumps` (ensure_ascii) writes it.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::tests_support::{notification_from_bencode, payload_vectors};

    fn hex_field(v: &serde_json::Value, k: &str) -> Vec<u8> {
        hex::decode(v[k].as_str().unwrap()).unwrap()
    }

    #[test]
    fn every_payload_vector_matches_byte_for_byte() {
        crypto::init().unwrap();
        let v = payload_vectors();
        let key = EncKey(hex_field(&v, "enc_key").try_into().unwrap());
        let nonce: [u8; 24] = hex_field(&v, "nonce").try_into().unwrap();
        let cases = v["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 6);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let msg = notification_from_bencode(&hex_field(case, "notify_message"));
            let want_data = case["subscription_want_data"].as_bool().unwrap();
            let data = msg.data.as_deref().filter(|d| want_data && !d.is_empty());
            let form = match case["nobody_form"].as_str().unwrap() {
                "apns_dict" => NoDataForm::Dict,
                _ => NoDataForm::Json,
            };
            let p = plaintext(&msg, data, form).unwrap();
            assert_eq!(
                hex::encode(&p),
                case["plaintext"].as_str().unwrap(),
                "{name}"
            );
            let unpadded = case["plaintext_unpadded_len"].as_u64().unwrap() as usize;
            assert!(p[unpadded..].iter().all(|&b| b == 0), "{name}");
            let built = build(&msg, data, form, &key, &nonce).unwrap();
            assert_eq!(
                built.enc_payload,
                case["enc_payload"].as_str().unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn json_strings_are_escaped_like_python() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\c\né\u{1F600}\u{1}");
        assert_eq!(s, r#""a\"b\\c\n\u00e9\ud83d\ude00\u0001""#);
    }

    #[test]
    fn padding_is_a_multiple_of_256_and_none_when_exact() {
        let msg =
            notification_from_bencode(&hex_field(&payload_vectors()["cases"][0], "notify_message"));
        for len in [0usize, 1, 100, 2_000, 2_500] {
            let data = vec![7u8; len];
            let p = plaintext(&msg, Some(&data), NoDataForm::Json).unwrap();
            assert_eq!(p.len() % PADDING, 0, "len {len}");
            let unpadded = p.iter().rposition(|&b| b != 0).unwrap() + 1;
            assert!(
                p.len() - unpadded < PADDING,
                "len {len}: less than one block of padding"
            );
        }
    }

    #[test]
    fn has_data_only_when_data_travels() {
        crypto::init().unwrap();
        let msg =
            notification_from_bencode(&hex_field(&payload_vectors()["cases"][0], "notify_message"));
        let key = EncKey([1; 32]);
        let nonce = [2; 24];
        let small = build(&msg, Some(b"x"), NoDataForm::Json, &key, &nonce).unwrap();
        let big = build(&msg, Some(&[0; 2_501]), NoDataForm::Json, &key, &nonce).unwrap();
        let none = build(&msg, None, NoDataForm::Dict, &key, &nonce).unwrap();
        assert!(small.has_data);
        assert!(!big.has_data);
        assert!(!none.has_data);
    }
}
