//! The subscription database: schema, queries, at-rest token sealing, expiry cleanup.
//!
//! **Owns:** SQL (statements in `sql.rs`, run by Postgres in `pg.rs` and SQLite in `sqlite.rs`,
//! one migration directory each), the row encoding (`row.rs`), sealing of device tokens and
//! enc_keys and the rows' keyed lookup hash of (account, service, token) (`seal.rs`), the
//! one-time re-keying of rows written before migration 0002 (`rekey.rs`), the expiry task
//! (`expiry.rs`), reading the upstream server's database for import-spns (`spns.rs`), and the
//! `[cluster]` lease tables and announcements (`cluster.rs`, Postgres only), and group commit
//! of subscribes (`batch.rs`: one writer task, one transaction per batch).
//! **Must not:** know about HTTP.
//!
//! Callers hold an `Arc<dyn Store>`; `open(url, …)` picks the backend by URL scheme.

mod batch;
pub mod cluster;
mod error;
mod expiry;
mod pg;
mod queries;
mod rekey;
mod row;
mod seal;
pub mod spns;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;

pub use batch::{group_commit, BatchSettings, GroupCommit, Writer as BatchWriter};
pub use error::StoreError;
pub use expiry::{run_expiry, EXPIRY_INTERVAL};
pub use seal::Sealer;

use crate::crypto::StorageKey;
use crate::subscription::{AccountId, DeviceToken, Subscription, SubscriptionKey};

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// No unexpired row existed for (account, service, svcid).
    Added,
    /// A row existed and was replaced; `monitor_changed` when namespaces, want_data or the
    /// subaccount differ (those must reach the swarm within 1 s, PROTOCOL §8.3).
    Updated {
        /// Whether what storage servers are told changed.
        monitor_changed: bool,
    },
}

/// Told of every change the API or delivery makes to the store, after it is committed, so the
/// in-memory subscriber index and the swarm monitor stay in step without polling.
pub trait Changes: Send + Sync + 'static {
    /// A subscription was added or replaced.
    fn subscribed(&self, sub: &Subscription, outcome: Upsert);
    /// A subscription was removed (unsubscribe, expiry, invalid token).
    fn removed(&self, key: &SubscriptionKey);
}

/// Ignores every change (tests, and the relay before delivery and swarm exist).
pub struct NoChanges;

impl Changes for NoChanges {
    fn subscribed(&self, _sub: &Subscription, _outcome: Upsert) {}
    fn removed(&self, _key: &SubscriptionKey) {}
}

/// Tells several observers of each change, in order (the subscriber index before the swarm
/// monitor, which re-reads the index).
pub struct Fanout(Vec<Arc<dyn Changes>>);

impl Fanout {
    /// Observers in the order they are told.
    pub fn new(observers: Vec<Arc<dyn Changes>>) -> Self {
        Fanout(observers)
    }
}

impl Changes for Fanout {
    fn subscribed(&self, sub: &Subscription, outcome: Upsert) {
        for o in &self.0 {
            o.subscribed(sub, outcome);
        }
    }

    fn removed(&self, key: &SubscriptionKey) {
        for o in &self.0 {
            o.removed(key);
        }
    }
}

/// The subscription store.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Adds or replaces the subscription (account, service, svcid).
    async fn upsert(&self, sub: &Subscription, now: i64) -> Result<Upsert, StoreError>;

    /// Upserts each `(subscription, now)` in order, as many [`Store::upsert`] calls would (two
    /// rows of one key: the second sees the first), all or none committed; one outcome per row.
    /// The SQL backends write them in one transaction (group commit, `batch.rs`).
    async fn upsert_many(&self, rows: &[(&Subscription, i64)]) -> Result<Vec<Upsert>, StoreError> {
        upsert_each(self, rows).await
    }

    /// Deletes one subscription; `true` if a row was deleted.
    async fn remove(&self, key: &SubscriptionKey) -> Result<bool, StoreError>;

    /// Deletes the subscription of (service, svcid) of each of `accounts` (token invalid), in
    /// one transaction; returns the accounts that lost one. The caller names the accounts (the
    /// subscriber index knows every account holding the token): rows are keyed by (account,
    /// service, token), so the database alone cannot find one token's rows across accounts.
    async fn remove_token(
        &self,
        service: &str,
        token: &DeviceToken,
        accounts: &[AccountId],
    ) -> Result<Vec<AccountId>, StoreError>;

    /// Deletes subscriptions with `sig_ts + 14 days <= now`; returns the deleted keys.
    async fn delete_expired(&self, now: i64) -> Result<Vec<SubscriptionKey>, StoreError>;

    /// Every unexpired subscription, streamed (start-up loading).
    fn live(&self, now: i64) -> BoxStream<'_, Result<Subscription, StoreError>>;

    /// Unexpired subscriptions written at or after `since`, each with its `changed_at` (unix
    /// seconds by the database's clock on Postgres, the writer's on SQLite), streamed. A
    /// running relay polls this to learn of rows other processes wrote (import-spns).
    /// Stores that only this process writes need not implement it.
    fn changed_since(
        &self,
        _since: i64,
        _now: i64,
    ) -> BoxStream<'_, Result<(Subscription, i64), StoreError>> {
        Box::pin(futures::stream::empty())
    }

    /// The newest `changed_at` of any row (0 for none): where [`Store::changed_since`] polls
    /// start.
    async fn last_change(&self) -> Result<i64, StoreError> {
        Ok(0)
    }

    /// The time, now, by the clock that stamps `changed_at`: the database's where the database
    /// stamps rows (Postgres), else `local_now` (SQLite: the writers share this machine's
    /// clock). A [`Store::changed_since`] poll that read this first has seen every row stamped
    /// more than a commit's lag before it, so the next poll need not read those again.
    async fn change_clock(&self, local_now: i64) -> Result<i64, StoreError> {
        Ok(local_now)
    }

    /// The unexpired subscriptions of one account.
    async fn for_account(
        &self,
        account: &AccountId,
        now: i64,
    ) -> Result<Vec<Subscription>, StoreError>;

    /// Unexpired subscription counts per service.
    async fn count_by_service(&self, now: i64) -> Result<Vec<(String, u64)>, StoreError>;

    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// [`Store::upsert_many`] as one [`Store::upsert`] per row, in order, stopping at the first
/// error: the default for stores without a transaction to share.
pub(crate) async fn upsert_each<S: Store + ?Sized>(
    store: &S,
    rows: &[(&Subscription, i64)],
) -> Result<Vec<Upsert>, StoreError> {
    let mut outcomes = Vec::with_capacity(rows.len());
    for (sub, now) in rows {
        outcomes.push(store.upsert(sub, *now).await?);
    }
    Ok(outcomes)
}

/// Opens the store for `url` (`sqlite://…` or `postgres://…`) and runs its migrations.
pub async fn open(
    url: &str,
    max_connections: u32,
    key: &StorageKey,
) -> Result<Arc<dyn Store>, StoreError> {
    let sealer = Sealer::new(key);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            pg::PgStore::connect(url, max_connections, sealer).await?,
        ))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(
            sqlite::SqliteStore::connect(url, max_connections, sealer).await?,
        ))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}
