//! Subscription changes across replicas (`LISTEN/NOTIFY`): every committed change to a
//! subscription row is announced by a trigger (`0004_cluster.sql`) in the same transaction, so
//! it reaches every replica even if the one that made it dies right after; each reloads that
//! account's rows from the store and tells its own index and swarm monitor through the
//! ordinary [`Changes`] path. So whichever replica owns the account's swarm (now or after a
//! handover) acts on it within 2 s. [`Reload`] is called by the listener in `listen.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt as _;

use crate::clock::unix_now;
use crate::store::{Changes, Store, StoreError, Upsert};
use crate::subscription::{AccountId, Subscription, SubscriptionKey};
use crate::swarm::MonitorSource;

/// Brings this replica's index (and through it the monitor) in step with the store for
/// accounts another replica changed.
pub struct Reload {
    store: Arc<dyn Store>,
    /// What this replica holds now (the subscriber index).
    held: Arc<dyn MonitorSource>,
    /// The index and the swarm monitor.
    local: Arc<dyn Changes>,
}

impl Reload {
    /// Reloads through `store`, compares with `held`, tells `local`.
    pub fn new(
        store: Arc<dyn Store>,
        held: Arc<dyn MonitorSource>,
        local: Arc<dyn Changes>,
    ) -> Self {
        Reload { store, held, local }
    }

    /// Handles one `spr_subscriptions` payload (the account in hex). This replica's own
    /// changes come back too: their reload finds nothing new and changes nothing.
    pub async fn announced(&self, payload: &str) -> Result<(), StoreError> {
        let mut id = [0u8; 33];
        if hex::decode_to_slice(payload, &mut id).is_err() {
            tracing::debug!("ignored a malformed subscription announcement");
            return Ok(());
        }
        let account = AccountId(id);
        let now = unix_now();
        let rows = self.store.for_account(&account, now).await?;
        self.apply(account, rows, now);
        Ok(())
    }

    /// Reloads every account (after the listener lost its connection and may have missed
    /// announcements).
    pub async fn everything(&self) -> Result<(), StoreError> {
        let now = unix_now();
        let mut stored: HashMap<AccountId, Vec<Subscription>> = HashMap::new();
        let mut live = self.store.live(now);
        while let Some(sub) = live.next().await {
            let sub = sub?;
            stored.entry(sub.account).or_default().push(sub);
        }
        drop(live);
        for account in self.held.accounts() {
            stored.entry(account).or_default();
        }
        for (account, rows) in stored {
            self.apply(account, rows, now);
        }
        Ok(())
    }

    /// Tells `local` the differences between `rows` (the store) and what is held.
    fn apply(&self, account: AccountId, rows: Vec<Subscription>, now: i64) {
        let held = self.held.subscriptions(&account, now);
        for old in &held {
            let kept = rows
                .iter()
                .any(|r| r.service == old.service && r.token == old.token);
            if !kept {
                self.local.removed(&SubscriptionKey {
                    account,
                    service: old.service.clone(),
                    token: old.token.clone(),
                });
            }
        }
        for row in &rows {
            let before = held
                .iter()
                .find(|h| h.service == row.service && h.token == row.token);
            let outcome = match before {
                None => Upsert::Added,
                Some(h) if h == row => continue,
                Some(h) => Upsert::Updated {
                    monitor_changed: h.namespaces != row.namespaces
                        || h.want_data != row.want_data
                        || h.subaccount != row.subaccount,
                },
            };
            self.local.subscribed(row, outcome);
        }
    }
}
