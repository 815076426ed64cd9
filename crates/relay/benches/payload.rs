//! Device payload building and encryption (`delivery::payload`, PROTOCOL §10): one bench per
//! payload vector, each checked against the vector's `enc_payload` before it is timed.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use relay::delivery::payload::{self, NoDataForm};
use relay::subscription::EncKey;
use relay::swarm::message::parse_notify;

mod support;

fn payload_build(c: &mut Criterion) {
    relay::crypto::init().expect("libsodium");
    let v = support::vectors("payload");
    let key = EncKey(support::hex(&v["enc_key"]));
    let nonce: [u8; 24] = support::hex(&v["nonce"]);
    let mut group = c.benchmark_group("payload_build");
    for case in v["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let raw: Vec<u8> = support::hex(&case["notify_message"]);
        let msg = parse_notify(&[raw], tokio::time::Instant::now()).expect("vector parses");
        let want_data = case["subscription_want_data"] == true;
        let data = msg.data.as_deref().filter(|d| want_data && !d.is_empty());
        let form = match case["nobody_form"].as_str() {
            Some("apns_dict") => NoDataForm::Dict,
            _ => NoDataForm::Json,
        };
        let built = payload::build(&msg, data, form, &key, &nonce).expect("builds");
        assert_eq!(
            built.enc_payload,
            case["enc_payload"].as_str().expect("enc_payload")
        );
        group.bench_function(name, |b| {
            b.iter(|| payload::build(black_box(&msg), data, form, &key, &nonce))
        });
    }
    group.finish();
}

criterion_group!(benches, payload_build);
criterion_main!(benches);
