//! Simulated network for devnet and tests: the onion client of the last service node, simulated
//! clients and devices, oxend and storage servers, and mock APNs/FCM/HMS servers.
//!
//! **Owns:** test doubles that speak the real wire formats.
//! **Must not:** be used by production paths: nothing outside `devnet` and the tests imports it.

pub mod device;
pub mod fake_oxend;
pub mod fake_storage;
mod monitor_check;
pub mod onion_client;
mod router;
