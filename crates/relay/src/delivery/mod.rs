//! Delivery: de-duplication, the in-memory subscriber index, device payloads, dispatch to the
//! providers' queues and acting on their verdicts.
//!
//! **Owns:** PROTOCOL §9–§10, the verdict handling of §11 (retries, token removal, the
//! mass-invalidation breaker) and the bulkheads of DESIGN. **Must not:** speak HTTP to
//! providers: it reaches them only through [`crate::notifier::Notifier::send`].
//!
//! Data enters as [`crate::swarm::Notification`]s on a bounded channel into
//! [`Delivery::run`]; it leaves as [`crate::notifier::Push`]es into one bounded queue per
//! service (`lane.rs`), and as `Store::remove_token` + `Changes::removed` for dead tokens.
//! The [`Index`] is loaded from the store at start and kept in step through
//! [`crate::store::Changes`]; it is also the swarm monitor's `MonitorSource`. Rows other
//! processes write (import-spns) reach it through the catch-up poll (`catch_up.rs`).

mod breaker;
mod catch_up;
mod dedup;
mod dispatch;
mod error;
mod index;
mod lane;
pub mod payload;
mod policy;
mod retry;

pub use catch_up::{CatchUp, OVERLAP_SECS};
pub use dedup::{filter_key, Dedup, Seen};
pub use dispatch::Delivery;
pub use error::DeliveryError;
pub use index::{Index, Target};
pub use payload::{DevicePayload, NoDataForm};
pub use policy::{DeliveryConfig, ServicePolicy};

#[cfg(test)]
pub(crate) mod tests_support;
