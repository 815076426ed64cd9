//! Wires the modules together and runs them until shutdown.

use std::future::IntoFuture;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::admin::{self, AdminState};
use crate::api::{self, ApiState};
use crate::config::Config;
use crate::crypto::{self, RelayKeys};
use crate::logging;
use crate::notifier::Services;
use crate::store::{self, NoChanges};
use crate::systemd;

/// Runs the relay with `config` until SIGINT or SIGTERM (systemd, Docker and Kubernetes stop
/// with SIGTERM).
pub async fn run(config: Config) -> anyhow::Result<()> {
    crypto::init()?;
    let keys = RelayKeys::load_or_create(&config.keys.dir)?;
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

/// Runs the relay on already-bound listeners until `shutdown` is cancelled (tests use this).
pub async fn serve(
    config: Config,
    keys: RelayKeys,
    api_listener: TcpListener,
    admin_listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // First, so every series other modules emit lands in the recorder.
    admin::metrics::install()?;
    tracing::info!(onion_pubkey = %hex::encode(keys.onion.public()), "onion public key");
    let store = store::open(
        config.database.url.expose(),
        config.database.max_connections,
        &keys.storage,
    )
    .await
    .context("cannot open the database")?;
    // TODO(admin): pass the swarm task's SwarmStatus receiver when [swarm] oxend is set.
    let admin_state = AdminState::new(store.clone(), None, config.admin.token.clone())?;
    let sampler = admin::Sampler::new(&admin_state, admin::SAMPLE_INTERVAL);
    tokio::spawn(
        sampler
            .run(shutdown.child_token())
            .instrument(tracing::info_span!("admin.sampler")),
    );
    let state = ApiState {
        store,
        services: Arc::new(Services::new()),
        changes: Arc::new(NoChanges),
        keys: Arc::new(keys),
        max_body_bytes: config.api.max_body_bytes,
        clock: api::Clock::system(),
    };
    // Start-up is complete: listeners bound and the store open (sd_notify READY=1).
    systemd::announce_ready(&shutdown);
    let api_router = api::router(state).layer(axum::middleware::from_fn(logging::request_span));
    let api = axum::serve(api_listener, api_router)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .into_future();
    let admin = axum::serve(admin_listener, admin::router(admin_state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .into_future();
    tokio::try_join!(api, admin)?;
    Ok(())
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
