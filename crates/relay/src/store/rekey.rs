//! The one-time re-keying of rows written before migration 0002, when `token_hash` was a keyed
//! hash of (service, token) only and so equal across the accounts of one device (issue 16).
//!
//! Migration 0002 creates `store_meta` with `row_key_version` 1 when rows exist (2 for an empty
//! table). At start, after the SQL migrations, [`rekey!`]'s function claims the marker (sets it to
//! [`ROW_KEY_VERSION`] if lower), opens each row's sealed token, writes the new row key and
//! commits, all in one transaction: a failure (a row sealed with another key) changes nothing,
//! and the next start tries again. Memory is bounded by [`PAGE`] rows.

/// The row-key scheme this relay writes: 2 = keyed BLAKE2b of (account, service, token).
pub(super) const ROW_KEY_VERSION: i64 = 2;

/// Rows read per query while re-keying.
pub(super) const PAGE: i64 = 500;

/// Defines `async fn migrate(pool: &$pool, sealer: &Sealer) -> Result<(), StoreError>`, which
/// brings a freshly connected database up to date (the SQL migrations in `$migrations`, then
/// the re-keying, which needs them), and `async fn rekey(..) -> Result<u64, StoreError>`, which
/// re-keys every row once and returns how many it changed (0 when already done). A macro for
/// the same reason as `queries::sql_store!`: only the pool type (and the migrations) differ.
macro_rules! rekey {
    ($pool:ty, $migrations:tt) => {
        /// Runs the SQL migrations, then re-keys rows of an older row-key scheme.
        async fn migrate(
            pool: &$pool,
            sealer: &$crate::store::Sealer,
        ) -> Result<(), $crate::store::StoreError> {
            sqlx::migrate!($migrations)
                .run(pool)
                .await
                .map_err($crate::store::StoreError::Migrate)?;
            rekey(pool, sealer).await?;
            Ok(())
        }

        /// Re-keys rows written under an older row-key scheme; returns how many changed.
        async fn rekey(
            pool: &$pool,
            sealer: &$crate::store::Sealer,
        ) -> Result<u64, $crate::store::StoreError> {
            use $crate::store::rekey::{PAGE, ROW_KEY_VERSION};
            use $crate::store::{row, sql, StoreError};

            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(sql::CLAIM_ROW_KEY_VERSION)
                .bind(ROW_KEY_VERSION)
                .execute(&mut *tx)
                .await?;
            if claimed.rows_affected() == 0 {
                return Ok(0); // already at this version; the transaction rolls back on drop
            }
            let mut changed = 0u64;
            // The cursor walks the primary key. A row re-keyed to a hash after the cursor is
            // read again and found current, so each row changes once and the walk ends.
            let mut cursor: (Vec<u8>, String, Vec<u8>) = Default::default();
            loop {
                let page: Vec<(Vec<u8>, String, Vec<u8>, Vec<u8>)> =
                    sqlx::query_as(sql::REKEY_PAGE)
                        .bind(cursor.0.as_slice())
                        .bind(cursor.1.as_str())
                        .bind(cursor.2.as_slice())
                        .bind(PAGE)
                        .fetch_all(&mut *tx)
                        .await?;
                let Some(last) = page.last() else { break };
                cursor = (last.0.clone(), last.1.clone(), last.2.clone());
                for (account, service, old, sealed) in &page {
                    let token = sealer.open(sealed).ok_or(StoreError::Corrupt(
                        "token does not open with this storage key",
                    ))?;
                    let new = sealer.token_hash(&row::account(account)?, service, &token);
                    if new.as_slice() == old.as_slice() {
                        continue;
                    }
                    sqlx::query(sql::REKEY_ROW)
                        .bind(account.as_slice())
                        .bind(service.as_str())
                        .bind(old.as_slice())
                        .bind(new.as_slice())
                        .execute(&mut *tx)
                        .await?;
                    changed += 1;
                }
            }
            tx.commit().await?;
            tracing::info!(
                rows = changed,
                version = ROW_KEY_VERSION,
                "store: re-keyed {changed} rows to (account, service, token)"
            );
            Ok(changed)
        }
    };
}

pub(super) use rekey;
