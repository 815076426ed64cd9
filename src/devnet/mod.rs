//! Simulated network for devnet and tests: storage servers, oxend, provider mocks and
//! devices.
//!
//! **Owns:** test doubles that speak the real wire formats. **Must not:** be used by
//! production paths.

pub mod device;
