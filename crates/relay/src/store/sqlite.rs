//! The SQLite backend (embedded default, one machine). Runtime `sqlx::query`, migrations from
//! `migrations/sqlite`, statements from `sql.rs`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{Sealer, StoreError};

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
            // Every commit is on disk before a subscribe is answered (a power cut loses nothing
            // answered). Said explicitly: NORMAL would be faster under WAL but loses the last
            // commits on power loss. Group commit (`batch.rs`) pays this once per batch.
            .synchronous(SqliteSynchronous::Full)
            // Deleted rows are overwritten with zeros, not left readable in free pages.
            .pragma("secure_delete", "ON")
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
            create_private(options.get_filename())?;
            pool.max_connections(max.max(1))
        };
        let pool = pool.connect_with(options).await?;
        migrate(&pool, &sealer).await?;
        Ok(SqliteStore { pool, sealer })
    }
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

super::rekey::rekey!(SqlitePool, "../../migrations/sqlite");

super::queries::sql_store!(SqliteStore, None);

/// Creates the database file 0600 when absent; SQLite gives its `-wal` and `-shm` files the
/// same mode.
fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Db(sqlx::Error::Io(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{self, StorageKey};
    use crate::store::Store;
    use crate::subscription::{AccountId, DeviceToken};

    /// The row key before migration 0002: a keyed BLAKE2b of (service, token) only.
    fn old_token_hash(key: &StorageKey, service: &str, token: &str) -> [u8; 32] {
        let hash_key: [u8; 32] =
            crypto::blake2b_keyed(&key.0, &[b"session-push-relay token lookup"]);
        let len = (service.len() as u32).to_le_bytes();
        crypto::blake2b_keyed(&hash_key, &[&len, service.as_bytes(), token.as_bytes()])
    }

    fn account(n: u16) -> AccountId {
        let mut id = [0x05; 33];
        id[1..3].copy_from_slice(&n.to_be_bytes());
        AccountId(id)
    }

    #[tokio::test]
    async fn rekey_changes_each_old_row_once_and_counts_them() {
        crypto::init().unwrap();
        let key = StorageKey([4; 32]);
        let sealer = Sealer::new(&key);
        let store = SqliteStore::connect("sqlite::memory:", 1, sealer.clone())
            .await
            .unwrap();
        // An old-scheme table, one device on more accounts than fit one page: rows keyed by
        // (service, token) and the marker at 1, as migration 0002 leaves an old database.
        let token = "ab".repeat(32);
        let rows = 2 * super::super::rekey::PAGE as u16 + 100;
        for n in 0..rows {
            sqlx::query(
                "INSERT INTO subscriptions (account, service, token_hash, token_sealed, \
                 enc_key_sealed, signature, sig_ts, want_data, namespaces) \
                 VALUES ($1, 'apns', $2, $3, $4, $5, 1700000000, 1, x'0000')",
            )
            .bind(account(n).as_bytes().as_slice())
            .bind(old_token_hash(&key, "apns", &token).as_slice())
            .bind(sealer.seal(&token))
            .bind(sealer.seal_bytes(&[9; 32]))
            .bind([7u8; 64].as_slice())
            .execute(&store.pool)
            .await
            .unwrap();
        }
        sqlx::query("UPDATE store_meta SET value = 1")
            .execute(&store.pool)
            .await
            .unwrap();

        assert_eq!(rekey(&store.pool, &sealer).await.unwrap(), u64::from(rows));
        assert_eq!(rekey(&store.pool, &sealer).await.unwrap(), 0, "only once");
        let version: i64 = sqlx::query_scalar("SELECT value FROM store_meta")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(version, super::super::rekey::ROW_KEY_VERSION);

        // Every row is found under its new key.
        let token = DeviceToken::new(token);
        let named: Vec<AccountId> = (0..rows).map(account).collect();
        let lost = store.remove_token("apns", &token, &named).await.unwrap();
        assert_eq!(lost.len(), usize::from(rows));
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subscriptions")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }
}
