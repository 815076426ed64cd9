//! `POST /oxen/v4/lsrpc` end to end through the router, with the devnet onion client
//! (PROTOCOL §4): round trips, every error path, and a property test that never sees a 5xx.

use anyhow::Context;
use axum::http::{Method, StatusCode};
use base64::Engine;
use devnet::onion_client::{frame, ClientEncType, OnionClient};
use proptest::prelude::*;
use relay::api::onion::body_limit;
use relay::api::{handle_json, JsonEndpoint};
use relay::crypto;
use tokio::runtime::Runtime;

use crate::support::onion_relay::{open, plain_400, Answer, Inner, Relay};

const ENDPOINTS: [(&str, JsonEndpoint); 2] = [
    ("/subscribe", JsonEndpoint::Subscribe),
    ("/unsubscribe", JsonEndpoint::Unsubscribe),
];

const TEXT: &str = "text/plain; charset=utf-8";

fn json_reply(body: &str) -> Inner {
    Inner {
        code: 200,
        content_type: "application/json".into(),
        body: body.as_bytes().to_vec(),
    }
}

/// The signed `/subscribe` body of `onion.json` `generated_v4_roundtrip`.
fn vector_subscribe_body() -> anyhow::Result<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_str(include_str!("../vectors/onion.json"))?;
    let plain = v["generated_v4_roundtrip"]["cases"][0]["v4_plaintext_utf8"]
        .as_str()
        .context("no plaintext")?;
    let start = plain.find("}}").context("no meta")? + 2;
    let (_, body) = plain[start..].split_once(':').context("no body")?;
    Ok(body
        .strip_suffix('e')
        .context("no end")?
        .as_bytes()
        .to_vec())
}

fn routing(key: &str, enc_type: Option<&str>) -> Vec<u8> {
    let mut json = serde_json::json!({ "ephemeral_key": key });
    if let Some(enc_type) = enc_type {
        json["enc_type"] = enc_type.into();
    }
    json.to_string().into_bytes()
}

fn nonce_len(enc: ClientEncType) -> usize {
    if enc == ClientEncType::XChaCha20 {
        24
    } else {
        12
    }
}

#[tokio::test]
async fn round_trips_reply_what_handle_json_replies() -> anyhow::Result<()> {
    let relay = Relay::new()?;
    let bodies: Vec<Vec<u8>> = vec![
        vector_subscribe_body()?,
        b"{}".to_vec(),
        b"[]".to_vec(),
        b"[{\"pubkey\":1},7]".to_vec(),
        b"not json".to_vec(),
        vec![b' '; 100_001],
    ];
    for enc in ClientEncType::ALL {
        for (path, endpoint) in ENDPOINTS {
            for body in &bodies {
                let reply = relay.exchange(&relay.wrap(enc, path, Some(body))?).await?;
                let direct = handle_json(&relay.state, endpoint, body).await;
                assert_eq!(reply, json_reply(&direct), "{enc:?} {path}");
            }
            // PROTOCOL §4.4: a list holding only the meta means an empty body.
            let reply = relay.exchange(&relay.wrap(enc, path, None)?).await?;
            let direct = handle_json(&relay.state, endpoint, b"").await;
            assert_eq!(reply, json_reply(&direct), "{enc:?} {path} no body");
        }
    }
    Ok(())
}

