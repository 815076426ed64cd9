//! `/subscribe` and `/unsubscribe` through the real router (PROTOCOL §2, §3, §12).

mod body;
mod edge;
mod encodings;
mod errors;
mod privacy;
mod signatures;

use serde_json::Value;

/// `request` with `key` set to `value`.
fn with(request: &Value, key: &str, value: Value) -> Value {
    let mut request = request.clone();
    request[key] = value;
    request
}

/// `request` without `key`.
fn without(request: &Value, key: &str) -> Value {
    let mut request = request.clone();
    request.as_object_mut().unwrap().remove(key);
    request
}
