//! The swarm side's bencoded bodies (`swarm::message`, PROTOCOL §8): `monitor.messages`
//! encoding of one entry and of a 1000-entry request, and `notify.message` decoding.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use relay::crypto;
use relay::notifier::{LogNotifier, Services};
use relay::subscription::parse_subscribe;
use relay::swarm::message::{encode_list, parse_notify, MonitorEntry};

mod support;

/// `sig_ts` of the signature vectors; they are evaluated at this time.
const NOW: i64 = 1_700_000_000;

/// The entries of the two signed vectors (05 account, 03 subaccount), checked against their
/// `monitor_messages_dict`.
fn vector_entries() -> Vec<MonitorEntry> {
    let signatures = &support::vectors("payload")["signatures"];
    let mut services = Services::new();
    for name in ["apns", "firebase"] {
        services.insert(name, Arc::new(LogNotifier::new(name)));
    }
    ["account_05", "account_03_subaccount"]
        .iter()
        .map(|account| {
            let request = &signatures[account]["subscribe_request"];
            let sub = parse_subscribe(request, NOW, &services).expect("vector verifies");
            let entry = MonitorEntry::from_subscription(&sub);
            let dict: Vec<u8> = support::hex(&signatures[account]["monitor_messages_dict"]);
            assert_eq!(entry.encode().expect("encodes"), dict, "{account}");
            entry
        })
        .collect()
}

fn monitor_encode(c: &mut Criterion) {
    crypto::init().expect("libsodium");
    let entries = vector_entries();
    let mut group = c.benchmark_group("monitor_messages_encode");
    group.bench_function("entry_05", |b| b.iter(|| black_box(&entries[0]).encode()));
    group.bench_function("entry_03_subaccount", |b| {
        b.iter(|| black_box(&entries[1]).encode())
    });
    // A full request as the monitor batches it: 1000 entries, each encoded, then the list.
    let batch: Vec<&MonitorEntry> = entries.iter().cycle().take(1000).collect();
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("request_1000", |b| {
        b.iter(|| {
            let dicts: Vec<Vec<u8>> = batch.iter().map(|e| e.encode().expect("encodes")).collect();
            encode_list(&dicts)
        })
    });
    group.finish();
}

fn notify_decode(c: &mut Criterion) {
    let cases = &support::vectors("payload")["cases"];
    let mut group = c.benchmark_group("notify_message_decode");
    for name in ["small_data", "data_exactly_2500"] {
        let case = cases
            .as_array()
            .and_then(|cases| cases.iter().find(|c| c["name"] == name))
            .expect("vector case");
        let parts: Vec<Vec<u8>> = vec![support::hex(&case["notify_message"])];
        let now = tokio::time::Instant::now();
        parse_notify(&parts, now).expect("vector parses");
        group.throughput(Throughput::Bytes(parts[0].len() as u64));
        group.bench_function(name, |b| b.iter(|| parse_notify(black_box(&parts), now)));
    }
    group.finish();
}

criterion_group!(benches, monitor_encode, notify_decode);
criterion_main!(benches);
