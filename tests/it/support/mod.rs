//! Helpers shared by the integration tests.

pub mod accounts;
pub mod source;
