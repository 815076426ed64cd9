//! An in-memory [`Store`] for API tests: rows can be inspected, and the store can be told to
//! fail with a timeout (API code 3) or an internal error (code 5).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use futures::stream::{self, BoxStream};
use relay::store::{Store, StoreError, Upsert};
use relay::subscription::{AccountId, DeviceToken, Subscription, SubscriptionKey};

/// A failure the store reports instead of doing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `StoreError::Unavailable` (a pool timeout).
    Timeout,
    /// `StoreError::Corrupt`, standing for any other failure.
    Internal,
    /// Never answers (reaches the request timeout of the middleware stack).
    Hang,
}

/// Subscriptions by key, in a mutex.
#[derive(Default)]
pub struct MemoryStore {
    rows: Mutex<HashMap<SubscriptionKey, Subscription>>,
    failure: Mutex<Option<Failure>>,
}

impl MemoryStore {
    /// A store holding `subs`.
    pub fn with(subs: &[Subscription]) -> Self {
        let store = MemoryStore::default();
        store
            .rows
            .lock()
            .unwrap()
            .extend(subs.iter().map(|s| (s.key(), s.clone())));
        store
    }

    /// Every subscription held (alias of [`MemoryStore::rows`]).
    pub fn all(&self) -> Vec<Subscription> {
        self.rows()
    }

    /// Makes every later operation fail (or succeed again with `None`).
    pub fn fail_with(&self, failure: Option<Failure>) {
        *self.failure.lock().unwrap() = failure;
    }

    /// Every stored row, sorted by key for stable comparisons.
    pub fn rows(&self) -> Vec<Subscription> {
        let mut rows: Vec<_> = self.rows.lock().unwrap().values().cloned().collect();
        rows.sort_by(|a, b| {
            (a.account, &a.service, &a.token).cmp(&(b.account, &b.service, &b.token))
        });
        rows
    }

    async fn check(&self) -> Result<(), StoreError> {
        let failure = *self.failure.lock().unwrap();
        if failure == Some(Failure::Hang) {
            std::future::pending::<()>().await;
        }
        self.check_now()
    }

    fn check_now(&self) -> Result<(), StoreError> {
        match *self.failure.lock().unwrap() {
            None => Ok(()),
            Some(Failure::Timeout | Failure::Hang) => {
                Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut))
            }
            Some(Failure::Internal) => Err(StoreError::Corrupt("injected failure")),
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn upsert(&self, sub: &Subscription, now: i64) -> Result<Upsert, StoreError> {
        self.check().await?;
        let mut rows = self.rows.lock().unwrap();
        let previous = rows.insert(sub.key(), sub.clone());
        Ok(match previous {
            Some(old) if old.expires_at() > now => Upsert::Updated {
                monitor_changed: old.namespaces != sub.namespaces
                    || old.want_data != sub.want_data
                    || old.subaccount != sub.subaccount,
            },
            _ => Upsert::Added,
        })
    }

    async fn remove(&self, key: &SubscriptionKey) -> Result<bool, StoreError> {
        self.check().await?;
        Ok(self.rows.lock().unwrap().remove(key).is_some())
    }

    async fn remove_token(
        &self,
        service: &str,
        token: &DeviceToken,
        accounts: &[AccountId],
    ) -> Result<Vec<AccountId>, StoreError> {
        self.check().await?;
        let mut rows = self.rows.lock().unwrap();
        // Like the SQL stores: only the rows of the accounts named.
        let gone: Vec<_> = rows
            .keys()
            .filter(|k| {
                &*k.service == service && &k.token == token && accounts.contains(&k.account)
            })
            .cloned()
            .collect();
        Ok(gone
            .into_iter()
            .filter_map(|k| rows.remove(&k).map(|s| s.account))
            .collect())
    }

    async fn delete_expired(&self, now: i64) -> Result<Vec<SubscriptionKey>, StoreError> {
        self.check().await?;
        let mut rows = self.rows.lock().unwrap();
        let gone: Vec<_> = rows
            .values()
            .filter(|s| s.expires_at() <= now)
            .map(Subscription::key)
            .collect();
        for key in &gone {
            rows.remove(key);
        }
        Ok(gone)
    }

    fn live(&self, now: i64) -> BoxStream<'_, Result<Subscription, StoreError>> {
        let rows = match self.check_now() {
            Err(e) => vec![Err(e)],
            Ok(()) => self
                .rows()
                .into_iter()
                .filter(|s| s.expires_at() > now)
                .map(Ok)
                .collect(),
        };
        Box::pin(stream::iter(rows))
    }

    async fn for_account(
        &self,
        account: &AccountId,
        now: i64,
    ) -> Result<Vec<Subscription>, StoreError> {
        self.check().await?;
        Ok(self
            .rows()
            .into_iter()
            .filter(|s| &s.account == account && s.expires_at() > now)
            .collect())
    }

    async fn count_by_service(&self, now: i64) -> Result<Vec<(String, u64)>, StoreError> {
        self.check().await?;
        let mut counts: HashMap<String, u64> = HashMap::new();
        for s in self.rows().into_iter().filter(|s| s.expires_at() > now) {
            *counts.entry(s.service.to_string()).or_default() += 1;
        }
        Ok(counts.into_iter().collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.check().await
    }
}
