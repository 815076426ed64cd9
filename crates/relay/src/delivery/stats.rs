//! Cheap running totals of one [`super::Delivery`], beside the Prometheus metrics.
//!
//! Not what `/stats` or `/metrics` serve (those read the process-wide recorder): these are the
//! totals of one `Delivery` instance, which tests of the delivery harness await and assert on
//! (the recorder is shared by every test in a process). Nothing here needs wiring: `/stats`
//! already reports the same outcomes from the recorder (`admin/stats.rs`: `pushes`,
//! `notifications`, `dedup_dropped`, `pushes_by_result`, `tokens_removed`). TODO(operator):
//! give the harness a "dispatcher has taken every notification" signal (the one wait no metric
//! can replace), assert on the per-service recorder series instead, then remove this and its
//! `bump`s in `dispatch.rs`/`lane.rs` (issue 11, "Metric names").

use std::sync::atomic::{AtomicU64, Ordering};

/// Totals since start; shared as `Arc<DeliveryStats>` from [`super::Delivery::stats`].
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// Notifications taken from the swarm side (upstream `notifications`).
    pub notifications: AtomicU64,
    /// Per-device copies suppressed by de-duplication.
    pub duplicates: AtomicU64,
    /// Pushes accepted by a provider (upstream `pushes`).
    pub pushes_delivered: AtomicU64,
    /// Pushes given up after retries (or cut short by shutdown).
    pub pushes_failed: AtomicU64,
    /// Pushes dropped: full queue, unconfigured service, or a provider's drop verdict.
    pub pushes_dropped: AtomicU64,
    /// Push attempts that came back token-invalid.
    pub tokens_invalid: AtomicU64,
    /// Device tokens deleted from the store.
    pub tokens_removed: AtomicU64,
}

/// A plain copy of [`DeliveryStats`] for serialising.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// See [`DeliveryStats::notifications`].
    pub notifications: u64,
    /// See [`DeliveryStats::duplicates`].
    pub duplicates: u64,
    /// See [`DeliveryStats::pushes_delivered`].
    pub pushes_delivered: u64,
    /// See [`DeliveryStats::pushes_failed`].
    pub pushes_failed: u64,
    /// See [`DeliveryStats::pushes_dropped`].
    pub pushes_dropped: u64,
    /// See [`DeliveryStats::tokens_invalid`].
    pub tokens_invalid: u64,
    /// See [`DeliveryStats::tokens_removed`].
    pub tokens_removed: u64,
}

impl DeliveryStats {
    /// The current totals.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            notifications: get(&self.notifications),
            duplicates: get(&self.duplicates),
            pushes_delivered: get(&self.pushes_delivered),
            pushes_failed: get(&self.pushes_failed),
            pushes_dropped: get(&self.pushes_dropped),
            tokens_invalid: get(&self.tokens_invalid),
            tokens_removed: get(&self.tokens_removed),
        }
    }
}

/// Adds one to a counter.
pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
