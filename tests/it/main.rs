//! The one integration-test binary; one module per area.

// The whole crate is test code: helpers outside `#[test]` fns may unwrap too.
#![allow(clippy::unwrap_used)]

mod delivery;
mod support;
