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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    /// A database error carrying only a SQLSTATE, as Postgres reports one.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl std::fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Sqlstate {}

    impl sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            "test"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn from_sqlstate(code: &'static str) -> StoreError {
        StoreError::from(sqlx::Error::Database(Box::new(Sqlstate(code))))
    }

    #[test]
    fn unavailable_sqlstates_are_timeouts_and_the_rest_internal() {
        for code in [
            "08000", // connection_exception
            "08006", // connection_failure
            "08001", // sqlclient_unable_to_establish_sqlconnection
            "53300", // too_many_connections
            "53100", // disk_full
            "57P01", // admin_shutdown (the server is stopping, or the backend was terminated)
            "57P03", // cannot_connect_now (starting up, or in recovery)
        ] {
            assert!(from_sqlstate(code).is_timeout(), "{code} is unavailable");
        }
        for code in [
            "23505", // unique_violation
            "42P01", // undefined_table
            "22001", // string_data_right_truncation
            "57014", // query_canceled: a statement timeout, not an outage
        ] {
            let err = from_sqlstate(code);
            assert!(matches!(err, StoreError::Db(_)), "{code}: {err:?}");
        }
    }

    #[test]
    fn transport_failures_are_timeouts() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(reset),
        ] {
            assert!(StoreError::from(err).is_timeout());
        }
        assert!(!StoreError::from(sqlx::Error::RowNotFound).is_timeout());
    }
}
