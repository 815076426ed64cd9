//! A test device: opens an `enc_payload` exactly as the Session apps do (PROTOCOL §10.3),
//! so tests see what a phone would show, not what the relay meant to send.
//!
//! iOS (`PushNotificationAPI.processNotification`) and Android (`PushReceiver.kt`) differ in
//! how element 0 may be encoded and in how `B` is read; both are emulated.

use std::fmt;

use base64::Engine as _;
use bendy::decoding::{Decoder, Object};

use relay::crypto::{self, XCHACHA_NONCE_LEN};

/// The metadata a device read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// `@`: account ID hex.
    pub account: String,
    /// `#`: message hash.
    pub hash: String,
    /// `n`: namespace (Android allows null).
    pub namespace: Option<i64>,
    /// `t`: message timestamp, ms.
    pub timestamp_ms: i64,
    /// `z`: message expiry, ms (optional on Android).
    pub expiry_ms: Option<i64>,
    /// `l`: data length.
    pub len: i64,
    /// `B` as this client reads it.
    pub too_big: bool,
}

/// A notification a device accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// With the message data (iOS "success", Android "data").
    Data {
        /// The decoded metadata.
        metadata: Metadata,
        /// Element 1.
        data: Vec<u8>,
    },
    /// The generic "too long" notification (iOS "success_too_long", Android "too_long").
    TooLong(Metadata),
    /// Android: a namespace the app ignores.
    Ignored(Metadata),
}

/// Why a device failed to show a notification (the client's own failure, as a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `enc_payload` is not base64 or too short.
    BadPayload,
    /// Authenticated decryption failed.
    Decrypt,
    /// The plaintext is not a bencoded list.
    NotAList,
    /// Element 0 is missing, or (Android) not a byte string.
    NoMetadata,
    /// Element 0 is not valid JSON or not an object.
    BadMetadata,
    /// A required key is missing or of the wrong type.
    Missing(&'static str),
    /// Element 1 is missing or its length differs from `l`.
    DataLength,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadPayload => f.write_str("bad enc_payload"),
            Failure::Decrypt => f.write_str("decryption failed"),
            Failure::NotAList => f.write_str("not a bencoded list"),
            Failure::NoMetadata => f.write_str("no metadata"),
            Failure::BadMetadata => f.write_str("bad metadata"),
            Failure::Missing(key) => write!(f, "metadata missing '{key}'"),
            Failure::DataLength => f.write_str("data length mismatch"),
        }
    }
}

/// Which app to emulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Session iOS (APNs).
    Ios,
    /// Session Android (FCM, HMS).
    Android,
}

/// Opens `enc_payload` with `enc_key` as `platform`'s app does.
pub fn open(platform: Platform, enc_payload: &str, enc_key: &[u8; 32]) -> Result<Shown, Failure> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(enc_payload)
        .map_err(|_| Failure::BadPayload)?;
    let min = match platform {
        Platform::Ios => XCHACHA_NONCE_LEN + 1,
        Platform::Android => 40,
    };
    if raw.len() < min {
        return Err(Failure::BadPayload);
    }
    let (nonce, ciphertext) = raw.split_at(XCHACHA_NONCE_LEN);
    let nonce: &[u8; XCHACHA_NONCE_LEN] = nonce.try_into().map_err(|_| Failure::BadPayload)?;
    let mut plain =
        crypto::xchacha20_decrypt(enc_key, nonce, ciphertext).map_err(|_| Failure::Decrypt)?;
    // Both apps strip every trailing zero byte.
    let end = plain.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    plain.truncate(end);
    let elements = bdecode_list(&plain).ok_or(Failure::NotAList)?;
    let mut elements = elements.into_iter();
    let first = elements.next().ok_or(Failure::NoMetadata)?;
    let data = match elements.next() {
        Some(Value::Bytes(d)) => Some(d),
        _ => None,
    };
    match platform {
        Platform::Ios => ios(first, data),
        Platform::Android => android(first, data),
    }
}

