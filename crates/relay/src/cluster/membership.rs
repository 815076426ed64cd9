//! [`Membership`], the lease loop: heartbeat, plan, renew, hand over, acquire, claim; and on
//! shutdown, the graceful leave.
//!
//! One round (every `lease / 3`, or at once when another replica or the monitor wakes it):
//! 1. heartbeat → the live replicas; [`assign::share`] → the swarms this replica should own;
//! 2. renew every lease held; the round's start + lease − margin is how long they are proven;
//! 3. leases whose successor is ready: stop pushing, then hand them over in one statement;
//! 4. wanted swarms without a live lease: acquire them;
//! 5. wanted swarms held by another replica: name this replica successor; the monitor then
//!    submits their accounts, and once it reports them warm the claim becomes ready and the
//!    owner hands over (the new owner subscribes before the old one lets go);
//! 6. publish to [`Ownership`]; tell the others (`NOTIFY`) if anything moved.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::assign;
use super::ownership::Ownership;
use crate::admin::metrics as names;
use crate::store::cluster::{ClusterDb, LEASE_CHANNEL};
use crate::store::StoreError;

/// How long a graceful leave waits for successors before releasing what is left (SIGTERM
/// handover target: survivors subscribed within 5 s).
pub const LEAVE_WAIT: Duration = Duration::from_secs(4);
/// Round interval while leaving (the successors' notifications usually come first).
const LEAVE_POLL: Duration = Duration::from_millis(100);

/// The lease loop of one replica.
pub struct Membership {
    db: ClusterDb,
    ownership: Arc<Ownership>,
    swarm_ids: watch::Receiver<Arc<Vec<u64>>>,
    /// Woken by the database listener (another replica moved a lease).
    remote: Arc<Notify>,
    lease: Duration,
    owned: HashSet<u64>,
    claims: HashMap<u64, bool>,
    replicas: usize,
    failing: bool,
    /// When dead rows were last pruned from the cluster tables.
    pruned_at: Option<Instant>,
}

impl Membership {
    /// A loop for `db`'s replica; `remote` is notified by the listener on lease changes.
    pub fn new(
        db: ClusterDb,
        ownership: Arc<Ownership>,
        swarm_ids: watch::Receiver<Arc<Vec<u64>>>,
        remote: Arc<Notify>,
        lease: Duration,
    ) -> Self {
        Membership {
            db,
            ownership,
            swarm_ids,
            remote,
            lease,
            owned: HashSet::new(),
            claims: HashMap::new(),
            replicas: 0,
            failing: false,
            pruned_at: None,
        }
    }

