//! Push providers: one file per provider (apns, fcm, hms, log): token validation, sending,
//! retries and token-invalid verdicts.
//!
//! **Owns:** PROTOCOL §11 (provider requests and verdicts) and §12 (token validation).
//! **Must not:** decide what to delete: it returns verdicts, `delivery` acts on them.
//!
//! [`build_services`] turns the `[[services]]` tables into [`Services`] at startup, one
//! [`Provider`] (`provider.rs`) per HTTP service; each provider (`apns/`, `fcm/`, `hms.rs`)
//! builds its pooled HTTP/2 client in `http.rs` and, for OAuth providers, caches its access
//! token in `oauth.rs`. `delivery` calls only [`Notifier::send`] and acts on the [`Verdict`].

mod apns;
mod error;
mod fcm;
mod halt;
mod hms;
mod http;
mod oauth;
mod provider;
mod registry;
mod renew;

mod log;
pub mod validate;

pub use log::LogNotifier;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::subscription::DeviceToken;

pub use apns::Apns;
pub use error::NotifyError;
pub use fcm::Fcm;
pub use hms::Hms;
pub use provider::Provider;
pub use registry::build_services;

/// A configured push service: validates tokens for `/subscribe` and sends pushes.
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// Provider kind (`apns`, `fcm`, `hms`, `log`), a metric label.
    fn kind(&self) -> &'static str;

    /// Checks `service_info.token` by the kind's rules (PROTOCOL §12) and returns the svcid.
    /// The error is the spec's code-4 message (code 1 for a missing token is decided by the caller).
    fn validate(&self, token: &str) -> Result<DeviceToken, String>;

    /// Sends one push and classifies the outcome.
    async fn send(&self, push: &Push) -> Verdict;
}

/// The services clients may name: service name → its notifier.
#[derive(Default, Clone)]
pub struct Services {
    by_name: HashMap<Arc<str>, Arc<dyn Notifier>>,
}

impl Services {
    /// An empty set (every subscribe answers error 2).
    pub fn new() -> Self {
        Services::default()
    }

    /// Adds (or replaces) a service.
    pub fn insert(&mut self, name: &str, notifier: Arc<dyn Notifier>) {
        self.by_name.insert(Arc::from(name), notifier);
    }

    /// The notifier of a service by name, with the interned name.
    pub fn get(&self, name: &str) -> Option<(&Arc<str>, &Arc<dyn Notifier>)> {
        self.by_name.get_key_value(name)
    }

    /// Every configured service.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<dyn Notifier>)> {
        self.by_name.iter()
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
    /// reason points at the relay's configuration (DeviceTokenNotForTopic…),
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

impl Verdict {
    /// The token is dead (`config_reason` as in [`Verdict::TokenInvalid`]).
    pub fn invalid(reason: &'static str, config_reason: bool) -> Self {
        Verdict::TokenInvalid {
            reason,
            config_reason,
        }
    }

    /// Try again later, not before `after` when the provider said so.
    pub fn retry(reason: &'static str, after: Option<std::time::Duration>) -> Self {
        Verdict::Retry { reason, after }
    }

    /// Give up on this push without deleting anything, and alert the operator.
    pub fn drop_alert(reason: &'static str) -> Self {
        Verdict::Drop {
            reason,
            alert: true,
        }
    }
}
