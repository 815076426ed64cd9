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

/// One push, ready for a provider: the device token and the encrypted payload (PROTOCOL §10).
#[derive(Clone, Debug)]
pub struct Push {
    /// Service name (for metrics and logs).
    pub service: std::sync::Arc<str>,
    /// The device token (svcid).
    pub token: crate::subscription::DeviceToken,
    /// `enc_payload`: standard padded base64 of nonce ‖ ciphertext.
    pub enc_payload: String,
    /// Whether the payload includes the message data (FCM priority rule, §11.2).
    pub has_data: bool,
    /// Namespace of the message (FCM priority rule, §11.2).
    pub namespace: i16,
}

/// What a provider said about one send (style §2.2: expected outcomes are values).
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The provider accepted the push.
    Delivered,
    /// The token is dead: delete every subscription with it. `config_reason` is set when the
    /// reason points at the relay's configuration (DeviceTokenNotForTopic, SENDER_ID_MISMATCH…),
    /// which the mass-invalidation breaker watches.
    TokenInvalid {
        /// Provider's reason, from a closed set (metric label).
        reason: &'static str,
        /// Whether the reason may mean misconfiguration rather than a dead token.
        config_reason: bool,
    },
    /// Try again later; `after` from Retry-After when given.
    Retry {
        /// Provider's reason (metric label).
        reason: &'static str,
        /// Minimum wait before the next attempt.
        after: Option<std::time::Duration>,
    },
    /// Give up without deleting; `alert` when an operator should look (bad credentials, topic).
    Drop {
        /// Provider's reason (metric label).
        reason: &'static str,
        /// Whether this deserves an error log.
        alert: bool,
    },
}
