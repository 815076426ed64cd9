//! `/subscribe` and `/unsubscribe`: body checks (PROTOCOL §2.2), one element at a time
//! through [`crate::subscription`] and the store, and the success replies of §2.5.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};

use super::error::{json_response, ApiError};
use super::{ApiState, JsonEndpoint};
use crate::admin::metrics as names;
use crate::store::Upsert;
use crate::subscription::{parse_subscribe, parse_unsubscribe, AccountId};

/// What a successful element did (§2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Added,
    Updated,
    Removed,
    NotFound,
}

impl Outcome {
    fn to_json(self) -> Value {
        match self {
            Outcome::Added => {
                json!({"added": true, "message": "Subscription successful", "success": true})
            }
            Outcome::Updated => {
                json!({"message": "Resubscription successful", "success": true, "updated": true})
            }
            Outcome::Removed => json!({
                "message": "Device unsubscribed from push notifications",
                "removed": true,
                "success": true
            }),
            Outcome::NotFound => json!({
                "message": "Device was not subscribed to push notifications",
                "removed": false,
                "success": true
            }),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Added => "added",
            Outcome::Updated => "updated",
            Outcome::Removed => "removed",
            Outcome::NotFound => "not_found",
        }
    }
}

/// `POST /subscribe`.
pub(super) async fn subscribe(State(state): State<ApiState>, body: Bytes) -> Response {
    json_response(super::process(&state, JsonEndpoint::Subscribe, &body).await)
}

/// `POST /unsubscribe`.
pub(super) async fn unsubscribe(State(state): State<ApiState>, body: Bytes) -> Response {
    json_response(super::process(&state, JsonEndpoint::Unsubscribe, &body).await)
}

/// Handles one JSON request body for `endpoint` exactly as the HTTP route does (§2) and
/// returns the reply body (always sent with HTTP 200 and `application/json`). The onion
/// endpoint dispatches here in-process.
pub async fn handle_json(state: &ApiState, endpoint: JsonEndpoint, body: &[u8]) -> String {
    let reply = match parse_body(endpoint, body, state.max_body_bytes) {
        Err(e) => e.to_json(),
        // §2.2: element i answers element i, each independent of the others.
        Ok(Value::Array(elements)) => {
            let mut replies = Vec::with_capacity(elements.len());
            for element in &elements {
                replies.push(handle_element(state, endpoint, element).await);
            }
            Value::Array(replies)
        }
        Ok(element) => handle_element(state, endpoint, &element).await,
    };
    reply.to_string()
}

/// Elements of one array at most. Clients send one; the cap bounds a reply (about 100 bytes
/// per element) to about 10 KB, whatever the request (issue 16: a reply 37× its request).
pub const MAX_ELEMENTS: usize = 100;

/// §2.2 body checks, in the table's order; `[]` and arrays over [`MAX_ELEMENTS`] are refused.
pub(crate) fn parse_body(
    endpoint: JsonEndpoint,
    body: &[u8],
    max: usize,
) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::body_missing());
    }
    if body.len() > max {
        return Err(ApiError::too_large());
    }
    match serde_json::from_slice::<Value>(body) {
        Err(_) => Err(ApiError::invalid_json()),
        Ok(Value::Array(a)) if a.is_empty() => Err(ApiError::empty_list(endpoint)),
        Ok(Value::Array(a)) if a.len() > MAX_ELEMENTS => Err(ApiError::too_many_elements()),
        Ok(v @ (Value::Array(_) | Value::Object(_))) => Ok(v),
        Ok(_) => Err(ApiError::not_object()),
    }
}

async fn handle_element(state: &ApiState, endpoint: JsonEndpoint, element: &Value) -> Value {
    let now = state.clock.now();
    let result = match endpoint {
        JsonEndpoint::Subscribe => subscribe_one(state, element, now).await,
        JsonEndpoint::Unsubscribe => unsubscribe_one(state, element, now).await,
    };
    let label = match &result {
        Ok(outcome) => outcome.label(),
        Err(e) => {
            // Debug formatting escapes what a client put in the message (a `\n` in `service`).
            tracing::debug!(code = e.code.as_u8(), reason = ?e.message, "element refused");
            e.label()
        }
    };
    metrics::counter!(
        names::SUBSCRIBE_REQUESTS,
        "endpoint" => endpoint.label(),
        "result" => label
    )
    .increment(1);
    match result {
        Ok(outcome) => outcome.to_json(),
        Err(e) => e.to_json(),
    }
}

