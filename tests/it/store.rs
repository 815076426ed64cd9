//! The store conformance suite: every case runs on SQLite (a temporary file) and on Postgres
//! (a fresh database from `TEST_POSTGRES_URL`), through the public `store::open`.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use relay::crypto::StorageKey;
use relay::store::{self, StoreError, Upsert};
use relay::subscription::Subscription;

use crate::support::db::{Backend, TestDb};

mod batch;
mod files;
mod rows;
use crate::support::fixtures::{account, apns_token, expired, signed_ago, subscription, NOW};
use batch::{group_commit_answers_every_concurrent_subscribe, upsert_many_is_exact_per_row};
use rows::{old_rows_are_rekeyed_once, one_device_on_two_accounts_is_unlinkable};

const KEY: StorageKey = StorageKey([7; 32]);
const RENEWED: Upsert = Upsert::Updated {
    monitor_changed: false,
};
const MONITOR_CHANGED: Upsert = Upsert::Updated {
    monitor_changed: true,
};

/// Generates one `#[tokio::test]` per case and backend: `store::sqlite::<case>` and
/// `store::postgres::<case>`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() -> anyhow::Result<()> {
                    crate::support::db::run(super::Backend::Sqlite, super::$case).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(prereq_postgres), ignore = "needs TEST_POSTGRES_URL (a Postgres server); README \"Testing\"")]
                async fn $case() -> anyhow::Result<()> {
                    crate::support::db::run(super::Backend::Postgres, super::$case).await
                }
            )*
        }
    };
}

conformance!(
    add_then_renew,
    changed_namespaces_change_the_monitor,
    changed_want_data_or_subaccount_change_the_monitor,
    unsubscribe_deletes_once,
    other_devices_are_unaffected,
    remove_token_spans_accounts_not_services,
    expired_rows_are_hidden_and_deleted,
    expired_row_resubscribed_counts_as_added,
    concurrent_upserts_add_once,
    live_streams_every_row,
    reopen_reads_back_sealed_fields,
    wrong_storage_key_is_corrupt,
    raw_database_holds_no_token_or_enc_key,
    changed_since_returns_rows_written_from_the_watermark,
    old_rows_are_rekeyed_once,
    one_device_on_two_accounts_is_unlinkable,
    upsert_many_is_exact_per_row,
    group_commit_answers_every_concurrent_subscribe,
);

/// The catch-up poll's queries: `last_change` is the newest write's stamp (the writer's `now`
/// on SQLite, the database's clock on Postgres) and `changed_since` returns the live rows
/// stamped at or after a watermark, with their stamps.
async fn changed_since_returns_rows_written_from_the_watermark(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    assert_eq!(store.last_change().await?, 0);
    let a = subscription(account(1), "apns", &apns_token(1));
    store.upsert(&a, NOW).await?;
    let first = store.last_change().await?;
    assert!(first > 0);
    let rows: Vec<(Subscription, i64)> = store.changed_since(first, NOW).try_collect().await?;
    assert_eq!(rows, vec![(a.clone(), first)]);
    assert!(store
        .changed_since(first + 1, NOW)
        .try_collect::<Vec<_>>()
        .await?
        .is_empty());

    let b = subscription(account(2), "apns", &apns_token(2));
    store.upsert(&b, NOW).await?;
    let second = store.last_change().await?;
    assert!(second >= first);
    let rows: Vec<(Subscription, i64)> = store.changed_since(second, NOW).try_collect().await?;
    assert!(rows.contains(&(b.clone(), second)));
    // Expired rows are never returned.
    let later = NOW + 15 * 86_400;
    assert!(store
        .changed_since(0, later)
        .try_collect::<Vec<_>>()
        .await?
        .is_empty());
    Ok(())
}

