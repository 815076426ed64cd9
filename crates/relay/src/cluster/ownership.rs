//! [`Ownership`]: what this replica may do for each swarm right now, shared between the lease
//! loop (writes it after every round with the database) and the swarm side (reads it: the
//! monitor for what to submit, the notify intake for what to push).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::admin::metrics as names;
use crate::swarm::SwarmGate;

#[derive(Default)]
struct State {
    /// Swarms whose lease this replica holds.
    owned: HashSet<u64>,
    /// Swarms this replica is taking over (named successor), with whether the owner was told
    /// it is ready.
    claimed: HashMap<u64, bool>,
    /// Claimed swarms the monitor reported fully submitted.
    warm: HashSet<u64>,
    /// The leases (and ready claims) are proven until this instant: it is set from the start
    /// of the round that renewed them plus the lease minus a margin, so it always falls before
    /// the database lets another replica take them. Pushes stop by themselves when renewal
    /// stops (database unreachable, lease loop stuck).
    valid_until: Option<Instant>,
    /// Live replicas at the last round.
    replicas: usize,
}

/// The shared ownership state; the lease loop holds it as `Arc<Ownership>` and hands the
/// swarm side the same `Arc` as its [`SwarmGate`].
pub struct Ownership {
    node_id: String,
    state: RwLock<State>,
    /// Bumped when the set of monitored swarms changes; the swarm monitor re-syncs on it.
    changes: watch::Sender<u64>,
    /// Woken when the monitor reports warm swarms; the lease loop waits on it.
    pub(crate) wake: Arc<Notify>,
}

/// This replica's share, for `/stats` and the status page.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClusterShare {
    /// `[cluster] node_id`.
    pub node_id: String,
    /// Live replicas at the last round.
    pub replicas: usize,
    /// Swarms whose lease this replica holds.
    pub swarms_owned: usize,
    /// Swarms this replica is taking over.
    pub swarms_taking_over: usize,
}

impl Ownership {
    /// Nothing owned yet, for replica `node_id`.
    pub fn new(node_id: &str) -> Self {
        Ownership {
            node_id: node_id.to_owned(),
            state: RwLock::default(),
            changes: watch::channel(0).0,
            wake: Arc::new(Notify::new()),
        }
    }
}

impl Ownership {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes a round's outcome: the owned swarms, the claims (swarm → ready) and until
    /// when they are proven.
    pub fn publish(&self, owned: HashSet<u64>, claimed: HashMap<u64, bool>, valid_until: Instant) {
        self.publish_round(owned, claimed, valid_until, None);
    }

    /// [`Ownership::publish`], also recording how many replicas are live.
    pub fn publish_round(
        &self,
        owned: HashSet<u64>,
        claimed: HashMap<u64, bool>,
        valid_until: Instant,
        replicas: Option<usize>,
    ) {
        let changed = {
            let mut s = self.write();
            let before: HashSet<u64> = s.owned.iter().chain(s.claimed.keys()).copied().collect();
            s.warm.retain(|id| claimed.contains_key(id));
            s.owned = owned;
            s.claimed = claimed;
            s.valid_until = Some(valid_until);
            if let Some(n) = replicas {
                s.replicas = n;
            }
            let after: HashSet<u64> = s.owned.iter().chain(s.claimed.keys()).copied().collect();
            before != after
        };
        if changed {
            self.changes.send_modify(|n| *n += 1);
        }
    }

    /// Extends the proof of the current leases (a renewal that changed nothing else).
    pub fn prove_until(&self, valid_until: Instant) {
        self.write().valid_until = Some(valid_until);
    }

    /// Stops pushing for `swarms` at once (before their lease is handed over or released);
    /// they are still monitored until the next [`Ownership::publish`].
    pub fn stop_pushing(&self, swarms: &[u64]) {
        let mut s = self.write();
        for id in swarms {
            if s.owned.remove(id) {
                s.claimed.insert(*id, false);
            }
        }
    }

    /// Nothing owned, claimed or pushed (after leaving the cluster).
    pub fn clear(&self) {
        self.publish(HashSet::new(), HashMap::new(), Instant::now());
    }

    /// This replica's share now.
    pub fn share(&self) -> ClusterShare {
        let s = self.read();
        ClusterShare {
            node_id: self.node_id.clone(),
            replicas: s.replicas,
            swarms_owned: s.owned.len(),
            swarms_taking_over: s.claimed.len(),
        }
    }

    /// Claimed swarms reported warm.
    pub fn warm_claims(&self) -> Vec<u64> {
        let s = self.read();
        s.claimed
            .keys()
            .filter(|id| s.warm.contains(id))
            .copied()
            .collect()
    }
}

impl SwarmGate for Ownership {
    fn monitors(&self, swarm: u64) -> bool {
        let s = self.read();
        s.owned.contains(&swarm) || s.claimed.contains_key(&swarm)
    }

    fn pushes(&self, swarm: u64) -> bool {
        let s = self.read();
        if s.valid_until.is_none_or(|t| Instant::now() >= t) {
            return false;
        }
        if s.owned.contains(&swarm) {
            return true;
        }
        let overlap = s.claimed.get(&swarm) == Some(&true);
        if overlap {
            // The old owner may still push this one until it sees us ready (milliseconds).
            metrics::counter!(names::CLUSTER_OVERLAP_NOTIFICATIONS).increment(1);
        }
        overlap
    }

    fn pending(&self) -> Vec<u64> {
        let s = self.read();
        s.claimed
            .keys()
            .filter(|id| !s.warm.contains(id))
            .copied()
            .collect()
    }

    fn warm(&self, swarms: Vec<u64>) {
        {
            let mut s = self.write();
            for id in swarms {
                if s.claimed.contains_key(&id) {
                    s.warm.insert(id);
                }
            }
        }
        self.wake.notify_one();
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pushes_only_owned_or_ready_swarms_and_only_while_proven() {
        let o = Ownership::new("relay-0");
        let mut changes = o.changes();
        let until = Instant::now() + Duration::from_secs(10);
        o.publish(
            HashSet::from([1]),
            HashMap::from([(2, false), (3, true)]),
            until,
        );
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        assert!(o.monitors(1) && o.monitors(2) && o.monitors(3) && !o.monitors(4));
        assert!(o.pushes(1) && !o.pushes(2) && o.pushes(3) && !o.pushes(4));
        // The monitor reports 2 submitted: pending shrinks, the loop is woken.
        assert_eq!(o.pending().len(), 2);
        o.warm(vec![2]);
        assert_eq!(o.warm_claims(), vec![2]);
        // Renewal stops: at valid_until every push stops, monitoring does not.
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(!o.pushes(1) && !o.pushes(3));
        assert!(o.monitors(1));
        // Handing over stops pushing at once.
        o.prove_until(Instant::now() + Duration::from_secs(10));
        assert!(o.pushes(1));
        o.stop_pushing(&[1]);
        assert!(!o.pushes(1) && o.monitors(1));
        assert!(!changes.has_changed().unwrap());
        o.clear();
        assert!(changes.has_changed().unwrap());
        assert!(!o.monitors(1) && !o.pushes(3));
    }
}
