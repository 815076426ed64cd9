//! Delivery end to end inside the process: notifications in, pushes to fake providers out,
//! each payload opened by the emulated iOS/Android device (PROTOCOL §9–§11). Outcomes are
//! read from the metrics the relay emits, counted per test ([`LocalMetrics`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use devnet::device::{self, Failure, Platform, Shown};
use relay::admin::metrics as names;
use relay::config::ServiceLimits;
use relay::crypto;
use relay::delivery::{Delivery, DeliveryConfig, Index, ServicePolicy};
use relay::notifier::{Notifier, Services, Verdict};
use relay::store::Changes;
use relay::subscription::{AccountId, DeviceToken, EncKey, Signature, Subscription};
use relay::swarm::{MonitorSource, Notification};
use tokio::runtime::RuntimeFlavor;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::fake_notifier::{FakeNotifier, Sent};
use crate::support::local_metrics::LocalMetrics;
use crate::support::memory_store::MemoryStore;

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
    /// What the delivery task and its lanes emit (they run on the test's thread).
    metrics: LocalMetrics,
    index: Arc<Index>,
    store: Arc<MemoryStore>,
}

impl Harness {
    async fn start(
        subs: &[Subscription],
        services: Vec<(&str, Arc<FakeNotifier>, ServicePolicy)>,
    ) -> Harness {
        crypto::init().unwrap();
        // `LocalMetrics` records one thread: every task of the harness must run on it.
        assert_eq!(
            tokio::runtime::Handle::current().runtime_flavor(),
            RuntimeFlavor::CurrentThread,
            "the delivery harness needs a current-thread runtime"
        );
        let metrics = LocalMetrics::install();
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
        let (tx, rx) = mpsc::channel(1_000);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(delivery.run(rx, shutdown.clone()));
        Harness {
            tx,
            shutdown,
            task,
            metrics,
            index,
            store,
        }
    }

    async fn send(&self, n: Notification) {
        self.tx.send(n).await.unwrap();
    }

    /// Waits until the delivery task has taken `n` notifications (and handed each to its
    /// lanes: both happen in one step of the task).
    async fn taken(&self, n: u64) {
        self.metrics
            .wait_for(names::DELIVERY_NOTIFICATIONS, &[], n)
            .await;
    }

    /// Closes the intake and waits until every queued push is handled; the metrics stay
    /// recorded for this test until the returned value is dropped.
    async fn finish(self) -> (LocalMetrics, Arc<Index>, Arc<MemoryStore>) {
        drop(self.tx);
        self.task.await.unwrap();
        (self.metrics, self.index, self.store)
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
