//! The swarm side: node list from oxend, account→swarm mapping, OxenMQ connections to storage
//! servers, `monitor.messages` renewal and `notify.message` intake.
//!
//! **Owns:** PROTOCOL §5–§8. **Must not:** know about providers.
//!
//! Data enters as node lists from oxend (`oxend.rs`) and store changes through
//! [`SwarmHandle`] (`Changes`); it leaves as `monitor.messages` requests to storage servers
//! (`monitor/`, over the single OxenMQ proxy thread of `oxenmq/`) and as [`Notification`]
//! values on a bounded channel to `delivery` (`intake.rs`).
//!
//! Wiring: `let swarm = Swarm::new(&config.swarm, keys.swarm.clone(), source, tx)?;`
//! `let handle = swarm.handle();` then spawn `swarm.run(token)`.

mod copies;
mod error;
mod intake;
pub mod mapping;
pub mod message;
mod monitor;
pub mod nodes;
mod notification;
mod oxend;
pub mod oxenmq;
mod task;

pub use error::SwarmError;
pub use notification::{Notification, NotifyRef};
pub use task::{Swarm, SwarmHandle};

use crate::subscription::{AccountId, Subscription};

/// Which swarms this relay serves. A single relay has none and serves every swarm; a
/// `[cluster]` replica serves only the swarms it holds a lease for (`cluster::Ownership`).
pub trait SwarmGate: Send + Sync + 'static {
    /// Whether `monitor.messages` go to this swarm's members: owned, or being taken over.
    fn monitors(&self, swarm: u64) -> bool;
    /// Whether a `notify.message` for an account of this swarm is pushed now (the lease is
    /// proven, or a ready takeover is in its overlap).
    fn pushes(&self, swarm: u64) -> bool;
    /// Swarms being taken over whose accounts are not yet known to be submitted.
    fn pending(&self) -> Vec<u64>;
    /// Reports swarms of [`SwarmGate::pending`] whose accounts every connected member has
    /// accepted: the takeover may complete.
    fn warm(&self, swarms: Vec<u64>);
    /// Changes whenever [`SwarmGate::monitors`] may answer differently.
    fn changes(&self) -> tokio::sync::watch::Receiver<u64>;
}

/// Where the swarm monitor reads what to submit; `delivery`'s subscriber index implements it,
/// so subscriptions are held in memory once.
pub trait MonitorSource: Send + Sync + 'static {
    /// Every account with at least one unexpired subscription.
    fn accounts(&self) -> Vec<AccountId>;
    /// The unexpired subscriptions of `account`; the monitor derives its entries from them (§8.3).
    fn subscriptions(&self, account: &AccountId, now: i64) -> Vec<Subscription>;
}

/// A snapshot of the swarm side for health, stats and the status page (published on a
/// `tokio::sync::watch` channel by the swarm task).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SwarmStatus {
    /// Whether a node list has been loaded from oxend.
    pub node_list_loaded: bool,
    /// Distinct valid swarm ids.
    pub swarms: usize,
    /// Usable service nodes.
    pub snodes: usize,
    /// Swarms with at least one connected member.
    pub swarms_connected: usize,
    /// Accounts being monitored.
    pub accounts_monitored: usize,
    /// Established connections to storage servers.
    pub connections: usize,
    /// Connection attempts in flight.
    pub pending_connections: usize,
    /// `block_hash` of the node list in use (empty before one is loaded).
    pub block_hash: String,
    /// `height` of the node list in use (0 before one is loaded).
    pub block_height: u64,
}
