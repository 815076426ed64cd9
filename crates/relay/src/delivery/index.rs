//! The in-memory subscriber index: account → subscriptions, so a notification costs no
//! database round trip (PROTOCOL §9 step 1).
//!
//! Loaded once from [`Store::live`], then kept in step through [`Changes`] (the API after each
//! committed change, the expiry task after deletions, dispatch after invalid tokens). It is
//! also the swarm monitor's [`MonitorSource`], so subscriptions are held in memory once.
//!
//! Memory: an entry is ~200 bytes inline (`entry_is_compact` guards it) plus the token's
//! heap bytes; service names are interned `Arc<str>`s shared by every entry.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures::StreamExt as _;

use super::DeliveryError;
use crate::admin::metrics as names;
use crate::store::{Changes, Store, Upsert};
use crate::subscription::{
    AccountId, DeviceToken, EncKey, Signature, SubaccountAuth, Subscription, SubscriptionKey,
    SUBSCRIPTION_LIFETIME_SECS,
};
use crate::swarm::MonitorSource;

/// One device to push to for a notification.
#[derive(Clone, Debug)]
pub struct Target {
    /// Interned service name.
    pub service: Arc<str>,
    /// Device token (svcid).
    pub token: DeviceToken,
    /// Payload key.
    pub enc_key: EncKey,
    /// Whether the device wants the message data.
    pub want_data: bool,
}

/// A subscription as held in the index (the account is the map key).
struct Entry {
    service: Arc<str>,
    token: DeviceToken,
    enc_key: EncKey,
    signature: Signature,
    sig_ts: i64,
    namespaces: Box<[i16]>,
    want_data: bool,
    session_ed25519: Option<[u8; 32]>,
    // Rare (group subaccounts), so boxed to keep the common entry small.
    subaccount: Option<Box<SubaccountAuth>>,
}

impl Entry {
    fn live(&self, now: i64) -> bool {
        self.sig_ts + SUBSCRIPTION_LIFETIME_SECS > now
    }

    fn to_subscription(&self, account: AccountId) -> Subscription {
        Subscription {
            account,
            session_ed25519: self.session_ed25519,
            subaccount: self.subaccount.as_deref().copied(),
            signature: self.signature,
            sig_ts: self.sig_ts,
            namespaces: self.namespaces.to_vec(),
            want_data: self.want_data,
            service: self.service.clone(),
            token: self.token.clone(),
            enc_key: self.enc_key,
        }
    }
}

#[derive(Default)]
struct Inner {
    /// Boxed slices, not `Vec`s: exact-size (most accounts have one device, and a `Vec`
    /// pushed once keeps room for four, 800 bytes) and 8 bytes smaller in each map bucket.
    accounts: HashMap<AccountId, Box<[Entry]>>,
    /// Interned service names with their entry counts (gauge `relay_subscriptions`).
    services: HashMap<Arc<str>, usize>,
}

impl Inner {
    fn intern(&mut self, service: &Arc<str>) -> Arc<str> {
        match self.services.get_key_value(service) {
            Some((name, _)) => name.clone(),
            None => {
                self.services.insert(service.clone(), 0);
                service.clone()
            }
        }
    }

    fn count(&mut self, service: &Arc<str>, delta: isize) {
        if let Some(n) = self.services.get_mut(service) {
            *n = n.saturating_add_signed(delta);
            metrics::gauge!(names::SUBSCRIPTIONS, "service" => service.clone()).set(*n as f64);
        }
    }

    fn upsert(&mut self, sub: &Subscription) {
        let service = self.intern(&sub.service);
        let entry = Entry {
            service: service.clone(),
            token: sub.token.clone(),
            enc_key: sub.enc_key,
            signature: sub.signature,
            sig_ts: sub.sig_ts,
            namespaces: sub.namespaces.clone().into_boxed_slice(),
            want_data: sub.want_data,
            session_ed25519: sub.session_ed25519,
            subaccount: sub.subaccount.map(Box::new),
        };
        let entries = self.accounts.entry(sub.account).or_default();
        match entries
            .iter_mut()
            .find(|e| e.service == service && e.token == sub.token)
        {
            Some(existing) => *existing = entry,
            None => {
                let mut grown = std::mem::take(entries).into_vec();
                grown.push(entry);
                *entries = grown.into_boxed_slice();
                self.count(&service, 1);
            }
        }
    }

