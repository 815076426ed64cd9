//! Delivery end to end inside the process: notifications in, pushes to fake providers out,
//! each payload opened by the emulated iOS/Android device (PROTOCOL §9–§11).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use session_push_relay::config::ServiceLimits;
use session_push_relay::crypto;
use session_push_relay::delivery::{
    Delivery, DeliveryConfig, DeliveryStats, Index, ServicePolicy, StatsSnapshot,
};
use session_push_relay::devnet::device::{self, Failure, Platform, Shown};
use session_push_relay::notifier::{Notifier, Services, Verdict};
use session_push_relay::store::Changes;
use session_push_relay::subscription::{AccountId, DeviceToken, EncKey, Signature, Subscription};
use session_push_relay::swarm::{MonitorSource, Notification};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::fake_notifier::{FakeNotifier, Sent};
use crate::support::memory_store::MemoryStore;
use crate::support::metrics;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sub(account: u8, service: &str, token: &str, namespaces: &[i16]) -> Subscription {
    Subscription {
        account: AccountId([account; 33]),
        session_ed25519: Some([account; 32]),
        subaccount: None,
        signature: Signature([account; 64]),
        sig_ts: now(),
        namespaces: namespaces.to_vec(),
        want_data: true,
        service: Arc::from(service),
        token: DeviceToken::new(token),
        enc_key: EncKey([account ^ token.len() as u8; 32]),
    }
}

fn message(account: u8, hash: &str, namespace: i16, data: Option<&[u8]>) -> Notification {
    Notification {
        account: AccountId([account; 33]),
        hash: Bytes::copy_from_slice(hash.as_bytes()),
        namespace,
        timestamp_ms: 1_700_000_000_123,
        expiry_ms: 1_701_209_600_123,
        data: data.map(Bytes::copy_from_slice),
        received: Instant::now(),
    }
}

fn policy(kind: &str, f: impl FnOnce(&mut ServiceLimits)) -> ServicePolicy {
    let mut p = ServicePolicy::for_kind(kind);
    f(&mut p.limits);
    p
}

/// A running delivery task over an in-memory store whose `Changes` is the index itself.
struct Harness {
    tx: mpsc::Sender<Notification>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    stats: Arc<DeliveryStats>,
    index: Arc<Index>,
    store: Arc<MemoryStore>,
}

impl Harness {
    async fn start(
        subs: &[Subscription],
        services: Vec<(&str, Arc<FakeNotifier>, ServicePolicy)>,
    ) -> Harness {
        crypto::init().unwrap();
        metrics::install();
        let store = Arc::new(MemoryStore::with(subs));
        let index = Arc::new(Index::load(store.as_ref(), now()).await.unwrap());
        let mut registry = Services::new();
        let mut cfg = DeliveryConfig {
            shutdown_grace: Duration::from_millis(200),
            ..DeliveryConfig::default()
        };
        for (name, notifier, policy) in services {
            registry.insert(name, notifier as Arc<dyn Notifier>);
            cfg.services.insert(name.to_string(), policy);
        }
        let delivery = Delivery::new(
            index.clone(),
            store.clone(),
            index.clone() as Arc<dyn Changes>,
            &registry,
            cfg,
        );
        let stats = delivery.stats();
        let (tx, rx) = mpsc::channel(1_000);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(delivery.run(rx, shutdown.clone()));
        Harness {
            tx,
            shutdown,
            task,
            stats,
            index,
            store,
        }
    }

    async fn send(&self, n: Notification) {
        self.tx.send(n).await.unwrap();
    }

    /// Closes the intake and waits until every queued push is handled.
    async fn finish(self) -> (StatsSnapshot, Arc<Index>, Arc<MemoryStore>) {
        drop(self.tx);
        self.task.await.unwrap();
        (self.stats.snapshot(), self.index, self.store)
    }
}

fn drain(rx: &mut mpsc::Receiver<Sent>) -> Vec<Sent> {
    let mut out = Vec::new();
    while let Ok(s) = rx.try_recv() {
        out.push(s);
    }
    out
}

fn open(platform: Platform, s: &Subscription, sent: &Sent) -> Result<Shown, Failure> {
    device::open(platform, &sent.push.enc_payload, s.enc_key.expose())
}

