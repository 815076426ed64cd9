//! The integration test binary: one module per area.

// Helpers outside `#[test]` functions are test code too: a panic there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod systemd;