    fn remove(&mut self, key: &SubscriptionKey) {
        let Some(entries) = self.accounts.get_mut(&key.account) else {
            return;
        };
        let before = entries.len();
        let mut kept = std::mem::take(entries).into_vec();
        kept.retain(|e| !(e.service == key.service && e.token == key.token));
        let removed = before - kept.len();
        *entries = kept.into_boxed_slice();
        if entries.is_empty() {
            self.accounts.remove(&key.account);
        }
        if removed > 0 {
            self.count(&key.service, -(removed as isize));
        }
    }
}

/// The subscriber index; share it as `Arc<Index>`.
#[derive(Default)]
pub struct Index {
    inner: RwLock<Inner>,
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Index::default()
    }

    /// Loads every unexpired subscription from the store.
    pub async fn load(store: &dyn Store, now: i64) -> Result<Index, DeliveryError> {
        let index = Index::new();
        let mut live = store.live(now);
        while let Some(sub) = live.next().await {
            index.write().upsert(&sub.map_err(DeliveryError::Load)?);
        }
        Ok(index)
    }

    /// The devices to push to for a message in `namespace` of `account` (PROTOCOL §9 step 1).
    pub fn select(&self, account: &AccountId, namespace: i16, now: i64) -> Vec<Target> {
        let mut targets = Vec::new();
        self.select_into(account, namespace, now, &mut targets);
        targets
    }

    /// [`Index::select`] into `out` (cleared first), so the caller can reuse one buffer.
    pub fn select_into(
        &self,
        account: &AccountId,
        namespace: i16,
        now: i64,
        out: &mut Vec<Target>,
    ) {
        out.clear();
        let inner = self.read();
        let Some(entries) = inner.accounts.get(account) else {
            return;
        };
        out.extend(
            entries
                .iter()
                .filter(|e| e.live(now) && e.namespaces.binary_search(&namespace).is_ok())
                .map(|e| Target {
                    service: e.service.clone(),
                    token: e.token.clone(),
                    enc_key: e.enc_key,
                    want_data: e.want_data,
                }),
        );
    }

    /// What upserting `sub` into the index would change: `None` when an identical entry is
    /// held already (a row the relay wrote itself, seen again by the catch-up poll), else the
    /// [`Upsert`] the swarm monitor needs to hear.
    pub fn change_for(&self, sub: &Subscription) -> Option<Upsert> {
        let inner = self.read();
        let held = inner.accounts.get(&sub.account).and_then(|entries| {
            entries
                .iter()
                .find(|e| *e.service == *sub.service && e.token == sub.token)
        });
        let Some(held) = held else {
            return Some(Upsert::Added);
        };
        let monitor_changed = *held.namespaces != *sub.namespaces
            || held.want_data != sub.want_data
            || held.subaccount.as_deref().map(|s| s.token) != sub.subaccount.map(|s| s.token);
        let same = !monitor_changed
            && held.enc_key == sub.enc_key
            && held.signature == sub.signature
            && held.sig_ts == sub.sig_ts
            && held.session_ed25519 == sub.session_ed25519
            && held.subaccount.as_deref() == sub.subaccount.as_ref();
        (!same).then_some(Upsert::Updated { monitor_changed })
    }

    /// The accounts holding `token` for `service` (a dead token's rows to delete). A scan of
    /// every entry under the read lock, about a millisecond per 10^5–10^6 subscriptions, run
    /// once per invalid token; a token → accounts map would cost memory on every entry instead.
    pub fn accounts_with(&self, service: &str, token: &DeviceToken) -> Vec<AccountId> {
        let inner = self.read();
        inner
            .accounts
            .iter()
            .filter(|(_, entries)| {
                entries
                    .iter()
                    .any(|e| &*e.service == service && e.token == *token)
            })
            .map(|(account, _)| *account)
            .collect()
    }

    /// Subscriptions held, per interned service name.
    pub fn counts(&self) -> Vec<(Arc<str>, usize)> {
        let inner = self.read();
        inner
            .services
            .iter()
            .map(|(s, n)| (s.clone(), *n))
            .collect()
    }

    /// Subscriptions held in total.
    pub fn len(&self) -> usize {
        self.read().services.values().sum()
    }

    /// Whether no subscription is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock leaves whole entries behind (each change is one
        // push/retain), so the data is still consistent.
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Changes for Index {
    fn subscribed(&self, sub: &Subscription, _outcome: Upsert) {
        self.write().upsert(sub);
    }

    fn removed(&self, key: &SubscriptionKey) {
        self.write().remove(key);
    }
}

impl MonitorSource for Index {
    /// Every account held; expired entries linger only until the expiry task removes them,
    /// and [`MonitorSource::subscriptions`] filters them out.
    fn accounts(&self) -> Vec<AccountId> {
        self.read().accounts.keys().copied().collect()
    }

