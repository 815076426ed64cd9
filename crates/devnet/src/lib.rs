//! Simulated network for devnet and tests: the onion client of the last service node, simulated
//! clients and devices, oxend and storage servers, mock APNs/FCM/HMS servers, and
//! [`network::Network`], which runs all of them around the real relay.
//!
//! **Owns:** test doubles that speak the real wire formats, and the `devnet` sub-command
//! (`run/`: simulated users, offered load, the delivery ledger, live output and the report).
//! **Must not:** be used by production paths: nothing outside `devnet`, the `devnet`
//! sub-command and tests may call into it.
//!
//! The provider mocks are real HTTP/2 servers on 127.0.0.1 (TLS with a throw-away [`TestCa`],
//! or h2c): they check each request as the provider would, record it on a channel and answer
//! with the [`Reply`] programmed for its token.

pub mod clients;
pub mod device;
pub mod fake_json_rpc;
pub mod fake_oxend;
pub mod fake_storage;
pub mod mock_apns;
pub mod mock_fcm;
pub mod mock_hms;
mod monitor_check;
pub mod network;
mod oauth_mock;
pub mod onion_client;
mod router;
pub mod run;
mod server;
pub mod synthetic;
#[cfg(test)]
mod test_vectors;

pub use server::{Mock, MockBase, Reply, TestCa};