    /// Runs rounds until `shutdown`, then leaves gracefully; `swarm_side` is cancelled once
    /// every swarm is handed over or released (the swarm side keeps pushing until then).
    pub async fn run(mut self, shutdown: CancellationToken, swarm_side: CancellationToken) {
        let mut tick = tokio::time::interval(self.lease / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let warm = self.ownership.wake.clone();
        let remote = self.remote.clone();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                changed = self.swarm_ids.changed() => if changed.is_err() {
                    // The swarm side stopped: nothing left to own.
                    break;
                },
                () = remote.notified() => {}
                () = warm.notified() => {}
                _ = tick.tick() => {}
            }
            self.round().await;
        }
        self.leave().await;
        swarm_side.cancel();
    }

    /// One round, bounded by half a lease; a failure leaves the last proof to run out.
    async fn round(&mut self) {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.lease / 2, self.step(started)).await {
            Ok(result) => result.map_err(Some),
            Err(_) => Err(None),
        };
        match result {
            Ok(()) => {
                if self.failing {
                    tracing::info!("cluster database reachable again");
                }
                self.failing = false;
            }
            Err(e) => {
                if !self.failing {
                    match e {
                        Some(e) => {
                            tracing::warn!(error = %e, "cannot renew swarm leases; pushes stop when they run out")
                        }
                        None => tracing::warn!(
                            "swarm lease round timed out; pushes stop when the leases run out"
                        ),
                    }
                }
                self.failing = true;
            }
        }
    }

    fn proven_until(&self, started: Instant) -> Instant {
        started + self.lease - self.lease / 4
    }

    async fn step(&mut self, started: Instant) -> Result<(), StoreError> {
        let me = self.db.node_id().to_owned();
        let live = self.db.heartbeat().await?;
        let ids = self.swarm_ids.borrow().clone();
        let wanted = assign::share(&ids, &live, &me);
        let leases = self.db.renew().await?;
        let valid_until = self.proven_until(started);
        let held: HashSet<u64> = leases.iter().map(|l| l.swarm_id).collect();
        let mut moved = false;

        // Swarms gone from the node list (a merge): nobody needs them.
        let gone: Vec<u64> = if ids.is_empty() {
            Vec::new()
        } else {
            held.iter()
                .filter(|id| ids.binary_search(id).is_err())
                .copied()
                .collect()
        };
        if !gone.is_empty() {
            self.ownership.stop_pushing(&gone);
            self.db.release(Some(&gone)).await?;
            count(&self.owned, &gone, "released");
            moved = true;
        }
        // Hand over to ready successors: stop pushing first, then commit.
        let ready: Vec<u64> = leases
            .iter()
            .filter(|l| l.successor_ready && l.successor.is_some() && !gone.contains(&l.swarm_id))
            .map(|l| l.swarm_id)
            .collect();
        let given = if ready.is_empty() {
            Vec::new()
        } else {
            self.ownership.stop_pushing(&ready);
            let given = self.db.hand_over(&ready).await?;
            metrics::counter!(names::CLUSTER_HANDOVERS, "reason" => "released")
                .increment(given.len() as u64);
            moved |= !given.is_empty();
            given
        };
        let mut owned: HashSet<u64> = held
            .into_iter()
            .filter(|id| !gone.contains(id) && !given.contains(id))
            .collect();
        // Renewed but not held last round: a previous owner handed it to this replica.
        let handed = owned.difference(&self.owned).count();
        if handed > 0 {
            metrics::counter!(names::CLUSTER_HANDOVERS, "reason" => "handed_over")
                .increment(handed as u64);
        }
        let lost = self
            .owned
            .difference(&owned)
            .filter(|id| !given.contains(id) && !gone.contains(id))
            .count();
        if lost > 0 {
            metrics::counter!(names::CLUSTER_HANDOVERS, "reason" => "lost").increment(lost as u64);
        }

        let to_take: Vec<u64> = wanted.difference(&owned).copied().collect();
        for got in self.db.acquire(&to_take).await? {
            owned.insert(got.swarm_id);
            let reason = if got.fresh { "new" } else { "expired" };
            metrics::counter!(names::CLUSTER_HANDOVERS, "reason" => reason).increment(1);
            moved = true;
        }
        let to_claim: Vec<u64> = wanted.difference(&owned).copied().collect();
        let warm: Vec<u64> = self.ownership.warm_claims();
        let claims: HashMap<u64, bool> =
            self.db.claim(&to_claim, &warm).await?.into_iter().collect();
        moved |= claims != self.claims || owned != self.owned;

        self.ownership
            .publish_round(owned.clone(), claims.clone(), valid_until, Some(live.len()));
        self.owned = owned;
        self.claims = claims;
        if live.len() != self.replicas {
            self.replicas = live.len();
            tracing::info!(replicas = live.len(), "cluster membership changed");
        }
        metrics::gauge!(names::CLUSTER_REPLICAS).set(live.len() as f64);
        metrics::gauge!(names::CLUSTER_SWARMS_OWNED).set(self.owned.len() as f64);
        self.prune_dead_rows().await?;
        if moved {
            tracing::debug!(
                owned = self.owned.len(),
                claims = self.claims.len(),
                "swarm leases moved"
            );
            self.db.notify(LEASE_CHANNEL, &me).await?;
        }
        Ok(())
    }

    /// Once per lease length, deletes rows of replicas and swarms long gone
    /// ([`ClusterDb::prune`]); the first round prunes what earlier runs left.
    async fn prune_dead_rows(&mut self) -> Result<(), StoreError> {
        if self.pruned_at.is_some_and(|at| at.elapsed() < self.lease) {
            return Ok(());
        }
        let pruned = self.db.prune().await?;
        self.pruned_at = Some(Instant::now());
        if pruned.replicas > 0 || pruned.leases > 0 {
            tracing::info!(
                replicas = pruned.replicas,
                leases = pruned.leases,
                "pruned replicas and leases that expired long ago"
            );
        }
        Ok(())
    }

    /// Graceful stop: leave the replica list so the others plan without this replica, keep
    /// renewing and pushing while successors subscribe, hand each swarm over as its successor
    /// is ready, and release whatever is left after [`LEAVE_WAIT`].
    async fn leave(&mut self) {
        let me = self.db.node_id().to_owned();
        let deadline = Instant::now() + LEAVE_WAIT;
        let left = async {
            self.db.leave().await?;
            self.db.claim(&[], &[]).await?;
            self.db.notify(LEASE_CHANNEL, &me).await
        };
        if let Err(e) = tokio::time::timeout(LEAVE_WAIT, left)
            .await
            .unwrap_or(Ok(()))
        {
            tracing::warn!(error = %e, "cannot leave the cluster cleanly; the leases will expire");
        }
        self.claims.clear();
        while !self.owned.is_empty() && Instant::now() < deadline {
            let started = Instant::now();
            let round = async {
                let leases = self.db.renew().await?;
                let ready: Vec<u64> = leases
                    .iter()
                    .filter(|l| l.successor_ready && l.successor.is_some())
                    .map(|l| l.swarm_id)
                    .collect();
                let mut owned: HashSet<u64> = leases.iter().map(|l| l.swarm_id).collect();
                if !ready.is_empty() {
                    self.ownership.stop_pushing(&ready);
                    let given = self.db.hand_over(&ready).await?;
                    metrics::counter!(names::CLUSTER_HANDOVERS, "reason" => "released")
                        .increment(given.len() as u64);
                    owned.retain(|id| !given.contains(id));
                    if !given.is_empty() {
                        self.db.notify(LEASE_CHANNEL, &me).await?;
                    }
                }
                Ok::<_, StoreError>(owned)
            };
            match tokio::time::timeout(LEAVE_POLL * 10, round).await {
                Ok(Ok(owned)) => {
                    self.ownership.publish(
                        owned.clone(),
                        HashMap::new(),
                        self.proven_until(started),
                    );
                    self.owned = owned;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot renew swarm leases while leaving");
                    break;
                }
                Err(_) => break,
            }
            if self.owned.is_empty() {
                break;
            }
            let _ = tokio::time::timeout(LEAVE_POLL, self.remote.notified()).await;
        }
        self.ownership.clear();
        if !self.owned.is_empty() {
            let left = self.owned.len();
            match self.db.release(None).await {
                Ok(_) => {
                    metrics::counter!(names::CLUSTER_HANDOVERS, "reason" => "released")
                        .increment(left as u64);
                    let _ = self.db.notify(LEASE_CHANNEL, &me).await;
                    tracing::info!(
                        swarms = left,
                        "released the swarms no successor took in time"
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot release swarm leases; they expire in one lease")
                }
            }
        }
        self.owned.clear();
        metrics::gauge!(names::CLUSTER_SWARMS_OWNED).set(0.0);
        tracing::info!("left the cluster");
    }
}

/// Counts `ids` that were owned as given up for `reason`.
fn count(owned: &HashSet<u64>, ids: &[u64], reason: &'static str) {
    let n = ids.iter().filter(|id| owned.contains(id)).count();
    if n > 0 {
        metrics::counter!(names::CLUSTER_HANDOVERS, "reason" => reason).increment(n as u64);
    }
}
