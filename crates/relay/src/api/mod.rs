//! The public HTTP listener: `POST /subscribe`, `POST /unsubscribe`, `POST /oxen/v4/lsrpc`.
//!
//! **Owns:** routes, the onion v4 endpoint, every JSON error reply (PROTOCOL §2, §4).
//! **Must not:** touch SQL: it calls [`crate::store::Store`] and [`crate::subscription`].
//!
//! Files: `error.rs` (the one place error replies are built), `subscribe.rs` (the two JSON
//! endpoints, [`handle_json`]), `layers.rs` (tower stack, body buffering), `limits.rs` (body
//! budget, processing slots), `rate.rs` (per-account rate), `server.rs` (accept loop,
//! connection timeouts and cap, shutdown deadline).

mod error;
mod layers;
mod limits;
mod rate;
pub(crate) mod subscribe;

pub mod onion;
pub mod server;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

pub use error::ApiError;
pub use limits::{BodyBudget, Limits, MAX_CONCURRENT_REQUESTS, REQUEST_TIMEOUT};
pub use subscribe::handle_json;

use crate::admin::metrics as names;
use crate::clock::Clock;
use crate::crypto::RelayKeys;
use crate::notifier::Services;
use crate::store::{Changes, GroupCommit, Store};

/// What the handlers use.
#[derive(Clone)]
pub struct ApiState {
    /// The subscription store (unsubscribes).
    pub store: Arc<dyn Store>,
    /// Where subscribes are written, in group commits ([`crate::store::group_commit`]).
    pub subscribes: GroupCommit,
    /// Configured services (validation of tokens by kind).
    pub services: Arc<Services>,
    /// Told after each committed change (subscriber index, swarm monitor).
    pub changes: Arc<dyn Changes>,
    /// The relay's keys (onion decryption).
    pub keys: Arc<RelayKeys>,
    /// JSON body limit (`[api] max_body_bytes`).
    pub max_body_bytes: usize,
    /// Unix time for signature windows ([`Clock::system`] outside tests).
    pub clock: Clock,
    /// Body budget, processing slots, per-account rate ([`Limits::new`] of `[api]`).
    pub limits: Arc<Limits>,
}

/// Which JSON endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonEndpoint {
    /// `/subscribe`.
    Subscribe,
    /// `/unsubscribe`.
    Unsubscribe,
}

impl JsonEndpoint {
    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            JsonEndpoint::Subscribe => "subscribe",
            JsonEndpoint::Unsubscribe => "unsubscribe",
        }
    }
}

/// The public router.
pub fn router(state: ApiState) -> Router {
    let limits = state.limits.clone();
    let routes = Router::new()
        .route(
            "/",
            get(|| async { concat!("session-push-relay ", env!("CARGO_PKG_VERSION"), "\n") }),
        )
        .route(onion::PATH, post(onion::lsrpc))
        .route("/subscribe", post(subscribe::subscribe))
        .route("/unsubscribe", post(subscribe::unsubscribe))
        .method_not_allowed_fallback(|| async {
            (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        })
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        // Bodies are buffered, within each route's limit, by `layers::buffer_body`.
        .layer(DefaultBodyLimit::disable())
        .with_state(state);
    layers::apply(routes, limits)
}

/// Handles one JSON request body as [`handle_json`] does, within a processing slot and the
/// request timeout: no free slot or a timeout gives error 3 (both routes, the onion one
/// encrypted).
pub async fn process(state: &ApiState, endpoint: JsonEndpoint, body: &[u8]) -> String {
    let Some(_slot) = state.limits.slot() else {
        metrics::counter!(names::API_SHED, "reason" => "no_slot").increment(1);
        return ApiError::timeout().to_json().to_string();
    };
    match tokio::time::timeout(
        state.limits.request_timeout,
        handle_json(state, endpoint, body),
    )
    .await
    {
        Ok(reply) => reply,
        Err(_) => {
            metrics::counter!(names::API_SHED, "reason" => "timeout").increment(1);
            ApiError::timeout().to_json().to_string()
        }
    }
}