#[tokio::test]
async fn five_swarm_copies_give_one_push_per_device() {
    let ios = sub(1, "dup-apns", &"a1".repeat(32), &[0]);
    let android = sub(1, "dup-fcm", &"f".repeat(150), &[0]);
    let (apns, mut apns_rx) = FakeNotifier::delivering("apns");
    let (fcm, mut fcm_rx) = FakeNotifier::delivering("fcm");
    let h = Harness::start(
        &[ios.clone(), android.clone()],
        vec![
            ("dup-apns", apns, ServicePolicy::for_kind("apns")),
            ("dup-fcm", fcm, ServicePolicy::for_kind("fcm")),
        ],
    )
    .await;
    for _ in 0..5 {
        h.send(message(
            1,
            "NLc68RZ6QRwyajSXAjW5BYmSETKAhDXpIl7cmCdE6KA",
            0,
            Some(b"hello"),
        ))
        .await;
    }
    let (stats, _, _) = h.finish().await;

    let (apns_sent, fcm_sent) = (drain(&mut apns_rx), drain(&mut fcm_rx));
    assert_eq!(apns_sent.len(), 1);
    assert_eq!(fcm_sent.len(), 1);
    for (platform, s, sent) in [
        (Platform::Ios, &ios, &apns_sent[0]),
        (Platform::Android, &android, &fcm_sent[0]),
    ] {
        let Ok(Shown::Data { metadata, data }) = open(platform, s, sent) else {
            panic!("{platform:?} did not show the message");
        };
        assert_eq!(data, b"hello");
        assert_eq!(metadata.account, s.account.to_hex());
        assert_eq!(metadata.hash, "NLc68RZ6QRwyajSXAjW5BYmSETKAhDXpIl7cmCdE6KA");
        assert_eq!(sent.push.token, s.token);
        assert!(sent.push.has_data);
    }
    assert_eq!(stats.notifications, 5);
    assert_eq!(stats.duplicates, 8);
    assert_eq!(stats.pushes_delivered, 2);
    let delivered = [("service", "dup-apns"), ("result", "delivered")];
    assert_eq!(metrics::value("relay_push_total", &delivered), Some(1.0));
}

#[tokio::test]
async fn two_devices_on_one_account_get_one_push_each() {
    let a = sub(2, "two", &"a".repeat(64), &[0]);
    let b = sub(2, "two", &"b".repeat(64), &[0]);
    let (fake, mut rx) = FakeNotifier::delivering("apns");
    let h = Harness::start(
        &[a.clone(), b.clone()],
        vec![("two", fake, ServicePolicy::for_kind("apns"))],
    )
    .await;
    h.send(message(
        2,
        "hash-two-devices-0000000000000000",
        0,
        Some(b"x"),
    ))
    .await;
    h.send(message(
        2,
        "hash-two-devices-0000000000000000",
        0,
        Some(b"x"),
    ))
    .await;
    h.finish().await;
    let mut tokens: Vec<_> = drain(&mut rx).into_iter().map(|s| s.push.token).collect();
    tokens.sort();
    assert_eq!(tokens, [a.token, b.token]);
}

