//! Thin entry points for the coverage-guided fuzz targets (`fuzz/`, FUZZING.md) and for the
//! stable test that replays their corpora (`tests/it/fuzz_corpus.rs`).
//!
//! Each takes the raw bytes an attacker (or an operator, for the config) controls and runs the
//! relay's own parser on them, discarding the result: a fuzz target's only verdict is "did not
//! panic, did not hang, did not run out of memory". They exist so the parsers can stay
//! crate-private; nothing in the relay calls them.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::api::onion::{self, Layer};
use crate::api::JsonEndpoint;
use crate::config::Config;
use crate::crypto::KeyPair;
use crate::subscription::{self, DeviceToken, ServiceCatalog};
use crate::swarm::{message, nodes};

/// The relay's onion secret key in [`onion_request`] (fixed, so seeds can be encrypted to it).
pub const ONION_SECRET: [u8; 32] = [0x42; 32];

/// The JSON body limit the fuzzed subscribe path applies (the `[api] max_body_bytes` default).
const JSON_BODY_LIMIT: usize = 100_000;

/// A time inside every seed's signature window (2023-11-14).
const NOW: i64 = 1_700_000_000;

/// An onion request body, as the last service node POSTs it: outer framing (PROTOCOL §4.2),
/// key derivation and layer open with [`ONION_SECRET`] (§4.3), then the inner request (§4.4).
pub fn onion_request(body: &[u8]) {
    let Ok(outer) = onion::framing::parse(body) else {
        return;
    };
    let relay = KeyPair::from_secret(ONION_SECRET);
    let Ok(layer) = Layer::derive(outer.enc_type, &relay, &outer.ephemeral_key) else {
        return;
    };
    if let Ok(plaintext) = layer.open(outer.ciphertext) {
        onion_inner(&plaintext);
    }
}

/// The plaintext of an onion request layer: `l<len>:<meta JSON>[<len>:<body>]e` (§4.4).
pub fn onion_inner(plaintext: &[u8]) {
    if let Ok(request) = onion::inner::parse(plaintext) {
        if let Some(endpoint) = request.endpoint() {
            subscribe_json(endpoint, request.body);
        }
    }
}

/// A `/subscribe` or `/unsubscribe` body, whole: the §2.2 body checks, then each element
/// through `parse_subscribe` / `parse_unsubscribe` (decoding, service, token, signature).
pub fn subscribe_json(endpoint: JsonEndpoint, body: &[u8]) {
    let Ok(value) = crate::api::subscribe::parse_body(endpoint, body, JSON_BODY_LIMIT) else {
        return;
    };
    let elements = match &value {
        Value::Array(elements) => elements.as_slice(),
        one => std::slice::from_ref(one),
    };
    for element in elements {
        let _ = match endpoint {
            JsonEndpoint::Subscribe => {
                subscription::parse_subscribe(element, NOW, &FuzzServices).map(drop)
            }
            JsonEndpoint::Unsubscribe => {
                subscription::parse_unsubscribe(element, NOW, &FuzzServices).map(drop)
            }
        };
    }
}

/// The data part of a `notify.message` command from a storage server (§8.4).
pub fn notify_message(part: &[u8]) {
    let _ = message::parse_notify(&[part], tokio::time::Instant::now());
}

/// The reply to a `monitor.messages` request (§8.3).
pub fn monitor_reply(part: &[u8]) {
    let _ = message::parse_monitor_reply(part);
}

/// oxend's `get_service_nodes` reply (the node list, §7.1).
pub fn node_list(reply: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<Value>(reply) {
        let _ = nodes::parse_service_nodes(&value);
    }
}

/// A configuration file: TOML → `Config` → validation, with an empty environment. Inputs that
/// name a `*_file` key are skipped: reading whatever path the fuzzer invents (`/dev/zero`) is
/// the operator's business, not a parser's.
pub fn config_toml(text: &[u8]) {
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    if text.contains("_file") {
        return;
    }
    let _ = Config::load_from(Some(text), HashMap::new());
}

/// `apns` and `firebase`, taking any token of 1–4096 bytes (the providers' own rules are
/// covered by their tests; here the point is the request parser around them).
struct FuzzServices;

impl ServiceCatalog for FuzzServices {
    fn service(&self, name: &str) -> Option<Arc<str>> {
        matches!(name, "apns" | "firebase").then(|| Arc::from(name))
    }

    fn validate_token(&self, _service: &str, token: &str) -> Result<DeviceToken, String> {
        if (1..=4096).contains(&token.len()) {
            Ok(DeviceToken::new(token.to_owned()))
        } else {
            Err("Invalid token".into())
        }
    }
}
