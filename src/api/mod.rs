//! The public HTTP listener: `POST /subscribe`, `POST /unsubscribe`, `POST /oxen/v4/lsrpc`.
//!
//! **Owns:** routes, the onion v4 endpoint, every JSON error reply (PROTOCOL §2, §4).
//! **Must not:** touch SQL: it calls [`crate::store::Store`] and [`crate::subscription`].

pub mod onion;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

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
}

/// Which JSON endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonEndpoint {
    /// `/subscribe`.
    Subscribe,
    /// `/unsubscribe`.
    Unsubscribe,
}

/// Handles one JSON request body for `endpoint` exactly as the HTTP route does (§2) and
/// returns the reply body (always sent with HTTP 200 and `application/json`). The onion
/// endpoint dispatches here in-process.
pub async fn handle_json(state: &ApiState, endpoint: JsonEndpoint, body: &[u8]) -> String {
    let _ = (state, endpoint, body);
    r#"{"error":5,"message":"An internal error occurred while processing your request"}"#
        .to_string()
}

/// The public router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { concat!("session-push-relay ", env!("CARGO_PKG_VERSION"), "\n") }),
        )
        .route(onion::PATH, post(onion::lsrpc))
        .with_state(state)
}