#[tokio::test]
async fn device_sees_small_exact_empty_and_too_big_data() {
    let ios = sub(3, "sizes-apns", &"c".repeat(64), &[0]);
    let android = sub(3, "sizes-fcm", &"d".repeat(160), &[0]);
    let (apns, mut apns_rx) = FakeNotifier::delivering("apns");
    let (fcm, mut fcm_rx) = FakeNotifier::delivering("fcm");
    let h = Harness::start(
        &[ios.clone(), android.clone()],
        vec![
            ("sizes-apns", apns, ServicePolicy::for_kind("apns")),
            ("sizes-fcm", fcm, ServicePolicy::for_kind("fcm")),
        ],
    )
    .await;
    let sizes = [10usize, 2_500, 0, 2_501, 76_800];
    for (i, len) in sizes.iter().enumerate() {
        let data = vec![b'm'; *len];
        h.send(message(3, &format!("size-hash-{i:032}"), 0, Some(&data)))
            .await;
    }
    h.finish().await;
    let (apns_sent, fcm_sent) = (drain(&mut apns_rx), drain(&mut fcm_rx));
    assert_eq!(apns_sent.len(), sizes.len());
    assert_eq!(fcm_sent.len(), sizes.len());
    for (i, len) in sizes.iter().enumerate() {
        let on_ios = open(Platform::Ios, &ios, &apns_sent[i]);
        let on_android = open(Platform::Android, &android, &fcm_sent[i]);
        match len {
            0 => {
                // Empty data is not included, so `l` is absent: both apps fail (PROTOCOL §10.2).
                assert_eq!(on_ios, Err(Failure::Missing("l")));
                assert_eq!(on_android, Err(Failure::Missing("l")));
            }
            1..=2_500 => {
                for shown in [on_ios, on_android] {
                    let Ok(Shown::Data { metadata, data }) = shown else {
                        panic!("len {len}: {shown:?}");
                    };
                    assert_eq!(data.len(), *len);
                    assert_eq!(metadata.len, *len as i64);
                }
            }
            _ => {
                // The APNs dict form lets iOS read B = 1; Android reads JSON `true`.
                assert!(matches!(on_ios, Ok(Shown::TooLong(ref m)) if m.len == *len as i64));
                assert!(matches!(on_android, Ok(Shown::TooLong(ref m)) if m.too_big));
            }
        }
        let encoded = &fcm_sent[i].push.enc_payload;
        assert!(encoded.len() <= 3_808, "len {len}: {} chars", encoded.len());
    }
}

#[tokio::test]
async fn namespace_and_want_data_filter_per_subscriber() {
    let mut no_data = sub(4, "filter", &"e".repeat(64), &[0, 5]);
    no_data.want_data = false;
    let other_ns = sub(4, "filter", &"f".repeat(64), &[1]);
    let (fake, mut rx) = FakeNotifier::delivering("fcm");
    let h = Harness::start(
        &[no_data.clone(), other_ns.clone()],
        vec![("filter", fake, ServicePolicy::for_kind("fcm"))],
    )
    .await;
    h.send(message(
        4,
        "filter-hash-000000000000000000000",
        5,
        Some(b"secret"),
    ))
    .await;
    h.finish().await;
    let sent = drain(&mut rx);
    assert_eq!(sent.len(), 1, "only the namespace-5 subscriber");
    assert_eq!(sent[0].push.token, no_data.token);
    assert!(!sent[0].push.has_data);
    // No data element and no `l`: the app cannot show it, but nothing of `~` travelled.
    assert_eq!(
        open(Platform::Android, &no_data, &sent[0]),
        Err(Failure::Missing("l"))
    );
}

