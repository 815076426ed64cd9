/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names neither SQLite nor Postgres.
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// The pool had no connection in time: busy, not broken.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A migration failed.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A stored row could not be read back (corrupt or sealed with another key).
    #[error("stored row is corrupt: {0}")]
    Corrupt(&'static str),
    /// Any other database failure.
    #[error("database error")]
    Db(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut => StoreError::Unavailable(e),
            other => StoreError::Db(other),
        }
    }
}

impl StoreError {
    /// Whether the failure is a timeout (API code 3) rather than an internal error (code 5).
    pub fn is_timeout(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