#[tokio::test]
async fn enc_type_aliases_and_ephemeral_key_encodings() -> anyhow::Result<()> {
    let relay = Relay::new()?;
    let body = vector_subscribe_body()?;
    let direct = handle_json(&relay.state, JsonEndpoint::Subscribe, &body).await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64_nopad = base64::engine::general_purpose::STANDARD_NO_PAD;
    for (enc, alias) in [
        (ClientEncType::XChaCha20, "xchacha20-poly1305"),
        (ClientEncType::AesGcm, "gcm"),
    ] {
        let request = relay.wrap(enc, "/subscribe", Some(&body))?;
        let key = request.ephemeral_pubkey();
        for text in [
            hex::encode(key),
            hex::encode_upper(key),
            b64.encode(key),
            b64_nopad.encode(key),
            base32::encode(base32::Alphabet::Z, key),
        ] {
            let outer = frame(request.ciphertext(), &routing(&text, Some(alias)));
            let reply = open(&relay.post(outer).await?, &request)?;
            assert_eq!(reply, json_reply(&direct), "{alias} {text}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn inner_endpoint_query_and_escapes() -> anyhow::Result<()> {
    let relay = Relay::new()?;
    for (path, endpoint) in [
        ("/subscribe?x=1", JsonEndpoint::Subscribe),
        ("/%75nsubscribe", JsonEndpoint::Unsubscribe),
    ] {
        let reply = relay
            .exchange(&relay.wrap(ClientEncType::XChaCha20, path, Some(b"{}"))?)
            .await?;
        let direct = handle_json(&relay.state, endpoint, b"{}").await;
        assert_eq!(reply, json_reply(&direct), "{path}");
    }
    Ok(())
}

#[tokio::test]
async fn inner_errors_are_encrypted_replies() -> anyhow::Result<()> {
    let relay = Relay::new()?;
    let invalid = Inner {
        code: 400,
        content_type: TEXT.into(),
        body: b"Invalid v4 onion request".to_vec(),
    };
    let framing: [&[u8]; 5] = [b"", b"garbage", b"le", b"l2:{}i1ee", b"l2:{}1:a1:be"];
    for enc in ClientEncType::ALL {
        for plaintext in framing {
            let nonce = vec![1u8; nonce_len(enc)];
            let request = relay.client.seal(enc, [9u8; 32], &nonce, plaintext)?;
            assert_eq!(relay.exchange(&request).await?, invalid, "{plaintext:?}");
        }
        for (method, endpoint) in [("POST", "subscribe"), ("", "")] {
            let request = relay.client.request(enc, method, endpoint, None)?;
            assert_eq!(relay.exchange(&request).await?, invalid, "{endpoint:?}");
        }
        for (method, endpoint, code) in [
            ("POST", "/nope", 404),
            ("POST", "/oxen/v4/lsrpc", 404),
            ("GET", "/nope", 404),
            ("GET", "/subscribe", 405),
            ("post", "/unsubscribe", 405),
        ] {
            let request = relay.client.request(enc, method, endpoint, Some(b"{}"))?;
            let reply = relay.exchange(&request).await?;
            assert_eq!((reply.code, reply.content_type.as_str()), (code, TEXT));
        }
    }
    assert_eq!(relay.store.writes(), 0);
    Ok(())
}

#[tokio::test]
async fn outer_errors_are_plain_400s_and_write_nothing() -> anyhow::Result<()> {
    let relay = Relay::new()?;
    let good = relay.wrap(ClientEncType::XChaCha20, "/subscribe", Some(b"{}"))?;
    let ct = good.ciphertext();
    let key = hex::encode(good.ephemeral_pubkey());
    let mut tampered = ct.to_vec();
    tampered[30] ^= 1;
    let other_relay = OnionClient::new(crypto::x25519_base(&[8u8; 32])).request(
        ClientEncType::AesGcm,
        "POST",
        "/subscribe",
        Some(b"{}"),
    )?;
    let xchacha = Some("xchacha20");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("3 bytes", vec![1, 2, 3]),
        (
            "N beyond body",
            [&u32::MAX.to_le_bytes()[..], b"{}"].concat(),
        ),
        ("no JSON", frame(ct, b"")),
        ("JSON not an object", frame(ct, b"[\"ephemeral_key\"]")),
        ("truncated JSON", frame(ct, &routing(&key, None)[..10])),
        (
            "no ephemeral_key",
            frame(ct, b"{\"enc_type\":\"xchacha20\"}"),
        ),
        ("short key", frame(ct, &routing(&key[..62], xchacha))),
        (
            "url-safe key",
            frame(ct, &routing(&"-_".repeat(22), xchacha)),
        ),
        (
            "low-order key",
            frame(ct, &routing(&"00".repeat(32), xchacha)),
        ),
        (
            "unknown enc_type",
            frame(ct, &routing(&key, Some("chacha20"))),
        ),
        (
            "enc_type mismatch",
            frame(ct, &routing(&key, Some("aes-gcm"))),
        ),
        ("xchacha without enc_type", frame(ct, &routing(&key, None))),
        ("tampered", frame(&tampered, &routing(&key, xchacha))),
        ("truncated ct", frame(&ct[..20], &routing(&key, xchacha))),
        ("other relay's key", other_relay.body().to_vec()),
    ];
    for (name, body) in cases {
        let answer = relay.post(body).await?;
        plain_400(&answer).with_context(|| name.to_string())?;
    }
    assert_eq!(relay.store.writes(), 0);
    Ok(())
}

#[tokio::test]
async fn body_limit_is_the_json_limit_plus_framing_on_this_route() -> anyhow::Result<()> {
    let relay = Relay::new()?;
    let limit = body_limit(relay.state.max_body_bytes);
    assert_eq!(limit, 100_000 + 16_384);
    let at_limit = plain_400(&relay.post(vec![0u8; limit]).await?)?;
    assert!(!at_limit.contains("too large"), "{at_limit}");
    let over = plain_400(&relay.post(vec![0u8; limit + 1]).await?)?;
    assert!(over.contains("too large"), "{over}");
    // A valid request padded with JSON whitespace up to the limit is still served.
    let request = relay.wrap(ClientEncType::AesGcm, "/subscribe", Some(b"{}"))?;
    let mut body = request.body().to_vec();
    body.resize(limit, b' ');
    assert_eq!(open(&relay.post(body).await?, &request)?.code, 200);
    Ok(())
}

#[tokio::test]
async fn overload_is_answered_encrypted() -> anyhow::Result<()> {
    let mut relay = Relay::new()?;
    relay.state.limits = std::sync::Arc::new(relay::api::Limits::default().with_slots(0));
    let request = relay.wrap(ClientEncType::XChaCha20, "/subscribe", Some(b"{}"))?;
    let inner = relay.exchange(&request).await?;
    assert_eq!(inner.code, 200);
    let reply: serde_json::Value = serde_json::from_slice(&inner.body)?;
    assert_eq!(reply["error"], 3, "{reply}");
    Ok(())
}

#[tokio::test]
async fn other_methods_get_405() -> anyhow::Result<()> {
    let relay = Relay::new()?;
    for method in [Method::GET, Method::PUT] {
        let answer = relay.call(method, Vec::new()).await?;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    }
    Ok(())
}

#[test]
fn requests_are_counted_by_enc_type_and_result() -> anyhow::Result<()> {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The local recorder sees what the handler records on this thread (current-thread runtime).
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let relay = Relay::new()?;
            let ok = relay.wrap(ClientEncType::XChaCha20, "/subscribe", Some(b"{}"))?;
            relay.post(ok.body().to_vec()).await?;
            let missing = relay.wrap(ClientEncType::AesGcmImplicit, "/nope", None)?;
            relay.post(missing.body().to_vec()).await?;
            let bad_inner = relay
                .client
                .seal(ClientEncType::AesGcm, [3; 32], &[0; 12], b"x")?;
            relay.post(bad_inner.body().to_vec()).await?;
            relay.post(vec![1]).await?;
            anyhow::Ok(())
        })
    })?;
    let text = handle.render();
    for (enc_type, result) in [
        ("xchacha20", "ok"),
        ("aes-gcm", "not_found"),
        ("aes-gcm", "inner_error"),
        ("unknown", "bad_request"),
    ] {
        let line = text
            .lines()
            .find(|l| {
                l.starts_with("relay_onion_requests_total{")
                    && l.contains(&format!("enc_type=\"{enc_type}\""))
                    && l.contains(&format!("result=\"{result}\""))
            })
            .with_context(|| format!("no {enc_type}/{result} in\n{text}"))?;
        assert!(line.ends_with(" 1"), "{line}");
    }
    Ok(())
}

