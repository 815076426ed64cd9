//! What requests may hold at once: the buffered-body budget and the processing slots
//! (DESIGN `[api]`; issue 16).
//!
//! A request first buffers its whole body against [`BodyBudget`] (no slot held, so a slow
//! client only ever holds its own bytes), then takes a processing slot with `try_acquire`: a
//! full budget or no free slot answers "retry later" (error 3) at once instead of queueing.
//! Memory bound: at most `max_buffered_body_bytes` of bodies, plus
//! [`MAX_CONCURRENT_REQUESTS`] requests being handled.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::onion;
use super::rate::AccountRate;
use crate::config::ApiConfig;

/// Requests handled at once (after their bodies are read); beyond this a request is answered
/// error 3 at once.
pub const MAX_CONCURRENT_REQUESTS: usize = 512;

/// Answer before the last storage-server hop gives up at 25 s (PROTOCOL §2.1, §13).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The limits one listener's requests share; built once from `[api]`.
#[derive(Debug)]
pub struct Limits {
    /// Body bytes buffered at once, all requests together.
    pub(crate) budget: Arc<BodyBudget>,
    /// Processing slots; a permit is held while a handler runs.
    slots: Arc<Semaphore>,
    /// The handler's deadline once it holds a slot.
    pub(crate) request_timeout: Duration,
    /// The whole body must arrive within this once the header is in.
    pub(crate) body_timeout: Duration,
    /// `[api] max_body_bytes`: JSON routes.
    pub(crate) json_body_limit: usize,
    /// [`onion::body_limit`] of the JSON limit.
    pub(crate) onion_body_limit: usize,
    /// Per-account subscribe/unsubscribe rate.
    pub(crate) accounts: AccountRate,
}

impl Limits {
    /// The limits of `[api]`.
    pub fn new(api: &ApiConfig) -> Self {
        Limits {
            budget: Arc::new(BodyBudget::new(api.max_buffered_body_bytes)),
            slots: Arc::new(Semaphore::new(MAX_CONCURRENT_REQUESTS)),
            request_timeout: REQUEST_TIMEOUT,
            body_timeout: api.header_read_timeout(),
            json_body_limit: api.max_body_bytes,
            onion_body_limit: onion::body_limit(api.max_body_bytes),
            accounts: AccountRate::new(api.account_rate_per_minute),
        }
    }

    /// Overrides the number of processing slots (tests).
    pub fn with_slots(mut self, slots: usize) -> Self {
        self.slots = Arc::new(Semaphore::new(slots));
        self
    }

    /// A processing slot, or `None` when every slot is busy.
    pub(crate) fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }
}

impl Default for Limits {
    /// The limits of the default `[api]` section.
    fn default() -> Self {
        Limits::new(&ApiConfig::default())
    }
}

/// A byte budget shared by every request's buffered body.
#[derive(Debug)]
pub struct BodyBudget {
    max: usize,
    used: AtomicUsize,
}

impl BodyBudget {
    /// A budget of `max` bytes.
    pub fn new(max: usize) -> Self {
        BodyBudget {
            max,
            used: AtomicUsize::new(0),
        }
    }

    /// Bytes held right now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// An empty hold on this budget, grown with [`Held::grow_to`].
    pub fn hold(self: &Arc<Self>) -> Held {
        Held {
            budget: self.clone(),
            bytes: 0,
        }
    }

    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= self.max)
            })
            .is_ok()
    }
}

/// Bytes one request holds of a [`BodyBudget`]; given back on drop.
#[derive(Debug)]
pub struct Held {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

impl Held {
    /// Holds at least `total` bytes; `false` (holding what it held) when the budget is full.
    pub fn grow_to(&mut self, total: usize) -> bool {
        if total <= self.bytes {
            return true;
        }
        let extra = total - self.bytes;
        if self.budget.take(extra) {
            self.bytes = total;
            true
        } else {
            false
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_shared_and_given_back() {
        let budget = Arc::new(BodyBudget::new(100));
        let mut a = budget.hold();
        let mut b = budget.hold();
        assert!(a.grow_to(60));
        assert!(!b.grow_to(41));
        assert!(b.grow_to(40));
        assert!(a.grow_to(60)); // already held
        assert_eq!(budget.used(), 100);
        drop(a);
        assert_eq!(budget.used(), 40);
        assert!(b.grow_to(100));
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn slots_are_refused_when_busy() {
        let limits = Limits::default().with_slots(1);
        let first = limits.slot();
        assert!(first.is_some());
        assert!(limits.slot().is_none());
        drop(first);
        assert!(limits.slot().is_some());
    }
}
