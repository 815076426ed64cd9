//! The catch-up poll: rows another process wrote into the store (`import-spns`, an operator's
//! script, another replica) reach the subscriber index and the swarm monitor without a restart.
//!
//! The API tells [`Changes`] of its own writes at once; this task finds the rest by polling
//! [`Store::changed_since`] every `[database] changes_poll_secs` (default 30 s, so an import is
//! served within a minute). Each poll re-reads [`OVERLAP_SECS`] before the newest `changed_at`
//! it has seen, so a row committed late (its stamp taken before a newer row's commit) is not
//! missed; rows seen again, and rows the relay wrote itself, are identical to what the index
//! holds and are skipped ([`Index::change_for`]), so they cost a comparison and nothing else.
//!
//! Memory: rows are streamed one at a time; nothing but the watermark is kept between polls.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::Index;
use crate::clock::Clock;
use crate::store::{Changes, Store};

/// How far before the newest `changed_at` seen each poll starts: longer than any single
/// upsert's commit lag (an autocommitted statement), in the store's clock.
pub const OVERLAP_SECS: i64 = 10;

/// Polls the store for rows written by others and feeds them to the index's observers.
pub struct CatchUp {
    store: Arc<dyn Store>,
    index: Arc<Index>,
    /// The same observers the API tells (the index first, then the swarm monitor).
    changes: Arc<dyn Changes>,
    interval: Duration,
    clock: Clock,
    /// The newest `changed_at` seen; `None` until read (at the first tick).
    watermark: Option<i64>,
}

impl CatchUp {
    /// A poll every `interval`. Call [`CatchUp::start_at`] with the store's newest
    /// `changed_at` read *before* the index was loaded, so nothing written in between is lost.
    pub fn new(
        store: Arc<dyn Store>,
        index: Arc<Index>,
        changes: Arc<dyn Changes>,
        interval: Duration,
        clock: Clock,
    ) -> Self {
        CatchUp {
            store,
            index,
            changes,
            interval,
            clock,
            watermark: None,
        }
    }

    /// Starts polling from `watermark` (a [`Store::last_change`] value).
    pub fn start_at(mut self, watermark: i64) -> Self {
        self.watermark = Some(watermark);
        self
    }

    /// Polls until `shutdown` is cancelled; a failed poll is logged and retried next tick.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The first tick fires at once; the index was just loaded, so skip it.
        tick.tick().await;
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let poll = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                poll = self.poll() => poll,
            };
            match poll {
                Ok(0) => {}
                Ok(n) => debug!(rows = n, "caught up on subscriptions written elsewhere"),
                Err(e) => warn!(error = %e, "catch-up poll failed; retrying next tick"),
            }
        }
    }

    /// One poll: returns how many rows changed what the index held.
    pub async fn poll(&mut self) -> Result<usize, crate::store::StoreError> {
        let watermark = match self.watermark {
            Some(w) => w,
            None => {
                let w = self.store.last_change().await?;
                self.watermark = Some(w);
                return Ok(0);
            }
        };
        let since = watermark.saturating_sub(OVERLAP_SECS);
        let mut newest = watermark;
        let mut applied = 0;
        let mut rows = self.store.changed_since(since, self.clock.now());
        while let Some(row) = rows.next().await {
            let (sub, changed_at) = row?;
            newest = newest.max(changed_at);
            if let Some(outcome) = self.index.change_for(&sub) {
                self.changes.subscribed(&sub, outcome);
                applied += 1;
            }
        }
        self.watermark = Some(newest);
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::stream::BoxStream;

    use super::*;
    use crate::delivery::tests_support::subscription;
    use crate::store::{StoreError, Upsert};
    use crate::subscription::{AccountId, DeviceToken, Subscription, SubscriptionKey};

    /// Answers `changed_since` from a list of (row, changed_at); records each `since`.
    struct Rows {
        rows: Vec<(Subscription, i64)>,
        asked: Mutex<Vec<i64>>,
    }

    #[async_trait::async_trait]
    impl Store for Rows {
        async fn upsert(&self, _: &Subscription, _: i64) -> Result<Upsert, StoreError> {
            unreachable!()
        }
        async fn remove(&self, _: &SubscriptionKey) -> Result<bool, StoreError> {
            unreachable!()
        }
        async fn remove_token(
            &self,
            _: &str,
            _: &DeviceToken,
            _: &[AccountId],
        ) -> Result<Vec<AccountId>, StoreError> {
            unreachable!()
        }
        async fn delete_expired(&self, _: i64) -> Result<Vec<SubscriptionKey>, StoreError> {
            unreachable!()
        }
        fn live(&self, _: i64) -> BoxStream<'_, Result<Subscription, StoreError>> {
            unreachable!()
        }
        fn changed_since(
            &self,
            since: i64,
            _: i64,
        ) -> BoxStream<'_, Result<(Subscription, i64), StoreError>> {
            self.asked.lock().unwrap().push(since);
            let rows: Vec<_> = self
                .rows
                .iter()
                .filter(|(_, at)| *at >= since)
                .cloned()
                .map(Ok)
                .collect();
            futures::stream::iter(rows).boxed()
        }
        async fn last_change(&self) -> Result<i64, StoreError> {
            Ok(100)
        }
        async fn for_account(
            &self,
            _: &AccountId,
            _: i64,
        ) -> Result<Vec<Subscription>, StoreError> {
            unreachable!()
        }
        async fn count_by_service(&self, _: i64) -> Result<Vec<(String, u64)>, StoreError> {
            unreachable!()
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn new_rows_reach_the_index_once_and_the_watermark_moves_with_an_overlap() {
        let own = subscription(1, "apns", "t1", &[0]);
        let imported = subscription(2, "firebase", "t2", &[0, 1]);
        let store = Arc::new(Rows {
            rows: vec![(own.clone(), 95), (imported.clone(), 120)],
            asked: Mutex::new(Vec::new()),
        });
        let index = Arc::new(Index::new());
        // The relay wrote `own` itself and told the index then.
        index.subscribed(&own, Upsert::Added);
        let mut catch_up = CatchUp::new(
            store.clone(),
            index.clone(),
            index.clone(),
            Duration::from_secs(1),
            Clock::fixed(1_700_000_000),
        );
        assert_eq!(
            catch_up.poll().await.unwrap(),
            0,
            "first poll reads the watermark"
        );
        assert_eq!(
            catch_up.poll().await.unwrap(),
            1,
            "only the imported row is new"
        );
        assert_eq!(index.change_for(&imported), None);
        assert_eq!(index.len(), 2);
        assert_eq!(
            catch_up.poll().await.unwrap(),
            0,
            "seen again: nothing to do"
        );
        assert_eq!(
            *store.asked.lock().unwrap(),
            vec![100 - OVERLAP_SECS, 120 - OVERLAP_SECS]
        );
    }
}
