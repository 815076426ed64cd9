//! The writer's failure paths, against a fake backend whose batch write fails on demand.

use std::sync::atomic::Ordering;

use super::*;
use crate::subscription::{AccountId, DeviceToken, EncKey, Signature};
use crate::test_support::FakeStore;

fn sub(n: u8) -> Subscription {
    Subscription {
        account: AccountId([n; 33]),
        session_ed25519: None,
        subaccount: None,
        signature: Signature([0; 64]),
        sig_ts: 1,
        namespaces: vec![0],
        want_data: true,
        service: "apns".into(),
        token: DeviceToken::new("ab".repeat(32)),
        enc_key: EncKey([0; 32]),
    }
}

/// Queues `subs` through a batching store before its writer runs, so they form one batch,
/// then runs the writer; each caller's result, in order.
async fn one_batch(
    inner: Arc<FakeStore>,
    subs: Vec<Subscription>,
) -> Vec<Result<Upsert, StoreError>> {
    let settings = BatchSettings {
        max: 64,
        window: Duration::ZERO,
    };
    let (store, writer) = group_commit(inner, settings);
    let callers: Vec<_> = subs
        .into_iter()
        .map(|s| {
            let store = store.clone();
            tokio::spawn(async move { store.upsert(&s, 1).await })
        })
        .collect();
    // Every caller has queued before the writer starts (a current-thread runtime runs them
    // while this task yields).
    while QUEUE - store.queue.capacity() < callers.len() {
        tokio::task::yield_now().await;
    }
    drop(store);
    let writer = tokio::spawn(writer.run());
    let mut results = Vec::new();
    for caller in callers {
        results.push(caller.await.unwrap());
    }
    writer.await.unwrap();
    results
}

#[tokio::test]
async fn one_batch_answers_each_row_with_its_own_outcome() {
    let inner = Arc::new(FakeStore::default());
    let mut changed = sub(1);
    changed.namespaces = vec![0, 1];
    let results = one_batch(inner.clone(), vec![sub(1), sub(2), sub(1), changed]).await;
    let results: Vec<Upsert> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        results,
        [
            Upsert::Added,
            Upsert::Added,
            Upsert::Updated {
                monitor_changed: false
            },
            Upsert::Updated {
                monitor_changed: true
            },
        ]
    );
    assert_eq!(inner.rows.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_failed_batch_is_retried_row_by_row() {
    let inner = Arc::new(FakeStore {
        poisoned: Some(AccountId([2; 33])),
        ..FakeStore::default()
    });
    *inner.batch_error.lock().unwrap() = Some(|| StoreError::Corrupt("batch failed"));
    let results = one_batch(inner.clone(), vec![sub(1), sub(2), sub(3)]).await;
    assert!(matches!(results[0], Ok(Upsert::Added)));
    assert!(matches!(
        results[1],
        Err(StoreError::Corrupt("poisoned row"))
    ));
    assert!(matches!(results[2], Ok(Upsert::Added)));
    assert_eq!(inner.upsert_calls.load(Ordering::SeqCst), 3);
    assert_eq!(inner.rows.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn an_unavailable_database_answers_every_row_unavailable_without_retrying() {
    let inner = Arc::new(FakeStore::default());
    *inner.batch_error.lock().unwrap() =
        Some(|| StoreError::Unavailable(sqlx::Error::PoolTimedOut));
    let results = one_batch(inner.clone(), vec![sub(1), sub(2), sub(3)]).await;
    assert!(results
        .iter()
        .all(|r| matches!(r, Err(e) if e.is_timeout())));
    assert_eq!(inner.upsert_calls.load(Ordering::SeqCst), 0);
    assert!(inner.rows.lock().unwrap().is_empty());
}

#[tokio::test]
async fn batches_hold_at_most_batch_max_rows() {
    let inner = Arc::new(FakeStore::default());
    let (store, writer) = group_commit(
        inner.clone(),
        BatchSettings {
            max: 2,
            window: Duration::ZERO,
        },
    );
    let callers: Vec<_> = (1..=5)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.upsert(&sub(n), 1).await })
        })
        .collect();
    while QUEUE - store.queue.capacity() < callers.len() {
        tokio::task::yield_now().await;
    }
    drop(store);
    tokio::spawn(writer.run()).await.unwrap();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap(), Upsert::Added);
    }
    // The fifth, alone, is written without a transaction of its own (plain `upsert`).
    assert_eq!(*inner.batch_sizes.lock().unwrap(), [2, 2]);
    assert_eq!(inner.rows.lock().unwrap().len(), 5);
}
