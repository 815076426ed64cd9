//! Every error code and message of §2.4, §3.5 and §12, as objects and as arrays, and the
//! store left unchanged by every refused element.

use serde_json::{json, Value};

use super::{with, without};
use crate::support::memory_store::Failure;
use crate::support::server::{added, error, TestServer};
use crate::support::vectors::{self, VECTOR_NOW};

const UNDECODABLE: &str = "Invalid value: expected bytes, hex, or base64";
const NAMESPACES_TYPE: &str =
    "Invalid value for 'namespaces': expected list of integers from -32768 to 32767";

fn missing(key: &str) -> Value {
    error(1, &format!("Missing required parameter '{key}'"))
}

fn wrong_type(key: &str, expected: &str) -> Value {
    error(
        4,
        &format!("Invalid value for '{key}': expected {expected}"),
    )
}

/// Refused `/subscribe` elements with their replies, in §2.4 step order.
fn subscribe_cases() -> Vec<(Value, Value)> {
    let s05 = vectors::subscribe_05();
    let s03 = vectors::subscribe_03();
    let other_ed = hex::encode(relay::crypto::ed25519_keypair_from_seed(&[7; 32]).public_key());
    let no_token = error(1, "Error: missing required key 'token'");
    vec![
        // Step 1: missing, in table order; null is missing.
        (json!({}), missing("pubkey")),
        (without(&s05, "pubkey"), missing("pubkey")),
        (with(&s05, "pubkey", Value::Null), missing("pubkey")),
        (
            without(&without(&s05, "pubkey"), "signature"),
            missing("pubkey"),
        ),
        (without(&s05, "session_ed25519"), missing("session_ed25519")),
        (without(&s05, "signature"), missing("signature")),
        (
            without(&without(&s05, "signature"), "service"),
            missing("signature"),
        ),
        (without(&s05, "sig_ts"), missing("sig_ts")),
        (without(&s05, "service"), missing("service")),
        (without(&s05, "service_info"), missing("service_info")),
        (with(&s05, "service_info", Value::Null), missing("service_info")),
        // Step 1: types and encodings.
        (with(&s05, "pubkey", json!(5)), wrong_type("pubkey", "string")),
        (with(&s05, "pubkey", json!("05zz")), error(4, UNDECODABLE)),
        (
            with(&s05, "session_ed25519", json!([])),
            wrong_type("session_ed25519", "string"),
        ),
        (
            with(&s05, "session_ed25519", json!("-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s=")),
            error(4, UNDECODABLE),
        ),
        (
            with(&s03, "subaccount", json!(1)),
            wrong_type("subaccount", "string"),
        ),
        (with(&s03, "subaccount", json!("0303")), error(4, UNDECODABLE)),
        (
            with(&s03, "subaccount_sig", json!(true)),
            wrong_type("subaccount_sig", "string"),
        ),
        (
            with(&s03, "subaccount_sig", json!("AAAA")),
            error(4, UNDECODABLE),
        ),
        (
            without(&s03, "subaccount_sig"),
            error(4, "Cannot specify subaccount without subaccount_sig"),
        ),
        (
            with(&s05, "signature", json!({})),
            wrong_type("signature", "string"),
        ),
        (with(&s05, "signature", json!("c2ln")), error(4, UNDECODABLE)),
        (
            with(&s05, "sig_ts", json!("1700000000")),
            wrong_type("sig_ts", "integer"),
        ),
        (
            with(&s05, "sig_ts", json!(1_700_000_000.5)),
            wrong_type("sig_ts", "integer"),
        ),
        (with(&s05, "service", json!(7)), wrong_type("service", "string")),
        // Step 2.
        (
            with(&s05, "session_ed25519", json!(format!("01{}", "00".repeat(31)))),
            error(4, "Failed to convert session_ed25519 to x25519 pubkey"),
        ),
        (
            with(&s05, "session_ed25519", json!(other_ed)),
            error(4, "account_id/session_ed25519 mismatch: session_ed25519 does not convert to given account_id"),
        ),
        // Step 3, before the subscribe-only fields.
        (
            with(&without(&s05, "namespaces"), "service", json!("nope")),
            error(2, "nope notification service not currently available"),
        ),
        // Step 4S.
        (without(&s05, "namespaces"), missing("namespaces")),
        (
            without(&without(&s05, "namespaces"), "enc_key"),
            missing("namespaces"),
        ),
        (with(&s05, "namespaces", json!("0")), error(4, NAMESPACES_TYPE)),
        (with(&s05, "namespaces", json!([0, 32768])), error(4, NAMESPACES_TYPE)),
        (with(&s05, "namespaces", json!([-32769, 0])), error(4, NAMESPACES_TYPE)),
        (with(&s05, "namespaces", json!([0, 1.5])), error(4, NAMESPACES_TYPE)),
        (without(&s05, "data"), missing("data")),
        (with(&s05, "data", json!("true")), wrong_type("data", "boolean")),
        (without(&s05, "enc_key"), missing("enc_key")),
        (with(&s05, "enc_key", json!(32)), wrong_type("enc_key", "string")),
        (with(&s05, "enc_key", json!("0123")), error(4, UNDECODABLE)),
        // Step 5S.
        (
            with(&s05, "namespaces", json!([])),
            error(4, "Subscription: namespaces missing or empty"),
        ),
        (
            with(&with(&s05, "namespaces", json!([])), "sig_ts", json!(0)),
            error(4, "Subscription: namespaces missing or empty"),
        ),
        (
            with(&s05, "namespaces", json!([0, -10, 2, 5])),
            error(4, "Subscription: namespaces are not sorted numerically"),
        ),
        (
            with(&s05, "namespaces", json!([-10, 0, 0, 5])),
            error(4, "Subscription: namespaces contains duplicates"),
        ),
        (
            with(&s05, "sig_ts", json!(0)),
            error(4, "Subscription: signature timestamp is missing"),
        ),
        (
            with(&s05, "sig_ts", json!(VECTOR_NOW - 1_209_600)),
            error(4, "Subscription: sig_ts timestamp is too old"),
        ),
        (
            with(&s05, "sig_ts", json!(VECTOR_NOW + 86_400)),
            error(4, "Subscription: sig_ts timestamp is too far in the future"),
        ),
        (
            with(&s05, "sig_ts", json!(VECTOR_NOW + 1)),
            error(4, "Signature verification failed"),
        ),
        // Step 6 (§12), after a valid signature.
        (with(&s05, "service_info", json!("token")), no_token.clone()),
        (with(&s05, "service_info", json!({})), no_token.clone()),
        (with(&s05, "service_info", json!({"token": 5})), no_token.clone()),
        (with(&s05, "service_info", json!({"token": null})), no_token),
        (
            with(&s05, "service_info", json!({"token": "a1".repeat(31) + "a"})),
            error(4, "Invalid token: expected length-64 device token, not 63"),
        ),
        (
            with(&s05, "service_info", json!({"token": "z1".repeat(32)})),
            error(4, "Invalid token: expected hex device token"),
        ),
        (
            with(&s03, "service_info", json!({"token": ""})),
            error(4, "Invalid firebase device token"),
        ),
        (
            with(&s03, "service_info", json!({"token": "short-token"})),
            error(4, "Invalid firebase device token: expected 32 to 999 bytes"),
        ),
        // §2.2: an element that is not an object.
        (json!(5), error(1, "Invalid JSON: expected object or array of objects")),
    ]
}

