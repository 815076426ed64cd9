//! Every binary field in hex (both cases) and standard base64 (padded and not) (§2.3).

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
use base64::Engine;
use serde_json::{json, Value};

use super::with;
use crate::support::server::{added, error, updated, TestServer};
use crate::support::vectors::{self, text};

/// The vector value decoded: hex for 64/66/72-character fields, base64 otherwise.
fn decode(value: &str) -> Vec<u8> {
    hex::decode(value).unwrap_or_else(|_| STANDARD.decode(value).unwrap())
}

fn forms(bytes: &[u8]) -> [String; 4] {
    [
        hex::encode(bytes),
        hex::encode_upper(bytes),
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
    ]
}

async fn every_form(server: &TestServer, request: &Value, fields: &[&str]) {
    for field in fields {
        let bytes = decode(&text(request, field));
        for form in forms(&bytes) {
            let reply = server.subscribe(&with(request, field, json!(form))).await;
            assert!(
                reply == added() || reply == updated(),
                "{field} {form}: {reply}"
            );
        }
        let url_safe = URL_SAFE.encode(&bytes);
        if url_safe != STANDARD.encode(&bytes) {
            let reply = server
                .subscribe(&with(request, field, json!(url_safe)))
                .await;
            assert_eq!(
                reply,
                error(4, "Invalid value: expected bytes, hex, or base64"),
                "{field}"
            );
        }
    }
}

#[tokio::test]
async fn session_id_fields_in_every_form() {
    let server = TestServer::start().await;
    let request = vectors::subscribe_05();
    every_form(
        &server,
        &request,
        &["pubkey", "session_ed25519", "signature", "enc_key"],
    )
    .await;
    // Every form decoded to the same bytes: one row, with the vector's values.
    let rows = server.store.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].account.to_hex(), text(&request, "pubkey"));
    assert_eq!(
        hex::encode(rows[0].enc_key.expose()),
        text(&request, "enc_key")
    );
}

#[tokio::test]
async fn group_fields_in_every_form() {
    let server = TestServer::start().await;
    let request = vectors::subscribe_03();
    every_form(
        &server,
        &request,
        &[
            "pubkey",
            "subaccount",
            "subaccount_sig",
            "signature",
            "enc_key",
        ],
    )
    .await;
    let rows = server.store.rows();
    assert_eq!(rows.len(), 1);
    let sub = rows[0].subaccount.unwrap();
    assert_eq!(hex::encode(sub.token), text(&request, "subaccount"));
}

#[tokio::test]
async fn the_vector_encodings_of_enc_key() {
    let server = TestServer::start().await;
    let cases = &vectors::signatures()["field_encodings"];
    let request = vectors::subscribe_05();
    for form in cases["accept"].as_array().unwrap() {
        let reply = server
            .subscribe(&with(&request, "enc_key", form.clone()))
            .await;
        assert_eq!(reply["success"], json!(true), "{form}");
    }
    for form in cases["reject"].as_array().unwrap() {
        let reply = server
            .subscribe(&with(&request, "enc_key", form.clone()))
            .await;
        assert_eq!(
            reply,
            error(4, "Invalid value: expected bytes, hex, or base64"),
            "{form}"
        );
    }
    let stored = hex::encode(server.store.rows()[0].enc_key.expose());
    assert_eq!(stored, text(cases, "enc_key_bytes"));
}

#[tokio::test]
async fn a_raw_field_of_exact_length_is_taken_as_bytes() {
    let server = TestServer::start().await;
    // 32 ASCII characters are a raw 32-byte enc_key.
    let raw = "k".repeat(32);
    let reply = server
        .subscribe(&with(&vectors::subscribe_05(), "enc_key", json!(raw)))
        .await;
    assert_eq!(reply, added());
    assert_eq!(server.store.rows()[0].enc_key.expose(), raw.as_bytes());
}
