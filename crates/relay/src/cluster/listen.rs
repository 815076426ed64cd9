//! The database listener: one connection on `LISTEN spr_cluster, spr_subscriptions`. Lease
//! announcements wake the lease loop; subscription announcements reload the account.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::subscriptions::Reload;
use crate::store::cluster::{ClusterDb, LEASE_CHANNEL, SUBSCRIPTION_CHANNEL};

/// Pause before listening again after the connection failed.
const RETRY: Duration = Duration::from_secs(1);

/// Listens until `shutdown`; `lease_changed` is notified on other replicas' lease
/// announcements.
pub async fn run(
    db: ClusterDb,
    lease_changed: Arc<Notify>,
    reload: Reload,
    shutdown: CancellationToken,
) {
    let me = db.node_id().to_owned();
    let mut first = true;
    while !shutdown.is_cancelled() {
        let mut listener = match db.listen().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for cluster announcements; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(RETRY) => continue,
                }
            }
        };
        if !first {
            // Announcements made while the connection was down are lost: catch up.
            resync(&reload, &lease_changed).await;
        }
        first = false;
        loop {
            let received = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                r = listener.try_recv() => r,
            };
            match received {
                Ok(Some(n)) if n.channel() == LEASE_CHANNEL => {
                    if n.payload() != me {
                        lease_changed.notify_one();
                    }
                }
                Ok(Some(n)) if n.channel() == SUBSCRIPTION_CHANNEL => {
                    if let Err(e) = reload.announced(n.payload()).await {
                        tracing::warn!(error = %e, "cannot reload an account another replica changed");
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    tracing::info!("cluster listener reconnected");
                    resync(&reload, &lease_changed).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cluster listener lost its connection");
                    break;
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RETRY) => {}
        }
    }
}

async fn resync(reload: &Reload, lease_changed: &Notify) {
    lease_changed.notify_one();
    if let Err(e) = reload.everything().await {
        tracing::warn!(error = %e, "cannot reload subscriptions after the listener reconnected");
    }
}