    fn subscriptions(&self, account: &AccountId, now: i64) -> Vec<Subscription> {
        let inner = self.read();
        inner
            .accounts
            .get(account)
            .map_or_else(Vec::new, |entries| {
                entries
                    .iter()
                    .filter(|e| e.live(now))
                    .map(|e| e.to_subscription(*account))
                    .collect()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::tests_support::subscription;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn change_for_tells_new_changed_and_identical_rows_apart() {
        let index = Index::new();
        let sub = subscription(1, "apns", "t1", &[0, 1]);
        assert_eq!(index.change_for(&sub), Some(Upsert::Added));
        index.subscribed(&sub, Upsert::Added);
        assert_eq!(index.change_for(&sub), None);
        let mut renewed = sub.clone();
        renewed.sig_ts += 1;
        assert_eq!(
            index.change_for(&renewed),
            Some(Upsert::Updated {
                monitor_changed: false
            })
        );
        let mut moved = sub.clone();
        moved.namespaces = vec![0];
        assert_eq!(
            index.change_for(&moved),
            Some(Upsert::Updated {
                monitor_changed: true
            })
        );
    }

    #[test]
    fn entry_is_compact() {
        // Inline part of the ≤ 512-byte budget per subscription; the rest is the token's
        // heap bytes, the namespace slice and the account's share of the map.
        let size = std::mem::size_of::<Entry>();
        println!("index entry: {size} bytes inline");
        assert!(size <= 208, "{size}");
    }

    #[test]
    fn a_single_device_account_allocates_one_entry() {
        let index = Index::new();
        let a = subscription(1, "apns", "tok-a", &[0]);
        index.subscribed(&a, Upsert::Added);
        assert_eq!(index.read().accounts[&a.account].len(), 1);
        index.subscribed(&subscription(1, "apns", "tok-b", &[0]), Upsert::Added);
        assert_eq!(index.read().accounts[&a.account].len(), 2);
        index.removed(&a.key());
        let inner = index.read();
        assert_eq!(inner.accounts[&a.account].len(), 1);
        assert_eq!(inner.accounts[&a.account][0].token.expose(), "tok-b");
    }

    #[test]
    fn select_filters_by_namespace_and_expiry() {
        let index = Index::new();
        let mut a = subscription(1, "apns", "tok-a", &[0, 5]);
        a.sig_ts = NOW;
        let mut old = subscription(1, "apns", "tok-old", &[0]);
        old.sig_ts = NOW - SUBSCRIPTION_LIFETIME_SECS;
        index.subscribed(&a, Upsert::Added);
        index.subscribed(&old, Upsert::Added);
        let tokens = |n| -> Vec<String> {
            let account = a.account;
            index
                .select(&account, n, NOW)
                .iter()
                .map(|t| t.token.expose().to_string())
                .collect()
        };
        assert_eq!(tokens(0), ["tok-a"]);
        assert_eq!(tokens(5), ["tok-a"]);
        assert!(tokens(1).is_empty());
        assert!(index.select(&AccountId([9; 33]), 0, NOW).is_empty());
    }

    #[test]
    fn upsert_replaces_and_remove_deletes() {
        let index = Index::new();
        let a = subscription(1, "apns", "tok", &[0]);
        index.subscribed(&a, Upsert::Added);
        let mut b = a.clone();
        b.namespaces = vec![1];
        b.want_data = false;
        index.subscribed(
            &b,
            Upsert::Updated {
                monitor_changed: true,
            },
        );
        assert_eq!(index.len(), 1);
        assert_eq!(index.subscriptions(&a.account, NOW), [b.clone()]);
        index.subscribed(&subscription(1, "firebase", "tok", &[0]), Upsert::Added);
        assert_eq!(index.len(), 2);
        index.removed(&b.key());
        assert_eq!(index.len(), 1);
        assert_eq!(
            index.subscriptions(&a.account, NOW)[0].service.as_ref(),
            "firebase"
        );
        index.removed(&subscription(1, "firebase", "tok", &[0]).key());
        assert!(index.is_empty());
        assert!(index.accounts().is_empty());
    }

    #[test]
    fn service_names_are_interned() {
        let index = Index::new();
        for i in 0..3u8 {
            let mut s = subscription(i, "apns", &format!("tok{i}"), &[0]);
            s.service = Arc::from("apns");
            index.subscribed(&s, Upsert::Added);
        }
        let inner = index.read();
        let mut names = inner
            .accounts
            .values()
            .flat_map(|v| v.iter())
            .map(|e| &e.service);
        let first = names.next().unwrap();
        assert!(names.all(|n| Arc::ptr_eq(n, first)));
    }
}