/// iOS: element 0 as a dict, else a string holding JSON; `B` read as an integer.
fn ios(first: Value, data: Option<Vec<u8>>) -> Result<Shown, Failure> {
    let fields = match first {
        Value::Dict(d) => Fields::Dict(d),
        Value::Bytes(b) => Fields::Json(parse_json(&b)?),
        _ => return Err(Failure::NoMetadata),
    };
    let metadata = Metadata {
        account: fields.string("@").ok_or(Failure::Missing("@"))?,
        hash: fields.string("#").ok_or(Failure::Missing("#"))?,
        namespace: Some(fields.int("n").ok_or(Failure::Missing("n"))?),
        timestamp_ms: fields.int("t").ok_or(Failure::Missing("t"))?,
        expiry_ms: Some(fields.int("z").ok_or(Failure::Missing("z"))?),
        len: fields.int("l").ok_or(Failure::Missing("l"))?,
        // JSON `true` is not an integer, so iOS reads it as false (PROTOCOL §10.2).
        too_big: fields.int("B").is_some_and(|b| b != 0),
    };
    if metadata.too_big {
        return Ok(Shown::TooLong(metadata));
    }
    match data {
        Some(data) if data.len() as i64 == metadata.len => Ok(Shown::Data { metadata, data }),
        _ => Err(Failure::DataLength),
    }
}

/// Android: element 0 must be a string of JSON; `B` is a boolean.
fn android(first: Value, data: Option<Vec<u8>>) -> Result<Shown, Failure> {
    let Value::Bytes(json) = first else {
        return Err(Failure::NoMetadata);
    };
    let j = parse_json(&json)?;
    let namespace = match j.get("n") {
        None | Some(serde_json::Value::Null) => None,
        Some(n) => Some(n.as_i64().ok_or(Failure::Missing("n"))?),
    };
    let string = |k: &'static str| j.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let metadata = Metadata {
        account: string("@").ok_or(Failure::Missing("@"))?,
        hash: string("#").ok_or(Failure::Missing("#"))?,
        namespace,
        timestamp_ms: j
            .get("t")
            .and_then(|v| v.as_i64())
            .ok_or(Failure::Missing("t"))?,
        expiry_ms: j.get("z").and_then(|v| v.as_i64()),
        len: j
            .get("l")
            .and_then(|v| v.as_i64())
            .ok_or(Failure::Missing("l"))?,
        too_big: j.get("B").and_then(|v| v.as_bool()).unwrap_or(false),
    };
    let shown = match data {
        Some(data) if data.len() as i64 == metadata.len => Shown::Data {
            metadata: metadata.clone(),
            data,
        },
        None if metadata.too_big => Shown::TooLong(metadata.clone()),
        _ => return Err(Failure::DataLength),
    };
    // Namespaces the app handles: DMs, group messages, group keys/info/members, revoked.
    match metadata.namespace {
        Some(0 | 11 | 12 | 13 | 14 | -11) => Ok(shown),
        _ => Ok(Shown::Ignored(metadata)),
    }
}

fn parse_json(raw: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, Failure> {
    match serde_json::from_slice(raw) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(Failure::BadMetadata),
    }
}

/// Metadata keys from a bencoded dict or a JSON object (iOS accepts both).
enum Fields {
    Dict(Vec<(Vec<u8>, Value)>),
    Json(serde_json::Map<String, serde_json::Value>),
}

impl Fields {
    fn string(&self, key: &str) -> Option<String> {
        match self {
            Fields::Dict(d) => match lookup(d, key)? {
                Value::Bytes(b) => String::from_utf8(b.clone()).ok(),
                _ => None,
            },
            Fields::Json(j) => j.get(key)?.as_str().map(str::to_string),
        }
    }

    fn int(&self, key: &str) -> Option<i64> {
        match self {
            Fields::Dict(d) => match lookup(d, key)? {
                Value::Int(i) => Some(*i),
                _ => None,
            },
            Fields::Json(j) => j.get(key)?.as_i64(),
        }
    }
}

