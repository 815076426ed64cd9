//! Subscription changes across replicas (`LISTEN/NOTIFY`): a subscribe or unsubscribe that
//! one replica commits reaches every other replica, which reloads that account's rows from the
//! store and tells its own index and swarm monitor through the ordinary [`Changes`] path. So
//! whichever replica owns the account's swarm (now or after a handover) acts on it within 2 s.
//!
//! [`Broadcast`] is the sending side (an observer on the API's `Changes`); [`Reload`] the
//! receiving side (called by the listener in `listen.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::unix_now;
use crate::store::cluster::{ClusterDb, SUBSCRIPTION_CHANNEL};
use crate::store::{Changes, Store, StoreError, Upsert};
use crate::subscription::{AccountId, Subscription, SubscriptionKey};
use crate::swarm::MonitorSource;

/// Accounts changed locally and not yet announced; when full, a change is announced late only
/// by the next change of that account (and a warning is logged).
pub const BROADCAST_QUEUE: usize = 65_536;
/// Accounts announced per round trip at most.
const BATCH: usize = 256;

/// Announces locally committed changes; a [`Changes`] observer (cheap, never blocks).
pub struct Broadcast {
    /// The announcing task ([`Broadcast::run`]) holds the receiver; dropping it stops nothing.
    tx: mpsc::Sender<AccountId>,
}

impl Broadcast {
    /// The observer and the receiver its task drains.
    pub fn new() -> (Self, mpsc::Receiver<AccountId>) {
        let (tx, rx) = mpsc::channel(BROADCAST_QUEUE);
        (Broadcast { tx }, rx)
    }

    fn send(&self, account: AccountId) {
        if self.tx.try_send(account).is_err() {
            tracing::warn!(account = %account, "subscription change not announced to the other replicas (queue full)");
        }
    }

    /// Sends each queued account as `NOTIFY spr_subscriptions '<node_id> <account hex>'` until
    /// `shutdown` (what is queued then is dropped: the replicas that need it reload at start).
    pub async fn run(
        db: ClusterDb,
        mut rx: mpsc::Receiver<AccountId>,
        shutdown: CancellationToken,
    ) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let n = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                n = rx.recv_many(&mut batch, BATCH) => n,
            };
            if n == 0 {
                break;
            }
            batch.sort_unstable();
            batch.dedup();
            for account in batch.drain(..) {
                let payload = format!("{} {}", db.node_id(), account.to_hex());
                if let Err(e) = db.notify(SUBSCRIPTION_CHANNEL, &payload).await {
                    tracing::warn!(account = %account, error = %e, "cannot announce a subscription change to the other replicas");
                }
            }
        }
    }
}

impl Changes for Broadcast {
    fn subscribed(&self, sub: &Subscription, _outcome: Upsert) {
        self.send(sub.account);
    }

    fn removed(&self, key: &SubscriptionKey) {
        self.send(key.account);
    }
}

/// Brings this replica's index (and through it the monitor) in step with the store for
/// accounts another replica changed.
pub struct Reload {
    store: Arc<dyn Store>,
    /// What this replica holds now (the subscriber index).
    held: Arc<dyn MonitorSource>,
    /// The index and the swarm monitor, without [`Broadcast`] (no echo).
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

    /// Handles one `spr_subscriptions` payload; `me` is this replica's node id (its own
    /// announcements are ignored: it applied them when it made them).
    pub async fn announced(&self, payload: &str, me: &str) -> Result<(), StoreError> {
        let Some((from, hex_id)) = payload.split_once(' ') else {
            return Ok(());
        };
        if from == me {
            return Ok(());
        }
        let mut id = [0u8; 33];
        if hex::decode_to_slice(hex_id, &mut id).is_err() {
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
