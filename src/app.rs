//! Wires the modules together and runs them until shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiState};
use crate::config::Config;
use crate::config::ServiceConfig;
use crate::crypto::{self, RelayKeys};
use crate::notifier::{LogNotifier, Services};
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
    let mut services = Services::new();
    for service in &config.services {
        // The other kinds are wired when their providers exist.
        if let ServiceConfig::Log(log) = service {
            services.insert(&log.name, Arc::new(LogNotifier::new(&log.name)));
        }
    }
    let state = ApiState {
        store,
        services: Arc::new(services),
        changes: Arc::new(NoChanges),
        keys: Arc::new(keys),
        max_body_bytes: config.api.max_body_bytes,
        clock: api::Clock::system(),
    };
    axum::serve(api_listener, api::router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}