#[tokio::test]
async fn token_invalid_removes_every_subscription_with_the_token() {
    let token = "9".repeat(64);
    let dead_a = sub(5, "invalid", &token, &[0]);
    let dead_b = sub(6, "invalid", &token, &[0]);
    let alive = sub(5, "invalid", &"8".repeat(64), &[0]);
    let dead = DeviceToken::new(token.clone());
    let script = Box::new(move |p: &session_push_relay::notifier::Push, _| {
        if p.token == dead {
            Verdict::TokenInvalid {
                reason: "Unregistered",
                config_reason: false,
            }
        } else {
            Verdict::Delivered
        }
    });
    let (fake, _rx) = FakeNotifier::new("apns", script);
    let h = Harness::start(
        &[dead_a.clone(), dead_b.clone(), alive.clone()],
        vec![("invalid", fake, ServicePolicy::for_kind("apns"))],
    )
    .await;
    h.send(message(5, "invalid-hash-00000000000000000000", 0, None))
        .await;
    let (stats, index, store) = h.finish().await;

    assert_eq!(
        store.all(),
        std::slice::from_ref(&alive),
        "both accounts lost the dead token"
    );
    assert_eq!(
        index.subscriptions(&alive.account, now()),
        std::slice::from_ref(&alive)
    );
    assert!(index.subscriptions(&dead_b.account, now()).is_empty());
    assert!(!index.accounts().contains(&dead_b.account));
    assert_eq!(stats.tokens_removed, 1);
    let removed = [("service", "invalid"), ("reason", "Unregistered")];
    assert_eq!(
        metrics::value("relay_tokens_removed_total", &removed),
        Some(1.0)
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let s = sub(7, "retry", &"7".repeat(64), &[0]);
    let script = Box::new(|_: &_, n| match n {
        0 => Verdict::Retry {
            reason: "TooManyRequests",
            after: Some(Duration::from_secs(60)),
        },
        _ => Verdict::Delivered,
    });
    let (fake, mut rx) = FakeNotifier::new("apns", script);
    let h = Harness::start(&[s], vec![("retry", fake, ServicePolicy::for_kind("apns"))]).await;
    h.send(message(7, "retry-hash-0000000000000000000000", 0, None))
        .await;
    let first = rx.recv().await.unwrap();
    let second = rx.recv().await.unwrap();
    let waited = second.at - first.at;
    assert!(waited >= Duration::from_secs(60), "{waited:?}");
    assert!(waited < Duration::from_secs(61), "{waited:?}");
    let (stats, _, _) = h.finish().await;
    assert_eq!(stats.pushes_delivered, 1);
}

#[tokio::test(start_paused = true)]
async fn retries_are_bounded_then_counted_failed() {
    let s = sub(8, "retry-bounded", &"6".repeat(64), &[0]);
    let script = Box::new(|_: &_, _| Verdict::Retry {
        reason: "server_error",
        after: None,
    });
    let (fake, mut rx) = FakeNotifier::new("fcm", script);
    let p = policy("fcm", |l| l.max_retries = 2);
    let h = Harness::start(&[s], vec![("retry-bounded", fake.clone(), p)]).await;
    h.send(message(8, "bounded-hash-00000000000000000000", 0, None))
        .await;
    let mut at = Vec::new();
    for _ in 0..3 {
        at.push(rx.recv().await.unwrap().at);
    }
    // Backoff 2^k s × U(0.75, 1.25): about 1 s, then about 2 s.
    let (d1, d2) = (at[1] - at[0], at[2] - at[1]);
    assert!(d1 >= Duration::from_millis(750) && d1 <= Duration::from_millis(1_250));
    assert!(d2 >= Duration::from_millis(1_500) && d2 <= Duration::from_millis(2_500));
    // Give up is counted without a fourth call; wait for the counter, not for time.
    while h.stats.snapshot().pushes_failed == 0 {
        tokio::task::yield_now().await;
    }
    let (stats, _, _) = h.finish().await;
    assert_eq!(fake.calls(), 3);
    assert_eq!(stats.pushes_failed, 1);
    let failed = [("service", "retry-bounded"), ("reason", "server_error")];
    assert_eq!(
        metrics::value("relay_push_failures_total", &failed),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_burst_of_config_invalids_trips_the_breaker_and_deletes_nothing() {
    let subs: Vec<_> = (0..40u8)
        .map(|i| sub(100 + i, "breaker", &format!("{i:064}"), &[0]))
        .collect();
    let script = Box::new(|_: &_, _| Verdict::TokenInvalid {
        reason: "DeviceTokenNotForTopic",
        config_reason: true,
    });
    let (fake, _rx) = FakeNotifier::new("apns", script);
    let h = Harness::start(
        &subs,
        vec![("breaker", fake.clone(), ServicePolicy::for_kind("apns"))],
    )
    .await;
    for i in 0..40u8 {
        h.send(message(
            100 + i,
            "breaker-hash-00000000000000000000",
            0,
            None,
        ))
        .await;
    }
    let (stats, index, store) = h.finish().await;
    assert_eq!(fake.calls(), 40);
    assert_eq!(stats.tokens_invalid, 40);
    assert_eq!(stats.tokens_removed, 0);
    assert_eq!(store.all().len(), 40);
    assert_eq!(index.len(), 40);
    assert_eq!(
        metrics::value("relay_breaker_open", &[("service", "breaker")]),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_hanging_provider_never_delays_another() {
    let stuck = sub(9, "hang-apns", &"5".repeat(64), &[0]);
    let healthy = sub(9, "hang-fcm", &"4".repeat(150), &[0]);
    let (apns, _apns_rx) = FakeNotifier::hanging("apns");
    let (fcm, mut fcm_rx) = FakeNotifier::delivering("fcm");
    let narrow = policy("apns", |l| {
        l.concurrency = 1;
        l.queue_capacity = 5;
    });
    let h = Harness::start(
        &[stuck, healthy],
        vec![
            ("hang-apns", apns.clone(), narrow),
            ("hang-fcm", fcm, ServicePolicy::for_kind("fcm")),
        ],
    )
    .await;
    for i in 0..50 {
        h.send(message(9, &format!("hang-hash-{i:032}"), 0, None))
            .await;
    }
    let all_delivered = async {
        for _ in 0..50 {
            fcm_rx.recv().await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(5), all_delivered)
        .await
        .expect("the healthy provider got every push while the other hung");
    assert_eq!(
        apns.calls(),
        1,
        "one send in flight, the rest queued or shed"
    );
    h.shutdown.cancel();
    let (stats, _, _) = h.finish().await;
    assert_eq!(stats.pushes_delivered, 50);
    let shed = [("service", "hang-apns"), ("reason", "queue_full")];
    assert!(metrics::value("relay_push_failures_total", &shed).unwrap_or(0.0) >= 40.0);
}

#[tokio::test]
async fn a_full_queue_is_a_counted_drop() {
    let s = sub(10, "qfull", &"3".repeat(64), &[0]);
    let gate = Arc::new(Semaphore::new(0));
    let (fake, _rx) = FakeNotifier::gated("fcm", gate.clone());
    let narrow = policy("fcm", |l| {
        l.concurrency = 1;
        l.queue_capacity = 2;
    });
    let h = Harness::start(&[s], vec![("qfull", fake, narrow)]).await;
    for i in 0..10 {
        h.send(message(10, &format!("qfull-hash-{i:032}"), 0, None))
            .await;
    }
    // Every notification is handled once the dispatcher has looked at all ten.
    while h.stats.snapshot().notifications < 10 {
        tokio::task::yield_now().await;
    }
    gate.add_permits(100);
    let (stats, _, _) = h.finish().await;
    assert!(stats.pushes_dropped >= 6, "{stats:?}");
    assert_eq!(
        stats.pushes_delivered + stats.pushes_dropped,
        10,
        "{stats:?}"
    );
    let shed = [("service", "qfull"), ("reason", "queue_full")];
    assert_eq!(
        metrics::value("relay_push_failures_total", &shed),
        Some(stats.pushes_dropped as f64)
    );
}

#[tokio::test]
async fn shutdown_drains_queued_pushes() {
    let s = sub(11, "drain", &"2".repeat(64), &[0]);
    let gate = Arc::new(Semaphore::new(0));
    let (fake, _rx) = FakeNotifier::gated("fcm", gate.clone());
    let h = Harness::start(&[s], vec![("drain", fake, ServicePolicy::for_kind("fcm"))]).await;
    for i in 0..3 {
        h.send(message(11, &format!("drain-hash-{i:032}"), 0, None))
            .await;
    }
    while h.stats.snapshot().notifications < 3 {
        tokio::task::yield_now().await;
    }
    h.shutdown.cancel();
    gate.add_permits(3);
    let (stats, _, _) = h.finish().await;
    assert_eq!(stats.pushes_delivered, 3, "{stats:?}");
}

#[tokio::test]
async fn a_service_no_longer_configured_is_counted_and_skipped() {
    let gone = sub(12, "gone", &"1".repeat(64), &[0]);
    let kept = sub(12, "kept", &"0".repeat(64), &[0]);
    let (fake, mut rx) = FakeNotifier::delivering("fcm");
    let h = Harness::start(
        &[gone, kept.clone()],
        vec![("kept", fake, ServicePolicy::for_kind("fcm"))],
    )
    .await;
    h.send(message(12, "gone-hash-0000000000000000000000", 0, None))
        .await;
    let (stats, _, _) = h.finish().await;
    let sent = drain(&mut rx);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].push.token, kept.token);
    assert_eq!(stats.pushes_dropped, 1);
    let skipped = [("service", "gone"), ("reason", "unconfigured")];
    assert_eq!(
        metrics::value("relay_push_failures_total", &skipped),
        Some(1.0)
    );
}
