//! The session-push-relay library: everything the relay does. The binary (`src/main.rs` at the
//! workspace root) parses the command line and calls [`app::run`]; the simulated network
//! (`crates/devnet`) and the tests use the same public API.
//!
//! # Layout (see DESIGN.md)
//!
//! - [`clock`]: wall-clock time in unix seconds, injectable where tests need it.
//! - [`config`]: typed configuration from TOML and `SPR_*` environment variables.
//! - [`crypto`]: every cryptographic primitive; the only module that calls libsodium.
//! - [`subscription`]: request parsing, field decoding, signature and timestamp rules (pure).
//! - [`store`]: the database (Postgres or SQLite), token sealing, expiry, reading the upstream
//!   server's database.
//! - [`import`]: `import-spns`, the upstream server's subscriptions into the store.
//! - [`api`]: the public HTTP listener: `/subscribe`, `/unsubscribe`, `/oxen/v4/lsrpc`.
//! - [`swarm`]: node list, swarm mapping, OxenMQ, monitor renewal, notify intake.
//! - [`delivery`]: de-dup, subscriber index, payloads, dispatch.
//! - [`notifier`]: one file per push provider: validation, sending, verdicts.
//! - [`systemd`]: `Type=notify` readiness, watchdog and stopping notifications.
//! - [`cluster`]: several replicas on one Postgres database: swarm leases, handover,
//!   cross-replica subscription announcements (`[cluster]`).
//! - [`admin`]: the private listener: metrics, health, stats, status page.
//! - [`logging`]: the tracing subscriber and the request span of both listeners.
//! - [`fuzzing`]: thin byte-slice entry points for the fuzz targets (`fuzz/`) and their corpus
//!   replay test; nothing else calls them.
//! - [`app`]: wires the modules together; `main` and the tests both call [`app::serve`].
//!
//! # Error policy
//!
//! Each module has one `error.rs` with a thiserror enum named after it; domain failures are
//! variants, causes are kept as `#[source]`. `anyhow` is used only at the edges: `main`, the
//! sub-commands, devnet and tests. Expected outcomes (a push verdict, a duplicate) are values,
//! not errors. No `unwrap`/`expect` on anything that came from the network, a file or the
//! database.

pub mod admin;
pub mod api;
pub mod app;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod fuzzing;
pub mod import;
pub mod logging;
pub mod notifier;
pub mod store;
pub mod subscription;
pub mod swarm;
pub mod systemd;
#[cfg(test)]
mod test_support;
