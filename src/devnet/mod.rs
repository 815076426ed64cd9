//! Simulated network for devnet and tests; must not be used by production paths.
//!
//! **Owns:** the fake oxend and fake storage servers (OxenMQ over our libzmq binding, PROTOCOL
//! §7.4). **Must not:** be used by production paths.

pub mod fake_oxend;
pub mod fake_storage;
mod monitor_check;
mod router;

pub use router::{Outbox, RouterServer, Service};
