//! [`Swarm`], the long-running swarm task, and [`SwarmHandle`], its cheap cloneable handle.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::intake::Intake;
use super::monitor::{Dirty, Monitor, Renewal};
use super::oxend::{self, OxendSource};
use super::oxenmq::{Options, OxenMq};
use super::{MonitorSource, Notification, SwarmError, SwarmGate, SwarmStatus};
use crate::config::SwarmConfig;
use crate::crypto::KeyPair;
use crate::store::{Changes, Upsert};
use crate::subscription::{Subscription, SubscriptionKey};

/// The swarm side: node source, storage-server connections, renewal, notify intake.
pub struct Swarm {
    oxend: Option<OxendSource>,
    renewal: Renewal,
    max_pending_connects: usize,
    keys: KeyPair,
    source: Arc<dyn MonitorSource>,
    notifications: mpsc::Sender<Notification>,
    dirty: Arc<Dirty>,
    status: watch::Sender<SwarmStatus>,
    /// `None`: every swarm is served (the single relay).
    gate: Option<Arc<dyn SwarmGate>>,
    /// The current swarm ids (sorted), published by the monitor on each node list.
    swarm_ids: watch::Sender<Arc<Vec<u64>>>,
}

impl Swarm {
    /// Prepares the swarm side; nothing connects before [`Swarm::run`].
    pub fn new(
        config: &SwarmConfig,
        swarm_keys: KeyPair,
        source: Arc<dyn MonitorSource>,
        notifications: mpsc::Sender<Notification>,
    ) -> Result<Self, SwarmError> {
        let min_secs = config.resubscribe_min_secs.max(1);
        Ok(Swarm {
            oxend: oxend::parse_oxend(&config.oxend)?,
            renewal: Renewal {
                min_secs,
                max_secs: config.resubscribe_max_secs.max(min_secs),
            },
            max_pending_connects: config.max_pending_connects.max(1),
            keys: swarm_keys,
            source,
            notifications,
            dirty: Arc::new(Dirty::default()),
            status: watch::channel(SwarmStatus::default()).0,
            gate: None,
            swarm_ids: watch::channel(Arc::new(Vec::new())).0,
        })
    }

    /// Serves only the swarms `gate` allows (a `[cluster]` replica).
    pub fn with_gate(mut self, gate: Arc<dyn SwarmGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The swarm ids of the latest node list (sorted; empty before the first).
    pub fn swarm_ids(&self) -> watch::Receiver<Arc<Vec<u64>>> {
        self.swarm_ids.subscribe()
    }

    /// The handle the API/delivery side uses (`Changes`) and admin reads (`status`).
    pub fn handle(&self) -> SwarmHandle {
        SwarmHandle {
            dirty: self.dirty.clone(),
            status: self.status.subscribe(),
        }
    }

    /// Runs until `shutdown`. With `[swarm] oxend = ""` it only waits.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), SwarmError> {
        let Some(source) = self.oxend.clone() else {
            tracing::info!("no [swarm] oxend configured: swarm side disabled");
            shutdown.cancelled().await;
            return Ok(());
        };
        let mut intake = Intake::new(self.notifications.clone());
        if let Some(gate) = &self.gate {
            intake = intake.gated(gate.clone(), self.swarm_ids.subscribe());
        }
        let mq = OxenMq::start_with(
            &self.keys,
            Options {
                max_pending_connects: self.max_pending_connects,
                connection_metrics: true,
            },
            Box::new(intake),
        )?;
        let (lists_tx, lists_rx) = watch::channel(None);
        let child = shutdown.child_token();
        let oxend_task = {
            let child = child.clone();
            let keys = self.keys.clone();
            tokio::spawn(async move {
                let result = match source {
                    OxendSource::Omq(remote) => oxend::run_omq(remote, keys, lists_tx, child).await,
                    OxendSource::JsonRpc(url) => oxend::run_json_rpc(url, lists_tx, child).await,
                };
                if let Err(e) = result {
                    tracing::error!(error = %e, "node list source stopped");
                }
            })
        };
        let monitor = Monitor::new(mq, self.source, self.dirty, self.status, self.renewal)
            .gated(self.gate, self.swarm_ids);
        monitor.run(lists_rx, child.clone()).await;
        child.cancel();
        let _ = oxend_task.await;
        Ok(())
    }
}

/// Cheap, cloneable: tells the monitor about store changes and reads its status.
#[derive(Clone)]
pub struct SwarmHandle {
    dirty: Arc<Dirty>,
    status: watch::Receiver<SwarmStatus>,
}

impl SwarmHandle {
    /// The latest status snapshot.
    pub fn status(&self) -> SwarmStatus {
        self.status.borrow().clone()
    }

    /// A receiver of status changes.
    pub fn status_watch(&self) -> watch::Receiver<SwarmStatus> {
        self.status.clone()
    }
}

impl Changes for SwarmHandle {
    /// New rows and changed namespaces/want_data/subaccount reach the swarm within 1 s;
    /// a renewal that only refreshes the signature waits for the timer (§8.3).
    fn subscribed(&self, sub: &Subscription, outcome: Upsert) {
        let urgent = matches!(
            outcome,
            Upsert::Added
                | Upsert::Updated {
                    monitor_changed: true
                }
        );
        self.dirty.mark(sub.account, urgent);
    }

    /// The account's entries are re-derived; with none left it is no longer submitted.
    fn removed(&self, key: &SubscriptionKey) {
        self.dirty.mark(key.account, false);
    }
}
