//! The mass-invalidation breaker (PROTOCOL §11 common rules).
//!
//! A wrong topic, key or project makes every token look invalid. When more than `threshold`
//! of one service's sends in a sliding window come back token-invalid with a reason that
//! points at configuration, nothing is deleted for that service until the share falls again.
//!
//! So that the first copies of such a burst are not deleted before the window holds enough
//! sends to judge, configuration-reason invalids are held (bounded) until either the window
//! has `min_sample` sends or they are one window old, and then deleted or discarded by the
//! share at that moment. Plain invalids (Unregistered, 410) are deleted at once unless open.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::admin::metrics as names;
use tokio::time::Instant;

/// Sliding window over which the share is computed.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Sends needed in the window before the breaker may open.
pub const MIN_SAMPLE: u32 = 20;
/// Buckets the window is split into.
const BUCKETS: u32 = 12;
/// Configuration-reason invalids held at most while the sample is too small.
const PENDING_CAP: usize = 1_000;

/// One send's outcome as the breaker sees it.
pub enum Sample<T> {
    /// Delivered, retried or dropped: counts towards the sample only.
    Other,
    /// Token invalid: `item` (what to delete) and whether the reason points at configuration.
    Invalid {
        /// What the caller deletes if the breaker allows it.
        item: T,
        /// DeviceTokenNotForTopic, SENDER_ID_MISMATCH, …
        config_reason: bool,
    },
}

#[derive(Clone, Copy)]
struct Bucket {
    start: Instant,
    sends: u32,
    config_invalid: u32,
}

/// Per-service breaker state; `T` is what a deletion needs (a token and its reason).
pub struct Breaker<T> {
    service: Arc<str>,
    threshold: f64,
    buckets: VecDeque<Bucket>,
    open: bool,
    pending: Vec<(Instant, T)>,
}

impl<T> Breaker<T> {
    /// A closed breaker for `service` opening above `threshold` (0.0–1.0).
    pub fn new(service: Arc<str>, threshold: f64) -> Self {
        metrics::gauge!(names::BREAKER_OPEN, "service" => service.clone()).set(0.0);
        Breaker {
            service,
            threshold,
            buckets: VecDeque::new(),
            open: false,
            pending: Vec::new(),
        }
    }

    /// Whether deletions are currently suspended.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Records one send and returns the items to delete now (possibly earlier held ones).
    pub fn record(&mut self, now: Instant, sample: Sample<T>) -> Vec<T> {
        let config_invalid = matches!(
            sample,
            Sample::Invalid {
                config_reason: true,
                ..
            }
        );
        self.add(now, config_invalid);
        let (sends, bad) = self.totals();
        let share = f64::from(bad) / f64::from(sends.max(1));
        self.set_open(sends >= MIN_SAMPLE && share > self.threshold, share);

        let mut delete = Vec::new();
        if let Sample::Invalid {
            item,
            config_reason,
        } = sample
        {
            if self.open {
                // Kept: the breaker is open.
            } else if !config_reason || sends >= MIN_SAMPLE {
                delete.push(item);
            } else if self.pending.len() < PENDING_CAP {
                self.pending.push((now, item));
            }
        }
        if self.open {
            self.pending.clear();
        } else {
            let share_ok = share <= self.threshold;
            let enough = sends >= MIN_SAMPLE;
            let mut held = Vec::new();
            for (at, item) in self.pending.drain(..) {
                if enough || (now.duration_since(at) >= WINDOW && share_ok) {
                    delete.push(item);
                } else if now.duration_since(at) < WINDOW {
                    held.push((at, item));
                }
            }
            self.pending = held;
        }
        delete
    }

    fn add(&mut self, now: Instant, config_invalid: bool) {
        while self
            .buckets
            .front()
            .is_some_and(|b| now.duration_since(b.start) >= WINDOW)
        {
            self.buckets.pop_front();
        }
        let width = WINDOW / BUCKETS;
        match self.buckets.back_mut() {
            Some(b) if now.duration_since(b.start) < width => {
                b.sends += 1;
                b.config_invalid += u32::from(config_invalid);
            }
            _ => self.buckets.push_back(Bucket {
                start: now,
                sends: 1,
                config_invalid: u32::from(config_invalid),
            }),
        }
    }

    fn totals(&self) -> (u32, u32) {
        self.buckets
            .iter()
            .fold((0, 0), |(s, b), k| (s + k.sends, b + k.config_invalid))
    }

    fn set_open(&mut self, open: bool, share: f64) {
        if open == self.open {
            return;
        }
        self.open = open;
        let service = &self.service;
        if open {
            tracing::error!(
                service = %service,
                share = format_args!("{:.0}%", share * 100.0),
                "mass token invalidation: deletions suspended; check the service's topic, key or project"
            );
        } else {
            tracing::info!(service = %service, "token invalidation back to normal: deletions resumed");
        }
        metrics::gauge!(names::BREAKER_OPEN, "service" => service.clone()).set(if open {
            1.0
        } else {
            0.0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(i: u32, config_reason: bool) -> Sample<u32> {
        Sample::Invalid {
            item: i,
            config_reason,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_config_invalids_opens_and_deletes_nothing() {
        let mut b = Breaker::new(Arc::from("apns"), 0.2);
        let mut deleted = Vec::new();
        for i in 0..100 {
            deleted.extend(b.record(Instant::now(), invalid(i, true)));
        }
        assert!(b.is_open());
        assert!(deleted.is_empty(), "{deleted:?}");
        // Even plain invalids are kept while open.
        assert!(b.record(Instant::now(), invalid(1000, false)).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn closes_when_the_share_falls() {
        let mut b = Breaker::new(Arc::from("apns"), 0.2);
        for i in 0..30 {
            b.record(Instant::now(), invalid(i, true));
        }
        assert!(b.is_open());
        tokio::time::advance(WINDOW).await;
        for _ in 0..30 {
            b.record(Instant::now(), Sample::Other);
        }
        assert!(!b.is_open());
        assert_eq!(b.record(Instant::now(), invalid(7, false)), [7]);
    }

    #[tokio::test(start_paused = true)]
    async fn plain_invalids_are_deleted_at_once() {
        let mut b = Breaker::new(Arc::from("fcm"), 0.2);
        assert_eq!(b.record(Instant::now(), invalid(1, false)), [1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_config_invalid_is_held_then_deleted_in_healthy_traffic() {
        let mut b = Breaker::new(Arc::from("apns"), 0.2);
        assert!(
            b.record(Instant::now(), invalid(1, true)).is_empty(),
            "held"
        );
        let mut deleted = Vec::new();
        for _ in 0..19 {
            deleted.extend(b.record(Instant::now(), Sample::Other));
        }
        assert_eq!(deleted, [1], "released once the sample is large enough");
        assert!(!b.is_open());
    }

    #[tokio::test(start_paused = true)]
    async fn held_items_are_judged_after_a_window_on_low_traffic() {
        let mut b = Breaker::new(Arc::from("apns"), 0.2);
        assert!(b.record(Instant::now(), invalid(1, true)).is_empty());
        for _ in 0..5 {
            b.record(Instant::now(), Sample::Other);
        }
        tokio::time::advance(WINDOW).await;
        // The old bucket left the window; one healthy send now: share 0, item one window old.
        assert_eq!(b.record(Instant::now(), Sample::Other), [1]);
    }
}
