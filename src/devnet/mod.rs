//! Simulated network for devnet and tests: mock push providers (and, from other engineers,
//! oxend and storage servers).
//!
//! **Owns:** the mocks' wire behaviour. **Must not:** be used by production paths: nothing
//! outside `devnet`, the `devnet` sub-command and tests may call into it.
//!
//! The provider mocks are real HTTP/2 servers on 127.0.0.1 (TLS with a throw-away [`TestCa`],
//! or h2c): they check each request as the provider would, record it on a channel and answer
//! with the [`Reply`] programmed for its token.

pub mod mock_apns;
pub mod mock_fcm;
pub mod mock_hms;
mod server;

pub use server::{Reply, TestCa};
