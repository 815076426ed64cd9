//! The SQLite backend (embedded default, one machine). Runtime `sqlx::query`, migrations from
//! `migrations/sqlite`, statements from `sql.rs`.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;
use tracing::instrument;

use super::row::{self, KeyRow, SubscriptionRow, UpsertArgs};
use super::{sql, Sealer, Store, StoreError, Upsert};
use crate::subscription::{AccountId, DeviceToken, Subscription, SubscriptionKey};

/// How long a writer waits for SQLite's lock before failing (writers are serialised).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a query waits for a pooled connection before [`StoreError::Unavailable`].
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Subscriptions in an SQLite file (or in memory, for tests).
pub struct SqliteStore {
    pool: SqlitePool,
    sealer: Sealer,
}

impl SqliteStore {
    /// Opens `url` (`sqlite://path`, creating the directory and file, or `sqlite::memory:`),
    /// with at most `max` connections, and runs the migrations.
    pub async fn connect(url: &str, max: u32, sealer: Sealer) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        let pool = if is_in_memory(url) {
            // An in-memory database lives as long as a connection to it: keep exactly one,
            // forever, so every query sees the same database.
            pool.max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            if let Some(dir) = options.get_filename().parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
                }
            }
            pool.max_connections(max.max(1))
        };
        let pool = pool.connect_with(options).await?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(SqliteStore { pool, sealer })
    }
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

#[async_trait]
impl Store for SqliteStore {
    #[instrument(skip_all)]
    async fn upsert(&self, sub: &Subscription, now: i64) -> Result<Upsert, StoreError> {
        let args = UpsertArgs::new(sub, &self.sealer, now);
        let code: i16 = args
            .bind(sqlx::query(sql::UPSERT))
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        row::outcome(code)
    }

    #[instrument(skip_all)]
    async fn remove(&self, key: &SubscriptionKey) -> Result<bool, StoreError> {
        let hash = self.sealer.token_hash(&key.service, key.token.expose());
        let done = sqlx::query(sql::REMOVE)
            .bind(key.account.as_bytes().as_slice())
            .bind(&*key.service)
            .bind(hash.as_slice())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    #[instrument(skip_all)]
    async fn remove_token(
        &self,
        service: &str,
        token: &DeviceToken,
    ) -> Result<Vec<AccountId>, StoreError> {
        let hash = self.sealer.token_hash(service, token.expose());
        let accounts: Vec<Vec<u8>> = sqlx::query_scalar(sql::REMOVE_TOKEN)
            .bind(service)
            .bind(hash.as_slice())
            .fetch_all(&self.pool)
            .await?;
        accounts.iter().map(|a| row::account(a)).collect()
    }

    #[instrument(skip_all)]
    async fn delete_expired(&self, now: i64) -> Result<Vec<SubscriptionKey>, StoreError> {
        // One transaction: if a deleted row cannot be read back, nothing is deleted and the
        // caller retries, rather than losing keys it must report to `Changes`.
        let mut tx = self.pool.begin().await?;
        let rows: Vec<KeyRow> = sqlx::query_as(sql::DELETE_EXPIRED)
            .bind(row::live_cutoff(now))
            .fetch_all(&mut *tx)
            .await?;
        let keys = rows
            .into_iter()
            .map(|r| r.decode(&self.sealer))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await?;
        Ok(keys)
    }

    #[instrument(skip_all)]
    fn live(&self, now: i64) -> BoxStream<'_, Result<Subscription, StoreError>> {
        sqlx::query_as::<_, SubscriptionRow>(sql::LIVE)
            .bind(row::live_cutoff(now))
            .fetch(&self.pool)
            .map_err(StoreError::from)
            .and_then(|r| futures::future::ready(r.decode(&self.sealer)))
            .boxed()
    }

    #[instrument(skip_all)]
    async fn for_account(
        &self,
        account: &AccountId,
        now: i64,
    ) -> Result<Vec<Subscription>, StoreError> {
        let rows: Vec<SubscriptionRow> = sqlx::query_as(sql::FOR_ACCOUNT)
            .bind(account.as_bytes().as_slice())
            .bind(row::live_cutoff(now))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(|r| r.decode(&self.sealer)).collect()
    }

    #[instrument(skip_all)]
    async fn count_by_service(&self, now: i64) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(sql::COUNT_BY_SERVICE)
            .bind(row::live_cutoff(now))
            .fetch_all(&self.pool)
            .await?;
        Ok(row::counts(rows))
    }

    #[instrument(skip_all)]
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
