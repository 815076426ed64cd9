//! The HTTP push providers as one closed set (style §2.1): [`Provider`] is the [`Notifier`]
//! of every configured `apns`, `fcm` and `hms` service, and says once what the three share
//! (the token rule by kind, the "credential refused → renew → retry once" send); each struct
//! supplies only its requests and its verdict table ([`Renewable`]).

use async_trait::async_trait;

use super::renew::{send_renewing, Renewable};
use super::{validate, Apns, Fcm, Hms, Notifier, Push, Verdict};
use crate::subscription::DeviceToken;

/// One configured HTTP provider.
pub enum Provider {
    /// Apple Push Notification service (PROTOCOL §11.1).
    Apns(Apns),
    /// Firebase Cloud Messaging (§11.2).
    Fcm(Fcm),
    /// Huawei Push Kit (§11.3).
    Hms(Hms),
}

impl Provider {
    fn renewable(&self) -> &dyn Renewable {
        match self {
            Provider::Apns(apns) => apns,
            Provider::Fcm(fcm) => fcm,
            Provider::Hms(hms) => hms,
        }
    }
}

#[async_trait]
impl Notifier for Provider {
    fn kind(&self) -> &'static str {
        match self {
            Provider::Apns(_) => "apns",
            Provider::Fcm(_) => "fcm",
            Provider::Hms(_) => "hms",
        }
    }

    fn validate(&self, token: &str) -> Result<DeviceToken, String> {
        let service = self.renewable().service();
        match self {
            Provider::Apns(_) => validate::apns(service, token),
            Provider::Fcm(_) | Provider::Hms(_) => validate::non_empty(service, token),
        }
    }

    async fn send(&self, push: &Push) -> Verdict {
        match self {
            // FCM first checks whether a wrong project stopped the service (halt.rs).
            Provider::Fcm(fcm) => fcm.send(push).await,
            // PROTOCOL §11.1 (a refused JWT), §11.3 (80200003): renew, retry once, then drop.
            Provider::Apns(_) | Provider::Hms(_) => send_renewing(self.renewable(), push).await,
        }
    }
}
