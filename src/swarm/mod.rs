//! The swarm side: node list from oxend, account→swarm mapping, OxenMQ connections to storage
//! servers, `monitor.messages` renewal and `notify.message` intake.
//!
//! **Owns:** PROTOCOL §5–§8. **Must not:** know about providers.
//!
//! Data leaves as [`Notification`] values on a bounded channel to `delivery`.

mod notification;

pub use notification::Notification;

use crate::subscription::{AccountId, Subscription};

/// Where the swarm monitor reads what to submit; `delivery`'s subscriber index implements it,
/// so subscriptions are held in memory once.
pub trait MonitorSource: Send + Sync + 'static {
    /// Every account with at least one unexpired subscription.
    fn accounts(&self) -> Vec<AccountId>;
    /// The unexpired subscriptions of `account`; the monitor derives its entries from them (§8.3).
    fn subscriptions(&self, account: &AccountId, now: i64) -> Vec<Subscription>;
}
