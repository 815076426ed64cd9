//! Wires the modules together and runs them until shutdown.
//!
//! The data flow of DESIGN.md, in the order it is built here: store → subscriber index →
//! swarm side (reads the index, sends notifications) → delivery (reads notifications, sends
//! pushes through the notifiers) → the public API (writes the store and tells the index and
//! the swarm side) and the admin listener.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::admin::{self, AdminState};
use crate::api::{self, ApiState};
use crate::clock::{self, Clock};
use crate::cluster::{Cluster, Reload};
use crate::config::Config;
use crate::crypto::{self, RelayKeys};
use crate::delivery::{CatchUp, Delivery, DeliveryConfig, Index};
use crate::logging;
use crate::notifier;
use crate::store::{self, Changes, Fanout};
use crate::swarm::{Notification, Swarm, SwarmStatus};
use crate::systemd;

/// Validated notifications waiting for delivery; when full, the swarm intake counts and drops
/// (`relay_swarm_notifications_dropped_total{reason="queue_full"}`).
pub const NOTIFICATION_QUEUE: usize = 65_536;

/// Runs the relay with `config` until SIGINT or SIGTERM (systemd, Docker and Kubernetes stop
/// with SIGTERM).
pub async fn run(config: Config) -> anyhow::Result<()> {
    crypto::init()?;
    let missing = missing_key_files(&config.keys.dir);
    let keys = RelayKeys::load_or_create(&config.keys.dir)?;
    if !missing.is_empty() {
        tracing::warn!(
            dir = %config.keys.dir.display(),
            files = %missing.join(","),
            "created new key files: back them up (losing them changes the onion public key and \
             makes stored device tokens unreadable)"
        );
    }
    let api_listener = TcpListener::bind(config.api.listen)
        .await
        .with_context(|| format!("cannot bind api.listen {}", config.api.listen))?;
    let admin_listener = TcpListener::bind(config.admin.listen)
        .await
        .with_context(|| format!("cannot bind admin.listen {}", config.admin.listen))?;
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        stop_signal().await;
        signal.cancel();
    });
    serve(config, keys, api_listener, admin_listener, shutdown).await
}

