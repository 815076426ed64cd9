//! The swarm side: node list from oxend, account→swarm mapping, OxenMQ connections to storage
//! servers, `monitor.messages` renewal and `notify.message` intake.
//!
//! **Owns:** PROTOCOL §5–§8. **Must not:** know about providers.
//!
//! Data leaves as [`Notification`] values on a bounded channel to `delivery`.

mod notification;

pub use notification::Notification;
