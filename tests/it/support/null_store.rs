//! A store that holds nothing and counts the writes it is asked for.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use relay::store::{Store, StoreError, Upsert};
use relay::subscription::{AccountId, DeviceToken, Subscription, SubscriptionKey};

/// Answers every query as an empty database would; `writes()` says how many writes it saw.
#[derive(Default)]
pub struct NullStore {
    writes: AtomicUsize,
}

impl NullStore {
    /// Upserts and removals asked for so far.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for NullStore {
    async fn upsert(&self, _sub: &Subscription, _now: i64) -> Result<Upsert, StoreError> {
        self.write();
        Ok(Upsert::Added)
    }

    async fn remove(&self, _key: &SubscriptionKey) -> Result<bool, StoreError> {
        self.write();
        Ok(false)
    }

    async fn remove_token(
        &self,
        _service: &str,
        _token: &DeviceToken,
        _accounts: &[AccountId],
    ) -> Result<Vec<AccountId>, StoreError> {
        self.write();
        Ok(Vec::new())
    }

    async fn delete_expired(&self, _now: i64) -> Result<Vec<SubscriptionKey>, StoreError> {
        self.write();
        Ok(Vec::new())
    }

    fn live(&self, _now: i64) -> BoxStream<'_, Result<Subscription, StoreError>> {
        stream::empty().boxed()
    }

    async fn for_account(
        &self,
        _account: &AccountId,
        _now: i64,
    ) -> Result<Vec<Subscription>, StoreError> {
        Ok(Vec::new())
    }

    async fn count_by_service(&self, _now: i64) -> Result<Vec<(String, u64)>, StoreError> {
        Ok(Vec::new())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
