//! The signature vectors of `payload.json` accepted, and one-byte changes refused (§3).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use relay::subscription::Subscription;
use serde_json::{json, Value};

use super::{with, without};
use crate::support::server::{added, error, updated, Change, TestServer};
use crate::support::vectors::{self, text};

fn signature_failed() -> Value {
    error(4, "Signature verification failed")
}

/// Flips one bit of the byte at `index` of a base64 value.
fn flip_b64(value: &str, index: usize) -> String {
    let mut bytes = STANDARD.decode(value).unwrap();
    bytes[index] ^= 0x01;
    STANDARD.encode(bytes)
}

/// Flips one bit of the byte at `index` of a hex value.
fn flip_hex(value: &str, index: usize) -> String {
    let mut bytes = hex::decode(value).unwrap();
    bytes[index] ^= 0x01;
    hex::encode(bytes)
}

fn only_row(server: &TestServer) -> Subscription {
    let rows = server.store.rows();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.into_iter().next().unwrap()
}

#[tokio::test]
async fn session_id_vector_subscribes_renews_and_unsubscribes() {
    let server = TestServer::start().await;
    let request = vectors::subscribe_05();
    assert_eq!(server.subscribe(&request).await, added());

    let row = only_row(&server);
    let v = &vectors::signatures()["account_05"];
    assert_eq!(row.account.to_hex(), text(v, "x25519_account"));
    assert_eq!(
        hex::encode(row.session_ed25519.unwrap()),
        text(v, "session_ed25519")
    );
    assert_eq!(
        hex::encode(row.signature.expose()),
        text(&v["monitor"], "signature")
    );
    assert_eq!(row.sig_ts, 1_700_000_000);
    assert_eq!(row.namespaces, vec![-10, 0, 2, 5]);
    assert!(row.want_data);
    assert_eq!(&*row.service, "apns");
    assert_eq!(row.token.expose(), "a1".repeat(32));
    assert_eq!(hex::encode(row.enc_key.expose()), text(&request, "enc_key"));
    assert_eq!(row.subaccount, None);

    assert_eq!(server.subscribe(&request).await, updated());
    let unsubscribe = vectors::unsubscribe_05();
    let removed = json!({
        "message": "Device unsubscribed from push notifications", "removed": true, "success": true
    });
    assert_eq!(server.unsubscribe(&unsubscribe).await, removed);
    assert!(server.store.rows().is_empty());
    let not_found = json!({
        "message": "Device was not subscribed to push notifications", "removed": false,
        "success": true
    });
    assert_eq!(server.unsubscribe(&unsubscribe).await, not_found);

    // Changes are told only of committed changes: two upserts and one removal.
    let changes = server.changes.all();
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(matches!(&changes[2], Change::Removed(key) if key == &row.key()));
}

#[tokio::test]
async fn group_vector_with_a_subaccount_token_subscribes() {
    let server = TestServer::start().await;
    assert_eq!(server.subscribe(&vectors::subscribe_03()).await, added());
    let row = only_row(&server);
    let v = &vectors::signatures()["account_03_subaccount"];
    assert_eq!(row.account.to_hex(), text(v, "group_account"));
    assert_eq!(row.session_ed25519, None);
    let sub = row.subaccount.unwrap();
    assert_eq!(hex::encode(sub.token), text(v, "token"));
    assert_eq!(
        hex::encode(sub.signature.expose()),
        text(v, "subaccount_sig")
    );
    assert_eq!(row.namespaces, vec![-11, 11, 12, 13, 14]);
    assert_eq!(&*row.service, "firebase");
}

#[tokio::test]
async fn subaccount_failure_variants_and_any_prefix() {
    let server = TestServer::start().await;
    let base = vectors::subscribe_03();
    let cases = vectors::signatures()["account_03_subaccount"]["negative_cases"].clone();
    for case in cases.as_array().unwrap() {
        let mut request = base.clone();
        for key in ["subaccount", "subaccount_sig", "signature"] {
            request[key] = case[key].clone();
        }
        let reply = server.subscribe(&request).await;
        let name = text(case, "name");
        match case["expect_error"].as_u64() {
            Some(code) => {
                let expected = error(code as u8, case["expect_message"].as_str().unwrap());
                assert_eq!(reply, expected, "{name}");
            }
            None => assert_eq!(reply, added(), "{name}"),
        }
    }
    // Only the AnyPrefix success was stored.
    assert_eq!(only_row(&server).subaccount.unwrap().token[0], 0x05);
}

