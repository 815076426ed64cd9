//! The admin listener: Prometheus metrics, health, stats and the status page, on its own
//! address (`[admin] listen`), never on the public one.
//!
//! **Owns:** the metrics recorder and the names of every metric (`metrics.rs`), process
//! metrics (`process.rs`), readiness rules (`health.rs`), `/stats` (`stats.rs`), the status
//! page and its JSON (`status.rs`, `status.html`), and the sampler that feeds it (`history.rs`).
//! **Must not:** be reachable on the public listener; print identifiers.
//!
//! Data enters from the recorder the other modules write to with the `metrics` macros, from
//! `Store::ping`/`count_by_service`, and from the swarm's `watch::Receiver<SwarmStatus>`.
//! It leaves only as HTTP replies.

mod error;
mod health;
mod history;
pub mod metrics;
mod process;
pub mod scrape;
mod stats;
mod status;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;
use tokio::time::Instant;

pub use error::AdminError;
pub use health::{Readiness, DB_TIMEOUT};
pub use history::{History, Sampler, SAMPLE_INTERVAL};

use crate::config::Secret;
use crate::store::Store;
use crate::swarm::SwarmStatus;

/// What the admin handlers and the sampler use.
#[derive(Clone)]
pub struct AdminState {
    /// Pinged by `/health/ready`, counted by `/stats`.
    pub store: Arc<dyn Store>,
    /// The swarm task's status; `None` when `[swarm] oxend` is empty (no swarm checks).
    pub swarm: Option<watch::Receiver<SwarmStatus>>,
    /// `[admin] token`; empty means `/stats` is open.
    pub token: Secret<String>,
    /// The process-wide recorder (see [`metrics::install`]).
    pub prometheus: PrometheusHandle,
    /// When the relay started (`uptime`).
    pub started: Instant,
    /// The sampler's recent points, read by `/status.json`.
    pub history: Arc<History>,
    /// `[cluster]` only: this replica's ownership, for its share in `/stats` and the page.
    pub cluster: Option<Arc<crate::cluster::Ownership>>,
    /// Configured push services, for the readiness check (0 = not ready); `None` skips the
    /// check (set by `app`, left out by tests of other parts).
    pub push_services: Option<usize>,
}

impl AdminState {
    /// State over `store` and the optional swarm watch, with the installed recorder and an
    /// empty history; the start time is now.
    pub fn new(
        store: Arc<dyn Store>,
        swarm: Option<watch::Receiver<SwarmStatus>>,
        token: Secret<String>,
    ) -> Result<Self, AdminError> {
        Ok(AdminState {
            store,
            swarm,
            token,
            prometheus: metrics::install()?,
            started: Instant::now(),
            history: history::new_history(),
            cluster: None,
            push_services: None,
        })
    }
}

/// The admin router: every route of the admin listener.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/", get(status::page))
        .route("/status.json", get(status::json))
        .route("/metrics", get(metrics::get))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/stats", get(stats::get))
        .layer(axum::middleware::from_fn(crate::logging::request_span))
        .with_state(state)
}
