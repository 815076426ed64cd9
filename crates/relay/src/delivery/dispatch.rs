//! The delivery task: from a [`Notification`] to pushes in the services' queues
//! (PROTOCOL §9), and the drain at shutdown.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::dedup::{Dedup, Seen};
use super::index::{Index, Target};
use super::lane::{Deps, Lane};
use super::payload;
use super::policy::{DeliveryConfig, ServicePolicy};
use crate::admin::metrics as names;
use crate::clock::unix_now;
use crate::crypto;
use crate::notifier::{Notifier, Push, Services};
use crate::store::{Changes, Store};
use crate::swarm::Notification;

/// The delivery task; build it with [`Delivery::new`], then spawn [`Delivery::run`].
pub struct Delivery {
    index: Arc<Index>,
    store: Arc<dyn Store>,
    changes: Arc<dyn Changes>,
    services: Vec<(Arc<str>, Arc<dyn Notifier>, ServicePolicy)>,
    cfg: DeliveryConfig,
}

impl Delivery {
    /// A delivery task for `services`. `changes` is told of every subscription removed for an
    /// invalid token; it should reach the index and the swarm monitor.
    pub fn new(
        index: Arc<Index>,
        store: Arc<dyn Store>,
        changes: Arc<dyn Changes>,
        services: &Services,
        cfg: DeliveryConfig,
    ) -> Self {
        let services = services
            .iter()
            .map(|(name, notifier)| {
                let policy = cfg
                    .services
                    .get(name.as_ref())
                    .copied()
                    .unwrap_or_else(|| ServicePolicy::for_kind(notifier.kind()));
                (name.clone(), notifier.clone(), policy)
            })
            .collect();
        Delivery {
            index,
            store,
            changes,
            services,
            cfg,
        }
    }

    /// Takes notifications until `shutdown` (or until the channel closes), then drains the
    /// queues for at most the shutdown grace period.
    pub async fn run(
        self,
        mut notifications: mpsc::Receiver<Notification>,
        shutdown: CancellationToken,
    ) {
        let deps = Deps {
            store: self.store.clone(),
            index: self.index.clone(),
            changes: self.changes.clone(),
            retry_stop: CancellationToken::new(),
        };
        let mut workers = JoinSet::new();
        let lanes: HashMap<Arc<str>, Lane> = self
            .services
            .iter()
            .map(|(name, notifier, policy)| {
                let lane = Lane::spawn(
                    name.clone(),
                    notifier.clone(),
                    *policy,
                    deps.clone(),
                    &mut workers,
                );
                (name.clone(), lane)
            })
            .collect();
        let mut dedup = Dedup::new(self.cfg.dedup_window, self.cfg.dedup_cap);
        // Reused for every notification: no allocation per message for the device list.
        let mut targets = Vec::new();

        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                next = notifications.recv() => match next {
                    Some(n) => self.process(&n, &lanes, &mut dedup, &mut targets),
                    None => break,
                },
            }
        }

        // Waiting retries give up; the queues close once the lanes are dropped and drain.
        deps.retry_stop.cancel();
        drop(lanes);
        let drained = tokio::time::timeout(self.cfg.shutdown_grace, async {
            while workers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                grace_secs = self.cfg.shutdown_grace.as_secs(),
                "delivery drain timed out; pushes in flight abandoned"
            );
        }
    }

    /// PROTOCOL §9 steps 1–4 for one notification.
    fn process(
        &self,
        n: &Notification,
        lanes: &HashMap<Arc<str>, Lane>,
        dedup: &mut Dedup,
        targets: &mut Vec<Target>,
    ) {
        metrics::counter!(names::DELIVERY_NOTIFICATIONS).increment(1);
        self.index
            .select_into(&n.account, n.namespace, unix_now(), targets);
        for target in targets.drain(..) {
            if dedup.check(&target.service, target.token.expose(), &n.hash) == Seen::Duplicate {
                continue;
            }
            let Some(lane) = lanes.get(&target.service) else {
                metrics::counter!(names::PUSH_FAILURES, "service" => target.service.clone(), "reason" => "unconfigured")
                    .increment(1);
                continue;
            };
            // PROTOCOL §9 step 3.
            let data = n
                .data
                .as_deref()
                .filter(|d| target.want_data && !d.is_empty());
            let nonce = crypto::random_array();
            match payload::build(n, data, lane.form, &target.enc_key, &nonce) {
                Ok(p) => lane.offer(
                    Push {
                        service: target.service,
                        token: target.token,
                        enc_payload: p.enc_payload,
                        has_data: p.has_data,
                        namespace: n.namespace,
                    },
                    n.received,
                ),
                Err(e) => {
                    tracing::error!(service = %target.service, error = %e, "cannot build a device payload");
                    metrics::counter!(names::PUSH_FAILURES, "service" => target.service, "reason" => "payload")
                        .increment(1);
                }
            }
        }
    }
}