/// Refused `/unsubscribe` elements (at the vectors' clock).
fn unsubscribe_cases() -> Vec<(Value, Value)> {
    let u05 = vectors::unsubscribe_05();
    vec![
        (without(&u05, "pubkey"), missing("pubkey")),
        (without(&u05, "session_ed25519"), missing("session_ed25519")),
        (without(&u05, "signature"), missing("signature")),
        (without(&u05, "sig_ts"), missing("sig_ts")),
        (without(&u05, "service"), missing("service")),
        (without(&u05, "service_info"), missing("service_info")),
        (with(&u05, "signature", json!("!!")), error(4, UNDECODABLE)),
        (
            with(&u05, "service", json!("huawei")),
            error(2, "huawei notification service not currently available"),
        ),
        // Step 6 comes before the window of step 7U.
        (
            with(&with(&u05, "service_info", json!({})), "sig_ts", json!(1)),
            error(1, "Error: missing required key 'token'"),
        ),
        (
            with(&u05, "service_info", json!({"token": "abc"})),
            error(4, "Invalid token: expected length-64 device token, not 3"),
        ),
        (
            with(&u05, "sig_ts", json!(VECTOR_NOW - 86_401)),
            error(4, "Invalid signature: sig_ts is too far from current time"),
        ),
        (
            with(&u05, "sig_ts", json!(VECTOR_NOW + 86_401)),
            error(4, "Invalid signature: sig_ts is too far from current time"),
        ),
        (
            with(&u05, "sig_ts", json!(VECTOR_NOW + 86_400)),
            error(4, "Signature verification failed"),
        ),
    ]
}

