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
            // Busy or unreachable: the client should retry later (error 3, issue 16).
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e),
            // SQLSTATE 08 connection exception, 53 insufficient resources, 57P admin shutdown.
            sqlx::Error::Database(ref db)
                if db.code().is_some_and(|c| {
                    c.starts_with("08") || c.starts_with("53") || c.starts_with("57P")
                }) =>
            {
                StoreError::Unavailable(e)
            }
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
