//! The spec's test vectors for devnet's unit tests (`tests/vectors/`, byte-for-byte copies of
//! `spec/vectors/`).

/// `tests/vectors/<name>`, parsed.
pub(crate) fn vectors(name: &str) -> serde_json::Value {
    let path = format!("{}/../../tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}
