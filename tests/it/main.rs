//! The one integration-test binary: one module per area, shared helpers in `support`.

// Test-only code: in helpers as in tests, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod api;
mod cli;
mod cluster;
mod dashboards;
mod delivery;
mod devnet;
mod fuzz_corpus;
mod import;
mod onion;
mod providers;
mod relay;
mod store;
mod support;
mod swarm;
mod systemd;
