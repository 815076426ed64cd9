use crate::crypto::CryptoError;
use crate::notifier::NotifyError;
use crate::store::spns::SpnsError;
use crate::store::StoreError;

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The upstream database: a bad URL, unreachable, not its schema, or a failed read.
    #[error("upstream: {0}")]
    Upstream(#[from] SpnsError),
    /// The relay's `storage.key` (needed to seal what is written).
    #[error("keys: {0}")]
    Keys(#[from] CryptoError),
    /// A configured service cannot be set up (its credentials).
    #[error("services: {0}")]
    Services(#[from] NotifyError),
    /// The relay's own store.
    #[error("relay database: {0}")]
    Store(#[from] StoreError),
}

impl ImportError {
    /// The exit code: 2 for what the operator must fix before anything is read (the URL, the
    /// upstream database or its schema, the key file, the services), 1 for a failure mid-way
    /// (re-running is safe: the import is idempotent).
    pub fn exit_code(&self) -> u8 {
        match self {
            ImportError::Upstream(SpnsError::Db(_)) | ImportError::Store(_) => 1,
            ImportError::Upstream(_) | ImportError::Keys(_) | ImportError::Services(_) => 2,
        }
    }
}