async fn add_then_renew(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    store.ping().await?;
    let sub = subscription(account(1), "apns", &apns_token(1));
    assert_eq!(store.upsert(&sub, NOW).await?, Upsert::Added);

    let mut renewed = signed_ago(sub.clone(), -60);
    renewed.signature.0[0] ^= 1;
    renewed.enc_key.0[0] ^= 1;
    renewed.session_ed25519 = None;
    assert_eq!(store.upsert(&renewed, NOW + 60).await?, RENEWED);

    assert_eq!(
        store.for_account(&sub.account, NOW + 60).await?,
        vec![renewed]
    );
    Ok(())
}

async fn changed_namespaces_change_the_monitor(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    let sub = subscription(account(1), "apns", &apns_token(1));
    store.upsert(&sub, NOW).await?;

    let mut changed = sub.clone();
    changed.namespaces = vec![-10, 0, 1, 2, 3];
    assert_eq!(store.upsert(&changed, NOW).await?, MONITOR_CHANGED);
    let stored = store.for_account(&sub.account, NOW).await?;
    assert_eq!(stored[0].namespaces, vec![-10, 0, 1, 2, 3]);
    Ok(())
}

async fn changed_want_data_or_subaccount_change_the_monitor(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    let sub = subscription(account(1), "apns", &apns_token(1));
    store.upsert(&sub, NOW).await?;

    let mut no_data = sub.clone();
    no_data.want_data = false;
    assert_eq!(store.upsert(&no_data, NOW).await?, MONITOR_CHANGED);
    assert_eq!(store.upsert(&no_data, NOW).await?, RENEWED);

    let mut no_subaccount = no_data.clone();
    no_subaccount.subaccount = None;
    assert_eq!(store.upsert(&no_subaccount, NOW).await?, MONITOR_CHANGED);
    assert_eq!(
        store.for_account(&sub.account, NOW).await?,
        vec![no_subaccount]
    );
    Ok(())
}

async fn unsubscribe_deletes_once(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    let sub = subscription(account(1), "apns", &apns_token(1));
    store.upsert(&sub, NOW).await?;

    assert!(store.remove(&sub.key()).await?);
    assert!(!store.remove(&sub.key()).await?);
    assert!(store.for_account(&sub.account, NOW).await?.is_empty());
    Ok(())
}

async fn other_devices_are_unaffected(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    let phone = subscription(account(1), "apns", &apns_token(1));
    let tablet = subscription(account(1), "apns", &apns_token(2));
    let same_token_other_account = subscription(account(2), "apns", &apns_token(1));
    for sub in [&phone, &tablet, &same_token_other_account] {
        assert_eq!(store.upsert(sub, NOW).await?, Upsert::Added);
    }

    assert!(store.remove(&phone.key()).await?);
    assert_eq!(store.for_account(&account(1), NOW).await?, vec![tablet]);
    assert_eq!(
        store.for_account(&account(2), NOW).await?,
        vec![same_token_other_account]
    );
    Ok(())
}

async fn remove_token_spans_accounts_not_services(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    let token = apns_token(9);
    let other_service = subscription(account(1), "firebase", &token);
    for sub in [
        subscription(account(1), "apns", &token),
        subscription(account(2), "apns", &token),
        subscription(account(3), "apns", &apns_token(3)),
        other_service.clone(),
    ] {
        store.upsert(&sub, NOW).await?;
    }

    // Account 3 holds another token: named, it loses nothing.
    let named = [account(1), account(2), account(3)];
    let mut lost = store.remove_token("apns", &token, &named).await?;
    lost.sort();
    assert_eq!(lost, vec![account(1), account(2)]);
    assert!(store.remove_token("apns", &token, &named).await?.is_empty());
    assert_eq!(
        store.for_account(&account(1), NOW).await?,
        vec![other_service]
    );
    assert_eq!(store.for_account(&account(3), NOW).await?.len(), 1);
    Ok(())
}

