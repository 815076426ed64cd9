//! Placeholder: implemented in the storage work (issue 2).
use super::{Sealer, StoreError};

/// The pg backend.
pub struct PgStore;

impl PgStore {
    /// Connects and runs migrations.
    pub async fn connect(_url: &str, _max: u32, _sealer: Sealer) -> Result<Self, StoreError> {
        Err(StoreError::UnsupportedUrl)
    }
}
