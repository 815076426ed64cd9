//! `notify.message` intake (PROTOCOL §8.4): strict parse, then a bounded hand-off to delivery.
//! Runs on the OxenMQ proxy thread, so it never blocks: a full queue drops and counts.

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::message::parse_notify;
use super::Notification;
use crate::admin::metrics as names;

/// Turns storage-server commands into [`Notification`]s for delivery.
pub(crate) struct Intake {
    delivery: mpsc::Sender<Notification>,
}

impl Intake {
    pub fn new(delivery: mpsc::Sender<Notification>) -> Self {
        Intake { delivery }
    }

    /// Handles one command from a storage server (any connected node is accepted, §8.4).
    pub fn on_command(&self, name: &str, parts: Vec<Vec<u8>>) {
        if name != "notify.message" {
            tracing::debug!(command = %name, "ignored storage server command");
            return;
        }
        let notification = match parse_notify(&parts, Instant::now()) {
            Ok(n) => n,
            Err(e) => {
                metrics::counter!(names::SWARM_NOTIFICATIONS_DROPPED, "reason" => "malformed")
                    .increment(1);
                tracing::debug!(error = %e, "notify.message dropped");
                return;
            }
        };
        metrics::counter!(names::SWARM_NOTIFICATIONS).increment(1);
        if let Err(mpsc::error::TrySendError::Full(_)) = self.delivery.try_send(notification) {
            metrics::counter!(names::SWARM_NOTIFICATIONS_DROPPED, "reason" => "queue_full")
                .increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(ns: &str) -> Vec<Vec<u8>> {
        let mut b = b"d1:@33:".to_vec();
        b.extend_from_slice(&[5; 33]);
        b.extend_from_slice(b"1:h32:");
        b.extend_from_slice(&[b'h'; 32]);
        b.extend_from_slice(format!("1:n{ns}1:ti1e1:zi2ee").as_bytes());
        vec![b]
    }

    #[tokio::test]
    async fn valid_forwarded_malformed_and_overflow_dropped() {
        let (tx, mut rx) = mpsc::channel(1);
        let intake = Intake::new(tx);
        intake.on_command("notify.message", body("i3e"));
        intake.on_command("notify.message", body("2:xx")); // malformed
        intake.on_command("notify.message", body("i4e")); // queue full
        intake.on_command("other.thing", body("i5e"));
        assert_eq!(rx.recv().await.unwrap().namespace, 3);
        assert!(rx.try_recv().is_err());
    }
}
