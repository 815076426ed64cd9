//! Per-service queues and workers: stalls, full queues, the drain at shutdown.

use super::*;

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
    let (m, _, _) = h.finish().await;
    assert_eq!(m.count(names::PUSH_TOTAL, &[("result", "delivered")]), 50);
    let shed = [("service", "hang-apns"), ("reason", "queue_full")];
    assert!(m.count(names::PUSH_FAILURES, &shed) >= 40);
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
    h.taken(10).await;
    gate.add_permits(100);
    let (m, _, _) = h.finish().await;
    let delivered = m.count(names::PUSH_TOTAL, &[("result", "delivered")]);
    let dropped = m.count(names::PUSH_TOTAL, &[("result", "dropped")]);
    assert!(dropped >= 6, "{dropped} dropped");
    assert_eq!(
        delivered + dropped,
        10,
        "{delivered} delivered, {dropped} dropped"
    );
    let shed = [("service", "qfull"), ("reason", "queue_full")];
    assert_eq!(m.count(names::PUSH_FAILURES, &shed), dropped);
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
    h.taken(3).await;
    h.shutdown.cancel();
    gate.add_permits(3);
    let (m, _, _) = h.finish().await;
    assert_eq!(m.count(names::PUSH_TOTAL, &[("result", "delivered")]), 3);
}
