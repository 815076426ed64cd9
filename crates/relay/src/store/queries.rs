//! The `Store` implementation both backends share: the statements are written once in `sql.rs`
//! and accepted by Postgres and SQLite alike, so only the pool type differs. A macro rather than
//! a generic impl, because sqlx's per-database executor bounds would outweigh the code they save.

/// Implements [`crate::store::Store`] for a struct with `pool` (a sqlx pool) and `sealer` fields.
/// `$change_clock`: the statement that reads the clock stamping `changed_at`, where the database
/// stamps rows (`None`: the writers' own clock, [`crate::store::Store::change_clock`]'s default).
macro_rules! sql_store {
    ($store:ty, $change_clock:expr) => {
        // A const block scopes the trait imports the method calls need.
        const _: () = {
            use futures::stream::BoxStream;
            use sqlx::Row as _;

            use $crate::store::row::{self, ChangedRow, KeyRow, SubscriptionRow, UpsertArgs};
            use $crate::store::{sql, Store, StoreError, Upsert};
            use $crate::subscription::{AccountId, DeviceToken, Subscription, SubscriptionKey};

            #[async_trait::async_trait]
            impl Store for $store {
                #[tracing::instrument(skip_all)]
                async fn upsert(&self, sub: &Subscription, now: i64) -> Result<Upsert, StoreError> {
                    let args = UpsertArgs::new(sub, &self.sealer, now);
                    // `fetch_all`, not `fetch_one`: SQLite ends a statement's implicit
                    // transaction only when the statement runs to completion, and a
                    // half-stepped UPSERT … RETURNING left in sqlx's statement cache keeps the
                    // WAL from ever being checkpointed (it grew ~24 KB per upsert).
                    let rows = args
                        .bind(sqlx::query(sql::UPSERT))
                        .fetch_all(&self.pool)
                        .await?;
                    let code: i16 = rows.first().ok_or(sqlx::Error::RowNotFound)?.try_get(0)?;
                    row::outcome(code)
                }

                #[tracing::instrument(skip_all, fields(rows = rows.len()))]
                async fn upsert_many(
                    &self,
                    rows: &[(&Subscription, i64)],
                ) -> Result<Vec<Upsert>, StoreError> {
                    // One transaction: one commit (one WAL flush) for the whole batch. Statements
                    // run in order, so a key twice in a batch gets Added, then Updated.
                    let mut tx = self.pool.begin().await?;
                    let mut outcomes = Vec::with_capacity(rows.len());
                    for (sub, now) in rows {
                        let args = UpsertArgs::new(sub, &self.sealer, *now);
                        // `fetch_all`: see `upsert`.
                        let done = args
                            .bind(sqlx::query(sql::UPSERT))
                            .fetch_all(&mut *tx)
                            .await?;
                        let code: i16 = done.first().ok_or(sqlx::Error::RowNotFound)?.try_get(0)?;
                        outcomes.push(row::outcome(code)?);
                    }
                    tx.commit().await?;
                    Ok(outcomes)
                }

                #[tracing::instrument(skip_all)]
                async fn remove(&self, key: &SubscriptionKey) -> Result<bool, StoreError> {
                    let hash =
                        self.sealer
                            .token_hash(&key.account, &key.service, key.token.expose());
                    let done = sqlx::query(sql::REMOVE)
                        .bind(key.account.as_bytes().as_slice())
                        .bind(&*key.service)
                        .bind(hash.as_slice())
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() > 0)
                }

                #[tracing::instrument(skip_all, fields(accounts = accounts.len()))]
                async fn remove_token(
                    &self,
                    service: &str,
                    token: &DeviceToken,
                    accounts: &[AccountId],
                ) -> Result<Vec<AccountId>, StoreError> {
                    // One row key per account (the key includes it), one transaction for all.
                    let mut tx = self.pool.begin().await?;
                    let mut lost = Vec::new();
                    for account in accounts {
                        let hash = self.sealer.token_hash(account, service, token.expose());
                        let done = sqlx::query(sql::REMOVE)
                            .bind(account.as_bytes().as_slice())
                            .bind(service)
                            .bind(hash.as_slice())
                            .execute(&mut *tx)
                            .await?;
                        if done.rows_affected() > 0 {
                            lost.push(*account);
                        }
                    }
                    tx.commit().await?;
                    Ok(lost)
                }

                #[tracing::instrument(skip_all)]
                async fn delete_expired(
                    &self,
                    now: i64,
                ) -> Result<Vec<SubscriptionKey>, StoreError> {
                    // One transaction: if a deleted row cannot be read back, nothing is deleted
                    // and the caller retries, rather than losing keys it must report to `Changes`.
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

                #[tracing::instrument(skip_all)]
                fn live(&self, now: i64) -> BoxStream<'_, Result<Subscription, StoreError>> {
                    let rows = sqlx::query_as::<_, SubscriptionRow>(sql::LIVE)
                        .bind(row::live_cutoff(now))
                        .fetch(&self.pool);
                    row::decoded(rows, |r| r.decode(&self.sealer))
                }

                #[tracing::instrument(skip_all)]
                fn changed_since(
                    &self,
                    since: i64,
                    now: i64,
                ) -> BoxStream<'_, Result<(Subscription, i64), StoreError>> {
                    let rows = sqlx::query_as::<_, ChangedRow>(sql::CHANGED_SINCE)
                        .bind(since)
                        .bind(row::live_cutoff(now))
                        .fetch(&self.pool);
                    row::decoded(rows, |r| r.decode(&self.sealer))
                }

                #[tracing::instrument(skip_all)]
                async fn last_change(&self) -> Result<i64, StoreError> {
                    let last: i64 = sqlx::query_scalar(sql::LAST_CHANGE)
                        .fetch_one(&self.pool)
                        .await?;
                    Ok(last)
                }

                #[tracing::instrument(skip_all)]
                async fn change_clock(&self, local_now: i64) -> Result<i64, StoreError> {
                    let statement: Option<&'static str> = $change_clock;
                    match statement {
                        Some(statement) => {
                            Ok(sqlx::query_scalar(statement).fetch_one(&self.pool).await?)
                        }
                        None => Ok(local_now),
                    }
                }

                #[tracing::instrument(skip_all)]
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

                #[tracing::instrument(skip_all)]
                async fn count_by_service(
                    &self,
                    now: i64,
                ) -> Result<Vec<(String, u64)>, StoreError> {
                    let rows: Vec<(String, i64)> = sqlx::query_as(sql::COUNT_BY_SERVICE)
                        .bind(row::live_cutoff(now))
                        .fetch_all(&self.pool)
                        .await?;
                    Ok(row::counts(rows))
                }

                #[tracing::instrument(skip_all)]
                async fn ping(&self) -> Result<(), StoreError> {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                }
            }
        };
    };
}

pub(super) use sql_store;