async fn expired_rows_are_hidden_and_deleted(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    let old = expired(subscription(account(1), "apns", &apns_token(1)));
    let almost = signed_ago(subscription(account(1), "apns", &apns_token(2)), 1_209_599);
    let fresh = subscription(account(2), "firebase", &apns_token(3));
    for sub in [&old, &almost, &fresh] {
        assert_eq!(store.upsert(sub, old.sig_ts).await?, Upsert::Added);
    }

    let live: Vec<Subscription> = store.live(NOW).try_collect().await?;
    assert_eq!(live.len(), 2);
    assert!(!live.contains(&old));
    assert_eq!(
        store.for_account(&account(1), NOW).await?,
        vec![almost.clone()]
    );
    let counts: BTreeMap<String, u64> = store.count_by_service(NOW).await?.into_iter().collect();
    assert_eq!(
        counts,
        BTreeMap::from([("apns".into(), 1), ("firebase".into(), 1)])
    );

    assert_eq!(store.delete_expired(NOW).await?, vec![old.key()]);
    assert!(store.delete_expired(NOW).await?.is_empty());
    assert_eq!(store.delete_expired(NOW + 1).await?, vec![almost.key()]);
    assert_eq!(store.for_account(&account(2), NOW + 1).await?, vec![fresh]);
    Ok(())
}

async fn expired_row_resubscribed_counts_as_added(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    let old = expired(subscription(account(1), "apns", &apns_token(1)));
    assert_eq!(store.upsert(&old, old.sig_ts).await?, Upsert::Added);

    // Still in the table (no cleanup ran), but expired: a new signature is a new subscription.
    let fresh = Subscription {
        sig_ts: NOW,
        ..old.clone()
    };
    assert_eq!(store.upsert(&fresh, NOW).await?, Upsert::Added);
    assert_eq!(store.upsert(&fresh, NOW).await?, RENEWED);
    Ok(())
}

async fn concurrent_upserts_add_once(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    let sub = subscription(account(1), "apns", &apns_token(1));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, sub) = (store.clone(), sub.clone());
            tokio::spawn(async move { store.upsert(&sub, NOW).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await??);
    }

    let added = outcomes.iter().filter(|o| **o == Upsert::Added).count();
    assert_eq!(added, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| *o == Upsert::Added || *o == RENEWED));
    assert_eq!(store.for_account(&sub.account, NOW).await?.len(), 1);
    Ok(())
}

async fn live_streams_every_row(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    let mut expected = Vec::new();
    for n in 0..50 {
        let sub = subscription(account(n % 5), "apns", &apns_token(n));
        store.upsert(&sub, NOW).await?;
        expected.push(sub);
    }

    let mut live: Vec<Subscription> = store.live(NOW).try_collect().await?;
    let order = |s: &Subscription| (s.account, s.token.clone());
    live.sort_by_key(order);
    expected.sort_by_key(order);
    assert_eq!(live, expected);
    Ok(())
}

async fn reopen_reads_back_sealed_fields(db: TestDb) -> anyhow::Result<()> {
    let sub = subscription(account(1), "apns", &apns_token(1));
    {
        let store = db.open(&KEY).await?;
        store.upsert(&sub, NOW).await?;
    }

    let reopened = db.open(&KEY).await?;
    let back = reopened.for_account(&sub.account, NOW).await?;
    assert_eq!(back, vec![sub.clone()]);
    assert_eq!(back[0].token.expose(), sub.token.expose());
    assert_eq!(back[0].enc_key.expose(), sub.enc_key.expose());
    Ok(())
}

async fn wrong_storage_key_is_corrupt(db: TestDb) -> anyhow::Result<()> {
    let sub = subscription(account(1), "apns", &apns_token(1));
    db.open(&KEY).await?.upsert(&sub, NOW).await?;

    let wrong = db.open(&StorageKey([8; 32])).await?;
    let read = wrong.for_account(&sub.account, NOW).await;
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
    let streamed: Result<Vec<_>, _> = wrong.live(NOW).try_collect().await;
    assert!(matches!(streamed, Err(StoreError::Corrupt(_))));
    let expired = wrong.delete_expired(NOW + 2_000_000).await;
    assert!(matches!(expired, Err(StoreError::Corrupt(_))));

    // The failed cleanup deleted nothing: the right key still reads the row.
    let right = db.open(&KEY).await?;
    assert_eq!(right.for_account(&sub.account, NOW).await?, vec![sub]);
    Ok(())
}

