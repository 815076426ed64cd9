//! Several replicas on one Postgres database (`[cluster]`, DESIGN "Scale beyond one
//! machine", issue 14): each swarm is owned by exactly one live replica through a lease in the
//! database, and subscription changes reach every replica through `LISTEN/NOTIFY`.
//!
//! **Owns:** membership and the lease loop (`membership.rs`), the balanced plan of who should
//! own what (`assign.rs`), the shared answer to "may this replica monitor / push for this
//! swarm now" (`ownership.rs`, the swarm side's [`SwarmGate`]), the database listener
//! (`listen.rs`) and the cross-replica subscription announcements (`subscriptions.rs`).
//! **Must not:** write SQL (it asks `store::cluster::ClusterDb`) or touch sockets (the swarm
//! side reads its [`Ownership`]).
//!
//! Input: swarm ids from the swarm side (watch), the database. Output: [`Ownership`], read by
//! the swarm monitor (what to submit) and the notify intake (what to push); `Changes` calls
//! for accounts another replica changed. With `[cluster] enabled = false` nothing here runs.

mod assign;
mod listen;
mod membership;
mod ownership;
mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub use assign::{plan, share};
pub use membership::LEAVE_WAIT;
pub use ownership::{ClusterShare, Ownership};
pub use subscriptions::Reload;

use crate::config::ClusterConfig;
use crate::store::cluster::ClusterDb;
use crate::store::StoreError;
use crate::swarm::SwarmGate;

/// One replica's part in the cluster, built before the swarm side (which it gates).
pub struct Cluster {
    db: ClusterDb,
    ownership: Arc<Ownership>,
    lease: Duration,
}

impl Cluster {
    /// Connects the cluster's own small pool.
    pub async fn connect(config: &ClusterConfig, url: &str) -> Result<Self, StoreError> {
        let lease = config.lease();
        let db = ClusterDb::connect(url, &config.node_id, lease, lease / 4).await?;
        tracing::info!(node_id = %config.node_id, lease_secs = lease.as_secs(), "cluster replica");
        Ok(Cluster {
            db,
            ownership: Arc::new(Ownership::new(&config.node_id)),
            lease,
        })
    }

    /// What the swarm side asks before monitoring or pushing.
    pub fn gate(&self) -> Arc<dyn SwarmGate> {
        self.ownership.clone()
    }

    /// The shared ownership state (stats, status page).
    pub fn ownership(&self) -> Arc<Ownership> {
        self.ownership.clone()
    }

    /// Spawns the listener and (with a swarm side, `swarm_ids`) the lease
    /// loop on `tracker`. `swarm_side` is cancelled once the lease loop has left the cluster
    /// after `shutdown` (at once when there is no lease loop).
    pub fn spawn(
        self,
        tracker: &TaskTracker,
        swarm_ids: Option<watch::Receiver<Arc<Vec<u64>>>>,
        reload: Reload,
        shutdown: &CancellationToken,
        swarm_side: CancellationToken,
    ) {
        let lease_changed = Arc::new(Notify::new());
        tracker.spawn(
            listen::run(
                self.db.clone(),
                lease_changed.clone(),
                reload,
                shutdown.child_token(),
            )
            .instrument(tracing::info_span!("cluster.listen")),
        );
        match swarm_ids {
            Some(ids) => {
                let membership = membership::Membership::new(
                    self.db,
                    self.ownership,
                    ids,
                    lease_changed,
                    self.lease,
                );
                tracker.spawn(
                    membership
                        .run(shutdown.child_token(), swarm_side)
                        .instrument(tracing::info_span!("cluster.leases")),
                );
            }
            None => {
                let token = shutdown.clone();
                tracker.spawn(async move {
                    token.cancelled().await;
                    swarm_side.cancel();
                });
            }
        }
    }
}
