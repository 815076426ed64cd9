//! The Postgres backend (production). Runtime `sqlx::query`, migrations from
//! `migrations/postgres`, statements from `sql.rs`.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{Sealer, StoreError};

/// How long a query waits for a pooled connection before the store reports
/// [`StoreError::Unavailable`] (a dead or saturated database).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Subscriptions in Postgres.
pub struct PgStore {
    pool: PgPool,
    sealer: Sealer,
}

impl PgStore {
    /// Connects (at most `max` connections) and runs the migrations.
    pub async fn connect(url: &str, max: u32, sealer: Sealer) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        // sqlx takes an advisory lock, so replicas starting together migrate once.
        migrate(&pool, &sealer).await?;
        Ok(PgStore { pool, sealer })
    }
}

super::rekey::rekey!(PgPool, "../../migrations/postgres");

super::queries::sql_store!(PgStore, Some(super::sql::PG_CHANGE_CLOCK));
