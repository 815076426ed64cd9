//! The signature vectors of `spec/vectors/payload.json` (copied byte for byte into
//! `tests/vectors/`), evaluated at `now = 1700000000`.

use serde_json::Value;

/// The clock the vectors are valid at.
pub const VECTOR_NOW: i64 = 1_700_000_000;

/// `payload.json`'s `signatures` section.
pub fn signatures() -> Value {
    let all: Value = serde_json::from_str(include_str!("../../vectors/payload.json"))
        .expect("payload.json is valid JSON");
    all["signatures"].clone()
}

/// The 05 account's `/subscribe` request (service `apns`).
pub fn subscribe_05() -> Value {
    signatures()["account_05"]["subscribe_request"].clone()
}

/// The 05 account's `/unsubscribe` request.
pub fn unsubscribe_05() -> Value {
    signatures()["account_05"]["unsubscribe_request"].clone()
}

/// The 03 group's `/subscribe` request, signed by a subaccount (service `firebase`).
pub fn subscribe_03() -> Value {
    signatures()["account_03_subaccount"]["subscribe_request"].clone()
}

/// `value[key]` as a string.
pub fn text(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .expect("vector field is a string")
        .to_string()
}
