//! The integration test binary: one module per area, shared helpers in `support`.

// clippy.toml allows unwrap in `#[test]` functions only; helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod support;