fn lookup<'a>(dict: &'a [(Vec<u8>, Value)], key: &str) -> Option<&'a Value> {
    dict.iter()
        .find(|(k, _)| k == key.as_bytes())
        .map(|(_, v)| v)
}

/// An owned bencoded value.
enum Value {
    Bytes(Vec<u8>),
    Int(i64),
    List,
    Dict(Vec<(Vec<u8>, Value)>),
}

fn bdecode_list(raw: &[u8]) -> Option<Vec<Value>> {
    let mut decoder = Decoder::new(raw);
    let Ok(Some(Object::List(mut list))) = decoder.next_object() else {
        return None;
    };
    let mut out = Vec::new();
    while let Some(item) = list.next_object().ok()? {
        out.push(owned(item)?);
    }
    Some(out)
}

fn owned(object: Object<'_, '_>) -> Option<Value> {
    Some(match object {
        Object::Bytes(b) => Value::Bytes(b.to_vec()),
        Object::Integer(i) => Value::Int(i.parse().ok()?),
        Object::List(mut l) => {
            // Nested lists never carry metadata; consume them so decoding can go on.
            l.consume_all().ok()?;
            Value::List
        }
        Object::Dict(mut d) => {
            let mut pairs = Vec::new();
            while let Some((k, v)) = d.next_pair().ok()? {
                pairs.push((k.to_vec(), owned(v)?));
            }
            Value::Dict(pairs)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> serde_json::Value {
        crate::test_vectors::vectors("payload.json")
    }

    /// The vector's outcome label for what the emulated client did.
    fn label(platform: Platform, outcome: &Result<Shown, Failure>) -> String {
        match (platform, outcome) {
            (Platform::Ios, Ok(Shown::Data { .. })) => "success".into(),
            (Platform::Ios, Ok(Shown::TooLong(_))) => "success_too_long".into(),
            (Platform::Android, Ok(Shown::Data { .. })) => "data".into(),
            (Platform::Android, Ok(Shown::TooLong(_))) => "too_long".into(),
            (_, Ok(Shown::Ignored(_))) => "ignored".into(),
            (Platform::Ios, Err(f)) => format!("failure: {f}"),
            (Platform::Android, Err(f)) => format!("error: {f}"),
        }
    }

    #[test]
    fn payload_vectors_give_the_recorded_client_outcomes() {
        crypto::init().unwrap();
        let v = vectors();
        let key: [u8; 32] = hex::decode(v["enc_key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        for case in v["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let payload = case["enc_payload"].as_str().unwrap();
            for (platform, field) in [
                (Platform::Ios, "device_ios"),
                (Platform::Android, "device_android"),
            ] {
                let want = case[field].as_str().unwrap();
                let got = label(platform, &open(platform, payload, &key));
                // "failure" alone means any failure; "failure: why" names the reason.
                let matches = got == want || (want == "failure" && got.starts_with("failure: "));
                assert!(matches, "{name} {platform:?}: want {want}, got {got}");
            }
        }
    }

    #[test]
    fn libsession_decrypt_vector_opens() {
        crypto::init().unwrap();
        let v = &vectors()["libsession_decrypt_vector"];
        let key: [u8; 32] = hex::decode(v["enc_key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let raw = hex::decode(v["payload"].as_str().unwrap()).unwrap();
        let (nonce, ct) = raw.split_at(24);
        let plain = crypto::xchacha20_decrypt(&key, nonce.try_into().unwrap(), ct).unwrap();
        assert_eq!(plain, v["plaintext_utf8"].as_str().unwrap().as_bytes());
    }

    #[test]
    fn wrong_key_and_garbage_fail() {
        crypto::init().unwrap();
        let v = vectors();
        let payload = v["cases"][0]["enc_payload"].as_str().unwrap();
        assert_eq!(
            open(Platform::Ios, payload, &[0; 32]),
            Err(Failure::Decrypt)
        );
        assert_eq!(
            open(Platform::Android, "not base64!", &[0; 32]),
            Err(Failure::BadPayload)
        );
        assert_eq!(
            open(Platform::Android, "AAAA", &[0; 32]),
            Err(Failure::BadPayload)
        );
    }
}
