//! Helpers shared by the integration tests.

pub mod accounts;
pub mod admin;
pub mod db;
pub mod fake_notifier;
pub mod fixtures;
pub mod local_metrics;
pub mod logs;
pub mod memory_store;
pub mod metrics;
pub mod network;
pub mod notifiers;
pub mod null_store;
pub mod onion_relay;
pub mod providers;
pub mod server;
pub mod source;
pub mod tcp_proxy;
pub mod vectors;