async fn raw_database_holds_no_token_or_enc_key(db: TestDb) -> anyhow::Result<()> {
    let store = db.open(&KEY).await?;
    let subs: Vec<Subscription> = (0..3)
        .map(|n| subscription(account(n), "apns", &apns_token(n)))
        .collect();
    for sub in &subs {
        store.upsert(sub, NOW).await?;
    }
    drop(store);

    let dump = db.raw_dump().await?;
    for sub in &subs {
        let account = sub.account.as_bytes();
        assert!(
            contains(&dump, account) || contains(&dump, sub.account.to_hex().as_bytes()),
            "the dump shows the account (a check of the test itself)"
        );
        let token = sub.token.expose();
        let enc_key = sub.enc_key.expose();
        for needle in [
            token.as_bytes().to_vec(),
            hex::encode(token).into_bytes(),
            hex::decode(token)?,
            enc_key.to_vec(),
            hex::encode(enc_key).into_bytes(),
        ] {
            assert!(
                !contains(&dump, &needle),
                "the raw database holds a token or enc_key"
            );
        }
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn sqlite_creates_the_directory_and_file() -> anyhow::Result<()> {
    relay::crypto::init()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("nested/data/relay.db");
    let url = format!("sqlite://{}", path.display());

    store::open(&url, 2, &KEY).await?.ping().await?;
    assert!(path.is_file());
    Ok(())
}

#[tokio::test]
async fn sqlite_wal_stays_bounded_while_the_pool_is_open() -> anyhow::Result<()> {
    relay::crypto::init()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("relay.db");
    let store = store::open(&format!("sqlite://{}", path.display()), 4, &KEY).await?;
    for n in 0..=255u8 {
        for t in 0..6u8 {
            let sub = subscription(account(n), "apns", &apns_token(t));
            assert_eq!(store.upsert(&sub, NOW).await?, Upsert::Added);
        }
    }
    // Each upsert appends ~24 KB of pages (37 MB in all); auto-checkpoints every 1000 pages
    // must keep folding them into the database while the connections stay open.
    let wal = std::fs::metadata(dir.path().join("relay.db-wal"))?.len();
    assert!(wal < 8 << 20, "the WAL grew to {wal} bytes");
    Ok(())
}

#[tokio::test]
async fn sqlite_in_memory_keeps_its_data_and_is_private() -> anyhow::Result<()> {
    relay::crypto::init()?;
    let store = store::open("sqlite::memory:", 8, &KEY).await?;
    let sub = subscription(account(1), "apns", &apns_token(1));
    assert_eq!(store.upsert(&sub, NOW).await?, Upsert::Added);
    let (a, b) = tokio::join!(store.for_account(&sub.account, NOW), store.ping());
    b?;
    assert_eq!(a?, vec![sub]);

    let other = store::open("sqlite::memory:", 8, &KEY).await?;
    assert!(
        other.for_account(&account(1), NOW).await?.is_empty(),
        "a separate database"
    );
    Ok(())
}

#[tokio::test]
async fn unsupported_url_is_rejected() {
    let err = store::open("mysql://localhost/relay", 1, &KEY).await.err();
    assert!(matches!(err, Some(StoreError::UnsupportedUrl)));
}

#[tokio::test]
async fn dead_postgres_is_unavailable() -> anyhow::Result<()> {
    // Port 1 on loopback refuses connections: the pool gives up after its acquire timeout.
    let result = store::open("postgres://relay@127.0.0.1:1/relay", 1, &KEY).await;
    let err = result.err().expect("no database listens on port 1");
    assert!(err.is_timeout(), "{err:?}");
    Ok(())
}
