//! An in-memory `MonitorSource` standing in for delivery's subscriber index.

use std::collections::HashMap;
use std::sync::Mutex;

use relay::subscription::{AccountId, Subscription};
use relay::swarm::MonitorSource;

/// Subscriptions by account.
#[derive(Default)]
pub struct MemorySource {
    subs: Mutex<HashMap<AccountId, Vec<Subscription>>>,
}

impl MemorySource {
    /// Adds a subscription.
    pub fn add(&self, sub: Subscription) {
        self.subs
            .lock()
            .unwrap()
            .entry(sub.account)
            .or_default()
            .push(sub);
    }

    /// Removes every subscription of `account`.
    pub fn remove_account(&self, account: &AccountId) {
        self.subs.lock().unwrap().remove(account);
    }
}

impl MonitorSource for MemorySource {
    fn accounts(&self) -> Vec<AccountId> {
        self.subs.lock().unwrap().keys().copied().collect()
    }

    fn subscriptions(&self, account: &AccountId, now: i64) -> Vec<Subscription> {
        let subs = self.subs.lock().unwrap();
        subs.get(account)
            .map(|v| v.iter().filter(|s| s.expires_at() > now).cloned().collect())
            .unwrap_or_default()
    }
}
