//! What provider verdicts cause: token removal, retries, the breaker (PROTOCOL §11).

use super::*;

#[tokio::test]
async fn token_invalid_removes_every_subscription_with_the_token() {
    let token = "9".repeat(64);
    let dead_a = sub(5, "invalid", &token, &[0]);
    let dead_b = sub(6, "invalid", &token, &[0]);
    let alive = sub(5, "invalid", &"8".repeat(64), &[0]);
    let dead = DeviceToken::new(token.clone());
    let script = Box::new(move |p: &relay::notifier::Push, _| {
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
    let (m, index, store) = h.finish().await;

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
    assert_eq!(m.count(names::TOKENS_REMOVED, &[]), 1);
    let removed = [("service", "invalid"), ("reason", "Unregistered")];
    assert_eq!(m.count(names::TOKENS_REMOVED, &removed), 1);
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
    let (m, _, _) = h.finish().await;
    assert_eq!(m.count(names::PUSH_TOTAL, &[("result", "delivered")]), 1);
    assert_eq!(m.count(names::PUSH_RETRIED, &[("service", "retry")]), 1);
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
    h.metrics
        .wait_for(names::PUSH_TOTAL, &[("result", "failed")], 1)
        .await;
    let (m, _, _) = h.finish().await;
    assert_eq!(fake.calls(), 3);
    assert_eq!(m.count(names::PUSH_TOTAL, &[("result", "failed")]), 1);
    let failed = [("service", "retry-bounded"), ("reason", "server_error")];
    assert_eq!(m.count(names::PUSH_FAILURES, &failed), 1);
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
    let (m, index, store) = h.finish().await;
    assert_eq!(fake.calls(), 40);
    assert_eq!(
        m.count(names::PUSH_TOTAL, &[("result", "token_invalid")]),
        40
    );
    assert_eq!(m.count(names::TOKENS_REMOVED, &[]), 0);
    assert_eq!(store.all().len(), 40);
    assert_eq!(index.len(), 40);
    assert_eq!(
        m.gauge(names::BREAKER_OPEN, &[("service", "breaker")]),
        Some(1.0)
    );
}
