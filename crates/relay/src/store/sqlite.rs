//! The SQLite backend (embedded default, one machine). Runtime `sqlx::query`, migrations from
//! `migrations/sqlite`, statements from `sql.rs`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

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
        sqlx::migrate!("../../migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(SqliteStore { pool, sealer })
    }
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

super::queries::sql_store!(SqliteStore);

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
