//! The public HTTP listener: `POST /subscribe`, `POST /unsubscribe`, `POST /oxen/v4/lsrpc`.
//!
//! **Owns:** routes, the onion v4 endpoint, every JSON error reply (PROTOCOL §2, §4).
//! **Must not:** touch SQL: it calls [`crate::store::Store`] and [`crate::subscription`].
//!
//! Files: `error.rs` (the one place error replies are built), `subscribe.rs` (the two JSON
//! endpoints, [`handle_json`]), `layers.rs` (tower stack, per-route body limit).

mod error;
mod layers;
mod subscribe;

pub mod onion;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

pub use error::ApiError;
pub use subscribe::handle_json;

use crate::clock::Clock;
use crate::crypto::RelayKeys;
use crate::notifier::Services;
use crate::store::{Changes, Store};

/// What the handlers use.
#[derive(Clone)]
pub struct ApiState {
    /// The subscription store.
    pub store: Arc<dyn Store>,
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
    // The JSON routes buffer at most `max_body_bytes` themselves (the onion route needs 10 MiB).
    let json_limit = || {
        (
            middleware::from_fn_with_state(state.max_body_bytes, layers::limit_json_body),
            DefaultBodyLimit::disable(),
        )
    };
    let routes = Router::new()
        .route(
            "/",
            get(|| async { concat!("session-push-relay ", env!("CARGO_PKG_VERSION"), "\n") }),
        )
        .route(onion::PATH, post(onion::lsrpc))
        .route("/subscribe", post(subscribe::subscribe).layer(json_limit()))
        .route(
            "/unsubscribe",
            post(subscribe::unsubscribe).layer(json_limit()),
        )
        .method_not_allowed_fallback(|| async {
            (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        })
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(state);
    layers::apply(routes)
}
