//! What `subscription` needs of the configured push services (steps 3 and 6 of PROTOCOL §2.4),
//! as a trait the caller passes in: `notifier::Services` implements it, so this pure module never
//! imports the provider registry.

use std::sync::Arc;

use super::DeviceToken;

/// The services a request may name, and each one's device-token rule (§12).
pub trait ServiceCatalog {
    /// The configured name equal to `name` (shared by every subscription of that service), or
    /// `None` when no service has that name (step 3).
    fn service(&self, name: &str) -> Option<Arc<str>>;

    /// Checks `token` by the rules of `service`, a name [`ServiceCatalog::service`] accepted
    /// (step 6); the error is the spec's code-4 message.
    fn validate_token(&self, service: &str, token: &str) -> Result<DeviceToken, String>;
}
