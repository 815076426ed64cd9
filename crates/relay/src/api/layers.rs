//! The tower stack of the public listener and the body buffering in front of every route
//! (DESIGN, style §2.5; issue 16).
//!
//! Order, outermost first: a trace span → [`buffer_body`] (the whole body, within the route's
//! limit, the shared [`BodyBudget`](super::limits::BodyBudget) and the body timeout) → the
//! routes. Processing slots and the request timeout are taken by the handlers themselves
//! ([`super::process`]), after the body is in: a slow client never holds a slot, and the onion
//! route can encrypt its "retry later".

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::StreamExt;
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;

use super::error::ApiError;
use super::limits::{Held, Limits};
use super::onion;
use crate::admin::metrics as names;

/// Wraps every route of `router` in the shared stack, outermost first.
pub(super) fn apply(router: Router, limits: Arc<Limits>) -> Router {
    router.layer(
        ServiceBuilder::new()
            // One span per request with the method and the route template only: no body,
            // no query, no client address.
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                tracing::info_span!("http", method = %req.method(), route)
            }))
            // The whole body before anything else, against the shared budget.
            .layer(middleware::from_fn_with_state(limits, buffer_body)),
    )
}

/// Why a body was not buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unread {
    /// Over the route's limit, by `Content-Length` or while reading.
    TooLarge,
    /// The shared budget is spent: retry later.
    Busy,
    /// Not complete within the body timeout.
    Slow,
    /// The connection failed mid-body.
    Broken,
}

impl Unread {
    fn label(self) -> &'static str {
        match self {
            Unread::TooLarge => "too_large",
            Unread::Busy => "busy",
            Unread::Slow => "slow",
            Unread::Broken => "broken",
        }
    }

    /// The JSON routes' reply (PROTOCOL §2.2; error 3 for "retry later").
    fn json_reply(self) -> Response {
        match self {
            Unread::TooLarge => ApiError::too_large(),
            Unread::Busy | Unread::Slow => ApiError::timeout(),
            Unread::Broken => ApiError::body_missing(),
        }
        .into_response()
    }
}

/// Buffers the body within the route's limit before the route runs, holding its bytes of the
/// shared budget until the response is built; a refused body never reaches a handler.
async fn buffer_body(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    let onion_route = request.uri().path() == onion::PATH;
    let limit = if onion_route {
        limits.onion_body_limit
    } else {
        limits.json_body_limit
    };
    let (parts, body) = request.into_parts();
    let mut held = limits.budget.hold();
    let read = tokio::time::timeout(
        limits.body_timeout,
        read_limited(body, declared_length(&parts.headers), limit, &mut held),
    )
    .await
    .unwrap_or(Err(Unread::Slow));
    match read {
        Ok(bytes) => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            drop(held);
            response
        }
        Err(unread) => {
            drop(held);
            tracing::debug!(reason = unread.label(), "request body refused");
            metrics::counter!(names::API_BODY_REFUSED, "reason" => unread.label()).increment(1);
            if onion_route {
                onion::unread_reply(unread)
            } else {
                unread.json_reply()
            }
        }
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// The whole body, refused as soon as it passes `limit` or the budget is spent. A declared
/// length is checked and held up front, so an oversized or unaffordable body costs no reads.
async fn read_limited(
    body: Body,
    declared: Option<u64>,
    limit: usize,
    held: &mut Held,
) -> Result<Bytes, Unread> {
    let mut buf = Vec::new();
    if let Some(declared) = declared {
        let declared = usize::try_from(declared).map_err(|_| Unread::TooLarge)?;
        if declared > limit {
            return Err(Unread::TooLarge);
        }
        if !held.grow_to(declared) {
            return Err(Unread::Busy);
        }
        buf.reserve_exact(declared);
    }
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            tracing::debug!(error = %e, "request body could not be read");
            Unread::Broken
        })?;
        let total = buf.len() + chunk.len();
        if total > limit {
            return Err(Unread::TooLarge);
        }
        if !held.grow_to(total) {
            return Err(Unread::Busy);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}
