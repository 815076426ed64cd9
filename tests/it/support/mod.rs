//! Helpers shared by the integration tests.

pub mod fake_notifier;
pub mod memory_store;
pub mod metrics;
