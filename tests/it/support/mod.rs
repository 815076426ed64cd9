//! Helpers shared by the integration tests.

pub mod admin;
pub mod null_store;
pub mod onion_relay;
