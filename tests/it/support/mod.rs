//! Helpers shared by the integration tests.

pub mod null_store;
pub mod onion_relay;