/// The per-account limit, counted after the signature is verified, so only the key holder can
/// spend an account's allowance.
fn check_rate(state: &ApiState, account: &AccountId, now: i64) -> Result<(), ApiError> {
    if state.limits.accounts.allow(account, now) {
        Ok(())
    } else {
        metrics::counter!(names::API_RATE_LIMITED).increment(1);
        Err(ApiError::rate_limited())
    }
}

async fn subscribe_one(state: &ApiState, element: &Value, now: i64) -> Result<Outcome, ApiError> {
    let sub = parse_subscribe(element, now, state.services.as_ref())?;
    check_rate(state, &sub.account, now)?;
    let upsert = state
        .subscribes
        .upsert(&sub, now)
        .await
        .map_err(|e| ApiError::store(&e))?;
    state.changes.subscribed(&sub, upsert);
    tracing::debug!(
        account = %sub.account,
        service = %sub.service,
        token = %sub.token,
        ?upsert,
        "subscribed"
    );
    Ok(match upsert {
        Upsert::Added => Outcome::Added,
        Upsert::Updated { .. } => Outcome::Updated,
    })
}

async fn unsubscribe_one(state: &ApiState, element: &Value, now: i64) -> Result<Outcome, ApiError> {
    let key = parse_unsubscribe(element, now, state.services.as_ref())?;
    check_rate(state, &key.account, now)?;
    let removed = state
        .store
        .remove(&key)
        .await
        .map_err(|e| ApiError::store(&e))?;
    if removed {
        state.changes.removed(&key);
    }
    tracing::debug!(
        account = %key.account,
        service = %key.service,
        token = %key.token,
        removed,
        "unsubscribed"
    );
    Ok(if removed {
        Outcome::Removed
    } else {
        Outcome::NotFound
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_checks_in_order() {
        let sub = JsonEndpoint::Subscribe;
        assert_eq!(parse_body(sub, b"", 10), Err(ApiError::body_missing()));
        assert_eq!(
            parse_body(sub, b"[1,2,3,4,5]", 10),
            Err(ApiError::too_large())
        );
        assert_eq!(parse_body(sub, b"{", 10), Err(ApiError::invalid_json()));
        assert_eq!(parse_body(sub, b"12", 10), Err(ApiError::not_object()));
        assert_eq!(parse_body(sub, b"null", 10), Err(ApiError::not_object()));
        assert_eq!(
            parse_body(sub, b" [ ] ", 10),
            Err(ApiError::empty_list(sub))
        );
        let unsub = JsonEndpoint::Unsubscribe;
        assert_eq!(
            parse_body(unsub, b"[]", 10).unwrap_err().message,
            "Invalid request: unsubscribe list cannot be empty"
        );
        assert!(parse_body(sub, b"[1]", 10).is_ok());
        let many = format!("[{}1]", "1,".repeat(MAX_ELEMENTS));
        assert_eq!(
            parse_body(sub, many.as_bytes(), 1000),
            Err(ApiError::too_many_elements())
        );
        let most = format!("[{}1]", "1,".repeat(MAX_ELEMENTS - 1));
        assert!(parse_body(sub, most.as_bytes(), 1000).is_ok());
        assert!(parse_body(sub, b"{}", 2).is_ok());
    }

    #[test]
    fn success_replies_are_sorted_and_compact() {
        assert_eq!(
            Outcome::Added.to_json().to_string(),
            r#"{"added":true,"message":"Subscription successful","success":true}"#
        );
        assert_eq!(
            Outcome::NotFound.to_json().to_string(),
            r#"{"message":"Device was not subscribed to push notifications","removed":false,"success":true}"#
        );
    }
}
