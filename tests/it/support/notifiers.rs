//! Notifiers for API tests: the real token rules of each kind, no sending.

use async_trait::async_trait;
use relay::notifier::{validate, Notifier, Push, Verdict};
use relay::subscription::DeviceToken;

/// Validates like an APNs service named `apns`; never sends.
pub struct ApnsRules;

#[async_trait]
impl Notifier for ApnsRules {
    fn kind(&self) -> &'static str {
        "apns"
    }

    fn validate(&self, token: &str) -> Result<DeviceToken, String> {
        validate::apns("apns", token)
    }

    async fn send(&self, _push: &Push) -> Verdict {
        Verdict::Drop {
            reason: "test notifier",
            alert: false,
        }
    }
}

/// Validates like an FCM service named `firebase`; never sends.
pub struct FcmRules;

#[async_trait]
impl Notifier for FcmRules {
    fn kind(&self) -> &'static str {
        "fcm"
    }

    fn validate(&self, token: &str) -> Result<DeviceToken, String> {
        validate::non_empty("firebase", token)
    }

    async fn send(&self, _push: &Push) -> Verdict {
        Verdict::Drop {
            reason: "test notifier",
            alert: false,
        }
    }
}
