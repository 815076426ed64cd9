//! Delivery end to end inside the process: notifications in, pushes to fake providers out,
//! each payload opened by the emulated iOS/Android device (PROTOCOL §9–§11).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use devnet::device::{self, Failure, Platform, Shown};
use relay::config::ServiceLimits;
use relay::crypto;
use relay::delivery::{
    Delivery, DeliveryConfig, DeliveryStats, Index, ServicePolicy, StatsSnapshot,
};
use relay::notifier::{Notifier, Services, Verdict};
use relay::store::Changes;
use relay::subscription::{AccountId, DeviceToken, EncKey, Signature, Subscription};
use relay::swarm::{MonitorSource, Notification};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::fake_notifier::{FakeNotifier, Sent};
use crate::support::memory_store::MemoryStore;
use crate::support::metrics;

mod bulkheads;
mod fanout;
mod verdicts;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sub(account: u8, service: &str, token: &str, namespaces: &[i16]) -> Subscription {
    Subscription {
        account: AccountId([account; 33]),
        session_ed25519: Some([account; 32]),
        subaccount: None,
        signature: Signature([account; 64]),
        sig_ts: now(),
        namespaces: namespaces.to_vec(),
        want_data: true,
        service: Arc::from(service),
        token: DeviceToken::new(token),
        enc_key: EncKey([account ^ token.len() as u8; 32]),
    }
}

fn message(account: u8, hash: &str, namespace: i16, data: Option<&[u8]>) -> Notification {
    Notification {
        account: AccountId([account; 33]),
        hash: Bytes::copy_from_slice(hash.as_bytes()),
        namespace,
        timestamp_ms: 1_700_000_000_123,
        expiry_ms: 1_701_209_600_123,
        data: data.map(Bytes::copy_from_slice),
        received: Instant::now(),
    }
}

fn policy(kind: &str, f: impl FnOnce(&mut ServiceLimits)) -> ServicePolicy {
    let mut p = ServicePolicy::for_kind(kind);
    f(&mut p.limits);
    p
}

/// A running delivery task over an in-memory store whose `Changes` is the index itself.
struct Harness {
    tx: mpsc::Sender<Notification>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    stats: Arc<DeliveryStats>,
    index: Arc<Index>,
    store: Arc<MemoryStore>,
}

impl Harness {
    async fn start(
        subs: &[Subscription],
        services: Vec<(&str, Arc<FakeNotifier>, ServicePolicy)>,
    ) -> Harness {
        crypto::init().unwrap();
        metrics::install();
        let store = Arc::new(MemoryStore::with(subs));
        let index = Arc::new(Index::load(store.as_ref(), now()).await.unwrap());
        let mut registry = Services::new();
        let mut cfg = DeliveryConfig {
            shutdown_grace: Duration::from_millis(200),
            ..DeliveryConfig::default()
        };
        for (name, notifier, policy) in services {
            registry.insert(name, notifier as Arc<dyn Notifier>);
            cfg.services.insert(name.to_string(), policy);
        }
        let delivery = Delivery::new(
            index.clone(),
            store.clone(),
            index.clone() as Arc<dyn Changes>,
            &registry,
            cfg,
        );
        let stats = delivery.stats();
        let (tx, rx) = mpsc::channel(1_000);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(delivery.run(rx, shutdown.clone()));
        Harness {
            tx,
            shutdown,
            task,
            stats,
            index,
            store,
        }
    }

    async fn send(&self, n: Notification) {
        self.tx.send(n).await.unwrap();
    }

    /// Closes the intake and waits until every queued push is handled.
    async fn finish(self) -> (StatsSnapshot, Arc<Index>, Arc<MemoryStore>) {
        drop(self.tx);
        self.task.await.unwrap();
        (self.stats.snapshot(), self.index, self.store)
    }
}

fn drain(rx: &mut mpsc::Receiver<Sent>) -> Vec<Sent> {
    let mut out = Vec::new();
    while let Ok(s) = rx.try_recv() {
        out.push(s);
    }
    out
}

fn open(platform: Platform, s: &Subscription, sent: &Sent) -> Result<Shown, Failure> {
    device::open(platform, &sent.push.enc_payload, s.enc_key.expose())
}
