//! Helpers shared by unit tests across modules.

use std::collections::HashMap;

/// `tests/vectors/payload.json` (a byte-for-byte copy of `spec/vectors/payload.json`).
pub fn payload() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/payload.json"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// An environment of `(name, value)` pairs.
pub fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
