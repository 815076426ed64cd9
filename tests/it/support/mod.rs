//! Helpers shared by the integration tests.

pub mod memory_store;
pub mod notifiers;
pub mod server;
pub mod vectors;