/// Runs the relay on already-bound listeners until `shutdown` is cancelled (tests and devnet
/// use this).
pub async fn serve(
    config: Config,
    keys: RelayKeys,
    api_listener: TcpListener,
    admin_listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // First, so every series other modules emit lands in the recorder.
    admin::metrics::install()?;
    admin::metrics::init_services(config.services.iter().map(|s| s.name()));
    crypto::init()?;
    if !config.ignored_env.is_empty() {
        tracing::debug!(
            variables = %config.ignored_env.join(","),
            "ignored SPR_* environment variables that are not SPR_<SECTION>__<KEY>"
        );
    }
    if config.services.is_empty() {
        tracing::warn!(
            "no push service configured ([[services]]): every subscribe fails and \
             /health/ready answers 503"
        );
    }
    tracing::info!(onion_pubkey = %hex::encode(keys.onion.public()), "onion public key");
    let store = store::open(
        config.database.url.expose(),
        config.database.max_connections,
        &keys.storage,
    )
    .await
    .context("cannot open the database")?;
    let services = Arc::new(
        notifier::build_services(&config.services)
            .await
            .context("cannot set up the push services")?,
    );
    // Read before loading, so rows written meanwhile are caught up on, not lost.
    let watermark = store
        .last_change()
        .await
        .context("cannot read the subscriptions' last change")?;
    let index = Arc::new(
        Index::load(store.as_ref(), clock::unix_now())
            .await
            .context("cannot load subscriptions")?,
    );
    tracing::info!(subscriptions = index.len(), "subscriptions loaded");

    let tracker = TaskTracker::new();
    // Subscribes go through one writer that commits them in groups; it ends once the API's
    // handle is dropped, after the listeners.
    let (subscribes, writer) = store::group_commit(store.clone(), config.database.batch());
    tracker.spawn(writer.run().instrument(tracing::info_span!("store.writer")));
    let (notify_tx, notify_rx) = mpsc::channel::<Notification>(NOTIFICATION_QUEUE);
    // [cluster]: the swarm side and delivery outlive the shutdown signal until the lease loop
    // has handed every swarm over (they keep pushing meanwhile); otherwise they stop with it.
    let cluster = if config.cluster.enabled {
        Some(
            Cluster::connect(&config.cluster, config.database.url.expose())
                .await
                .context("cannot open the cluster tables")?,
        )
    } else {
        None
    };
    let swarm_side = if cluster.is_some() {
        CancellationToken::new()
    } else {
        shutdown.child_token()
    };
    // The index first: the swarm monitor re-reads it when it handles a change.
    let mut observers: Vec<Arc<dyn Changes>> = vec![index.clone()];
    let mut swarm_ids = None;
    let swarm_status: Option<watch::Receiver<SwarmStatus>> = if config.swarm.oxend.is_empty() {
        tracing::info!("no [swarm] oxend configured: the swarm side is off");
        None
    } else {
        let swarm_keys = if config.cluster.enabled {
            // PROTOCOL §7.1: replicas sharing swarm.key must not share a CURVE key / routing id.
            let derived = keys.swarm.derive_replica(&config.cluster.node_id);
            tracing::info!(
                node_id = %config.cluster.node_id,
                swarm_pubkey = %hex::encode(derived.public()),
                "cluster replica: storage servers see this replica's own key"
            );
            derived
        } else {
            keys.swarm.clone()
        };
        let mut swarm = Swarm::new(&config.swarm, swarm_keys, index.clone(), notify_tx)?;
        if let Some(cluster) = &cluster {
            swarm = swarm.with_gate(cluster.gate());
            swarm_ids = Some(swarm.swarm_ids());
        }
        let handle = swarm.handle();
        let status = handle.status_watch();
        observers.push(Arc::new(handle));
        let token = swarm_side.clone();
        tracker.spawn(
            async move {
                if let Err(e) = swarm.run(token).await {
                    tracing::error!(error = %e, "swarm side stopped");
                }
            }
            .instrument(tracing::info_span!("swarm")),
        );
        Some(status)
    };
    let changes: Arc<dyn Changes> = Arc::new(Fanout::new(observers));
    let ownership = cluster.as_ref().map(Cluster::ownership);
    if let Some(cluster) = cluster {
        // Changes other replicas commit reach this index and monitor the same way.
        let reload = Reload::new(store.clone(), index.clone(), changes.clone());
        cluster.spawn(&tracker, swarm_ids, reload, &shutdown, swarm_side.clone());
    }

    let delivery = Delivery::new(
        index.clone(),
        store.clone(),
        changes.clone(),
        &services,
        DeliveryConfig::from_config(&config),
    );
    tracker.spawn(
        delivery
            .run(notify_rx, swarm_side.clone())
            .instrument(tracing::info_span!("delivery")),
    );
    let catch_up = CatchUp::new(
        store.clone(),
        index.clone(),
        changes.clone(),
        config.database.changes_poll(),
        Clock::system(),
    )
    .start_at(watermark);
    tracker.spawn(
        catch_up
            .run(shutdown.child_token())
            .instrument(tracing::info_span!("delivery.catch_up")),
    );
    tracker.spawn(
        store::run_expiry(
            store.clone(),
            changes.clone(),
            Clock::system(),
            shutdown.child_token(),
        )
        .instrument(tracing::info_span!("store.expiry")),
    );

    let mut admin_state = AdminState::new(store.clone(), swarm_status, config.admin.token.clone())?;
    admin_state.push_services = Some(config.services.len());
    admin_state.cluster = ownership;
    let sampler = admin::Sampler::new(&admin_state, admin::SAMPLE_INTERVAL);
    tracker.spawn(
        sampler
            .run(shutdown.child_token())
            .instrument(tracing::info_span!("admin.sampler")),
    );
    let state = ApiState {
        store,
        subscribes,
        services,
        changes,
        keys: Arc::new(keys),
        max_body_bytes: config.api.max_body_bytes,
        clock: Clock::system(),
        limits: Arc::new(api::Limits::new(&config.api)),
    };
    // Start-up is complete: listeners bound and the store open (sd_notify READY=1).
    systemd::announce_ready(&shutdown);
    log_summary(&config);
    let api_router = api::router(state).layer(axum::middleware::from_fn(logging::request_span));
    // Shutdown, from the moment the token is cancelled, takes at most `shutdown_grace_secs`:
    // listeners drain within it and background tasks get what is left of it.
    let grace = config.api.shutdown_grace();
    let began = {
        let token = shutdown.clone();
        tokio::spawn(async move {
            token.cancelled().await;
            tracing::info!("shutting down (grace {} s)", grace.as_secs());
            tokio::time::Instant::now()
        })
    };
    let options = api::server::ServeOptions::from_config(&config.api);
    tokio::join!(
        api::server::serve(api_listener, api_router, options, shutdown.clone()),
        api::server::serve(
            admin_listener,
            admin::router(admin_state),
            options,
            shutdown.clone()
        ),
    );
    // Whatever ended the listeners, the background tasks stop too.
    shutdown.cancel();
    tracker.close();
    let deadline = began.await.unwrap_or_else(|_| tokio::time::Instant::now()) + grace;
    if tokio::time::timeout_at(deadline, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "background tasks did not finish in time"
        );
    }
    tracing::info!("stopped");
    Ok(())
}

/// The one start-up summary line: what an operator checks first.
fn log_summary(config: &Config) {
    let url = config.database.url.expose();
    let database = if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let mut services: Vec<String> = config
        .services
        .iter()
        .map(|s| format!("{}({})", s.name(), s.kind()))
        .collect();
    if services.is_empty() {
        services.push("none".into());
    }
    let swarm = if config.swarm.oxend.is_empty() {
        "off"
    } else {
        config.swarm.oxend.as_str()
    };
    tracing::info!(
        api = %config.api.listen,
        admin = %config.admin.listen,
        database,
        services = %services.join(","),
        swarm,
        status_page = %format!("http://{}/", config.admin.listen),
        "relay ready"
    );
}

/// Key files of `dir` that do not exist yet (they are created on start).
fn missing_key_files(dir: &std::path::Path) -> Vec<&'static str> {
    ["onion.key", "swarm.key", "storage.key"]
        .into_iter()
        .filter(|name| !dir.join(name).exists())
        .collect()
}

/// Resolves on the first SIGINT or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
