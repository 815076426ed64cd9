//! The `log` kind: accepts tokens under the FCM rules, sends nothing, records each push
//! (PROTOCOL §11.4). Used by devnet and tests, which watch pushes through [`LogNotifier::watch`].

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{validate, Notifier, Push, Verdict};
use crate::admin::metrics as names;
use crate::subscription::DeviceToken;

/// Pushes kept for slow watchers; a watcher that falls further behind sees `Lagged`.
const RECENT_PUSHES: usize = 1024;

/// A notifier that records pushes instead of sending them.
pub struct LogNotifier {
    service: Arc<str>,
    pushes: broadcast::Sender<Push>,
}

impl LogNotifier {
    /// A log notifier for the service named `service`.
    pub fn new(service: &str) -> Self {
        let (pushes, _) = broadcast::channel(RECENT_PUSHES);
        LogNotifier {
            service: Arc::from(service),
            pushes,
        }
    }

    /// Every push sent from now on.
    pub fn watch(&self) -> broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }
}

#[async_trait]
impl Notifier for LogNotifier {
    fn kind(&self) -> &'static str {
        "log"
    }

    fn validate(&self, token: &str) -> Result<DeviceToken, String> {
        validate::non_empty(&self.service, token)
    }

    async fn send(&self, push: &Push) -> Verdict {
        tracing::info!(
            service = %push.service,
            token = %push.token,
            payload_bytes = push.enc_payload.len(),
            namespace = push.namespace,
            "push recorded"
        );
        metrics::counter!(
            names::PUSH_TOTAL,
            "service" => push.service.to_string(),
            "result" => "delivered"
        )
        .increment(1);
        // No watcher is not an error: the push is still recorded in the log.
        let _ = self.pushes.send(push.clone());
        Verdict::Delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_and_delivers() {
        let notifier = LogNotifier::new("dummy");
        let mut watch = notifier.watch();
        let token = notifier.validate(&"t".repeat(40)).unwrap();
        let push = Push {
            service: Arc::from("dummy"),
            token,
            enc_payload: "AAAA".into(),
            has_data: true,
            namespace: 0,
        };
        assert_eq!(notifier.send(&push).await, Verdict::Delivered);
        let seen = watch.recv().await.unwrap();
        assert_eq!(seen.token.expose(), "t".repeat(40));
        assert_eq!(seen.enc_payload, "AAAA");
    }

    #[test]
    fn validates_by_the_fcm_rules() {
        let notifier = LogNotifier::new("dummy");
        assert_eq!(
            notifier.validate("").unwrap_err(),
            "Invalid dummy device token"
        );
        assert!(notifier.validate("short").is_err());
        assert_eq!(notifier.kind(), "log");
    }
}
