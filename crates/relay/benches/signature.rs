//! Signature verification: the bare Ed25519 check (`crypto::ed25519_verify`) and a whole
//! `/subscribe` element (`subscription::parse_subscribe`: field decoding, Ed25519 → X25519
//! account check, signature; PROTOCOL §2.4) for a 05 account and a 03 group subaccount.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use relay::crypto;
use relay::notifier::{LogNotifier, Services};
use relay::subscription::parse_subscribe;

mod support;

/// `sig_ts` of the signature vectors; they are evaluated at this time.
const NOW: i64 = 1_700_000_000;

fn ed25519_verify(c: &mut Criterion) {
    crypto::init().expect("libsodium");
    let account = &support::vectors("payload")["signatures"]["account_05"];
    let public_key: [u8; 32] = support::hex(&account["session_ed25519"]);
    let monitor = &account["monitor"];
    let message = monitor["message_utf8"]
        .as_str()
        .expect("message")
        .as_bytes();
    let signature: [u8; 64] = support::hex(&monitor["signature"]);
    assert!(crypto::ed25519_verify(message, &signature, &public_key));
    c.bench_function("ed25519_verify", |b| {
        b.iter(|| crypto::ed25519_verify(black_box(message), &signature, &public_key))
    });
}

fn subscribe_parse(c: &mut Criterion) {
    crypto::init().expect("libsodium");
    let signatures = &support::vectors("payload")["signatures"];
    let mut services = Services::new();
    for name in ["apns", "firebase"] {
        services.insert(name, Arc::new(LogNotifier::new(name)));
    }
    let mut group = c.benchmark_group("parse_subscribe");
    for account in ["account_05", "account_03_subaccount"] {
        let request = &signatures[account]["subscribe_request"];
        let sub = parse_subscribe(request, NOW, &services).expect("vector verifies");
        assert_eq!(
            sub.account.to_hex(),
            request["pubkey"].as_str().expect("pubkey")
        );
        group.bench_function(account, |b| {
            b.iter(|| parse_subscribe(black_box(request), NOW, &services))
        });
    }
    group.finish();
}

criterion_group!(benches, ed25519_verify, subscribe_parse);
criterion_main!(benches);
