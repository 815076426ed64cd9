//! Push providers: one file per provider (apns, fcm, hms, log): token validation, sending,
//! retries and token-invalid verdicts.
//!
//! **Owns:** PROTOCOL §11 (provider requests and verdicts) and §12 (token validation).
//! **Must not:** decide what to delete: it returns verdicts, `delivery` acts on them.

use crate::config::ServiceConfig;

/// The services clients may name, as configured.
#[derive(Debug, Default)]
pub struct Services {
    services: Vec<ServiceConfig>,
}

impl Services {
    /// From the `[[services]]` tables.
    pub fn new(services: Vec<ServiceConfig>) -> Self {
        Services { services }
    }

    /// The configuration of a service by name.
    pub fn get(&self, name: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.name() == name)
    }

    /// Every configured service.
    pub fn all(&self) -> &[ServiceConfig] {
        &self.services
    }
}
