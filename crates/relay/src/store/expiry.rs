//! The periodic cleanup of expired subscriptions (PROTOCOL §2.6: deleted within 60 s of
//! `sig_ts + 14 days`; we run every 30 s like SPNS `db_cleanup`).

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{Changes, Store};

/// How often [`run_expiry`] deletes expired rows.
pub const EXPIRY_INTERVAL: Duration = Duration::from_secs(30);

/// Every [`EXPIRY_INTERVAL`] (first run at once) deletes the subscriptions expired at `clock()`
/// and tells `changes` of each, until `shutdown` is cancelled. A failure is logged and retried
/// at the next tick.
pub async fn run_expiry(
    store: Arc<dyn Store>,
    changes: Arc<dyn Changes>,
    clock: Clock,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(EXPIRY_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match store.delete_expired(clock.now()).await {
            Ok(keys) => {
                for key in &keys {
                    changes.removed(key);
                }
                if !keys.is_empty() {
                    debug!(count = keys.len(), "expired subscriptions deleted");
                }
            }
            Err(e) => warn!(error = %e, "expiry cleanup failed; retrying next tick"),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::*;
    use crate::store::{StoreError, Upsert};
    use crate::subscription::{AccountId, DeviceToken, Subscription, SubscriptionKey};
    use crate::test_support::FakeStore;

    fn key() -> SubscriptionKey {
        SubscriptionKey {
            account: AccountId([5; 33]),
            service: "apns".into(),
            token: DeviceToken::new("ab".repeat(32)),
        }
    }

    struct Removed(mpsc::Sender<SubscriptionKey>);

    impl Changes for Removed {
        fn subscribed(&self, _: &Subscription, _: Upsert) {}
        fn removed(&self, key: &SubscriptionKey) {
            self.0.try_send(key.clone()).unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_after_a_failure_and_reports_each_removed_key() {
        let (now_tx, mut now_rx) = mpsc::channel(8);
        let (removed_tx, mut removed_rx) = mpsc::channel(8);
        // Fails its first `delete_expired`, then returns one key per call.
        let store = Arc::new(FakeStore {
            expiry_now: Some(now_tx),
            expired: |call| match call {
                0 => Err(StoreError::Corrupt("first call fails")),
                _ => Ok(vec![key()]),
            },
            ..FakeStore::default()
        });
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_expiry(
            store,
            Arc::new(Removed(removed_tx)),
            Clock::fixed(1_000),
            shutdown.clone(),
        ));

        let started = tokio::time::Instant::now();
        assert_eq!(now_rx.recv().await, Some(1_000), "first run at once");
        assert_eq!(
            now_rx.recv().await,
            Some(1_000),
            "retried after the failure"
        );
        assert_eq!(
            started.elapsed(),
            EXPIRY_INTERVAL,
            "the retry waited one tick"
        );
        assert_eq!(removed_rx.recv().await, Some(key()));
        assert!(
            removed_rx.try_recv().is_err(),
            "the failed run reported nothing"
        );

        shutdown.cancel();
        task.await.unwrap();
    }
}
