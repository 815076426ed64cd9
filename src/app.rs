//! Wires the modules together and runs them until shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiState};
use crate::config::Config;
use crate::crypto::{self, RelayKeys};
use crate::notifier::Services;
use crate::store::{self, NoChanges};

/// Runs the relay with `config` until SIGINT/SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    crypto::init()?;
    let keys = RelayKeys::load_or_create(&config.keys.dir)?;
    let api_listener = TcpListener::bind(config.api.listen)
        .await
        .with_context(|| format!("cannot bind api.listen {}", config.api.listen))?;
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        signal.cancel();
    });
    serve(config, keys, api_listener, shutdown).await
}

/// Runs the relay on already-bound listeners until `shutdown` is cancelled (tests use this).
pub async fn serve(
    config: Config,
    keys: RelayKeys,
    api_listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let store = store::open(
        config.database.url.expose(),
        config.database.max_connections,
        &keys.storage,
    )
    .await
    .context("cannot open the database")?;
    let changes: Arc<dyn store::Changes> = Arc::new(NoChanges);
    let expiry = tokio::spawn(store::run_expiry(
        store.clone(),
        changes.clone(),
        store::unix_now,
        shutdown.clone(),
    ));
    let state = ApiState {
        store,
        services: Arc::new(Services::new()),
        changes,
        keys: Arc::new(keys),
        max_body_bytes: config.api.max_body_bytes,
    };
    let served = axum::serve(api_listener, api::router(state))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await;
    shutdown.cancel();
    let _ = expiry.await;
    Ok(served?)
}
