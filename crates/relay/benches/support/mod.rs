//! Helpers shared by the benches: the test vectors of `tests/vectors/` (byte-for-byte copies
//! of `spec/vectors/`).

use serde_json::Value;

/// `tests/vectors/<name>.json`.
pub fn vectors(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/vectors/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// A hex string field as bytes, or as a fixed-size array (`N` known from the call site).
pub fn hex<T: TryFrom<Vec<u8>>>(v: &Value) -> T {
    let bytes = hex::decode(v.as_str().expect("a hex string")).expect("valid hex");
    T::try_from(bytes).unwrap_or_else(|_| panic!("hex field has the wrong length"))
}