#[tokio::test]
async fn one_byte_changes_are_refused() {
    let server = TestServer::start().await;
    let request = vectors::subscribe_05();
    let signature = text(&request, "signature");
    let pubkey = text(&request, "pubkey");
    let cases = [
        with(&request, "signature", json!(flip_b64(&signature, 0))),
        with(&request, "signature", json!(flip_b64(&signature, 63))),
        with(&request, "sig_ts", json!(1_700_000_001)),
        with(&request, "namespaces", json!([-10, 0, 2, 6])),
        with(&request, "namespaces", json!([-10, 0, 2])),
        with(&request, "data", json!(false)),
    ];
    for case in &cases {
        assert_eq!(server.subscribe(case).await, signature_failed(), "{case}");
    }
    // Another account: session_ed25519 no longer converts to it (step 2).
    let other = with(&request, "pubkey", json!(flip_hex(&pubkey, 32)));
    let mismatch =
        "account_id/session_ed25519 mismatch: session_ed25519 does not convert to given account_id";
    assert_eq!(server.subscribe(&other).await, error(4, mismatch));
    // A group account whose key changed: the owner signature no longer verifies.
    let group = vectors::subscribe_03();
    let other_group = with(
        &group,
        "pubkey",
        json!(flip_hex(&text(&group, "pubkey"), 32)),
    );
    assert_eq!(
        server.subscribe(&other_group).await,
        error(4, "Subaccount auth signature verification failed")
    );
    let group_sig = flip_b64(&text(&group, "signature"), 10);
    assert_eq!(
        server
            .subscribe(&with(&group, "signature", json!(group_sig)))
            .await,
        error(4, "Subaccount main signature verification failed")
    );
    assert!(server.store.rows().is_empty());
}

#[tokio::test]
async fn a_group_without_subaccount_is_verified_with_the_group_key() {
    let server = TestServer::start().await;
    // The negative case "message signed by the group key" is a valid plain group signature.
    let case = &vectors::signatures()["account_03_subaccount"]["negative_cases"][3];
    let request = with(
        &without(&vectors::subscribe_03(), "subaccount"),
        "signature",
        case["signature"].clone(),
    );
    // subaccount_sig without subaccount is ignored (§2.3).
    assert_eq!(server.subscribe(&request).await, added());
    assert_eq!(only_row(&server).subaccount, None);
}

#[tokio::test]
async fn unsubscribe_one_byte_changes_are_refused() {
    let server = TestServer::start().await;
    server.subscribe(&vectors::subscribe_05()).await;
    let request = vectors::unsubscribe_05();
    let signature = text(&request, "signature");
    for case in [
        with(&request, "signature", json!(flip_b64(&signature, 5))),
        with(&request, "sig_ts", json!(1_700_000_001)),
    ] {
        assert_eq!(server.unsubscribe(&case).await, signature_failed());
    }
    assert_eq!(server.store.rows().len(), 1);
}

#[tokio::test]
async fn group_unsubscribe_vector_removes_the_subscription() {
    let server = TestServer::start().await;
    let subscribe = vectors::subscribe_03();
    server.subscribe(&subscribe).await;
    let v = &vectors::signatures()["account_03_subaccount"];
    let request = json!({
        "pubkey": subscribe["pubkey"],
        "subaccount": subscribe["subaccount"],
        "subaccount_sig": subscribe["subaccount_sig"],
        "sig_ts": 1_700_000_000,
        "signature": v["unsubscribe"]["signature"],
        "service": "firebase",
        "service_info": subscribe["service_info"],
    });
    let reply = server.unsubscribe(&request).await;
    assert_eq!(reply["removed"], json!(true), "{reply}");
    assert!(server.store.rows().is_empty());
}
