//! An in-memory [`Store`] for tests that need no SQL.

use std::sync::Mutex;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt as _};
use session_push_relay::store::{Store, StoreError, Upsert};
use session_push_relay::subscription::{AccountId, DeviceToken, Subscription, SubscriptionKey};

/// Subscriptions in a vector behind a mutex.
#[derive(Default)]
pub struct MemoryStore {
    subs: Mutex<Vec<Subscription>>,
}

impl MemoryStore {
    /// A store holding `subs`.
    pub fn with(subs: &[Subscription]) -> Self {
        MemoryStore {
            subs: Mutex::new(subs.to_vec()),
        }
    }

    /// Every subscription held.
    pub fn all(&self) -> Vec<Subscription> {
        self.subs.lock().unwrap().clone()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn upsert(&self, sub: &Subscription, _now: i64) -> Result<Upsert, StoreError> {
        let mut subs = self.subs.lock().unwrap();
        let key = sub.key();
        match subs.iter_mut().find(|s| s.key() == key) {
            Some(s) => {
                *s = sub.clone();
                Ok(Upsert::Updated {
                    monitor_changed: true,
                })
            }
            None => {
                subs.push(sub.clone());
                Ok(Upsert::Added)
            }
        }
    }

    async fn remove(&self, key: &SubscriptionKey) -> Result<bool, StoreError> {
        let mut subs = self.subs.lock().unwrap();
        let before = subs.len();
        subs.retain(|s| &s.key() != key);
        Ok(subs.len() != before)
    }

    async fn remove_token(
        &self,
        service: &str,
        token: &DeviceToken,
    ) -> Result<Vec<AccountId>, StoreError> {
        let mut subs = self.subs.lock().unwrap();
        let mut gone = Vec::new();
        subs.retain(|s| {
            let hit = s.service.as_ref() == service && &s.token == token;
            if hit {
                gone.push(s.account);
            }
            !hit
        });
        Ok(gone)
    }

    async fn delete_expired(&self, now: i64) -> Result<Vec<SubscriptionKey>, StoreError> {
        let mut subs = self.subs.lock().unwrap();
        let gone = subs
            .iter()
            .filter(|s| s.expires_at() <= now)
            .map(Subscription::key)
            .collect();
        subs.retain(|s| s.expires_at() > now);
        Ok(gone)
    }

    fn live(&self, now: i64) -> BoxStream<'_, Result<Subscription, StoreError>> {
        let live: Vec<_> = self
            .all()
            .into_iter()
            .filter(|s| s.expires_at() > now)
            .map(Ok)
            .collect();
        stream::iter(live).boxed()
    }

    async fn for_account(
        &self,
        account: &AccountId,
        now: i64,
    ) -> Result<Vec<Subscription>, StoreError> {
        Ok(self
            .all()
            .into_iter()
            .filter(|s| &s.account == account && s.expires_at() > now)
            .collect())
    }

    async fn count_by_service(&self, now: i64) -> Result<Vec<(String, u64)>, StoreError> {
        let mut counts = std::collections::BTreeMap::new();
        for s in self.all().into_iter().filter(|s| s.expires_at() > now) {
            *counts.entry(s.service.to_string()).or_insert(0) += 1;
        }
        Ok(counts.into_iter().collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
