//! Firebase Cloud Messaging HTTP v1 (PROTOCOL §11.2): a service-account OAuth token and
//! `messages:send` with the data-only body and the Android priority rule.

mod account;
mod verdict;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::halt::Halt;
use super::http::{self, Reply};
use super::oauth::{self, Bearer, SendEndpoint};
use super::renew::{send_renewing, Answer, Renewable};
use super::{NotifyError, Push, Verdict};
use crate::config::{FcmConfig, FcmPriority};

pub(crate) use account::ServiceAccount;
pub(crate) use verdict::{verdict, SENDER_ID_MISMATCH};

const DEFAULT_ENDPOINT: &str = "https://fcm.googleapis.com";
/// The JWT bearer grant type, sent form-encoded.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// One FCM service.
pub struct Fcm {
    send: SendEndpoint,
    account: ServiceAccount,
    priority: FcmPriority,
    /// Stopped after `SENDER_ID_MISMATCH` (wrong project).
    halt: Halt,
}

impl Fcm {
    /// Builds the service, reading the service-account key file once.
    pub fn new(config: &FcmConfig) -> Result<Self, NotifyError> {
        let service = config.name.as_str();
        if config.service_account_file.as_os_str().is_empty() {
            return Err(NotifyError::MissingSetting {
                service: service.to_owned(),
                key: "service_account_file",
            });
        }
        let path = &config.service_account_file;
        let json = http::read_file(service, path)?;
        let account =
            ServiceAccount::from_json(&json).map_err(|source| NotifyError::InvalidFile {
                service: service.to_owned(),
                path: path.clone(),
                what: "service-account JSON key",
                source,
            })?;
        let project = if config.project_id.is_empty() {
            account.project_id.clone()
        } else {
            config.project_id.clone()
        };
        if project.is_empty() {
            return Err(NotifyError::MissingSetting {
                service: service.to_owned(),
                key: "project_id",
            });
        }
        let base = http::base_url(service, "endpoint", &config.endpoint, DEFAULT_ENDPOINT)?;
        let send = SendEndpoint::new(
            service,
            format!("{base}/v1/projects/{project}/messages:send"),
            &config.ca_file,
            Duration::from_secs(config.request_timeout_secs),
        )?;
        Ok(Fcm {
            send,
            account,
            priority: config.priority,
            halt: Halt::new(service),
        })
    }

    /// A new access token for a signed assertion (the JWT bearer grant).
    async fn exchange(&self, now: i64) -> Result<Bearer, Verdict> {
        let send = &self.send;
        let assertion = self.account.assertion(now).map_err(|e| {
            tracing::error!(service = %send.service, error = %e, "cannot sign the OAuth assertion");
            Verdict::drop_alert("jwt_signing")
        })?;
        let form = [
            ("grant_type", GRANT_TYPE),
            ("assertion", assertion.as_str()),
        ];
        oauth::exchange(&send.client, &send.service, &self.account.token_uri, &form).await
    }
}

// === impl Renewable for Fcm ===

#[async_trait]
impl Renewable for Fcm {
    fn service(&self) -> &str {
        &self.send.service
    }

    async fn attempt(&self, push: &Push) -> (Answer, Option<Arc<str>>) {
        let now = crate::clock::unix_now();
        let body = body(push, self.priority);
        let table = |r: &Reply| verdict(r.status, &r.body, r.retry_after);
        self.send
            .attempt(now, self.exchange(now), &body, table)
            .await
    }

    async fn renew(&self, rejected: &str) {
        self.send.token.renew(rejected).await;
    }
}

/// `android.priority` (PROTOCOL §11.2): by default `high` iff the payload carries the message
/// data and the namespace is 0 (DMs) or 11 (group messages).
fn priority(push: &Push, rule: FcmPriority) -> &'static str {
    let high = match rule {
        FcmPriority::Auto => push.has_data && matches!(push.namespace, 0 | 11),
        FcmPriority::High => true,
        FcmPriority::Normal => false,
    };
    if high {
        "high"
    } else {
        "normal"
    }
}

/// The `messages:send` body; every `data` value is a string.
fn body(push: &Push, rule: FcmPriority) -> serde_json::Value {
    serde_json::json!({
        "message": {
            "token": push.token.expose(),
            "data": {"enc_payload": push.enc_payload, "spns": "1"},
            "android": {"priority": priority(push, rule)},
        }
    })
}

impl Fcm {
    /// Sends one push: nothing while the service is stopped by a wrong project (halt.rs).
    pub(crate) async fn send(&self, push: &Push) -> Verdict {
        if let Some(stopped) = self.halt.check(SENDER_ID_MISMATCH) {
            return stopped;
        }
        // PROTOCOL §11.2: 401/UNAUTHENTICATED → refresh the token, retry once, then drop.
        let verdict = send_renewing(self, push).await;
        self.halt.record(&verdict, SENDER_ID_MISMATCH);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscription::DeviceToken;

    fn push(has_data: bool, namespace: i16) -> Push {
        Push {
            service: "firebase".into(),
            token: DeviceToken::new("t".repeat(40)),
            enc_payload: "AAAA".into(),
            has_data,
            namespace,
        }
    }

    #[test]
    fn auto_priority_is_high_only_for_data_in_namespaces_0_and_11() {
        assert_eq!(priority(&push(true, 0), FcmPriority::Auto), "high");
        assert_eq!(priority(&push(true, 11), FcmPriority::Auto), "high");
        assert_eq!(priority(&push(true, 12), FcmPriority::Auto), "normal");
        assert_eq!(priority(&push(true, -11), FcmPriority::Auto), "normal");
        assert_eq!(priority(&push(false, 0), FcmPriority::Auto), "normal");
        assert_eq!(priority(&push(false, 12), FcmPriority::High), "high");
        assert_eq!(priority(&push(true, 0), FcmPriority::Normal), "normal");
    }

    #[test]
    fn body_matches_the_vector() {
        let vectors = crate::test_support::payload();
        let expected = &vectors["provider_bodies"]["fcm"];
        let msg = &expected["message"];
        let push = Push {
            service: "firebase".into(),
            token: DeviceToken::new(msg["token"].as_str().unwrap()),
            enc_payload: msg["data"]["enc_payload"].as_str().unwrap().into(),
            has_data: true,
            namespace: 0,
        };
        assert_eq!(&body(&push, FcmPriority::Auto), expected);
    }
}
