//! Helpers shared by unit tests across modules.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use futures::stream::{BoxStream, StreamExt};
use tokio::sync::mpsc;

use crate::store::{Store, StoreError, Upsert};
use crate::subscription::{AccountId, DeviceToken, Subscription, SubscriptionKey};

/// `tests/vectors/<name>` (byte-for-byte copies of `spec/vectors/`), parsed.
pub fn vectors(name: &str) -> serde_json::Value {
    let path = format!("{}/../../tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `tests/vectors/payload.json`.
pub fn payload() -> serde_json::Value {
    vectors("payload.json")
}

/// An environment of `(name, value)` pairs.
pub fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A store for unit tests of the tasks that poll one (catch-up, expiry) and of group commit.
/// `changed_since` answers from `changed` (a test may add rows between polls) and records each `since` in `asked`; `last_change`
/// is `last_change`; `delete_expired` reports each `now` on `expiry_now` and answers
/// `expired(n)` on its `n`th call (from 0). `upsert` writes `rows` (namespaces by account,
/// counted in `upsert_calls`) and fails for the account `poisoned`; `upsert_many` records its
/// batch's size in `batch_sizes` and fails with `batch_error` when set. Reads a test does not
/// set up panic.
pub struct FakeStore {
    pub rows: Mutex<HashMap<AccountId, Vec<i16>>>,
    pub poisoned: Option<AccountId>,
    pub upsert_calls: AtomicUsize,
    pub batch_sizes: Mutex<Vec<usize>>,
    pub batch_error: Mutex<Option<fn() -> StoreError>>,
    pub changed: Mutex<Vec<(Subscription, i64)>>,
    pub asked: Mutex<Vec<i64>>,
    pub last_change: i64,
    pub expiry_now: Option<mpsc::Sender<i64>>,
    pub expired: fn(usize) -> Result<Vec<SubscriptionKey>, StoreError>,
    pub expiry_calls: AtomicUsize,
}

impl Default for FakeStore {
    fn default() -> Self {
        FakeStore {
            rows: Mutex::default(),
            poisoned: None,
            upsert_calls: AtomicUsize::new(0),
            batch_sizes: Mutex::default(),
            batch_error: Mutex::new(None),
            changed: Mutex::default(),
            asked: Mutex::default(),
            last_change: 0,
            expiry_now: None,
            expired: |_| Ok(Vec::new()),
            expiry_calls: AtomicUsize::new(0),
        }
    }
}

#[async_trait::async_trait]
impl Store for FakeStore {
    async fn upsert(&self, sub: &Subscription, _: i64) -> Result<Upsert, StoreError> {
        self.upsert_calls.fetch_add(1, Ordering::SeqCst);
        if self.poisoned == Some(sub.account) {
            return Err(StoreError::Corrupt("poisoned row"));
        }
        let mut rows = self.rows.lock().unwrap();
        Ok(match rows.insert(sub.account, sub.namespaces.clone()) {
            None => Upsert::Added,
            Some(old) => Upsert::Updated {
                monitor_changed: old != sub.namespaces,
            },
        })
    }
    async fn upsert_many(&self, rows: &[(&Subscription, i64)]) -> Result<Vec<Upsert>, StoreError> {
        self.batch_sizes.lock().unwrap().push(rows.len());
        if let Some(error) = *self.batch_error.lock().unwrap() {
            return Err(error());
        }
        crate::store::upsert_each(self, rows).await
    }
    async fn remove(&self, _: &SubscriptionKey) -> Result<bool, StoreError> {
        unreachable!()
    }
    async fn remove_token(
        &self,
        _: &str,
        _: &DeviceToken,
        _: &[AccountId],
    ) -> Result<Vec<AccountId>, StoreError> {
        unreachable!()
    }
    async fn delete_expired(&self, now: i64) -> Result<Vec<SubscriptionKey>, StoreError> {
        if let Some(tx) = &self.expiry_now {
            tx.send(now).await.unwrap();
        }
        (self.expired)(self.expiry_calls.fetch_add(1, Ordering::SeqCst))
    }
    fn live(&self, _: i64) -> BoxStream<'_, Result<Subscription, StoreError>> {
        unreachable!()
    }
    fn changed_since(
        &self,
        since: i64,
        _: i64,
    ) -> BoxStream<'_, Result<(Subscription, i64), StoreError>> {
        self.asked.lock().unwrap().push(since);
        let rows: Vec<_> = self
            .changed
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, at)| *at >= since)
            .cloned()
            .map(Ok)
            .collect();
        futures::stream::iter(rows).boxed()
    }
    async fn last_change(&self) -> Result<i64, StoreError> {
        Ok(self.last_change)
    }
    async fn for_account(&self, _: &AccountId, _: i64) -> Result<Vec<Subscription>, StoreError> {
        unreachable!()
    }
    async fn count_by_service(&self, _: i64) -> Result<Vec<(String, u64)>, StoreError> {
        unreachable!()
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
