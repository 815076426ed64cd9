//! Onion layer opening (`api::onion::Layer`, PROTOCOL §4.3): key derivation from the relay's
//! onion key and the client's ephemeral key, then decryption, for both enc_types, on the
//! generated v4 round-trip vectors (a signed `/subscribe` request).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use relay::api::onion::{EncType, Layer};
use relay::crypto::KeyPair;

mod support;

/// The parts of an outer body `[u32 LE N][N bytes][routing JSON]` (PROTOCOL §4.2).
struct Outer {
    ciphertext: Vec<u8>,
    ephemeral_key: [u8; 32],
}

fn split_outer(body: &[u8]) -> Outer {
    let (len, rest) = body.split_at(4);
    let n = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
    let (ciphertext, routing) = rest.split_at(n);
    let routing: serde_json::Value = serde_json::from_slice(routing).expect("routing JSON");
    Outer {
        ciphertext: ciphertext.to_vec(),
        ephemeral_key: support::hex(&routing["ephemeral_key"]),
    }
}

fn onion_open(c: &mut Criterion) {
    relay::crypto::init().expect("libsodium");
    let v = &support::vectors("onion")["generated_v4_roundtrip"];
    let relay = KeyPair::from_secret(support::hex(&v["b"]));
    let mut group = c.benchmark_group("onion_open");
    for case in v["cases"].as_array().expect("cases") {
        let enc = EncType::from_wire(case["enc_type"].as_str()).expect("known enc_type");
        let body: Vec<u8> = support::hex(&case["body"]);
        let outer = split_outer(&body);
        let plaintext = Layer::derive(enc, &relay, &outer.ephemeral_key)
            .and_then(|layer| layer.open(&outer.ciphertext))
            .expect("vector opens");
        assert_eq!(
            plaintext,
            case["v4_plaintext_utf8"]
                .as_str()
                .expect("plaintext")
                .as_bytes()
        );
        group.throughput(Throughput::Bytes(outer.ciphertext.len() as u64));
        group.bench_function(enc.label(), |b| {
            b.iter(|| {
                Layer::derive(enc, &relay, black_box(&outer.ephemeral_key))
                    .and_then(|layer| layer.open(black_box(&outer.ciphertext)))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, onion_open);
criterion_main!(benches);
