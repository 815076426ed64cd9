//! Helpers shared by the integration tests.

pub mod null_store;
