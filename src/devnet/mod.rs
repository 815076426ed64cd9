//! Simulated network for devnet and tests: clients and mocks of the parts the relay talks to.
//!
//! **Owns:** test doubles (the onion client of the last service node, and later the simulated
//! oxend, storage servers and provider mocks).
//! **Must not:** be used by production paths: nothing outside `devnet` and the tests imports it.

pub mod onion_client;
