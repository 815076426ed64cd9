//! Group commit (issue 13) on both backends: `upsert_many`'s per-row outcomes, and group commit
//! answering many concurrent subscribes only with rows a fresh connection can read.

use std::time::Duration;

use futures::TryStreamExt;
use relay::store::{self, BatchSettings, Upsert};
use relay::subscription::Subscription;

use super::{KEY, MONITOR_CHANGED, RENEWED};
use crate::support::db::TestDb;
use crate::support::fixtures::{account, apns_token, expired, subscription, NOW};

/// One transaction, rows in order: a key twice in one batch is added, then renewed; an expired
/// row replaced counts as added; the outcomes are those of one `upsert` after another.
pub(super) async fn upsert_many_is_exact_per_row(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    let old = subscription(account(9), "apns", &apns_token(9));
    store.upsert(&expired(old.clone()), NOW).await?;
    let a = subscription(account(1), "apns", &apns_token(1));
    let mut a_changed = a.clone();
    a_changed.namespaces = vec![0, 5];
    let b = subscription(account(2), "apns", &apns_token(2));
    let rows = [
        (&a, NOW),
        (&a, NOW),
        (&b, NOW),
        (&a_changed, NOW),
        (&old, NOW),
    ];
    let outcomes = store.upsert_many(&rows).await?;
    assert_eq!(
        outcomes,
        [
            Upsert::Added,
            RENEWED,
            Upsert::Added,
            MONITOR_CHANGED,
            Upsert::Added
        ]
    );
    assert_eq!(store.for_account(&a.account, NOW).await?, [a_changed]);
    Ok(())
}

/// 200 subscribes at once, 50 of them a second time: every caller gets its row's outcome, and
/// every row answered is there for a new connection once the answers are in.
pub(super) async fn group_commit_answers_every_concurrent_subscribe(
    db: TestDb,
) -> anyhow::Result<()> {
    let backend = db.open(&KEY).await?;
    let settings = BatchSettings {
        max: 32,
        window: Duration::from_millis(2),
    };
    let (store, writer) = store::group_commit(backend, settings);
    let writer = tokio::spawn(writer.run());
    let subs: Vec<Subscription> = (0..200u8)
        .map(|n| subscription(account(n % 40), "apns", &apns_token(n)))
        .collect();
    let tasks: Vec<_> = subs
        .iter()
        .chain(&subs[..50])
        .cloned()
        .map(|sub| {
            let store = store.clone();
            tokio::spawn(async move { store.upsert(&sub, NOW).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await??);
    }
    drop(store);
    writer.await?;

    let added = outcomes.iter().filter(|o| **o == Upsert::Added).count();
    assert_eq!(added, 200, "each row added exactly once: {outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == RENEWED).count(), 50);
    let fresh = db.open(&KEY).await?;
    let mut live: Vec<Subscription> = fresh.live(NOW).try_collect().await?;
    let mut expected = subs;
    let order = |s: &Subscription| (s.account, s.token.clone());
    live.sort_by_key(order);
    expected.sort_by_key(order);
    assert_eq!(live, expected);
    Ok(())
}
