//! The one integration-test binary; one module per area.

// Helpers outside #[test] functions: a failed setup should panic the test.
#![allow(clippy::unwrap_used)]

mod support;
mod swarm;
