//! The catch-up poll: rows another process wrote into the store (`import-spns`, an operator's
//! script, another replica) reach the subscriber index and the swarm monitor without a restart.
//!
//! The API tells [`Changes`] of its own writes at once; this task finds the rest by polling
//! [`Store::changed_since`] every `[database] changes_poll_secs` (default 30 s, so an import is
//! served within a minute).
//!
//! Where a poll starts: a row is stamped before it commits, so a row committed late can carry a
//! stamp older than rows already read. No commit lags its stamp by more than [`OVERLAP_SECS`],
//! so once a poll has read the store's clock (`D`, [`Store::change_clock`]) and then every row
//! from its start, every row it did not see carries a stamp after `D − OVERLAP_SECS`: the next
//! poll starts there. Rows seen again (at most those of one overlap), and rows the relay wrote
//! itself, are identical to what the index holds and are skipped ([`Index::change_for`]).
//! An idle relay reads nothing: starting from the newest row seen instead re-read the last
//! burst of writes every poll, forever (a 2,000-node benchmark's whole preload, every 30 s).
//!
//! Memory: rows are streamed one at a time; nothing but where to start is kept between polls.

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

/// How long one poll may take (a stuck database must not stop catching up for good).
const POLL_TIMEOUT: Duration = Duration::from_secs(60);

/// Polls the store for rows written by others and feeds them to the index's observers.
pub struct CatchUp {
    store: Arc<dyn Store>,
    index: Arc<Index>,
    /// The same observers the API tells (the index first, then the swarm monitor).
    changes: Arc<dyn Changes>,
    interval: Duration,
    clock: Clock,
    /// The `changed_at` the next poll reads from; `None` until known (at the first tick).
    since: Option<i64>,
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
            since: None,
        }
    }

    /// Starts polling from `watermark` (a [`Store::last_change`] value).
    pub fn start_at(mut self, watermark: i64) -> Self {
        self.since = Some(watermark.saturating_sub(OVERLAP_SECS));
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
                poll = tokio::time::timeout(POLL_TIMEOUT, self.poll()) => poll,
            };
            // A failed or timed-out poll leaves where to start unchanged: the next one reads
            // the same rows again.
            match poll {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => debug!(rows = n, "caught up on subscriptions written elsewhere"),
                Ok(Err(e)) => warn!(error = %e, "catch-up poll failed; retrying next tick"),
                Err(_) => warn!(
                    timeout_secs = POLL_TIMEOUT.as_secs(),
                    "catch-up poll timed out; retrying next tick"
                ),
            }
        }
    }

    /// One poll: returns how many rows changed what the index held.
    pub async fn poll(&mut self) -> Result<usize, crate::store::StoreError> {
        let since = match self.since {
            Some(since) => since,
            None => {
                let newest = self.store.last_change().await?;
                self.since = Some(newest.saturating_sub(OVERLAP_SECS));
                return Ok(0);
            }
        };
        let now = self.clock.now();
        // Read before the rows: whatever this poll misses commits later, so it is stamped
        // after this, less the overlap.
        let store_now = self.store.change_clock(now).await?;
        let mut applied = 0;
        let mut rows = self.store.changed_since(since, now);
        while let Some(row) = rows.next().await {
            let (sub, _changed_at) = row?;
            if let Some(outcome) = self.index.change_for(&sub) {
                self.changes.subscribed(&sub, outcome);
                applied += 1;
            }
        }
        self.since = Some(since.max(store_now.saturating_sub(OVERLAP_SECS)));
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::tests_support::subscription;
    use crate::store::Upsert;
    use crate::test_support::FakeStore;
    use std::sync::Mutex;

    #[tokio::test]
    async fn new_rows_reach_the_index_once_and_polls_start_an_overlap_before_the_store_clock() {
        let own = subscription(1, "apns", "t1", &[0]);
        let imported = subscription(2, "firebase", "t2", &[0, 1]);
        let late = subscription(3, "apns", "t3", &[0]);
        let store = Arc::new(FakeStore {
            changed: Mutex::new(vec![(own.clone(), 95), (imported.clone(), 120)]),
            last_change: 100,
            ..FakeStore::default()
        });
        let index = Arc::new(Index::new());
        // The relay wrote `own` itself and told the index then.
        index.subscribed(&own, Upsert::Added);
        // The store's clock (the FakeStore's is the local one) reads 140 at every poll.
        let mut catch_up = CatchUp::new(
            store.clone(),
            index.clone(),
            index.clone(),
            Duration::from_secs(1),
            Clock::fixed(140),
        );
        assert_eq!(
            catch_up.poll().await.unwrap(),
            0,
            "first poll reads where to start"
        );
        assert_eq!(
            catch_up.poll().await.unwrap(),
            1,
            "only the imported row is new"
        );
        assert_eq!(index.change_for(&imported), None);
        assert_eq!(index.len(), 2);
        // A row stamped before the newest one seen, committed only now: inside the overlap.
        store.changed.lock().unwrap().push((late.clone(), 131));
        assert_eq!(
            catch_up.poll().await.unwrap(),
            1,
            "the late commit is found"
        );
        assert_eq!(index.len(), 3);
        assert_eq!(
            *store.asked.lock().unwrap(),
            vec![100 - OVERLAP_SECS, 140 - OVERLAP_SECS],
            "an idle store is not read again from the newest row, but from its clock"
        );
    }
}