/// POSTs `body`; the answer must be an encrypted 200 or a plain 400, never anything else.
fn answer_of(relay: &Relay, runtime: &Runtime, body: Vec<u8>) -> Result<Answer, TestCaseError> {
    let answer = runtime
        .block_on(relay.post(body))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    match answer.status {
        StatusCode::OK => prop_assert_eq!(&answer.content_type, "application/octet-stream"),
        StatusCode::BAD_REQUEST => prop_assert!(answer.content_type.starts_with("text/plain")),
        other => prop_assert!(false, "unexpected status {}", other),
    }
    Ok(answer)
}

fn status_of(relay: &Relay, runtime: &Runtime, body: Vec<u8>) -> Result<StatusCode, TestCaseError> {
    Ok(answer_of(relay, runtime, body)?.status)
}

fn setup() -> Result<(Runtime, Relay), TestCaseError> {
    let fail = |e: &dyn std::fmt::Display| TestCaseError::fail(e.to_string());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(&e))?;
    Ok((runtime, Relay::new().map_err(|e| fail(&e))?))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_bodies_never_panic_or_5xx(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (runtime, relay) = setup()?;
        status_of(&relay, &runtime, body)?;
    }

    #[test]
    fn truncated_and_mutated_bodies_never_panic_or_5xx(
        enc in 0usize..3,
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
        inner in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let (runtime, relay) = setup()?;
        let enc = ClientEncType::ALL[enc];
        let request = relay.wrap(enc, "/subscribe", Some(&inner)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let body = request.body().to_vec();
        prop_assert_eq!(status_of(&relay, &runtime, body.clone())?, StatusCode::OK);

        // Cutting anything off removes at least the routing JSON's closing brace.
        let truncated = body[..cut.index(body.len())].to_vec();
        prop_assert_eq!(status_of(&relay, &runtime, truncated)?, StatusCode::BAD_REQUEST);

        let mut mutated = body.clone();
        let at = flip.index(body.len());
        mutated[at] ^= 1 << bit;
        let status = status_of(&relay, &runtime, mutated)?;
        // A flipped bit in the length prefix or the ciphertext can never open (AEAD).
        if at < 4 + request.ciphertext().len() {
            prop_assert_eq!(status, StatusCode::BAD_REQUEST);
        }

        // Random plaintexts under a valid layer get an encrypted reply, never a plain error.
        let sealed = relay.client.seal(enc, [7u8; 32], &vec![0u8; nonce_len(enc)], &inner)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let answer = answer_of(&relay, &runtime, sealed.body().to_vec())?;
        prop_assert_eq!(answer.status, StatusCode::OK);
        let reply = sealed.open_reply(&answer.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(reply.code == 200 || reply.code == 400 || reply.code == 404 || reply.code == 405);
    }
}
