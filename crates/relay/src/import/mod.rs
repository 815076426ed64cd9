//! `import-spns`: copies the upstream Session Push Notification Server's subscriptions into the
//! relay's store, so switching servers does not leave phones without pushes until their apps
//! re-register (Android every 7 days).
//!
//! **Owns:** the import's rules: which upstream rows are expired (signature older than 14 days),
//! invalid (anything a `/subscribe` of the same fields would refuse, including an unconfigured
//! service) or valid, and whether a valid row is added, updated or already held unchanged.
//! **Must not:** verify differently from the API: it calls [`crate::subscription::verify_stored`],
//! the same steps as `/subscribe`, with the notifiers' token rules. Nor hold rows in memory: it
//! streams the upstream table ([`crate::store::spns`]) and writes each valid row through
//! [`crate::store::Store::upsert`], sealed like any subscription, keeping the original signature
//! and timestamp (the storage servers check them).
//!
//! Files: `classify.rs` (one upstream row → expired, invalid or a [`Subscription`]),
//! `run.rs` (the loop, the store writes and the [`Summary`]), `progress.rs` (the terminal line),
//! `error.rs`.
//!
//! [`Subscription`]: crate::subscription::Subscription

mod classify;
mod error;
mod progress;
mod run;

pub use classify::{classify, Class};
pub use error::ImportError;
pub use progress::Progress;
pub use run::{run, ImportOptions, Summary};