async fn check_cases(server: &TestServer, path: &str, cases: &[(Value, Value)]) {
    for (request, expected) in cases {
        assert_eq!(&server.post(path, request).await, expected, "{request}");
    }
    // The same elements as one array: answered element by element, in order.
    let requests: Vec<_> = cases.iter().map(|(r, _)| r.clone()).collect();
    let expected: Vec<_> = cases.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(
        server.post(path, &Value::Array(requests)).await,
        Value::Array(expected)
    );
}

#[tokio::test]
async fn subscribe_errors_as_objects_and_arrays_leave_the_store_unchanged() {
    let server = TestServer::start().await;
    check_cases(&server, "/subscribe", &subscribe_cases()).await;
    assert!(server.store.rows().is_empty());
    assert!(server.changes.all().is_empty());
}

#[tokio::test]
async fn unsubscribe_errors_as_objects_and_arrays_leave_the_store_unchanged() {
    let server = TestServer::start().await;
    assert_eq!(server.subscribe(&vectors::subscribe_05()).await, added());
    let before = server.store.rows();
    check_cases(&server, "/unsubscribe", &unsubscribe_cases()).await;
    assert_eq!(server.store.rows(), before);
    assert_eq!(server.changes.all().len(), 1);
}

#[tokio::test]
async fn subscribe_windows_follow_the_clock() {
    let server = TestServer::start().await;
    let request = vectors::subscribe_05();
    server.set_now(VECTOR_NOW + 1_209_600);
    assert_eq!(
        server.subscribe(&request).await,
        error(4, "Subscription: sig_ts timestamp is too old")
    );
    server.set_now(VECTOR_NOW - 86_400);
    assert_eq!(
        server.subscribe(&request).await,
        error(4, "Subscription: sig_ts timestamp is too far in the future")
    );
    server.set_now(VECTOR_NOW + 1_209_599);
    assert_eq!(server.subscribe(&request).await, added());
}

#[tokio::test]
async fn unsubscribe_window_follows_the_clock() {
    let server = TestServer::start().await;
    let request = vectors::unsubscribe_05();
    let too_far = error(4, "Invalid signature: sig_ts is too far from current time");
    server.set_now(VECTOR_NOW + 86_401);
    assert_eq!(server.unsubscribe(&request).await, too_far);
    server.set_now(VECTOR_NOW - 86_401);
    assert_eq!(server.unsubscribe(&request).await, too_far);
    server.set_now(VECTOR_NOW + 86_400);
    assert_eq!(server.unsubscribe(&request).await["success"], json!(true));
}

#[tokio::test]
async fn store_failures_answer_3_and_5() {
    let server = TestServer::start().await;
    let timeout = error(3, "Timeout waiting for push notification backend");
    let internal = error(
        5,
        "An internal error occurred while processing your request",
    );
    let sub = vectors::subscribe_05();
    let unsub = vectors::unsubscribe_05();
    for (failure, expected) in [(Failure::Timeout, &timeout), (Failure::Internal, &internal)] {
        server.store.fail_with(Some(failure));
        assert_eq!(&server.subscribe(&sub).await, expected);
        assert_eq!(&server.unsubscribe(&unsub).await, expected);
        let pair = json!([sub.clone(), vectors::subscribe_03()]);
        assert_eq!(server.subscribe(&pair).await, json!([expected, expected]));
        assert_eq!(
            server.unsubscribe(&json!([unsub.clone()])).await,
            json!([expected])
        );
    }
    assert!(server.changes.all().is_empty());
    server.store.fail_with(None);
    assert_eq!(server.subscribe(&sub).await, added());
}

#[tokio::test]
async fn a_mixed_array_is_answered_element_by_element() {
    let server = TestServer::start().await;
    let body = json!([
        vectors::subscribe_05(),
        "not an object",
        [vectors::subscribe_03()],
        without(&vectors::subscribe_03(), "signature"),
        vectors::subscribe_03(),
        with(&vectors::subscribe_05(), "service", json!("apns-sandbox")),
        vectors::subscribe_05(),
    ]);
    let reply = server.subscribe(&body).await;
    let expected = json!([
        added(),
        error(1, "Invalid JSON: expected object or array of objects"),
        error(1, "Invalid JSON: expected object or array of objects"),
        missing("signature"),
        added(),
        error(
            2,
            "apns-sandbox notification service not currently available"
        ),
        crate::support::server::updated(),
    ]);
    assert_eq!(reply, expected);
    assert_eq!(server.store.rows().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_store_that_never_answers_gets_the_timeout_reply() {
    let server = TestServer::start().await;
    server.store.fail_with(Some(Failure::Hang));
    // Paused time jumps to the middleware's request timeout once everything is idle.
    assert_eq!(
        server.subscribe(&vectors::subscribe_05()).await,
        error(3, "Timeout waiting for push notification backend")
    );
}
